"""Events that never get an answer: a handler that kills its process, and an event whose
retries straddle restarts and rebalances. Attempts are counted in the idempotency store
before each call, so neither blocks its partition for ever."""

from __future__ import annotations

from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, ConsumerProcess, read_records, read_topic, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def test_an_event_that_kills_its_consumer_is_dead_lettered_after_its_attempts(
    broker: Broker, tmp_path: Path
) -> None:
    """Each delivery kills the process inside the handler; each restart gets the event
    again. The third death is the third attempt: the fourth process dead-letters it without
    calling the handler, and the event behind it flows."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app")
    try:
        crash = {"user_id": 1, "template": "crash"}
        after = {"user_id": 2, "template": "welcome"}
        run_caller(broker, tmp_path, CLIENT, "notify", [[topic.name, crash, "r-1"]])
        for _ in range(3):
            wait_for(lambda: callee.consumer.exited() is not None, 60, "a crash")
            assert callee.consumer.exited() == 70, callee.consumer.output()
            callee.consumer.start()
        run_caller(broker, tmp_path, CLIENT, "notify", [[topic.name, after, "r-2"]])
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=60)
        headers = dict(dead.headers)
        assert headers["decouple.attempts"] == b"3"
        assert b"without an outcome" in headers["decouple.error.message"]
        (handled,) = wait_for(lambda: read_records(callee.records), 30, "the next event")
        assert handled["body"] == after
        assert callee.consumer.exited() is None and callee.consumer.runs == 4
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()


@pytest.mark.parametrize(
    ("move", "key"),
    [("restart", "user-1"), ("rebalance", "user-1"), ("restart", None), ("rebalance", None)],
)
def test_an_events_attempts_are_not_reset_when_its_partition_moves(
    broker: Broker, tmp_path: Path, move: str, key: str | None
) -> None:
    """Two attempts fail on one consumer; then it restarts, or dies while a second
    member of the group is there to take the partition over. The next consumer's first attempt is
    the third: the event is dead-lettered after it, not after three more. An event with a
    key waits parked in memory, the offset committed before it; one without waits in the
    retry topic, whose partition either member may hold when the third attempt is due."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    # 4 s between attempts: time for the partition to move before the third
    slow = {"DECOUPLE_RETRY_BASE_S": "4", "DECOUPLE_RETRY_CAP_S": "4", "DECOUPLE_RETRY_JITTER": "0"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    other: ConsumerProcess | None = None
    try:
        poison = {"user_id": 1, "template": "poison"}
        if key is None:
            run_caller(broker, tmp_path, CLIENT, "notify", [[topic.name, poison, "r-1"]])
        else:
            call = [topic.name, poison, "r-1", key]
            run_caller(broker, tmp_path, CLIENT, "notify_keyed", [call])
        wait_for(lambda: "attempt 2;" in callee.consumer.output(), 60, "a second failure")
        if move == "restart":
            assert callee.consumer.terminate() == 0
            callee.consumer.start()
            survivor = callee.consumer
        else:
            first = callee.consumer
            other = ConsumerProcess(first.module, first.cwd, first.env, tmp_path / "other")
            other.start()
            wait_for(lambda: "assigned" in other.output(), 60, "the second member to join")
            first.kill()  # its session times out: its partition goes to the other member
            survivor = other
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=60)
        assert dict(dead.headers)["decouple.attempts"] == b"3"
        assert survivor.terminate() == 0
        outputs = callee.consumer.output() + (other.output() if other else "")
        # three calls of the handler in all, one of them after the move
        assert outputs.count("Exception on /send [POST]") == 3, outputs
        if key is not None or move == "restart":
            assert survivor.output().count("Exception on /send [POST]") >= 1
        through = f"through {topic.retry_topic}"
        assert (through in outputs) == (key is None)
    finally:
        callee.consumer.stop()
        if other is not None:
            other.stop()
