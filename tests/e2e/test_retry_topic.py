"""A failing event without a key waits for its retries in the retry topic: the events
sent after it on its partition are handled meanwhile, not held up behind it."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from decouple_services.migrate.generate import render_topic_script

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import (
    Broker,
    python_env,
    read_records,
    read_topic,
    run_python,
    wait_for,
    write,
)

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def test_a_keyless_event_that_fails_is_retried_after_the_events_behind_it(
    broker: Broker, tmp_path: Path
) -> None:
    """One partition: in-place retries would hand the second event over only after the
    first one's third attempt."""
    topic = topic_for(MAILER_SEND)
    created = create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    assert f"created  {topic.retry_topic} (1 partitions" in created
    # 2 s in each retry tier: the event behind it is handled well before its retry is due
    slow = {"DECOUPLE_RETRY_TIERS": "2,2,2"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        flaky = {"user_id": 1, "template": "welcome", "fail_times": 2}
        behind = {"user_id": 2, "template": "welcome"}
        run_caller(
            broker,
            tmp_path,
            CLIENT,
            "notify",
            [[topic.name, flaky, "r-1"], [topic.name, behind, "r-2"]],
        )
        handled = wait_for(
            lambda: len(read_records(callee.records)) >= 2 and read_records(callee.records),
            60,
            "both events",
        )
        # the event sent second was handled first; the first one on its third attempt
        assert [entry["body"]["user_id"] for entry in handled] == [2, 1]
        # the first failure's copy in the first tier, the second's in the second
        retries = [
            *read_topic(broker, topic.retry_topics[0], 1, timeout=30),
            *read_topic(broker, topic.retry_topics[1], 1, timeout=30),
        ]
        headers = [dict(record.headers) for record in retries]
        assert [h["decouple.attempts"] for h in headers] == [b"1", b"2"]
        assert {h["decouple.original.topic"] for h in headers} == {topic.name.encode()}
        assert {h["decouple.original.offset"] for h in headers} == {b"0"}
        assert all(record.key is None for record in retries)
        output = callee.consumer.output()
        assert f"through {topic.retry_topic}, {topic.name}/0 goes on" in output
        assert callee.consumer.terminate() == 0
        assert len(read_records(callee.records)) == 2  # each handled once
    finally:
        callee.consumer.stop()


def test_a_short_retry_is_not_held_behind_a_long_one_and_no_event_is_lost(
    broker: Broker, tmp_path: Path
) -> None:
    """Retry tiers of 1 s, 12 s and 12 s, three attempts, one partition per topic. The
    long event's second failure puts it 12 s away; the short event, failing once after
    that, waits 1 s in the first tier: in one retry topic it would wait behind the long
    copy. Events that fail for good are dead-lettered, the others handled, each once."""
    topic = topic_for(MAILER_SEND)
    created = create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    for retry in topic.retry_topics:
        assert f"created  {retry} (1 partitions" in created
    # no jitter: the log line gives each tier's delay as set
    tiers = {"DECOUPLE_RETRY_TIERS": "1,12,12", "DECOUPLE_RETRY_JITTER": "0"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **tiers)
    try:
        long = {"user_id": 1, "template": "welcome", "fail_times": 2}
        poison = {"user_id": 2, "template": "poison"}
        run_caller(
            broker,
            tmp_path,
            CLIENT,
            "notify",
            [
                [topic.name, long, "r-long"],
                [topic.name, poison, "r-poison"],
                [topic.name, {"user_id": 3, "template": "welcome"}, "r-3"],
                [topic.name, {"user_id": 4, "template": "welcome", "fail_times": 1}, "r-4"],
            ],
        )
        second = "attempt 2; retry in 12.00 s through"
        wait_for(lambda: second in callee.consumer.output(), 30, "the long event's 2nd failure")
        sent = time.monotonic()
        short = {"user_id": 5, "template": "welcome", "fail_times": 1}
        run_caller(broker, tmp_path, CLIENT, "notify", [[topic.name, short, "r-short"]])

        def handled_users() -> list[int]:
            return [entry["body"]["user_id"] for entry in read_records(callee.records)]

        wait_for(lambda: 5 in handled_users(), 20, "the short retry")
        # its 1 s tier did not wait for the 12 s one queued before it
        assert 1 not in handled_users() and time.monotonic() - sent < 11
        wait_for(lambda: len(handled_users()) == 4, 40, "every event but the poison")
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=30)
        dead_headers = dict(dead.headers)
        assert dead_headers["decouple.attempts"] == b"3"
        assert b'"poison"' in dead.value and dead_headers["decouple.original.offset"] == b"1"
        # each attempt's copy in its tier: a first failure in tier 1, a second in tier 2
        first = read_topic(broker, topic.retry_topics[0], 4, timeout=10)
        assert [dict(r.headers)["decouple.attempts"] for r in first] == [b"1"] * 4
        later = read_topic(broker, topic.retry_topics[1], 2, timeout=10)
        assert [dict(r.headers)["decouple.attempts"] for r in later] == [b"2"] * 2
        assert callee.consumer.terminate() == 0
        # all handled or dead-lettered, each handled once
        assert sorted(handled_users()) == [1, 3, 4, 5]
    finally:
        callee.consumer.stop()


