"""Helpers every renderer shares: one canonical order, one summary, one set of flag tags.

Keeping these in one place is what makes the table, JSON and SARIF outputs agree with each
other: the same call site gets the same tags and is counted the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    UNKNOWN,
    CallSite,
    Category,
    Confidence,
    Diagnostic,
    Endpoint,
    ResponseUse,
    Role,
    ScanResult,
    Service,
    Severity,
)
from decouple_services.core.records import record


def sorted_services(services: Iterable[Service]) -> list[Service]:
    return sorted(services, key=lambda s: (s.name, s.root))


def sorted_endpoints(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    # file/line break ties between two handlers registered for the same route.
    return sorted(endpoints, key=lambda e: (*e.sort_key(), e.protocol, e.file, e.line))


def sorted_call_sites(call_sites: Iterable[CallSite]) -> list[CallSite]:
    return sorted(call_sites, key=lambda c: (c.file, c.line, c.id))


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (*d.sort_key(), d.severity.value))


def callee_kind(site: CallSite) -> str:
    """``service``, ``external`` or ``unknown``: what kind of thing the call reaches."""
    if site.callee == UNKNOWN:
        return "unknown"
    if site.callee.startswith(EXTERNAL_PREFIX):
        return "external"
    return "service"


def is_production_call(site: CallSite) -> bool:
    """A real call (not a wrapper body) in production code: what counts as coupling."""
    return site.role is Role.CALL and site.category is Category.PRODUCTION


_RESPONSE_TAGS = {
    ResponseUse.NONE: "fire&forget",
    ResponseUse.STATUS: "status only",
    ResponseUse.BODY: "uses result",
}


def flag_tags(site: CallSite) -> list[str]:
    """Short tags for a call site's flags, in a fixed order, as the table shows them."""
    tags = [_RESPONSE_TAGS[site.response_use]]
    if site.in_loop:
        tags.append("loop")
    if not site.has_timeout:
        tags.append("no-timeout")
    if site.is_async:
        tags.append("async")
    if site.in_handler:
        tags.append("in-handler")
    if site.via_wrapper:
        tags.append(f"via {site.via_wrapper}")
    if site.confidence is Confidence.INFERRED:
        tags.append("inferred callee")
    if site.category is not Category.PRODUCTION:
        tags.append(site.category.value)
    return tags


def target_label(site: CallSite) -> str:
    """What the call hits, as precisely as known: the matched endpoint, else the url."""
    if site.endpoint:
        return site.endpoint
    target = site.url_template or site.url
    return f"{site.method} {target}" if site.method else target


@record
class Summary:
    """Counts shown in the table header and written as the JSON ``summary`` object.

    The three callee-kind counts and ``inter_service_edges`` cover production calls only
    (``role: call``, ``category: production``), since test, load-generator and script calls
    are not production coupling; ``by_category`` counts every ``role: call`` site.
    """

    files_scanned: int
    services: int
    endpoints: int
    call_sites: int
    inter_service_calls: int
    inter_service_edges: int
    external_calls: int
    unknown_callees: int
    wrappers: int
    by_category: dict[str, int]
    diagnostics: int
    diagnostics_by_severity: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "files_scanned": self.files_scanned,
            "services": self.services,
            "endpoints": self.endpoints,
            "call_sites": self.call_sites,
            "inter_service_calls": self.inter_service_calls,
            "inter_service_edges": self.inter_service_edges,
            "external_calls": self.external_calls,
            "unknown_callees": self.unknown_callees,
            "wrappers": self.wrappers,
            "by_category": dict(self.by_category),
            "diagnostics": self.diagnostics,
            "diagnostics_by_severity": dict(self.diagnostics_by_severity),
        }


def summarise(result: ScanResult) -> Summary:
    """Count what a scan found; see :class:`Summary` for what each number covers."""
    production = [c for c in result.call_sites if is_production_call(c)]
    kinds = [callee_kind(c) for c in production]
    edges = {(c.caller, c.callee) for c in production if callee_kind(c) == "service"}
    # Every key is always present so consumers never need a default.
    by_category = {category.value: 0 for category in Category}
    for site in result.call_sites:
        if site.role is Role.CALL:
            by_category[site.category.value] += 1
    by_severity = {severity.value: 0 for severity in Severity}
    for diagnostic in result.diagnostics:
        by_severity[diagnostic.severity.value] += 1
    return Summary(
        files_scanned=result.files_scanned,
        services=len(result.services),
        endpoints=len(result.endpoints),
        call_sites=len(result.call_sites),
        inter_service_calls=kinds.count("service"),
        inter_service_edges=len(edges),
        external_calls=kinds.count("external"),
        unknown_callees=kinds.count("unknown"),
        wrappers=sum(1 for c in result.call_sites if c.role is Role.WRAPPER),
        by_category=by_category,
        diagnostics=len(result.diagnostics),
        diagnostics_by_severity=by_severity,
    )
