from __future__ import annotations

import ast

import pytest

from decouple_services.migrate.syntax import parse_module, reaching_value

CALL = "    send(data)\n"


def _value(body: str, call: str = CALL) -> str | None:
    source = "def view(request, text):\n" + body + call
    tree = parse_module(source)
    assert tree is not None
    line = source.count("\n")  # the call is the last line
    value = reaching_value(tree, line, "data")
    return None if value is None else ast.unparse(value)


def test_the_one_assignment_before_the_call_in_a_block_around_it() -> None:
    assert _value('    data = {"text": text}\n') == "{'text': text}"
    inside = '    if text:\n        data = {"text": text}\n'
    assert _value(inside, "        send(data)\n") == "{'text': text}"


@pytest.mark.parametrize(
    "body",
    [
        # another branch binds it too
        '    if text:\n        data = {"a": 1}\n    else:\n        data = {"b": 2}\n',
        # bound in a branch the call is not in
        '    if text:\n        data = {"a": 1}\n',
        # changed in place after the literal
        '    data = {"a": 1}\n    data["b"] = 2\n',
        '    data = {"a": 1}\n    data.update(b=2)\n',
        # rebound by +=, a loop, a with, a walrus
        '    data = {"a": 1}\n    data |= {"b": 2}\n',
        '    data = {"a": 1}\n    for data in []:\n        pass\n',
        "    with open(text) as data:\n        pass\n",
        "    data = {}\n    (data := {})\n",
        # a name of the module, not of the function
        "    global data\n",
    ],
)
def test_no_value_when_another_binding_or_a_change_could_reach_the_call(body: str) -> None:
    assert _value(body) is None


def test_a_parameter_is_not_read_from_an_assignment() -> None:
    source = 'def view(data):\n    data = {"a": 1}\n    send(data)\n'
    tree = parse_module(source)
    assert tree is not None
    assert reaching_value(tree, 3, "data") is None
