"""Domain events: several calls in one function that tell other services about one fact.

``decouple migrate --event users.user-registered --select A --select B --select C`` makes the
sends of one function one event: one topic, one versioned type (``users.user-registered.v1``),
one send keyed by the entity id, and one consumer group per subscribing service. This module
holds the rules a reviewer has to trust, as pure functions over source text:

* the event's **name**: a legal topic, with an optional schema version (``.v2``);
* its **data**: the fact, as the publisher knows it, with a schema: each field and its type
  (:mod:`decouple_services.migrate.fields`). What a call sent as a constant (``"template":
  "welcome"``) is that command's, not the fact's, and stays out of it; a value that is one
  of the publisher's names (``"to": email``) travels under that name (``email``), whatever
  the call named it; any other expression under the call's key. The same value sent under
  two keys is one field. A model sent whole (``order.model_dump()``) brings its fields; the
  same field with two types, or with two different expressions, is a conflict, and a body
  whose fields cannot be listed is refused. Path parameters travel as fields under their
  own names, as they do for a single call;
* what each subscriber **takes**: the keys its handler used to get as its body, each from a
  field of the data (``to`` from ``email``) or the constant its call sent, so the consumer
  hands it back what the call sent and nothing more.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    #: Per site id: ``(body key, data field)`` of each key its handler took under another
    #: name than the data's (``("to", "email")``).
    renames: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    #: Per site id: ``(body key, constant)`` of each constant its call sent, which the event
    #: does not carry and its consumer adds back (``("template", "welcome")``).
    values: dict[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)


class EventConflict(Exception):
    """The calls' payloads cannot be one event's data; the message says why and what to do."""


def union(
    parts: Sequence[Contribution], scope: Scope | None = None, *, fact: bool = True
) -> EventData:
    """The event's data from what each call sent (see the module's rules). ``scope``: what
    the function holding the calls says about its names, for the fields' types. ``fact``
    false reads a send as written instead: each key a field, constants too (what an event
    sent already carries)."""
    scope = scope if scope is not None else Scope()
    known: dict[str, tuple[str, str, str, dict[str, Any]]] = {}  # source, normal, site, type
    explicit: dict[str, str] = {}  # field -> source, as the send writes it
    spreads: dict[str, str] = {}  # normalised -> source of a model's dump
    by_source: dict[str, str] = {}  # normalised source -> the field carrying it
    fields: dict[str, tuple[str, ...] | None] = {}
    renames: dict[str, tuple[tuple[str, str], ...]] = {}
    values: dict[str, tuple[tuple[str, Any], ...]] = {}

    def add(
        name: str, source: str, site_id: str, schema: dict[str, Any], share: bool = False
    ) -> str:
        """Adds a field, or checks it against the one of that name; ``share``: a value the
        data carries already, under any name, is that field. Returns the field's name."""
        normal = _normal(source)
        if share and normal in by_source:
            name = by_source[normal]
        if name not in known:
            known[name] = (source, normal, site_id, schema)
            by_source.setdefault(normal, name)
            return name
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
        return name

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
        moved: list[tuple[str, str]] = []
        constants: list[tuple[str, Any]] = []
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
                    constant = _constant(value) if fact else None
                    if constant is not None:
                        # the command's, not the fact's: its consumer adds it back
                        constants.append((key.value, constant[0]))
                    else:
                        wanted = value.id if fact and isinstance(value, ast.Name) else key.value
                        name = add(wanted, source, part.site_id, type_of(value, scope), fact)
                        explicit.setdefault(name, source)
                        if name != key.value:
                            moved.append((key.value, name))
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
            # a field the payload has wins, as for a single call; otherwise (not sent, or
            # sent as a constant or under another name) the data carries the parameter
            # under its own name, where the consumer looks for it
            elsewhere = {key for key, _ in (*moved, *constants)}
            if name not in own or name in elsewhere:
                parsed = _parse(source)
                add(name, source, part.site_id, type_of(parsed, scope) if parsed else {})
                explicit.setdefault(name, source)
        renames[part.site_id] = tuple(moved)
        values[part.site_id] = tuple(constants)
        if fact:
            _check_recordable(part.site_id, own, moved)
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
    return EventData(expression, fields, pairs, schema, sources, renames, values)


