"""decouple scan in CI: repository-relative SARIF, annotations, rule selection, inline
suppression, gates and contracts from [tool.decouple], exit statuses.

Each test builds a small git repository whose services live under ``svc/`` and scans that
folder, as a monorepo's workflow would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from decouple_services.cli.commands import main

SERVICES = """
[tool.decouple.services.orders]
root = "orders"
aliases = ["orders"]

[tool.decouple.services.users]
root = "users"
aliases = ["users"]

[tool.decouple.services.frontend]
root = "frontend"
aliases = ["frontend"]
"""

ORDERS = """import requests


def checkout(uid):
    requests.post(f"http://users:8000/users/{uid}/points", json={})
    # decouple: ignore[DCP004, DCP001]
    requests.get("http://users:8000/users")
    requests.get("http://users:8000/health")  # decouple: ignore


def refund(uid):
    requests.post(f"http://users:8000/users/{uid}/refund", json={}, timeout=2)  # decouple: ignore[DCP007]
"""

FRONTEND = """import requests


def page():
    return requests.get("http://orders:8000/orders", timeout=2).json()
"""


def make_repo(tmp_path: Path, extra_config: str = "") -> Path:
    repo = tmp_path / "repo"
    (repo / "svc" / "orders" / "orders").mkdir(parents=True)
    (repo / "svc" / "users" / "users").mkdir(parents=True)
    (repo / "svc" / "frontend" / "frontend").mkdir(parents=True)
    (repo / "svc" / "pyproject.toml").write_text(
        "[tool.decouple]\n" + extra_config + "\n" + SERVICES
    )
    (repo / "svc" / "orders" / "orders" / "app.py").write_text(ORDERS)
    (repo / "svc" / "users" / "users" / "app.py").write_text("def ok():\n    return 1\n")
    (repo / "svc" / "frontend" / "frontend" / "app.py").write_text(FRONTEND)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def scan(repo: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["scan", str(repo / "svc"), "--no-cache", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_sarif_paths_are_relative_to_the_git_top_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scanning ``svc/`` used to give ``orders/orders/app.py``: the wrong file on GitHub."""
    repo = make_repo(tmp_path)

    status, out, _ = scan(repo, "--format", "sarif", capsys=capsys)

    assert status == 0
    run = json.loads(out)["runs"][0]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in run["results"]
        for loc in result["locations"]
    }
    assert uris == {"svc/orders/orders/app.py", "svc/frontend/frontend/app.py"}
    assert all((repo / uri).is_file() for uri in uris)
    assert run["automationDetails"]["id"] == "decouple/svc/"


def test_outside_git_paths_are_relative_to_the_scanned_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    ceiling = {"GIT_CEILING_DIRECTORIES": str(tmp_path)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ceiling.items():
            patch.setenv(key, value)
        status, out, _ = scan(repo, "--format", "sarif", capsys=capsys)

    assert status == 0
    run = json.loads(out)["runs"][0]
    assert run["automationDetails"]["id"] == "decouple/"
    assert {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    } == {"orders/orders/app.py", "frontend/frontend/app.py"}


def test_inline_ignore_with_codes_keeps_the_call_and_suppresses_only_those_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``# decouple: ignore[DCP004]`` used to drop the whole call, as a bare ignore does."""
    repo = make_repo(tmp_path)

    _, out, _ = scan(repo, "--format", "json", capsys=capsys)

    document = json.loads(out)
    by_line = {(s["file"], s["line"]): s for s in document["call_sites"]}
    kept = by_line[("orders/orders/app.py", 7)]
    assert kept["suppressed"] == ["DCP001", "DCP004"]
    assert ("orders/orders/app.py", 8) not in by_line  # a bare ignore still drops the call
    findings = {(f["call_site"], f["rule"]): f["suppressed"] for f in document["findings"]}
    assert findings[(kept["id"], "DCP001")] is True
    assert findings[(kept["id"], "DCP004")] is True
    first = by_line[("orders/orders/app.py", 5)]
    assert findings[(first["id"], "DCP004")] is False


def test_suppressed_findings_are_marked_in_sarif_and_left_out_of_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)

    _, sarif_out, _ = scan(repo, "--format", "sarif", capsys=capsys)
    _, github_out, _ = scan(repo, "--format", "github", capsys=capsys)
    _, table_out, _ = scan(repo, "--format", "table", capsys=capsys)

    at_line_7 = [
        r
        for r in json.loads(sarif_out)["runs"][0]["results"]
        if r["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    ]
    assert {r["ruleId"] for r in at_line_7} == {"DCP001", "DCP004"}
    assert all(r["suppressions"][0]["kind"] == "inSource" for r in at_line_7)
    assert "svc/orders/orders/app.py,line=5," in github_out
    assert "line=7," not in github_out
    assert "ignore[DCP001, DCP004]" in " ".join(table_out.split())


def test_select_and_ignore_choose_rules_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)

    _, github_out, _ = scan(repo, "--format", "github", "--select", "DCP004", capsys=capsys)
    _, sarif_out, _ = scan(repo, "--format", "sarif", "--ignore", "dcp001,DCP004", capsys=capsys)
    _, json_out, _ = scan(repo, "--format", "json", "--select", "DCP001", capsys=capsys)

    assert [line.split("title=")[1].split("::")[0] for line in github_out.splitlines()] == [
        "DCP004 call-without-timeout"
    ]
    assert {r["ruleId"] for r in json.loads(sarif_out)["runs"][0]["results"]} <= {
        "DCP002",
        "DCP003",
        "DCP005",
        "DCP006",
    }
    document = json.loads(json_out)
    assert {f["rule"] for f in document["findings"]} == {"DCP001"}
    assert len(document["call_sites"]) == 4  # the inventory is not narrowed


def test_an_unknown_rule_code_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)

    status, _, err = scan(repo, "--select", "DCP099", capsys=capsys)

    assert status == 2
    assert "unknown rule DCP099" in err and "DCP007" in err


