"""A gRPC servicer built by an async factory, through the broker: the consumer awaits the
factory once, at start, on the loop where the servicer's coroutines then run (its pool
serves only that loop), and closes what the factory opened when it stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from .apps import INVITES_INVITE, create_topics, run_caller, start_consumer, topic_for
from .harness import Broker, read_records, wait_for

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def test_an_async_factorys_servicer_handles_events_and_is_closed_at_the_stop(
    broker: Broker, tmp_path: Path
) -> None:
    topic = topic_for(INVITES_INVITE)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "invites",
        topic,
        CLIENT,
        servicer_factory="invites.server:make_servicer",
    )
    try:
        calls = [
            [topic.name, {"email": "a@example.com"}, "r-1"],
            [topic.name, {"email": "b@example.com"}, "r-2"],
        ]
        run_caller(broker, tmp_path, CLIENT, "notify", calls)
        wait_for(lambda: len(read_records(callee.records)) >= 3, 30, "two invitations")
        assert callee.consumer.terminate() == 0
        output = callee.consumer.output()
        assert "the servicer invites.server:make_servicer built is ready" in output, output
        assert "Traceback" not in output, output
        # opened once before the first event, each event handled on the pool's loop,
        # closed on that loop when the consumer stopped
        assert read_records(callee.records) == [
            {"event": "opened"},
            {"event": "invited", "email": "a@example.com"},
            {"event": "invited", "email": "b@example.com"},
            {"event": "closed"},
        ]
    finally:
        callee.consumer.stop()
