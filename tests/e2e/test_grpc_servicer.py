"""A gRPC servicer built by an async factory, through the broker: the consumer awaits the
factory once, at start, on the loop where the servicer's coroutines then run (its pool
serves only that loop), and closes what the factory opened when it stops."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from decouple_services.migrate.generate import render_servicer_factory
from decouple_services.migrate.servicers import Bootstrap, derive_servicer_factory

from .apps import INVITES_INVITE, create_topics, run_caller, start_consumer, topic_for
from .harness import FIXTURES, Broker, copy_service, read_records, read_topic, wait_for, write

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


def _generated_factory(tmp_path: Path) -> str:
    """The factory module decouple generates from ``serve()`` (``invites/main.py``),
    written into a copy of the service; its module's name."""
    source = FIXTURES / "invites"

    def read(path: str) -> bytes | None:
        target = source / path
        return target.read_bytes() if target.is_file() else None

    bootstrap = derive_servicer_factory(
        INVITES_INVITE,
        repo_root=str(source),
        service_root=".",
        read=read,
        module_of=lambda path: path.removesuffix(".py").replace("/", "."),
    )
    assert isinstance(bootstrap, Bootstrap), bootstrap
    assert bootstrap.kind == "context"
    assert bootstrap.interceptor_items == ("AuthInterceptor()", "ErrorInterceptor()")
    root = copy_service("invites", tmp_path)
    module = "invites.decouple_consumers.servicer_invite_service"
    path = module.replace(".", "/") + ".py"
    write(root / "invites" / "decouple_consumers" / "__init__.py", "")
    write(root / path, render_servicer_factory(bootstrap, path, module))
    return module


def test_a_factory_generated_from_the_servers_bootstrap_opens_handles_and_closes(
    broker: Broker, tmp_path: Path
) -> None:
    """No factory named: decouple mirrors ``serve()`` (``invites/main.py``), which opens
    the process's pool and builds the servicer with it, and the ``finally:`` of ``main()``
    around it, which closes the pool. The consumer runs that factory: the pool is opened
    once before the first event, on the loop the servicer's calls then run on, and closed
    when the consumer stops."""
    module = _generated_factory(tmp_path)
    topic = topic_for(INVITES_INVITE)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker, tmp_path, "invites", topic, CLIENT, servicer_factory=f"{module}:build_servicer"
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
        assert f"the servicer {module}:build_servicer built is ready" in output, output
        assert "Traceback" not in output, output
        assert read_records(callee.records) == [
            {"event": "opened"},
            {"event": "invited", "email": "a@example.com"},
            {"event": "invited", "email": "b@example.com"},
            {"event": "closed"},
        ]
    finally:
        callee.consumer.stop()


