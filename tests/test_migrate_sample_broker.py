"""The migrated sample's own caller code against a real Kafka-protocol broker (Tansu).

The sample is migrated with ``--write``; the generated topic script creates the topics; then
the rewritten functions run as the services would run them (``payments.order_events``,
``emails.tracking``, ``orders.receipts``, and ``orders.events`` in ``async def`` through
the same producer). Each topic must carry exactly the payloads the HTTP calls sent, in the
envelope, with the path parameters the urls carried. The consumers' side is tested in tests/e2e.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.harness import Broker, python_env, read_topic, run_python, start_broker

from decouple_services.app.migrate import EXIT_OK, MigrateCommand, run_migrate_command

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
SERVICES = ("emails", "frontend", "notifications", "orders", "payments", "users")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = start_broker(tmp_path_factory.mktemp("broker"))
    try:
        yield running
    finally:
        running.stop()


def _migrated(tmp_path: Path, client: str) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache", "__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    command = MigrateCommand(
        path=root,
        services=SERVICES,
        client=client,
        topic_template=f"{client}.{{callee}}.{{endpoint}}",
        write=True,
        allow_dirty=True,
        use_cache=False,
    )
    assert run_migrate_command(command, stdout=io.BytesIO(), stderr=io.StringIO()) == EXIT_OK
    return root


def _run(root: Path, service: str, broker: Broker, code: str, **env: str) -> None:
    run_python(["-c", code], root / "services" / service, python_env(broker, **env))


def _events(broker: Broker, topic: str, count: int) -> list[dict[str, object]]:
    records = read_topic(broker, topic, count)
    assert len(records) == count, [r.value for r in records]
    return sorted(
        (json.loads(r.value) for r in records), key=lambda e: json.dumps(e["data"], sort_keys=True)
    )


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_migrated_callers_send_what_the_http_calls_sent(
    broker: Broker, tmp_path: Path, client: str
) -> None:
    root = _migrated(tmp_path, client)
    run_python(["decouple/create_topics.py"], root, python_env(broker))

    _run(
        root,
        "payments",
        broker,
        "from payments.order_events import report_payment_event\n"
        "report_payment_event('o-17', 'succeeded', charge_id='ch_1', amount_cents=2500)\n",
    )
    _run(
        root,
        "emails",
        broker,
        "from emails.tracking import report_bounce\n"
        "report_bounce('ann@example.com', 'order_receipt')\n",
    )
    _run(
        root,
        "orders",
        broker,
        "from orders.receipts import send_receipt\nsend_receipt('o-17', 'ann@example.com')\n",
        EMAILS_URL="http://emails:5025",
    )
    _run(
        root,
        "orders",
        broker,
        "import asyncio\nfrom types import SimpleNamespace\n"
        "from orders.events import publish_order_placed\n"
        "order = SimpleNamespace(id='o-17', user_id=7, skus=['LAMP-01'])\n"
        "asyncio.run(publish_order_placed(order))\n",
    )

    (payment,) = _events(broker, f"{client}.orders.payment-events", 1)
    # the path parameter travels inside data, not as a (map-valued) envelope extension
    assert payment["data"] == {
        "outcome": "succeeded",
        "charge_id": "ch_1",
        "amount_cents": 2500,
        "order_id": "o-17",
    }
    assert "pathparams" not in payment
    assert payment["type"] == f"{client}.orders.payment-events.v1"
    assert {"specversion", "id", "source", "time"} <= payment.keys()

    notify = _events(broker, f"{client}.notifications.notify", 2)
    assert [e["data"] for e in notify] == [
        {
            "kind": "email_bounced",
            "channel": "ops",
            "address": "ann@example.com",
            "template": "order_receipt",
        },
        {"user_id": 7, "kind": "order_placed", "order_id": "o-17"},
    ]
    assert len({e["id"] for e in notify}) == 2

    (receipt,) = _events(broker, f"{client}.emails.send", 1)
    assert receipt["data"] == {
        "template": "order_receipt",
        "to": "ann@example.com",
        "context": {"order_id": "o-17"},
    }
    (placed,) = _events(broker, f"{client}.recommendations.events", 1)
    assert placed["data"] == {"type": "order_placed", "data": {"user_id": 7, "skus": ["LAMP-01"]}}
