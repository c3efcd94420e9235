"""Small inputs that ask for a great deal of work get a diagnostic, not the work."""

from __future__ import annotations

import json

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


def _aliased_list(fan_out: int) -> str:
    """A Kubernetes List whose env, containers and items all repeat one anchor."""
    env = "\n".join(f"    - {{name: URL_{i}, value: 'http://svc{i}:80'}}" for i in range(fan_out))
    containers = "\n".join("    - *c" for _ in range(fan_out))
    items = "\n".join("  - *d" for _ in range(fan_out))
    return (
        "kind: List\napiVersion: v1\nanchors:\n  env: &e\n" + env + "\n"
        "  container: &c {name: app, image: app:1, env: *e}\n"
        "  containers: &cs\n" + containers + "\n"
        "  deployment: &d {kind: Deployment, apiVersion: apps/v1,"
        " metadata: {name: app}, spec: {template: {spec: {containers: *cs}}}}\n"
        "items:\n" + items + "\n"
    )


def test_a_small_manifest_whose_aliases_fan_out(sandbox: Sandbox) -> None:
    sandbox.write("k8s/app.yaml", _aliased_list(40))
    sandbox.write("app.py", CALLER)
    assert len((sandbox.repo / "k8s/app.yaml").read_bytes()) < 4000
    assert "aliases expand" in _scan_json(sandbox)


def test_a_compose_file_with_thousands_of_aliases_to_one_env_map(sandbox: Sandbox) -> None:
    env = "\n".join(f"  V{i}: http://svc{i}:80" for i in range(300))
    services = "\n".join(f"  s{i}:\n    image: x\n    environment: *env" for i in range(3000))
    sandbox.write("docker-compose.yml", "x-env: &env\n" + env + "\nservices:\n" + services + "\n")
    sandbox.write("app.py", CALLER)
    assert "aliases expand" in _scan_json(sandbox)


def test_a_chart_nested_a_hundred_thousand_deep(sandbox: Sandbox) -> None:
    sandbox.write("chart/Chart.yaml", "name: x\nv: " + "[" * 100_000 + "]" * 100_000 + "\n")
    sandbox.write("chart/values.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    sandbox.write("app.py", CALLER)
    assert "nesting depth" in _scan_json(sandbox)


def test_an_env_file_out_of_the_tree_named_by_thousands_of_services(sandbox: Sandbox) -> None:
    (sandbox.repo / "big.env").write_text("A=" + "x" * (6 * 2**20) + "\n")
    services = "".join(
        f"  s{i}:\n    image: x\n    env_file: [../outside/secret.txt, big.env]\n"
        for i in range(2500)
    )
    sandbox.write("docker-compose.yml", "services:\n" + services)
    sandbox.write("app.py", CALLER)
    diagnostics = json.loads(_scan_json(sandbox))["diagnostics"]
    about = [d for d in diagnostics if "secret" in d["file"] + d["message"]]
    large = [d for d in diagnostics if "big.env" in d["file"] + d["message"]]
    assert [d["code"] for d in about] == ["symlink-outside"], about[:3]
    assert [d["code"] for d in large] == ["too-large"], large[:3]