def test_select_and_ignore_come_from_the_configuration_and_options_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, 'select = ["DCP004"]\n')

    _, from_config, _ = scan(repo, "--format", "github", capsys=capsys)
    _, overridden, _ = scan(repo, "--format", "github", "--select", "DCP001", capsys=capsys)

    assert {line.split("title=")[1][:6] for line in from_config.splitlines()} == {"DCP004"}
    assert {line.split("title=")[1][:6] for line in overridden.splitlines()} == {"DCP001"}


def test_fail_on_score_and_exit_zero_come_from_the_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, "fail-on-score = 0.5\n")

    failing, _, err = scan(repo, "--format", "json", capsys=capsys)
    zero, _, zero_err = scan(repo, "--format", "json", "--exit-zero", capsys=capsys)

    assert failing == 1
    assert "hotspot score" in err and "> 0.5" in err
    assert zero == 0
    assert "hotspot score" in zero_err and "exit-zero" in zero_err


def test_exit_zero_in_the_configuration_and_the_option_that_undoes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, "fail-on-score = 0.5\nexit-zero = true\n")

    assert scan(repo, "--format", "json", capsys=capsys)[0] == 0
    assert scan(repo, "--format", "json", "--no-exit-zero", capsys=capsys)[0] == 1


def test_the_baseline_comes_from_the_configuration_relative_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, 'baseline = "ci/scan.json"\n')
    (repo / "svc" / "ci").mkdir()
    empty = {"schema_version": 1, "tool": {"name": "decouple"}, "call_sites": []}
    (repo / "svc" / "ci" / "scan.json").write_text(json.dumps(empty))

    status, _, err = scan(repo, "--format", "json", capsys=capsys)

    assert status == 1
    assert "new edge orders -> users" in err


CONTRACTS = {
    "forbid": 'forbid = ["orders -> users"]',
    "allow": 'allow = ["frontend -> orders", "frontend -> users"]\n# orders -> users is not allowed',
    "layers": 'layers = [["frontend"], ["users", "orders"]]',
}


