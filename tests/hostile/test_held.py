"""Hostile inputs decouple already handled, kept under the same limits so they stay handled."""

from __future__ import annotations

import json
import os

from .harness import Sandbox, assert_ok

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
COMPOSE = "services:\n  orders:\n    build: ./orders\n  billing:\n    build: ./billing\n"


def _diagnostics(sandbox: Sandbox) -> dict[str, str]:
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache")
    assert_ok(outcome)
    return {d["file"]: d["code"] for d in json.loads(outcome.stdout)["diagnostics"]}


def test_a_billion_laughs_compose_file(sandbox: Sandbox) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    sandbox.write("docker-compose.yml", "\n".join(lines) + "\nservices: {}\n")
    sandbox.write("app.py", CALLER)
    assert _diagnostics(sandbox)["docker-compose.yml"] == "compose-invalid"


def test_an_oversized_deployment_file(sandbox: Sandbox) -> None:
    sandbox.write("k8s/big.yaml", "a: " + "x" * (6 * 2**20) + "\n")
    sandbox.write("app.py", CALLER)
    assert _diagnostics(sandbox)["k8s/big.yaml"] == "too-large"


def test_a_wrong_typed_configuration(sandbox: Sandbox) -> None:
    sandbox.write("pyproject.toml", "[tool.decouple]\nexclude = 3\nservices = 'x'\n")
    sandbox.write("app.py", CALLER)
    assert _diagnostics(sandbox)["pyproject.toml"] == "config-invalid"


def test_symlink_loops_and_links_out_of_the_tree(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    os.symlink(sandbox.repo, sandbox.repo / "orders" / "loop")
    os.symlink("self.py", sandbox.repo / "self.py")
    os.symlink(sandbox.outside, sandbox.repo / "escape")
    os.symlink(sandbox.outside / "secret.txt", sandbox.repo / "secret.py")
    found = _diagnostics(sandbox)
    assert found["orders/loop"] == "symlink-loop"
    assert found["self.py"] == "symlink-loop"
    assert found["escape"] == "symlink-outside"
    assert found["secret.py"] == "symlink-outside"


def test_markup_in_names_is_escaped_in_html(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", "x = 1\n")
    sandbox.write(
        "docker-compose.yml",
        COMPOSE.replace("orders:", '"<script>alert(1)</script>":'),
    )
    assert_ok(sandbox.run("graph", ".", "--html", "out.html", "--no-cache"))
    page = (sandbox.repo / "out.html").read_text()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page


def test_scanned_code_is_never_run(sandbox: Sandbox) -> None:
    marker = sandbox.outside / "imported"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    sandbox.write("orders/app.py", payload + CALLER)
    sandbox.write("orders/conftest.py", payload)
    sandbox.write("orders/setup.py", payload)
    sandbox.write("billing/app.py", "x = 1\n")
    sandbox.write("docker-compose.yml", COMPOSE)
    for args in (("scan", "."), ("graph", "."), ("migrate", ".", "--edge", "orders:billing")):
        assert_ok(sandbox.run(*args, "--no-cache"))
    assert not marker.exists()


def test_a_second_migration_changes_nothing(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", "x = 1\n")
    sandbox.write("docker-compose.yml", COMPOSE)
    assert_ok(sandbox.run("migrate", ".", "--edge", "orders:billing", "--write", "--no-cache"))
    again = sandbox.run("migrate", ".", "--service", "orders", "--no-cache")
    assert_ok(again)
    assert again.stdout == b""
