from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import decouple_services
from decouple_services.core.model import ContractViolation, Diagnostic, ScanResult, Severity
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import REPOSITORY_URL, RuleSelection
from decouple_services.render.sarif import RULES, render_sarif

from .cases import (
    CASES,
    CHARGE,
    CREATE_USER,
    LOADGEN_CALL,
    PLACE_ORDER,
    POST_JSON,
    SYNC_INVENTORY,
    TEST_CALL,
    UPDATE_USER,
    mixed,
)

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def schema_errors(validator: jsonschema.Draft4Validator, log: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)
    ]


# RFC 3986 characters, with "%" only as the start of a percent-escape. jsonschema checks the
# "uri" formats only when an optional package is installed, so the tests check them here.
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")


def uris(node: object) -> list[str]:
    """Every ``uri``/``informationUri``/``helpUri`` value anywhere in the log."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in {"uri", "informationUri", "helpUri"}]
        return found + [u for v in node.values() for u in uris(v)]
    if isinstance(node, list):
        return [u for v in node for u in uris(v)]
    return []


def sarif(result: ScanResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_sarif(result))
    return document


def results_for(log: dict[str, Any], call_site_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in log["runs"][0]["results"]
        if r["partialFingerprints"]["decoupleCallSiteId/v1"] == call_site_id
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_log_is_valid_against_the_published_sarif_schema(
    case: str, validator: jsonschema.Draft4Validator
) -> None:
    log = sarif(CASES[case]())

    assert schema_errors(validator, log) == []
    assert [u for u in uris(log) if not URI_REFERENCE.match(u)] == []


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda log: log["runs"][0]["results"][0].pop("message"), id="no-message"),
        pytest.param(
            lambda log: log["runs"][0]["results"][0].update(level="fatal"), id="bad-level"
        ),
        pytest.param(
            lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
                "region"
            ].update(startLine=0),
            id="line-0",
        ),
        pytest.param(lambda log: log["runs"][0]["invocations"][0].clear(), id="no-success-flag"),
        pytest.param(lambda log: log.update(version="2.0.0"), id="old-version"),
    ],
)
def test_schema_check_rejects_a_broken_log(
    break_it: Any, validator: jsonschema.Draft4Validator
) -> None:
    """The validation above would catch a renderer bug, not just pass everything."""
    log = copy.deepcopy(sarif(mixed()))
    break_it(log)

    assert schema_errors(validator, log) != []


def test_driver_lists_every_rule_with_stable_ids_and_indices() -> None:
    driver = sarif(mixed())["runs"][0]["tool"]["driver"]

    assert driver["name"] == "decouple"
    assert driver["version"] == decouple_services.__version__
    assert driver["informationUri"].startswith("https://")
    assert [(r["id"], r["name"], r["defaultConfiguration"]["level"]) for r in driver["rules"]] == [
        ("DCP001", "synchronous-service-call", "warning"),
        ("DCP002", "external-call", "note"),
        ("DCP003", "unresolved-callee", "warning"),
        ("DCP004", "call-without-timeout", "warning"),
        ("DCP005", "call-in-loop", "warning"),
        ("DCP006", "service-call-wrapper", "note"),
        ("DCP007", "contract-violation", "error"),
    ]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]


def test_empty_scan_still_lists_the_rules() -> None:
    run = sarif(CASES["empty"]())["runs"][0]

    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(RULES)


def test_every_result_points_at_its_rule() -> None:
    log = sarif(mixed())
    rules = log["runs"][0]["tool"]["driver"]["rules"]

    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == rules[result["ruleIndex"]]["defaultConfiguration"]["level"]


def test_inter_service_call_is_a_located_DCP001_result() -> None:
    (result,) = results_for(sarif(mixed()), CREATE_USER.id)

    assert result["ruleId"] == "DCP001"
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "src/frontend/views.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 120, "endLine": 123},
            }
        }
    ]
    assert result["partialFingerprints"] == {"decoupleCallSiteId/v1": CREATE_USER.id}
    text = result["message"]["text"]
    assert text.startswith(
        "frontend → userservice: POST /users (requests, http://userservice:8080/users) "
        "in frontend.views.checkout."
    )
    assert "inside a request handler" in text
    assert f"fire-and-forget event (decouple migrate --select {CREATE_USER.id})" in text


def test_call_through_a_wrapper_names_the_wrapper() -> None:
    (result,) = results_for(sarif(mixed()), UPDATE_USER.id)

    assert result["ruleId"] == "DCP001"
    assert "through frontend.clients.post_json" in result["message"]["text"]


def test_call_without_timeout_inside_a_loop_gets_one_result_per_finding() -> None:
    results = results_for(sarif(mixed()), PLACE_ORDER.id)

    assert [r["ruleId"] for r in results] == ["DCP001", "DCP004", "DCP005"]
    assert (
        "response is used, so the call cannot simply become an event"
        in (results[0]["message"]["text"])
    )
    assert "has no timeout" in results[1]["message"]["text"]
    assert "inside a loop" in results[2]["message"]["text"]


def test_external_call_is_a_note() -> None:
    (result,) = results_for(sarif(mixed()), CHARGE.id)

    assert (result["ruleId"], result["level"]) == ("DCP002", "note")
    assert result["message"]["text"].startswith("orders → external:api.stripe.com: POST ")


def test_unknown_callee_message_gives_the_reason_and_the_fix() -> None:
    results = results_for(sarif(mixed()), SYNC_INVENTORY.id)

    assert [r["ruleId"] for r in results] == ["DCP003", "DCP004"]
    text = results[0]["message"]["text"]
    assert "because the url comes from build_url()" in text
    assert text.endswith("Fix: add `# decouple: target=<service>` to src/orders/sync.py:40")


def test_wrapper_body_is_only_a_DCP006_note() -> None:
    (result,) = results_for(sarif(mixed()), POST_JSON.id)

    assert (result["ruleId"], result["level"]) == ("DCP006", "note")


def test_test_and_loadgen_calls_produce_no_results_but_are_counted() -> None:
    log = sarif(mixed())

    assert results_for(log, TEST_CALL.id) == []
    assert results_for(log, LOADGEN_CALL.id) == []
    assert log["runs"][0]["properties"]["decouple"]["omitted_non_production"] == 2


def test_diagnostics_are_configuration_notifications_of_a_successful_run() -> None:
    (invocation,) = sarif(mixed())["runs"][0]["invocations"]

    assert invocation["executionSuccessful"] is True
    assert invocation["toolConfigurationNotifications"] == [
        {
            "level": "note",
            "message": {"text": "no-config: no [tool.decouple] table; using discovered services"},
            "descriptor": {"id": "no-config"},
        },
        {
            "level": "warning",
            "message": {"text": "parse-error: invalid syntax (print statement)"},
            "descriptor": {"id": "parse-error"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "src/legacy/old.py", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 3, "endLine": 3},
                    }
                }
            ],
        },
    ]


def test_whole_file_diagnostic_has_a_location_without_a_region(
    validator: jsonschema.Draft4Validator,
) -> None:
    diagnostic = Diagnostic("src/big.py", 0, Severity.ERROR, "too-large", "file over 20 MB")
    log = sarif(ScanResult(root=".", diagnostics=(diagnostic,)))

    (notification,) = log["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert notification["level"] == "error"
    assert notification["locations"] == [
        {"physicalLocation": {"artifactLocation": {"uri": "src/big.py", "uriBaseId": "%SRCROOT%"}}}
    ]
    assert schema_errors(validator, log) == []


def test_paths_are_percent_encoded_uris(validator: jsonschema.Draft4Validator) -> None:
    odd = replace(CREATE_USER, file="src/my app/[bold]#1%.py")
    log = sarif(ScanResult(root=".", call_sites=(odd,)))

    (result,) = results_for(log, odd.id)
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/my%20app/%5Bbold%5D%231%25.py"
    assert URI_REFERENCE.match(uri)
    assert not URI_REFERENCE.match("src/my app/#1%.py")
    assert schema_errors(validator, log) == []


def test_output_does_not_depend_on_input_order() -> None:
    result = mixed()
    reversed_result = replace(
        result,
        call_sites=result.call_sites[::-1],
        diagnostics=result.diagnostics[::-1],
        services=result.services[::-1],
    )

    assert render_sarif(reversed_result) == render_sarif(result)


# --- code scanning: repository-relative paths, categories, rule pages, suppressions -------

REPO_ROOT = Path(__file__).resolve().parents[3]


def with_contract(result: ScanResult) -> ScanResult:
    violation = ContractViolation(
        call_site=PLACE_ORDER.id,
        caller="frontend",
        callee="orders",
        contract='forbid "frontend -> orders"',
        reason="frontend must not call orders synchronously",
    )
    return replace(result, contract_violations=(violation,))


def test_uris_are_relative_to_the_repository_root_when_a_subfolder_is_scanned(
    validator: jsonschema.Draft4Validator,
) -> None:
    """``scan services/`` used to put alerts on ``src/...`` instead of ``services/src/...``."""
    log = json.loads(render_sarif(mixed(), RenderOptions(uri_prefix="services/")))

    (result,) = results_for(log, CREATE_USER.id)
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "services/src/frontend/views.py", "uriBaseId": "%SRCROOT%"}
    notification_uris = [
        n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for n in log["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
        if "locations" in n
    ]
    assert notification_uris and all(u.startswith("services/") for u in notification_uris)
    assert schema_errors(validator, log) == []


def test_the_source_root_is_declared_in_original_uri_base_ids() -> None:
    run = sarif(mixed())["runs"][0]

    assert set(run["originalUriBaseIds"]) == {"%SRCROOT%"}
    # No absolute path: the log is the same wherever the repository is checked out.
    assert "uri" not in run["originalUriBaseIds"]["%SRCROOT%"]


def test_automation_details_give_each_scanned_folder_its_own_category() -> None:
    """Code scanning replaces the previous analysis of the same category: two folders of one
    repository need two categories, or the second upload closes the first one's alerts."""
    ids = [
        json.loads(render_sarif(mixed(), RenderOptions(uri_prefix=prefix)))["runs"][0][
            "automationDetails"
        ]["id"]
        for prefix in ("", "services/", "tools/")
    ]

    assert ids == ["decouple/", "decouple/services/", "decouple/tools/"]
    categories = [i.rsplit("/", 1)[0] for i in ids]
    assert len(set(categories)) == 3


