"""Domain events: several calls in one function that tell other services about one fact.

``decouple migrate --event users.user-registered --select A --select B --select C`` makes the
sends of one function one event: one topic, one versioned type (``users.user-registered.v1``),
one send keyed by the entity id, and one consumer group per subscribing service. This module
holds the rules a reviewer has to trust, as pure functions over source text:

* the event's **name**: a legal topic, with an optional schema version (``.v2``);
* its **data**: the union of what the calls sent. Literal dict payloads merge by key, the
  same key with two different expressions is a conflict; identical non-literal payloads are
  one, different ones (or one beside literal dicts) cannot be merged safely. Path parameters
  travel as fields, as they do for a single call;
* each subscriber's **fields**: the part of the data its handler used to get as its body,
  so the consumer hands it back nothing more.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from decouple_services.core.errors import SelectionError
from decouple_services.migrate.naming import event_type, topic_problem

_VERSION = re.compile(r"\.(v\d+)$")
#: ``fields: a, b`` after a marker's ``(callee endpoint)``: what that subscriber takes.
FIELDS_SUFFIX = re.compile(r"\)\s+fields:\s*(?P<fields>.*?)\s*$")


@dataclass(frozen=True, slots=True)
class EventName:
    #: The topic the event goes to (``users.user-registered``).
    topic: str
    #: Its CloudEvents type (``users.user-registered.v1``).
    type: str


def parse_event_name(text: str, option: str = "--event") -> EventName:
    """``users.user-registered`` or ``users.user-registered.v2``; the topic leaves out the
    version (``.v2`` events share the topic with ``.v1`` ones: consumers tell them apart by
    type)."""
    name = text.strip()
    topic = _VERSION.sub("", name)
    problem = topic_problem(topic)
    if problem is not None:
        raise SelectionError(f"{option} {text!r}: not a topic name: {problem}")
    if "." not in topic.strip("."):
        raise SelectionError(
            f"{option} {text!r}: name the fact with its domain in front, "
            "DOMAIN.FACT in the past tense (users.user-registered)"
        )
    return EventName(topic, event_type(name))


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one call sent: its payload as written, and the path parameters its url carried."""

    site_id: str
    payload: str | None
    path_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class EventData:
    #: The event's data as the one send writes it (``None`` when no call sent anything).
    expression: str | None
    #: Per site id: the fields of ``data`` its handler took as its body (``()`` for a call
    #: that sent no body; ``None``: all of the data, for a payload that is not a literal).
    fields: dict[str, tuple[str, ...] | None]
    #: ``(name, source)`` of every field, in the order they first appear, for the key.
    entries: tuple[tuple[str, str], ...]


class EventConflict(Exception):
    """The calls' payloads cannot be one event's data; the message says why and what to do."""


def union(parts: Sequence[Contribution]) -> EventData:
    """The event's data from what each call sent (see the module's rules)."""
    entries: dict[str, tuple[str, str, str]] = {}  # field -> (source, normalised, site id)
    opaque: tuple[str, str, str] | None = None  # (source, normalised, site id)
    literal_from: str | None = None
    fields: dict[str, tuple[str, ...] | None] = {}

    def add(name: str, source: str, site_id: str) -> None:
        normal = _normal(source)
        if name in entries and entries[name][1] != normal:
            first_source, _, first_site = entries[name]
            raise EventConflict(
                f"field `{name}` is `{first_source}` in {first_site} and `{source}` in "
                f"{site_id}: one event carries one value; make the calls send the same "
                "expression, or rename the field in one of them before migrating"
            )
        entries.setdefault(name, (source, normal, site_id))

    for part in parts:
        payload = (part.payload or "").strip() or None
        node = _parse(payload) if payload is not None else None
        own: list[str] = []
        if payload is None:
            fields[part.site_id] = ()
        elif isinstance(node, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
        ):
            for key, value in zip(node.keys, node.values, strict=True):
                assert isinstance(key, ast.Constant) and isinstance(key.value, str)
                source = ast.get_source_segment(payload, value) or ""
                add(key.value, source if "\n" not in source else ast.unparse(value), part.site_id)
                own.append(key.value)
            fields[part.site_id] = tuple(own)
            literal_from = literal_from or part.site_id
        else:
            normal = _normal(payload)
            if opaque is not None and opaque[1] != normal:
                raise EventConflict(
                    f"{opaque[2]} sends `{_short(opaque[0])}` and {part.site_id} sends "
                    f"`{_short(payload)}`: an event has one data, and two payloads that are "
                    "not literal dicts cannot be merged or checked for conflicts; build one "
                    "dict both calls send, or write both payloads as literal dicts"
                )
            opaque = opaque or (payload, normal, part.site_id)
            fields[part.site_id] = None
        for name, source in part.path_params:
            if name not in own:  # a field the payload has wins, as for a single call
                add(name, source, part.site_id)
    if opaque is not None and literal_from is not None:
        raise EventConflict(
            f"{opaque[2]} sends `{_short(opaque[0])}`, which is not a literal dict, and "
            f"{literal_from} sends a literal dict: their fields cannot be checked for "
            "conflicts; write both payloads as literal dicts, or send the same expression"
        )
    pairs = tuple((name, source) for name, (source, _, _) in entries.items())
    inner = ", ".join(f'"{name}": {source}' for name, source in pairs)
    if opaque is not None:
        expression: str | None = "{**" + opaque[0] + ", " + inner + "}" if inner else opaque[0]
    else:
        expression = "{" + inner + "}" if pairs else None
    return EventData(expression, fields, pairs)


def fields_comment(fields: tuple[str, ...] | None) -> str:
    """The marker's suffix recording what a subscriber takes, read back by
    :func:`fields_of_marker` when the event is planned again."""
    if fields is None:
        return " fields: *"
    return " fields: " + (", ".join(fields) if fields else "none")


def fields_of_marker(line: str) -> tuple[bool, tuple[str, ...] | None]:
    """``(is an event's marker, fields)`` from a provenance marker's line."""
    found = FIELDS_SUFFIX.search(line)
    if found is None:
        return False, None
    text = found.group("fields")
    if text == "*":
        return True, None
    if text == "none":
        return True, ()
    return True, tuple(f.strip() for f in text.split(",") if f.strip())


def _parse(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except SyntaxError:
        return None


def _normal(source: str) -> str:
    node = _parse(source.strip())
    return ast.dump(node) if node is not None else " ".join(source.split())


def _short(source: str) -> str:
    flat = " ".join(source.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."
