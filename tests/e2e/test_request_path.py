"""The event path behaves like the request path: each event crosses the callee's own
application, so its auth hooks, middleware, validation and start-up state apply, and its
answer decides: 2xx done, 4xx dead-lettered at once, 5xx and exceptions retried.

Also: the consumer running inside the service's process (a worker thread next to a WSGI
app, a task of an ASGI app's lifespan), and a rebalance in the middle of a retry.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from .apps import (
    BILLING_INVOICES,
    BILLING_REFUND,
    LEDGER_ENTRIES,
    MAILER_SEND,
    create_topics,
    run_caller,
    start_consumer,
    topic_for,
)
from .harness import Broker, ConsumerProcess, read_records, read_topic, wait_for, write

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def _dead_letters(broker: Broker, topic: str, count: int) -> dict[str, dict[str, bytes]]:
    """Dead letters by the reason their error message gives."""
    records = read_topic(broker, topic, count)
    return {dict(r.headers)["decouple.error.message"].decode(): dict(r.headers) for r in records}


def test_django_middleware_auth_and_view_validation_apply_to_events(
    broker: Broker, tmp_path: Path
) -> None:
    topic = topic_for(LEDGER_ENTRIES, "account_id")
    create_topics(broker, tmp_path, [topic], "confluent-kafka")
    callee = start_consumer(broker, tmp_path, "ledger", topic, "confluent-kafka")
    try:
        run_caller(
            broker,
            tmp_path,
            "confluent-kafka",
            "post_entry",
            [[topic.name, "12", {"amount_cents": 500}], [topic.name, "12", {"amount_cents": "x"}]],
        )
        (entry,) = wait_for(lambda: read_records(callee.records), 30, "the entry")
        # The url resolver converted the path parameter; the middleware let it in.
        assert entry == {
            "endpoint": "entries",
            "account_id": 12,
            "entry": {"amount_cents": 500},
            "by": "service",
        }
        dead = _dead_letters(broker, topic.dead_letter, 1)
        assert dead["the application answered 400"]["decouple.attempts"] == b"1"
    finally:
        callee.consumer.stop()


def test_without_the_consumers_credentials_the_apps_own_checks_refuse_events(
    broker: Broker, tmp_path: Path
) -> None:
    """The Flask before_request hook and the Django middleware answer 401 and 403: the
    consumer's own credential is missing, not the event at fault, so each event is retried
    before it is dead-lettered, and nothing reaches a handler."""
    mail, ledger = topic_for(MAILER_SEND), topic_for(LEDGER_ENTRIES, "account_id")
    create_topics(broker, tmp_path, [mail, ledger], "confluent-kafka")
    no_credentials = {"DECOUPLE_REQUEST_HEADERS": "{}"}
    mailer = start_consumer(broker, tmp_path, "mailer", mail, CLIENT, "app", **no_credentials)
    books = start_consumer(broker, tmp_path, "ledger", ledger, CLIENT, **no_credentials)
    try:
        run_caller(broker, tmp_path, CLIENT, "notify", [[mail.name, {"user_id": 1}, "r-1"]])
        run_caller(
            broker, tmp_path, CLIENT, "post_entry", [[ledger.name, "3", {"amount_cents": 1}]]
        )
        refused = _dead_letters(broker, mail.dead_letter, 1)
        assert int(refused["the application answered 401"]["decouple.attempts"]) > 1
        refused = _dead_letters(broker, ledger.dead_letter, 1)
        assert int(refused["the application answered 403"]["decouple.attempts"]) > 1
        assert read_records(mailer.records) == read_records(books.records) == []
    finally:
        mailer.consumer.stop()
        books.consumer.stop()


def test_the_callers_credential_travels_with_its_event_and_a_refused_one_is_final(
    broker: Broker, tmp_path: Path
) -> None:
    """The call sent the user's token; its event carries it, and the Flask hook checks it
    as it checked the call, with no credential of the consumer's own. A token the app
    refuses is the caller's: sending it again cannot help, so the event is dead-lettered
    at its first attempt instead of after minutes of retries."""
    mail = replace(topic_for(MAILER_SEND), headers=("authorization",))
    create_topics(broker, tmp_path, [mail], CLIENT)
    mailer = start_consumer(
        broker, tmp_path, "mailer", mail, CLIENT, "app", DECOUPLE_REQUEST_HEADERS="{}"
    )
    try:
        run_caller(
            broker,
            tmp_path,
            CLIENT,
            "notify_as",
            [
                [mail.name, {"user_id": 1, "template": "welcome"}, "internal-token"],
                [mail.name, {"user_id": 2, "template": "welcome"}, "expired-token"],
            ],
        )
        refused = _dead_letters(broker, mail.dead_letter, 1)
        dead = refused["the application answered 401 to the caller's credential"]
        assert dead["decouple.attempts"] == b"1"
        handled = wait_for(lambda: read_records(mailer.records), 20, "the first event")
        assert [entry["body"]["user_id"] for entry in handled] == [1]
    finally:
        mailer.consumer.stop()


IN_THREAD = """\
import json, signal, threading