def test_every_rule_links_to_its_page_in_the_repository() -> None:
    driver = sarif(mixed())["runs"][0]["tool"]["driver"]

    assert driver["informationUri"] == REPOSITORY_URL
    for rule in driver["rules"]:
        assert rule["helpUri"] == f"{REPOSITORY_URL}/blob/main/docs/rules/{rule['id']}.md"
        page = REPO_ROOT / "docs" / "rules" / f"{rule['id']}.md"
        assert page.is_file(), f"{page} is missing"
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"# {rule['id']} {rule['name']}")
        # The page says what the log says (pages are written from the same rule data).
        assert rule["fullDescription"]["text"] in text
        assert rule["help"]["text"] in text


def test_an_inline_suppression_is_a_sarif_in_source_suppression(
    validator: jsonschema.Draft4Validator,
) -> None:
    quiet = replace(PLACE_ORDER, suppressed=("DCP004",))
    log = sarif(ScanResult(root=".", call_sites=(quiet,)))

    by_rule = {r["ruleId"]: r for r in results_for(log, quiet.id)}
    assert set(by_rule) == {"DCP001", "DCP004", "DCP005"}
    assert by_rule["DCP004"]["suppressions"] == [
        {
            "kind": "inSource",
            "justification": "# decouple: ignore[DCP004] at src/frontend/cart.py:55",
        }
    ]
    assert "suppressions" not in by_rule["DCP001"]
    assert "suppressions" not in by_rule["DCP005"]
    assert schema_errors(validator, log) == []


