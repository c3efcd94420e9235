"""``ClientNames``: the client objects among a scan's facts, asked after each round of
asking, answered from the last call's searches for the constants that did not change. Its
answers are compared with a search of every constant made afresh (the function as it was
before the answers were kept), over the sample's facts and over varied made-up ones."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from decouple_services.app.demand import ClientNames, _client_probe, client_names
from decouple_services.app.pipeline import detection_options
from decouple_services.core.config import Config
from decouple_services.detect.extract import extract_facts
from decouple_services.detect.facts import BASES, Constant, FileFacts
from decouple_services.detect.registry import build_detectors
from decouple_services.detect.values import Lit, Obj, Ref

SAMPLE = Path(__file__).parent / "fixtures" / "sample"


def _setup() -> tuple[Any, Any]:
    config = Config()
    detectors = build_detectors(config)
    return detection_options(detectors, config), detectors


def _afresh(facts: Sequence[FileFacts], options: Any, detectors: Any) -> set[str]:
    """Every constant searched, nothing kept (as ``client_names`` was written first)."""
    probe = _client_probe(options, detectors)
    custom = {*options.custom_clients}
    custom.update(c[:i] for c in options.custom_clients for i, x in enumerate(c) if x == ".")
    constants: dict[str, Any] = {}
    for f in facts:
        for const in f.constants:
            constants.setdefault(const.qualname, const.value)
    found_from: dict[str, int] = {}
    refused_from: dict[str, int] = {}

    def is_client_type(kind: str, depth: int) -> bool:
        if depth <= found_from.get(kind, -1):
            return True
        if depth >= refused_from.get(kind, 99):
            return False
        answer = search_type(kind, depth)
        if answer:
            found_from[kind] = max(depth, found_from.get(kind, -1))
        else:
            refused_from[kind] = min(depth, refused_from.get(kind, 99))
        return answer

    def search_type(kind: str, depth: int) -> bool:
        if "()" in kind:
            return False
        if probe(kind) or kind.endswith("Stub") or kind in custom:
            return True
        if depth > 6:
            return False
        made = constants.get(kind + "()")
        if made is not None and is_client(made, depth + 1):
            return True
        bases = constants.get(f"{kind}.{BASES}")
        return isinstance(bases, Obj) and any(
            isinstance(b, Ref) and is_client_type(b.qualname, depth + 1) for b in bases.args
        )

    def is_client(value: Any, depth: int = 0) -> bool:
        if isinstance(value, Obj):
            return value.type != BASES and is_client_type(value.type, depth)
        if isinstance(value, Ref) and depth <= 6:
            found = constants.get(value.qualname)
            return found is not None and is_client(found, depth + 1)
        return False

    holders = {
        q.removesuffix("()")
        for q, value in constants.items()
        if isinstance(value, (Obj, Ref)) and is_client(value)
    }
    classes = {
        q.removesuffix(f".{BASES}")
        for q in constants
        if q.endswith(f".{BASES}") and is_client_type(q.removesuffix(f".{BASES}"), 0)
    }
    return holders | classes


def _facts(path: str, *constants: tuple[str, Any]) -> FileFacts:
    module = path.removesuffix(".py").replace("/", ".")
    return FileFacts(
        path, module, constants=tuple(Constant(q, v, n) for n, (q, v) in enumerate(constants, 1))
    )


def test_an_alias_of_a_client_defined_later_is_found_when_its_target_comes() -> None:
    options, detectors = _setup()
    empty = [FileFacts("a.py", "a"), FileFacts("b.py", "b"), FileFacts("c.py", "c")]
    names = ClientNames(options, detectors)
    alias = _facts("a.py", ("a.client", Ref("b.session")))
    step = [alias, empty[1], empty[2]]
    assert names(step) == set()
    # the target the alias missed arrives: searched again, found
    session = _facts("b.py", ("b.session", Obj("requests.Session")))
    step = [alias, session, empty[2]]
    assert names(step) == {"a.client", "b.session"} == _afresh(step, options, detectors)
    assert names.full == 2
    # a file nothing looked in: only its constants are searched
    other = _facts("c.py", ("c.stub", Obj("c.pb.UsersStub")), ("c.n", Lit(1)))
    step = [alias, session, other]
    assert names(step) == {"a.client", "b.session", "c.stub"}
    assert names.full == 2 and names.partial == 1


def test_a_constant_not_a_client_stays_out() -> None:
    options, detectors = _setup()
    names = ClientNames(options, detectors)
    step = [
        _facts("a.py", ("a.response", Obj("aiohttp.web.Response")), ("a.url", Lit("http://x"))),
        FileFacts("b.py", "b"),
    ]
    assert names(step) == set()
    step[1] = _facts("b.py", ("b.made", Obj("requests.Session().get")), ("b.r", Ref("a.url")))
    assert names(step) == set() == _afresh(step, options, detectors)


def test_the_first_file_defining_a_name_gives_its_value() -> None:
    options, detectors = _setup()
    names = ClientNames(options, detectors)
    step = [FileFacts("a.py", "a"), _facts("b.py", ("x.s", Lit("no")))]
    assert names(step) == set()
    # a file before it (and the first of two values in one file) decides
    step[0] = _facts("a.py", ("x.s", Obj("requests.Session")), ("x.s", Lit("no")))
    assert names(step) == {"x.s"} == _afresh(step, options, detectors)
    # gone again (a helper pass's facts of the file): everything searched again
    step[0] = _facts("a.py", ("x.t", Lit(2)))
    assert names(step) == set() == _afresh(step, options, detectors)


def test_the_sample_grown_file_by_file_in_any_order() -> None:
    options, detectors = _setup()
    parsed = [
        extract_facts(
            p.read_bytes(),
            str(p.relative_to(SAMPLE)),
            str(p.relative_to(SAMPLE)).removesuffix(".py").replace("/", "."),
            options,
        )
        for p in sorted(SAMPLE.rglob("*.py"))
    ]
    assert _afresh(parsed, options, detectors), "the sample holds client objects"
    rng = random.Random(7)
    for _ in range(6):
        names = ClientNames(options, detectors)
        step = [FileFacts(f.path, f.module) for f in parsed]
        order = list(range(len(parsed)))
        rng.shuffle(order)
        while order:
            batch = rng.randint(1, 12)
            for i in order[:batch]:
                step[i] = parsed[i]
            del order[:batch]
            if rng.random() < 0.2:
                # a file extracted again: equal facts, other objects
                i = rng.randrange(len(step))
                step[i] = FileFacts(step[i].path, step[i].module, constants=step[i].constants)
            assert names(step) == _afresh(step, options, detectors)
        assert names(step) == client_names(parsed, options, detectors)
    assert names.partial


def test_varied_made_up_facts_agree_with_a_search_afresh() -> None:
    options, detectors = _setup()
    rng = random.Random(11)
    kinds = ["requests.Session", "httpx.Client", "aiohttp.web.Response", "x.pb.UserStub"]
    names_pool = [f"m{i}.n{j}" for i in range(6) for j in range(6)]

    def value() -> Any:
        roll = rng.random()
        if roll < 0.3:
            return Ref(rng.choice(names_pool))
        if roll < 0.55:
            return Obj(rng.choice(kinds + names_pool))
        if roll < 0.7:
            return Obj(BASES, tuple(Ref(rng.choice(kinds + names_pool)) for _ in range(2)))
        if roll < 0.8:
            return Obj(rng.choice(names_pool) + "()")
        return Lit(rng.randrange(3))

    def constant() -> tuple[str, Any]:
        name = rng.choice(names_pool)
        roll = rng.random()
        if roll < 0.2:
            name += "()"
        elif roll < 0.4:
            name += f".{BASES}"
        return name, value()

    partial = full = 0
    for _ in range(40):
        size = 8
        names = ClientNames(options, detectors)
        step = [FileFacts(f"f{i}.py", f"f{i}") for i in range(size)]
        for _ in range(12):
            i = rng.randrange(size)
            if not step[i].constants or rng.random() < 0.3:
                step[i] = _facts(f"f{i}.py", *(constant() for _ in range(rng.randint(0, 6))))
            if rng.random() < 0.1:
                step = list(step)  # another list of the same facts
            assert names(step) == _afresh(step, options, detectors)
        partial, full = partial + names.partial, full + names.full
    # both ways of answering were taken
    assert partial > 40 and full > 40
