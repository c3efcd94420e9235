"""``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True)``, the same text in
two fifths of the time.

The standard library encodes an indented document through its pure-Python encoder (the
C one writes compact JSON only): a generator per container and a call per value. The
scan output of a large tree is megabytes (polar: 2 MB, 220,000 values), written again by
every rerun whose result changed, where it was a twentieth of the rerun. This encoder
writes the same text with one call per container and the scalars inline, through the
standard library's C string escaper; a dict is written through a template of its keys
kept for each shape it has (a call site's 30 keys are sorted and escaped once, not for
each of 1,500 call sites). Anything it does not write as ``json`` does (a key that is
not a string, a value of another type: an enum, a subclass) is handed to ``json.dumps``
whole, which then gives its text or its error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring_ascii as _string
from typing import Any

_FLOAT = float.__repr__
_INT = int.__repr__
_CONSTANTS = {None: "null", True: "true", False: "false"}
_INFINITY = float("inf")


class _Unsupported(Exception):
    """A value this encoder leaves to ``json.dumps``."""


class Rows:
    """A list whose items are made as they are written: ``make`` of each of ``items``,
    written as the list of those values would be. Each value is let go once its text is
    made, so a large document holds its texts but not also every dict they were made from
    (the scan output of a tree with 10,000 call sites: a dict of 30 keys for each)."""

    __slots__ = ("items", "make")

    def __init__(self, items: Sequence[Any], make: Callable[[Any], Any]) -> None:
        self.items = items
        self.make = make

    def values(self) -> list[Any]:
        """The list this stands for, made whole."""
        return [self.make(item) for item in self.items]


def _whole(value: Any) -> Any:
    """``json.dumps``'s ``default``: a :class:`Rows` as its list; anything else refused
    as ``json.dumps`` refuses it."""
    if type(value) is Rows:
        return value.values()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True)``, each
    :class:`Rows` in it written as its list."""
    try:
        return _text(value, "\n")
    except (_Unsupported, RecursionError):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True, default=_whole)


def pieces_indented(value: Any) -> list[str]:
    """:func:`dumps_indented`'s text as pieces whose join is that text: a dict's values and
    the entries of each :class:`Rows` in it, not joined. A large document is otherwise
    held twice at its end: its text, and the texts it is joined from (the scan output of a
    tree with 10,000 call sites: 19 MB each)."""
    if type(value) is not dict or not value:
        return [dumps_indented(value)]
    try:
        keys = tuple(value)
        if any(type(key) is str and "%" in key for key in keys):
            return [dumps_indented(value)]  # a key the template escapes
        order, template = _LAYOUTS.get((keys, "\n")) or _layout(keys, "\n")
        between = template.split("%s")
        items = list(value.values())
        pieces: list[str] = []
        for before, at in zip(between, order, strict=False):
            pieces.append(before)
            item = items[at]
            if type(item) is Rows and item.items:
                pieces.append("[")
                for n, row in enumerate(item.items):
                    pieces.append("\n    " if n == 0 else ",\n    ")
                    pieces.append(_text(item.make(row), "\n    "))
                pieces.append("\n  ]")
            else:
                pieces.append(_text(item, "\n  "))
        pieces.append(between[-1])
        return pieces
    except (_Unsupported, RecursionError):
        return [dumps_indented(value)]


def _scalar(value: Any, kind: type) -> str | None:
    """The JSON text of a string, number, boolean or None (exactly those types); None for
    anything else."""
    if kind is str:
        return _string(value)
    if value is None or value is True or value is False:
        return _CONSTANTS[value]
    if kind is int:
        return _INT(value)
    if kind is float:
        # as json.encoder's floatstr with allow_nan
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return _FLOAT(value)
    return None


#: A dict's keys and the line break it is written at -> how to write it: the positions of
#: its values in the order of their sorted keys, and a ``%`` template of the keys' text
#: with a slot for each value. The scan output is thousands of dicts of a few shapes (a
#: call site's 30 keys), each sorted and its keys escaped once per shape, not per dict.
_LAYOUTS: dict[tuple[tuple[str, ...], str], tuple[list[int], str]] = {}
#: More shapes than this (a document of dicts keyed by data) and the layouts start over.
_MAX_LAYOUTS = 512


def _layout(keys: tuple[Any, ...], newline: str) -> tuple[list[int], str]:
    if any(type(key) is not str for key in keys):
        raise _Unsupported  # keys json.dumps would refuse, or convert
    if len(_LAYOUTS) >= _MAX_LAYOUTS:
        _LAYOUTS.clear()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    inner = newline + "  "
    template = "{" + ",".join(inner + _string(keys[i]).replace("%", "%%") + ": %s" for i in order)
    found = _LAYOUTS[keys, newline] = (order, template + newline + "}")
    return found


def _text(value: Any, newline: str) -> str:
    """The text of ``value`` written at the line break and indent ``newline``."""
    kind = type(value)
    if kind is dict:
        if not value:
            return "{}"
        keys = tuple(value)
        layout = _LAYOUTS.get((keys, newline))
        if layout is None:
            layout = _layout(keys, newline)
        order, template = layout
        items = list(value.values())
        inner = newline + "  "
        texts: list[str] = []
        for at in order:
            item = items[at]
            item_kind = type(item)
            # the commonest values inline: a call per value was most of the time
            if item_kind is str:
                texts.append(_string(item))
            elif item is None or item is True or item is False:
                texts.append(_CONSTANTS[item])
            else:
                text = _scalar(item, item_kind)
                texts.append(_text(item, inner) if text is None else text)
        return template % tuple(texts)
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + "  "
        texts = []
        for item in value:
            item_kind = type(item)
            if item_kind is str:
                texts.append(_string(item))
            else:
                text = _scalar(item, item_kind)
                texts.append(_text(item, inner) if text is None else text)
        return "[" + inner + ("," + inner).join(texts) + newline + "]"
    if kind is Rows:
        if not value.items:
            return "[]"
        inner = newline + "  "
        make = value.make
        texts = []
        for item in value.items:
            made = make(item)
            made_kind = type(made)
            text = _string(made) if made_kind is str else _scalar(made, made_kind)
            texts.append(_text(made, inner) if text is None else text)
        return "[" + inner + ("," + inner).join(texts) + newline + "]"
    text = _scalar(value, kind)
    if text is None:
        raise _Unsupported
    return text
