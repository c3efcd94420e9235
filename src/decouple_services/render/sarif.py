"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

One run, whose driver lists every rule below (always all of them, so a rule keeps its
``ruleIndex`` whatever the scan found). Rule ids are stable and never reused:

======  ==========================  =======  ================================================
id      name                        level    reported for
======  ==========================  =======  ================================================
DCP001  synchronous-service-call    warning  a production call to another service
DCP002  external-call               note     a production call to a host outside the repo
DCP003  unresolved-callee           warning  a production call whose callee is ``unknown``;
                                             the message carries the reason and the fix hint
DCP004  call-without-timeout        warning  a production call with no timeout (or deadline)
DCP005  call-in-loop                warning  a production call made inside a loop
DCP006  service-call-wrapper        note     a generic helper whose url comes from its
                                             parameters (``role: wrapper``)
======  ==========================  =======  ================================================

Every production call site (``role: call``, ``category: production``) gets exactly one of
DCP001-DCP003, plus DCP004 and DCP005 where they apply, all at the call's own lines.

Deliberately left out:

- Test, load-generator and script call sites produce no results. They are not production
  coupling, and alerts on test code would bury the ones that matter; the JSON output still
  lists them, and the run's ``properties.decouple.omitted_non_production`` counts them.
- A wrapper's body is reported once, as DCP006, and never as DCP001-DCP005: each
  invocation of the wrapper is a call site of its own and carries those findings where the
  call really happens.

Diagnostics (files or constructs that could not be analysed) are notifications in
``runs[0].invocations[0].toolConfigurationNotifications``, not results, with
``executionSuccessful: true``: a bad file never fails the scan.

