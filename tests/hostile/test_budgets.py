"""Small inputs that ask for a great deal of work get a diagnostic, not the work."""

from __future__ import annotations

from .harness import Sandbox, assert_ok

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'


def _scan_json(sandbox: Sandbox, *extra: str) -> str:
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache", *extra)
    assert_ok(outcome)
    return outcome.stdout.decode()


def test_an_env_file_whose_values_double_line_after_line(sandbox: Sandbox) -> None:
    lines = ["A0=xxxxxxxxxxxxxxxx"] + [f"A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, 40)]
    sandbox.write(".env", "\n".join(lines) + "\n")
    sandbox.write("app.py", CALLER)
    assert len((sandbox.repo / ".env").read_bytes()) < 700
    assert "expands to more than" in _scan_json(sandbox)


def test_env_defaults_nested_thousands_deep(sandbox: Sandbox) -> None:
    sandbox.write(".env", "A=" + "${X:-" * 5000 + "x" + "}" * 5000 + "\n")
    sandbox.write("app.py", CALLER)
    assert "nested more than" in _scan_json(sandbox)
