"""Migrating the whole sample repository, as a user would, on a copy in a temporary git repo.

The goldens under tests/fixtures/migrate/sample/ are the reviewed outputs: the full diff of
migrating every service's calls, the summary on stderr and the pull-request description.
Regenerate with ``pytest --update-goldens`` and review the diff like code.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from goldens import assert_golden

from decouple_services.app.migrate import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, MigrateCommand
from decouple_services.app.migrate import run_migrate_command as run
from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.app.terminal import Terminal
from decouple_services.core.model import Category, Role
from decouple_services.core.provenance import is_generated
from decouple_services.graph.migratability import assess

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
GOLDEN = Path(__file__).parent / "fixtures" / "migrate" / "sample"
SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
#: What generated code is held to (see tests/unit/migrate/test_generate_golden.py).
GENERATED_RUFF = Path(__file__).parent / "fixtures" / "golden" / "generated" / "ruff.toml"
SERVICES = (
    "emails",
    "frontend",
    "inventory",
    "notifications",
    "orders",
    "payments",
    "recommendations",
    "search",
    "users",
)
#: Every production call between services whose response is not used (EXPECTED.md).
FIRE_AND_FORGET = {
    "cs-4f798040",  # emails -> notifications, tracking.py
    "cs-9d95a416",  # frontend -> users, clients.py (PATCH preferences)
    "cs-84007d8d",  # frontend -> users, admin.py (`_ =`)
    "cs-607494d5",  # frontend -> recommendations, shop.py (track wrapper)
    "cs-3cefa2af",  # frontend -> emails, shop.py (post_json wrapper)
    "cs-d0c29006",  # notifications -> recommendations, channels.py (urllib3)
    "cs-4af9d1dd",  # orders -> inventory, api.py (configured client, async def)
    "cs-85e48566",  # orders -> inventory, api.py (configured client, async def)
    "cs-e14c70bb",  # orders -> notifications, api.py (post_json wrapper, async def)
    "cs-96c05d70",  # orders -> notifications, events.py (awaited httpx.AsyncClient)
    "cs-4daca54f",  # orders -> recommendations, events.py (track wrapper, async def)
    "cs-9e36f82f",  # orders -> emails, receipts.py (httpx)
    "cs-945a9009",  # payments -> orders, order_events.py (executor.submit)
    "cs-e09e46ac",  # users -> orders, views.py (in a loop: migrates with a caution)
    "cs-cce06312",  # users -> notifications, views.py (requests.request)
}
#: Sites whose response is only checked for success: sends that wait for the broker.
STATUS_ONLY = {
    "cs-651bad7b",  # inventory -> notifications, low_stock.py (`if r.status != 202` in aiohttp)
    "cs-7f8c36bc",  # inventory -> search, search_sync.py (`if resp.status >= 400`, in a loop)
    "cs-9115b7d3",  # users -> recommendations, tasks.py (`if resp.status_code >= 400`)
}
MIGRATABLE = FIRE_AND_FORGET | STATUS_ONLY


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample, committed in a git repository of its own."""
    root = tmp_path / "shop"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache", "__pycache__"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A", "-f")
    _commit(root, "sample")
    return root


