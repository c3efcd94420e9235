"""git runs in a scanned repository without running anything its .git/config names."""

from __future__ import annotations

import pytest

from .harness import Sandbox, assert_ok

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
COMPOSE = "services:\n  orders:\n    build: ./orders\n  billing:\n    build: ./billing\n"


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "."),
        ("hotspots", "."),
        ("graph", "."),
        ("migrate", ".", "--edge", "orders:billing", "--write"),
        ("migrate", ".", "--edge", "orders:billing", "--branch", "events"),
    ],
    ids=lambda a: " ".join(a[:1] + a[-1:]),
)
def test_core_fsmonitor_of_the_scanned_repository_never_runs(
    sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", "x = 1\n")
    sandbox.write("docker-compose.yml", COMPOSE)
    sandbox.git_init()
    hook = sandbox.base / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho ran >> {sandbox.outside}/fsmonitor-ran\nexit 1\n")
    hook.chmod(0o755)
    sandbox.git("config", "core.fsmonitor", str(hook))
    sandbox.git("status", "--short")  # the hook is live: git itself runs it
    assert (sandbox.outside / "fsmonitor-ran").exists()
    (sandbox.outside / "fsmonitor-ran").unlink()
    sandbox.snapshot()
    outcome = sandbox.run(*args, "--no-cache")
    assert_ok(outcome)
    assert not (sandbox.outside / "fsmonitor-ran").exists()
