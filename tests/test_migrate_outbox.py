"""``migrate --outbox`` planned on a small repository (tests/fixtures/e2e/outbox_repo: a
Django store and a Flask + SQLAlchemy depot telling the mailer): which sites write into an
outbox and how, what is generated, and which sites are refused and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.report import render_pr_body, render_summary
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURES = Path(__file__).parent / "fixtures" / "e2e"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "outbox_repo", root)
    shutil.copytree(FIXTURES / "mailer", root / "services" / "mailer")
    return root


def _migrate(root: Path, *services: str, outbox: bool = True) -> MigrationResult:
    result = scan(root, ScanOptions(use_cache=False))
    selection = select_sites(result, Criteria(services=services or ("store", "depot")))
    return migrate_scanned(result, selection, PlanOptions(outbox=outbox))


def _changed(migrated: MigrationResult) -> dict[str, str]:
    return {c.path: c.after.decode() for c in migrated.changes}


def _refusals(migrated: MigrationResult) -> dict[str, tuple[str, str, str]]:
    return {
        r.site.file: (r.reasons[0].code, r.reasons[0].reason, r.reasons[0].suggestion)
        for r in migrated.plan.refused
        if r.site is not None
    }


def _apply(root: Path, migrated: MigrationResult) -> None:
    for change in migrated.changes:
        target = root / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(change.after)


def test_django_and_sqlalchemy_callers_write_into_their_outbox(repo: Path) -> None:
    migrated = _migrate(repo)
    assert migrated.plan.refused == () and migrated.failed == ()
    producers = {p.service: p.outbox for p in migrated.plan.producers}
    assert producers == {"store": "django", "depot": "sqlalchemy"}
    sends = {p.site.caller: (p.send.outbox, p.send.session) for p in migrated.plan.rewrites}
    assert sends == {"store": ("django", None), "depot": ("sqlalchemy", "session")}
    # The event now commits and rolls back with the data: no in-transaction caution.
    store = next(p for p in migrated.plan.rewrites if p.site.caller == "store")
    assert [c.code for c in store.cautions] == []

    files = _changed(migrated)
    assert 'send_via_outbox(\n            "mailer.send",' in files["services/store/store/views.py"]
    assert "send_via_outbox(\n        session,\n" in files["services/depot/depot/app.py"]
    assert '    "store.decouple_outbox",\n]' in files["services/store/storesite/settings.py"]
    app = "services/store/store/decouple_outbox"
    assert {f"{app}/{n}" for n in ("__init__.py", "apps.py", "models.py")} <= set(files)
    assert 'name = "store.decouple_outbox"' in files[f"{app}/apps.py"]
    assert "migrations.CreateModel(" in files[f"{app}/migrations/0001_initial.py"]
    # a table an earlier runtime made gets the parked rows' column from a migration of its own
    assert 'name="parked_at"' in files[f"{app}/migrations/0002_parked.py"]
    assert (
        "send_via_outbox = functools.partial(send_via_django_outbox, producer)"
        in (files["services/store/store/decouple_producer.py"])
    )
    assert (
        "send_via_outbox_async = functools.partial("
        in (files["services/depot/depot/decouple_producer.py"])
    )


def test_migrating_the_migrated_repository_changes_nothing(repo: Path) -> None:
    _apply(repo, _migrate(repo))
    assert _migrate(repo).changes == ()
    # Without --outbox too: the producers keep offering the outbox their sites call.
    assert _migrate(repo, outbox=False).changes == ()


def test_without_outbox_nothing_goes_through_an_outbox(repo: Path) -> None:
    migrated = _migrate(repo, outbox=False)
    assert {p.outbox for p in migrated.plan.producers} == {None}
    assert not any("decouple_outbox" in path for path in _changed(migrated))


def test_a_caller_with_no_database_is_refused(repo: Path) -> None:
    app = repo / "services" / "depot" / "depot" / "app.py"
    app.write_text(
        "import os\n\nimport requests\n\nMAILER_URL = os.environ.get('MAILER_URL')\n\n\n"
        "def ship(email):\n"
        "    requests.post(f'{MAILER_URL}/send', json={'to': email}, timeout=2)\n"
    )
    migrated = _migrate(repo, "depot")
    assert _refusals(migrated)["services/depot/depot/app.py"] == (
        "no-outbox",
        "--outbox: the caller is neither a Django nor a SQLAlchemy service: there is no "
        "database transaction to write the event in",
        "migrate it without --outbox (its send raises when Kafka does not accept the event), "
        "or keep the call",
    )
    assert migrated.plan.producers == ()


def test_a_sqlalchemy_caller_that_commits_before_the_call_is_refused(repo: Path) -> None:
    app = repo / "services" / "depot" / "depot" / "app.py"
    text = app.read_text()
    app.write_text(text.replace("    session.flush()\n", "    session.commit()\n"))
    code, message, suggestion = _refusals(_migrate(repo, "depot"))["services/depot/depot/app.py"]
    assert code == "no-outbox"
    assert message.startswith("--outbox: `ship` commits `session` (line 30) before this call")
    assert suggestion.startswith("move the call above the commit and run again")


def test_django_settings_whose_apps_cannot_be_extended_refuse_the_site(repo: Path) -> None:
    settings = repo / "services" / "store" / "storesite" / "settings.py"
    text = settings.read_text()
    settings.write_text(
        text.replace("INSTALLED_APPS = [", "BASE_APPS = [") + "INSTALLED_APPS = BASE_APPS\n"
    )
    code, message, suggestion = _refusals(_migrate(repo, "store"))["services/store/store/views.py"]
    assert code == "no-outbox"
    assert message == (
        "--outbox: services/store/storesite/settings.py: the settings define no "
        "`INSTALLED_APPS` list or tuple this rewrite can extend"
    )
    assert suggestion.startswith("add `store.decouple_outbox` to `INSTALLED_APPS` yourself")


def test_a_site_that_checked_the_answer_keeps_its_send_that_waits(repo: Path) -> None:
    views = repo / "services" / "store" / "store" / "views.py"
    text = views.read_text()
    views.write_text(
        text.replace("        requests.post(", "        resp = requests.post(").replace(
            "            timeout=2,\n        )\n",
            "            timeout=2,\n        )\n        resp.raise_for_status()\n",
        )
    )
    migrated = _migrate(repo, "store")
    (item,) = migrated.plan.rewrites
    assert item.send.wait and item.send.outbox is None
    assert any(n.startswith("--outbox: this site checked the answer") for n in item.notes)
    assert "send_event_and_wait(" in _changed(migrated)["services/store/store/views.py"]


def test_the_pr_checklist_creates_each_outbox_table_and_runs_its_relay(repo: Path) -> None:
    body = render_pr_body(_migrate(repo))
    assert (
        "- [ ] store's outbox: create its table (`python manage.py migrate`) and run its "
        "relay beside it: `python -m store.decouple_runtime relay`"
    ) in body
    assert (
        "- [ ] depot's outbox: create its table (`python -m depot.decouple_runtime "
        "outbox-table --url URL`) and run its relay beside it: `python -m "
        "depot.decouple_runtime relay --url URL`"
    ) in body
    assert "send_via_outbox" in render_summary(_migrate(repo), dry_run=True)


def test_an_outbox_site_is_described_as_committed_with_the_data(repo: Path) -> None:
    """An outbox write survives a crash and a broker outage: its row says so, and it is not
    listed among the fire-and-forget sends that can be lost."""
    migrated = _migrate(repo)
    body = render_pr_body(migrated)
    outboxed = [p for p in migrated.plan.rewrites if p.send.outbox is not None]
    assert outboxed
    for item in outboxed:
        row = next(line for line in body.splitlines() if f"`{item.site.id}`" in line)
        assert "committed or rolled back with the data" in row
        assert "relayed to Kafka at least once" in row and "queued in memory" not in row
    lost = [line for line in body.splitlines() if "can be lost" in line]
    assert all(f"`{p.site.file}:{p.site.line}`" not in "".join(lost) for p in outboxed)


def test_a_domain_event_goes_through_the_outbox_as_one_row(repo: Path) -> None:
    """``--event`` folds the depot's calls to the mailer and to an audit service into one
    send; with ``--outbox`` that send is one outbox write on the function's session."""
    audit = repo / "services" / "audit" / "audit"
    audit.mkdir(parents=True)
    (audit / "__init__.py").write_text("")
    (audit / "app.py").write_text(
        "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n"
        '@app.post("/events")\ndef event():\n    return {"seen": request.get_json()}, 202\n'
    )
    compose = repo / "docker-compose.yml"
    compose.write_text(
        compose.read_text()
        .replace("  mailer:\n", "  audit:\n    build: ./services/audit\n  mailer:\n")
        .replace(
            "    build: ./services/depot\n    environment:\n",
            "    build: ./services/depot\n    environment:\n      AUDIT_URL: http://audit:8000\n",
        )
    )
    app = repo / "services" / "depot" / "depot" / "app.py"
    app.write_text(
        app.read_text()
        .replace(
            "    return shipment\n",
            '    requests.post(f"{AUDIT_URL}/events", json={"item": item}, timeout=2)\n'
            "    return shipment\n",
        )
        .replace("engine = ", 'AUDIT_URL = os.environ["AUDIT_URL"]\nengine = ')
    )
    result = scan(repo, ScanOptions(use_cache=False))
    ids = tuple(s.id for s in result.call_sites if s.caller == "depot")
    assert len(ids) == 2
    migrated = migrate_scanned(
        result,
        select_sites(result, Criteria(ids=ids)),
        PlanOptions(event="depot.shipped", outbox=True),
    )
    assert migrated.plan.refused == () and migrated.failed == ()
    rewritten = _changed(migrated)["services/depot/depot/app.py"]
    assert rewritten.count("send_via_outbox(") == 1
    assert (
        '    send_via_outbox(\n        session,\n        "depot.shipped",\n'
        '        {"email": email, "user_id": shipment.id, "item": item},\n'
        "        key=shipment.id,\n    )\n"
    ) in rewritten
    assert "requests" not in rewritten


