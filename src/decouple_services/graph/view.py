"""What a picture of the graph shows: the filtered, possibly expanded graph every renderer
draws, with a note for everything a filter left out.

Filters apply in this order: ``external=False`` drops external hosts and unresolved
callees, ``min_calls`` drops edges with fewer call sites, ``focus`` keeps what lies within
``depth`` hops of one service (either direction). ``expand`` then draws one service as its
endpoints (what others call) and its calling functions (what it calls). Nothing disappears
silently: each filter adds a sentence to :attr:`GraphView.hidden`, and every renderer
shows those sentences in its legend.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from decouple_services.core.errors import SelectionError
from decouple_services.core.model import (
    CallSite,
    Category,
    Diagnostic,
    ResponseUse,
    Role,
    ScanResult,
)
from decouple_services.graph.build import (
    CALL,
    ENDPOINT,
    EVENT,
    EXTERNAL,
    FUNCTION,
    SERVICE,
    TOPIC,
    UNRESOLVED,
    EdgeData,
    aggregate,
    endpoint_node,
    function_node,
    is_drawn,
    node_kind,
    site_legs,
)
from decouple_services.graph.migratability import assess
from decouple_services.graph.score import Hotspot
from decouple_services.render.json import portable_root

#: Colour levels for hotspot scores: level i covers scores from LEVELS[i] x the top score.
LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)
#: Call sites listed in one tooltip before "and N more".
TOOLTIP_SITES = 12
NO_ENDPOINT = "(no endpoint matched)"


@dataclass(frozen=True)
class ViewOptions:
    focus: str | None = None
    depth: int = 1
    min_calls: int = 1
    external: bool = True
    expand: str | None = None


@dataclass(frozen=True, slots=True)
class ViewNode:
    id: str
    kind: str
    label: str
    #: The box it is drawn in: ``external`` hosts, Kafka ``topics``, or the expanded service.
    cluster: str | None = None
    #: The service it belongs to (for endpoint and function nodes: their service).
    service: str | None = None
    score: float | None = None
    #: Colour level 0-4 of the score (``None`` for nodes without one).
    level: int | None = None
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class ViewEdge:
    source: str
    target: str
    data: EdgeData
    #: Both ends are services of the same cycle.
    in_cycle: bool
    tooltip: str


@dataclass(frozen=True)
class GraphView:
    title: str
    nodes: tuple[ViewNode, ...]
    edges: tuple[ViewEdge, ...]
    #: One sentence per thing left out, for every legend.
    hidden: tuple[str, ...]
    #: Score at which each colour level starts.
    thresholds: tuple[float, ...]
    hotspots: tuple[Hotspot, ...]
    #: The call sites drawn, in file and line order.
    sites: tuple[CallSite, ...]
    diagnostics: tuple[Diagnostic, ...]
    options: ViewOptions

    def node(self, node_id: str) -> ViewNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def site_target(site: CallSite) -> str:
    """The endpoint hit, else the method and the url *as written*: a resolved url can hold
    a value from a deployment file (a webhook token), and pictures get pasted into PRs."""
    if site.endpoint:
        return site.endpoint
    return f"{site.method} {site.url}" if site.method else site.url


def site_flags(site: CallSite) -> list[str]:
    return [
        {
            ResponseUse.NONE: "fire-and-forget",
            ResponseUse.STATUS: "status only",
            ResponseUse.BODY: "uses result",
        }[site.response_use],
        *(["loop"] if site.in_loop else []),
        *([] if site.has_timeout or site.role is Role.EVENT else ["no timeout"]),
        *(["async"] if site.is_async else []),
        *(["in handler"] if site.in_handler else []),
    ]


def site_line(site: CallSite) -> str:
    """``id file:line target (flags; migratability)``: one call site in a tooltip."""
    flags = ", ".join(site_flags(site))
    verdict = assess(site)
    label = verdict.label
    if verdict.blockers:
        label += ": " + ", ".join(f.code for f in verdict.blockers)
    return f"{site.id} {site.file}:{site.line} {site_target(site)} ({flags}; {label})"


def _tooltip(head: str, sites: Sequence[CallSite]) -> str:
    lines = [head] + [site_line(s) for s in sites[:TOOLTIP_SITES]]
    if len(sites) > TOOLTIP_SITES:
        lines.append(f"... and {len(sites) - TOOLTIP_SITES} more")
    return "\n".join(lines)


def build_view(
    result: ScanResult, hotspots: Sequence[Hotspot], options: ViewOptions | None = None
) -> GraphView:
    """The graph as drawn with ``options``; ``hotspots`` from :func:`rank_hotspots`."""
    options = options or ViewOptions()
    declared = sorted({s.name for s in result.services})
    scores = {h.service: h for h in hotspots}
    for name, wanted in (("--focus", options.focus), ("--expand", options.expand)):
        if wanted is not None and wanted not in declared and wanted not in scores:
            raise SelectionError(
                f"{name} {wanted}: no such service (services: {', '.join(declared)})"
            )
    hidden: list[str] = []
    sites = [s for s in result.call_sites if s.role is not Role.WRAPPER]
    left_out = Counter(s.category.value for s in sites if s.category is not Category.PRODUCTION)
    if left_out:
        parts = ", ".join(f"{n} {cat}" for cat, n in sorted(left_out.items()))
        hidden.append(f"not production code, not drawn: {parts} call sites")
    drawn = [s for s in sites if is_drawn(s)]
    selfcalls = [s for s in drawn if s.caller == s.callee]
    if selfcalls:
        hidden.append(f"{_plural(len(selfcalls), 'call site')} of a service to itself, not drawn")
    drawn = sorted((s for s in drawn if s.caller != s.callee), key=lambda s: (s.file, s.line, s.id))

    if not options.external:
        outside = [s for s in drawn if node_kind(s.callee) in (EXTERNAL, UNRESOLVED)]
        if outside:
            hosts = {s.callee for s in outside}
            hidden.append(
                f"--no-external: {_plural(len(hosts), 'external host or unresolved callee', 'external hosts and unresolved callees')}"
                f" ({_plural(len(outside), 'call site')}) left out"
            )
        gone = {s.id for s in outside}
        drawn = [s for s in drawn if s.id not in gone]

    legs: dict[tuple[str, str], list[CallSite]] = defaultdict(list)
    for site in drawn:
        for leg in site_legs(site):
            legs[leg].append(site)
    if options.min_calls > 1:
        thin = {leg: ss for leg, ss in legs.items() if len(ss) < options.min_calls}
        if thin:
            count = len({s.id for ss in thin.values() for s in ss})
            hidden.append(
                f"--min-calls {options.min_calls}: {_plural(len(thin), 'edge')} with fewer call sites"
                f" ({_plural(count, 'call site')}) left out"
            )
        legs = {leg: ss for leg, ss in legs.items() if leg not in thin}

    keep: set[str] = set(declared) | {n for leg in legs for n in leg}
    if options.focus is not None:
        near = _within(options.focus, options.depth, legs.keys())
        far_nodes = keep - near
        far_legs = {leg: ss for leg, ss in legs.items() if not set(leg) <= near}
        if far_nodes or far_legs:
            count = len({s.id for ss in far_legs.values() for s in ss})
            hidden.append(
                f"--focus {options.focus} --depth {options.depth}: "
                f"{_plural(len(far_nodes), 'node')} further away and"
                f" {_plural(len(far_legs), 'edge')} ({_plural(count, 'call site')}) left out"
            )
        legs = {leg: ss for leg, ss in legs.items() if leg not in far_legs}
        keep = near

    shown_sites = sorted(
        {s.id: s for ss in legs.values() for s in ss}.values(),
        key=lambda s: (s.file, s.line, s.id),
    )
    cycles = {name: set(h.metrics.cycle) for name, h in scores.items()}
    top = max((h.score for h in hotspots), default=0.0)
    thresholds = tuple(round(top * f, 1) for f in LEVELS)

    def level(score: float) -> int:
        if top <= 0:
            return 0
        return min(len(LEVELS) - 1, math.floor(score / top * len(LEVELS) + 1e-9))

    nodes: dict[str, ViewNode] = {}

    def add_service_like(name: str) -> None:
        kind = node_kind(name)
        if kind == SERVICE:
            h = scores.get(name)
            score = h.score if h else 0.0
            tip = f"{name}: hotspot score {score:g}"
            if h:
                tip += f"\n{h.components.explain()}"
                if h.metrics.chain:
                    tip += f"\nlongest chain: {' -> '.join(h.metrics.chain)}"
            nodes[name] = ViewNode(name, kind, name, None, name, score, level(score), tooltip=tip)
        elif kind == TOPIC:
            label = name.removeprefix("topic:")
            nodes[name] = ViewNode(name, kind, label, "topics", tooltip=f"Kafka topic {label}")
        elif kind == EXTERNAL:
            label = name.removeprefix("external:")
            nodes[name] = ViewNode(name, kind, label, "external", tooltip=f"external host {label}")
        else:
            nodes[name] = ViewNode(
                name, kind, "unknown", tooltip="callees decouple could not resolve"
            )

    expand = options.expand
    edges: dict[tuple[str, str, str], list[CallSite]] = defaultdict(list)
    for (source, target), ss in legs.items():
        for site in ss:
            a, b = source, target
            if expand is not None and expand == source:
                a = function_node(expand, site.function)
            if expand is not None and expand == target:
                label = site.endpoint or NO_ENDPOINT
                b = endpoint_node(expand, label)
            edges[(a, b, EVENT if site.role is Role.EVENT else CALL)].append(site)

    for name in sorted(keep):
        if name != expand:
            add_service_like(name)
    if expand is not None and expand in keep:
        h = scores.get(expand)
        for endpoint in sorted(
            (e for e in result.endpoints if e.service == expand), key=lambda e: e.sort_key()
        ):
            node_id = endpoint_node(expand, endpoint.label)
            nodes[node_id] = ViewNode(
                node_id,
                ENDPOINT,
                endpoint.label,
                expand,
                expand,
                h.score if h else None,
                tooltip=f"{endpoint.label}\nhandler {endpoint.handler}\n{endpoint.file}:{endpoint.line}",
            )
        for a, b, _ in edges:
            for node_id in (a, b):
                if node_id in nodes:
                    continue
                if node_id.startswith(f"{expand}::"):
                    is_function = node_id.endswith("()")
                    label = node_id.removeprefix(f"{expand}::")
                    nodes[node_id] = ViewNode(
                        node_id,
                        FUNCTION if is_function else ENDPOINT,
                        label,
                        expand,
                        expand,
                        tooltip=f"{expand}: {label}",
                    )
    for a, b, _ in edges:
        for node_id in (a, b):
            if node_id not in nodes:
                add_service_like(node_id)

    def service_of(node_id: str) -> str:
        node = nodes[node_id]
        return node.service or node_id

    view_edges = []
    for (a, b, kind), ss in sorted(edges.items()):
        data = aggregate(kind, ss)
        sa, sb = service_of(a), service_of(b)
        in_cycle = kind == CALL and sb in cycles.get(sa, set())
        head = f"{nodes[a].label} -> {nodes[b].label}: {_plural(data.count, 'call site')}"
        view_edges.append(ViewEdge(a, b, data, in_cycle, _tooltip(head, ss)))

    title = f"Coupling graph of {portable_root(result.root)}"
    if options.focus:
        title += f" around {options.focus}"
    return GraphView(
        title=title,
        nodes=tuple(sorted(nodes.values(), key=lambda n: (n.cluster or "", n.id))),
        edges=tuple(view_edges),
        hidden=tuple(hidden),
        thresholds=thresholds,
        hotspots=tuple(hotspots),
        sites=tuple(shown_sites),
        diagnostics=tuple(sorted(result.diagnostics, key=lambda d: d.sort_key())),
        options=options,
    )


def _within(start: str, depth: int, legs: Iterable[tuple[str, str]]) -> set[str]:
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in legs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen = {start}
    frontier = {start}
    for _ in range(max(depth, 0)):
        frontier = {n for f in frontier for n in neighbours[f]} - seen
        seen |= frontier
    return seen
