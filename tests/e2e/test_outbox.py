"""``decouple migrate --outbox`` on a Django service and a Flask + SQLAlchemy service, run for
real: the request's data and its outbox row commit together, a rollback keeps neither, the
generated relay sends the row to the broker and the mailer's generated consumer hands it to
the mailer's Flask view; with the broker down the request still succeeds and the event
arrives once the broker is back.

The repository is tests/fixtures/e2e/outbox_repo (store: Django on SQLite, depot: Flask
with SQLAlchemy on SQLite) with the fixture service mailer copied into services/. It is
migrated once for the module; each test has databases of its own.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .apps import CREDENTIALS
from .harness import (
    FAST_GROUP_ENV,
    FIXTURES,
    Broker,
    ConsumerProcess,
    python_env,
    read_records,
    read_topic,
    run_python,
    start_broker,
    wait_for,
)

pytestmark = pytest.mark.e2e

_STORE_REQUEST = """
import json, sys
import django
django.setup()
from django.test import Client
answer = Client().post("/orders", data=sys.argv[1], content_type="application/json")
print(answer.status_code)
"""
_DEPOT_REQUEST = """
import json, sys
from depot.app import Base, app, engine
Base.metadata.create_all(engine)
answer = app.test_client().post("/shipments", json=json.loads(sys.argv[1]))
print(answer.status_code)
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outbox") / "repo"
    shutil.copytree(FIXTURES / "outbox_repo", root)
    shutil.copytree(FIXTURES / "mailer", root / "services" / "mailer")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "shop")
    cli = "from decouple_services.cli import main; raise SystemExit(main())"
    services = ["--service", "store", "--service", "depot"]
    migrate = subprocess.run(
        [sys.executable, "-c", cli, "migrate", str(root), *services, "--outbox", "--write"],
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "2 call site(s) -> 1 topic(s), 0 refused" in migrate.stderr, migrate.stderr
    assert "send_via_outbox(\n" in (root / "services/store/store/views.py").read_text()
    assert (
        "send_via_outbox(\n        session," in (root / "services/depot/depot/app.py").read_text()
    )
    return root


class Store:
    """The Django service: its database migrated (the generated outbox app included)."""

    def __init__(self, repo: Path, broker: Broker, database: Path) -> None:
        self.root = repo / "services" / "store"
        self.database = database
        self.env = python_env(
            broker, DJANGO_SETTINGS_MODULE="storesite.settings", STORE_DB=str(database)
        )
        run_python(["manage.py", "migrate", "--noinput"], self.root, self.env)

    def order(self, email: str, item: str) -> int:
        body = json.dumps({"email": email, "item": item})
        return int(run_python(["-c", _STORE_REQUEST, body], self.root, self.env).stdout)

    def relay(self, *args: str, env: dict[str, str] | None = None) -> str:
        module = "store.decouple_runtime"
        return run_python(["-m", module, "relay", *args], self.root, env or self.env).stdout

    def rows(self, table: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()

    def orders(self) -> list[str]:
        return [str(row[1]) for row in self.rows("store_order")]


class Depot:
    """The Flask + SQLAlchemy service, with the outbox table made by the runtime's command."""

    def __init__(self, repo: Path, broker: Broker, database: Path) -> None:
        self.root = repo / "services" / "depot"
        self.database = database
        self.url = f"sqlite:///{database}"
        self.env = python_env(broker, DEPOT_DB_URL=self.url)
        module = "depot.decouple_runtime"
        run_python(["-m", module, "outbox-table", "--url", self.url], self.root, self.env)

    def ship(self, email: str, item: str) -> int:
        body = json.dumps({"email": email, "item": item})
        return int(run_python(["-c", _DEPOT_REQUEST, body], self.root, self.env).stdout)

    def relay(self, *args: str) -> str:
        module = "depot.decouple_runtime"
        return run_python(
            ["-m", module, "relay", "--url", self.url, *args], self.root, self.env
        ).stdout

    def rows(self, table: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()

    def orders(self) -> list[str]:
        return [str(row[1]) for row in self.rows("shipments")]


def _outbox(service: Store | Depot) -> list[dict[str, object]]:
    with sqlite3.connect(service.database) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM decouple_outbox ORDER BY id").fetchall()
    return [dict(row) for row in rows]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker of this module's own: the events these tests leave on mailer.send must not
    reach the consumers other modules start on the session's broker."""
    running = start_broker(tmp_path_factory.mktemp("outbox-broker"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def mailer(repo: Path, broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The topics created and the mailer's generated consumer running; yields the file the
    mailer's view records each mail it handles in."""
    scratch = tmp_path_factory.mktemp("mailer")
    topics_env = python_env(broker, KAFKA_REPLICATION_FACTOR="1", KAFKA_TOPIC_PARTITIONS="1")
    run_python([str(repo / "decouple" / "create_topics.py")], repo, topics_env)
    records = scratch / "handled.jsonl"
    env = python_env(
        broker,
        **FAST_GROUP_ENV,
        E2E_RECORD_FILE=str(records),
        DECOUPLE_REQUEST_HEADERS=CREDENTIALS,
        DECOUPLE_CONSUMER_GROUP=f"outbox-e2e-{uuid.uuid4().hex[:8]}",
        DECOUPLE_IDEMPOTENCY_DB=str(scratch / "handled.sqlite"),
    )
    consumer = ConsumerProcess(
        "mailer.decouple_consumers.mailer_send",
        repo / "services" / "mailer",
        env,
        scratch / "consumer",
    ).start()
    try:
        yield records
    finally:
        consumer.stop()


def _mails_to(records: Path, email: str) -> list[dict[str, object]]:
    return [r["body"] for r in read_records(records) if r["body"].get("to") == email]


@pytest.mark.parametrize("kind", ["django", "sqlalchemy"])
def test_the_request_commits_its_data_and_event_together_and_the_relay_delivers_it(
    kind: str, repo: Path, broker: Broker, mailer: Path, tmp_path: Path
) -> None:
    service: Store | Depot
    if kind == "django":
        service = Store(repo, broker, tmp_path / "store.sqlite3")
        act = service.order
        kept, undone, template = "cup", "sold-out", "order"
    else:
        service = Depot(repo, broker, tmp_path / "depot.sqlite3")
        act = service.ship
        kept, undone, template = "lamp", "fragile", "shipped"
    email = f"{kind}-{uuid.uuid4().hex[:8]}@example.com"

    assert act(email, kept) == 201
    assert act(email, undone) == 409
    # One order, one event: the rolled-back request wrote neither.
    assert service.orders() == [email]
    (row,) = _outbox(service)
    assert row["topic"] == "mailer.send" and row["sent_at"] is None
    envelope = json.loads(str(row["value"]))
    assert envelope["type"] == "mailer.send.v1"
    assert envelope["data"] == {"to": email, "template": template, "user_id": 1}

    assert "sent 1, failed 0" in service.relay("--once")
    (row,) = _outbox(service)
    assert row["sent_at"] is not None and row["lease_owner"] is None

    mails = wait_for(lambda: _mails_to(mailer, email), 30, f"the mail to {email}")
    assert mails == [{"to": email, "template": template, "user_id": 1}]
    # Nothing is left to send: a second pass sends nothing again.
    assert "sent 0, failed 0" in service.relay("--once")


def test_with_the_broker_down_the_request_succeeds_and_the_event_follows_the_broker_back(
    repo: Path, tmp_path: Path
) -> None:
    broker = start_broker(tmp_path)
    port = int(broker.bootstrap.rsplit(":", 1)[1])
    relay: subprocess.Popen[bytes] | None = None
    try:
        store = Store(repo, broker, tmp_path / "store.sqlite3")
        broker.stop()
        email = f"down-{uuid.uuid4().hex[:8]}@example.com"

        assert store.order(email, "cup") == 201
        assert store.orders() == [email]

        env = dict(store.env, KAFKA_DELIVERY_TIMEOUT_MS="1500", DECOUPLE_OUTBOX_RETRY_S="0.2")
        log = (tmp_path / "relay.log").open("wb")
        relay = subprocess.Popen(
            [sys.executable, "-m", "store.decouple_runtime", "relay", "--interval", "0.2"],
            cwd=store.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # The relay tries, fails, and keeps the row for later.
        wait_for(lambda: int(_outbox(store)[0]["attempts"]) >= 1, 30, "a failed delivery")
        assert _outbox(store)[0]["sent_at"] is None

        broker = start_broker(tmp_path, port)
        topics_env = python_env(broker, KAFKA_REPLICATION_FACTOR="1", KAFKA_TOPIC_PARTITIONS="1")
        run_python([str(repo / "decouple" / "create_topics.py")], repo, topics_env)
        wait_for(lambda: _outbox(store)[0]["sent_at"] is not None, 60, "the row sent")
        (record,) = read_topic(broker, "mailer.send", 1)
        assert json.loads(record.value)["data"]["to"] == email
    finally:
        if relay is not None:
            relay.terminate()
            relay.wait(20)
        broker.stop()
