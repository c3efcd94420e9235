"""migrate never reads, shows or commits anything from outside the repository."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest

from .harness import WALL_SECONDS, Sandbox, assert_fails_with_one_line, assert_within_limits

#: Callees a generated consumer can hand events to: an application serving the route.
BILLING = 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.post("/charge")\ndef handle():\n    return ""\n'
SHIPPING = 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.post("/ship")\ndef handle():\n    return ""\n'
CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
SECRET = "root:x:0:0"


def _repo(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", BILLING)
    sandbox.write(
        "docker-compose.yml",
        "services:\n  orders:\n    build: ./orders\n  billing:\n    build: ./billing\n",
    )
    (sandbox.repo / "orders" / "requirements.txt").symlink_to(sandbox.outside / "secret.txt")
    sandbox.git_init()


@pytest.mark.parametrize(
    "mode", [(), ("--branch", "events"), ("--patch", "out.patch"), ("--write",)], ids=str
)
def test_a_requirements_file_linking_out_of_the_tree_is_refused(
    sandbox: Sandbox, mode: tuple[str, ...]
) -> None:
    _repo(sandbox)
    outcome = sandbox.run("migrate", ".", "--edge", "orders:billing", "--no-cache", *mode)
    assert_within_limits(outcome)
    assert SECRET.encode() not in outcome.stdout
    assert SECRET not in outcome.stderr
    patch = sandbox.repo / "out.patch"
    assert not patch.exists() or SECRET.encode() not in patch.read_bytes()
    branches = sandbox.git("branch", "--list", "events")
    assert not branches.strip(), "a branch was committed"
    assert_fails_with_one_line(outcome, 2, "orders/requirements.txt")


def _two_edges(sandbox: Sandbox) -> None:
    sandbox.write(
        "orders/app.py",
        "import requests\n\ndef f():\n"
        '    requests.post("http://billing:8000/charge", timeout=2)\n\n'
        "def g():\n"
        '    requests.post("http://shipping:8000/ship", timeout=2)\n',
    )
    sandbox.write("billing/app.py", BILLING)
    sandbox.write("shipping/app.py", SHIPPING)
    sandbox.write(
        "docker-compose.yml",
        "services:\n  orders:\n    build: ./orders\n  billing:\n    build: ./billing\n"
        "  shipping:\n    build: ./shipping\n",
    )


def test_a_migration_holding_the_repository_refuses_a_second(sandbox: Sandbox) -> None:
    _two_edges(sandbox)
    fd = os.open(sandbox.repo, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        outcome = sandbox.run("migrate", ".", "--edge", "orders:billing", "--write", "--no-cache")
    finally:
        os.close(fd)
    assert_fails_with_one_line(outcome, 2, "another decouple migrate")
    assert (sandbox.repo / "orders" / "app.py").read_text().count("requests.post") == 2


def test_two_concurrent_migrations_never_lose_topics(sandbox: Sandbox) -> None:
    _two_edges(sandbox)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "decouple_services", "migrate", ".", "--edge", edge, "--write"],
            cwd=sandbox.repo,
            env=sandbox.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for edge in ("orders:billing", "orders:shipping")
    ]
    messages = [run.communicate(timeout=WALL_SECONDS)[1] for run in runs]
    statuses = [run.returncode for run in runs]
    source = (sandbox.repo / "orders" / "app.py").read_text()
    if statuses == [0, 0]:  # one after the other: both topics kept
        assert source.count("send_event_and_wait(") == 2, messages
    else:
        assert sorted(statuses) == [0, 2], messages
        assert any("another decouple migrate" in m for m in messages), messages
        assert source.count("send_event_and_wait(") == 1
    docs = "".join(p.read_text() for p in sandbox.repo.rglob("*asyncapi*.y*ml"))
    for topic, status in zip(("billing.charge", "shipping.ship"), statuses, strict=True):
        assert (topic in docs) == (status == 0), (topic, docs[:500])
