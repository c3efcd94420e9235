"""The runtime's transactional outbox without a broker: the row joins the caller's
SQLAlchemy transaction, and the relay sends rows in order, marks them after the
acknowledgement, keeps what failed, shares the table with other relays and deletes what
was sent long enough ago.

The runtime is rendered into a temporary folder and imported from there, as a service
imports its own copy; the broker is a fake with the producer's ``deliver`` signature.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from decouple_services.migrate.generate import render_runtime

sqlalchemy = pytest.importorskip("sqlalchemy")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("runtime")
    target = folder / "decouple_runtime_outbox_under_test.py"
    target.write_text(render_runtime(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(target.stem, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[target.stem] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[target.stem]


class Broker:
    """``deliver`` as the runtime's producer has it: one error or ``None`` per record."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delivered: list[tuple[str, dict[str, Any], bytes | None]] = []
        self.down = False
        self.delay = delay
        self._lock = threading.Lock()

    def deliver(self, records: Sequence[tuple[str, bytes | None, bytes | None, Any]]) -> list[Any]:
        time.sleep(self.delay)
        if self.down:
            return ["broker down"] * len(records)
        with self._lock:
            for topic, value, key, _ in records:
                assert value is not None
                self.delivered.append((topic, json.loads(value), key))
        return [None] * len(records)

    def flush(self, timeout: float = 10) -> int:
        return 0

    def ids(self) -> list[str]:
        return [event["id"] for _, event, _ in self.delivered]


@pytest.fixture
def database(runtime: ModuleType, tmp_path: Path) -> Any:
    # DECOUPLE_TEST_OUTBOX_URL runs the tests on another database (its table is dropped).
    url = os.environ.get("DECOUPLE_TEST_OUTBOX_URL") or f"sqlite:///{tmp_path / 'service.sqlite3'}"
    found = runtime.SqlAlchemyDatabase(url)
    with found.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS decouple_outbox")
    found.create_table()
    return found


