"""Ignore and exclude patterns are matched in linear time, whatever they hold."""

from __future__ import annotations

import pytest

from .harness import Sandbox, assert_ok

PATTERN = "*a" * 12 + "b"
CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'


def _files(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    for i in range(10):
        sandbox.write(f"orders/{'a' * 33}{i}.py", "x = 1\n")


@pytest.mark.parametrize("git", [False, True], ids=["walk", "git"])
def test_a_backtracking_gitignore_pattern(sandbox: Sandbox, git: bool) -> None:
    _files(sandbox)
    if git:
        sandbox.git_init()  # before the pattern: git add -A alone would take minutes on it
    sandbox.write(".gitignore", PATTERN + "\n")
    if git:
        sandbox.git("add", "--", ".gitignore")
        sandbox.git("commit", "-q", "-m", "ignore")
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache")
    assert_ok(outcome)
    assert b"billing" in outcome.stdout


def test_a_backtracking_exclude_pattern(sandbox: Sandbox) -> None:
    _files(sandbox)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache", "--exclude", PATTERN)
    assert_ok(outcome)
    assert b"billing" in outcome.stdout


def test_a_backtracking_category_glob(sandbox: Sandbox) -> None:
    _files(sandbox)
    sandbox.write("pyproject.toml", f'[tool.decouple]\ntests = ["{PATTERN}"]\n')
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache")
    assert_ok(outcome)
    assert b"billing" in outcome.stdout