def test_the_compose_override_runs_a_relay_beside_each_outbox_caller(repo: Path) -> None:
    import yaml

    class Loader(yaml.SafeLoader):
        """Reads compose's ``!reset`` tag as a marker."""

    Loader.add_multi_constructor("!reset", lambda loader, suffix, node: "<reset>")
    text = _changed(_migrate(repo))["docker-compose.decouple.yml"]
    override = yaml.load(text, Loader=Loader)
    services = override["services"]
    store = services["store-outbox-relay"]
    assert store["extends"] == {"file": "docker-compose.yml", "service": "store"}
    assert store["command"] == ["python", "-m", "store.decouple_runtime", "relay"]
    assert store["environment"] == {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "DECOUPLE_LIVENESS_FILE": "/tmp/decouple-alive",
        "DJANGO_SETTINGS_MODULE": "storesite.settings",
    }
    assert "/tmp/decouple-alive" in " ".join(store["healthcheck"]["test"])
    depot = services["depot-outbox-relay"]
    assert depot["command"] == ["python", "-m", "depot.decouple_runtime", "relay"]
    # Compose stops with this message until the database's URL is given.
    assert depot["environment"]["DECOUPLE_OUTBOX_URL"].startswith(
        "${DECOUPLE_OUTBOX_URL:?the SQLAlchemy URL of the depot database"
    )
    assert "mailer-outbox-relay" not in services


