"""Migrated callers send through each producer client; the generated consumer, running as
``python -m``, hands the callee's real handler exactly what the HTTP call used to send.

Idempotent producers: kafka-python and confluent-kafka run with the default
(``KAFKA_ENABLE_IDEMPOTENCE`` unset, so on), which this broker supports for them. aiokafka
runs with ``KAFKA_ENABLE_IDEMPOTENCE=false``: its idempotent producer does not start against
this broker (its InitProducerId request fails), so that test says so in its environment.
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


def test_kafka_python_sends_reach_the_flask_view_and_bad_events_go_to_the_dead_letter_topic(
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
        assert set(by_error) == {b"ValueError", b"PermanentError"}
        assert by_error[b"ValueError"]["decouple.attempts"] == b"3"  # 1 + DECOUPLE_MAX_RETRIES
        assert by_error[b"PermanentError"]["decouple.attempts"] == b"1"
        assert by_error[b"ValueError"]["X-Request-Id"] == b"req-poison"
        assert callee.consumer.exited() is None, "the consumer goes on after dead-lettering"
        assert len(read_records(callee.records)) == len(payloads)
    finally:
        callee.consumer.stop()


def test_confluent_kafka_sends_reach_fastapi_handlers_and_unfit_events_are_dead_lettered(
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
        # Path parameters arrive converted to the handler's int; the query default applies.
        assert _bodies(refund_consumer.records, 2) == [
            {"endpoint": "refund", "order_id": 42, "body": {"reason": "damaged"}, "notify": True},
            {"endpoint": "refund", "order_id": 43, "body": {}, "notify": True},
        ]
        (dead,) = read_topic(broker, refunds.dead_letter, 1)
        headers = dict(dead.headers)
        assert (headers["decouple.error.type"], headers["decouple.attempts"]) == (
            b"PermanentError",
            b"1",
        )
        assert json.loads(dead.value)["pathparams"] == {"order_id": "not-a-number"}
    finally:
        invoice_consumer.consumer.stop()
        refund_consumer.consumer.stop()


def test_aiokafka_sends_from_async_code_reach_the_flask_view(
    broker: Broker, tmp_path: Path
) -> None:
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
            # aiokafka's idempotent producer cannot start against this broker.
            KAFKA_ENABLE_IDEMPOTENCE="false",
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
    assert f"created  {topic.name} (2 partitions, 1 replicas)" in first
    assert f"created  {topic.dead_letter} (1 partitions, 1 replicas)" in first
    assert f"exists   {topic.name} (2 partitions)" in again
    assert f"exists   {topic.dead_letter} (1 partitions)" in again
