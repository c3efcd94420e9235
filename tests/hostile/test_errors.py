"""No traceback reaches a user: expected errors exit 2, the unexpected exit 3, on one line."""

from __future__ import annotations

import json

import pytest

from .harness import Sandbox, assert_fails_with_one_line, assert_ok

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'
DEEP_JSON = "[" * 200_000 + "]" * 200_000


def test_tool_as_a_string_in_pyproject(sandbox: Sandbox) -> None:
    sandbox.write("pyproject.toml", 'tool = "x"\n')
    sandbox.write("app.py", CALLER)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache")
    assert_ok(outcome)
    assert b"config-invalid" in outcome.stdout


def test_a_deeply_nested_toml_array(sandbox: Sandbox) -> None:
    sandbox.write("pyproject.toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    sandbox.write("app.py", CALLER)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache")
    assert_ok(outcome)
    assert b"config-invalid" in outcome.stdout


def test_a_deeply_nested_explicit_config(sandbox: Sandbox) -> None:
    sandbox.write("decouple.toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    sandbox.write("app.py", CALLER)
    outcome = sandbox.run("scan", ".", "--config", "decouple.toml", "--no-cache")
    assert_fails_with_one_line(outcome, 2, "decouple.toml")


@pytest.mark.parametrize(
    "args",
    [("scan", ".", "--baseline", "deep.json"), ("graph", "--from", "deep.json")],
    ids=["baseline", "from"],
)
def test_deeply_nested_json_given_as_a_scan(sandbox: Sandbox, args: tuple[str, ...]) -> None:
    sandbox.write("app.py", CALLER)
    sandbox.write("deep.json", DEEP_JSON)
    outcome = sandbox.run(*args)
    assert_fails_with_one_line(outcome, 2, "deep.json")


def test_deeply_nested_json_in_every_cache_file(sandbox: Sandbox) -> None:
    sandbox.write("app.py", CALLER)
    assert_ok(sandbox.run("scan", ".", "--format", "json"))
    files = sorted((sandbox.repo / ".decouple-cache").rglob("*.json"))
    assert files
    for path in files:
        path.write_text(DEEP_JSON)
    for _ in range(2):  # and on the run after
        outcome = sandbox.run("scan", ".", "--format", "json")
        assert_ok(outcome)
        assert json.loads(outcome.stdout)["call_sites"]


def test_an_unexpected_error_exits_3_naming_the_file_and_how_to_report(sandbox: Sandbox) -> None:
    # A bug stands in for whatever input finds the next one: the .env parser raising.
    sandbox.write("app.py", CALLER)
    sandbox.write(".env", "A=1\n")
    prelude = (
        "import decouple_services.discover.services as s\n"
        "def boom(*args, **kwargs):\n"
        "    raise KeyError('line one\\nline two')\n"
        "s.parse_dotenv = boom\n"
    )
    outcome = sandbox.run("scan", ".", "--no-cache", prelude=prelude)
    assert_fails_with_one_line(outcome, 3, ".env", "KeyError", "report")


def test_a_baseline_with_many_wrong_fields_is_one_line(sandbox: Sandbox) -> None:
    sandbox.write("app.py", CALLER)
    assert_ok(sandbox.run("scan", ".", "--format", "json", "-o", "../scan.json", "--no-cache"))
    document = json.loads((sandbox.base / "scan.json").read_text())
    document["call_sites"] = [{"id": 1}, {"line": "x"}, 7]
    (sandbox.base / "scan.json").write_text(json.dumps(document))
    outcome = sandbox.run("scan", ".", "--baseline", "../scan.json", "--no-cache")
    assert_fails_with_one_line(outcome, 2, "scan.json", "not a valid decouple scan")
