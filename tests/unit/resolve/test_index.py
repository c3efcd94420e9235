"""The project index: where a name the code uses is defined."""

from __future__ import annotations

import textwrap

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