def data_schema(expression: str | None, scope: Scope) -> dict[str, Any] | None:
    """JSON Schema of an event's data as its send writes it (``None`` when it cannot be
    read): what the AsyncAPI documents state, also when the event is planned again."""
    if expression is None:
        return None
    try:
        return union([Contribution("send", expression)], scope, fact=False).schema
    except EventConflict:
        return None


def fields_comment(
    fields: tuple[str, ...] | None,
    renames: Sequence[tuple[str, str]] = (),
    values: Sequence[tuple[str, Any]] = (),
) -> str:
    """The marker's suffix recording what a subscriber takes, read back by
    :func:`fields_of_marker` when the event is planned again: each body key, ``key=field``
    when it comes from a field of another name, ``key=<JSON>`` when it is a constant
    (``fields: to=email, template="welcome", user_id``)."""
    if fields is None:
        return " fields: *"
    moved, constants = dict(renames), dict(values)

    def entry(key: str) -> str:
        if key in constants:
            return f"{key}={json.dumps(constants[key])}"
        if key in moved:
            return f"{key}={moved[key]}"
        return key

    return " fields: " + (", ".join(map(entry, fields)) if fields else "none")


@dataclass(frozen=True, slots=True)
class Takes:
    """What a domain event's subscriber takes, as its marker records it."""

    #: Whether the marker is a domain event's.
    event: bool
    #: The keys of its handler's body (``()``: no body; ``None``: all of the data).
    fields: tuple[str, ...] | None = None
    #: ``(body key, data field)`` of each key taken from a field of another name.
    renames: tuple[tuple[str, str], ...] = ()
    #: ``(body key, constant)`` of each key its consumer adds.
    values: tuple[tuple[str, Any], ...] = ()


_ENTRY_KEY = re.compile(r"\s*(?P<key>[^,=]+?)\s*(?P<end>=|,|$)")
_ENTRY_FIELD = re.compile(r"\s*(?P<field>[^,]+?)\s*(?:,|$)")
_JSON_START = re.compile(r'\s*(?:["\[{\-\d]|(?:true|false|null)\s*(?:,|$))')


def fields_of_marker(line: str) -> Takes:
    """What a provenance marker's line records (:func:`fields_comment`); a marker written
    before renames and constants (``fields: to, template``) reads as before."""
    found = FIELDS_SUFFIX.search(line)
    if found is None:
        return Takes(False)
    text = found.group("fields")
    if text == "*":
        return Takes(True)
    if text == "none":
        return Takes(True, ())
    keys: list[str] = []
    renames: list[tuple[str, str]] = []
    values: list[tuple[str, Any]] = []
    at = 0
    decoder = json.JSONDecoder()
    while at < len(text):
        entry = _ENTRY_KEY.match(text, at)
        if entry is None:
            break
        at = entry.end()
        key = entry.group("key")
        keys.append(key)
        if entry.group("end") != "=":
            continue
        if _JSON_START.match(text, at):
            start = len(text) - len(text[at:].lstrip())
            try:
                value, at = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                return Takes(True, tuple(keys))
            values.append((key, value))
            after = re.compile(r"\s*(?:,|$)").match(text, at)
            at = after.end() if after is not None else len(text)
            continue
        target = _ENTRY_FIELD.match(text, at)
        if target is None:
            break
        renames.append((key, target.group("field")))
        at = target.end()
    return Takes(True, tuple(keys), tuple(renames), tuple(values))


def _constant(node: ast.expr) -> tuple[Any] | None:
    """``(value,)`` of a constant literal (a string, a number, a bool, ``None``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _constant(node.operand)
        if inner is None or isinstance(inner[0], bool) or not isinstance(inner[0], int | float):
            return None
        return (-inner[0],) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, str | int | float | bool)
    ):
        if isinstance(node.value, float) and node.value != node.value:
            return None
        return (node.value,)
    return None


def _check_recordable(
    site_id: str, keys: Sequence[str], renames: Sequence[tuple[str, str]]
) -> None:
    """The marker (:func:`fields_comment`) writes body keys and data fields as they are: a
    name it would read back as something else is refused."""
    bad = [k for k in keys if re.search(r"[,=]", k) or k != k.strip() or not k]
    bad += [f for _, f in renames if "," in f or f != f.strip() or _JSON_START.match(f + ",")]
    if bad:
        raise EventConflict(
            f"the body {site_id} sends names {', '.join(f'`{b}`' for b in bad)}, which the "
            "migration's marker cannot record (a comma, an equals sign, spaces around it, or "
            "what reads as a JSON value); rename it before migrating"
        )


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
