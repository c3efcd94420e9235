"""A failing event with a key is parked in the consumer's memory: the other keys of its
partition are handled while it is retried, and its own key's later events wait behind it,
in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, read_records, read_topic, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def _users(path: Path) -> list[int]:
    return [entry["body"]["user_id"] for entry in read_records(path)]


def test_a_poisoned_key_holds_only_its_own_events_while_the_others_flow(
    broker: Broker, tmp_path: Path
) -> None:
    """One partition, keys k0, k1 and k2; k1's first event fails every time. Parking in
    place of a partition-wide retry hands k0's and k2's events over at once; k1's later
    events come after its poison was dead-lettered, in the order they were sent."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    # 3 attempts 3 s apart: the poison is dead-lettered 6 s after its first attempt
    slow = {
        "DECOUPLE_RETRY_BASE_S": "3",
        "DECOUPLE_RETRY_CAP_S": "3",
        "DECOUPLE_RETRY_JITTER": "0",
        "DECOUPLE_STATS_INTERVAL_S": "1",
        "DECOUPLE_PARKED_WARN_S": "2",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        sent = [
            ("k1", {"user_id": 1, "template": "poison"}),
            ("k0", {"user_id": 2, "template": "welcome"}),
            ("k1", {"user_id": 3, "template": "welcome"}),
            ("k2", {"user_id": 4, "template": "welcome"}),
            ("k1", {"user_id": 5, "template": "welcome"}),
            ("k0", {"user_id": 6, "template": "welcome"}),
        ]
        calls = [[topic.name, body, f"r-{n}", key] for n, (key, body) in enumerate(sent)]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", calls)
        # the other keys flow while the poison is retried
        wait_for(lambda: {2, 4, 6} <= set(_users(callee.records)), 30, "k0 and k2")
        output = callee.consumer.output()
        assert "failed for good" not in output, output
        assert _users(callee.records) == [2, 4, 6]  # k1's later events wait
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=60)
        assert dead.key == b"k1" and dict(dead.headers)["decouple.attempts"] == b"3"
        # then k1's later events, in their order
        wait_for(lambda: len(_users(callee.records)) >= 5, 30, "k1's later events")
        assert _users(callee.records) == [2, 4, 6, 3, 5]
        output = callee.consumer.output()
        assert output.count("Exception on /send [POST]") == 3, output
        assert f"{topic.name}/0: 1 key(s) parked, 3 record(s) held" in output
        assert f"{topic.name}/0: key k1 has waited" in output
        assert callee.consumer.terminate() == 0
        assert len(read_records(callee.records)) == 5  # each handled once
    finally:
        callee.consumer.stop()
