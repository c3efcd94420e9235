"""One graph from the scans of several repositories.

An organisation with one repository per service scans each one on its own; in each scan
the other services are unknown, so a call to ``http://users:8000`` is ``external:users``
and a call to ``127.0.0.1:8000`` is ``unknown``. Merging puts every scan's services
together and resolves such calls again by host alias and port, exactly as a scan of one
repository holding them all would (:class:`decouple_services.resolve.hosts.HostMap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    UNKNOWN,
    CallSite,
    Endpoint,
    ScanResult,
    Service,
)
from decouple_services.render.json import portable_root
from decouple_services.resolve.endpoints import match_endpoint
from decouple_services.resolve.hosts import HostMap, split_url


def merge_scans(results: Sequence[ScanResult]) -> ScanResult:
    """The scans as one ``ScanResult``, calls between them resolved.

    A service named in several scans becomes one (aliases, evidence and ports joined; the
    first scan's root). A call site seen in several scans (overlapping scans) is kept once.
    """
    if len(results) == 1:
        return results[0]
    services: dict[str, Service] = {}
    for result in results:
        for service in result.services:
            known = services.get(service.name)
            services[service.name] = service if known is None else _joined(known, service)
    endpoints = sorted(
        {e for r in results for e in r.endpoints}, key=lambda e: (*e.sort_key(), e.file, e.line)
    )
    hosts = HostMap(tuple(services.values()), {})
    by_service: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_service.setdefault(endpoint.service, []).append(endpoint)
    sites: dict[str, CallSite] = {}
    for result in results:
        for site in result.call_sites:
            if site.id not in sites:
                sites[site.id] = _resolved(site, hosts, by_service)
    return ScanResult(
        root="+".join(portable_root(r.root) for r in results),
        services=tuple(sorted(services.values(), key=lambda s: s.name)),
        endpoints=tuple(endpoints),
        call_sites=tuple(sorted(sites.values(), key=lambda s: (s.file, s.line, s.id))),
        diagnostics=tuple(d for r in results for d in r.diagnostics),
        files_scanned=sum(r.files_scanned for r in results),
    )


def _joined(first: Service, other: Service) -> Service:
    return replace(
        first,
        aliases=tuple(sorted({*first.aliases, *other.aliases})),
        evidence=tuple(dict.fromkeys((*first.evidence, *other.evidence))),
        ports=tuple(sorted({*first.ports, *other.ports})),
        env=first.env + tuple(e for e in other.env if e not in first.env),
    )


def _resolved(site: CallSite, hosts: HostMap, endpoints: dict[str, list[Endpoint]]) -> CallSite:
    """The site with its callee resolved against every scan's services, if it was not.

    A callee named by an annotation in a scan that did not know that service has no
    endpoint yet; it gets one here.
    """
    grpc = site.client == "grpc"
    target = split_url(site.url_template or "", grpc=grpc)
    if site.callee != UNKNOWN and not site.callee.startswith(EXTERNAL_PREFIX):
        name = hosts.service_named(site.callee) or site.callee
        if site.endpoint is not None or not site.url_template or name not in endpoints:
            return site
        endpoint = _endpoint(site, target.path, endpoints[name], grpc)
        return replace(site, callee=name, endpoint=endpoint.label if endpoint else None)
    if not site.url_template:
        return site
    found = hosts.callee(target)
    if found.name == UNKNOWN or found.name.startswith(EXTERNAL_PREFIX):
        return site
    endpoint = _endpoint(site, target.path, endpoints.get(found.name, []), grpc)
    return replace(
        site,
        callee=found.name,
        endpoint=endpoint.label if endpoint else site.endpoint,
        evidence=(*site.evidence, f"{found.evidence} (merged scans)"),
        unknown_reason=None,
        fix_hint=None,
    )


def _endpoint(site: CallSite, path: str, candidates: list[Endpoint], grpc: bool) -> Endpoint | None:
    if grpc:
        rpc = f"/{site.method}" if site.method else None
        found = [e for e in candidates if e.protocol == "grpc" and rpc and e.path.endswith(rpc)]
        return found[0] if len(found) == 1 else None
    http = [e for e in candidates if e.protocol == "http"]
    return match_endpoint(site.method, path or "/", http)
