"""The rules of a domain event's data: the union of what its calls sent, and conflicts."""

from __future__ import annotations

import re

import pytest

from decouple_services.core.errors import SelectionError
from decouple_services.migrate.events import (
    Contribution,
    EventConflict,
    Takes,
    fields_comment,
    fields_of_marker,
    parse_event_name,
    union,
)
from decouple_services.migrate.fields import Scope, compatible, scope_at


def test_the_fact_carries_the_publishers_names_and_leaves_the_commands_constants_out() -> None:
    data = union(
        [
            Contribution("cs-1", '{"to": email, "template": "welcome", "user_id": user_id}'),
            Contribution("cs-2", '{"name": "user_registered", "user_id": user_id}'),
            Contribution("cs-3", None, (("user_id", "user_id"),)),
        ]
    )
    # `to` was the emails call's word for the email, `template` and `name` its commands'
    # constants: the fact is the email and the user id, under the publisher's names
    assert data.expression == '{"email": email, "user_id": user_id}'
    # each handler gets back what its call sent; a call without a body gets none
    assert data.fields == {
        "cs-1": ("to", "template", "user_id"),
        "cs-2": ("name", "user_id"),
        "cs-3": (),
    }
    assert data.renames == {"cs-1": (("to", "email"),), "cs-2": (), "cs-3": ()}
    assert data.values == {
        "cs-1": (("template", "welcome"),),
        "cs-2": (("name", "user_registered"),),
        "cs-3": (),
    }


@pytest.mark.parametrize(
    ("source", "value"),
    [('"x"', "x"), ("3", 3), ("-1", -1), ("2.5", 2.5), ("True", True), ("None", None)],
)
def test_every_constant_literal_is_the_commands(source: str, value: object) -> None:
    data = union([Contribution("cs-1", f'{{"kind": {source}, "user_id": user_id}}')])
    assert data.expression == '{"user_id": user_id}'
    assert data.values["cs-1"] == (("kind", value),)


@pytest.mark.parametrize("source", ['f"{a}"', "[1]", "-x", "b'x'", "user.kind"])
def test_an_expression_that_is_not_a_constant_stays_under_its_key(source: str) -> None:
    data = union([Contribution("cs-1", f'{{"kind": {source}}}')])
    assert data.expression == f'{{"kind": {source}}}'
    assert data.values["cs-1"] == () and data.renames["cs-1"] == ()


def test_the_same_value_under_two_keys_is_one_field() -> None:
    data = union(
        [
            Contribution("cs-1", '{"uid": user.id, "to": email}'),
            Contribution("cs-2", '{"user_id": user . id, "address": email}'),
        ]
    )
    assert data.expression == '{"uid": user.id, "email": email}'
    assert data.renames == {
        "cs-1": (("to", "email"),),
        "cs-2": (("user_id", "uid"), ("address", "email")),
    }


def test_a_path_parameter_its_call_sent_otherwise_travels_under_its_own_name() -> None:
    # the consumer fills the path from the data's field of the parameter's name
    data = union([Contribution("cs-1", '{"user_id": 0, "id": uid}', (("user_id", "uid"),))])
    assert data.expression == '{"uid": uid, "user_id": uid}'
    assert data.values["cs-1"] == (("user_id", 0),)
    assert data.renames["cs-1"] == (("id", "uid"),)


def test_the_same_field_written_differently_is_one_field() -> None:
    data = union(
        [
            Contribution("cs-1", '{"user_id": user.id}'),
            Contribution("cs-2", '{"user_id" : user . id}'),
        ]
    )
    assert data.expression == '{"user_id": user.id}'


def test_one_field_with_two_values_is_a_conflict_naming_both_sites() -> None:
    with pytest.raises(
        EventConflict, match=r"`user_id` is `user.id` in cs-1 and `account.id` in cs-2"
    ):
        union(
            [
                Contribution("cs-1", '{"user_id": user.id}'),
                Contribution("cs-2", '{"user_id": account.id}'),
            ]
        )