def test_the_servers_generated_interceptors_authenticate_and_map_errors_for_events(
    broker: Broker, tmp_path: Path
) -> None:
    """The interceptors ``serve()`` gives its ``grpc.aio`` server, generated beside the
    factory: the auth hook rejects the event whose call carried another token
    (UNAUTHENTICATED), and the error-mapping one turns the repository's ``LookupError``
    into NOT_FOUND, which is dead-lettered at once where the bare exception would be
    retried; the events around them are handled."""
    module = _generated_factory(tmp_path)
    # the caller's own Authorization travels with its events, and no credential of the
    # consumer's own stands in for it
    topic = replace(topic_for(INVITES_INVITE), headers=("Authorization",))
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "invites",
        topic,
        CLIENT,
        servicer_factory=f"{module}:build_servicer",
        servicer_interceptors=f"{module}:build_interceptors",
        DECOUPLE_REQUEST_HEADERS="{}",
        DECOUPLE_RETRY_ATTEMPTS="3",
        DECOUPLE_RETRY_BASE_S="0.2",
        DECOUPLE_RETRY_CAP_S="0.2",
        DECOUPLE_RETRY_JITTER="0",
    )
    try:
        calls = [
            [topic.name, {"email": "a@example.com"}, "caller-token"],
            [topic.name, {"email": "intruder@example.com"}, "stolen-token"],
            [topic.name, {"email": "missing@example.com"}, "caller-token"],
            [topic.name, {"email": "c@example.com"}, "caller-token"],
        ]
        run_caller(broker, tmp_path, CLIENT, "notify_as", calls)
        dead = read_topic(broker, topic.dead_letter, 2, timeout=60)
        assert [b"intruder@" in d.value for d in dead] == [True, False]
        assert b"missing@" in dead[1].value
        wait_for(
            lambda: {"event": "invited", "email": "c@example.com"} in read_records(callee.records),
            30,
            "the last invitation",
        )
        assert callee.consumer.terminate() == 0
        output = callee.consumer.output()
        assert f"2 interceptors of {module}:build_interceptors run" in output, output
        assert "UNAUTHENTICATED" in output and "NOT_FOUND" in output, output
        assert read_records(callee.records) == [
            {"event": "opened"},
            {"event": "invited", "email": "a@example.com"},
            # once: NOT_FOUND is final, where the LookupError itself would be retried
            {"event": "looked-up", "email": "missing@example.com"},
            {"event": "invited", "email": "c@example.com"},
            {"event": "closed"},
        ]
    finally:
        callee.consumer.stop()


def test_an_async_servicers_call_past_the_handler_timeout_is_cancelled_and_retried(
    broker: Broker, tmp_path: Path
) -> None:
    """A call stuck on a downstream is cancelled on the servicer's loop at
    ``DECOUPLE_HANDLER_TIMEOUT_S``, each attempt, and the event dead-lettered after its
    attempts (nothing of it runs on); the next event is handled, and the pool is closed
    after the calls ended."""
    topic = topic_for(INVITES_INVITE)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "invites",
        topic,
        CLIENT,
        servicer_factory="invites.server:make_servicer",
        DECOUPLE_HANDLER_TIMEOUT_S="1",
        DECOUPLE_RETRY_ATTEMPTS="2",
        DECOUPLE_RETRY_BASE_S="0.3",
        DECOUPLE_RETRY_CAP_S="0.3",
        DECOUPLE_RETRY_JITTER="0",
    )
    try:
        calls = [
            [topic.name, {"email": "stuck@example.com"}, "r-1"],
            [topic.name, {"email": "b@example.com"}, "r-2"],
        ]
        run_caller(broker, tmp_path, CLIENT, "notify", calls)
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=60)
        assert b"stuck@example.com" in dead.value
        wait_for(
            lambda: {"event": "invited", "email": "b@example.com"} in read_records(callee.records),
            30,
            "the next invitation",
        )
        assert callee.consumer.terminate() == 0
        output = callee.consumer.output()
        assert "failed for good" in output and "did not answer within 1 s" in output, output
        stuck = {"email": "stuck@example.com"}
        records = read_records(callee.records)
        # each attempt cancelled (the retry came through the retry topic; the next event
        # went on meanwhile), and the pool closed after the calls ended
        assert [entry for entry in records if entry.get("email") == stuck["email"]] == [
            {"event": "started", **stuck},
            {"event": "cancelled", **stuck},
        ] * 2
        assert records[0] == {"event": "opened"} and records[-1] == {"event": "closed"}
    finally:
        callee.consumer.stop()


