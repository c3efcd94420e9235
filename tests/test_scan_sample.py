"""The whole scan on the bundled sample monorepo: golden output, determinism, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli import main
from decouple_services.core.model import Category, Role, ScanResult
from decouple_services.render.json import render_json

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "sample"
GOLDEN = FIXTURES / "golden" / "sample-scan.json"


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as a git repository of its own, as a user would have it."""
    root = tmp_path_factory.mktemp("repo") / "sample"
    shutil.copytree(SAMPLE, root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))


def normalised_json(result: ScanResult) -> str:
    return render_json(result)


def site(result: ScanResult, file: str, line: int):  # type: ignore[no-untyped-def]
    found = [s for s in result.call_sites if s.file == file and s.line == line]
    assert len(found) == 1, (file, line, found)
    return found[0]


def test_the_sample_scan_matches_the_reviewed_golden_file(
    result: ScanResult, update_goldens: bool
) -> None:
    text = normalised_json(result)
    if update_goldens:
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_the_json_is_byte_identical_across_runs_and_parallelism(result: ScanResult) -> None:
    again = scan(SAMPLE, ScanOptions(use_cache=False, jobs=2))
    assert normalised_json(again) == normalised_json(result)


def test_results_with_and_without_cache_are_identical(tmp_path: Path, result: ScanResult) -> None:
    cache = tmp_path / "cache"
    cold = scan(SAMPLE, ScanOptions(cache_dir=cache, jobs=1))
    warm = scan(SAMPLE, ScanOptions(cache_dir=cache, jobs=1))
    assert normalised_json(cold) == normalised_json(warm) == normalised_json(result)
    assert any(cache.rglob("*.json"))


def test_corrupt_cache_files_are_ignored_and_rebuilt(tmp_path: Path, result: ScanResult) -> None:
    cache = tmp_path / "cache"
    scan(SAMPLE, ScanOptions(cache_dir=cache, jobs=1))
    for entry in cache.rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert normalised_json(scan(SAMPLE, ScanOptions(cache_dir=cache, jobs=1))) == normalised_json(
        result
    )


def test_a_scan_of_a_git_clone_matches_the_scan_of_the_folder(
    sample_copy: Path, result: ScanResult
) -> None:
    cloned = scan(sample_copy, ScanOptions(use_cache=False, jobs=1))
    assert [(s.file, s.line, s.callee) for s in cloned.call_sites] == [
        (s.file, s.line, s.callee) for s in result.call_sites
    ]


def test_every_compose_service_is_found_with_its_evidence(result: ScanResult) -> None:
    names = [s.name for s in result.services]
    assert names == [
        "emails",
        "frontend",
        "inventory",
        "notifications",
        "orders",
        "payments",
        "recommendations",
        "search",
        "users",
    ]
    assert all(s.evidence for s in result.services)


def test_ignored_and_generated_folders_are_not_scanned(result: ScanResult) -> None:
    assert not [s for s in result.call_sites if s.file.startswith("generated_out/")]


def test_bad_files_are_diagnostics_and_the_scan_goes_on(result: ScanResult) -> None:
    codes = {(d.file, d.line, d.code) for d in result.diagnostics}
    assert ("services/inventory/inventory/pricing.py", 21, "parse-error") in codes
    assert ("legacy/export_paid_orders.py", 13, "parse-error") in codes


def test_the_latin1_file_is_read_with_its_coding_cookie(result: ScanResult) -> None:
    found = site(result, "services/emails/emails/i18n_fr.py", 15)
    assert found.callee == "users"


def test_localhost_with_a_port_names_the_service_listening_there(result: ScanResult) -> None:
    found = site(result, "services/emails/emails/tracking.py", 9)
    assert (found.callee, found.url_template) == ("notifications", "http://127.0.0.1:8003/notify")


def test_env_var_names_built_from_a_helper_argument_resolve_per_invocation(
    result: ScanResult,
) -> None:
    users = site(result, "services/recommendations/recommendations/api.py", 19)
    search = site(result, "services/recommendations/recommendations/api.py", 26)
    assert (users.callee, users.via_wrapper) == ("users", "recommendations.upstream.fetch_json")
    assert search.callee == "search"


def test_helpers_are_wrapper_sites_and_their_invocations_are_calls(result: ScanResult) -> None:
    helper = site(result, "libs/shopcore/shopcore/http.py", 9)
    assert helper.role is Role.WRAPPER
    two_levels = site(result, "services/orders/orders/events.py", 13)
    assert (two_levels.callee, two_levels.via_wrapper, two_levels.role) == (
        "recommendations",
        "shopcore.http.track",
        Role.CALL,
    )


def test_app_state_clients_and_grpc_stubs_are_resolved(result: ScanResult) -> None:
    users = site(result, "services/orders/orders/api.py", 42)
    charge = site(result, "services/orders/orders/api.py", 48)
    assert (users.callee, users.client, users.result_used) == ("users", "httpx.AsyncClient", True)
    assert (charge.callee, charge.client, charge.method) == ("payments", "grpc", "Charge")


