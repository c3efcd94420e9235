from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import TypeVar

import pytest

import decouple_services
from decouple_services.core.errors import DecoupleError
from decouple_services.core.model import EnvValue, ScanResult
from decouple_services.render.json import load_scan_json, render_json

from .cases import CASES, CREATE_USER, FRONTEND, SECRET, mixed

T = TypeVar("T")

# The fields DESIGN.md's example shows; schema 1 may add fields but never drop these.
DESIGN_CALL_SITE_FIELDS = {
    "id", "caller", "file", "line", "end_line", "function", "client", "method", "url",
    "url_template", "callee", "endpoint", "evidence", "category", "role", "via_wrapper",
    "result_used", "is_async", "in_loop", "has_timeout", "in_handler", "payload",
}  # fmt: skip


def canonical(result: ScanResult) -> ScanResult:
    """What a round trip gives back: canonical order, env values blanked."""
    return replace(
        result,
        services=tuple(
            replace(s, env=tuple(replace(e, value="") for e in s.env))
            for s in sorted(result.services, key=lambda s: s.name)
        ),
        endpoints=tuple(sorted(result.endpoints, key=lambda e: e.sort_key())),
        call_sites=tuple(sorted(result.call_sites, key=lambda c: (c.file, c.line, c.id))),
        diagnostics=tuple(sorted(result.diagnostics, key=lambda d: d.sort_key())),
    )


def shuffled(result: ScanResult, seed: int) -> ScanResult:
    rng = random.Random(seed)

    def mix(items: tuple[T, ...]) -> tuple[T, ...]:
        return tuple(rng.sample(items, len(items)))

    return replace(
        result,
        services=mix(result.services),
        endpoints=mix(result.endpoints),
        call_sites=mix(result.call_sites),
        diagnostics=mix(result.diagnostics),
    )


def test_document_has_the_design_shape() -> None:
    document = json.loads(render_json(mixed()))

    assert document["schema_version"] == 1
    assert document["tool"] == {"name": "decouple", "version": decouple_services.__version__}
    assert [s["name"] for s in document["services"]] == ["frontend", "orders", "userservice"]
    for site in document["call_sites"]:
        assert set(site) >= DESIGN_CALL_SITE_FIELDS
    assert document["diagnostics"][1] == {
        "file": "src/legacy/old.py",
        "line": 3,
        "severity": "warning",
        "code": "parse-error",
        "message": "invalid syntax (print statement)",
    }


@pytest.mark.parametrize(
    ("root", "written"),
    [
        ("/home/ci/work/shop", "shop"),
        ("/home/ci/work/shop/", "shop"),
        ("C:\\work\\shop", "shop"),
        ("shop", "shop"),
        (".", "."),
        ("", "."),
    ],
)
def test_root_is_written_as_the_directory_name_only(root: str, written: str) -> None:
    """An absolute path would make the same tree's JSON differ from machine to machine."""
    text = render_json(replace(mixed(), root=root))

    assert json.loads(text)["root"] == written
    assert load_scan_json(text).root == written


def test_call_sites_are_ordered_by_file_line_and_id() -> None:
    sites = json.loads(render_json(mixed()))["call_sites"]

    keys = [(s["file"], s["line"], s["id"]) for s in sites]
    assert keys == sorted(keys)


def test_unknown_callee_carries_its_reason_and_fix_hint() -> None:
    sites = json.loads(render_json(mixed()))["call_sites"]

    (unknown,) = [s for s in sites if s["callee"] == "unknown" and s["role"] == "call"]
    assert unknown["unknown_reason"].startswith("the url comes from build_url()")
    assert unknown["fix_hint"] == "add `# decouple: target=<service>` to src/orders/sync.py:40"


def test_env_names_and_sources_are_written_but_never_values() -> None:
    text = render_json(mixed())

    frontend = json.loads(text)["services"][0]
    assert frontend["env"] == [
        {"name": "USERS_URI", "source": "k8s/frontend.yaml:41"},
        {"name": "API_TOKEN", "source": ".env:3"},
    ]
    assert SECRET not in text
    assert 'http://userservice:8080"' not in text  # the USERS_URI value itself


def test_summary_counts_production_coupling_apart_from_tests_and_wrappers() -> None:
    summary = json.loads(render_json(mixed()))["summary"]

    assert summary == {
        "files_scanned": 42,
        "services": 3,
        "endpoints": 3,
        "call_sites": 8,
        "inter_service_calls": 3,
        "inter_service_edges": 2,
        "external_calls": 1,
        "unknown_callees": 1,
        "wrappers": 1,
        "by_category": {"production": 5, "test": 1, "loadgen": 1, "script": 0},
        "diagnostics": 2,
        "diagnostics_by_severity": {"error": 0, "warning": 1, "note": 1},
    }


@pytest.mark.parametrize("seed", range(5))
def test_output_is_byte_identical_whatever_the_input_order(seed: int) -> None:
    assert render_json(shuffled(mixed(), seed)) == render_json(mixed())


