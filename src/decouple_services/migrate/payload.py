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
from collections.abc import Sequence
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


def key_field(source: str | None, path_params: Sequence[str] = ()) -> str | None:
    """The field the producer keys events by: ``id``, else the first ``*_id`` field the
    payload names (:func:`payload_fields`), else the first such path parameter (the generated
    producer's own rule)."""
    names = [name for name, _ in payload_fields(source)]
    for fields in (names, list(path_params)):
        if "id" in fields:
            return "id"
        for name in fields:
            if name.endswith("_id"):
                return name
    return None


def payload_fields(source: str | None) -> list[tuple[str, ast.expr]]:
    """The fields a payload expression names, with their values: a literal dict's string
    keys, a message or model built with keywords (``Req(author_id=uid)``, ``dict(a=1)``; a
    function's keywords are not fields),
    also inside a conversion of one argument
    (``json_format.MessageToDict(Req(author_id=uid), preserving_proto_field_name=True)``)."""
    node = _parse(source)
    for _ in range(3):
        if isinstance(node, ast.Dict):
            return [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
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
    with those values."""
    out: dict[str, Any] = {}
    for name, node in payload_fields(source):
        try:
            value = ast.literal_eval(node)
            json.dumps(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        out[name] = value
    return out


def builds(func: ast.expr) -> bool:
    """Whether a call builds a value from its keywords: a class (``CapWords``) or ``dict``,
    not a function that may send something else."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "dict" or name[:1].isupper()
