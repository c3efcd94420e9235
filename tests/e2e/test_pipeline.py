"""The whole pipeline on a small repository: ``decouple migrate --write`` rewrites the shop's
HTTP calls; the generated consumer tests pass in the callees; then the rewritten functions
run, unchanged, against the broker and the generated consumers hand the mailer's Flask view
and billing's FastAPI handler exactly what the HTTP calls used to send.

The repository is tests/fixtures/e2e/repo (the shop and a docker-compose file) with the
fixture services mailer and billing copied into services/. Everything is found the way a
user finds it: the topic script and the consumers by their provenance header, each
consumer's command line from its own docstring.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decouple_services.migrate.generate import provenance_of

from .apps import CREDENTIALS
from .harness import (
    FAST_GROUP_ENV,
    FIXTURES,
    Broker,
    ConsumerProcess,
    python_env,
    read_records,
    run_python,
    wait_for,
)

pytestmark = pytest.mark.e2e

_RUN_LINE = re.compile(r"Run it next to the service, from (\S+):\n\n    python -m (\S+)")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "repo", root)
    for service in ("mailer", "billing"):
        shutil.copytree(FIXTURES / service, root / "services" / service)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "shop")
    return root


def _canonical(entry: object) -> str:
    return json.dumps(entry, sort_keys=True)


def _generated(repo: Path, what: str) -> list[Path]:
    found = []
    for path in sorted(repo.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if provenance_of(text) is not None and what in "".join(text.splitlines()[:2]):
            found.append(path)
    return found


def test_a_migrated_repository_delivers_what_its_http_calls_sent(
    broker: Broker, repo: Path, tmp_path: Path
) -> None:
    cli = "from decouple_services.cli import main; raise SystemExit(main())"
    migrate = subprocess.run(
        [sys.executable, "-c", cli, "migrate", str(repo), "--service", "shop", "--write"],
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "2 call site(s) -> 2 topic(s), 0 refused" in migrate.stderr
    shop = repo / "services" / "shop"
    # nothing caught either call's failure: each send waits for the broker and raises
    assert "send_event_and_wait(" in (shop / "shop" / "signup.py").read_text()
    assert "await send_event_and_wait_async(" in (shop / "shop" / "orders.py").read_text()

    # the generated consumer tests hand an event to the application: with the credentials
    # its consumer is given, as a service's test settings would give them
    for callee in ("mailer", "billing"):
        tests = run_python(
            ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            repo / "services" / callee,
            python_env(broker, DECOUPLE_REQUEST_HEADERS=CREDENTIALS),
        )
        assert " passed" in tests.stdout, tests.stdout

    (script,) = _generated(repo, "creates the Kafka topics")
    topics_env = python_env(broker, KAFKA_REPLICATION_FACTOR="1", KAFKA_TOPIC_PARTITIONS="1")
    created = run_python([str(script)], repo, topics_env).stdout
    assert "created  mailer.send" in created and "created  billing.orders-refund.dlq" in created

    consumers: list[ConsumerProcess] = []
    records = tmp_path / "handled.jsonl"
    try:
        for path in _generated(repo, "Kafka consumer of"):
            match = _RUN_LINE.search(path.read_text(encoding="utf-8"))
            assert match is not None, path
            import_root, module = match.groups()
            env = python_env(
                broker,
                **FAST_GROUP_ENV,
                E2E_RECORD_FILE=str(records),
                DECOUPLE_REQUEST_HEADERS=CREDENTIALS,
            )
            log = tmp_path / f"consumer-{module}"
            consumers.append(ConsumerProcess(module, repo / import_root, env, log).start())
        assert len(consumers) == 2

        user = {"id": 7, "email": "ada@example.com", "name": "Ada"}
        run_python(
            ["-c", f"from shop.signup import welcome; welcome({user!r}, 'req-42')"],
            shop,
            python_env(broker),
        )
        run_python(
            [
                "-c",
                "import asyncio; from shop.orders import cancel; asyncio.run(cancel(5, 'late'))",
            ],
            shop,
            python_env(broker),
        )

        handled = wait_for(
            lambda: len(read_records(records)) >= 2 and read_records(records),
            30,
            "both events handled",
        )
        assert sorted(handled, key=_canonical) == sorted(
            [
                {
                    "endpoint": "send",
                    "body": {"to": "ada@example.com", "template": "welcome", "user_id": 7},
                    "request_id": "req-42",
                },
                {"endpoint": "refund", "order_id": 5, "body": {"reason": "late"}, "notify": True},
            ],
            key=_canonical,
        )
    finally:
        for consumer in consumers:
            consumer.stop()


EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "events"


def test_one_domain_event_reaches_its_consumer_groups_through_the_generated_code(
    broker: Broker, tmp_path: Path
) -> None:
    """tests/fixtures/events: ``register`` tells emails (Flask), analytics (FastAPI, a model
    that forbids extra fields) and the cache (Flask, a path parameter and no body).
    ``migrate --event`` makes the three calls one send of the fact (the user's email and
    id, without the calls' constants); the one event it publishes reaches the three
    services, each in its own consumer group, each handler getting back exactly what its
    HTTP call used to send, its constants and key names included. Then ``migrate --subscribe`` adds audit, which nobody
    called, without touching the caller, and the next event reaches it too."""
    repo = tmp_path / "users-repo"
    shutil.copytree(EVENTS, repo, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "users")
    cli = "from decouple_services.cli import main; raise SystemExit(main())"
    scanned = subprocess.run(
        [sys.executable, "-c", cli, "scan", str(repo), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        check=True,
    )
    ids = [s["id"] for s in json.loads(scanned.stdout)["call_sites"]]
    assert len(ids) == 3
    selects = [arg for ident in ids for arg in ("--select", ident)]
    event = ("--event", "users.user-registered")
    migrate = subprocess.run(
        [sys.executable, "-c", cli, "migrate", str(repo), *event, *selects, "--write"],
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "3 call site(s) -> 1 topic(s), 0 refused" in migrate.stderr

    (script,) = _generated(repo, "creates the Kafka topics")
    topics_env = python_env(broker, KAFKA_REPLICATION_FACTOR="1", KAFKA_TOPIC_PARTITIONS="1")
    created = run_python([str(script)], repo, topics_env).stdout
    assert "created  users.user-registered (" in created
    assert "created  users.user-registered.analytics.dlq" in created

    consumers: list[ConsumerProcess] = []
    records = tmp_path / "handled.jsonl"
    groups = set()
    try:
        for path in _generated(repo, "Kafka consumer of"):
            text = path.read_text(encoding="utf-8")
            match = _RUN_LINE.search(text)
            assert match is not None, path
            groups.add(re.search(r'group="([^"]+)"', text).group(1))  # type: ignore[union-attr]
            import_root, module = match.groups()
            env = python_env(broker, **FAST_GROUP_ENV, E2E_RECORD_FILE=str(records))
            log = tmp_path / f"consumer-{module}"
            consumers.append(ConsumerProcess(module, repo / import_root, env, log).start())
        assert groups == {
            "emails.users.user-registered",
            "analytics.users.user-registered",
            "cache.users.user-registered",
        }

        run_python(
            [
                "-c",
                "from users.registration import register; register(7, 'ada@example.com', 'Ada')",
            ],
            repo / "services" / "users",
            python_env(broker),
        )
        handled = wait_for(
            lambda: len(read_records(records)) >= 3 and read_records(records),
            30,
            "the event handled by the three services",
        )
        assert sorted(handled, key=_canonical) == sorted(
            [
                {
                    "service": "emails",
                    "body": {"to": "ada@example.com", "template": "welcome", "user_id": 7},
                },
                {"service": "analytics", "body": {"name": "user_registered", "user_id": 7}},
                {"service": "cache", "user_id": 7, "body": ""},
            ],
            key=_canonical,
        )
        time.sleep(1)  # one event, one delivery per group: nothing more comes
        assert len(read_records(records)) == 3

        caller = (repo / "services/users/users/registration.py").read_bytes()
        # the event carries the user's email as `email`; audit's handler reads it as `to`
        audit = ["--service", "audit", "--endpoint", "POST /users/{user_id}/audit"]
        audit += ["--field", "to=email"]
        subscribe = subprocess.run(
            [
                sys.executable,
                "-c",
                cli,
                "migrate",
                str(repo),
                "--subscribe",
                event[1],
                *audit,
                "--write",
                "--allow-dirty",
            ],
            capture_output=True,
            text=True,
        )
        assert subscribe.returncode == 0, subscribe.stderr
        assert (repo / "services/users/users/registration.py").read_bytes() == caller
        run_python([str(script)], repo, topics_env)  # the audit dead-letter topic
        (module,) = [p for p in _generated(repo, "Kafka consumer of") if "audit" in p.parts]
        match = _RUN_LINE.search(module.read_text(encoding="utf-8"))
        assert match is not None
        env = python_env(broker, **FAST_GROUP_ENV, E2E_RECORD_FILE=str(records))
        started = ConsumerProcess(match[2], repo / match[1], env, tmp_path / "consumer-audit")
        consumers.append(started.start())
        run_python(
            ["-c", "from users.registration import register; register(8, 'bo@example.com', 'Bo')"],
            repo / "services" / "users",
            python_env(broker),
        )
        later = wait_for(
            lambda: len(read_records(records)) >= 8 and read_records(records)[3:],
            30,
            "the second event handled by the four services",
        )
        assert sorted(r["service"] for r in later) == [
            "analytics", "audit", "audit", "cache", "emails",
        ]  # fmt: skip
        # A new group starts from the oldest event the topic keeps (KAFKA_AUTO_OFFSET_RESET):
        # audit catches up on the registration before it subscribed, then takes the new one.
        audited = sorted((r for r in later if r["service"] == "audit"), key=lambda r: r["user_id"])
        assert audited == [
            {"service": "audit", "user_id": 7, "body": {"to": "ada@example.com"}},
            {"service": "audit", "user_id": 8, "body": {"to": "bo@example.com"}},
        ]
    finally:
        for consumer in consumers:
            consumer.stop()
