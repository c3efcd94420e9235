"""Migrated callers send through the generated producer; the generated consumer, running as
``python -m``, hands each event to the callee's real application, which gives its handler
exactly what the HTTP call used to send, through its hooks, middleware and validation.

The producer is idempotent (``KAFKA_ENABLE_IDEMPOTENCE`` unset, so on), which this broker
supports for confluent-kafka.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .apps import (
    BILLING_INVOICES,
    BILLING_REFUND,
    MAILER_SEND,
    create_topics,
    run_caller,
    start_consumer,
    topic_for,
)
from .harness import Broker, read_records, read_topic, wait_for

pytestmark = pytest.mark.e2e


def _bodies(records: Path, count: int) -> list[dict[str, object]]:
    entries = wait_for(
        lambda: len(read_records(records)) >= count and read_records(records),
        30,
        f"{count} handled events",
    )
    return sorted(entries, key=canonical)


def canonical(entry: object) -> str:
    return json.dumps(entry, sort_keys=True)


def test_sends_reach_the_flask_view_through_its_auth_hook_and_failures_are_dead_lettered(
    broker: Broker, tmp_path: Path
) -> None:
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "kafka-python")
    callee = start_consumer(broker, tmp_path, "mailer", topic, "kafka-python", app_object="app")
    try:
        payloads = [
            {"to": f"user{n}@example.com", "template": "welcome", "user_id": n} for n in range(5)
        ]
        poison = {"to": "x@example.com", "template": "poison", "user_id": 99}
        rejected = {"template": "welcome"}  # no recipient: the view answers 400
        calls = [[topic.name, payload, f"req-{n}"] for n, payload in enumerate(payloads)]
        calls[2:2] = [[topic.name, poison, "req-poison"], [topic.name, rejected, "req-400"]]
        run_caller(broker, tmp_path, "kafka-python", "notify", calls)

        handled = _bodies(callee.records, len(payloads))
        assert handled == sorted(
            (
                {"endpoint": "send", "body": payload, "request_id": f"req-{n}"}
                for n, payload in enumerate(payloads)
            ),
            key=canonical,
        )
        dead = read_topic(broker, topic.dead_letter, 2)
        by_error = {dict(r.headers)["decouple.error.type"]: dict(r.headers) for r in dead}
        # The view's exception is the 500 Flask answers: retried, then dead-lettered; the
        # 400 is final at once.
        assert set(by_error) == {b"RuntimeError", b"PermanentError"}
        assert by_error[b"RuntimeError"]["decouple.attempts"] == b"3"  # DECOUPLE_RETRY_ATTEMPTS
        assert by_error[b"RuntimeError"]["decouple.error.message"].endswith(b"answered 500")
        assert by_error[b"PermanentError"]["decouple.attempts"] == b"1"
        assert by_error[b"RuntimeError"]["X-Request-Id"] == b"req-poison"
        assert callee.consumer.exited() is None, "the consumer goes on after dead-lettering"
        assert len(read_records(callee.records)) == len(payloads)
    finally:
        callee.consumer.stop()


def test_fastapi_handlers_get_lifespan_state_middleware_and_validation(
    broker: Broker, tmp_path: Path
) -> None:
    invoices = topic_for(BILLING_INVOICES)
    refunds = topic_for(BILLING_REFUND, "order_id")
    create_topics(broker, tmp_path, [invoices, refunds], "confluent-kafka")
    invoice_consumer = start_consumer(broker, tmp_path, "billing", invoices, "confluent-kafka")
    refund_consumer = start_consumer(broker, tmp_path, "billing", refunds, "confluent-kafka")
    try:
        sent = [{"order_id": f"o-{n}", "amount_cents": 100 * n} for n in range(1, 4)]
        run_caller(
            broker,
            tmp_path,
            "confluent-kafka",
            "notify",
            [[invoices.name, invoice, f"req-{n}"] for n, invoice in enumerate(sent)],
        )
        run_caller(
            broker,
            tmp_path,
            "confluent-kafka",
            "cancel",
            [
                [refunds.name, "42", {"reason": "damaged"}],
                [refunds.name, "not-a-number", {}],  # order_id: int cannot take it
                [refunds.name, "43", {}],
            ],
        )
        # The pydantic model gets its default; the background task runs after the handler.
        assert [
            entry for entry in _bodies(invoice_consumer.records, 6) if "invoice" in entry
        ] == sorted(
            (
                {"endpoint": "invoices", "invoice": {**invoice, "currency": "EUR"}}
                for invoice in sent
            ),
            key=canonical,
        )
        assert (
            sum(
                entry["endpoint"] == "invoice-sent"
                for entry in read_records(invoice_consumer.records)
            )
            == 3
        )
        # Path parameters arrive converted to the handler's int; the query default applies;
        # the handler read the state the app's lifespan made and its middleware set.
        assert _bodies(refund_consumer.records, 2) == [
            {"endpoint": "refund", "order_id": 42, "body": {"reason": "damaged"}, "notify": True},
            {"endpoint": "refund", "order_id": 43, "body": {}, "notify": True},
        ]
        (dead,) = read_topic(broker, refunds.dead_letter, 1)
        headers = dict(dead.headers)
        # FastAPI's validation answered 422: dead-lettered at once.
        assert (headers["decouple.error.type"], headers["decouple.attempts"]) == (
            b"PermanentError",
            b"1",
        )
        assert headers["decouple.error.message"].endswith(b"answered 422")
        # A path parameter is a string attribute of the envelope, never a map.
        assert json.loads(dead.value)["orderid"] == "not-a-number"
    finally:
        invoice_consumer.consumer.stop()
        refund_consumer.consumer.stop()


def test_sends_from_async_code_reach_the_flask_view(broker: Broker, tmp_path: Path) -> None:
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "kafka-python")
    callee = start_consumer(broker, tmp_path, "mailer", topic, "confluent-kafka", app_object="app")
    try:
        payloads = [
            {"user_id": n, "template": "receipt", "context": {"total": n * 10}} for n in range(4)
        ]
        run_caller(
            broker,
            tmp_path,
            None,
            "async",
            [[topic.name, payload, f"async-{n}"] for n, payload in enumerate(payloads)],
        )
        assert _bodies(callee.records, 4) == sorted(
            (
                {"endpoint": "send", "body": payload, "request_id": f"async-{n}"}
                for n, payload in enumerate(payloads)
            ),
            key=canonical,
        )
    finally:
        callee.consumer.stop()


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_the_topic_script_creates_topics_and_dead_letter_topics_once(
    broker: Broker, tmp_path: Path, client: str
) -> None:
    topic = topic_for(MAILER_SEND)
    first = create_topics(broker, tmp_path, [topic], client)
    again = create_topics(broker, tmp_path, [topic], client)
    assert f"created  {topic.name} (2 partitions, 1 replicas, broker's default retention)" in first
    assert f"created  {topic.dead_letter} (1 partitions, 1 replicas, kept until deleted)" in first
    assert f"exists   {topic.name} (2 partitions)" in again
    assert f"exists   {topic.dead_letter} (1 partitions)" in again


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_the_topic_script_reports_an_existing_topic_that_would_lose_events(
    broker: Broker, tmp_path: Path, client: str
) -> None:
    """A topic someone made by hand, compacted (one record kept per key), and a dead-letter
    topic that expires its records: the script leaves them, and says what to change."""
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = topic_for(MAILER_SEND)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    made = admin.create_topics(
        [
            NewTopic(topic.name, 2, 1, config={"cleanup.policy": "compact"}),
            NewTopic(topic.dead_letter, 1, 1, config={"retention.ms": "86400000"}),
        ]
    )
    for future in made.values():
        future.result(timeout=30)
    out = create_topics(broker, tmp_path, [topic], client)
    assert f"exists   {topic.name} (2 partitions)" in out
    assert f"WARNING  {topic.name}: cleanup.policy=compact keeps one record per key" in out
    assert f"WARNING  {topic.dead_letter}: retention.ms=86400000 expires dead letters" in out
    assert "set retention.ms=-1" in out
