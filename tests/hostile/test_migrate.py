"""migrate never reads, shows or commits anything from outside the repository."""

from __future__ import annotations

import pytest

from .harness import Sandbox, assert_fails_with_one_line, assert_within_limits

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
SECRET = "root:x:0:0"


def _repo(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", "x = 1\n")
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
