"""Migrated callers and callees for the end-to-end tests, written into a temporary folder.

The caller is what decouple's rewrite leaves behind: the generated producer module and a
function whose former ``requests.post(...)`` is now ``send_event(...)`` with the same
payload and headers. The callee is a fixture service (``tests/fixtures/e2e``) with the
generated consumer next to its code.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decouple_services.core.model import Endpoint
from decouple_services.migrate.generate import (
    render_consumer,
    render_producer,
    render_runtime,
    render_topic_script,
)
from decouple_services.migrate.spec import ConsumerSpec, HandlerRef, ProducerSpec, TopicSpec

from .harness import (
    FAST_GROUP_ENV,
    Broker,
    ConsumerProcess,
    copy_service,
    python_env,
    run_python,
    write,
)

_names = itertools.count(1)

MAILER_SEND = Endpoint(
    "mailer", "http", "POST", "/send", "mailer.app.send", "mailer/app.py", 9, "flask"
)
BILLING_INVOICES = Endpoint(
    "billing",
    "http",
    "POST",
    "/api/invoices",
    "billing.api.create_invoice",
    "billing/api.py",
    16,
    "fastapi",
)
BILLING_REFUND = Endpoint(
    "billing",
    "http",
    "POST",
    "/api/orders/{order_id}/refund",
    "billing.api.refund",
    "billing/api.py",
    23,
    "fastapi",
)


#: A ``grpc.aio`` servicer whose factory is async (``invites.server.make_servicer``).
INVITES_INVITE = Endpoint(
    "invites",
    "grpc",
    "RPC",
    "/e2e.invites.v1.InviteService/Invite",
    "invites.server.InviteService.Invite",
    "invites/server.py",
    55,
    "grpc",
)


LEDGER_ENTRIES = Endpoint(
    "ledger",
    "http",
    "POST",
    "/accounts/{account_id}/entries",
    "ledger.views.add_entry",
    "ledger/views.py",
    12,
    "django",
)

#: The consumers' own credentials: the mailer's auth hook and the ledger's middleware
#: check them, for events as for requests.
CREDENTIALS = json.dumps(
    {"Authorization": "Bearer internal-token", "X-Service-Token": "ledger-token"}
)


def topic_for(endpoint: Endpoint, *path_params: str) -> TopicSpec:
    """A topic of its own for each test, so tests never see each other's events."""
    name = f"{endpoint.service}.{endpoint.handler.rpartition('.')[2]}-{next(_names)}"
    return TopicSpec(
        name=name,
        dead_letter=f"{name}.dlq",
        callee=endpoint.service,
        producers=("shop",),
        event_type=f"com.example.{name}",
        endpoint=endpoint,
        path_params=path_params,
    )


def create_topics(
    broker: Broker, workdir: Path, topics: list[TopicSpec], client: str, partitions: int = 2
) -> str:
    """Run the generated topic script (partitions and replication from its environment)."""
    script = write(
        workdir / f"create_topics_{next(_names)}.py", render_topic_script(topics, client=client)
    )
    env = python_env(
        broker,
        KAFKA_TOPIC_PARTITIONS=str(partitions),
        KAFKA_DEAD_LETTER_PARTITIONS="1",
        KAFKA_REPLICATION_FACTOR="1",
    )
    return run_python([str(script)], workdir, env).stdout


@dataclass
class Callee:
    consumer: ConsumerProcess
    records: Path