from mailer.app import app
from mailer.{consumer} import SUBSCRIPTION
from mailer.decouple_runtime import consuming_in_thread

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with consuming_in_thread([SUBSCRIPTION], service="mailer"):
    stop.wait()
# The events updated the memory the HTTP side serves from.
auth = {{"Authorization": "Bearer internal-token"}}
print("OUTBOX", json.dumps(app.test_client().get("/outbox", headers=auth).json))
"""

IN_LIFESPAN = """\
import signal, threading
from contextlib import asynccontextmanager

from billing.api import app
from billing.{consumer} import SUBSCRIPTION
from billing.decouple_runtime import AsgiApp, consuming_in_lifespan

own_lifespan = app.router.lifespan_context


@asynccontextmanager
async def lifespan(app):
    async with own_lifespan(app):
        async with consuming_in_lifespan([SUBSCRIPTION], service="billing"):
            yield


app.router.lifespan_context = lifespan
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
server = AsgiApp(app)  # starts the lifespan, as uvicorn would
stop.wait()
server.close()
"""


@pytest.mark.parametrize("service", ["mailer", "billing"])
def test_the_consumer_runs_inside_the_services_process(
    broker: Broker, tmp_path: Path, service: str
) -> None:
    topic = topic_for(MAILER_SEND) if service == "mailer" else topic_for(BILLING_REFUND, "order_id")
    create_topics(broker, tmp_path, [topic], "confluent-kafka")
    callee = start_consumer(
        broker, tmp_path, service, topic, CLIENT, "app" if service == "mailer" else None
    )
    callee.consumer.kill()  # only its module and environment are used here
    module = callee.consumer.module.rpartition(".")[2]
    script = IN_THREAD if service == "mailer" else IN_LIFESPAN
    write(callee.consumer.cwd / service / "serve.py", script.format(consumer=module))
    server = ConsumerProcess(
        f"{service}.serve", callee.consumer.cwd, callee.consumer.env, tmp_path / "serve"
    )
    server.start()
    try:
        if service == "mailer":
            calls = [[topic.name, {"user_id": n}, f"r-{n}"] for n in range(3)]
            run_caller(broker, tmp_path, CLIENT, "notify", calls)
        else:
            calls = [[topic.name, str(n), {"n": n}] for n in range(3)]
            run_caller(broker, tmp_path, CLIENT, "cancel", calls)
        wait_for(lambda: len(read_records(callee.records)) >= 3, 30, "three events handled")
        assert server.terminate() == 0
        if service == "mailer":
            assert 'OUTBOX {"sent": 3}' in server.output()
        else:
            assert sorted(r["order_id"] for r in read_records(callee.records)) == [0, 1, 2]
    finally:
        server.stop()


def test_a_rebalance_in_the_middle_of_a_retry_loses_and_repeats_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    """Event 3 fails twice (503) with a long backoff; while the first consumer waits to
    retry it, a second one joins the group. Whoever owns event 3's partition afterwards
    retries it; every event is handled exactly once (the two share the SQLite store, as
    two consumers on one host do)."""
    topic = topic_for(MAILER_SEND)
    create_topics(broker, tmp_path, [topic], "confluent-kafka", partitions=2)
    slow_retries = {
        "DECOUPLE_RETRY_BASE_S": "1.5",
        "DECOUPLE_RETRY_CAP_S": "1.5",
        "DECOUPLE_RETRY_JITTER": "1",
        "DECOUPLE_RETRY_ATTEMPTS": "6",
        "E2E_HANDLER_DELAY_S": "0.05",
    }
    first = start_consumer(broker, tmp_path, "mailer", topic, CLIENT, "app", **slow_retries)
    second = ConsumerProcess(
        first.consumer.module, first.consumer.cwd, dict(first.consumer.env), tmp_path / "second"
    )
    failures = Path(str(first.records) + ".failures")
    try:
        events = [{"user_id": n, "template": "welcome"} for n in range(20)]
        events[3]["fail_times"] = 2
        run_caller(
            broker,
            tmp_path,
            CLIENT,
            "notify",
            [[topic.name, e, f"r-{n}"] for n, e in enumerate(events)],
        )
        wait_for(lambda: failures.exists() and failures.read_text().strip(), 30, "a retry")
        second.start()
        handled = wait_for(
            lambda: len(read_records(first.records)) >= 20 and read_records(first.records),
            60,
            "every event handled",
        )
        time.sleep(2)  # anything handled twice would show up by now
        counts = Counter(entry["body"]["user_id"] for entry in read_records(first.records))
        assert counts == Counter(range(20)), counts
        assert len(handled) == 20
        assert failures.read_text().split() == ["3", "3"]
        assert "revoked" in first.consumer.output() or "revoked" in second.output()
    finally:
        first.consumer.stop()
        second.stop()


def test_one_event_reaches_three_consumer_groups_through_three_frameworks(
    broker: Broker, tmp_path: Path
) -> None:
    """One topic, one send; the mailer (Flask), billing (FastAPI) and the ledger (Django)
    each consume it in a group of its own, and each handler takes from the event's data
    what it needs: the ledger its path parameter, which then leaves the body it gets."""
    name = f"shop.order-placed-{time.monotonic_ns()}"
    topics = [
        replace(topic_for(endpoint), name=name, dead_letter=f"{name}.dlq", path_params=params)
        for endpoint, params in (
            (MAILER_SEND, ()),
            (BILLING_INVOICES, ()),
            (LEDGER_ENTRIES, ("account_id",)),
        )
    ]
    create_topics(broker, tmp_path, topics[:1], CLIENT)
    callees = [
        start_consumer(broker, tmp_path, topic.callee, topic, CLIENT, "app" if n == 0 else None)
        for n, topic in enumerate(topics)
    ]
    try:
        placed = {"user_id": 7, "order_id": "o-9", "amount_cents": 1200, "account_id": 3}
        run_caller(broker, tmp_path, CLIENT, "notify", [[name, placed, "req-1"]])
        # The three handlers record into one file (it is named after the topic).
        records = callees[0].records
        wanted = {"send", "invoices", "invoice-sent", "entries"}
        wait_for(lambda: {r["endpoint"] for r in read_records(records)} >= wanted, 30, "all")
        by_endpoint = {r["endpoint"]: r for r in read_records(records)}
        mail, invoice, entry = (by_endpoint[e] for e in ("send", "invoices", "entries"))
        assert len(read_records(records)) == 4
        assert mail == {"endpoint": "send", "body": placed, "request_id": "req-1"}
        assert invoice["invoice"] == {"order_id": "o-9", "amount_cents": 1200, "currency": "EUR"}
        body = {k: v for k, v in placed.items() if k != "account_id"}
        assert (entry["account_id"], entry["entry"]) == (3, body)
    finally:
        for callee in callees:
            callee.consumer.stop()
