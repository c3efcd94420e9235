"""The project index: where a name the code uses is defined."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.core.model import EnvValue, Service
from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.facts import Constant, FileFacts, FunctionInfo, GrpcMethod
from decouple_services.detect.values import Lit, Obj
from decouple_services.resolve.index import IndexTables, ProjectIndex

OPTIONS = ExtractOptions(client_modules=frozenset({"requests"}), method_names=frozenset({"get"}))

SOURCE = """
import unittest

class Base(unittest.TestCase):
    timeout = 3
    def setUp(self):
        self.base = "http://api:8000"
    def path(self):
        return "/items/7"

class Middle(Base):
    def setUp(self):
        super().setUp()
        self.base = "http://middle:8000"

class Child(Middle):
    pass

class Other(unittest.TestCase):
    pass
"""


def index() -> ProjectIndex:
    facts = extract_facts(textwrap.dedent(SOURCE).encode(), "t/test_a.py", "test_a", OPTIONS)
    return ProjectIndex([facts], [], lambda path: None)


def value(found: object) -> object:
    assert found is not None
    return found[1].value  # type: ignore[index]


def test_an_attribute_a_base_class_sets_is_the_subclass_attribute() -> None:
    project = index()
    # the nearest base that sets it wins
    assert value(project.constant("test_a.Child.base", None)) == Lit("http://middle:8000")
    assert value(project.constant("test_a.Child.timeout", None)) == Lit("3")
    assert value(project.constant("test_a.Child.path()", None)) == Lit("/items/7")


def test_a_class_without_that_base_does_not_inherit_it() -> None:
    project = index()
    assert project.constant("test_a.Other.base", None) is None
    assert project.constant("test_a.Child.missing", None) is None


def _env_index(*services: Service) -> ProjectIndex:
    return ProjectIndex([], list(services), lambda path: None)


def test_an_address_literal_gives_way_to_a_name_the_deployment_calls() -> None:
    web = Service(
        "web",
        "web",
        env=(
            EnvValue("USERS_URL", "http://10.0.10.5:8001", "web/environment.env:1"),
            EnvValue("USERS_URL", "http://users-service", "k8s/web.yaml:20"),
        ),
    )
    found = _env_index(web).env("USERS_URL", "web")
    assert found is not None and found.value == "http://users-service"


def test_code_inside_a_context_reads_what_the_services_deploying_it_declare() -> None:
    app = Service("app", ".", env=(EnvValue("SEARCH_URL", "http://find:8000", "env.d/common:1"),))
    backend = Service("backend", "src/backend")
    found = _env_index(app, backend).env("SEARCH_URL", "backend")
    assert found is not None and found.value == "http://find:8000"


def test_services_deploying_it_that_disagree_say_nothing() -> None:
    app = Service("app", ".", env=(EnvValue("SEARCH_URL", "http://find:8000", "a.env:1"),))
    dev = Service("app-dev", ".", env=(EnvValue("SEARCH_URL", "http://other:8000", "b.env:1"),))
    backend = Service("backend", "src/backend")
    assert _env_index(app, dev, backend).env("SEARCH_URL", "backend") is None


def test_a_service_with_env_of_its_own_does_not_read_its_surroundings() -> None:
    app = Service("app", ".", env=(EnvValue("SEARCH_URL", "http://find:8000", "a.env:1"),))
    worker = Service("worker", "src/worker", env=(EnvValue("OTHER", "1", "w.env:1"),))
    assert _env_index(app, worker).env("SEARCH_URL", "worker") is None


# --- the tables kept between the indexes of one scan ---------------------------------------

_PATHS = ["a/settings.py", "a/b.py", "c.py", "d/e.py"]
_NAMES = ["X", "Y", "URL", "@flask.URL", "K.__bases__"]


def _file(path: str, seed: tuple[int, ...]) -> FileFacts:
    module = path.removesuffix(".py").replace("/", ".")
    constants = tuple(
        Constant(
            f"{module}.{_NAMES[n % len(_NAMES)]}" if n % 3 else _NAMES[n % len(_NAMES)],
            Obj("m.Client", (Lit(str(n)),)) if n % 2 else Lit(str(n)),
            n,
        )
        for n in seed
    )
    functions = tuple(
        FunctionInfo(f"f{n % 3}", (), False, n)
        if n % 2 == 0
        else FunctionInfo(f"{module}.Client{n % 3}.get", ("self",), False, n, is_method=True)
        for n in seed
        if n % 4 != 3
    )
    grpc = tuple(GrpcMethod(f"S{n % 2}", "V", "M", path) for n in seed if n % 5 == 0)
    return FileFacts(path, module, constants, functions, grpc_methods=grpc)


_ROUNDS = st.lists(
    st.dictionaries(st.sampled_from(_PATHS), st.lists(st.integers(0, 12), max_size=4).map(tuple)),
    min_size=1,
    max_size=5,
)


def _tables(index: ProjectIndex) -> list[object]:
    return [list(index.table("classes").items())] + [
        list(getattr(index, name).items())
        for name in (
            "constants",
            "functions",
            "settings",
            "constructions",
            "grpc_methods",
            "settings_classes",
        )
    ]


@settings(max_examples=200, deadline=None)
@given(rounds=_ROUNDS)
def test_tables_kept_between_rounds_are_those_of_a_fresh_index(
    rounds: list[dict[str, tuple[int, ...]]],
) -> None:
    # each round changes some files' facts (a file parsed, re-read, or left empty); the
    # tables brought up to date equal a fresh build's, keys and lists in the same order
    tables = IndexTables()
    current = {p: FileFacts(p, p) for p in _PATHS}
    for changes in rounds:
        for path, seed in changes.items():
            current[path] = _file(path, seed)
        facts = [current[p] for p in _PATHS]
        kept = ProjectIndex(facts, [], lambda p: None, prebuilt=tables)
        fresh = ProjectIndex(facts, [], lambda p: None)
        assert _tables(kept) == _tables(fresh)
