"""The generated producer module over the runtime, in-process, with confluent-kafka's
producer replaced by a recorder: the names call sites import, the envelope, the key and
headers, and what a caller sees when the broker refuses, fails or never answers."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from decouple_services.migrate import gen_examples
from decouple_services.migrate.generate import render_producer, render_runtime

_count = itertools.count()


class KafkaError:
    """confluent_kafka.KafkaError as a delivery report carries it: a code name and text."""

    def __init__(self, code: str, text: str) -> None:
        self.code, self.text = code, text

    def name(self) -> str:
        return self.code

    def __str__(self) -> str:
        return self.text


TIMED_OUT = KafkaError("_MSG_TIMED_OUT", "Local: Message timed out")


class FakeProducer:
    """confluent_kafka.Producer as the runtime uses it. ``answer`` decides each delivery:
    ``None`` acknowledges, an error fails it, ``"never"`` leaves it unanswered."""

    made: ClassVar[list[FakeProducer]] = []
    #: Every record any of them was given, in order.
    records: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[Any] = None

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.sent: list[dict[str, Any]] = []
        FakeProducer.made.append(self)

    def produce(self, topic: str, **record: Any) -> None:
        if self.answer == "full":
            raise BufferError("queue full")
        self.sent.append({"topic": topic, **record, "client": self})
        self.records.append(self.sent[-1])
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
    monkeypatch.setattr(FakeProducer, "records", [])
    monkeypatch.setattr(FakeProducer, "answer", None)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    package = f"shop_{next(_count)}"
    spec = gen_examples.PRODUCERS["orders"]
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    text = render_producer(spec)  # its runtime imported relatively, from the package
    (tmp_path / package / "decouple_producer.py").write_text(text)
    (tmp_path / package / "decouple_runtime.py").write_text(render_runtime())
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(f"{package}.decouple_producer", fromlist=["*"])
    yield module
    for name in [n for n in sys.modules if n.startswith(package)]:
        del sys.modules[name]


def _sent(producer: ModuleType) -> dict[str, Any]:
    return FakeProducer.records[-1]


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
    # the sends that do not wait, and one for each delivery timeout the bounds of the
    # module's waiting sends give (both 5 s at least)
    assert producer.WAIT_BOUNDS == (2.0, 5.0)
    timeouts = [client.config["message.timeout.ms"] for client in FakeProducer.made]
    assert timeouts == [300_000, 5000]
    for client in FakeProducer.made:
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
    FakeProducer.answer = TIMED_OUT
    event_id = producer.send_event("t", {})
    assert before + 1 == runtime.DELIVERY_FAILURES
    assert f"event {event_id} for t was not delivered: Local: Message timed out" in caplog.text


def test_idempotence_is_switched_off_from_the_environment(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    producer.producer._pid = -1  # as in a child forked after the producer was made
    producer.send_event("t", {})
    assert len(FakeProducer.made) == 2 + 1  # the two made at import, then this one
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
    for record in FakeProducer.records:
        record["on_delivery"](TIMED_OUT, None)
    assert caplog.text.count("was not delivered: Local: Message timed out") == 2


# -- the caller's answer is the event's fate -------------------------------------------------


def test_a_waiting_send_goes_through_a_client_that_gives_its_event_up_within_the_bound(
    producer: ModuleType,
) -> None:
    """librdkafka keeps trying to deliver an event for its delivery timeout: had a send
    that waited 8 s used the 5 min one, the caller would hear "failed" while the event
    could still be delivered minutes later."""
    producer.send_event_and_wait("t", {}, timeout=8)
    producer.send_event_and_wait("t", {}, timeout=8)
    asyncio.run(producer.send_event_and_wait_async("t", {}, timeout=10))
    producer.send_event_and_wait("t", {})  # DECOUPLE_SEND_TIMEOUT_S, 5
    producer.send_event("t", {})
    producer.send_event_and_wait("t", {}, timeout=3)  # a bound the module did not name
    timeouts = [
        (c.config["message.timeout.ms"], c.config.get("request.timeout.ms"))
        for c in FakeProducer.made
    ]
    # librdkafka notices a timeout up to a second late: the event is given up a second
    # before the bound, 5 s after the send at the soonest (a leader election takes
    # seconds); the request carrying it keeps the broker's usual ack timeout, so a slow
    # acknowledgement is not turned into a broker-side timeout
    assert timeouts == [(300_000, 30_000), (5000, 30_000), (7000, 30_000), (9000, 30_000)]
    clients = [r["client"] for r in FakeProducer.records]
    assert clients == [FakeProducer.made[i] for i in (2, 2, 3, 1, 0, 1)]


def test_bounds_map_onto_a_few_delivery_timeouts_inside_them(producer: ModuleType) -> None:
    runtime = sys.modules[producer.__name__.replace("decouple_producer", "decouple_runtime")]
    for bound, expected in (
        (0.05, 5000),
        (1, 5000),
        (2.55, 5000),
        (6, 5000),
        (6.15, 5100),
        (7.55, 6500),
        (30, 29_000),
    ):
        assert runtime.delivery_timeout_ms(bound) == expected, bound
    for step in range(1, 15):
        producer.send_event_and_wait("t", {}, timeout=2 + step)
    # at most eight clients for waiting sends; past them, the longest timeout inside the bound
    assert len(FakeProducer.made) == 1 + 8
    assert FakeProducer.records[-1]["client"].config["message.timeout.ms"] == 12_000


def test_a_refusal_is_final_and_a_timeout_is_reported_as_unknown(producer: ModuleType) -> None:
    FakeProducer.answer = KafkaError("MSG_SIZE_TOO_LARGE", "Broker: Message size too large")
    with pytest.raises(producer.EventNotAccepted, match="too large") as refused:
        producer.send_event_and_wait("t", {}, timeout=1)
    assert not isinstance(refused.value, producer.EventOutcomeUnknown)
    FakeProducer.answer = TIMED_OUT
    with pytest.raises(producer.EventOutcomeUnknown, match="may or may not be on the topic"):
        producer.send_event_and_wait("t", {}, timeout=1)
    with pytest.raises(producer.EventOutcomeUnknown):
        asyncio.run(producer.send_event_and_wait_async("t", {}, timeout=1))
    FakeProducer.answer = "never"
    with pytest.raises(producer.EventOutcomeUnknown, match="may still appear on the topic later"):
        producer.send_event_and_wait("t", {}, timeout=0.1)
    # except clauses written for EventNotAccepted catch it
    assert issubclass(producer.EventOutcomeUnknown, producer.EventNotAccepted)


def test_an_event_delivered_after_its_caller_stopped_waiting_is_logged(
    producer: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    FakeProducer.answer = "never"
    with pytest.raises(producer.EventOutcomeUnknown):
        producer.send_event_and_wait("t", {}, timeout=0.05)
    (record,) = FakeProducer.records
    record["on_delivery"](None, None)
    event_id = json.loads(record["value"])["id"]
    assert f"event {event_id} for t was delivered after its caller stopped waiting" in caplog.text


# -- idempotency keys ---------------------------------------------------------------------


def test_an_idempotency_key_makes_a_retried_request_send_the_same_event_id(
    producer: ModuleType,
) -> None:
    """A retry loop, a tenacity decorator or the client retrying after a timeout calls the
    send again: with the key the old call sent, the consumer sees one event id."""
    first = producer.send_event("t", {"n": 1}, headers={"Idempotency-Key": "order-42"})
    again = producer.send_event_and_wait(
        "t", {"n": 1}, headers={"idempotency-key": "order-42"}, timeout=1
    )
    assert first == again
    assert json.loads(_sent(producer)["value"])["id"] == first
    assert ("ce_id", first.encode()) in _sent(producer)["headers"]
    # an X-Request-ID the call sent serves as well, and an explicit key comes before both
    by_request = producer.send_event("t", {"n": 1}, headers={"X-Request-ID": "order-42"})
    explicit = producer.send_event(
        "t", {"n": 1}, headers={"X-Request-ID": "r-9"}, idempotency_key="order-42"
    )
    assert by_request == explicit == first
    # another payload under the same key (one request id on every call a request makes),
    # another topic, or no key at all: other events, never skipped as copies
    assert producer.send_event("t", {"n": 2}, idempotency_key="order-42") != first
    assert producer.send_event("u", {"n": 1}, idempotency_key="order-42") != first
    assert producer.send_event("t", {"n": 1}) != producer.send_event("t", {"n": 1})
    assert producer.send_event("t", {"n": 1}, headers={"X-Request-ID": ""}) != first
