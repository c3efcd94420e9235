"""The rules of a domain event's data: the union of what its calls sent, and conflicts."""

from __future__ import annotations

import pytest

from decouple_services.core.errors import SelectionError
from decouple_services.migrate.events import (
    Contribution,
    EventConflict,
    fields_comment,
    fields_of_marker,
    parse_event_name,
    union,
)


def test_literal_payloads_merge_by_key_and_path_parameters_travel_as_fields() -> None:
    data = union(
        [
            Contribution("cs-1", '{"to": email, "template": "welcome", "user_id": user_id}'),
            Contribution("cs-2", '{"name": "user_registered", "user_id": user_id}'),
            Contribution("cs-3", None, (("user_id", "user_id"),)),
        ]
    )
    assert data.expression == (
        '{"to": email, "template": "welcome", "user_id": user_id, "name": "user_registered"}'
    )
    # each handler gets back what its call sent; a call without a body gets none
    assert data.fields == {
        "cs-1": ("to", "template", "user_id"),
        "cs-2": ("name", "user_id"),
        "cs-3": (),
    }


def test_the_same_field_written_differently_is_one_field() -> None:
    data = union(
        [
            Contribution("cs-1", '{"user_id": user.id}'),
            Contribution("cs-2", '{"user_id" : user . id}'),
        ]
    )
    assert data.expression == '{"user_id": user.id}'


def test_one_field_with_two_values_is_a_conflict_naming_both_sites() -> None:
    with pytest.raises(EventConflict, match=r"`user_id` is `user.id` in cs-1 and `uid` in cs-2"):
        union(
            [Contribution("cs-1", '{"user_id": user.id}'), Contribution("cs-2", '{"user_id": uid}')]
        )


def test_a_path_parameter_that_differs_from_a_field_is_a_conflict() -> None:
    with pytest.raises(EventConflict, match="user_id"):
        union(
            [
                Contribution("cs-1", '{"user_id": user.id}'),
                Contribution("cs-2", None, (("user_id", "other.id"),)),
            ]
        )


def test_identical_non_literal_payloads_are_one_and_take_the_path_parameters() -> None:
    data = union(
        [
            Contribution("cs-1", "payload"),
            Contribution("cs-2", "payload", (("user_id", "user.id"),)),
        ]
    )
    assert data.expression == '{**payload, "user_id": user.id}'
    assert data.fields == {"cs-1": None, "cs-2": None}


def test_different_non_literal_payloads_are_refused_with_what_to_do() -> None:
    with pytest.raises(EventConflict, match="build one dict both calls send"):
        union([Contribution("cs-1", "payload"), Contribution("cs-2", "other")])


def test_a_non_literal_payload_beside_a_literal_dict_is_refused() -> None:
    with pytest.raises(EventConflict, match="cannot be checked for conflicts"):
        union([Contribution("cs-1", "payload"), Contribution("cs-2", '{"a": 1}')])


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


@pytest.mark.parametrize("fields", [None, (), ("to", "user_id")])
def test_what_a_subscriber_takes_is_read_back_from_its_marker(
    fields: tuple[str, ...] | None,
) -> None:
    line = "# decouple: migrated cs-1 to users.x (emails POST /send)" + fields_comment(fields)
    assert fields_of_marker(line) == (True, fields)
    assert fields_of_marker("# decouple: migrated cs-1 to emails.send (emails POST /send)") == (
        False,
        None,
    )
