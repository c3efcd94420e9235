"""The generated producer module over the runtime, in-process, with confluent-kafka's
producer replaced by a recorder: the names call sites import, the envelope, the key and
headers, and what a caller sees when the broker refuses, fails or never answers."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from decouple_services.migrate import gen_examples
from decouple_services.migrate.generate import render_producer, render_runtime

_count = itertools.count()


class FakeProducer:
    """confluent_kafka.Producer as the runtime uses it. ``answer`` decides each delivery:
    ``None`` acknowledges, an error string fails it, ``"never"`` leaves it unanswered."""

    made: ClassVar[list[FakeProducer]] = []
    answer: ClassVar[Any] = None

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.sent: list[dict[str, Any]] = []
        FakeProducer.made.append(self)

    def produce(self, topic: str, **record: Any) -> None:
        if self.answer == "full":
            raise BufferError("queue full")
        self.sent.append({"topic": topic, **record})
        if self.answer != "never":
            record["on_delivery"](self.answer, None)

    def poll(self, timeout: float) -> int:
        time.sleep(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        return 0


@pytest.fixture
def producer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    import confluent_kafka

    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    monkeypatch.setattr(FakeProducer, "made", [])
    monkeypatch.setattr(FakeProducer, "answer", None)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    package = f"shop_{next(_count)}"
    spec = gen_examples.PRODUCERS["orders"]
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    text = render_producer(spec).replace("from orders.", f"from {package}.")
    (tmp_path / package / "decouple_producer.py").write_text(text)
    (tmp_path / package / "decouple_runtime.py").write_text(render_runtime())
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(f"{package}.decouple_producer", fromlist=["*"])
    yield module
    for name in [n for n in sys.modules if n.startswith(package)]:
        del sys.modules[name]


def _sent(producer: ModuleType) -> dict[str, Any]:
    return producer.producer._client.sent[-1]  # type: ignore[no-any-return]


def test_the_module_offers_the_names_rewritten_call_sites_import(producer: ModuleType) -> None:
    for name in (
        "send_event",
        "send_event_and_wait",
        "send_event_async",
        "send_event_and_wait_async",
        "EventNotAccepted",
        "EVENT_TYPES",
    ):
        assert hasattr(producer, name), name
    assert issubclass(producer.EventNotAccepted, Exception)


def test_the_producer_is_made_at_import_with_acks_all_and_idempotence(
    producer: ModuleType,
) -> None:
    (client,) = FakeProducer.made
    assert client.config["acks"] == "all"
    assert client.config["enable.idempotence"] is True
    assert client.config["bootstrap.servers"] == "kafka:9092"


def test_the_envelope_carries_the_topics_event_type_and_path_parameters_as_attributes(
    producer: ModuleType,
) -> None:
    import json

    topic, event_type = next(iter(producer.EVENT_TYPES.items()))
    event_id = producer.send_event(topic, {"a": 1}, path_params={"order_id": 42})
    record = _sent(producer)
    event = json.loads(record["value"])
    assert event["id"] == event_id
    assert event["type"] == event_type
    assert event["source"] == "orders"
    assert event["orderid"] == "42" and "pathparams" not in event
    assert record["key"] is None


def test_the_key_and_the_calls_headers_travel_with_the_record(producer: ModuleType) -> None:
    producer.send_event("t", {}, key=17, headers={"X-Request-Id": "req-1"})
    record = _sent(producer)
    assert record["key"] == b"17"
    names = [name for name, _ in record["headers"]]
    assert names == ["content-type", "ce_id", "X-Request-Id"]
    assert record["headers"][2] == ("X-Request-Id", b"req-1")


def test_a_send_that_waits_returns_on_the_acknowledgement_and_raises_on_a_failure(
    producer: ModuleType,
) -> None:
    assert producer.send_event_and_wait("t", {"n": 1}, timeout=1)
    FakeProducer.answer = "Broker: not enough in-sync replicas"
    with pytest.raises(producer.EventNotAccepted, match="in-sync"):
        producer.send_event_and_wait("t", {"n": 2}, timeout=1)
    with pytest.raises(producer.EventNotAccepted, match="in-sync"):
        asyncio.run(producer.send_event_and_wait_async("t", {"n": 3}, timeout=1))


def test_a_send_that_waits_gives_up_at_its_bound(producer: ModuleType) -> None:
    FakeProducer.answer = "never"
    started = time.monotonic()
    with pytest.raises(producer.EventNotAccepted, match="no acknowledgement"):
        producer.send_event_and_wait("t", {}, timeout=0.3)
    with pytest.raises(producer.EventNotAccepted, match="no acknowledgement"):
        asyncio.run(producer.send_event_and_wait_async("t", {}, timeout=0.3))
    assert time.monotonic() - started < 1.5


def test_fire_and_forget_never_waits_and_a_full_queue_raises_at_once(
    producer: ModuleType,
) -> None:
    FakeProducer.answer = "never"
    started = time.monotonic()
    producer.send_event("t", {})
    asyncio.run(producer.send_event_async("t", {}))
    assert time.monotonic() - started < 0.2
    FakeProducer.answer = "full"
    with pytest.raises(producer.EventNotAccepted, match="queue is full"):
        producer.send_event("t", {})


def test_a_failed_delivery_after_the_call_is_logged_and_counted(
    producer: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = sys.modules[producer.__name__.replace("decouple_producer", "decouple_runtime")]
    before = runtime.DELIVERY_FAILURES
    FakeProducer.answer = "Local: Message timed out"
    event_id = producer.send_event("t", {})
    assert before + 1 == runtime.DELIVERY_FAILURES
    assert f"event {event_id} for t was not delivered: Local: Message timed out" in caplog.text


def test_idempotence_is_switched_off_from_the_environment(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    producer.producer._pid = -1  # as in a child forked after the producer was made
    producer.send_event("t", {})
    assert len(FakeProducer.made) == 2
    assert FakeProducer.made[-1].config["enable.idempotence"] is False


def test_a_report_arriving_after_an_async_caller_gave_up_and_its_loop_closed_is_logged(
    producer: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """The delivery report of an event whose caller timed out comes after ``asyncio.run``
    closed the loop: it is logged as the failure it is, not raised in the poll thread."""
    FakeProducer.answer = "never"
    with pytest.raises(producer.EventNotAccepted):
        asyncio.run(producer.send_event_and_wait_async("t", {}, timeout=0.05))
    with pytest.raises(producer.EventNotAccepted):
        producer.send_event_and_wait("t", {}, timeout=0.05)
    for record in producer.producer._client.sent:
        record["on_delivery"]("Local: Message timed out", None)
    assert caplog.text.count("was not delivered: Local: Message timed out") == 2
