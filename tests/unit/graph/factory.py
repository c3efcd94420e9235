"""Hand-made scans: services, endpoints and call sites written out, answers known."""

from __future__ import annotations

import itertools

from decouple_services.core.model import CallSite, Category, Endpoint, Role, ScanResult, Service

_ids = itertools.count()


def call(
    caller: str,
    callee: str,
    *,
    function: str | None = None,
    endpoint: str | None = None,
    file: str | None = None,
    line: int = 1,
    **flags: object,
) -> CallSite:
    """A production call from ``caller`` to ``callee`` with a timeout unless told otherwise."""
    n = next(_ids)
    values: dict[str, object] = {"has_timeout": True} | flags
    return CallSite(
        f"cs-{n:08x}",
        caller,
        file or f"{caller}/app.py",
        line,
        line,
        function or f"{caller}.app.job{n}",
        "requests",
        "POST",
        f'"http://{callee}/x"',
        f"http://{callee}/x",
        callee,
        endpoint,
        **values,  # type: ignore[arg-type]
    )


def event(caller: str, topic: str, consumer: str) -> CallSite:
    """A call site already migrated to a Kafka send."""
    n = next(_ids)
    return CallSite(
        f"cs-{n:08x}",
        caller,
        f"{caller}/app.py",
        1,
        1,
        f"{caller}.app.publish{n}",
        "kafka",
        None,
        f'"{topic}"',
        topic,
        consumer,
        None,
        role=Role.EVENT,
    )


def handler(service: str, label: str, name: str) -> Endpoint:
    """An endpoint ``label`` ("POST /x") of ``service`` handled by function ``name``."""
    method, path = label.split(" ", 1)
    return Endpoint(service, "http", method, path, name, f"{service}/app.py", 1)


def scan_of(
    sites: list[CallSite] | tuple[CallSite, ...],
    services: str | list[str] = "",
    endpoints: tuple[Endpoint, ...] = (),
) -> ScanResult:
    names = set(services.split() if isinstance(services, str) else services)
    for site in sites:
        if site.category is Category.PRODUCTION:
            names.add(site.caller)
            if "." not in site.callee and ":" not in site.callee and site.callee != "unknown":
                names.add(site.callee)
    return ScanResult(
        root="hand-made",
        services=tuple(Service(n, n, aliases=(n,)) for n in sorted(names)),
        endpoints=endpoints,
        call_sites=tuple(sites),
    )


def chain(*services: str) -> tuple[list[CallSite], tuple[Endpoint, ...]]:
    """Calls a -> b -> c ..., each made inside the handler of the endpoint the previous hits."""
    sites = []
    endpoints = []
    for index, (a, b) in enumerate(itertools.pairwise(services)):
        function = f"{a}.app.handle" if index else f"{a}.app.job"
        sites.append(call(a, b, function=function, endpoint="POST /x", in_handler=index > 0))
        endpoints.append(handler(b, "POST /x", f"{b}.app.handle"))
    return sites, tuple(dict.fromkeys(endpoints))
