"""One consumer process for a whole callee: ``python -m <pkg>.decouple_consumers`` runs
every consumer module of the package, each topic in its own consumer group with its own
client, the application (and its lifespan) shared; SIGTERM stops them all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from decouple_services.migrate.generate import (
    render_consumer,
    render_consumers_main,
    render_runtime,
)
from decouple_services.migrate.spec import ConsumerSpec, HandlerRef, TopicSpec

from .apps import (
    BILLING_INVOICES,
    BILLING_REFUND,
    CREDENTIALS,
    create_topics,
    run_caller,
    topic_for,
)
from .harness import (
    FAST_GROUP_ENV,
    Broker,
    ConsumerProcess,
    copy_service,
    python_env,
    read_records,
    wait_for,
    write,
)

pytestmark = pytest.mark.e2e

CLIENT = "confluent-kafka"


def _spec(topic: TopicSpec) -> ConsumerSpec:
    endpoint = topic.endpoint
    assert endpoint is not None
    module, _, attribute = endpoint.handler.rpartition(".")
    slug = topic.name.replace(".", "_").replace("-", "_")
    return ConsumerSpec(
        topic=topic,
        service="billing",
        path=f"billing/billing/decouple_consumers/{slug}.py",
        module=f"billing.decouple_consumers.{slug}",
        group_id=f"billing.{topic.name}",
        client=CLIENT,
        handler=HandlerRef(endpoint, module, attribute, None),
        test_path=f"billing/tests/test_{slug}.py",
        import_root="billing",
    )


def test_one_process_consumes_two_topics_in_two_groups(broker: Broker, tmp_path: Path) -> None:
    invoices = topic_for(BILLING_INVOICES)
    refunds = topic_for(BILLING_REFUND, "order_id")
    create_topics(broker, tmp_path, [invoices, refunds], CLIENT)
    root = copy_service("billing", tmp_path)
    specs = [_spec(invoices), _spec(refunds)]
    package = root / "billing" / "decouple_consumers"
    for spec in specs:
        write(root.parent / spec.path, render_consumer(spec))
    write(package / "__init__.py", "")
    write(package / "__main__.py", render_consumers_main(specs[0]))
    write(root / "billing" / "decouple_runtime.py", render_runtime())
    records = tmp_path / "records.jsonl"
    alive = tmp_path / "alive"
    env = python_env(
        broker,
        **FAST_GROUP_ENV,
        E2E_RECORD_FILE=str(records),
        DECOUPLE_REQUEST_HEADERS=CREDENTIALS,
        DECOUPLE_IDEMPOTENCY_DB=str(tmp_path / "handled.sqlite"),
        DECOUPLE_LIVENESS_FILE=str(alive),
    )
    process = ConsumerProcess("billing.decouple_consumers", root, env, tmp_path / "all")
    process.start()
    try:
        run_caller(broker, tmp_path, CLIENT, "notify", [[invoices.name, _invoice(), "req-1"]])
        run_caller(broker, tmp_path, CLIENT, "cancel", [[refunds.name, "42", {"why": "late"}]])

        def both() -> bool:
            endpoints = {r["endpoint"] for r in read_records(records)}
            return {"invoices", "refund"} <= endpoints

        wait_for(both, 60, "an event of each topic handled")
        output = process.output()
        # each topic in its own group, in one process
        for spec in specs:
            assert f"as group {spec.group_id}\n" in output, output
        assert "2 consumers in this process" in output
        # every loop turns: the liveness file is touched
        wait_for(alive.exists, 10, "the liveness file")
        assert process.exited() is None
        # one SIGTERM stops both loops; each commits and leaves its group
        assert process.terminate() == 0, process.output()
        output = process.output()
        for spec in specs:
            assert f"stopped consuming {spec.topic.name}" in output
    finally:
        process.stop()


def _invoice() -> dict[str, object]:
    return {"order_id": "o-1", "amount_cents": 100}
