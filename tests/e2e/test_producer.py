"""The request path never waits on the broker longer than it waited on the HTTP call.

A migrated caller that had ``timeout=2`` runs against no configured broker, a broker that
is down, and one that accepts connections and never answers. Fire-and-forget sends return
at once; sends that wait for the acknowledgement give up within their bound and raise; ten
concurrent callers do not queue behind each other. A send that fails reaches the caller as
an error, or, once queued, the error log and the failure count.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer

from decouple_services.migrate.generate import render_producer, render_runtime
from decouple_services.migrate.spec import ProducerSpec

from .harness import Broker, free_port, python_env, run_python, write

pytestmark = pytest.mark.e2e

#: Runs one kind of send ``count`` times on as many threads (or tasks), and prints how
#: long each took and what it raised.
CALLER = """\
import asyncio, json, sys, threading, time

from shop import decouple_producer as producer
from shop import decouple_runtime

kind, count, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = {"user_id": 7, "blob": "x" * int(sys.argv[4])}
results = []
# A service takes requests a moment after it imported its producer module, whose clients
# connect meanwhile: a send at the very first instant would spend its bound connecting.
time.sleep(1)


def call():
    started = time.monotonic()
    try:
        if kind == "send":
            producer.send_event(topic, data)
        else:
            producer.send_event_and_wait(topic, data, timeout=2)
        error = None
    except producer.EventNotAccepted as exc:
        error = str(exc)
    results.append({"seconds": time.monotonic() - started, "error": error})


async def call_async():
    started = time.monotonic()
    try:
        if kind == "send_async":
            await producer.send_event_async(topic, data)
        else:
            await producer.send_event_and_wait_async(topic, data, timeout=2)
        error = None
    except producer.EventNotAccepted as exc:
        error = str(exc)
    results.append({"seconds": time.monotonic() - started, "error": error})


async def main_async():
    await asyncio.gather(*(call_async() for _ in range(count)))


if kind.endswith("_async"):
    asyncio.run(main_async())
else:
    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
producer.producer.flush(5)
print(json.dumps({"results": results, "failures": decouple_runtime.DELIVERY_FAILURES}))
"""


@pytest.fixture(scope="module")
def caller(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("caller")
    # its waiting sends have timeout=2, as the planner finds them
    spec = ProducerSpec(
        "shop",
        "shop/decouple_producer.py",
        "shop.decouple_producer",
        "confluent-kafka",
        True,
        wait_bounds=(2.0,),
    )
    write(root / "shop" / "__init__.py", "")
    write(root / "shop" / "decouple_producer.py", render_producer(spec))
    write(root / "shop" / "decouple_runtime.py", render_runtime())
    write(root / "caller.py", CALLER)
    write(root / "late_caller.py", LATE_CALLER)
    return root


@pytest.fixture(scope="module")
def black_hole() -> Iterator[str]:
    """A listener that accepts connections and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


def _call(
    caller: Path, env: dict[str, str], kind: str, count: int = 1, size: int = 10
) -> tuple[list[dict[str, object]], str, int]:
    done = run_python(
        ["caller.py", kind, str(count), "shop.events", str(size)], caller, env, timeout=60
    )
    printed = json.loads(done.stdout.splitlines()[-1])
    return printed["results"], done.stderr, printed["failures"]


def _unreachable(broker: Broker, where: str, black_hole: str) -> dict[str, str]:
    address = black_hole if where == "silent" else f"127.0.0.1:{free_port()}"
    env = python_env(broker, KAFKA_DELIVERY_TIMEOUT_MS="1500")
    env["KAFKA_BOOTSTRAP_SERVERS"] = address
    return env


@pytest.mark.parametrize("kind", ["send", "send_and_wait", "send_async", "send_and_wait_async"])
def test_without_bootstrap_servers_every_send_fails_at_once(
    broker: Broker, caller: Path, kind: str
) -> None:
    env = python_env(broker)
    del env["KAFKA_BOOTSTRAP_SERVERS"]
    (result,), _, _ = _call(caller, env, kind)
    assert result["seconds"] < 0.2
    assert "KAFKA_BOOTSTRAP_SERVERS is not set" in str(result["error"])


@pytest.mark.parametrize("where", ["down", "silent"])
def test_fire_and_forget_returns_at_once_and_a_lost_event_is_logged_and_counted(
    broker: Broker, caller: Path, black_hole: str, where: str
) -> None:
    env = _unreachable(broker, where, black_hole)
    for kind in ("send", "send_async"):
        results, stderr, failures = _call(caller, env, kind, count=10)
        assert all(r["error"] is None for r in results)
        assert max(float(r["seconds"]) for r in results) < 0.2, results  # type: ignore[arg-type]
        # Nothing disappears in silence: each event that was never delivered is logged.
        assert stderr.count("was not delivered") == failures == 10, stderr


@pytest.mark.parametrize("where", ["down", "silent"])
@pytest.mark.parametrize("kind", ["send_and_wait", "send_and_wait_async"])
def test_waiting_sends_give_up_within_the_old_timeout_without_queueing(
    broker: Broker, caller: Path, black_hole: str, where: str, kind: str
) -> None:
    """Ten concurrent callers, each with the 2 s the HTTP call had: each is back, with an
    error, within the 2 s, not after 2, 4, 6... as callers queued on a lock would be. The
    caller's wait is bounded whatever the client: their events stay queued 5 s (a leader
    election takes seconds), and the answer says the outcome is unknown."""
    results, _, _ = _call(caller, _unreachable(broker, where, black_hole), kind, count=10)
    seconds = [float(r["seconds"]) for r in results]  # type: ignore[arg-type]
    assert all(
        "no acknowledgement" in str(r["error"])
        or "may or may not be on the topic" in str(r["error"])
        for r in results
    ), results
    assert min(seconds) >= 0.9 and max(seconds) < 2.6, seconds


