"""A FIFO anywhere decouple might read never hangs it, and is never replaced."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from .harness import Sandbox, assert_fails_with_one_line, assert_ok, is_fifo

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
COMPOSE = "services:\n  orders:\n    build: ./orders\n    env_file: orders/.env.orders\n"


def _fifo_py_link(sandbox: Sandbox) -> str:
    os.mkfifo(sandbox.repo / "pipe")
    (sandbox.repo / "orders" / "client.py").symlink_to(sandbox.repo / "pipe")
    return "pipe"


def _fifo_gitignore(sandbox: Sandbox) -> str:
    os.mkfifo(sandbox.repo / ".gitignore")
    return ".gitignore"


def _fifo_env_file(sandbox: Sandbox) -> str:
    sandbox.write("docker-compose.yml", COMPOSE)
    os.mkfifo(sandbox.repo / "orders" / ".env.orders")
    return "orders/.env.orders"


def _tracked_then_fifo(rel: str, text: str) -> Callable[[Sandbox], str]:
    def make(sandbox: Sandbox) -> str:
        sandbox.write(rel, text)
        sandbox.git_init()
        (sandbox.repo / rel).unlink()
        os.mkfifo(sandbox.repo / rel)
        return rel

    return make


CASES: dict[str, Callable[[Sandbox], str]] = {
    "py-symlink-to-fifo": _fifo_py_link,
    "gitignore": _fifo_gitignore,
    "env_file": _fifo_env_file,
    "tracked-compose-file": _tracked_then_fifo("docker-compose.yml", COMPOSE),
    "tracked-dotenv": _tracked_then_fifo(".env", "A=1\n"),
    "tracked-python-file": _tracked_then_fifo("orders/other.py", CALLER),
}


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
def test_a_fifo_in_the_tree_is_skipped_with_a_diagnostic(
    sandbox: Sandbox, make: Callable[[Sandbox], str]
) -> None:
    sandbox.write("orders/app.py", CALLER)
    fifo = make(sandbox)
    outcome = sandbox.run("scan", ".", "--format", "json")
    assert_ok(outcome)
    assert is_fifo(sandbox.repo / fifo)
    assert b"a FIFO, not a regular file" in outcome.stdout
    assert b"billing" in outcome.stdout


def test_a_fifo_in_the_cache_is_ignored(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    assert_ok(sandbox.run("scan", ".", "--format", "json"))
    cache = sandbox.repo / ".decouple-cache"
    replaced = []
    for path in sorted(cache.rglob("*.json")):
        path.unlink()
        os.mkfifo(path)
        replaced.append(path)
    assert replaced
    (sandbox.repo / "orders" / "app.py").write_text(CALLER + "\n# edited\n")
    outcome = sandbox.run("scan", ".", "--format", "json")
    assert_ok(outcome)
    assert b"billing" in outcome.stdout
    assert all(is_fifo(path) for path in replaced)


def test_a_fifo_as_cache_dir_is_refused(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    os.mkfifo(sandbox.base / "cache")
    outcome = sandbox.run(
        "scan", ".", "--format", "json", "--cache-dir", str(sandbox.base / "cache")
    )
    assert_ok(outcome)
    assert b"cache-unusable" in outcome.stdout
    assert is_fifo(sandbox.base / "cache")


def test_a_fifo_as_config_file_is_an_error(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    os.mkfifo(sandbox.base / "decouple.toml")
    outcome = sandbox.run("scan", ".", "--config", str(sandbox.base / "decouple.toml"))
    assert_fails_with_one_line(outcome, 2, "decouple.toml", "FIFO")
    assert is_fifo(sandbox.base / "decouple.toml")


def test_a_cache_folder_linking_out_of_the_tree_is_not_followed(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    (sandbox.outside / "cache").mkdir()
    (sandbox.repo / ".decouple-cache").symlink_to(sandbox.outside / "cache")
    sandbox.snapshot()
    outcome = sandbox.run("scan", ".", "--format", "json")
    assert_ok(outcome)
    assert b"billing" in outcome.stdout
    assert b"cache-unusable" in outcome.stdout
    # the fixture checks that outside/ is as it was


def test_a_cache_subfolder_linking_out_of_the_tree_is_not_written(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    cache = sandbox.repo / ".decouple-cache"
    cache.mkdir()
    for i in range(256):
        (cache / f"{i:02x}").symlink_to(sandbox.outside)
    outcome = sandbox.run("scan", ".", "--format", "json")
    assert_ok(outcome)
    assert b"billing" in outcome.stdout