def test_output_is_ascii_with_a_trailing_newline_and_no_lone_surrogates() -> None:
    """Source decoded with surrogateescape must not make the output unwritable as UTF-8."""
    odd = replace(CREATE_USER, url='f"{BASE}/caf\udce9/→"')
    text = render_json(replace(mixed(), call_sites=(odd,)))

    assert text.endswith("}\n")
    assert text.isascii()
    text.encode("utf-8")
    assert load_scan_json(text).call_sites[0].url == odd.url


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_gives_back_the_same_result(case: str) -> None:
    result = CASES[case]()

    loaded = load_scan_json(render_json(result))

    assert loaded == canonical(result)
    assert loaded.files_scanned == result.files_scanned
    assert render_json(loaded) == render_json(result)


def test_loaded_result_remembers_which_version_wrote_it() -> None:
    document = json.loads(render_json(mixed()))
    document["tool"]["version"] = "0.0.9"

    assert load_scan_json(json.dumps(document)).extra["tool_version"] == "0.0.9"


def test_unknown_fields_are_ignored_so_newer_files_still_load() -> None:
    document = json.loads(render_json(mixed()))
    document["graph"] = {"nodes": []}
    document["call_sites"][0]["retries"] = 3
    document["services"][0]["team"] = "checkout"

    assert load_scan_json(json.dumps(document)) == canonical(mixed())


def test_fields_added_after_the_first_release_are_optional() -> None:
    """A file that has only the fields of DESIGN.md's example still loads."""
    document = json.loads(render_json(mixed()))
    for site in document["call_sites"]:
        del site["unknown_reason"], site["fix_hint"]
    for service in document["services"]:
        del service["ports"], service["env"]
    del document["summary"], document["root"], document["files_scanned"]

    loaded = load_scan_json(json.dumps(document))

    assert loaded.call_sites[0].fix_hint is None
    assert loaded.services[0].ports == ()
    assert loaded.root == ""
    assert loaded.files_scanned == 0


def test_env_values_come_back_empty() -> None:
    loaded = load_scan_json(render_json(mixed()))

    assert loaded.services[0].env == (
        EnvValue("USERS_URI", "", "k8s/frontend.yaml:41"),
        EnvValue("API_TOKEN", "", ".env:3"),
    )
    assert FRONTEND.env[1].value == SECRET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "baseline.json is not valid JSON (line 1, column 2"),
        ("[1, 2]", "baseline.json is not a decouple scan: expected a JSON object, got array"),
        ('{"version": "2.1.0", "runs": []}', "baseline.json is a SARIF log, not a decouple scan"),
        ('{"schema_version": 1, "tool": {"name": "other"}}', 'no "tool": {"name": "decouple"}'),
        (
            '{"schema_version": 2, "tool": {"name": "decouple"}}',
            "baseline.json has schema_version 2, but this decouple",
        ),
        (
            '{"tool": {"name": "decouple"}}',
            "baseline.json has schema_version null, but this decouple",
        ),
        (
            '{"schema_version": true, "tool": {"name": "decouple"}}',
            "baseline.json has schema_version true",
        ),
    ],
)
def test_anything_but_a_schema_1_decouple_scan_is_rejected(text: str, message: str) -> None:
    with pytest.raises(DecoupleError) as excinfo:
        load_scan_json(text, source="baseline.json")

    assert message in str(excinfo.value)


def test_every_bad_field_is_reported_in_one_error() -> None:
    document = json.loads(render_json(mixed()))
    document["call_sites"][1]["line"] = "55"
    document["call_sites"][2]["has_timeout"] = 1
    document["call_sites"][3]["category"] = "staging"
    del document["services"][2]["root"]
    document["diagnostics"][0]["line"] = True
    document["endpoints"] = [{"service": "x"}, 7]
    document["services"][0]["env"][0] = "USERS_URI"

    with pytest.raises(DecoupleError) as excinfo:
        load_scan_json(json.dumps(document), source="scan.json")

    message = str(excinfo.value)
    assert "\n" not in message
    head, _, rest = message.partition(": ")
    assert head == "scan.json is not a valid decouple scan"
    problems = ["  - " + p for p in rest.split("; ")]
    assert "  - call_sites[1].line: expected integer, got string" in problems
    assert "  - call_sites[2].has_timeout: expected boolean, got integer" in problems
    assert (
        "  - call_sites[3].category: 'staging' is not one of production, test, loadgen, script"
        in problems
    )
    assert "  - services[2]: missing field 'root'" in problems
    assert "  - diagnostics[0].line: expected integer, got boolean" in problems
    assert "  - endpoints[0]: missing field 'protocol'" in problems
    assert "  - endpoints[1]: expected object, got integer" in problems
    assert "  - services[0].env[0]: expected object, got string" in problems


def test_a_long_list_of_problems_is_cut_short() -> None:
    document = json.loads(render_json(mixed()))
    document["call_sites"] = [{"id": 1}] * 10

    with pytest.raises(DecoupleError) as excinfo:
        load_scan_json(json.dumps(document))

    problems = str(excinfo.value).split(": ", 1)[1].split("; ")
    assert len(problems) == 20 + 1
    assert problems[-1].startswith("and ")


def test_the_mapping_a_target_is_chosen_from_round_trips() -> None:
    result = mixed()
    first = replace(result.call_sites[0], one_of="gateway.routing.SERVICES")
    result = replace(result, call_sites=(first, *result.call_sites[1:]))
    written = json.loads(render_json(result))
    assert [s["one_of"] for s in written["call_sites"]].count("gateway.routing.SERVICES") == 1
    loaded = load_scan_json(render_json(result))
    assert loaded == canonical(result)
