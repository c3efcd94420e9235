from __future__ import annotations

import re

import pytest

from decouple_services.migrate.naming import (
    MAX_TOPIC_LENGTH,
    TopicNameError,
    consumer_group,
    dns_label,
    endpoint_slug,
    module_slug,
    topic_name,
    topic_problem,
    without_repeats,
    workload_slug,
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
    assert len("x" * MAX_TOPIC_LENGTH + ".retry.3") == 249
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
        # the topic names the service once (identity-service.logout): so does the group
        ("identity-service-service", "identity-service.logout", "identity-service.logout"),
    ],
)
def test_a_consumer_group_names_its_service_once(callee: str, topic: str, group: str) -> None:
    assert consumer_group(callee, topic) == group


@pytest.mark.parametrize(
    ("name", "once"),
    [
        ("identity-service-service", "identity-service"),
        ("orders-orders", "orders"),
        ("orders-api-orders-api", "orders-api"),
        ("shop_orders_orders", "shop_orders"),
        # not repeats: a word met again later, a word that only starts like the one before
        ("a-b-a", "a-b-a"),
        ("service-services", "service-services"),
        ("emails", "emails"),
    ],
)
def test_a_word_said_twice_in_a_row_is_said_once(name: str, once: str) -> None:
    assert without_repeats(name) == once


def test_a_topic_names_a_service_whose_name_repeats_a_word_once() -> None:
    """A Kubernetes Service named after its Deployment's app (``identity-service``) plus
    ``-service`` names the service ``identity-service-service``; its topics do not repeat it."""
    fields = {"endpoint": "logout", "caller": "gateway-service-service", "method": "POST"}
    assert topic_name("{callee}.{endpoint}", callee="identity-service-service", **fields) == (
        "identity-service.logout"
    )
    assert topic_name("{caller}.{callee}.{endpoint}", callee="identity", **fields) == (
        "gateway-service.identity.logout"
    )
    assert topic_name("{callee}.{endpoint}", callee="emails", **fields) == "emails.logout"


@pytest.mark.parametrize(
    ("callee", "topic", "slug"),
    [
        ("emails", "emails.send", "send"),
        (
            "notification-service-service",
            "notification-service.update-notification",
            "update-notification",
        ),
        ("notification-service-service", "notification-service-service.logout", "logout"),
        # a domain event another service publishes keeps its publisher
        ("emails", "users.user-registered", "users-user-registered"),
        ("emails", "emails", "emails"),
    ],
)
def test_a_workload_slug_does_not_repeat_the_service(callee: str, topic: str, slug: str) -> None:
    assert workload_slug(callee, topic) == slug


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_long_names_with_one_beginning_stay_apart_as_dns_labels() -> None:
    """Cut at 63 characters, these four were one name, and kubectl kept the last."""
    base = "notification-service-deployment-delete-notifications-by-"
    names = [base + tail for tail in ("event-id", "author-id", "events-and-author-ids", "x")]
    labels = [dns_label(n) for n in names]
    assert len(set(labels)) == 4
    for label in labels:
        assert _DNS_LABEL.match(label) and len(label) <= 63, label
    assert labels[0] == dns_label(names[0])  # the same on every run
    assert labels[0].startswith("notification-service-deployment-delete-notifications-")
    assert dns_label("orders-cancel") == "orders-cancel"  # short enough: unchanged
    assert dns_label("Orders_Cancel--x-") == "orders-cancel-x"
    cut = dns_label("a" * 53 + "-" + "b" * 20)
    assert len(cut) <= 63 and "--" not in cut and _DNS_LABEL.match(cut)