@pytest.mark.parametrize("kind", sorted(CONTRACTS))
def test_a_contract_violation_is_reported_per_call_site_in_every_format_and_exits_1(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, "[tool.decouple.contracts]\n" + CONTRACTS[kind] + "\n")

    status, json_out, err = scan(repo, "--format", "json", capsys=capsys)
    _, sarif_out, _ = scan(repo, "--format", "sarif", capsys=capsys)
    _, github_out, _ = scan(repo, "--format", "github", capsys=capsys)
    _, table_out, _ = scan(repo, "--format", "table", capsys=capsys)
    zero, _, _ = scan(repo, "--format", "json", "--exit-zero", capsys=capsys)

    assert status == 1 and zero == 0
    document = json.loads(json_out)
    violations = document["contract_violations"]
    # Three calls orders -> users (one suppressed inline), each a violation of its own.
    lines = sorted(
        s["line"] for s in document["call_sites"] if s["id"] in {v["call_site"] for v in violations}
    )
    assert lines == [5, 7, 12]
    assert all(v["contract"].startswith(kind) for v in violations)
    dcp007 = [r for r in json.loads(sarif_out)["runs"][0]["results"] if r["ruleId"] == "DCP007"]
    assert sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in dcp007) == [
        5,
        7,
        12,
    ]
    assert [
        bool(r.get("suppressions"))
        for r in sorted(
            dcp007, key=lambda r: r["locations"][0]["physicalLocation"]["region"]["startLine"]
        )
    ] == [False, False, True]
    assert github_out.count("title=DCP007 contract-violation") == 2
    assert "Contract violations" in table_out
    assert err.count("decouple: contract ") == 2
    # frontend -> orders is fine under every one of these contracts.
    assert all(v["caller"] == "orders" for v in violations)


def test_ignoring_DCP007_turns_the_contract_gate_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, '[tool.decouple.contracts]\nforbid = ["orders -> users"]\n')

    assert scan(repo, "--format", "json", "--ignore", "DCP007", capsys=capsys)[0] == 0


def test_a_contract_naming_an_unknown_service_is_a_config_error_naming_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(
        tmp_path, '[tool.decouple.contracts]\nforbid = ["orders -> userz"]\nlayers = [["web"]]\n'
    )

    status, out, err = scan(repo, "--format", "json", capsys=capsys)

    assert status == 2 and out == ""
    assert "contracts.forbid[0]: unknown service 'userz'" in err
    assert "contracts.layers[0]: unknown service 'web'" in err
    assert "known services: frontend, orders, users" in err


# --- the pre-commit hook and the GitHub Action -----------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_the_pre_commit_hook_runs_the_gates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "decouple" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    command, *args = shlex.split(hook["entry"]) + hook["args"]
    assert command == "decouple"

    clean = make_repo(tmp_path / "clean")
    monkeypatch.chdir(clean / "svc")
    assert main([*args, "--no-cache"]) == 0
    broken = make_repo(
        tmp_path / "broken", '[tool.decouple.contracts]\nforbid = ["orders -> users"]\n'
    )
    monkeypatch.chdir(broken / "svc")
    assert main([*args, "--no-cache"]) == 1
    assert "decouple: contract forbid" in capsys.readouterr().err


def test_the_action_scans_uploads_sarif_and_gates_with_options_that_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    scripts = [s["run"] for s in steps if "run" in s]
    scans = [line.strip() for s in scripts for line in s.splitlines() if "decouple scan" in line]
    assert any("--format sarif" in s and "--exit-zero" in s for s in scans)
    assert any("--format github" in s and "--exit-zero" not in s for s in scans)
    main(["scan", "--help"])
    help_text = capsys.readouterr().out
    for scan_line in scans:
        for option in re.findall(r"--[a-z-]+", scan_line):
            assert option in help_text, f"{option} is not a scan option"
    # Inputs reach scripts through env, so a crafted input cannot inject shell code.
    assert not any("${{" in script for script in scripts)
    declared = set(action["inputs"])
    used = set(re.findall(r"inputs\.([a-z-]+)", (ROOT / "action.yml").read_text()))
    assert used <= declared


def test_an_inline_ignore_naming_no_rule_is_a_diagnostic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo such as ``ignore[DCP04]`` would otherwise suppress nothing, silently."""
    repo = make_repo(tmp_path)
    app = repo / "svc" / "frontend" / "frontend" / "app.py"
    app.write_text(FRONTEND.replace(".json()", ".json()  # decouple: ignore[DCP04]"))

    _, out, _ = scan(repo, "--format", "json", capsys=capsys)

    (diagnostic,) = [d for d in json.loads(out)["diagnostics"] if d["code"] == "unknown-rule"]
    assert (diagnostic["file"], diagnostic["line"]) == ("frontend/frontend/app.py", 5)
    assert "ignore[DCP04] names no rule" in diagnostic["message"]