def test_the_generated_auth_interceptor_refusing_the_consumers_own_token_retries_events(
    broker: Broker, tmp_path: Path
) -> None:
    """The consumer's own credential rotated: the server's generated auth interceptor
    answers UNAUTHENTICATED to every event. That is one bad setting, not bad events: each
    is retried through its tiers, as an HTTP app's 401 is, and reaches the dead-letter
    topic only after its attempts, instead of the topic emptying into it at once."""
    module = _generated_factory(tmp_path)
    topic = topic_for(INVITES_INVITE)  # no forwarded header: the consumer's own counts
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "invites",
        topic,
        CLIENT,
        servicer_factory=f"{module}:build_servicer",
        servicer_interceptors=f"{module}:build_interceptors",
        DECOUPLE_REQUEST_HEADERS='{"Authorization": "Bearer rotated-token"}',
        DECOUPLE_RETRY_ATTEMPTS="3",
        DECOUPLE_RETRY_TIERS="0.3,0.3,0.3",
        DECOUPLE_RETRY_JITTER="0",
    )
    try:
        calls = [[topic.name, {"email": f"u{n}@example.com"}, f"r-{n}"] for n in range(3)]
        run_caller(broker, tmp_path, CLIENT, "notify", calls)
        dead = read_topic(broker, topic.dead_letter, 3, timeout=60)
        assert sorted(dict(d.headers)["decouple.attempts"] for d in dead) == [b"3"] * 3
        output = callee.consumer.output()
        assert "401 (UNAUTHENTICATED" in output, output
        assert output.count(f"through {topic.name}.retry") >= 3, output
        assert not any(r.get("event") == "invited" for r in read_records(callee.records))
    finally:
        callee.consumer.stop()


SLOW_CLEANUP = """\
        if email.startswith("slow-cleanup"):  # its cancellation awaits a slow cleanup
            record({"event": "started", "email": email})
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(3)
                record({"event": "cleaned-up", "email": email})
                raise
"""


def test_an_event_whose_cancelled_call_outlives_the_grace_goes_to_its_tier_once_it_ends(
    broker: Broker, tmp_path: Path
) -> None:
    """A cancelled coroutine whose cleanup outlasts the grace holds its partition until
    it has ended (never two runs of one event at once), then its event goes to its retry
    tier: the events without a key behind it are handled then, not after all its later
    attempts."""
    root = copy_service("invites", tmp_path)
    server = root / "invites" / "server.py"
    anchor = '        if email.startswith("stuck"):'
    text = server.read_text()
    assert anchor in text
    server.write_text(text.replace(anchor, SLOW_CLEANUP + anchor))
    topic = topic_for(INVITES_INVITE)
    create_topics(broker, tmp_path, [topic], CLIENT, partitions=1)
    callee = start_consumer(
        broker,
        tmp_path,
        "invites",
        topic,
        CLIENT,
        servicer_factory="invites.server:make_servicer",
        DECOUPLE_HANDLER_TIMEOUT_S="1",
        DECOUPLE_RETRY_ATTEMPTS="3",
        DECOUPLE_RETRY_TIERS="0.3,0.3,0.3",
        DECOUPLE_RETRY_JITTER="0",
    )
    try:
        slow = "slow-cleanup@example.com"
        others = [f"b{n}@example.com" for n in range(5)]
        calls = [[topic.name, {"email": slow}, "r-0"]] + [
            [topic.name, {"email": email}, f"r-{n + 1}"] for n, email in enumerate(others)
        ]
        run_caller(broker, tmp_path, CLIENT, "notify", calls)
        (dead,) = read_topic(broker, topic.dead_letter, 1, timeout=90)
        assert slow.encode() in dead.value
        wait_for(
            lambda: sum(r.get("event") == "cleaned-up" for r in read_records(callee.records)) == 3,
            30,
            "the last cleanup",
        )
        events = [
            (r["event"], r["email"])
            for r in read_records(callee.records)
            if r.get("email") in (slow, *others)
        ]
        # the attempts one after another, each after the previous one's cleanup ended
        assert [e for e in events if e[1] == slow] == [
            ("started", slow),
            ("cleaned-up", slow),
        ] * 3
        # the others handled once the first call ended, before the second attempt began
        second = [n for n, e in enumerate(events) if e == ("started", slow)][1]
        invited = [n for n, e in enumerate(events) if e[0] == "invited"]
        assert len(invited) == 5 and max(invited) < second, events
        output = callee.consumer.output()
        assert "goes to its retry topic once the call that timed out has ended" in output
        assert f"the events without a key of {topic.name}/0 behind it" in output, output
    finally:
        callee.consumer.stop()