def test_a_group_of_members_with_and_without_tiers_loses_no_event(
    broker: Broker, tmp_path: Path
) -> None:
    """A rolling update: a member whose module names no tiers (as before them: its copies
    go to ``.retry`` alone) beside one with tiers, in one group, then the first one gone.
    The events move between them through ``.retry``; every one is handled once or
    dead-lettered."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=2)
    tiers = {"DECOUPLE_RETRY_TIERS": "1,3,3"}
    tiered = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **tiers)
    module = tiered.consumer.module
    source = tiered.consumer.cwd / Path(*module.split(".")).with_suffix(".py")
    text = re.sub(r"    retry_tiers=\(.*?\),\n", "", source.read_text(), flags=re.S)
    assert "retry_tiers" not in text
    write(source.with_name(source.stem + "_untiered.py"), text)
    untiered = replace(
        tiered.consumer,
        module=f"{module}_untiered",
        log=tmp_path / "consumer-untiered",
        process=None,
        runs=0,
    ).start()
    expected: set[int] = set()
    poisoned: set[int] = set()

    def send(first: int) -> None:
        calls = []
        for user in range(first, first + 8):
            kind = user % 4  # handled at once, after one failure, after two, never
            event: dict[str, Any] = {"user_id": user, "template": "welcome"}
            if kind in (1, 2):
                event["fail_times"] = kind
            if kind == 3:
                event["template"] = "poison"
                poisoned.add(user)
            else:
                expected.add(user)
            calls.append([topic.name, event, f"r-{user}"])
        run_caller(broker, tmp_path, CLIENT, "notify", calls)

    def handled() -> list[int]:
        return [entry["body"]["user_id"] for entry in read_records(tiered.records)]

    try:
        wait_for(
            lambda: "assigned" in untiered.output() and "assigned" in tiered.consumer.output(),
            30,
            "both members to join",
        )
        send(0)
        wait_for(lambda: len(set(handled())) >= 4, 40, "events handled by the mixed group")
        assert untiered.terminate() == 0  # its replacement is the member with tiers
        send(100)
        wait_for(lambda: set(handled()) >= expected, 60, "every event but the poisoned")
        dead = read_topic(broker, topic.dead_letter, len(poisoned), timeout=60)
        dead_users = {json.loads(record.value)["data"]["user_id"] for record in dead}
        assert dead_users == poisoned
        assert sorted(handled()) == sorted(expected)  # each once: none lost, none twice
        # both kinds of member retried: through .retry, and through the later tiers
        assert "through " + topic.retry_topics[0] in untiered.output()
        assert "through " + topic.retry_topics[1] in tiered.consumer.output()
        assert tiered.consumer.terminate() == 0
    finally:
        untiered.stop()
        tiered.consumer.stop()


def test_a_consumer_whose_tiers_are_not_created_yet_keeps_the_retry_topic_alone(
    broker: Broker, tmp_path: Path
) -> None:
    """The consumers of runtime 21 deployed before the topic script ran again: the broker
    has ``.retry`` only. The consumer says so and retries through it, losing nothing."""
    topic = topic_for(MAILER_SEND)
    script = render_topic_script([topic], client=CLIENT)
    for tier in topic.retry_topics[1:]:
        script = script.replace(f'        "{tier}",\n', "")
    path = write(tmp_path / "create_topics_before_tiers.py", script)
    env = python_env(broker, KAFKA_TOPIC_PARTITIONS="1", KAFKA_REPLICATION_FACTOR="1")
    created = run_python([str(path)], tmp_path, env).stdout
    assert topic.retry_topic in created and topic.retry_topics[1] not in created
    slow = {"DECOUPLE_RETRY_BASE_S": "0.2", "DECOUPLE_RETRY_CAP_S": "0.2"}
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow)
    try:
        flaky = {"user_id": 1, "template": "welcome", "fail_times": 2}
        run_caller(broker, tmp_path, CLIENT, "notify", [[topic.name, flaky, "r-1"]])
        wait_for(lambda: read_records(callee.records), 60, "the event, on its third attempt")
        retries = read_topic(broker, topic.retry_topic, 2, timeout=10)
        assert [dict(r.headers)["decouple.attempts"] for r in retries] == [b"1", b"2"]
        output = callee.consumer.output()
        missing = ", ".join(topic.retry_topics[1:])
        assert f"retry tiers of {topic.name}: the broker has no {missing}" in output
        assert callee.consumer.terminate() == 0
        assert len(read_records(callee.records)) == 1
    finally:
        callee.consumer.stop()
