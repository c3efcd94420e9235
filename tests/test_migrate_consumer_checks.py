"""The generated consumer tests check the consumer, on tests/fixtures/consumer-checks: the
shop's checkout posts to the mailer, whose handler takes what it sends, and to the ledger,
whose handler reads a field the shop never sends. Both calls migrate; each callee's
generated test hands one event, as the shop sends it, to the consumer's application, and
it passes for the mailer and fails for the ledger, as the ledger's consumer would
dead-letter every event.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from decouple_services.app.migrate import EXIT_OK, MigrateCommand, run_migrate_command
from decouple_services.app.pipeline import ScanOptions, scan

FIXTURE = Path(__file__).parent / "fixtures" / "consumer-checks"
CHECKOUT = "services/shop/shop/checkout.py"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("consumer-checks") / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "shop")
    ids = [s.id for s in scan(root, ScanOptions(use_cache=False)).call_sites if s.file == CHECKOUT]
    assert len(ids) == 2
    err = io.StringIO()
    command = MigrateCommand(path=root, select=tuple(ids), write=True, use_cache=False)
    assert run_migrate_command(command, stdout=io.BytesIO(), stderr=err) == EXIT_OK
    assert "2 call site(s)" in err.getvalue(), err.getvalue()
    return root


def _generated_tests(repo: Path, service: str) -> subprocess.CompletedProcess[str]:
    root = repo / "services" / service
    (test,) = (root / "tests").glob("test_*_consumer.py")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_generated_test_builds_its_event_from_the_literals_the_caller_sends(
    repo: Path,
) -> None:
    (test,) = (repo / "services" / "mailer" / "tests").glob("test_*_consumer.py")
    text = test.read_text(encoding="utf-8")
    # the literal template the shop writes, a typed placeholder for what it computes
    assert 'DATA = {"template": "receipt", "order_id": "1", "to": "to-1"}' in text


def test_a_working_handler_passes_its_generated_test(repo: Path) -> None:
    done = _generated_tests(repo, "mailer")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_handler_that_fails_on_what_the_caller_sends_fails_its_generated_test(
    repo: Path,
) -> None:
    done = _generated_tests(repo, "ledger")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    # the consumer would retry the event: the application answered 500 (the KeyError)
    assert "'retry', 500" in done.stdout
