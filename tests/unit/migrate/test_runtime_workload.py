"""The generated runtime running several subscriptions in one process, without a broker:
one consumer (one group, one client) per subscription on a thread each, one shutdown on
SIGTERM, one liveness file that only ages while any loop is stuck, and a loop that dies
taking the process down non-zero so that its orchestrator restarts it."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from decouple_services.migrate.generate import render_runtime


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("runtime")
    target = folder / "decouple_runtime_workload.py"
    target.write_text(render_runtime(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(target.stem, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[target.stem] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    yield module
    del sys.modules[target.stem]


@pytest.fixture(autouse=True)
def _signals() -> Iterator[None]:
    """The runner installs SIGTERM and SIGINT handlers (and resets them to the default
    after a first signal): put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


class Loop:
    """A stand-in for the runtime's Consumer: its loop turns (beating) until stopped, or
    raises ``dies`` after ``after`` seconds; what happened is kept for the test."""

    def __init__(self, group: str, dies: BaseException | None = None, after: float = 0.1):
        self.group, self.dies, self.after = group, dies, after
        self.subscriptions: dict[str, Any] = {group: None}
        self.stopping = threading.Event()
        self.heart: Any = None
        self.closed = False
        self.beats = 0

    def run(self) -> None:
        started = time.monotonic()
        try:
            while not self.stopping.is_set():
                if self.dies is not None and time.monotonic() - started > self.after:
                    raise self.dies
                self.beats += 1
                if self.heart is not None:
                    self.heart.beat(self)
                time.sleep(0.01)
        finally:
            self.closed = True  # the real one commits, leaves its group, closes

    def stop(self) -> None:
        self.stopping.set()


def _kill_soon(delay: float = 0.3) -> None:
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM)).start()


def test_sigterm_stops_every_loop_and_the_runner_returns(runtime: ModuleType) -> None:
    loops = [Loop("orders.created"), Loop("orders.paid")]
    _kill_soon()
    runtime.run_consumers(loops)  # returns: a clean stop
    assert all(loop.closed and loop.stopping.is_set() and loop.beats for loop in loops)
    # a second signal is not caught again: it stops the process at once
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_loop_that_dies_stops_the_others_and_raises(runtime: ModuleType) -> None:
    dying = Loop("orders.paid", dies=RuntimeError("broker: fatal"))
    other = Loop("orders.created")
    with pytest.raises(RuntimeError, match=r"orders\.paid stopped: broker: fatal"):
        runtime.run_consumers([other, dying])
    assert other.closed and other.stopping.is_set()


def test_a_loop_that_returns_without_a_stop_is_a_failure(runtime: ModuleType) -> None:
    class Returns(Loop):
        def run(self) -> None:
            self.closed = True

    other = Loop("a")
    with pytest.raises(RuntimeError, match="of b stopped"):
        runtime.run_consumers([other, Returns("b")])
    assert other.closed


def _subscription(runtime: ModuleType, topic: str, group: str) -> Any:
    return runtime.Subscription(
        topic=topic, group=group, dead_letter=f"{topic}.dlq", target="", kind="none"
    )


def test_main_gives_each_group_its_own_consumer_and_exits_1_when_one_dies(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[list[str], str | None]] = []

    def consumer(subscriptions: Any, *, service: str, store: Any, instance_id: Any) -> Loop:
        made.append(([s.topic for s in subscriptions], instance_id))
        group = subscriptions[0].group
        return Loop(group, dies=RuntimeError("gone") if group == "g-paid" else None)

    monkeypatch.setattr(runtime, "Consumer", consumer)
    monkeypatch.setenv("DECOUPLE_GROUP_INSTANCE_ID", "pod-0")
    subscriptions = [
        _subscription(runtime, "orders.created", "g-created"),
        _subscription(runtime, "orders.paid", "g-paid"),
    ]
    assert runtime.main(subscriptions, service="orders") == 1
    # one id may not be two members: each group's member gets its own
    assert made == [
        (["orders.created"], "pod-0-g-created"),
        (["orders.paid"], "pod-0-g-paid"),
    ]