def start_consumer(
    broker: Broker,
    workdir: Path,
    service: str,
    topic: TopicSpec,
    client: str,
    app_object: str | None = None,
    *,
    servicer_factory: str | None = None,
    servicer_interceptors: str | None = None,
    **env: str,
) -> Callee:
    """The fixture ``service`` with the generated consumer of ``topic``, running.
    ``servicer_factory``: a gRPC servicer's ``module:function``; ``servicer_interceptors``:
    the one giving its server's interceptors."""
    root = workdir / service
    if not root.exists():
        copy_service(service, workdir)
    endpoint = topic.endpoint
    assert endpoint is not None
    module, _, attribute = endpoint.handler.rpartition(".")
    if endpoint.framework == "grpc":  # a servicer's method: ``Class.Method`` in its module
        module = endpoint.file.removesuffix(".py").replace("/", ".")
        attribute = endpoint.handler.removeprefix(module + ".")
    slug = topic.name.replace(".", "_").replace("-", "_")
    extra = {"django_settings_module": f"{service}.settings"} if service == "ledger" else {}
    spec = ConsumerSpec(
        topic=topic,
        service=service,
        path=f"{service}/{service}/consume_{slug}.py",
        module=f"{service}.consume_{slug}",
        group_id=f"{service}.{topic.name}",
        client=client,
        handler=HandlerRef(endpoint, module, attribute, app_object),
        test_path=f"{service}/tests/test_consume_{slug}.py",
        import_root=service,
        extra=extra,
        servicer_factory=servicer_factory,
        servicer_interceptors=servicer_interceptors,
    )
    write(root / service / f"consume_{slug}.py", render_consumer(spec))
    write(root / service / "decouple_runtime.py", render_runtime())
    records = workdir / f"{slug}.jsonl"
    process_env = python_env(
        broker,
        **FAST_GROUP_ENV,
        E2E_RECORD_FILE=str(records),
        DECOUPLE_REQUEST_HEADERS=CREDENTIALS,
        DECOUPLE_IDEMPOTENCY_DB=str(workdir / f"{slug}.handled.sqlite"),
    )
    process_env.update(env)
    consumer = ConsumerProcess(spec.module, root, process_env, workdir / f"consumer-{slug}")
    return Callee(consumer.start(), records)


CALLER = '''\
"""The caller after migration: each call that used to post to another service sends
the same payload and headers as an event."""

import asyncio
import json
import sys

from . import decouple_producer


def notify(topic, payload, request_id):
    # was: requests.post(url, json=payload, headers={"X-Request-Id": request_id}, timeout=2)
    decouple_producer.send_event(topic, payload, headers={"X-Request-Id": request_id})


def notify_keyed(topic, payload, request_id, key):
    # was: requests.post(url, json=payload, headers={"X-Request-Id": request_id}, timeout=2)
    decouple_producer.send_event(
        topic, payload, key=key, headers={"X-Request-Id": request_id}
    )


def notify_as(topic, payload, token):
    # was: requests.post(url, json=payload, headers={"Authorization": f"Bearer {token}"})
    decouple_producer.send_event(
        topic, payload, headers={"Authorization": f"Bearer {token}"}
    )


def cancel(topic, order_id, payload):
    # was: requests.post(f"{BILLING}/api/orders/{order_id}/refund", json=payload)
    decouple_producer.send_event(topic, payload, path_params={"order_id": order_id})


def post_entry(topic, account_id, payload):
    # was: requests.post(f"{LEDGER}/accounts/{account_id}/entries", json=payload)
    decouple_producer.send_event(topic, payload, path_params={"account_id": account_id})


async def notify_async(topic, payload, request_id):
    # was: await client.post(url, json=payload, headers={"X-Request-Id": request_id})
    await decouple_producer.send_event_async(
        topic, payload, headers={"X-Request-Id": request_id}
    )


async def _main_async(calls):
    for call in calls:
        await notify_async(*call)


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as calls_file:
        calls = json.load(calls_file)
    if sys.argv[1] == "async":
        asyncio.run(_main_async(calls))
    else:
        for call in calls:
            globals()[sys.argv[1]](*call)
    # No explicit flush: the runtime flushes at exit.
'''


def run_caller(
    broker: Broker,
    workdir: Path,
    sync_client: str | None,
    function: str,
    calls: list[list[Any]],
    **env: str,
) -> None:
    """Write the migrated caller with its producer (sync sites when ``sync_client`` is
    given, ``async def`` ones when it is ``None``: the same runtime client either way) and
    run ``function`` once per call, in a process of its own."""
    root = workdir / f"caller_{next(_names)}"
    spec = ProducerSpec(
        service="shop",
        path="shop/decouple_producer.py",
        module="shop.decouple_producer",
        sync_client=sync_client,
        needs_async=sync_client is None,
    )
    write(root / "shop" / "__init__.py", "")
    write(root / "shop" / "decouple_producer.py", render_producer(spec))
    write(root / "shop" / "decouple_runtime.py", render_runtime())
    write(root / "shop" / "calls.py", CALLER)
    # in a file: a command line is too short for a megabyte of events
    write(root / "calls.json", json.dumps(calls))
    run_python(["-m", "shop.calls", function, "calls.json"], root, python_env(broker, **env))
