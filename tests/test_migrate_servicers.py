"""gRPC servicers whose ``__init__`` takes arguments, planned on a small repository
(tests/fixtures/migrate/servicers) without ``--servicer-factory``: the factory is generated
from the server's own bootstrap where it can be mirrored (invites: ``grpc.aio``, a
database connected before and closed after, an interceptor; ledger: a synchronous server),
and the site is refused with the line decouple cannot reproduce where it cannot (mailer:
the servicer is built inside a ``with`` block). The generated factories are imported and
run here, as the consumer runs them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.generate import render_consumer, render_consumer_test
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.report import render_pr_body, render_summary
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURE = Path(__file__).parent / "fixtures" / "migrate" / "servicers"
INVITES_FACTORY = "services/invites/invites/decouple_consumers/servicer_invites.py"
LEDGER_FACTORY = "services/ledger/ledger/decouple_consumers/servicer_ledger.py"


@pytest.fixture(scope="module")
def migrated() -> MigrationResult:
    result = scan(FIXTURE, ScanOptions(use_cache=False))
    return migrate_scanned(result, select_sites(result, Criteria(services=("web",))), PlanOptions())


def _generated(migrated: MigrationResult, path: str) -> str:
    (change,) = [c for c in migrated.changes if c.path == path]
    after = change.after
    return after.decode() if isinstance(after, bytes) else str(after)


def test_servicers_the_bootstrap_builds_are_migrated_with_a_generated_factory(
    migrated: MigrationResult,
) -> None:
    assert {p.site.callee for p in migrated.plan.rewrites} == {"invites", "ledger"}
    factories = {c.service: c.servicer_factory for c in migrated.plan.consumers}
    assert factories == {
        "invites": "invites.decouple_consumers.servicer_invites:build_servicer",
        "ledger": "ledger.decouple_consumers.servicer_ledger:build_servicer",
    }
    interceptors = {c.service: c.servicer_interceptors for c in migrated.plan.consumers}
    assert interceptors == {
        "invites": "invites.decouple_consumers.servicer_invites:build_interceptors",
        "ledger": None,
    }
    (invites,) = [c for c in migrated.plan.consumers if c.service == "invites"]
    consumer = render_consumer(invites)
    assert (
        'servicer_factory="invites.decouple_consumers.servicer_invites:build_servicer",' in consumer
    )
    assert (
        'servicer_interceptors="invites.decouple_consumers.servicer_invites:build_interceptors",'
        in consumer
    )
    # its generated test goes through them too, and says where their credential comes from
    test = " ".join(render_consumer_test(invites).split())
    assert "The event goes through the server's interceptors first" in test
    text = _generated(migrated, INVITES_FACTORY)
    assert "@contextlib.asynccontextmanager" in text
    assert "Mirrors ``serve()`` in services/invites/invites/main.py:13" in text
    assert "def build_servicer() -> LedgerImpl:" in _generated(migrated, LEDGER_FACTORY)


def test_a_bootstrap_that_cannot_be_mirrored_refuses_with_the_line(
    migrated: MigrationResult,
) -> None:
    (refusal,) = migrated.plan.refused
    assert refusal.site is not None and refusal.site.callee == "mailer"
    (finding,) = refusal.reasons
    assert finding.code == "servicer-needs-arguments"
    assert (
        "the servicer is added to the server at services/mailer/mailer/server.py:20 inside a "
        "`with` block (services/mailer/mailer/server.py:19)"
    ) in finding.reason
    assert "--servicer-factory Mailer=module:function" in finding.suggestion


def test_the_pull_request_cautions_about_the_copy_and_the_interceptors(
    migrated: MigrationResult,
) -> None:
    body = render_pr_body(migrated)
    assert "### Servicers built as the server builds them" in body
    assert (
        f"- `{INVITES_FACTORY}` builds the Invites servicer as `serve()` does "
        "(`services/invites/invites/main.py:13`, the servicer at line 17), once per consumer "
        "process: keep it in step with that code. The consumer runs the startup steps at "
        "line 15 too, and the teardown at `services/invites/invites/main.py:35` when it "
        "stops: its process needs the environment and the network the server's has"
    ) in body
    # invites' interceptor is built from imported names: the consumer runs it
    assert (
        "Each event goes through the server's interceptors, as an RPC does: "
        "`ErrorInterceptor()` (services/invites/invites/main.py:14), built by "
        "`invites.decouple_consumers.servicer_invites:build_interceptors`"
    ) in body
    # ledger's reads the audit log serve() opens: named with the reason, and the option
    assert (
        "The server's interceptors are not run on the event path: `AuditInterceptor(audit)` "
        "(services/ledger/ledger/server.py:34), as they read `audit`, which `serve()` "
        "(services/ledger/ledger/server.py:30) binds at services/ledger/ledger/server.py:32"
    ) in body
    assert "`--servicer-interceptors Ledger=module:function`" in body
    summary = render_summary(migrated, dry_run=True)
    assert f"caution [servicer-from-bootstrap] {LEDGER_FACTORY} builds the Ledger" in summary


@contextlib.contextmanager
def _service_on_path(tmp_path: Path, migrated: MigrationResult, service: str) -> Iterator[Path]:
    """The service's code with the generated factory written in, importable; its gRPC
    modules (built from the protos at image build time) stubbed."""
    root = tmp_path / service
    shutil.copytree(FIXTURE / "services" / service, root)
    for change in migrated.changes:
        if change.path.startswith(f"services/{service}/{service}/decouple_consumers/"):
            target = tmp_path / change.path.removeprefix("services/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_generated(migrated, change.path), encoding="utf-8")
    stub = types.ModuleType(f"{service}.{service}_pb2_grpc")
    setattr(stub, f"{service.capitalize()}Servicer", object)
    # another test's package of the same name (a Django fixture called ledger) would shadow
    # this service's: it is set aside while the service is imported, and put back after
    shadowed = {
        name: sys.modules.pop(name)
        for name in list(sys.modules)
        if name == service or name.startswith(f"{service}.")
    }
    before = set(sys.modules)
    sys.modules[stub.__name__] = stub
    if importlib.util.find_spec("grpc") is None:
        # the bootstrap's module imports grpc; the factory takes a class from it
        sys.modules["grpc"] = types.ModuleType("grpc")
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            del sys.modules[name]
        sys.modules.pop(stub.__name__, None)
        sys.modules.update(shadowed)


def test_the_generated_async_factory_connects_builds_and_closes(
    tmp_path: Path, migrated: MigrationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVITES_STORAGE", "database")
    with _service_on_path(tmp_path, migrated, "invites"):
        factory = importlib.import_module("invites.decouple_consumers.servicer_invites")
        storage = importlib.import_module("invites.storage")

        async def run() -> None:
            async with factory.build_servicer() as servicer:
                assert type(servicer).__name__ == "InvitesImpl"
                assert type(servicer.repository) is storage.InviteRepository
                assert storage.Database.connected  # the startup step ran
            assert not storage.Database.connected  # and the teardown

        asyncio.run(run())
        (interceptor,) = factory.build_interceptors()
        assert type(interceptor).__name__ == "ErrorInterceptor"


def test_the_generated_sync_factory_builds_the_servicer(
    tmp_path: Path, migrated: MigrationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DB", "postgresql://ledger")
    with _service_on_path(tmp_path, migrated, "ledger"):
        factory = importlib.import_module("ledger.decouple_consumers.servicer_ledger")
        servicer = factory.build_servicer()
        assert type(servicer).__name__ == "LedgerImpl"
        assert servicer.store.url == "postgresql://ledger"
