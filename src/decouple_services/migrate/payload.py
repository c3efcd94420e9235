"""What a payload expression says statically: its JSON Schema, the fields it names and its
id-like key field.

The fields are a literal dict's keys, or the keywords of the message or model it is built
as (``Req(author_id=uid)``, also inside ``json_format.MessageToDict(Req(...))``). Only literal
dicts say anything of types: ``{"order_id": order.id, "kind": "order_placed"}`` gives an
object with two required properties, the second a string. Values the code computes are
left untyped (``{}``), never guessed.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from typing import Any

_CONSTANT_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
)


def _parse(source: str | None) -> ast.expr | None:
    if not source:
        return None
    try:
        return ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return None


def infer_schema(source: str | None) -> dict[str, Any] | None:
    """JSON Schema of a literal dict payload, ``None`` when the payload is not one."""
    node = _parse(source)
    if not isinstance(node, ast.Dict):
        return None
    return _schema(node)


def literal_schema(node: ast.expr) -> dict[str, Any]:
    """JSON Schema of what an expression's own syntax says (``{}`` when it says nothing)."""
    return _schema(node)


def _schema(node: ast.expr) -> dict[str, Any]:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return {"type": "null"}
        for kind, name in _CONSTANT_TYPES:
            if isinstance(node.value, kind):
                return {"type": name}
        return {}
    if isinstance(node, ast.JoinedStr):
        return {"type": "string"}
    if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
        items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node.elt]
        schemas = [_schema(e) for e in items]
        out: dict[str, Any] = {"type": "array"}
        if schemas and all(s == schemas[0] for s in schemas) and schemas[0]:
            out["items"] = schemas[0]
        return out
    if isinstance(node, ast.Dict):
        properties: dict[str, Any] = {}
        open_ended = False
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                properties[key.value] = _schema(value)
            else:
                open_ended = True  # ``**other`` or a computed key
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if properties:
            schema["required"] = list(properties)
        if open_ended:
            schema["additionalProperties"] = True
        return schema
    if isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        return {"type": "boolean"}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        simple = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
        if node.func.id in simple:
            return {"type": simple[node.func.id]}
    return {}


