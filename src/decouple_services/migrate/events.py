"""Domain events: several calls in one function that tell other services about one fact.

``decouple migrate --event users.user-registered --select A --select B --select C`` makes the
sends of one function one event: one topic, one versioned type (``users.user-registered.v1``),
one send keyed by the entity id, and one consumer group per subscribing service. This module
holds the rules a reviewer has to trust, as pure functions over source text:

* the event's **name**: a legal topic, with an optional schema version (``.v2``);
* its **data**: the union of what the calls sent, with a schema: each field and its type
  (:mod:`decouple_services.migrate.fields`). Literal dicts merge by key, a model sent whole
  (``order.model_dump()``) brings its fields; the same field with two types, or with two
  different expressions, is a conflict, and a body whose fields cannot be listed is refused.
  Path parameters travel as fields, as they do for a single call;
* each subscriber's **fields**: the part of the data its handler used to get as its body,
  so the consumer hands it back nothing more.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decouple_services.core.errors import SelectionError
from decouple_services.migrate.fields import Body, Scope, body_model, compatible, describe, type_of
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
    #: that sent no body).
    fields: dict[str, tuple[str, ...] | None]
    #: ``(name, source)`` of every field the send writes out, in the order they first
    #: appear (a model's fields travel inside its dump and are not among them).
    entries: tuple[tuple[str, str], ...]
    #: JSON Schema of the data: every field with its type (``None`` when there is no data).
    schema: dict[str, Any] | None = None
    #: ``(name, source)`` of every field, a model's too (``order.order_id``), for the key.
    sources: tuple[tuple[str, str], ...] = ()


class EventConflict(Exception):
    """The calls' payloads cannot be one event's data; the message says why and what to do."""


def union(parts: Sequence[Contribution], scope: Scope | None = None) -> EventData:
    """The event's data from what each call sent (see the module's rules). ``scope``: what
    the function holding the calls says about its names, for the fields' types."""
    scope = scope if scope is not None else Scope()
    known: dict[str, tuple[str, str, str, dict[str, Any]]] = {}  # source, normal, site, type
    explicit: dict[str, str] = {}  # field -> source, as the send writes it
    spreads: dict[str, str] = {}  # normalised -> source of a model's dump
    fields: dict[str, tuple[str, ...] | None] = {}

    def add(name: str, source: str, site_id: str, schema: dict[str, Any]) -> None:
        normal = _normal(source)
        if name not in known:
            known[name] = (source, normal, site_id, schema)
            return
        first_source, first_normal, first_site, first_schema = known[name]
        if not compatible(first_schema, schema):
            raise EventConflict(
                f"field `{name}` is {describe(first_schema)} in {first_site} "
                f"(`{first_source}`) and {describe(schema)} in {site_id} (`{source}`): one "
                "event field has one type; make the calls send the same value, or rename "
                "the field in one of them before migrating"
            )
        if first_normal != normal:
            raise EventConflict(
                f"field `{name}` is `{first_source}` in {first_site} and `{source}` in "
                f"{site_id}: one event carries one value; make the calls send the same "
                "expression, or rename the field in one of them before migrating"
            )
        if not first_schema and schema:
            known[name] = (first_source, first_normal, first_site, schema)

    def spread(text: str, body: Body | None, site_id: str, own: list[str]) -> None:
        if body is None:
            raise EventConflict(
                f"the body {site_id} sends, `{_short(text)}`, cannot be read: an event's data "
                "needs each field and its type, and this is neither a literal dict nor a "
                "pydantic model, dataclass or TypedDict the code annotates; write it as a "
                "literal dict, or annotate the value with its model, before migrating"
            )
        spreads.setdefault(_normal(text), text)
        for name, schema in body.model.fields.items():
            add(name, body.source(name), site_id, schema)
            if name not in own:
                own.append(name)

    for part in parts:
        payload = (part.payload or "").strip() or None
        node = _parse(payload) if payload is not None else None
        own: list[str] = []
        if payload is None:
            fields[part.site_id] = ()
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                source = ast.get_source_segment(payload, value) or ast.unparse(value)
                if "\n" in source:
                    source = ast.unparse(value)
                if key is None:
                    spread(source, body_model(value, scope, payload), part.site_id, own)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    add(key.value, source, part.site_id, type_of(value, scope))
                    explicit.setdefault(key.value, source)
                    own.append(key.value)
                else:
                    raise EventConflict(
                        f"the body {part.site_id} sends has a key computed at run time "
                        f"(`{_short(ast.unparse(key))}`): an event's data needs each field "
                        "by name; write the keys out before migrating"
                    )
            fields[part.site_id] = tuple(own)
        else:
            body = body_model(node, scope, payload) if node is not None else None
            spread(payload, body, part.site_id, own)
            fields[part.site_id] = tuple(own)
        for name, source in part.path_params:
            if name not in own:  # a field the payload has wins, as for a single call
                parsed = _parse(source)
                add(name, source, part.site_id, type_of(parsed, scope) if parsed else {})
                explicit.setdefault(name, source)
    pairs = tuple(explicit.items())
    inner = [f'"{name}": {source}' for name, source in pairs]
    dumps = list(spreads.values())
    if len(dumps) == 1 and not inner:
        expression: str | None = dumps[0]
    elif dumps or inner:
        expression = "{" + ", ".join([*(f"**{d}" for d in dumps), *inner]) + "}"
    else:
        expression = None
    schema: dict[str, Any] | None = None
    if known:
        schema = {
            "type": "object",
            "properties": {name: entry[3] for name, entry in known.items()},
            "required": list(known),
        }
    sources = tuple((name, entry[0]) for name, entry in known.items())
    return EventData(expression, fields, pairs, schema, sources)


def data_schema(expression: str | None, scope: Scope) -> dict[str, Any] | None:
    """JSON Schema of an event's data as its send writes it (``None`` when it cannot be
    read): what the AsyncAPI documents state, also when the event is planned again."""
    if expression is None:
        return None
    try:
        return union([Contribution("send", expression)], scope).schema
    except EventConflict:
        return None


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
