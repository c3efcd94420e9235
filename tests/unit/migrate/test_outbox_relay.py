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
    found = runtime.SqlAlchemyDatabase(f"sqlite:///{tmp_path / 'service.sqlite3'}")
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
    assert len(dead.claim("dead-relay", time.time())) == 3  # and never marks them

    broker = Broker()
    other = runtime.OutboxRelay(database, broker)
    assert other.run_once().sent == 0
    time.sleep(0.35)
    assert other.run_once().sent == 3
    assert broker.ids() == ids


def test_relays_side_by_side_send_every_row_once(
    runtime: ModuleType, producer: Any, database: Any, tmp_path: Path
) -> None:
    ids = _write(runtime, producer, database, 120)
    broker = Broker(delay=0.01)
    errors: list[BaseException] = []

    def relay() -> None:
        # Each relay its own process in production: its own engine and connections.
        own = runtime.SqlAlchemyDatabase(f"sqlite:///{tmp_path / 'service.sqlite3'}")
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
                return [(7,)] if sql.startswith("SELECT id FROM") else []

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
    runtime.OutboxRelay(recorded, Broker(), batch=10).claim("me", time.time())
    first = recorded.statements[0]
    assert first.endswith("ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED") is skips_locked
    if not skips_locked:
        # SQLite: one UPDATE, which takes the write lock before it reads.
        assert first.startswith("UPDATE decouple_outbox SET lease_owner")
        assert "(SELECT id FROM decouple_outbox WHERE sent_at IS NULL" in first