def _commit(root: Path, message: str) -> None:
    _git(root, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", message)


def _migrate(root: Path, **options: object) -> tuple[int, bytes, str]:
    out = io.BytesIO()
    err = io.StringIO()
    command = MigrateCommand(path=root, use_cache=False, **options)  # type: ignore[arg-type]
    status = run(command, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _everything(root: Path, **options: object) -> tuple[int, bytes, str]:
    return _migrate(root, services=SERVICES, **options)


def _assert_golden(actual: str, name: str, update: bool) -> None:
    assert_golden(actual, GOLDEN / name, update)


def test_the_full_migration_matches_the_reviewed_golden_files(
    repo: Path, update_goldens: bool
) -> None:
    """The rewrites and dependency edits as a diff, every file the migration writes, and the
    summary. The generated files' contents have their own goldens
    (tests/fixtures/golden/generated/), so a template change is reviewed there once."""
    status, diff, summary = _everything(repo)
    assert status == EXIT_OK
    edits, files = _split_diff(diff.decode("utf-8"))
    _assert_golden(edits, "all-services.diff", update_goldens)
    _assert_golden(files, "all-services.files.txt", update_goldens)
    # the summary offers commands naming the repository as it was given
    _assert_golden(summary.replace(str(repo), "<repo>"), "all-services.summary.txt", update_goldens)


def _split_diff(diff: str) -> tuple[str, str]:
    """The diff of files that existed before, and one line per file written (``new`` or
    ``edit``, with its mode)."""
    edits: list[str] = []
    listing: list[str] = []
    for block in diff.split("diff --git ")[1:]:
        header = block.splitlines()[0]
        path = header.split(" b/", 1)[1]
        if "\nnew file mode " in block:
            mode = block.split("\nnew file mode ", 1)[1].split("\n", 1)[0]
            listing.append(f"new  {mode}  {path}")
        else:
            listing.append(f"edit         {path}")
            edits.append("diff --git " + block)
    return "".join(edits), "\n".join(listing) + "\n"


def test_every_fire_and_forget_call_site_migrates_and_the_rest_are_refused_with_reasons(
    repo: Path,
) -> None:
    result = scan(repo, ScanOptions(use_cache=False))
    easy = {s.id for s in result.call_sites if s.is_production_coupling and assess(s).migratable}
    assert easy == MIGRATABLE
    _, _, summary = _everything(repo)
    for ident in MIGRATABLE:
        assert f"  {ident}  " in summary
    for line in summary.splitlines():
        if line.startswith(tuple(f"  {ident}  " for ident in STATUS_ONLY)):
            assert line.endswith("send_event_and_wait)") or line.endswith("_and_wait_async)")
    assert "cs-e09e46ac" in summary and "caution [in-loop]" in summary
    assert "caution [status-checked]" in summary
    refused = [s for s in result.call_sites if s.is_production_coupling and s.id not in easy]
    for site in refused:
        assert site.id in summary.split("refused (27):", 1)[1], site.id
    assert "[response-used]" in summary and "instead: keep the call synchronous" in summary


def test_the_diff_applies_with_git_apply(repo: Path, tmp_path: Path) -> None:
    _, diff, _ = _everything(repo)
    patch = tmp_path / "migration.patch"
    patch.write_bytes(diff)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=repo, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True)
    assert (repo / "services/orders/orders/decouple_producer.py").exists()


def test_write_changes_the_tree_and_a_second_run_changes_nothing(repo: Path) -> None:
    status, diff, _ = _everything(repo, write=True)
    assert status == EXIT_OK and diff == b""
    rescanned = scan(repo, ScanOptions(use_cache=False))
    events = {s.id: s for s in rescanned.call_sites if s.role is Role.EVENT}
    assert set(events) == MIGRATABLE
    assert events["cs-945a9009"].url == "orders.payment-events"
    assert events["cs-945a9009"].callee == "orders"
    assert events["cs-96c05d70"].is_async
    assert not {s.id for s in rescanned.call_sites if s.role is Role.CALL} & MIGRATABLE
    _commit_all(repo)
    status, again, summary = _everything(repo)
    assert status == EXIT_OK
    assert again == b"", again.decode()[:2000]
    assert "0 call site(s)" in summary
    status, again, summary = _migrate(repo, select=("cs-4f798040",))
    assert (status, again) == (EXIT_OK, b"")
    assert "already migrated to notifications.notify" in summary


def test_a_rescan_of_the_migrated_sample_sees_its_services_and_not_the_generated_files(
    repo: Path,
) -> None:
    """The generated runtime, producers and consumers are decouple's machinery, and the
    compose override's and manifests' consumer containers are not services: a scan of the
    migrated repository finds what it found before, the calls now events."""
    before = scan(repo, ScanOptions(use_cache=False))
    status, _, _ = _everything(repo, write=True)
    assert status == EXIT_OK
    assert (repo / "docker-compose.decouple.yml").exists()
    assert list((repo / "k8s").glob("*.decouple.yaml"))
    after = scan(repo, ScanOptions(use_cache=False))
    assert [s.name for s in after.services] == [s.name for s in before.services]
    generated = {
        s.file for s in after.call_sites if is_generated((repo / s.file).read_bytes()[:2048])
    }
    assert generated == set()
    assert {s.id for s in after.call_sites} == {s.id for s in before.call_sites}


def test_the_migration_writes_valid_asyncapi_per_application_and_combined(repo: Path) -> None:
    import jsonschema
    import yaml

    schema = json.loads((SCHEMAS / "asyncapi-3.0.0.json").read_text(encoding="utf-8"))
    _everything(repo, write=True)
    combined = yaml.safe_load((repo / "decouple/asyncapi.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(combined)
    applications = sorted(p.stem for p in (repo / "decouple/asyncapi").glob("*.yaml"))
    assert applications == sorted({op.split(".", 1)[0] for op in combined["operations"]}), (
        "one document for each service that sends or receives"
    )
    operations: set[str] = set()
    for name in applications:
        text = (repo / "decouple/asyncapi" / f"{name}.yaml").read_text(encoding="utf-8")
        document = yaml.safe_load(text)
        jsonschema.Draft7Validator(schema).validate(document)
        assert all(op.startswith(f"{name}.") for op in document["operations"])
        operations |= set(document["operations"])
    assert operations == set(combined["operations"])


def _commit_all(root: Path) -> None:
    _git(root, "add", "-A")
    _commit(root, "migrate")


def test_rewritten_and_generated_python_compiles_and_adds_no_ruff_findings(repo: Path) -> None:
    def findings() -> set[tuple[str, str]]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ruff",
                "check",
                "--isolated",
                "--line-length",
                "110",
                "--select",
                "E,F,W,I,B,UP,SIM",
                "--ignore",
                "E501",
                "--output-format",
                "concise",
                "--exclude",
                "pricing.py,legacy,*_pb2*.py,i18n_fr.py",
                "services",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        return {
            (line.split(":", 1)[0], line.split(" ", 2)[1])
            for line in done.stdout.splitlines()
            if line.startswith(("services/", "decouple/"))
        }

    before = findings()
    existing = {str(p.relative_to(repo)) for p in repo.rglob("*.py")}
    _everything(repo, write=True)
    for path in repo.rglob("*.py"):
        if "legacy" in path.parts or path.name == "pricing.py":
            continue
        compile(path.read_bytes(), str(path), "exec")
    # Rewritten files gain no finding; generated ones are held to their own settings below.
    assert {f for f in findings() if f[0] in existing} - before == set()
    generated = [
        str(p.relative_to(repo))
        for p in repo.rglob("*.py")
        if p.read_bytes().startswith(b"# Generated by decouple")
        or b"# decouple:generated" in p.read_bytes()[:400]
    ]
    assert len(generated) > 20
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(GENERATED_RUFF), *generated],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_the_samples_own_tests_pass_after_migration_and_the_generated_ones_run_its_code(
    repo: Path,
) -> None:
    """The storefront's tests run before and after; every callee's own tests run after.
    The orders contract test needs a running users service and is deselected, as its
    ``integration`` mark intends.

    The generated consumer tests hand an event to each callee's application, in-process:
    they need what the application needs (its libraries, settings and the services its
    handler calls), which the sample's environment here does not give them. So each must
    either pass or fail inside the callee's own code (its imports, its configuration, its
    handler), never in the generated consumer or runtime: a failure there would be the
    migration's."""
    env = {
        **os.environ,
        "INVENTORY_URL": "http://inventory-api:8080",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    def pytest_in(service: str, *what: str) -> subprocess.CompletedProcess[str]:
        root = repo / "services" / service
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-m",
                "not integration",
                *(what or ("tests",)),
            ],
            cwd=root,
            env={**env, "PYTHONPATH": os.pathsep.join([str(root), str(repo / "libs/shopcore")])},
            capture_output=True,
            text=True,
            check=False,
        )

    before = pytest_in("frontend")
    assert before.returncode == 0, before.stdout
    _everything(repo, write=True)
    after = pytest_in("frontend")
    assert after.returncode == 0, after.stdout
    assert (
        before.stdout.splitlines()[-1].split(" in ")[0]
        == after.stdout.splitlines()[-1].split(" in ")[0]
    )
    for service in ("emails", "inventory", "notifications", "orders", "recommendations", "users"):
        tests = repo / "services" / service / "tests"
        generated = sorted(tests.glob("test_*_consumer.py"))
        assert generated, service
        own = [p for p in tests.glob("test_*.py") if p not in generated]
        if own:
            done = pytest_in(service, *map(str, own))
            # 5: every one is an integration test, deselected
            assert done.returncode in (0, 5), f"{service}:\n{done.stdout}\n{done.stderr}"
        ran = pytest_in(service, *map(str, generated))
        assert f"{len(generated)} passed" in ran.stdout or _fails_in_the_service(
            ran.stdout, service
        ), f"{service}:\n{ran.stdout}\n{ran.stderr}"


def _fails_in_the_service(output: str, service: str) -> bool:
    """Every failure of a generated test's run came from a file of the service that is not
    generated: the traceback of each goes through one, after the generated ones."""
    failures = re.split(r"^_{5,} .* _{5,}$", output, flags=re.M)[1:]
    own = re.compile(r"^(?!tests/)(?!.*decouple_)[\w/]+\.py:\d+: ", re.M)
    return bool(failures) and all(own.search(failure) for failure in failures)


def test_branch_and_pr_body_leave_the_work_tree_alone(repo: Path, update_goldens: bool) -> None:
    _, dry_run, _ = _everything(repo)
    status, out, err = _everything(repo, branch="events/all", pr_body=repo.parent / "pr.md")
    assert status == EXIT_OK and out == b""
    assert "branch events/all at" in err
    # the branch is made: no "dry run" about it
    assert "(committed on the branch events/all)" in err and "dry run" not in err
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    committed = subprocess.run(
        ["git", "diff", "main", "events/all"], cwd=repo, capture_output=True, check=True
    ).stdout
    applied = repo.parent / "branch.patch"
    applied.write_bytes(committed)
    subprocess.run(["git", "apply", "--check", str(applied)], cwd=repo, check=True)
    assert committed.count(b"diff --git") == dry_run.count(b"diff --git")
    message = _git(repo, "log", "-1", "--format=%B", "events/all")
    # every send of the sample waits for the broker: not "fire-and-forget"; a possessive
    # of a name ending in s is an apostrophe alone
    subject = message.splitlines()[0]
    assert "fire-and-forget" not in subject and "'s'" not in subject and "s's " not in subject
    assert subject.endswith(" calls as Kafka events"), subject
    _assert_golden(
        (repo.parent / "pr.md").read_text(encoding="utf-8"), "pr-body.md", update_goldens
    )


def test_split_by_edge_gives_patches_that_apply_in_order_to_the_same_tree(
    repo: Path, tmp_path: Path
) -> None:
    status, _, _err = _everything(repo, patch=tmp_path / "m.patch", split_by_edge=True)
    assert status == EXIT_OK
    patches = sorted(tmp_path.glob("m-*.patch"))
    edges = {
        (s.caller, s.callee)
        for s in scan(repo, ScanOptions(use_cache=False)).call_sites
        if s.id in MIGRATABLE
    }
    assert len(patches) == len(edges)
    for patch in patches:
        subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True)
    split_tree = _snapshot(repo)
    _git(repo, "checkout", "-q", "--", ".")
    _git(repo, "clean", "-qfd")
    _everything(repo, write=True)
    assert _snapshot(repo) == split_tree