def test_a_send_the_broker_refuses_reaches_the_caller_as_an_error(
    broker: Broker, caller: Path
) -> None:
    # the topic exists, as the topic script makes it: creating it on the first send takes
    # this broker longer than the second the 2 s bound leaves for delivery
    _call(caller, python_env(broker), "send")
    (accepted,), _, _ = _call(caller, python_env(broker), "send_and_wait")
    assert accepted["error"] is None
    (refused,), _, _ = _call(caller, python_env(broker), "send_and_wait", size=2_000_000)
    assert "too large" in str(refused["error"]).lower(), refused
    (refused_at_once,), _, _ = _call(caller, python_env(broker), "send", size=2_000_000)
    assert "too large" in str(refused_at_once["error"]).lower(), refused_at_once


#: Sends one event that waits (2 s, as the HTTP call did) and one that does not, both at
#: once, says so by making the file its second argument names (the broker holds its
#: answers until then), then stays up long enough for anything still queued to be
#: delivered.
LATE_CALLER = """\
import json, pathlib, sys, time

from shop import decouple_producer as producer

topic, answered = sys.argv[1], pathlib.Path(sys.argv[2])
started = time.monotonic()
try:
    waited = producer.send_event_and_wait(topic, {"n": "waited"}, key="k", timeout=2)
    answer = message = None
except producer.EventNotAccepted as error:
    waited, answer, message = None, type(error).__name__, str(error)
seconds = time.monotonic() - started
queued = producer.send_event(topic, {"n": "queued"}, key="k")
answered.touch()
time.sleep(6)
# on a loaded machine the first connection and the producer id can outlast the sleep:
# wait for both events, so the test reads what was delivered, not how fast
left = producer.producer.flush(30)
print(json.dumps({"answer": answer, "message": message, "seconds": seconds, "queued": queued,
                  "left": left}))
"""


@dataclass
class SlowBroker:
    """A listener in front of the broker, and the file that lets it answer."""

    bootstrap: str
    answered: Path


@pytest.fixture
def slow_bootstrap(broker: Broker, tmp_path: Path) -> Iterator[SlowBroker]:
    """The broker behind a listener that holds each new connection until its caller has
    had its answer (``answered`` exists; 30 s at most), then passes it on: a broker slow
    to answer, for longer than the caller waited, which answers in the end. The broker's
    metadata names its own address, so only the first connection of each producer goes
    through here."""
    answered = tmp_path / "answered"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    host, port = broker.bootstrap.split(":")

    def pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def relay(client: socket.socket) -> None:
        deadline = time.monotonic() + 30
        while not answered.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        pipe(upstream, client)

    def accept() -> None:
        while True:
            try:
                client = server.accept()[0]
            except OSError:
                return
            threading.Thread(target=relay, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield SlowBroker(f"127.0.0.1:{server.getsockname()[1]}", answered)
    finally:
        server.close()


def _events(broker: Broker, topic: str, until: str) -> list[str]:
    """The ids of the events on ``topic``, read from the start until event ``until``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"read-{topic}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        ids: list[str] = []
        deadline = time.monotonic() + 20
        while until not in ids:
            assert time.monotonic() < deadline, f"{until} never came; read {ids}"
            record = consumer.poll(0.2)
            if record is not None and not record.error():
                ids.append(json.loads(record.value())["id"])
        return ids
    finally:
        consumer.close()


def test_an_event_whose_outcome_its_caller_was_told_is_unknown_lands_once_and_is_logged(
    broker: Broker, caller: Path, slow_bootstrap: SlowBroker
) -> None:
    """The broker answers only once the caller, who waited 2 s, was told within them that
    the outcome is unknown. The event stays queued 5 s (a leader election takes that
    long), so it lands once the broker answers, once, and its late delivery is logged: the
    answer "unknown" was true, and a caller that retries sends its idempotency key for the
    consumer to skip the copy. An event sent without waiting at the same moment is
    delivered too: the broker did come back.

    The broker answering at the caller's answer, not after a fixed hold, leaves the 3 s
    between the bound and the event's delivery timeout to the client: it still has to
    read the metadata, connect to the broker it names and get its producer id (librdkafka
    tries that every 500 ms) before it sends, which takes seconds on a loaded machine.
    The topic exists beforehand, as the topic script makes it, so its creation is not in
    those seconds either."""
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"shop.late-{free_port()}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    env = python_env(broker)
    env["KAFKA_BOOTSTRAP_SERVERS"] = slow_bootstrap.bootstrap
    done = run_python(
        ["late_caller.py", topic, str(slow_bootstrap.answered)], caller, env, timeout=60
    )
    printed = json.loads(done.stdout.splitlines()[-1])
    assert printed["answer"] == "EventOutcomeUnknown", done.stderr
    assert 1.0 <= printed["seconds"] < 2.6, printed
    assert printed["left"] == 0, done.stderr  # both events were delivered before it exited
    # a sentinel behind them on the same key's partition: everything before it has landed.
    # The generated producer partitions as the Java client does; librdkafka's own default
    # (crc32) would put "k" on the other partition, which a reader may finish first.
    sentinel = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random"})
    sentinel.produce(topic, json.dumps({"id": "sentinel"}).encode(), key=b"k")
    assert sentinel.flush(10) == 0
    landed = _events(broker, topic, "sentinel")
    assert landed[-1] == "sentinel" and len(landed) == 3, (landed, done.stderr)
    (waited,) = [i for i in landed[:2] if i != printed["queued"]]
    assert f"event {waited}" in printed["message"], printed
    assert f"event {waited} for {topic} was delivered after its caller stopped" in done.stderr