def test_a_publishers_name_and_another_value_under_that_name_are_a_conflict() -> None:
    # "to": email puts the publisher's `email` in the data; another call's "email" key
    # holding something else cannot share the name
    with pytest.raises(EventConflict, match=r"`email` is `email` in cs-1 and `user.email`"):
        union(
            [
                Contribution("cs-1", '{"to": email}'),
                Contribution("cs-2", '{"email": user.email}'),
            ]
        )


@pytest.mark.parametrize("payload", ['{"a,b": x.y}', '{"to": true}', '{"k=v": 1}'])
def test_a_name_the_marker_cannot_record_is_refused(payload: str) -> None:
    with pytest.raises(EventConflict, match="marker cannot record"):
        union([Contribution("cs-1", payload)])


def test_a_path_parameter_that_differs_from_a_field_is_a_conflict() -> None:
    with pytest.raises(EventConflict, match="user_id"):
        union(
            [
                Contribution("cs-1", '{"user_id": user.id}'),
                Contribution("cs-2", None, (("user_id", "other.id"),)),
            ]
        )


_MODULE = """
from dataclasses import dataclass
from typing import Literal, Optional, TypedDict

from pydantic import BaseModel


class Signup(BaseModel):
    user_id: int
    plan: Literal["free", "pro"]
    referrer: Optional[str] = None


@dataclass
class Refund:
    id: str
    amount: float


class Counts(TypedDict):
    user_id: int
    visits: int


def register(user_id: int, email: str, signup: Signup, counts: Counts, tags: list[str]):
    refund = Refund("r-1", 2.5)
    pass
"""


def _scope() -> Scope:
    return scope_at(_MODULE, _MODULE.splitlines().index("    pass") + 1)


def test_the_schema_types_each_field_from_literals_annotations_and_models() -> None:
    data = union(
        [
            Contribution("cs-1", '{"to": email, "template": "welcome", "tags": tags}'),
            Contribution("cs-2", "signup.model_dump()"),
            Contribution("cs-3", None, (("user_id", "signup.user_id"),)),
            Contribution("cs-4", '{"refund": refund.id, "amount": refund.amount}'),
        ],
        _scope(),
    )
    assert data.schema is not None
    assert data.schema["properties"] == {
        "email": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "user_id": {"type": "integer"},
        "plan": {"type": "string", "enum": ["free", "pro"]},
        "referrer": {"type": ["string", "null"]},
        "refund": {"type": "string"},
        "amount": {"type": "number"},
    }
    assert data.schema["required"] == list(data.schema["properties"])
    # the model travels as its dump; its fields are the second handler's body, by name
    assert data.expression is not None and data.expression.startswith("{**signup.model_dump(), ")
    assert data.fields["cs-2"] == ("user_id", "plan", "referrer")
    # the path parameter is the model's own field, sent with the same value
    assert ("user_id", "signup.user_id") in data.sources


def test_a_typeddict_value_is_read_by_its_keys() -> None:
    data = union([Contribution("cs-1", "counts")], _scope())
    assert data.expression == "counts"
    assert data.fields == {"cs-1": ("user_id", "visits")}
    assert ("visits", 'counts["visits"]') in data.sources


def test_one_field_with_two_types_is_refused_naming_both() -> None:
    with pytest.raises(
        EventConflict,
        match=r"field `user_id` is integer in cs-1 \(`user_id`\) and string in cs-2 "
        r"\(`str\(user_id\)`\): one event field has one type",
    ):
        union(
            [
                Contribution("cs-1", '{"user_id": user_id}'),
                Contribution("cs-2", '{"user_id": str(user_id)}'),
            ],
            _scope(),
        )