def test_split_by_edge_makes_one_stacked_branch_per_edge(repo: Path) -> None:
    status, _, err = _migrate(
        repo, edges=("orders:emails", "frontend:emails"), branch="ev", split_by_edge=True
    )
    assert status == EXIT_OK, err
    branches = _git(repo, "branch", "--format=%(refname:short)").split()
    assert branches == ["ev-01-frontend-to-emails", "ev-02-orders-to-emails", "main"]
    assert (
        _git(repo, "rev-parse", "ev-02-orders-to-emails~1").strip()
        == _git(repo, "rev-parse", "ev-01-frontend-to-emails").strip()
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and "__pycache__" not in p.parts
        and ".decouple-cache" not in p.parts
    }


def test_write_and_branch_refuse_a_dirty_work_tree_unless_allowed(repo: Path) -> None:
    (repo / "services/emails/emails/tracking.py").write_text("# wip\n", encoding="utf-8")
    for options in ({"write": True}, {"branch": "x"}):
        status, _, err = _migrate(repo, select=("cs-9e36f82f",), **options)
        assert status == EXIT_USAGE
        assert "uncommitted changes (services/emails/emails/tracking.py)" in err
        assert "--allow-dirty" in err
    status, _, _ = _migrate(repo, select=("cs-9e36f82f",), write=True, allow_dirty=True)
    assert status == EXIT_OK
    assert "send_event" in (repo / "services/orders/orders/receipts.py").read_text()


