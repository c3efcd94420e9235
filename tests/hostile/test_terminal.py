"""Names from a scanned tree never drive the terminal, nor break a text format."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .harness import Sandbox, assert_ok

#: Callees a generated consumer can hand events to: an application serving the route.
BILLING = 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.post("/charge")\ndef handle():\n    return ""\n'
CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
EVIL = "or\x1b[2Jders\x1b]0;pwned\x07\x9b31m"
# the compose file spells it with YAML escapes; the file name holds the raw bytes
COMPOSE = (
    'services:\n  "or\\e[2Jders\\e]0;pwned\\a\\x9b31m":\n    build: ./orders\n'
    "  billing:\n    build: ./billing\n"
)
RAW = ("\x1b", "\x07", "\x9b", "\x00")


def _repo(sandbox: Sandbox, compose: str = COMPOSE) -> None:
    sandbox.write("orders/app\x1b]0;file\x07.py", CALLER)
    sandbox.write("billing/app.py", BILLING)
    sandbox.write("docker-compose.yml", compose)


def _assert_clean(text: str) -> None:
    for char in RAW:
        assert char not in text, f"{char!r} reached the output:\n{text[:2000]!r}"


COMMANDS = [
    ("scan", "."),
    ("hotspots", "."),
    ("graph", "."),
    ("graph", ".", "--mermaid", "-"),
    ("migrate", ".", "--edge", f"{EVIL}:billing"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:3]))
def test_control_characters_in_names_are_escaped(sandbox: Sandbox, args: tuple[str, ...]) -> None:
    _repo(sandbox)
    outcome = sandbox.run(*args, "--no-cache")
    assert_ok(outcome)
    _assert_clean(outcome.stdout.decode("utf-8", "replace"))
    _assert_clean(outcome.stderr)
    assert "\\x1b" in outcome.stdout.decode() + outcome.stderr  # shown, escaped


def test_the_svg_stays_valid_xml(sandbox: Sandbox) -> None:
    _repo(sandbox)
    outcome = sandbox.run("graph", ".", "--svg", "out.svg", "--no-cache")
    assert_ok(outcome)
    svg = (sandbox.repo / "out.svg").read_text(encoding="utf-8")
    ET.fromstring(svg)
    _assert_clean(svg)


def test_a_nul_in_a_service_name_is_drawn(sandbox: Sandbox) -> None:
    _repo(sandbox, COMPOSE.replace("\\e[2Jders", "\\0ders"))
    outcome = sandbox.run("graph", ".", "--svg", "out.svg", "--no-cache")
    assert_ok(outcome)
    ET.fromstring((sandbox.repo / "out.svg").read_text(encoding="utf-8"))


def test_a_patch_naming_such_a_file_still_applies(sandbox: Sandbox) -> None:
    _repo(sandbox)
    sandbox.git_init()
    outcome = sandbox.run("migrate", ".", "--edge", f"{EVIL}:billing", "--patch", "../p.diff")
    assert_ok(outcome)
    patch = (sandbox.base / "p.diff").read_bytes()
    _assert_clean(patch.decode("utf-8", "replace"))
    sandbox.git("apply", "--check", str(sandbox.base / "p.diff"))


def test_the_html_page_holds_no_control_characters(sandbox: Sandbox) -> None:
    _repo(sandbox)
    assert_ok(sandbox.run("graph", ".", "--html", "out.html", "--no-cache"))
    _assert_clean((sandbox.repo / "out.html").read_text(encoding="utf-8"))


def test_messages_naming_services_are_escaped(sandbox: Sandbox) -> None:
    _repo(sandbox)
    # --callee matching nothing lists the callees there are; --edge naming an unknown
    # service lists the services: both on stderr, both from the tree
    outcome = sandbox.run("scan", ".", "--callee", "nobody", "--no-cache")
    assert_ok(outcome)
    _assert_clean(outcome.stderr)
    outcome = sandbox.run("migrate", ".", "--edge", "nobody:billing", "--no-cache")
    assert outcome.status == 2, outcome.describe()
    assert "\\x1b" in outcome.stderr, outcome.describe()
    _assert_clean(outcome.stderr)
