"""A consumer beside the service serves its metrics on ``DECOUPLE_METRICS_PORT``: what
became of its records, and, from librdkafka's statistics, the lag of a partition held back
behind a keyed event that keeps failing."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from .apps import MAILER_SEND, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, free_port, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def _scrape(port: int) -> dict[str, float]:
    """``name{labels}`` -> value of the decouple samples served on ``port``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    samples = re.findall(r"^(decouple_\S+) (\S+)$", text, re.MULTILINE)
    return {name: float(value) for name, value in samples}


def test_a_consumer_serves_its_counts_its_lag_and_its_blocked_partition(
    broker: Broker, tmp_path: Path
) -> None:
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    port = free_port()
    # retried in place 30 s later: the partition stays held back while the test looks
    env = {
        "DECOUPLE_METRICS_PORT": str(port),
        "KAFKA_STATISTICS_INTERVAL_MS": "500",
        "KAFKA_AUTO_COMMIT_INTERVAL_MS": "200",
        "DECOUPLE_RETRY_BASE_S": "30",
        "DECOUPLE_RETRY_CAP_S": "30",
        "DECOUPLE_RETRY_JITTER": "0",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **env)
    try:
        ok = [topic.name, {"user_id": 1, "template": "welcome"}, "r-1", "user-1"]
        poison = [topic.name, {"user_id": 2, "template": "poison"}, "r-2", "user-2"]
        behind = [
            [topic.name, {"user_id": 2, "template": "welcome"}, f"r-{n}", "user-2"] for n in (3, 4)
        ]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", [ok, poison, *behind])
        where = f'partition="0",topic="{topic.name}"'
        lag = f"decouple_consumer_lag_records{{{where}}}"
        blocked = f"decouple_consumer_blocked_seconds{{{where}}}"

        def held_back() -> dict[str, float] | None:
            samples = _scrape(port)
            # the event handled is committed; the poison one and the two behind it are not
            waiting = samples.get(lag) == 3 and samples.get(blocked, 0) >= 1
            return samples if waiting else None

        samples = wait_for(held_back, 60, "the lag and the blocked partition", interval=0.5)
        counted = f'decouple_consumer_records_total{{outcome="%s",topic="{topic.name}"}}'
        assert samples[counted % "handled"] == 1
        assert samples[counted % "retry"] == 1
        timed = f'decouple_consumer_handler_duration_seconds_count{{topic="{topic.name}"}}'
        assert samples[timed] == 2
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()


def test_a_partition_paused_by_a_bound_is_no_longer_shown_blocked_once_it_drained(
    broker: Broker, tmp_path: Path
) -> None:
    """A poison event and one of its key behind it reach ``DECOUPLE_MAX_PARKED=2``: the
    partition pauses at the end of its log. Once the poison is dead-lettered and the other
    handled the partition resumes, and though no further record comes its blocked gauge
    goes (a quiet topic must not page as held back)."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    port = free_port()
    env = {
        "DECOUPLE_METRICS_PORT": str(port),
        "DECOUPLE_MAX_PARKED": "2",
        "DECOUPLE_RETRY_BASE_S": "0.3",
        "DECOUPLE_RETRY_CAP_S": "0.3",
        "DECOUPLE_RETRY_JITTER": "0",
        "DECOUPLE_RETRY_ATTEMPTS": "3",
    }
    callee = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **env)
    try:
        poison = [topic.name, {"user_id": 1, "template": "poison"}, "r-1", "user-1"]
        behind = [topic.name, {"user_id": 2, "template": "welcome"}, "r-2", "user-1"]
        run_caller(broker, tmp_path, CLIENT, "notify_keyed", [poison, behind])
        counted = f'decouple_consumer_records_total{{outcome="%s",topic="{topic.name}"}}'
        blocked = f'decouple_consumer_blocked_seconds{{partition="0",topic="{topic.name}"}}'

        def drained() -> dict[str, float] | None:
            samples = _scrape(port)
            done = samples.get(counted % "dead_letter") == 1
            return samples if done and samples.get(counted % "handled") == 1 else None

        wait_for(drained, 60, "the poison dead-lettered, the event behind it handled")
        assert "pauses until they drain" in callee.consumer.output()
        # the gauge is refreshed once a second: gone within a few, and stays gone
        wait_for(lambda: blocked not in _scrape(port), 10, "the blocked gauge gone")
        time.sleep(3)
        assert blocked not in _scrape(port)
        assert callee.consumer.terminate() == 0
    finally:
        callee.consumer.stop()