@pytest.fixture
def producer(runtime: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    return runtime.Producer("orders", {"emails.send": "emails.send.v1"})


def _write(runtime: ModuleType, producer: Any, database: Any, count: int) -> list[str]:
    from sqlalchemy.orm import Session

    ids = []
    with Session(database.engine) as session:
        for n in range(count):
            data = {"user_id": n}
            ids.append(
                runtime.send_via_session_outbox(producer, session, "emails.send", data, key=n)
            )
        session.commit()
    return ids


def _rows(database: Any) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        result = connection.execute(sqlalchemy.text("SELECT * FROM decouple_outbox ORDER BY id"))
        return [dict(row._mapping) for row in result]


def test_the_row_commits_with_the_sessions_transaction_and_a_rollback_keeps_none(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    from sqlalchemy.orm import Session

    with Session(database.engine) as session:
        runtime.send_via_session_outbox(producer, session, "emails.send", {"user_id": 1})
        session.rollback()
    assert _rows(database) == []

    (event_id,) = _write(runtime, producer, database, 1)
    (row,) = _rows(database)
    envelope = json.loads(row["value"])
    assert (row["event_id"], row["topic"], row["msg_key"]) == (event_id, "emails.send", "0")
    assert envelope["id"] == event_id and envelope["type"] == "emails.send.v1"
    assert envelope["source"] == "orders" and envelope["data"] == {"user_id": 0}
    assert json.loads(row["headers"]) == [
        ["content-type", "application/cloudevents+json"],
        ["ce_id", event_id],
    ]
    assert row["sent_at"] is None and row["attempts"] == 0


def test_data_that_is_not_json_raises_in_the_callers_transaction(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    from sqlalchemy.orm import Session

    with Session(database.engine) as session, pytest.raises(TypeError):
        runtime.send_via_session_outbox(producer, session, "emails.send", {"when": object()})


def test_the_relay_sends_in_order_and_marks_each_row_sent(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    ids = _write(runtime, producer, database, 5)
    broker = Broker()
    relay = runtime.OutboxRelay(database, broker, batch=2)

    passes = [relay.run_once() for _ in range(4)]

    assert [(p.sent, p.failed) for p in passes] == [(2, 0), (2, 0), (1, 0), (0, 0)]
    assert broker.ids() == ids
    assert [key for _, _, key in broker.delivered] == [b"0", b"1", b"2", b"3", b"4"]
    rows = _rows(database)
    assert all(r["sent_at"] is not None and r["lease_owner"] is None for r in rows)


def test_a_failed_delivery_keeps_the_row_for_a_later_pass(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    (event_id,) = _write(runtime, producer, database, 1)
    broker = Broker()
    broker.down = True
    relay = runtime.OutboxRelay(database, broker, retry=0.3)

    failed = relay.run_once()
    (row,) = _rows(database)
    assert (failed.sent, failed.failed) == (0, 1)
    assert row["sent_at"] is None and row["attempts"] == 1 and row["last_error"] == "broker down"

    broker.down = False
    assert relay.run_once().sent == 0  # not before its retry delay
    time.sleep(0.35)
    assert relay.run_once().sent == 1
    assert broker.ids() == [event_id]


def test_rows_a_dead_relay_leased_go_to_another_once_the_lease_is_over(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    ids = _write(runtime, producer, database, 3)
    dead = runtime.OutboxRelay(database, Broker(), lease=0.3)
    assert len(dead.claim("dead-relay")) == 3  # and never marks them

    broker = Broker()
    other = runtime.OutboxRelay(database, broker)
    assert other.run_once().sent == 0
    time.sleep(0.35)
    assert other.run_once().sent == 3
    assert broker.ids() == ids


def test_relays_side_by_side_send_every_row_once_each_key_in_order(
    runtime: ModuleType, producer: Any, database: Any, tmp_path: Path
) -> None:
    keys = [str(n % 5) for n in range(120)]
    ids = _write_keys(runtime, producer, database, keys)
    broker = Broker(delay=0.01)
    errors: list[BaseException] = []

    def relay() -> None:
        # Each relay its own process in production: its own engine and connections.
        own = runtime.SqlAlchemyDatabase(sqlalchemy.create_engine(database.engine.url))
        relaying = runtime.OutboxRelay(own, broker, batch=7)
        try:
            while relaying.run_once().sent:
                pass
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(broker.ids()) == sorted(ids)
    assert len(broker.ids()) == len(set(broker.ids()))
    for key in set(keys):
        sent = [event["id"] for _, event, k in broker.delivered if k == key.encode()]
        assert sent == [i for i, k in zip(ids, keys, strict=True) if k == key]


def test_rows_sent_longer_ago_than_keep_are_deleted(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    _write(runtime, producer, database, 2)
    relay = runtime.OutboxRelay(database, Broker(), keep=0.2)
    assert relay.run_once().purged == 0
    assert len(_rows(database)) == 2
    time.sleep(0.25)
    assert relay.run_once().purged == 2
    assert _rows(database) == []


class Recorded:
    """A database that records the statements a claim runs, for dialects not at hand."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.statements: list[str] = []

    def transaction(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def opened() -> Iterator[Any]:
            def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                self.statements.append(sql)
                return [(7,)] if sql.endswith("FOR UPDATE SKIP LOCKED") else []

            yield execute

        return opened()


@pytest.mark.parametrize(
    ("dialect", "skips_locked"),
    [("postgresql", True), ("mysql", True), ("mariadb", True), ("sqlite", False)],
)
def test_relays_claim_with_skip_locked_where_the_database_has_it(
    runtime: ModuleType, dialect: str, skips_locked: bool
) -> None:
    recorded = Recorded(dialect)
    runtime.OutboxRelay(recorded, Broker(), batch=10).claim("me")
    first = recorded.statements[0]
    assert first.endswith("ORDER BY o.id LIMIT 10 FOR UPDATE SKIP LOCKED") is skips_locked
    if not skips_locked:
        # SQLite: one UPDATE, which takes the write lock before it reads.
        assert first.startswith("UPDATE decouple_outbox SET lease_owner")
        assert "(SELECT o.id FROM decouple_outbox o WHERE o.sent_at IS NULL" in first


def kafka_error(name: str) -> Any:
    """A delivery error as confluent-kafka reports it (which raises when compared with a
    string)."""
    from confluent_kafka import KafkaError

    return KafkaError(getattr(KafkaError, name))


class Refusing(Broker):
    """A broker that refuses the records ``refuse`` picks, with ``error``."""

    def __init__(self, error: Any, refuse: Any) -> None:
        super().__init__()
        self.error, self.refuse = error, refuse
        self.tried: list[dict[str, Any]] = []

    def deliver(self, records: Sequence[tuple[str, bytes | None, bytes | None, Any]]) -> list[Any]:
        results: list[Any] = []
        for topic, value, key, _ in records:
            assert value is not None
            event = json.loads(value)
            self.tried.append(event)
            if self.refuse(event):
                results.append(self.error)
            else:
                self.delivered.append((topic, event, key))
                results.append(None)
        return results


def _write_keys(
    runtime: ModuleType, producer: Any, database: Any, keys: Sequence[str]
) -> list[str]:
    from sqlalchemy.orm import Session

    with Session(database.engine) as session:
        ids = [
            runtime.send_via_session_outbox(producer, session, "emails.send", {"n": n}, key=key)
            for n, key in enumerate(keys)
        ]
        session.commit()
    return ids


def test_a_row_that_can_never_be_sent_is_parked_at_once_logged_and_counted(
    runtime: ModuleType, producer: Any, database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ids = _write_keys(runtime, producer, database, ["a", "b"])
    broker = Refusing(kafka_error("MSG_SIZE_TOO_LARGE"), lambda event: event["id"] == ids[0])
    relay = runtime.OutboxRelay(database, broker, retry=0.01)

    done = relay.run_once()
    assert (done.sent, done.failed, done.parked) == (1, 0, 1)
    assert relay.parked == 1
    parked = _rows(database)[0]
    assert parked["parked_at"] is not None and parked["sent_at"] is None
    assert parked["attempts"] == 1 and "MSG_SIZE_TOO_LARGE" in parked["last_error"]
    assert any(
        r.levelname == "ERROR" and ids[0] in r.getMessage() and "parked" in r.getMessage()
        for r in caplog.records
    )
    time.sleep(0.05)
    assert relay.run_once().sent == 0  # claimed no more
    assert [event["id"] for event in broker.tried] == ids
    assert relay.backlog().parked == 1 and relay.backlog().unsent == 0


def test_a_row_failing_max_attempts_times_is_parked_its_delays_doubling(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    _write_keys(runtime, producer, database, ["a"])
    broker = Refusing(kafka_error("_TRANSPORT"), lambda event: True)
    relay = runtime.OutboxRelay(database, broker, retry=0.05, max_attempts=3)

    started = time.monotonic()
    while not _rows(database)[0]["parked_at"] and time.monotonic() - started < 5:
        relay.run_once()
        time.sleep(0.01)
    (row,) = _rows(database)
    assert row["parked_at"] is not None and row["attempts"] == 3
    assert len(broker.tried) == 3
    # retried after 0.05 s, then 0.1 s: doubled, not every 0.05 s
    assert time.monotonic() - started >= 0.15


def test_a_failed_row_holds_the_later_rows_of_its_key_back_and_other_keys_go_on(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    ids = _write_keys(runtime, producer, database, ["a", "b", "a", "b", "a"])
    broker = Refusing(kafka_error("_TRANSPORT"), lambda event: event["id"] == ids[0])
    relay = runtime.OutboxRelay(database, broker, retry=0.3)

    first = relay.run_once()
    # the batch's later "a" rows were tried with the first (one produce call); the
    # broker took them, so they are sent; the next pass has nothing of "a" to jump ahead
    assert (first.sent, first.failed) == (4, 1)
    _write_keys(runtime, producer, database, ["a", "b"])
    second = relay.run_once()
    assert second.sent == 1  # "b" only: the new "a" waits behind the failed one
    assert broker.delivered[-1][2] == b"b"
    broker.refuse = lambda event: False
    time.sleep(0.35)
    third = relay.run_once()
    assert third.sent == 2
    assert [key for _, _, key in broker.delivered[-2:]] == [b"a", b"a"]
    assert broker.delivered[-2][1]["id"] == ids[0]


def test_a_parked_row_no_longer_holds_its_key_back(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    ids = _write_keys(runtime, producer, database, ["a"])
    broker = Refusing(
        kafka_error("TOPIC_AUTHORIZATION_FAILED"), lambda event: event["id"] == ids[0]
    )
    relay = runtime.OutboxRelay(database, broker)
    assert relay.run_once().parked == 1
    later = _write_keys(runtime, producer, database, ["a"])
    assert relay.run_once().sent == 1
    assert broker.ids() == later


def test_rows_behind_an_older_row_of_their_key_leased_elsewhere_wait_for_it(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    ids = _write_keys(runtime, producer, database, ["a", "a", "b", None])  # type: ignore[list-item]
    holder = runtime.OutboxRelay(database, Broker(), batch=1, lease=0.3)
    assert [row[1] for row in holder.claim("other-relay")] == [ids[0]]

    broker = Broker()
    relay = runtime.OutboxRelay(database, broker)
    assert relay.run_once().sent == 2
    assert broker.ids() == [ids[2], ids[3]]  # "b" and the row without a key
    time.sleep(0.35)
    assert relay.run_once().sent == 2
    assert broker.ids()[2:] == ids[:2]


def test_leases_follow_the_databases_clock_not_a_relay_hosts(
    runtime: ModuleType,
    producer: Any,
    database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _write_keys(runtime, producer, database, ["a"])
    skewed = time.time() + 3600
    with monkeypatch.context() as patched:  # a relay host an hour ahead
        patched.setattr(runtime.time, "time", lambda: skewed)
        assert len(runtime.OutboxRelay(database, Broker(), lease=0.3).claim("fast-clock")) == 1
    broker = Broker()
    time.sleep(0.35)
    assert runtime.OutboxRelay(database, broker).run_once().sent == 1
    assert broker.ids() == ids


def test_sent_rows_are_deleted_in_bounded_chunks(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    _write(runtime, producer, database, 5)
    relay = runtime.OutboxRelay(database, Broker(), keep=0.2)
    relay.purge_chunk, relay.purge_chunks = 2, 2
    assert relay.run_once().sent == 5
    time.sleep(0.25)
    assert relay.purge() == 4
    assert relay.purge() == 1
    assert _rows(database) == []


def test_a_table_of_an_earlier_runtime_gets_the_new_column_and_index(
    runtime: ModuleType, producer: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:  # the table as runtime 10 made it
        connection.exec_driver_sql(
            "CREATE TABLE decouple_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "event_id VARCHAR(36) NOT NULL UNIQUE, topic VARCHAR(249) NOT NULL, "
            "msg_key TEXT, value TEXT NOT NULL, headers TEXT NOT NULL, "
            "created_at FLOAT NOT NULL, sent_at FLOAT, lease_owner VARCHAR(36), "
            "lease_until FLOAT, attempts INTEGER NOT NULL, last_error TEXT)"
        )
        connection.exec_driver_sql(
            "CREATE INDEX decouple_outbox_unsent ON decouple_outbox (sent_at, id)"
        )
    database = runtime.SqlAlchemyDatabase(url)
    (event_id,) = _write(runtime, producer, database, 1)

    broker = Broker()
    relay = runtime.OutboxRelay(database, broker)
    relay.prepare()
    relay.prepare()  # twice: nothing left to add
    inspected = sqlalchemy.inspect(sqlalchemy.create_engine(url))
    assert "parked_at" in {c["name"] for c in inspected.get_columns("decouple_outbox")}
    assert "decouple_outbox_topic" in {i["name"] for i in inspected.get_indexes("decouple_outbox")}
    assert relay.run_once().sent == 1
    assert broker.ids() == [event_id]


def test_the_relay_touches_its_liveness_file_and_logs_its_backlog(
    runtime: ModuleType,
    producer: Any,
    database: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _write(runtime, producer, database, 3)
    liveness = tmp_path / "alive"
    monkeypatch.setenv("DECOUPLE_LIVENESS_FILE", str(liveness))
    monkeypatch.setenv("DECOUPLE_STATS_INTERVAL_S", "0.05")
    broker = Broker()
    broker.down = True
    relay = runtime.OutboxRelay(database, broker, retry=60)
    stop = threading.Event()
    caplog.set_level("INFO")
    thread = threading.Thread(target=relay.run, args=(stop, 0.02))
    thread.start()
    try:
        started = time.monotonic()
        while not any("outbox backlog" in r.getMessage() for r in caplog.records):
            assert time.monotonic() - started < 5, "no backlog line"
            time.sleep(0.02)
        assert liveness.exists()
        touched = liveness.stat().st_mtime
        time.sleep(0.1)
        assert liveness.stat().st_mtime >= touched
    finally:
        stop.set()
        thread.join(10)
    line = next(r.getMessage() for r in caplog.records if "outbox backlog" in r.getMessage())
    assert "unsent=3" in line and "parked=0" in line
    # and the same in its gauges
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("decouple_outbox_unsent_rows") == 3
    assert REGISTRY.get_sample_value("decouple_outbox_parked_rows") == 0
    oldest = REGISTRY.get_sample_value("decouple_outbox_oldest_unsent_age_seconds")
    assert oldest is not None and oldest >= 0


class Client:
    """A confluent-kafka client whose ``produce`` refuses records over ``limit`` bytes at
    once, as librdkafka does, and acknowledges the others at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.produced: list[bytes | None] = []

    def produce(
        self, topic: str, value: bytes, key: bytes | None, headers: Any, on_delivery: Any
    ) -> None:
        if len(value) > self.limit:
            raise RuntimeError("Message size too large")
        self.produced.append(value)
        on_delivery(None, None)

    def flush(self, timeout: float = 0) -> int:
        return 0


def test_the_producer_sends_no_later_record_of_a_key_whose_record_failed(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    # the relay's producer, as its command makes it: records it waits for give up soon
    producer = runtime.Producer("orders", {}, delivery_ms=runtime.loop_delivery_timeout_ms())
    client = Client(limit=10)
    producer._client, producer._pid = client, os.getpid()
    records = [
        ("t", b"x" * 20, b"a", []),
        ("t", b"a2", b"a", []),
        ("t", b"b1", b"b", []),
        ("t", b"n1", None, []),
    ]
    errors = producer.deliver(records)
    assert isinstance(errors[0], RuntimeError)
    assert errors[1:] == [runtime.HELD_BACK, None, None]
    assert client.produced == [b"b1", b"n1"]


def test_an_idempotency_key_makes_one_row_however_often_the_request_is_retried(
    runtime: ModuleType, producer: Any, database: Any
) -> None:
    """A retried request (or a handler run again for its event) writes the same event id:
    its row is written once, and the retry's transaction does not fail on it."""
    from sqlalchemy.orm import Session

    ids = []
    for data in ({"order": 7}, {"order": 7}, {"order": 8}):
        with Session(database.engine) as session:
            ids.append(
                runtime.send_via_session_outbox(
                    producer, session, "emails.send", data, idempotency_key="order-7"
                )
            )
            session.commit()
    assert ids[0] == ids[1] != ids[2]
    assert ids[0] == runtime.derived_event_id("emails.send", "order-7", {"order": 7})
    assert [row["event_id"] for row in _rows(database)] == [ids[0], ids[2]]


def test_a_django_callers_outbox_write_takes_an_idempotency_key_too(
    runtime: ModuleType, producer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    import sqlite3
    import types

    db = sqlite3.connect(tmp_path / "django.sqlite3")
    db.execute(
        "CREATE TABLE decouple_outbox (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, "
        "topic TEXT, msg_key TEXT, value TEXT, headers TEXT, created_at REAL, attempts INT)"
    )

    class Cursor:
        def execute(self, sql: str, params: Sequence[Any]) -> None:
            db.execute(sql.replace("%s", "?"), params)

    connection = types.SimpleNamespace(
        vendor="sqlite", cursor=lambda: contextlib.nullcontext(Cursor())
    )
    fake = types.SimpleNamespace(connections={"default": connection})
    monkeypatch.setitem(sys.modules, "django.db", fake)
    sent = [
        runtime.send_via_django_outbox(producer, "emails.send", {"n": 1}, idempotency_key=k)
        for k in ("a", "a", "b")
    ]
    assert sent[0] == sent[1] != sent[2]
    assert [r[0] for r in db.execute("SELECT event_id FROM decouple_outbox ORDER BY id")] == [
        sent[0],
        sent[2],
    ]
