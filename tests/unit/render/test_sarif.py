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
from decouple_services.core.model import Diagnostic, ScanResult, Severity
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
