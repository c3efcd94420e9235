"""Dead letters go back: ``python -m <service>.decouple_runtime redrive --topic X.dlq``
publishes each dead-lettered record again on its original topic with its key and its own
headers, and the consumer handles it once the cause is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, python_env, read_records, read_topic, run_python, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def test_a_dead_letter_redriven_to_its_topic_keeps_its_key_and_headers_and_is_handled(
    broker: Broker, tmp_path: Path
) -> None:
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    # three 503s: every one of the consumer's three attempts fails, the fourth would not
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app")
    try:
        event = {"user_id": 7, "template": "welcome", "fail_times": 3}
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", [[topic.name, event, "req-7", "u-7"]])
        (dead,) = read_topic(broker, topic.dead_letter, 1)
        assert dict(dead.headers)["decouple.attempts"] == b"3"
        assert read_records(callee.records) == []

        root = callee.consumer.cwd
        command = ["-m", "mailer.decouple_runtime", "redrive", "--topic", topic.dead_letter]
        done = run_python(command, root, python_env(broker))
        assert f"published 1 record(s) from {topic.dead_letter} again" in done.stdout

        (handled,) = wait_for(lambda: read_records(callee.records), 30, "the redriven event")
        assert handled == {"endpoint": "send", "body": event, "request_id": "req-7"}
        original, again = read_topic(broker, topic.name, 2)
        assert again.key == original.key == b"u-7"
        assert again.value == original.value  # the same event id: repeats are caught
        # the diagnosis stayed behind; the group that dead-lettered it is named, so the
        # topic's other groups (which handled it) pass it by
        group = dict(dead.headers)["decouple.consumer.group"]
        assert again.headers == [*original.headers, ("decouple.redrive.group", group)]

        # committed: a second run has nothing left to publish
        done = run_python(command, root, python_env(broker))
        assert f"published 0 record(s) from {topic.dead_letter} again" in done.stdout
    finally:
        callee.consumer.stop()