_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: {name}
        image: shop/{name}:1
        ports:
        - containerPort: 8000
"""


def test_kubernetes_runs_a_relay_beside_each_outbox_callers_deployment(repo: Path) -> None:
    import yaml

    (repo / "k8s").mkdir()
    for name in ("store", "depot"):
        (repo / "k8s" / f"{name}.yaml").write_text(_DEPLOYMENT.format(name=name))
    changed = _changed(_migrate(repo))
    store = yaml.safe_load(changed["k8s/store-outbox-relay.decouple.yaml"])
    assert store["metadata"]["name"] == "store-outbox-relay"
    assert store["spec"]["replicas"] == 1
    (container,) = store["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "shop/store:1"
    assert container["command"] == ["python", "-m", "store.decouple_runtime", "relay"]
    assert {"name": "DJANGO_SETTINGS_MODULE", "value": "storesite.settings"} in container["env"]
    depot = yaml.safe_load(changed["k8s/depot-outbox-relay.decouple.yaml"])
    (container,) = depot["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "depot.decouple_runtime", "relay"]
    assert "DECOUPLE_OUTBOX_URL" in {e["name"] for e in container["env"]}
    # Without --outbox nothing is relayed.
    assert not any("outbox-relay" in path for path in _changed(_migrate(repo, outbox=False)))
