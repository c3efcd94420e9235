from __future__ import annotations

import ast

from decouple_services.migrate.payload import (
    infer_schema,
    key_field,
    merge_schemas,
    nested_id_path,
    value_at,
)


def test_a_literal_dict_gives_an_object_schema_with_what_the_literals_say() -> None:
    schema = infer_schema(
        '{"order_id": order.id, "kind": "order_placed", "total": 1.5, "paid": True,'
        ' "items": [1, 2], "meta": {"n": 1}, "note": f"x{y}"}'
    )
    assert schema == {
        "type": "object",
        "properties": {
            "order_id": {},
            "kind": {"type": "string"},
            "total": {"type": "number"},
            "paid": {"type": "boolean"},
            "items": {"type": "array", "items": {"type": "integer"}},
            "meta": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            "note": {"type": "string"},
        },
        "required": ["order_id", "kind", "total", "paid", "items", "meta", "note"],
    }


def test_anything_but_a_literal_dict_says_nothing() -> None:
    assert infer_schema("event") is None
    assert infer_schema("payments_pb2.RefundRequest(charge_id=c)") is None
    assert infer_schema(None) is None
    assert infer_schema("{") is None


def test_a_spread_leaves_the_object_open() -> None:
    assert infer_schema('{"outcome": o, **details}') == {
        "type": "object",
        "properties": {"outcome": {}},
        "required": ["outcome"],
        "additionalProperties": True,
    }


def test_schemas_of_one_topic_merge_to_the_fields_all_sites_send() -> None:
    a = infer_schema('{"template": "a", "to": t, "context": {"order_id": o}}')
    b = infer_schema('{"template": "b", "to": t, "context": c}')
    merged = merge_schemas([a, b])
    assert merged is not None
    assert merged["required"] == ["template", "to", "context"]
    assert merged["properties"]["context"] == {}
    assert merge_schemas([a, None]) is None
    assert merge_schemas([a, a]) == a


def test_the_key_field_follows_the_producers_rule() -> None:
    assert key_field('{"user_id": u, "id": i}') == "id"
    assert key_field('{"kind": k, "user_id": u, "order_id": o}') == "user_id"
    assert key_field("event", ("order_id",)) == "order_id"
    assert key_field('{"kind": k}') is None


def test_the_key_field_of_a_nested_dict_is_its_path() -> None:
    assert key_field('{"order": {"id": o, "total": t}}') == "order.id"
    assert key_field('{"data": {"user_id": u}}', ("order_id",)) == "order_id"  # params first
    assert key_field('{"who": {"id": u}}', skip=lambda name: name == "who") is None
    assert nested_id_path('{"a": {"id": x}, "b": {"user_id": y}}') is None
    assert nested_id_path('{"a": {"b": {"c": {"d": {"id": x}}}}}') is None  # too deep
    assert nested_id_path("payload") is None


def test_value_at_follows_a_field_path_into_nested_dicts() -> None:
    value = value_at('{"data": {"order": {"id": o.pk}}}', "data.order.id")
    assert value is not None and ast.unparse(value) == "o.pk"
    assert value_at('{"data": {"order": o}}', "data.order.id") is None
    assert value_at('{"data": 1}', "missing") is None