Locations are repo-relative, percent-encoded URIs against ``%SRCROOT%``, so the log does not
depend on where the repository was checked out. Each result's ``partialFingerprints``
carries the call site's id, which is independent of line numbers, so an alert survives
unrelated edits above it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import decouple_services
from decouple_services.core.model import CallSite, Category, Diagnostic, Role, ScanResult, Severity
from decouple_services.render._common import (
    callee_kind,
    is_production_call,
    sorted_call_sites,
    sorted_diagnostics,
    summarise,
)

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
#: Where the tool's documentation lives; shown by viewers next to every rule.
INFORMATION_URI = "https://pypi.org/project/decouple/"
SRCROOT = "%SRCROOT%"
#: Name of the partial fingerprint that carries the call-site id.
FINGERPRINT_KEY = "decoupleCallSiteId/v1"


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of finding, as published in ``tool.driver.rules``."""

    id: str
    name: str
    level: str
    short: str
    full: str
    help: str
    tags: tuple[str, ...]


SYNC_CALL = Rule(
    id="DCP001",
    name="synchronous-service-call",
    level="warning",
    short="Synchronous call to another service",
    full=(
        "A production code path calls another service of this repository synchronously "
        "(HTTP or gRPC) and waits for it. The caller's latency and availability now depend "
        "on the callee's, and every new consumer of the event means editing the caller."
    ),
    help=(
        "If the caller does not use the response, the call can become an event: "
        "`decouple migrate --select <call-site id>` rewrites it into a Kafka producer send "
        "and generates a consumer in the callee. If the response is used, keep the call "
        "but give it a timeout and a fallback, or cache the data the caller needs."
    ),
    tags=("coupling", "architecture", "reliability"),
)
EXTERNAL_CALL = Rule(
    id="DCP002",
    name="external-call",
    level="note",
    short="Call to a host outside the repository",
    full=(
        "A production code path calls a host that matches no service of this repository: "
        "a third-party API or a service that lives in another repository."
    ),
    help=(
        "If the host is one of your services deployed from another repository, merge the "
        "scans of both repositories or add the host to the service's aliases in "
        "`[tool.decouple.services]`. Otherwise make sure the call has a timeout and retries."
    ),
    tags=("coupling", "external"),
)
UNRESOLVED = Rule(
    id="DCP003",
    name="unresolved-callee",
    level="warning",
    short="Service call whose target could not be resolved",
    full=(
        "decouple found a network call but could not work out statically which service it "
        "reaches, so the call is missing from the coupling graph."
    ),
    help=(
        "Annotate the call with `# decouple: target=<service>` (on the call or the line "
        "above), configure the value in `[tool.decouple]`, or mark a call that is not a "
        "service call with `# decouple: ignore`. The result message names the reason and "
        "the exact line that would fix it."
    ),
    tags=("coupling", "coverage"),
)
NO_TIMEOUT = Rule(
    id="DCP004",
    name="call-without-timeout",
    level="warning",
    short="Remote call without a timeout",
    full=(
        "A remote call is made without a timeout (or gRPC deadline). When the callee hangs, "
        "the caller's worker hangs with it, and a slow service stalls the whole chain."
    ),
    help=(
        "Pass an explicit timeout (`timeout=` for requests/httpx/aiohttp/urllib, "
        "`timeout=` on the gRPC stub call) sized to the caller's own latency budget."
    ),
    tags=("reliability",),
)
IN_LOOP = Rule(
    id="DCP005",
    name="call-in-loop",
    level="warning",
    short="Remote call inside a loop",
    full=(
        "A remote call is made inside a loop, so one request of the caller turns into N "
        "requests to the callee, each adding its latency and its chance of failure."
    ),
    help=(
        "Use a batch endpoint, fetch once outside the loop, or, when the response is not "
        "used, publish the items as events instead."
    ),
    tags=("performance", "reliability"),
)
WRAPPER = Rule(
    id="DCP006",
    name="service-call-wrapper",
    level="note",
    short="Generic helper that makes service calls",
    full=(
        "A helper function builds its request from its parameters. It is not an edge of "
        "the coupling graph itself; each call of the helper is reported as a call site of "
        "its own, where the target is known."
    ),
    help=(
        "Nothing to fix here. Call sites that go through this helper are listed with "
        "`via_wrapper` naming it; a timeout added here covers all of them."
    ),
    tags=("coupling",),
)

#: Every rule, in ``ruleIndex`` order. Append only: indices and ids are part of the output.
RULES: tuple[Rule, ...] = (SYNC_CALL, EXTERNAL_CALL, UNRESOLVED, NO_TIMEOUT, IN_LOOP, WRAPPER)

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def render_sarif(result: ScanResult) -> str:
    """Render a scan as a SARIF 2.1.0 log, byte-identical for equal input."""
    results: list[dict[str, object]] = []
    omitted = 0
    for site in sorted_call_sites(result.call_sites):
        if site.category is not Category.PRODUCTION:
            omitted += 1
            continue
        results.extend(_results_for(site))
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": _driver()},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolConfigurationNotifications": [
                            _notification(d) for d in sorted_diagnostics(result.diagnostics)
                        ],
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {
                    "decouple": {
                        "summary": summarise(result).as_dict(),
                        "omitted_non_production": omitted,
                    }
                },
            }
        ],
    }
    # Same serialisation as the JSON output, for the same reasons (see render_json).
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _driver() -> dict[str, object]:
    return {
        "name": "decouple",
        "version": decouple_services.__version__,
        "semanticVersion": decouple_services.__version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(rule) for rule in RULES],
    }


def _rule(rule: Rule) -> dict[str, object]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": rule.help, "markdown": rule.help},
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": rule.level},
        "properties": {"tags": list(rule.tags), "precision": "high"},
    }


def _results_for(site: CallSite) -> list[dict[str, object]]:
    if site.role is Role.WRAPPER:
        return [_result(WRAPPER, site, _wrapper_message(site))]
    assert is_production_call(site)
    kind = callee_kind(site)
    if kind == "service":
        out = [_result(SYNC_CALL, site, _sync_message(site))]
    elif kind == "external":
        out = [_result(EXTERNAL_CALL, site, _external_message(site))]
    else:
        out = [_result(UNRESOLVED, site, _unresolved_message(site))]
    if not site.has_timeout:
        out.append(_result(NO_TIMEOUT, site, _no_timeout_message(site)))
    if site.in_loop:
        out.append(_result(IN_LOOP, site, _loop_message(site)))
    return out


def _result(rule: Rule, site: CallSite, message: str) -> dict[str, object]:
    return {
        "ruleId": rule.id,
        "ruleIndex": RULES.index(rule),
        "level": rule.level,
        "message": {"text": message},
        "locations": [_location(site.file, site.line, site.end_line)],
        "partialFingerprints": {FINGERPRINT_KEY: site.id},
        "properties": {
            "callSiteId": site.id,
            "caller": site.caller,
            "callee": site.callee,
            "client": site.client,
            "method": site.method,
            "endpoint": site.endpoint,
            "urlTemplate": site.url_template,
        },
    }


def _location(file: str, line: int, end_line: int | None = None) -> dict[str, object]:
    physical: dict[str, object] = {
        # Percent-encode: SARIF wants a URI, and paths may hold spaces, brackets or '#'.
        "artifactLocation": {"uri": quote(file, safe="/"), "uriBaseId": SRCROOT},
    }
    # Line 0 means "the whole file" in a Diagnostic; SARIF regions start at line 1.
    if line >= 1:
        physical["region"] = {"startLine": line, "endLine": max(line, end_line or line)}
    return {"physicalLocation": physical}


def _what(site: CallSite) -> str:
    """``POST /users (requests, http://userservice:8080/users)`` and the enclosing function."""
    target = site.endpoint or " ".join(
        part for part in (site.method, site.url_template or site.url) if part
    )
    detail = [site.client]
    if site.endpoint and site.url_template:
        detail.append(site.url_template)
    via = f", through {site.via_wrapper}" if site.via_wrapper else ""
    return f"{target} ({', '.join(detail)}) in {site.function}{via}"


def _sync_message(site: CallSite) -> str:
    why = [f"{site.caller} waits for {site.callee}: its latency and availability now depend on it."]
    if site.in_handler:
        why.append(
            f"The call is inside a request handler, so every request to {site.caller} pays for it."
        )
    if site.result_used:
        why.append("The response is used, so the call cannot simply become an event.")
    else:
        why.append(
            "The response is not used: this call can become a fire-and-forget event "
            f"(decouple migrate --select {site.id})."
        )
    return f"{site.caller} → {site.callee}: {_what(site)}. " + " ".join(why)


def _external_message(site: CallSite) -> str:
    return (
        f"{site.caller} → {site.callee}: {_what(site)}. "
        "A host outside this repository: a third-party API or a service scanned elsewhere."
    )


def _unresolved_message(site: CallSite) -> str:
    reason = site.unknown_reason or "the target could not be resolved statically"
    text = (
        f"{site.caller} → unknown: {_what(site)}. "
        f"The callee is unknown because {reason}; the call is missing from the coupling graph."
    )
    if site.fix_hint:
        text += f" Fix: {site.fix_hint}"
    return text


def _no_timeout_message(site: CallSite) -> str:
    callee = "the callee" if callee_kind(site) == "unknown" else site.callee
    waiter = "task" if site.is_async else "worker"
    return (
        f"{site.caller} → {site.callee}: {_what(site)} has no timeout. "
        f"If {callee} hangs, this {waiter} of {site.caller} hangs with it."
    )


def _loop_message(site: CallSite) -> str:
    return (
        f"{site.caller} → {site.callee}: {_what(site)} is called inside a loop, "
        "one remote call per iteration."
    )


def _wrapper_message(site: CallSite) -> str:
    target = " ".join(part for part in (site.method, site.url) if part)
    return (
        f"{site.function} is a generic {site.client} helper ({target}) whose url comes from "
        "its parameters; each call of it is reported as a call site of its own."
    )


def _notification(diagnostic: Diagnostic) -> dict[str, object]:
    notification: dict[str, object] = {
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": f"{diagnostic.code}: {diagnostic.message}"},
        "descriptor": {"id": diagnostic.code},
    }
    if diagnostic.file:
        notification["locations"] = [_location(diagnostic.file, diagnostic.line)]
    return notification