def test_tests_load_generators_and_scripts_are_classified(result: ScanResult) -> None:
    assert (
        site(result, "services/orders/tests/test_users_contract.py", 17).category is Category.TEST
    )
    assert site(result, "loadtest/locustfile.py", 16).category is Category.LOADGEN
    assert site(result, "scripts/smoke_check.py", 20).category is Category.SCRIPT
    # Flask's in-process test client is no network call at all
    assert not [s for s in result.call_sites if s.file == "services/frontend/tests/test_views.py"]


def test_external_and_unknown_callees_explain_themselves(result: ScanResult) -> None:
    stripe = site(result, "services/payments/payments/stripe_gateway.py", 21)
    assert stripe.callee == "external:api.stripe.com"
    webhook = site(result, "services/notifications/notifications/webhooks.py", 32)
    assert webhook.callee == "unknown"
    assert webhook.unknown_reason and webhook.fix_hint and "decouple: target=" in webhook.fix_hint


def test_cli_json_output_is_the_library_output(tmp_path: Path, result: ScanResult) -> None:
    out = tmp_path / "scan.json"
    assert main(["scan", str(SAMPLE), "--format", "json", "--no-cache", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == normalised_json(result)


def test_cli_filters_by_callee(tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    assert (
        main(
            [
                "scan",
                str(SAMPLE),
                "-f",
                "json",
                "--no-cache",
                "--callee",
                "payments",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["call_sites"] and {s["callee"] for s in data["call_sites"]} == {"payments"}


def test_cli_a_callee_or_endpoint_matching_nothing_is_named_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scan.json"
    args = ["scan", str(SAMPLE), "-f", "json", "--no-cache", "-o", str(out)]
    assert main([*args, "--callee", "paymnts", "--endpoint", "POST /nowhere"]) == 0
    err = capsys.readouterr().err
    assert "--callee paymnts matches no call site" in err and "payments" in err
    assert '--endpoint "POST /nowhere" matches no call site' in err
    assert main([*args, "--callee", "payments"]) == 0
    assert "matches no call site" not in capsys.readouterr().err


def test_cli_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "/no/such/repo"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_cli_baseline_ratchet_fires_only_on_new_coupling(
    tmp_path: Path, result: ScanResult
) -> None:
    same = tmp_path / "same.json"
    same.write_text(normalised_json(result), encoding="utf-8")
    assert (
        main(
            [
                "scan",
                str(SAMPLE),
                "-f",
                "json",
                "--no-cache",
                "-o",
                str(tmp_path / "o.json"),
                "--baseline",
                str(same),
            ]
        )
        == 0
    )
    data = json.loads(normalised_json(result))
    data["call_sites"] = [
        s for s in data["call_sites"] if not (s["caller"] == "orders" and s["callee"] == "payments")
    ]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(data), encoding="utf-8")
    assert (
        main(
            [
                "scan",
                str(SAMPLE),
                "-f",
                "json",
                "--no-cache",
                "-o",
                str(tmp_path / "o.json"),
                "--baseline",
                str(older),
            ]
        )
        == 1
    )


def test_cli_fail_on_score_gates(tmp_path: Path) -> None:
    out = str(tmp_path / "o.json")
    assert (
        main(
            ["scan", str(SAMPLE), "-f", "json", "--no-cache", "-o", out, "--fail-on-score", "1000"]
        )
        == 0
    )
    assert (
        main(["scan", str(SAMPLE), "-f", "json", "--no-cache", "-o", out, "--fail-on-score", "1"])
        == 1
    )


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "decouple 0.1.0" in capsys.readouterr().out
    assert main(["scan", "--help"]) == 0
    assert "--baseline" in capsys.readouterr().out


def test_the_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(SAMPLE), "--format", "table", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "payments" in out and "pricing.py" in out


def test_the_documented_score_example_holds() -> None:
    """The worked example in docs/outputs.md, computed by the code."""
    from decouple_services.core.model import CallSite, Service
    from decouple_services.graph.gate import hotspot_scores

    def call(callee: str, **flags: bool) -> CallSite:
        base = {"has_timeout": True} | flags
        return CallSite(
            "x", "a", "a.py", 1, 1, "f", "requests", "POST", "u", None, callee, None, **base
        )

    sites = (
        call("b", in_loop=True),
        call("b", has_timeout=False),
        call("c"),
        CallSite(
            "y", "d", "d.py", 1, 1, "f", "requests", "POST", "u", None, "a", None, has_timeout=True
        ),
    )
    services = tuple(Service(n, n) for n in "abcd")
    assert hotspot_scores(ScanResult(root=".", services=services, call_sites=sites))["a"] == 9
