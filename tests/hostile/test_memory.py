"""Large or many inputs stay within the memory and time a case is allowed."""

from __future__ import annotations

from .harness import Sandbox, assert_ok

CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'


def test_a_large_file_with_a_late_syntax_error(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    body = "import requests\n" + 'x = requests.get("http://a")\n' * 53_000 + "def broken(:\n"
    assert 1_500_000 < len(body) < 1536 * 1024  # just under the size limit
    sandbox.write("orders/big.py", body)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache", "-j", "1")
    assert_ok(outcome)
    assert b"parse-error" in outcome.stdout


def test_a_hundred_thousand_line_function(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    body = "import requests\nr = requests.Session()\n\ndef f(u):\n" + "    r.get(u)\n" * 100_000
    assert len(body) < 1536 * 1024
    sandbox.write("orders/long.py", body)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache", "-j", "1")
    assert_ok(outcome)


def test_jobs_far_beyond_the_cpu_count(sandbox: Sandbox) -> None:
    for i in range(60):
        sandbox.write(f"orders/m{i}.py", CALLER)
    outcome = sandbox.run("scan", ".", "--format", "json", "--no-cache", "-j", "5000")
    assert_ok(outcome)