def test_a_generated_file_someone_edited_is_kept_and_the_summary_says_so(repo: Path) -> None:
    _migrate(repo, select=("cs-9e36f82f",), write=True)
    consumer = repo / "services/emails/emails/decouple_consumers/emails_send.py"
    edited = consumer.read_text(encoding="utf-8") + "\n# our retry policy differs\n"
    consumer.write_text(edited, encoding="utf-8")
    _commit_all(repo)
    status, _diff, err = _migrate(repo, select=("cs-3cefa2af",), write=True)
    assert status == EXIT_OK
    assert consumer.read_text(encoding="utf-8") == edited
    assert (
        "kept services/emails/emails/decouple_consumers/emails_send.py: edited since decouple "
        "generated it; left as it is (delete it to regenerate)"
    ) in err


def test_a_newer_runtime_replaces_an_untouched_one_and_an_edited_one_is_named(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fix to the runtime reaches code generated earlier: the next migration touching the
    service replaces its runtime, unless someone edited it, which the summary then says."""
    from decouple_services.migrate import generate

    emails = repo / "services/emails/emails/decouple_runtime.py"
    orders = repo / "services/orders/orders/decouple_runtime.py"
    monkeypatch.setattr(generate, "RUNTIME_VERSION", "0")
    _migrate(repo, select=("cs-9e36f82f",), write=True)
    assert '__version__ = "0"' in emails.read_text(encoding="utf-8")
    edited = orders.read_text(encoding="utf-8") + "# patched here\n"
    orders.write_text(edited, encoding="utf-8")
    _commit_all(repo)

    monkeypatch.setattr(generate, "RUNTIME_VERSION", "7")
    status, _diff, err = _migrate(repo, select=("cs-3cefa2af", "cs-9e36f82f"), write=True)
    assert status == EXIT_OK
    assert '__version__ = "7"' in emails.read_text(encoding="utf-8")
    assert orders.read_text(encoding="utf-8") == edited
    assert "runtime 7 is available, this one is 0" in err


def test_a_refused_or_stale_id_named_with_select_exits_1(repo: Path) -> None:
    status, diff, err = _migrate(repo, select=("cs-dffb77b3", "cs-00000000"))
    assert status == EXIT_REFUSED and diff == b""
    assert "[response-used]" in err and "[stale-id]" in err


def test_an_unknown_service_or_a_bad_topic_template_is_a_usage_error(repo: Path) -> None:
    assert _migrate(repo, services=("billing",))[0] == EXIT_USAGE
    status, _, err = _migrate(repo, select=("cs-9e36f82f",), topic_template="{callee}/{endpoint}")
    assert status == EXIT_USAGE
    assert "illegal character(s) '/'" in err
    status, _, err = _migrate(repo, select=("cs-9e36f82f",), topic_template="{team}.{endpoint}")
    assert status == EXIT_USAGE and "unknown field {team}" in err


def test_the_topic_template_and_client_options_reach_the_output(repo: Path) -> None:
    status, diff, _ = _migrate(
        repo,
        select=("cs-9e36f82f",),
        topic_template="shop.{callee}.{endpoint}",
        client="confluent-kafka",
    )
    assert status == EXIT_OK
    text = diff.decode()
    assert '+        "shop.emails.send",' in text
    assert "+confluent-kafka==" in text
    assert "confluent_kafka" in text


def test_the_cli_prints_a_coloured_diff_only_on_a_terminal(repo: Path) -> None:
    plain = _migrate(repo, select=("cs-9e36f82f",))[1]
    out = io.BytesIO()
    run(
        MigrateCommand(path=repo, select=("cs-9e36f82f",), use_cache=False),
        stdout=out,
        stderr=io.StringIO(),
        terminal=Terminal(color_stdout=True),
    )
    assert b"\x1b[32m+" in out.getvalue() and b"\x1b[" not in plain


def test_the_command_line_runs_migrate(repo: Path) -> None:
    from decouple_services.cli import main

    assert main(["migrate", str(repo), "--select", "cs-00000000", "--no-cache"]) == EXIT_REFUSED
    assert main(["migrate", str(repo), "--no-cache"]) == EXIT_USAGE
    assert main(["migrate", str(repo), "--edge", "orders", "--no-cache"]) == EXIT_USAGE


def test_ids_separated_by_commas_name_several_sites(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from decouple_services.cli import main

    result = scan(repo, ScanOptions(use_cache=False))
    first, second = [s.id for s in result.call_sites if s.category is not Category.PRODUCTION][:2]
    main(["migrate", str(repo), "--select", f"{first}, {second}", "--no-cache"])
    err = capsys.readouterr().err
    assert "stale-id" not in err
    assert "2 refused" in err and first in err and second in err


def test_calls_in_tests_and_scripts_are_refused_as_not_production(repo: Path) -> None:
    result = scan(repo, ScanOptions(use_cache=False))
    test_site = next(s for s in result.call_sites if s.category is Category.TEST)
    status, _, err = _migrate(repo, select=(test_site.id,))
    assert status == EXIT_REFUSED and "[not-production]" in err


def test_tool_decouple_migrate_sets_the_defaults_and_options_override_them(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8")
        + '\n[tool.decouple.migrate]\ntopic-template = "shop.{callee}.{endpoint}"\n'
        'client = "confluent-kafka"\n',
        encoding="utf-8",
    )
    _, diff, _ = _migrate(repo, select=("cs-4f798040",))
    assert b'"shop.notifications.notify"' in diff and b"+confluent-kafka==" in diff
    _, diff, _ = _migrate(repo, select=("cs-4f798040",), topic_template="{callee}.{endpoint}")
    assert b'"notifications.notify"' in diff


def test_a_pr_body_is_written_beside_the_diff_on_stdout(repo: Path, tmp_path: Path) -> None:
    status, dry_run, _ = _migrate(repo, select=("cs-9115b7d3",))
    status, out, _ = _migrate(repo, select=("cs-9115b7d3",), pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK
    assert out == dry_run and b"send_event_and_wait(" in out
    body = (tmp_path / "pr.md").read_text(encoding="utf-8")
    row = next(line for line in body.splitlines() if "`cs-9115b7d3`" in line)
    assert "| `send_event_and_wait` | `uid` (path parameter user_id) |" in row
    assert "success used to mean recommendations handled the call" in row
    assert "`recommendations.profiles.dlq`" in row
    assert "## Reviewing the event path" in body
    assert "Sends that wait (`services/users/accounts/tasks.py:17`)" in body


def test_a_fire_and_forget_site_is_not_promised_at_least_once(repo: Path, tmp_path: Path) -> None:
    """``send_event`` only queues the event in memory: the PR body and the summary say it can
    be lost, at the site and among the risks, instead of promising at-least-once delivery."""
    status, _, err = _migrate(
        repo, select=("cs-9e36f82f",), pr_body=tmp_path / "pr.md", fire_and_forget=True
    )
    assert status == EXIT_OK
    body = (tmp_path / "pr.md").read_text(encoding="utf-8")
    row = next(line for line in body.splitlines() if "`cs-9e36f82f`" in line)
    assert "| `send_event` |" in row
    assert "lost if the process dies" in row and "`KAFKA_DELIVERY_TIMEOUT_MS` (5 min)" in row
    assert "`--outbox`" in row
    assert not row.split("lost if", 1)[0].endswith("at least once; ")
    risks = body.split("## Risks", 1)[1]
    lossy = next(line for line in risks.splitlines() if "can be lost" in line)
    assert "`services/orders/orders/receipts.py:9`" in lossy and "`--outbox`" in lossy
    assert "fire-and-forget (cs-9e36f82f): the event is only queued" in err


def test_a_waiting_site_has_no_fire_and_forget_risk(repo: Path, tmp_path: Path) -> None:
    status, _, err = _migrate(repo, select=("cs-9115b7d3",), pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK
    body = (tmp_path / "pr.md").read_text(encoding="utf-8")
    assert "can be lost" not in body and "fire-and-forget (" not in err
    row = next(line for line in body.splitlines() if "`cs-9115b7d3`" in line)
    assert "`EventOutcomeUnknown`" in row and "Once accepted" in row


def test_split_pr_bodies_start_from_the_edges_before_them(repo: Path, tmp_path: Path) -> None:
    status, _, _ = _migrate(
        repo,
        edges=("orders:emails", "frontend:emails"),
        pr_body=tmp_path / "pr.md",
        split_by_edge=True,
    )
    assert status == EXIT_OK
    first = (tmp_path / "pr-01-frontend-to-emails.md").read_text(encoding="utf-8")
    second = (tmp_path / "pr-02-orders-to-emails.md").read_text(encoding="utf-8")
    assert first.startswith("# Migrate frontend → emails to Kafka events")
    assert "`services/frontend/frontend/views/shop.py:63`" in first
    assert "services/orders/orders/receipts.py" not in first
    before_second = second.split("Before:", 1)[1].split("After:", 1)[0]
    assert "emails.send" in before_second  # frontend's sends are already events there
    assert "`services/orders/orders/receipts.py:9`" in second


def test_an_output_that_cannot_be_written_is_named_without_a_traceback(
    repo: Path, tmp_path: Path
) -> None:
    for option in ("patch", "pr_body"):
        target = tmp_path / "missing" / "out"
        status, _, err = _migrate(repo, select=("cs-9e36f82f",), **{option: target})
        assert status == EXIT_USAGE
        assert f"decouple: error: cannot write {target}" in err
    receipts = repo / "services" / "orders" / "orders" / "receipts.py"
    receipts.chmod(0o444)
    status, _, err = _migrate(repo, select=("cs-9e36f82f",), write=True)
    assert status == EXIT_USAGE
    assert "read-only: services/orders/orders/receipts.py" in err
    assert _git(repo, "status", "--porcelain") == ""


def test_top_ranks_services_as_decouple_hotspots_does_history_included(repo: Path) -> None:
    from decouple_services.graph.history import DEFAULT_WINDOW, change_counts, parse_window
    from decouple_services.graph.score import rank_hotspots
    from decouple_services.migrate.select import top_services

    # recommendations ties notifications on coupling alone; its history breaks the tie.
    upstream = repo / "services" / "recommendations" / "recommendations" / "upstream.py"
    for n in range(5):
        with upstream.open("a", encoding="utf-8") as handle:
            handle.write(f"# edit {n}\n")
        _git(repo, "add", "-A")
        _commit(repo, f"edit {n}")
    result = scan(repo, ScanOptions(use_cache=False))
    changes = change_counts(result, repo, parse_window(DEFAULT_WINDOW))
    ranked = [h.service for h in rank_hotspots(result, changes=changes, top=4)]
    assert ranked != [h.service for h in rank_hotspots(result, top=4)]
    assert top_services(result, 4) == ranked


def test_a_bad_or_taken_branch_name_is_refused_before_any_branch_is_made(repo: Path) -> None:
    status, _, err = _migrate(repo, select=("cs-9e36f82f",), branch="bad..name")
    assert status == EXIT_USAGE and "--branch 'bad..name': not a valid branch name" in err
    assert "decouple migrate:" not in err  # refused before the scan and the summary
    _git(repo, "branch", "events-02-frontend-to-recommendations")
    status, _, err = _migrate(repo, services=("frontend",), branch="events", split_by_edge=True)
    assert (
        status == EXIT_USAGE
        and "branch events-02-frontend-to-recommendations exists already" in err
    )
    assert _git(repo, "branch", "--list", "events*").split() == [
        "events-02-frontend-to-recommendations"
    ]


CANCEL_EVENT = {"event": "orders.order-cancelled", "select": ("cs-85e48566", "cs-e14c70bb")}
API = "services/orders/orders/api.py"
RELEASE = (
    '    call_service(service="inventory", path="/stock/release",\n'
    '                 payload={"reservation_id": order.reservation_id}, timeout=2)\n'
)
REFUND_AND_WRITE = (
    "    if order.charge_id:\n"
    "        await run_in_threadpool(refund_charge, order.charge_id, order.total_cents)\n"
    '    await db.set_status(order_id, "cancelled")\n'
)


def test_cancel_order_is_not_one_event_while_the_refund_lies_between_its_calls(
    repo: Path,
) -> None:
    # One send at the stock release would tell the customer "order cancelled" before the
    # refund and the status write, and even when the refund raised.
    status, diff, summary = _migrate(repo, **CANCEL_EVENT)
    assert status == EXIT_REFUSED and diff == b""
    assert (
        "cs-e14c70bb: between the event's send (cs-85e48566, line 91) and this call (line 96) "
        "come `await run_in_threadpool(refund_charge, order.charge_id, order.total_cents)` "
        "(line 94: a payment call); `await db.set_status(order_id, 'cancelled')` "
        "(line 95: a database write)"
    ) in summary


def test_cancel_order_with_its_calls_after_the_refund_is_one_event_cautioned_where_it_sends(
    repo: Path,
) -> None:
    path = repo / API
    text = path.read_text()
    assert RELEASE + REFUND_AND_WRITE in text
    path.write_text(text.replace(RELEASE + REFUND_AND_WRITE, REFUND_AND_WRITE + RELEASE))
    _git(repo, "add", "-A")
    _commit(repo, "release after the refund")
    status, _, summary = _migrate(repo, services=("orders",))
    assert "--event orders.cancel-order --select cs-85e48566 --select cs-e14c70bb" in summary
    status, diff, summary = _migrate(repo, **CANCEL_EVENT)
    assert status == EXIT_OK, summary
    rewritten = diff.decode()
    assert rewritten.index("run_in_threadpool(refund_charge") < rewritten.index(
        "await send_event_and_wait_async("
    )
    # the caution is the send's, at its line, after the refund and the write; the folded
    # notify call, whose statement goes, keeps none
    lines = summary.splitlines()
    lead = next(n for n, line in enumerate(lines) if line.startswith("  cs-85e48566  "))
    assert f"{API}:94  orders -> orders.order-cancelled" in lines[lead]
    assert lines[lead + 2].startswith(
        "      caution [effect-before-send]: the send comes after a payment call "
        f"`run_in_threadpool(refund_charge, order.charge_id, order.total_cents)` ({API}:92); "
        f"a database write `db.set_status(order_id, 'cancelled')` ({API}:93)"
    )
    folded = next(n for n, line in enumerate(lines) if line.startswith("  cs-e14c70bb  "))
    assert "told by the event's send, cs-85e48566" in lines[folded]
    assert not lines[folded + 1].startswith("      caution")
    # the folded call is told by the event's one send, keyed as that send is: what it
    # says of the idempotency key is the send's, not what its own send would have had

    def key_notes(start: int) -> list[str]:
        block = itertools.takewhile(lambda line: line.startswith("      "), lines[start + 1 :])
        return [line for line in block if "idempotency" in line and "note:" in line]

    assert key_notes(lead) and key_notes(folded) == key_notes(lead)


def test_dedupe_per_pod_names_the_helm_consumer_templates_too(repo: Path) -> None:
    # inventory's consumer runs from the compose override and from the chart's template,
    # which keeps its SQLite store on an emptyDir: the one production runs is named too.
    status, _, summary = _migrate(repo, services=("orders",))
    assert status == EXIT_OK, summary
    (line,) = [s for s in summary.splitlines() if s.startswith("caution [per-pod-dedupe]")]
    assert (
        "inventory.decouple_consumers.inventory_stock_release (docker-compose.decouple.yml; "
        "deploy/helm/shop/templates/inventory-consumers.decouple.yaml)"
    ) in line
