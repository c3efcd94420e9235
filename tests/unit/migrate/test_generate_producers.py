"""The generated producer modules in-process, without a broker: the envelope, the key, the
headers, and what a call site sees when Kafka is unreachable (a logged error, no raise)."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import socket
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest

from decouple_services.migrate import gen_examples
from decouple_services.migrate.generate import render_producer
from decouple_services.migrate.spec import ProducerSpec

_count = itertools.count()


def _load(tmp_path: Path, spec: ProducerSpec) -> ModuleType:
    name = f"generated_producer_{next(_count)}"
    target = tmp_path / f"{name}.py"
    target.write_text(render_producer(spec), encoding="utf-8")
    loader = importlib.util.spec_from_file_location(name, target)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    loader.loader.exec_module(module)
    return module


@pytest.fixture
def producer(tmp_path: Path) -> ModuleType:
    return _load(tmp_path, gen_examples.PRODUCERS["kafka-python"])


def test_the_envelope_is_a_cloudevent_around_the_data(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = producer.make_event("emails.send", {"user_id": 3})
    assert set(event) == {"specversion", "id", "type", "source", "time", "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert uuid.UUID(event["id"]).version == 4
    assert event["type"] == "com.shop.emails.send"
    assert event["source"] == "frontend"
    assert datetime.fromisoformat(event["time"]).tzinfo is not None
    assert (event["datacontenttype"], event["data"]) == ("application/json", {"user_id": 3})
    monkeypatch.setenv("DECOUPLE_EVENT_SOURCE", "/shop/frontend")
    other = producer.make_event("unlisted.topic", None, {"order_id": 42})
    assert (other["type"], other["source"]) == ("unlisted.topic", "/shop/frontend")
    assert other["pathparams"] == {"order_id": "42"}
    assert other["id"] != event["id"]


@pytest.mark.parametrize(
    ("data", "key", "path_params", "expected"),
    [
        ({"id": 7, "user_id": 3}, None, None, b"7"),
        ({"order_id": "o-1", "user_id": 3}, None, None, b"o-1"),
        ({"order_id": None, "user_id": 3}, None, None, b"3"),
        ({"user_id": 3}, "explicit", None, b"explicit"),
        ({"user_id": 3}, b"raw", None, b"raw"),
        ({"note": "x"}, None, {"order_id": "42"}, b"42"),
        ({"note": "x"}, None, None, None),
        (["not", "a", "mapping"], None, None, None),
    ],
)
def test_the_key_is_explicit_or_the_first_id_like_field(
    producer: ModuleType,
    data: object,
    key: object,
    path_params: dict[str, str] | None,
    expected: bytes | None,
) -> None:
    assert producer.event_key(data, key, path_params) == expected


def test_headers_carry_the_content_type_then_the_call_s_own(producer: ModuleType) -> None:
    assert producer._headers({"X-Request-Id": "r-1", "traceparent": b"00-ab"}) == [
        ("content-type", b"application/cloudevents+json"),
        ("X-Request-Id", b"r-1"),
        ("traceparent", b"00-ab"),
    ]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{closed_port()}")
    monkeypatch.setenv("KAFKA_MAX_BLOCK_MS", "300")
    monkeypatch.setenv("KAFKA_FLUSH_TIMEOUT_S", "0.2")


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_an_unreachable_broker_is_logged_not_raised_at_the_call_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, client: str
) -> None:
    _unreachable(monkeypatch)
    module = _load(tmp_path, replace(gen_examples.PRODUCERS[client], sync_client=client))
    try:
        module.send_event("emails.send", {"user_id": 1})
        module.flush()
    finally:
        module.close()
    assert any(record.levelname == "ERROR" for record in caplog.records)


def test_an_unreachable_broker_is_logged_not_raised_in_async_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _unreachable(monkeypatch)
    module = _load(tmp_path, gen_examples.PRODUCERS["aiokafka"])
    asyncio.run(module.send_event_async("inventory.stock-release", {"reservation_id": "r"}))
    assert [r.levelname for r in caplog.records if "not delivered" in r.getMessage()] == ["ERROR"]


def test_data_that_is_not_json_raises_as_it_did_with_the_http_client(
    producer: ModuleType,
) -> None:
    with pytest.raises(TypeError):
        producer.send_event("emails.send", {"when": object()})


class FakeProducer:
    """Stands in for kafka.KafkaProducer: counts how many are made, records sends."""

    made = 0
    DEFAULT_CONFIG: ClassVar[dict[str, object]] = {"bootstrap_timeout_ms": 30000}

    def __init__(self, **config: object) -> None:
        type(self).made += 1
        self.config = config

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def test_threads_share_one_producer_per_process(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    FakeProducer.made = 0
    barrier = threading.Barrier(8)

    def get() -> object:
        barrier.wait()
        return producer.get_producer()

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: get(), range(8)))
    producer.close()
    assert FakeProducer.made == 1
    assert all(item is got[0] for item in got)
    config = got[0].config  # type: ignore[attr-defined]
    assert (config["acks"], config["enable_idempotence"]) == ("all", True)
    assert config["bootstrap_timeout_ms"] == config["max_block_ms"] == 10_000


def test_idempotence_is_switched_off_from_the_environment(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/etc/ca.pem")
    config = producer.get_producer().config
    producer.close()
    assert config["enable_idempotence"] is False
    assert config["security_protocol"] == "SASL_SSL"
    assert (config["sasl_mechanism"], config["sasl_plain_username"]) == ("SCRAM-SHA-512", "svc")
    assert config["ssl_cafile"] == "/etc/ca.pem"


def test_a_forked_child_makes_its_own_producer(
    producer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    parent = producer.get_producer()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, b"new" if producer.get_producer() is not parent else b"same")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 4) == b"new"
    assert producer.get_producer() is parent
    producer.close()
