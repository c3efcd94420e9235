"""A failing event with a key is parked in the consumer's memory: the other keys of its
partition are handled while it is retried, and its own key's later events wait behind it,
in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, read_records, read_topic, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


#: Retries a fixed 3 s apart: long enough to watch a key parked, short enough to wait for.
EVERY_3_S = {
    "DECOUPLE_RETRY_BASE_S": "3",
    "DECOUPLE_RETRY_CAP_S": "3",
    "DECOUPLE_RETRY_JITTER": "0",
}


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
    slow = {**EVERY_3_S, "DECOUPLE_STATS_INTERVAL_S": "1", "DECOUPLE_PARKED_WARN_S": "2"}
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


def test_large_events_behind_a_poisoned_key_are_held_up_to_the_bytes_bound(
    broker: Broker, tmp_path: Path
) -> None:
    """k1's first event fails; 24 events of 64 KiB follow on k1 (1.5 MiB) while the
    consumer may hold 256 KiB. Its partition pauses once it holds that much, what is held
    never passes the bound by more than one event, and once the poison is dead-lettered
    every event is handled, once, in order."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    bound = 256 * 1024
    slow = {**EVERY_3_S, "DECOUPLE_STATS_INTERVAL_S": "1", "DECOUPLE_MAX_PARKED_BYTES": str(bound)}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        pad = "x" * (64 * 1024)
        sent = [{"user_id": 0, "template": "poison"}]
        sent += [{"user_id": n, "template": "welcome", "pad": pad} for n in range(1, 25)]
        calls = [[topic.name, body, f"r-{n}", "k1"] for n, body in enumerate(sent)]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", calls)
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=60)
        assert dead.key == b"k1"
        wait_for(lambda: len(_users(callee.records)) >= 24, 60, "k1's later events")
        assert _users(callee.records) == list(range(1, 25))
        output = callee.consumer.output()
        assert "pauses until they drain" in output and "DECOUPLE_MAX_PARKED_BYTES" in output
        held = [int(k) for k in re.findall(r"record\(s\) held \((\d+) KiB\)", output)]
        assert held and max(held) * 1024 < bound + 70 * 1024, held
        assert callee.consumer.terminate() == 0
        assert len(read_records(callee.records)) == 24  # each handled once
    finally:
        callee.consumer.stop()


def test_a_key_behind_two_poisoned_events_has_waited_since_the_first(
    broker: Broker, tmp_path: Path
) -> None:
    """k1's first two events fail every time (two attempts 3 s apart each), its third is
    fine: the key waits about 6 s in all, and its wait is counted from its first failure,
    not again from 0 when the second poison takes the head 3 s in."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    slow = {
        **EVERY_3_S,
        "DECOUPLE_RETRY_ATTEMPTS": "2",
        "DECOUPLE_STATS_INTERVAL_S": "1",
        "DECOUPLE_PARKED_WARN_S": "4",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        sent = [
            {"user_id": 1, "template": "poison"},
            {"user_id": 2, "template": "poison"},
            {"user_id": 3, "template": "welcome"},
        ]
        calls = [[topic.name, body, f"r-{n}", "k1"] for n, body in enumerate(sent)]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", calls)
        wait_for(lambda: _users(callee.records) == [3], 60, "k1's third event")
        assert len(read_topic(broker, topic.dead_letter, 2, timeout=30)) == 2
        output = callee.consumer.output()
        waited = [int(s) for s in re.findall(r"1 key\(s\) parked, .*oldest (\d+) s", output)]
        # one wait, growing past the 3 s at which the second poison took the head
        assert waited == sorted(waited) and max(waited) >= 5, waited
        assert f"{topic.name}/0: key k1 has waited" in output
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()


def test_keys_parked_on_several_partitions_under_the_bytes_bound_lose_no_event(
    broker: Broker, tmp_path: Path
) -> None:
    """4 partitions, 40 keys, 240 events of 8 KiB; every third fails twice, then succeeds.
    The consumer may hold 48 KiB in all, so partitions pause and resume one another all
    the time: a partition resumed and held again before its next record came pauses at
    that record. Every event is handled (none fails for good), and nothing is skipped."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=4)
    churn = {
        "DECOUPLE_RETRY_BASE_S": "0.3",
        "DECOUPLE_RETRY_CAP_S": "0.6",
        "DECOUPLE_RETRY_JITTER": "0.5",
        "DECOUPLE_RETRY_ATTEMPTS": "10",
        "DECOUPLE_MAX_PARKED_BYTES": str(48 * 1024),
        "DECOUPLE_STATS_INTERVAL_S": "5",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **churn)
    try:
        pad, count = "x" * (8 * 1024), 240
        calls = [
            [
                topic.name,
                {"user_id": n, "template": "welcome", "pad": pad, "fail_times": 2 * (n % 3 == 0)},
                f"r-{n}",
                f"k{n % 40}",
            ]
            for n in range(1, count + 1)
        ]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", calls)

        def missing() -> set[int]:
            return set(range(1, count + 1)) - set(_users(callee.records))

        try:
            wait_for(lambda: not missing(), 120, f"all {count} events handled")
        finally:
            print(f"handled {count - len(missing())} missing {len(missing())}")
        output = callee.consumer.output()
        assert "pauses until they drain" in output  # the bound was reached
        assert "failed for good" not in output, output
        # each key's events in the order they were sent
        for key in range(40):
            mine = [n for n in _users(callee.records) if n % 40 == key]
            assert mine == sorted(set(mine)), (key, mine)
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()


def test_a_partition_read_past_the_span_bound_waits_for_its_parked_key(
    broker: Broker, tmp_path: Path
) -> None:
    """k1's first event fails for 6 s; 20 events of other keys follow. The committed offset
    stays at k1's event, so the partition is read at most ``DECOUPLE_MAX_PARKED_SPAN`` (5)
    offsets past it: 4 other events are handled meanwhile (what a restart would handle
    again), the rest once the poison is dead-lettered, each once."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    slow = {**EVERY_3_S, "DECOUPLE_MAX_PARKED_SPAN": "5"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        sent = [("k1", {"user_id": 0, "template": "poison"})]
        sent += [(f"k{2 + n % 3}", {"user_id": n, "template": "welcome"}) for n in range(1, 21)]
        calls = [[topic.name, body, f"r-{n}", key] for n, (key, body) in enumerate(sent)]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", calls)
        wait_for(lambda: "DECOUPLE_MAX_PARKED_SPAN=5" in callee.consumer.output(), 30, "the pause")
        assert "failed for good" not in callee.consumer.output()
        assert _users(callee.records) == [1, 2, 3, 4]
        read_topic(broker, topic.dead_letter, 1, timeout=60)
        wait_for(lambda: len(_users(callee.records)) >= 20, 30, "the other events")
        assert _users(callee.records) == list(range(1, 21))
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()