def test_selection_keeps_only_the_selected_rules_but_lists_every_rule() -> None:
    options = RenderOptions(selection=RuleSelection(ignore=frozenset({"DCP004", "DCP001"})))
    log = json.loads(render_sarif(mixed(), options))

    rule_ids = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert rule_ids and not rule_ids & {"DCP004", "DCP001"}
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(RULES)


def test_a_contract_violation_is_a_DCP007_error_naming_the_contract(
    validator: jsonschema.Draft4Validator,
) -> None:
    log = sarif(with_contract(mixed()))

    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "DCP007"]
    assert result["level"] == "error"
    assert 'forbid "frontend -> orders"' in result["message"]["text"]
    assert result["properties"]["contract"] == 'forbid "frontend -> orders"'
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 55
    # Its own fingerprint: the DCP001 alert at the same call is a different alert.
    assert result["partialFingerprints"]["decoupleCallSiteId/v1"].startswith(PLACE_ORDER.id + "/")
    assert schema_errors(validator, log) == []


# GitHub code scanning's documented requirements for uploaded SARIF ("SARIF support for code
# scanning", docs.github.com), each checked by name. The JSON schema does not know them.
def github_code_scanning_problems(log: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def check(rule: str, ok: bool) -> None:
        if not ok:
            problems.append(rule)

    check("sarifLog.$schema is set", bool(log.get("$schema")))
    check("sarifLog.version is 2.1.0", log.get("version") == "2.1.0")
    runs = log.get("runs", [])
    check("runs: 1 to 20 per file", 1 <= len(runs) <= 20)
    for run in runs:
        driver = run["tool"]["driver"]
        check("toolComponent.name is not empty", bool(driver.get("name")))
        check("toolComponent.rules is present", isinstance(driver.get("rules"), list))
        rules = driver.get("rules", [])
        check("rules: at most 25,000 per run", len(rules) <= 25_000)
        ids = [r.get("id") for r in rules]
        check("reportingDescriptor.id is unique and set", all(ids) and len(set(ids)) == len(ids))
        for r in rules:
            check("reportingDescriptor.name: at most 255 chars", len(r.get("name", "")) <= 255)
            for key in ("shortDescription", "fullDescription"):
                text = r.get(key, {}).get("text", "")
                check(f"reportingDescriptor.{key}.text: 1 to 1024 chars", 0 < len(text) <= 1024)
            check("reportingDescriptor.help.text is set", bool(r.get("help", {}).get("text")))
            check(
                "defaultConfiguration.level is note, warning or error",
                r["defaultConfiguration"]["level"] in {"note", "warning", "error"},
            )
            props = r.get("properties", {})
            check("properties.tags: at most 20 per rule", len(props.get("tags", [])) <= 20)
            check(
                "properties.precision is very-high, high, medium or low",
                props.get("precision") in {"very-high", "high", "medium", "low"},
            )
            check(
                "properties.problem.severity is error, warning or recommendation",
                props.get("problem.severity") in {"error", "warning", "recommendation"},
            )
        auto = run.get("automationDetails", {}).get("id")
        check(
            "runAutomationDetails.id is category/run-id with a category",
            isinstance(auto, str) and "/" in auto and bool(auto.rsplit("/", 1)[0]),
        )
        results = run.get("results")
        check("results[] is present", isinstance(results, list))
        check("results: at most 25,000 per run", len(results or []) <= 25_000)
        for res in results or []:
            check("result.ruleId names a rule", res.get("ruleId") in ids)
            check(
                "result.ruleIndex points at that rule",
                ids[res.get("ruleIndex", -1)] == res.get("ruleId"),
            )
            check("result.message.text is not empty", bool(res.get("message", {}).get("text")))
            locations = res.get("locations", [])
            check("result.locations: 1 to 10", 1 <= len(locations) <= 10)
            check("result.partialFingerprints is set", bool(res.get("partialFingerprints")))
            for loc in locations:
                physical = loc["physicalLocation"]
                uri = physical["artifactLocation"]["uri"]
                check(
                    "artifactLocation.uri is relative to the repository root",
                    bool(uri) and "://" not in uri and not uri.startswith(("/", "./", "../")),
                )
                region = physical.get("region", {})
                check("region.startLine is at least 1", region.get("startLine", 0) >= 1)
                check(
                    "region.endLine is not before startLine",
                    region.get("endLine", 0) >= region.get("startLine", 0),
                )
    return problems


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("prefix", ["", "services/"])
def test_log_meets_github_code_scanning_requirements(case: str, prefix: str) -> None:
    log = json.loads(render_sarif(with_contract(CASES[case]()), RenderOptions(uri_prefix=prefix)))

    assert github_code_scanning_problems(log) == []


@pytest.mark.parametrize(
    ("break_it", "rule"),
    [
        pytest.param(
            lambda log: log["runs"][0]["results"][0].update(ruleId="DCP999"),
            "result.ruleId names a rule",
            id="unknown-rule",
        ),
        pytest.param(
            lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
                "artifactLocation"
            ].update(uri="file:///home/ci/repo/src/app.py"),
            "artifactLocation.uri is relative to the repository root",
            id="absolute-uri",
        ),
        pytest.param(
            lambda log: log["runs"][0].update(automationDetails={"id": "decouple"}),
            "runAutomationDetails.id is category/run-id with a category",
            id="no-category",
        ),
        pytest.param(
            lambda log: log["runs"][0]["results"][0].pop("partialFingerprints"),
            "result.partialFingerprints is set",
            id="no-fingerprint",
        ),
        pytest.param(
            lambda log: log["runs"][0]["tool"]["driver"]["rules"][0].update(
                fullDescription={"text": "x" * 1025}
            ),
            "reportingDescriptor.fullDescription.text: 1 to 1024 chars",
            id="long-description",
        ),
    ],
)
def test_github_requirement_check_catches_a_broken_log(break_it: Any, rule: str) -> None:
    log = copy.deepcopy(sarif(mixed()))
    break_it(log)

    assert rule in github_code_scanning_problems(log)
