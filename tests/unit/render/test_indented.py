"""The scan output's encoder writes what ``json.dumps(indent=2, sort_keys=True,
ensure_ascii=True)`` writes, for every value (handing it what it does not write itself)."""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.render._indented import Rows, dumps_indented, pieces_indented


def reference(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(st.text(), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_same_text_as_json(value: Any) -> None:
    assert dumps_indented(value) == reference(value)


class Color(enum.Enum):
    RED = "red"


class Word(str, enum.Enum):
    A = "a"


class Number(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"b": [], "a": {}},
        {"é": '\u2028 \ud800 \x00 "quoted" \\', "line\nbreak": [1.5, -0.0, 1e300]},
        [math.nan, math.inf, -math.inf],
        # handed to json.dumps: keys it converts, subclasses of the plain types
        {2: "a", 1: "b"},
        {True: 1},
        {1.5: None},
        [Word.A, Number.ONE],
        {"nested": [{"x": Word.A}]},
    ],
)
def test_edge_values(value: Any) -> None:
    assert dumps_indented(value) == reference(value)


def test_refusals_are_json_dumps_own() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"a": Color.RED})
    with pytest.raises(TypeError):
        dumps_indented({1: "a", "b": 2})  # keys sort_keys cannot order
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular"):
        dumps_indented(looped)


def test_dicts_of_one_shape_at_any_depth_and_key_order() -> None:
    # each shape's template is kept: keys met again in another order, at another depth,
    # or holding what a template would read as a slot
    rows = [{"b": i, "a": [i, {"%s": "x", "%": None}]} for i in range(3)]
    value = {"rows": rows, "deeper": {"rows": rows}, "swapped": [{"a": 1, "b": 2}]}
    assert dumps_indented(value) == reference(value)
    assert dumps_indented(rows) == reference(rows)


def test_many_shapes() -> None:
    # more shapes than the encoder keeps templates of
    value = [{f"k{i}": i, "z": [i]} for i in range(1200)]
    assert dumps_indented(value) == reference(value)
    assert dumps_indented(value[::-1]) == reference(value[::-1])


def made(item: Any) -> Any:
    return {"item": item, "twice": [item, item]}


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=6), values)
def test_rows_written_as_the_list_they_stand_for(items: list[Any], other: Any) -> None:
    # at the top, inside a dict, inside a list, and beside values of any kind
    assert dumps_indented(Rows(items, made)) == reference([made(i) for i in items])
    document = {"rows": Rows(items, made), "other": other}
    assert dumps_indented(document) == reference({"rows": [made(i) for i in items], "other": other})
    assert dumps_indented([Rows(items, str)]) == reference([[str(i) for i in items]])


def test_rows_each_item_made_once_and_let_go() -> None:
    calls: list[int] = []

    def make(item: int) -> dict[str, int]:
        calls.append(item)
        return {"n": item}

    assert dumps_indented({"a": Rows(range(5), make)}) == reference(
        {"a": [{"n": n} for n in range(5)]}
    )
    assert calls == [0, 1, 2, 3, 4]
    assert dumps_indented(Rows([], make)) == "[]"
    assert calls == [0, 1, 2, 3, 4]


def test_rows_of_what_json_dumps_writes_or_refuses() -> None:
    # a value the encoder leaves to json.dumps, in a document holding rows: the same text,
    # or json.dumps's own error
    document = {"a": Rows([1, 2], made), "b": {1: "not a string key"}}
    assert dumps_indented(document) == reference(
        {"a": [made(1), made(2)], "b": {1: "not a string key"}}
    )
    with pytest.raises(TypeError):
        dumps_indented({"a": Rows([Color.RED], lambda c: c)})
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": Rows([1], lambda _: object()), "b": {1: 2}})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=5), st.lists(values, max_size=4))
def test_pieces_join_to_the_text(document: dict[str, Any], items: list[Any]) -> None:
    assert "".join(pieces_indented(document)) == dumps_indented(document)
    with_rows = {**document, "rows": Rows(items, made), "none": Rows([], made)}
    expected = reference({**document, "rows": [made(i) for i in items], "none": []})
    assert "".join(pieces_indented(with_rows)) == expected


def test_pieces_of_what_is_not_split() -> None:
    # not a dict, an empty one, keys a template escapes, keys json.dumps would refuse
    for value in ([1, {"a": 2}], {}, "text", {"%s": 1, "b": Rows([1], made)}):
        assert pieces_indented(value) == [dumps_indented(value)]
    document = {"rows": Rows(range(3), made), "b": 1}
    assert len(pieces_indented(document)) > 3
    with pytest.raises(TypeError):
        pieces_indented({1: "a", "b": 2})
    with pytest.raises(TypeError):
        pieces_indented({"a": Rows([Color.RED], lambda c: c)})
