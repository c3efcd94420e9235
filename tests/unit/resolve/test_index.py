"""The project index: where a name the code uses is defined."""

from __future__ import annotations

import textwrap

from decouple_services.core.model import EnvValue, Service
from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.values import Lit
from decouple_services.resolve.index import ProjectIndex

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
