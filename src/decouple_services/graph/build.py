"""The coupling graph: services, external hosts, unresolved callees and Kafka topics as
nodes, with the call sites between them aggregated on the edges.

Only production call sites are drawn (``category: production``): tests, load generators
and scripts exercise the services, they are not coupling between them. A call already
migrated to Kafka (``role: event``) is drawn as caller -> topic -> consumer, so the picture
shows the asynchronous path that replaced the synchronous one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    UNKNOWN,
    CallSite,
    Category,
    Endpoint,
    Role,
    ScanResult,
)

if TYPE_CHECKING:
    import networkx as nx

#: Node kinds (the ``kind`` attribute of every node).
SERVICE, EXTERNAL, UNRESOLVED, TOPIC, ENDPOINT, FUNCTION = (
    "service",
    "external",
    "unknown",
    "topic",
    "endpoint",
    "function",
)
#: Edge kinds: a request/response call, or one leg of a Kafka event.
CALL, EVENT = "call", "event"
TOPIC_PREFIX = "topic:"


@dataclass(frozen=True, slots=True)
class EdgeData:
    """What an edge aggregates: the call sites drawn along it."""

    kind: str
    #: Call-site ids, sorted.
    sites: tuple[str, ...]
    methods: tuple[str, ...]
    endpoints: tuple[str, ...]
    clients: tuple[str, ...]
    #: Sites made with a non-blocking client (awaited) and with a blocking one.
    async_count: int
    sync_count: int

    @property
    def count(self) -> int:
        return len(self.sites)

    @property
    def is_async(self) -> bool:
        """Every site on the edge is asynchronous (an event, or an awaited call)."""
        return self.kind == EVENT or self.sync_count == 0

    def as_attrs(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "sites": self.sites,
            "count": self.count,
            "methods": self.methods,
            "endpoints": self.endpoints,
            "clients": self.clients,
            "async_count": self.async_count,
            "sync_count": self.sync_count,
        }


def is_drawn(site: CallSite) -> bool:
    """A production call or event: what the graph shows."""
    return site.category is Category.PRODUCTION and site.role in (Role.CALL, Role.EVENT)


def node_kind(name: str) -> str:
    if name == UNKNOWN:
        return UNRESOLVED
    if name.startswith(EXTERNAL_PREFIX):
        return EXTERNAL
    if name.startswith(TOPIC_PREFIX):
        return TOPIC
    return SERVICE


def topic_of(site: CallSite) -> str:
    """The node id of the topic an event site sends to (its ``url_template`` or ``url``)."""
    return TOPIC_PREFIX + (site.url_template or site.url).strip("\"'")


def site_legs(site: CallSite) -> list[tuple[str, str]]:
    """The service-level edges a drawn site runs along: caller -> callee, or for an event
    caller -> topic -> consumer (the second leg only when the consumer is known)."""
    if site.role is Role.EVENT:
        topic = topic_of(site)
        return [(site.caller, topic)] + ([(topic, site.callee)] if site.callee != UNKNOWN else [])
    return [(site.caller, site.callee)]


def aggregate(kind: str, sites: Iterable[CallSite]) -> EdgeData:
    items = sorted(sites, key=lambda s: s.id)
    return EdgeData(
        kind=kind,
        sites=tuple(s.id for s in items),
        methods=tuple(sorted({s.method for s in items if s.method})),
        endpoints=tuple(sorted({s.endpoint for s in items if s.endpoint})),
        clients=tuple(sorted({s.client for s in items})),
        async_count=sum(1 for s in items if s.is_async),
        sync_count=sum(1 for s in items if not s.is_async),
    )


def service_edges(result: ScanResult) -> dict[tuple[str, str], EdgeData]:
    """Every drawn edge of the service-level graph with its aggregated call sites.

    Self-calls are left out (a service calling itself is not coupling between services).
    """
    grouped: dict[tuple[str, str, str], list[CallSite]] = defaultdict(list)
    for site in result.call_sites:
        if not is_drawn(site) or site.caller == site.callee:
            continue
        kind = EVENT if site.role is Role.EVENT else CALL
        for source, target in site_legs(site):
            grouped[(source, target, kind)].append(site)
    return {(a, b): aggregate(kind, sites) for (a, b, kind), sites in sorted(grouped.items())}


def build_graph(result: ScanResult) -> nx.DiGraph[str]:
    """The service-level coupling graph.

    Nodes carry ``kind`` (service, external, unknown, topic); every declared service is a
    node, called or not. Edges carry the :class:`EdgeData` fields plus ``data``, the
    object itself. ``graph.graph["call_sites"]`` maps each drawn site's id to its
    :class:`~decouple_services.core.model.CallSite`.
    """
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    for service in sorted(result.services, key=lambda s: s.name):
        graph.add_node(service.name, kind=SERVICE, declared=True)
    for (source, target), data in service_edges(result).items():
        for name in (source, target):
            if name not in graph:
                graph.add_node(name, kind=node_kind(name), declared=False)
        graph.add_edge(source, target, data=data, **data.as_attrs())
    graph.graph["call_sites"] = {s.id: s for s in result.call_sites if is_drawn(s)}
    return graph


def coupling_graph(result: ScanResult) -> nx.DiGraph[str]:
    """Services and the synchronous production calls between them, and nothing else: the
    graph every metric and the hotspot score are computed on."""
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(sorted(s.name for s in result.services))
    grouped: dict[tuple[str, str], list[CallSite]] = defaultdict(list)
    for site in result.call_sites:
        if site.is_production_coupling:
            grouped[(site.caller, site.callee)].append(site)
    for (source, target), sites in sorted(grouped.items()):
        data = aggregate(CALL, sites)
        graph.add_edge(source, target, data=data, **data.as_attrs())
    return graph


def endpoint_node(service: str, label: str) -> str:
    return f"{service}::{label}"


def function_node(service: str, function: str) -> str:
    return f"{service}::{function}()"


def endpoint_graph(result: ScanResult) -> nx.DiGraph[str]:
    """The endpoint-level view of the same call sites.

    Nodes are the calling functions (``kind: function``, ``service::qualname()``) and the
    callee endpoints (``kind: endpoint``, ``service::METHOD /path``); a call whose endpoint is
    not known goes to the callee's own node (a service, external host, unknown or topic).
    Every endpoint of every service is a node, called or not, so the view also shows what
    nobody in the scanned code calls.
    """
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    for endpoint in sorted(result.endpoints, key=Endpoint.sort_key):
        graph.add_node(
            endpoint_node(endpoint.service, endpoint.label),
            kind=ENDPOINT,
            service=endpoint.service,
            label=endpoint.label,
            handler=endpoint.handler,
        )
    grouped: dict[tuple[str, str, str], list[CallSite]] = defaultdict(list)
    for site in result.call_sites:
        if not is_drawn(site):
            continue
        source = function_node(site.caller, site.function)
        if source not in graph:
            graph.add_node(source, kind=FUNCTION, service=site.caller, label=site.function)
        if site.role is Role.EVENT:
            target = topic_of(site)
        elif site.endpoint and node_kind(site.callee) == SERVICE:
            target = endpoint_node(site.callee, site.endpoint)
        else:
            target = site.callee
        if target not in graph:
            graph.add_node(target, kind=node_kind(target), service=None, label=target)
        grouped[(source, target, EVENT if site.role is Role.EVENT else CALL)].append(site)
        if site.role is Role.EVENT and site.callee != UNKNOWN:
            consumer = endpoint_node(site.callee, site.endpoint) if site.endpoint else site.callee
            if consumer not in graph:
                graph.add_node(consumer, kind=node_kind(consumer), service=None, label=consumer)
            grouped[(target, consumer, EVENT)].append(site)
    for (source, target, kind), sites in sorted(grouped.items()):
        data = aggregate(kind, sites)
        graph.add_edge(source, target, data=data, **data.as_attrs())
    graph.graph["call_sites"] = {s.id: s for s in result.call_sites if is_drawn(s)}
    return graph
