"""A failing event without a key waits for its retries in the retry topic: the events
sent after it on its partition are handled meanwhile, not held up behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, read_records, read_topic, wait_for

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
    # 2 s between attempts: the event behind it is handled well before its retry is due
    slow = {"DECOUPLE_RETRY_BASE_S": "2", "DECOUPLE_RETRY_CAP_S": "2", "DECOUPLE_RETRY_JITTER": "0"}
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
        retries = read_topic(broker, topic.retry_topic, 2, timeout=30)
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
