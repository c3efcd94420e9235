"""The generated consumer under failure: killed mid-stream, stopped mid-stream, and fed
events it has already handled.

The topics have one partition, so a redelivered event comes back before any later one and
"every event handled once" can be checked as soon as the last one is. Handlers pause
``E2E_HANDLER_DELAY_S`` before doing anything, so a signal lands inside an event. The
callers send with kafka-python's idempotent producer (the default, which this broker
supports), so every duplicate these tests see comes from the consumer side.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from .apps import MAILER_SEND, Callee, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, read_records, read_topic, rewind_group, wait_for

pytestmark = pytest.mark.e2e


def _send(broker: Broker, tmp_path: Path, topic: str, numbers: range) -> None:
    run_caller(
        broker,
        tmp_path,
        "kafka-python",
        "notify",
        [[topic, {"user_id": n, "template": "welcome"}, f"req-{n}"] for n in numbers],
    )


def _handled(callee: Callee) -> Counter[int]:
    return Counter(entry["body"]["user_id"] for entry in read_records(callee.records))


def _wait_handled(callee: Callee, numbers: range) -> Counter[int]:
    return wait_for(
        lambda: set(_handled(callee)) >= set(numbers) and _handled(callee),
        30,
        f"events {numbers} handled",
    )


def _marked(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as db:
        try:
            query = "SELECT COUNT(*) FROM decouple_handled WHERE handled_at IS NOT NULL"
            return int(db.execute(query).fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_a_consumer_killed_mid_stream_loses_nothing_and_handles_nothing_twice(
    broker: Broker, tmp_path: Path
) -> None:
    """SIGKILL right after an event was marked handled, while the next one is in its
    handler: the restarted consumer gets the uncommitted events again, skips the one the
    SQLite idempotency store remembers and handles the rest."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "kafka-python", partitions=1)
    database = tmp_path / "handled.sqlite"
    store = {"DECOUPLE_IDEMPOTENCY_DB": str(database), "E2E_HANDLER_DELAY_S": "0.3"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, "kafka-python", "app", **store)
    try:
        _send(broker, tmp_path, topic.name, range(8))
        wait_for(lambda: _marked(database) >= 3, 30, "three events marked handled")
        callee.consumer.kill()
        before = _handled(callee)
        assert 3 <= sum(before.values()) < 8

        callee.consumer.start()
        handled = _wait_handled(callee, range(8))
        assert callee.consumer.terminate() == 0
        assert _handled(callee) == handled == Counter(range(8))
    finally:
        callee.consumer.stop()


def test_sigterm_finishes_the_current_event_commits_it_and_exits(
    broker: Broker, tmp_path: Path
) -> None:
    """With the in-memory store, a restart handles nothing twice only because the
    stopping consumer committed what it had handled."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "kafka-python", partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "mailer",
        topic,
        "kafka-python",
        "app",
        E2E_HANDLER_DELAY_S="0.2",
        DECOUPLE_IDEMPOTENCY_DB="memory",
    )
    try:
        _send(broker, tmp_path, topic.name, range(10))
        wait_for(lambda: sum(_handled(callee).values()) >= 2, 30, "two events handled")
        assert callee.consumer.terminate() == 0
        stopped_after = sum(_handled(callee).values())
        assert stopped_after < 10
        assert "finishing the current event, then stopping" in callee.consumer.output()

        callee.consumer.start()
        _wait_handled(callee, range(10))
        assert callee.consumer.terminate() == 0
        assert _handled(callee) == Counter(range(10))
    finally:
        callee.consumer.stop()


@pytest.mark.parametrize(
    ("store", "handled_twice"),
    [("sqlite", False), ("memory", True)],
    ids=["sqlite-store-skips-repeats", "memory-store-forgets-on-restart"],
)
def test_events_delivered_again_after_a_restart(
    broker: Broker, tmp_path: Path, store: str, handled_twice: bool
) -> None:
    """Events delivered again (the group's offsets reset to the start, as an operator does
    or as a commit lost in a crash does) are skipped when the idempotency store persists;
    the in-memory one forgets them when the process restarts."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "confluent-kafka", partitions=1)
    database = str(tmp_path / "handled.sqlite") if store == "sqlite" else "memory"
    env = {"DECOUPLE_IDEMPOTENCY_DB": database}
    callee = start_consumer(broker, tmp_path, "mailer", topic, "confluent-kafka", "app", **env)
    try:
        _send(broker, tmp_path, topic.name, range(3))
        _wait_handled(callee, range(3))
        assert callee.consumer.terminate() == 0

        rewind_group(broker, f"mailer.{topic.name}", topic.name)
        callee.consumer.start()
        _send(broker, tmp_path, topic.name, range(3, 4))
        _wait_handled(callee, range(4))
        if handled_twice:
            wait_for(
                lambda: sum(_handled(callee).values()) >= 7,
                30,
                "the replayed events handled again",
            )
        assert callee.consumer.terminate() == 0
        repeat = 2 if handled_twice else 1
        assert _handled(callee) == Counter({0: repeat, 1: repeat, 2: repeat, 3: 1})
    finally:
        callee.consumer.stop()


