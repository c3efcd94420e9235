"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

One run, whose driver lists every rule of :mod:`decouple_services.render.rules` (always all
of them, so a rule keeps its ``ruleIndex`` whatever the scan found), each with a ``helpUri``
to its page in the repository (``docs/rules/DCP00N.md``). The results are the findings of
that module, under the render options' rule selection.

- Locations are relative to the repository root: ``RenderOptions.uri_prefix`` is the scanned
  folder's path inside the repository (the application layer asks git for the top level), so
  ``scan services/`` puts ``services/orders/app.py``, which is what code scanning matches
  against the files of the commit. Uris are percent-encoded against ``%SRCROOT%``, declared
  in ``originalUriBaseIds`` without an absolute uri, so the log does not depend on where the
  repository was checked out.
- ``automationDetails.id`` is ``decouple/<scanned folder>/``: code scanning takes what comes
  before the last ``/`` as the analysis category, so scans of two folders of one repository
  are two analyses, not one replacing the other.
- ``partialFingerprints`` carries the call site's id (plus the contract for DCP007), which is
  independent of line numbers, so an alert survives unrelated edits above it.
- A finding suppressed inline (``# decouple: ignore[DCP004]``) stays in the log with a
  ``suppressions`` entry of kind ``inSource``: viewers hide it, and the log still says it was
  looked at.

Test, load-generator and script call sites produce no results; the run's
``properties.decouple.omitted_non_production`` counts them. Diagnostics (files or constructs
that could not be analysed) are notifications in
``runs[0].invocations[0].toolConfigurationNotifications``, not results, with
``executionSuccessful: true``: a bad file never fails the scan.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

import decouple_services
from decouple_services.core.model import Diagnostic, ScanResult, Severity
from decouple_services.render._common import sorted_diagnostics, summarise
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import (
    REPOSITORY_URL,
    RULES,
    Finding,
    Rule,
    find,
    omitted_non_production,
    rule_help_uri,
)

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
#: Where the tool's documentation lives; shown by viewers next to the tool's name.
INFORMATION_URI = REPOSITORY_URL
SRCROOT = "%SRCROOT%"
#: Name of the partial fingerprint that carries the call-site id.
FINGERPRINT_KEY = "decoupleCallSiteId/v1"


_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
#: GitHub code scanning orders and filters non-security alerts by ``problem.severity``.
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}


def render_sarif(result: ScanResult, options: RenderOptions | None = None) -> str:
    """Render a scan as a SARIF 2.1.0 log, byte-identical for equal input."""
    options = options or RenderOptions()
    results = [_result(finding, options) for finding in find(result, options.selection)]
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": _driver()},
                "automationDetails": {"id": automation_id(options.uri_prefix)},
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The root of the repository (its git top level); "
                            "every uri of this log is relative to it."
                        }
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolConfigurationNotifications": [
                            _notification(d, options)
                            for d in sorted_diagnostics(result.diagnostics)
                        ],
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {
                    "decouple": {
                        "summary": summarise(result).as_dict(),
                        "omitted_non_production": omitted_non_production(result),
                    }
                },
            }
        ],
    }
    # Same serialisation as the JSON output, for the same reasons (see render_json).
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def automation_id(uri_prefix: str) -> str:
    """``decouple/`` plus the scanned folder: the category is everything before the last
    ``/``, and the empty run id after it lets code scanning replace the previous run."""
    folder = uri_prefix.strip("/")
    return f"decouple/{folder}/" if folder else "decouple/"


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
        "helpUri": rule_help_uri(rule.id),
        "defaultConfiguration": {"level": rule.level},
        "properties": {
            "tags": list(rule.tags),
            "precision": "high",
            "problem.severity": _PROBLEM_SEVERITY[rule.level],
        },
    }


def _result(finding: Finding, options: RenderOptions) -> dict[str, object]:
    rule, site = finding.rule, finding.site
    fingerprint = site.id
    if finding.contract is not None:
        # One call site can break several contracts: each is an alert of its own.
        digest = hashlib.sha256(finding.contract.encode("utf-8")).hexdigest()[:8]
        fingerprint = f"{site.id}/{digest}"
    properties: dict[str, object] = {
        "callSiteId": site.id,
        "caller": site.caller,
        "callee": site.callee,
        "client": site.client,
        "method": site.method,
        "endpoint": site.endpoint,
        "urlTemplate": site.url_template,
        "confidence": site.confidence.value,
    }
    if finding.contract is not None:
        properties["contract"] = finding.contract
    out: dict[str, object] = {
        "ruleId": rule.id,
        "ruleIndex": RULES.index(rule),
        "level": rule.level,
        "message": {"text": finding.message},
        "locations": [_location(options.uri_prefix + site.file, site.line, site.end_line)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        "properties": properties,
    }
    if finding.suppressed:
        out["suppressions"] = [
            {
                "kind": "inSource",
                "justification": f"# decouple: ignore[{rule.id}] at {site.file}:{site.line}",
            }
        ]
    return out


def _location(file: str, line: int, end_line: int | None = None) -> dict[str, object]:
    physical: dict[str, object] = {
        # Percent-encode: SARIF wants a URI, and paths may hold spaces, brackets or '#'.
        "artifactLocation": {"uri": quote(file, safe="/"), "uriBaseId": SRCROOT},
    }
    # Line 0 means "the whole file" in a Diagnostic; SARIF regions start at line 1.
    if line >= 1:
        physical["region"] = {"startLine": line, "endLine": max(line, end_line or line)}
    return {"physicalLocation": physical}


def _notification(diagnostic: Diagnostic, options: RenderOptions) -> dict[str, object]:
    notification: dict[str, object] = {
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": f"{diagnostic.code}: {diagnostic.message}"},
        "descriptor": {"id": diagnostic.code},
    }
    if diagnostic.file:
        notification["locations"] = [
            _location(options.uri_prefix + diagnostic.file, diagnostic.line)
        ]
    return notification


__all__ = ["RULES", "Rule", "automation_id", "render_sarif"]