def merge_schemas(schemas: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One schema for a topic several sites send to: properties of all, required by all.
    ``None`` when any site's payload is not a literal dict."""
    if not schemas or any(s is None for s in schemas):
        return None
    known = [s for s in schemas if s is not None]
    first = known[0]
    if all(s == first for s in known):
        return first
    properties: dict[str, Any] = {}
    for schema in known:
        for name, sub in schema.get("properties", {}).items():
            if name in properties and properties[name] != sub:
                properties[name] = {}
            else:
                properties.setdefault(name, sub)
    required = [name for name in properties if all(name in s.get("required", ()) for s in known)]
    merged: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        merged["required"] = required
    merged["additionalProperties"] = True
    return merged


def key_field(
    source: str | None,
    path_params: Sequence[str] = (),
    skip: Callable[[str], bool] = lambda _: False,
) -> str | None:
    """The field the producer keys events by: ``id``, else the first ``*_id`` field the
    payload names (:func:`payload_fields`), else the first such path parameter (the generated
    producer's own rule), else the path of the id of the one dict the payload nests
    (:func:`nested_id_path`: ``order.id``; ``skip``: the fields that are no entity)."""
    names = [name for name, _ in payload_fields(source)]
    for fields in (names, list(path_params)):
        found = _id_name(fields)
        if found is not None:
            return found
    return nested_id_path(source, skip)


def _id_name(names: Sequence[str]) -> str | None:
    if "id" in names:
        return "id"
    return next((name for name in names if name.endswith("_id")), None)


#: How deep :func:`nested_id_path` looks: ``{"data": {"order": {"id": ...}}}`` and no further.
_NESTING = 3


def nested_id_path(source: str | None, skip: Callable[[str], bool] = lambda _: False) -> str | None:
    """The dotted path of the entity id a payload carries inside a literal dict it nests,
    when its own fields have none: ``{"order": {"id": order.id, "total": t}}`` ->
    ``order.id``, ``{"data": {"user_id": uid}}`` -> ``data.user_id``. At each level the
    dict's own ``id`` or first ``*_id`` key wins; else the one dict under it that has one.
    Two nested dicts with an id are two entities, and a field ``skip`` names (one carrying
    who asks) is none: ``None``. A list of dicts holds many entities, never one."""

    def within(fields: list[tuple[str, ast.expr]], depth: int) -> str | None:
        found: list[str] = []
        for name, value in fields:
            if not isinstance(value, ast.Dict) or skip(name) or not name.isidentifier():
                continue
            inner = _dict_fields(value)
            own = _id_name([n for n, _ in inner if n.isidentifier()])
            deeper = within(inner, depth - 1) if own is None and depth > 1 else None
            if own is not None or deeper is not None:
                found.append(f"{name}.{own if own is not None else deeper}")
        return found[0] if len(found) == 1 else None

    return within(payload_fields(source), _NESTING)


def value_at(source: str | None, path: str) -> ast.expr | None:
    """The value a payload holds at a dotted field path (``order.id``: the ``id`` key of
    the dict under its ``order`` field), ``None`` when it names none."""
    fields = payload_fields(source)
    value: ast.expr | None = None
    for part in path.split("."):
        value = next((v for n, v in fields if n == part), None)
        if value is None:
            return None
        fields = _dict_fields(value) if isinstance(value, ast.Dict) else []
    return value


def _dict_fields(node: ast.Dict) -> list[tuple[str, ast.expr]]:
    return [
        (k.value, v)
        for k, v in zip(node.keys, node.values, strict=True)
        if isinstance(k, ast.Constant) and isinstance(k.value, str)
    ]


def payload_fields(source: str | None) -> list[tuple[str, ast.expr]]:
    """The fields a payload expression names, with their values: a literal dict's string
    keys, a message or model built with keywords (``Req(author_id=uid)``, ``dict(a=1)``; a
    function's keywords are not fields),
    also inside a conversion of one argument
    (``json_format.MessageToDict(Req(author_id=uid), preserving_proto_field_name=True)``)."""
    node = _parse(source)
    for _ in range(3):
        if isinstance(node, ast.Dict):
            return _dict_fields(node)
        if not isinstance(node, ast.Call):
            return []
        if len(node.args) == 1 and isinstance(node.args[0], ast.Call | ast.Dict):
            node = node.args[0]  # MessageToDict(Req(...), preserving_proto_field_name=True)
            continue
        if node.args or not builds(node.func):
            return []
        return [(k.arg, k.value) for k in node.keywords if k.arg is not None]
    return []


def literal_values(source: str | None) -> dict[str, Any]:
    """The fields of a payload expression (:func:`payload_fields`) whose values are written
    as JSON literals (``{"kind": "welcome", "user_id": user.id}`` -> ``{"kind": "welcome"}``),
    with those values; a dict literal's literal entries, at any depth (a dict of them for
    such a field: merged into a sample of its schema, not in its place)."""
    out: dict[str, Any] = {}
    for name, node in payload_fields(source):
        value = _literal_part(node)
        if value is not _NOT_LITERAL:
            out[name] = value
    return out


_NOT_LITERAL = object()


def _literal_part(node: ast.expr, depth: int = 0) -> Any:
    """``node``'s value when it is a JSON literal; for a dict literal that is not one
    whole, the entries that are, at any depth (``{"type": "case-accesses", "attributes":
    {"email": e}}`` -> ``{"type": "case-accesses"}``): a JSON:API document's ``type``
    is as literal as a field at the top. :data:`_NOT_LITERAL` when nothing in it is."""
    try:
        value = ast.literal_eval(node)
        json.dumps(value)
        return value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if not isinstance(node, ast.Dict) or depth >= 8:
        return _NOT_LITERAL
    parts = {
        name: part
        for name, value in _dict_fields(node)
        if (part := _literal_part(value, depth + 1)) is not _NOT_LITERAL
    }
    return parts or _NOT_LITERAL


def builds(func: ast.expr) -> bool:
    """Whether a call builds a value from its keywords: a class (``CapWords``) or ``dict``,
    not a function that may send something else."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "dict" or name[:1].isupper()
