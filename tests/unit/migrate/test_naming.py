from __future__ import annotations

import pytest

from decouple_services.migrate.naming import (
    MAX_TOPIC_LENGTH,
    TopicNameError,
    consumer_group,
    endpoint_slug,
    module_slug,
    topic_name,
    topic_problem,
)


@pytest.mark.parametrize(
    ("path", "service", "slug"),
    [
        ("/notify", "notifications", "notify"),
        ("/api/orders/{order_id}/cancel", "orders", "cancel"),
        ("/api/users/{user_id}/preferences/", "users", "preferences"),
        ("/stock/release", "inventory", "stock-release"),
        ("/api/v2/orders/{order_id}/payment-events", "orders", "payment-events"),
        ("/orders", "orders", "orders"),
        ("/sendBatch", "emails", "send-batch"),
        ("/", "emails", ""),
    ],
)
def test_an_endpoint_slug_names_what_the_path_does(path: str, service: str, slug: str) -> None:
    assert endpoint_slug(path, service=service) == slug


def test_a_grpc_method_is_its_own_slug() -> None:
    assert endpoint_slug("/shop.payments.v1.PaymentService/Refund", protocol="grpc") == "refund"


def test_the_default_template_is_callee_dot_endpoint() -> None:
    name = topic_name(
        "{callee}.{endpoint}", callee="emails", endpoint="send", caller="orders", method="POST"
    )
    assert name == "emails.send"


def test_every_template_field_is_available() -> None:
    name = topic_name(
        "{caller}-{method}.{callee}.{endpoint}",
        callee="emails",
        endpoint="send",
        caller="orders",
        method="POST",
    )
    assert name == "orders-post.emails.send"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("emails/send", "illegal character(s) '/'"),
        ("../etc", "illegal character(s) '/'"),
        ("emails send", "illegal character(s) ' '"),
        ("..", "'.' and '..' are not topic names"),
        ("", "empty"),
        ("x" * (MAX_TOPIC_LENGTH + 1), f"{MAX_TOPIC_LENGTH + 1} characters"),
    ],
)
def test_kafka_rules_are_checked(name: str, problem: str) -> None:
    found = topic_problem(name)
    assert found is not None and problem in found


def test_a_legal_name_at_the_limit_leaves_room_for_its_dead_letter_and_retry_topics() -> None:
    assert topic_problem("x" * MAX_TOPIC_LENGTH) is None
    assert len("x" * MAX_TOPIC_LENGTH + ".retry") == 249
    assert len("x" * MAX_TOPIC_LENGTH + ".dlq") < 249


def test_a_bad_template_is_an_error_naming_the_field() -> None:
    with pytest.raises(TopicNameError, match=r"unknown field \{team\}"):
        topic_name("{team}.x", callee="a", endpoint="b", caller="c", method="POST")


def test_module_slugs_are_python_identifiers() -> None:
    assert module_slug("emails.send") == "emails_send"
    assert module_slug("inventory.stock-release") == "inventory_stock_release"
    assert module_slug("9lives.x") == "topic_9lives_x"


@pytest.mark.parametrize(
    ("callee", "topic", "group"),
    [
        ("emails", "emails.send", "emails.send"),
        ("emails", "shop.mail.send", "emails.shop.mail.send"),
        ("emails", "emailsx.send", "emails.emailsx.send"),
    ],
)
def test_a_consumer_group_names_its_service_once(callee: str, topic: str, group: str) -> None:
    assert consumer_group(callee, topic) == group