def test_one_group_override_is_refused_for_several_groups(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECOUPLE_CONSUMER_GROUP", "mine")
    subscriptions = [_subscription(runtime, "a", "ga"), _subscription(runtime, "b", "gb")]
    with pytest.raises(ValueError, match="DECOUPLE_CONSUMER_GROUP names one group"):
        runtime.run(subscriptions, service="s")


def test_the_liveness_file_is_touched_only_once_every_loop_has_beaten(
    runtime: ModuleType, tmp_path: Path
) -> None:
    alive = tmp_path / "alive"
    first, second = Loop("a"), Loop("b")
    heart = runtime._Heart(str(alive), [first, second])
    heart.beat(first)
    heart.beat(first)
    assert not alive.exists()  # b is stuck (or gone): the file ages
    heart.beat(second)
    assert alive.exists()
    alive.unlink()
    heart.beat(second)
    assert not alive.exists()
    heart.beat(first)
    assert alive.exists()


def test_the_consumers_liveness_goes_through_the_heart_when_it_has_one(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive = tmp_path / "alive"
    monkeypatch.setenv("DECOUPLE_LIVENESS_FILE", str(alive))
    consumer = runtime.Consumer(
        [_subscription(runtime, "a", "ga")], service="s", store=runtime.MemoryStore()
    )
    consumer.heart = runtime._Heart(str(alive), [consumer, Loop("b")])
    consumer._beat()
    assert not alive.exists()  # the other loop has not beaten: not the consumer's own touch


def test_a_package_runs_the_subscription_of_each_of_its_modules(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "svc_workload" / "decouple_consumers"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    for module, topic in (("orders_paid", "orders.paid"), ("orders_created", "orders.created")):
        (package / f"{module}.py").write_text(
            f"from {runtime.__name__} import Subscription\n"
            f"SUBSCRIPTION = Subscription(topic={topic!r}, group={topic!r},"
            f" dead_letter='x', target='', kind='none')\n"
        )
    # a servicer factory's module sits beside them: no subscription, not a consumer
    (package / "servicer_payment.py").write_text("def build_servicer(): ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "svc_workload.decouple_consumers"
    found = runtime.package_subscriptions(name)
    assert [s.topic for s in found] == ["orders.created", "orders.paid"]
    assert [s.topic for s in runtime.package_subscriptions(name, ["orders_paid"])] == [
        "orders.created"
    ]
    assert [s.topic for s in runtime.package_subscriptions(name, ["orders.created"])] == [
        "orders.paid"
    ]
    ran: list[list[str]] = []
    monkeypatch.setattr(runtime, "main", lambda subs, service: ran.append([s.topic for s in subs]))
    monkeypatch.setenv("DECOUPLE_SKIP_CONSUMERS", "orders.paid")
    runtime.main_package(name, service="svc", argv=[])
    assert ran == [["orders.created"]]
    assert runtime.main_package(name, service="svc", argv=["--skip", "orders_created"]) == 1


def test_every_topic_is_claimed_before_any_loop_starts_the_application(
    runtime: ModuleType,
) -> None:
    """The application's lifespan may hold ``consuming_in_lifespan`` for all the service's
    topics: started by the first loop, it must find every topic consumed here already, or
    it would make the process a second member of the other topics' groups."""
    seen: list[bool] = []
    subscriptions = [_subscription(runtime, "a", "a"), _subscription(runtime, "b", "b")]

    class Starting(Loop):
        def run(self) -> None:
            seen.append(runtime._consumed_here(subscriptions))
            super().run()

    class Late(Loop):
        def run(self) -> None:
            time.sleep(0.2)  # has not registered its topic when the other asks
            super().run()

    _kill_soon(0.5)
    runtime.run_consumers([Starting("a"), Late("b")])
    assert seen == [True]


def test_one_topics_slow_call_does_not_queue_anothers_behind_it(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two loops share the service's synchronous application (one per process): each gets
    a handler thread of its own, as each had in a process of its own."""
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "5")
    worker = runtime._Worker()
    release, running = threading.Event(), threading.Event()

    def slow_call() -> None:
        running.set()
        release.wait(5)

    slow = threading.Thread(target=worker.run, args=(slow_call,))
    slow.start()
    try:
        assert running.wait(5)
        started = time.monotonic()
        assert worker.run(lambda: "fast") == "fast"
        assert time.monotonic() - started < 1  # not behind the slow call
    finally:
        release.set()
        slow.join(5)
        worker.close()
