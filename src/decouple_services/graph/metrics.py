"""Per-service coupling metrics, computed on the synchronous production calls between
services (:func:`decouple_services.graph.build.coupling_graph`).

- **fan-out** (Ce): distinct services it calls; **fan-in** (Ca): distinct services calling it.
- **weighted fan-out / fan-in**: the same counted in call sites.
- **instability** Ce / (Ca + Ce): 1 for a pure caller, 0 for a pure callee (Robert Martin's
  measure); undefined (``None``) for a service with neither.
- **cycle**: the services of its strongly connected component when that holds more than one
  service: each of them reaches every other one through synchronous calls. Its **cycle
  calls** are the services it calls inside that component: each such call closes a loop
  (the callee reaches it back), so neither side can fail, deploy or be tested alone.
- **chain**: the longest synchronous call chain through the service, as the request flows.
  A chain follows a call into the endpoint it hits, then continues with the calls the
  endpoint's handler makes (a call site whose function is that handler, or a method of a
  class-based view). Calls from background jobs start chains; calls whose endpoint is not
  known end them. A chain never repeats a call site, so a request loop is cut where it
  would come back to a call already on it. Its depth (hops) is a latency and availability
  risk: every hop adds its latency and its failure rate to the request at the top.
- **betweenness**: the share of shortest caller-to-callee paths between other services
  that pass through it (networkx, normalised): how much of the web routes through it.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from decouple_services.core.model import CallSite, Endpoint, ScanResult


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    service: str
    fan_out: int
    fan_in: int
    #: Outgoing and incoming call sites (to and from other services).
    weighted_fan_out: int
    weighted_fan_in: int
    #: Ce / (Ca + Ce); ``None`` when the service neither calls nor is called.
    instability: float | None
    #: The other services of its cycle (strongly connected component), sorted; empty if none.
    cycle: tuple[str, ...]
    #: The services it calls that reach it back: its calls that close a cycle.
    cycle_calls: tuple[str, ...]
    #: The services along the longest synchronous chain through it (empty if none).
    chain: tuple[str, ...]
    #: The call-site ids of that chain, in request order.
    chain_sites: tuple[str, ...]
    betweenness: float

    @property
    def chain_depth(self) -> int:
        """Hops in the longest chain through the service."""
        return len(self.chain_sites)


def service_metrics(result: ScanResult) -> dict[str, ServiceMetrics]:
    """Every metric of every declared service (and of any caller found in production code)."""
    import networkx as nx

    from decouple_services.graph.build import coupling_graph

    graph = coupling_graph(result)
    components: dict[str, tuple[str, ...]] = {}
    for members in nx.strongly_connected_components(graph):
        if len(members) > 1:
            for name in members:
                components[name] = tuple(sorted(members - {name}))
    betweenness = nx.betweenness_centrality(graph, normalized=True)
    chains = longest_chains(result)
    out = {}
    for name in sorted(graph.nodes):
        ce = graph.out_degree(name)
        ca = graph.in_degree(name)
        sites = chains.get(name, ())
        out[name] = ServiceMetrics(
            service=name,
            fan_out=ce,
            fan_in=ca,
            weighted_fan_out=sum(d["count"] for _, _, d in graph.out_edges(name, data=True)),
            weighted_fan_in=sum(d["count"] for _, _, d in graph.in_edges(name, data=True)),
            instability=round(ce / (ca + ce), 4) if ca + ce else None,
            cycle=components.get(name, ()),
            cycle_calls=tuple(
                sorted(n for n in graph.successors(name) if n in components.get(name, ()))
            ),
            chain=chain_services(sites),
            chain_sites=tuple(s.id for s in sites),
            betweenness=round(betweenness.get(name, 0.0), 4),
        )
    return out


def chain_services(sites: Sequence[CallSite]) -> tuple[str, ...]:
    if not sites:
        return ()
    return (sites[0].caller, *(s.callee for s in sites))


def next_hops(result: ScanResult) -> dict[str, list[CallSite]]:
    """For each production call between services, the calls the hit endpoint's handler makes
    (a call site whose function is the handler, or a method of its class-based view)."""
    sites = sorted((s for s in result.call_sites if s.is_production_coupling), key=lambda s: s.id)
    by_caller: dict[str, dict[str, list[CallSite]]] = defaultdict(lambda: defaultdict(list))
    for site in sites:
        by_caller[site.caller][site.function].append(site)
    endpoints: dict[tuple[str, str], list[Endpoint]] = defaultdict(list)
    for endpoint in result.endpoints:
        endpoints[(endpoint.service, endpoint.label)].append(endpoint)
    out: dict[str, list[CallSite]] = {}
    for site in sites:
        hops: dict[str, CallSite] = {}
        for endpoint in endpoints.get((site.callee, site.endpoint or ""), []):
            for function, inner in by_caller[endpoint.service].items():
                if function == endpoint.handler or function.startswith(endpoint.handler + "."):
                    hops.update((s.id, s) for s in inner)
        out[site.id] = [hops[k] for k in sorted(hops)]
    return out


#: Upper bound on the path extensions one chain search may try. Chains in real code are
#: short and few; this only keeps a pathological graph (thousands of handlers calling each
#: other) from running for minutes. Reached, the longest chain found so far is reported.
SEARCH_BUDGET = 200_000


def longest_chains(result: ScanResult) -> dict[str, tuple[CallSite, ...]]:
    """For each service, the call sites of the longest synchronous chain through it.

    Ties go to the chain whose call-site ids sort first, so the answer is deterministic.
    """
    sites = {s.id: s for s in result.call_sites if s.is_production_coupling}
    forward = next_hops(result)
    backward: dict[str, list[CallSite]] = defaultdict(list)
    for site_id in sorted(forward):
        for hop in forward[site_id]:
            backward[hop.id].append(sites[site_id])
    budget = [SEARCH_BUDGET]
    down = _longest_paths(sites, forward, budget)
    up = _longest_paths(sites, backward, budget)
    best: dict[str, tuple[CallSite, ...]] = {}
    for site_id in sorted(sites):
        before = tuple(reversed(up[site_id]))[:-1]
        chain = before + down[site_id]
        if len({s.id for s in chain}) != len(chain):
            # The part above and the part below meet on a call site: a request loop.
            # Keep the longer half rather than a chain that repeats a call.
            chain = down[site_id] if len(down[site_id]) >= len(up[site_id]) else before
        for name in {*chain_services(chain)}:
            current = best.get(name)
            if current is None or _better(chain, current):
                best[name] = chain
    return best


def _better(chain: tuple[CallSite, ...], current: tuple[CallSite, ...]) -> bool:
    if len(chain) != len(current):
        return len(chain) > len(current)
    return [s.id for s in chain] < [s.id for s in current]


def _longest_paths(
    sites: dict[str, CallSite], hops: dict[str, list[CallSite]], budget: list[int]
) -> dict[str, tuple[CallSite, ...]]:
    """Longest path of call sites starting at each site, never repeating a site."""
    memo: dict[str, tuple[CallSite, ...]] = {}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for site_id in sorted(sites):
            _walk(sites[site_id], hops, memo, set(), budget)
    finally:
        sys.setrecursionlimit(limit)
    return memo


def _walk(
    site: CallSite,
    hops: dict[str, list[CallSite]],
    memo: dict[str, tuple[CallSite, ...]],
    on_path: set[str],
    budget: list[int],
) -> tuple[CallSite, ...]:
    if site.id in memo:
        return memo[site.id]
    on_path.add(site.id)
    best: tuple[CallSite, ...] = ()
    for hop in hops.get(site.id, []):
        if hop.id in on_path or budget[0] <= 0:
            continue
        budget[0] -= 1
        tail = _walk(hop, hops, memo, on_path, budget)
        if any(s.id in on_path for s in tail):
            continue
        if len(tail) > len(best):
            best = tail
    on_path.discard(site.id)
    path = (site, *best)
    memo[site.id] = path
    return path
