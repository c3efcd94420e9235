"""Function bodies whose text holds nothing a call could be recorded for are not visited
(``_Extractor._quiet_body``); the facts are those of visiting every body."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import detection_options
from decouple_services.core.config import Config
from decouple_services.detect import extract
from decouple_services.detect.facts import FileFacts
from decouple_services.detect.registry import build_detectors
from decouple_services.detect.values import Lit

SAMPLE = Path(__file__).parents[2] / "fixtures" / "sample"


def options(wrappers: tuple[str, ...] = ()) -> extract.ExtractOptions:
    return detection_options(build_detectors(Config()), Config(), wrappers)


def _extract(
    source: bytes, path: str, module: str, opts: extract.ExtractOptions
) -> tuple[FileFacts, dict[str, bool]]:
    """The facts and, per function, whether its body was left unvisited."""
    quiet: dict[str, bool] = {}
    original = extract._Extractor._quiet_body

    def spy(self: extract._Extractor, node, scope, outer_quiet, typed):  # type: ignore[no-untyped-def]
        found = original(self, node, scope, outer_quiet, typed)
        quiet[node.name] = found
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(extract._Extractor, "_quiet_body", spy)
        facts = extract.extract_facts(source, path, module, opts)
    return facts, quiet


def _every_body(source: bytes, path: str, module: str, opts: extract.ExtractOptions) -> FileFacts:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(extract._Extractor, "_quiet_body", lambda *args: False)
        return extract.extract_facts(source, path, module, opts)


def _same(source: str, wrappers: tuple[str, ...] = ()) -> tuple[FileFacts, dict[str, bool]]:
    """Facts of ``source`` (as ``svc/client.py``) with quiet bodies left, checked equal to
    those of visiting every body."""
    data = textwrap.dedent(source).encode()
    opts = options(wrappers)
    facts, quiet = _extract(data, "svc/client.py", "svc.client", opts)
    assert facts.to_json() == _every_body(data, "svc/client.py", "svc.client", opts).to_json()
    return facts, quiet


@pytest.mark.parametrize("wrappers", [(), ("fetch_json", "call_api", "send", "_request")])
@pytest.mark.parametrize(
    "path", sorted(SAMPLE.rglob("*.py")), ids=lambda p: str(p.relative_to(SAMPLE))
)
def test_sample_facts_equal_those_of_visiting_every_body(
    path: Path, wrappers: tuple[str, ...]
) -> None:
    relative = str(path.relative_to(SAMPLE))
    module = relative[:-3].replace("/", ".").removesuffix(".__init__")
    opts = options(wrappers)
    data = path.read_bytes()
    gated, _ = _extract(data, relative, module, opts)
    assert gated.to_json() == _every_body(data, relative, module, opts).to_json()


def test_some_sample_bodies_are_left() -> None:
    """The sample has bodies with nothing to record: the gate is not a no-op there."""
    left = 0
    for path in sorted(SAMPLE.rglob("*.py")):
        relative = str(path.relative_to(SAMPLE))
        _, quiet = _extract(path.read_bytes(), relative, "m", options())
        left += sum(quiet.values())
    assert left > 0


def test_a_method_called_on_a_local_holding_a_stub_is_recorded() -> None:
    facts, quiet = _same(
        """
        from svc.users_pb2_grpc import UsersStub

        def sync(channel):
            users = UsersStub(channel)
            users.fetch_user(1)
        """
    )
    assert not quiet["sync"]
    assert [(c.line, c.name) for c in facts.calls] == [(6, "fetch_user")]


def test_a_local_of_the_enclosing_function_is_seen_from_a_nested_one() -> None:
    facts, quiet = _same(
        """
        from svc.users_pb2_grpc import UsersStub

        def outer(channel):
            users = UsersStub(channel)

            def inner():
                users.fetch_user(1)

            return inner
        """
    )
    assert not quiet["outer"] and not quiet["inner"]
    assert [c.name for c in facts.calls] == ["fetch_user"]


def test_a_session_parameter_makes_the_body_visited() -> None:
    """``session`` unannotated in a module using aiohttp holds a client session: its
    ``close()`` is recorded though no word of the body says so."""
    facts, quiet = _same(
        """
        import aiohttp

        async def shutdown(session):
            await session.close()
        """
    )
    assert not quiet["shutdown"]
    assert [c.name for c in facts.calls] == ["close"]


def test_a_body_with_no_token_is_left_and_its_return_still_recorded() -> None:
    facts, quiet = _same(
        """
        import requests

        BASE = "http://users:8000"

        def total(items):
            count = 0
            for item in items:
                count += len(item)
            return count

        def users_url():
            return BASE + "/users"

        def fetch():
            return requests.get(users_url(), timeout=5)
        """
    )
    assert quiet == {"total": True, "users_url": True, "fetch": False}
    assert [(c.name, c.line) for c in facts.calls] == [("get", 16)]
    assert any(c.qualname == "svc.client.users_url()" for c in facts.constants)


def test_a_route_registered_in_a_left_body_is_still_found() -> None:
    facts, quiet = _same(
        """
        from flask import Flask

        def users():
            return "[]"

        def register(app):
            app.add_url_rule("/users", "users", users)
        """
    )
    assert quiet["register"]
    assert [r.path for r in facts.routes] == [Lit("/users")]


def test_a_helper_is_recorded_by_its_learned_name_only() -> None:
    source = """
        from svc.metrics import push_metrics

        def flush(batch):
            push_metrics(batch)
        """
    facts, quiet = _same(source, ("push_metrics",))
    assert not quiet["flush"]
    assert [c.name for c in facts.calls] == ["push_metrics"]
    facts, quiet = _same(source)
    assert quiet["flush"] and not facts.calls


def test_an_alias_of_a_learned_helper_is_a_word_of_the_bodies() -> None:
    facts, quiet = _same(
        """
        from svc.metrics import push_metrics as push

        def flush(batch):
            push(batch)
        """,
        ("push_metrics",),
    )
    assert not quiet["flush"]
    assert [c.name for c in facts.calls] == ["push_metrics"]


@pytest.mark.parametrize(
    "body",
    [
        "stub.GetUser(request)",  # a generated stub's method: capitalized
        "make_stub().fetch(request)",  # a call's result
        "STUBS[0].fetch(request)",  # an item
        "self.api.pet.getPetById(petId=1)",  # an operation of a resource
        "(self.api\n            # the pets\n            .pet).getPetById(petId=1)",
        "super().__init__(host=request)",
        "getattr(self.session, request)(request)",
        "pool.submit(fetch, request)",
    ],
)
def test_the_shapes_that_make_a_call_recorded_keep_a_body_visited(body: str) -> None:
    _, quiet = _same(
        f"""
        class Client(Base):
            def call(self, request):
                {body}
        """
    )
    assert not quiet["call"]


def test_words_are_read_as_ast_folds_them() -> None:
    """``data.<fullwidth get>(...)`` is ``data.get(...)`` to ``ast`` (identifiers are folded to
    NFKC): the body is visited and the call recorded."""
    facts, quiet = _same(
        """
        def total(data):
            return "é" + data.\uff47\uff45\uff54("k")

        def plain(items):
            return "é" + str(len(items))
        """
    )
    assert quiet == {"total": False, "plain": True}
    assert [c.name for c in facts.calls] == ["get"]


def test_a_text_with_a_lone_carriage_return_is_always_visited() -> None:
    data = b"def total(items):\r    return str(len(items))\n"
    facts, quiet = _extract(data, "svc/client.py", "svc.client", options())
    assert quiet == {"total": False}
    assert facts.to_json() == _every_body(data, "svc/client.py", "svc.client", options()).to_json()