def test_a_models_field_and_a_literal_of_another_type_are_refused() -> None:
    with pytest.raises(EventConflict, match=r"`plan` is string .* and integer in cs-2"):
        union(
            [
                Contribution("cs-1", "signup.model_dump()"),
                Contribution("cs-2", '{"plan": len(tags)}'),
            ],
            _scope(),
        )


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ("payload", "`payload`"),  # nothing says what it holds
        ("{**extra, 'a': 1}", "`extra`"),  # an untyped mapping spread into a literal
        ("asdict(unknown)", "`asdict(unknown)`"),
    ],
)
def test_a_body_whose_fields_cannot_be_listed_is_refused(payload: str, shown: str) -> None:
    with pytest.raises(
        EventConflict, match=f"the body cs-2 sends, {re.escape(shown)}, cannot be read"
    ):
        union([Contribution("cs-1", '{"a": 1}'), Contribution("cs-2", payload)], _scope())


def test_a_key_computed_at_run_time_is_refused() -> None:
    with pytest.raises(EventConflict, match="key computed at run time"):
        union([Contribution("cs-1", "{name: 1}")], _scope())


def test_an_integer_fits_a_number_field() -> None:
    # a send read as written (an event sent already): its constants are fields
    data = union(
        [Contribution("cs-1", '{"amount": 3}'), Contribution("cs-2", '{"amount": 3}')],
        _scope(),
        fact=False,
    )
    assert data.schema is not None and data.schema["properties"]["amount"] == {"type": "integer"}
    assert compatible({"type": "number"}, {"type": "integer"})
    assert not compatible({"type": "string"}, {"type": ["integer", "null"]})
    assert compatible({}, {"type": "string"})


def test_calls_that_sent_nothing_make_an_event_without_data() -> None:
    data = union([Contribution("cs-1", None), Contribution("cs-2", None)])
    assert data.expression is None


@pytest.mark.parametrize(
    ("given", "topic", "kind"),
    [
        ("users.user-registered", "users.user-registered", "users.user-registered.v1"),
        ("users.user-registered.v2", "users.user-registered", "users.user-registered.v2"),
    ],
)
def test_the_event_name_gives_the_topic_and_the_versioned_type(
    given: str, topic: str, kind: str
) -> None:
    name = parse_event_name(given)
    assert (name.topic, name.type) == (topic, kind)


@pytest.mark.parametrize(
    ("given", "why"),
    [("users/registered", "illegal character"), ("registered", "DOMAIN.FACT"), ("", "empty")],
)
def test_a_bad_event_name_is_an_error_saying_why(given: str, why: str) -> None:
    with pytest.raises(SelectionError, match=why):
        parse_event_name(given)


@pytest.mark.parametrize(
    ("fields", "renames", "values"),
    [
        (None, (), ()),
        ((), (), ()),
        (("to", "user_id"), (), ()),
        (("to", "template", "user_id"), (("to", "email"),), (("template", "welcome"),)),
        (
            ("a", "b", "c", "d", "e", "f"),
            (("f", "user-id"),),
            (("a", "x, y=z"), ("b", -1.5), ("c", None), ("d", True), ("e", '"q"')),
        ),
    ],
)
def test_what_a_subscriber_takes_is_read_back_from_its_marker(
    fields: tuple[str, ...] | None,
    renames: tuple[tuple[str, str], ...],
    values: tuple[tuple[str, object], ...],
) -> None:
    line = "# decouple: migrated cs-1 to users.x (emails POST /send)" + fields_comment(
        fields, renames, values
    )
    assert fields_of_marker(line) == Takes(True, fields, renames, values)
    assert fields_of_marker("# decouple: migrated cs-1 to emails.send (emails POST /send)") == (
        Takes(False)
    )


def test_a_marker_written_before_renames_reads_as_before() -> None:
    line = "# decouple: migrated cs-1 to users.x (emails POST /send) fields: to, template"
    assert fields_of_marker(line) == Takes(True, ("to", "template"))