def test_a_request_the_caller_retries_with_its_request_id_is_handled_once(
    broker: Broker, tmp_path: Path
) -> None:
    """A retry loop around the old call (or the client retrying after a timeout) sends the
    event again: the request id the call sent makes it the same event id, so the consumer
    skips the copy. Another payload under the same request id is another event."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "confluent-kafka", partitions=1)
    callee = start_consumer(broker, tmp_path, "mailer", topic, "confluent-kafka", "app")
    try:
        retried = [topic.name, {"user_id": 1, "template": "welcome"}, "req-1"]
        other = [topic.name, {"user_id": 2, "template": "welcome"}, "req-1"]
        run_caller(broker, tmp_path, "confluent-kafka", "notify", [retried, retried, other])
        records = read_topic(broker, topic.name, 3)
        ids = [json.loads(r.value)["id"] for r in records]
        assert ids[0] == ids[1] != ids[2]
        _wait_handled(callee, range(1, 3))
        time.sleep(2)  # the copy, had it been handled, would have been by now
        assert callee.consumer.terminate() == 0
        assert _handled(callee) == Counter({1: 1, 2: 1})
    finally:
        callee.consumer.stop()


def test_a_handler_past_its_timeout_is_never_run_beside_its_retry(
    broker: Broker, tmp_path: Path
) -> None:
    """The Flask handler takes 2 s, the consumer gives it 0.5: the call goes on in its
    thread, and the event (without a key) goes to its retry topic only once that call has
    ended; the call succeeded, so the event is handled, once, instead of a second run
    starting while the first still ran."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "confluent-kafka", partitions=1)
    env = {"E2E_HANDLER_DELAY_S": "2", "DECOUPLE_HANDLER_TIMEOUT_S": "0.5"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, "confluent-kafka", "app", **env)
    try:
        _send(broker, tmp_path, topic.name, range(2))
        _wait_handled(callee, range(2))
        time.sleep(3)  # a second run, had one started, would have recorded by now
        assert callee.consumer.terminate() == 0
        assert _handled(callee) == Counter({0: 1, 1: 1})
        output = callee.consumer.output()
        assert "goes to its retry topic once the call that timed out has ended" in output, output
    finally:
        callee.consumer.stop()


def test_an_idempotency_store_that_is_down_is_waited_out_not_counted_as_attempts(
    broker: Broker, tmp_path: Path
) -> None:
    """The store's database is locked by another writer (a database that is down, as far
    as the consumer can tell) while an event comes, with one attempt allowed per event: the
    consumer does not call the handler, counts nothing and dead-letters nothing, and
    handles the event once the store is back."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "confluent-kafka", partitions=1)
    database = tmp_path / "handled.sqlite"
    env = {
        "DECOUPLE_IDEMPOTENCY_DB": str(database),
        "DECOUPLE_RETRY_ATTEMPTS": "1",
        "DECOUPLE_RETRY_BASE_S": "0.5",
        "DECOUPLE_RETRY_CAP_S": "1",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, "confluent-kafka", "app", **env)
    try:
        wait_for(lambda: database.exists() and "assigned" in callee.consumer.output(), 60, "start")
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the store's writes wait, then fail
        _send(broker, tmp_path, topic.name, range(1))
        wait_for(
            lambda: callee.consumer.output().count("not counted as an attempt") >= 2,
            60,
            "two waits through the outage",
        )
        assert read_records(callee.records) == []
        lock.execute("ROLLBACK")
        lock.close()
        _wait_handled(callee, range(1))
        assert callee.consumer.terminate() == 0
        assert _handled(callee) == Counter({0: 1})
        assert "failed for good" not in callee.consumer.output()  # nothing dead-lettered
    finally:
        callee.consumer.stop()
