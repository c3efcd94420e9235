"""The graph as node-link JSON (``networkx.node_link_graph(data, edges="links")`` reads it).

Nodes carry their kind, score, colour level, score components and metrics; links carry the
aggregated call sites. ``call_sites`` lists every drawn site with its flags and its
migratability (and its url as written: resolved urls can hold deployment values), and ``graph.hidden`` what the filters left out. Byte-identical for equal
input: keys sorted, lists in a fixed order.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from decouple_services.graph.migratability import assess
from decouple_services.graph.score import Hotspot
from decouple_services.graph.view import GraphView, ViewNode

GRAPH_SCHEMA_VERSION = 1


def hotspot_dict(h: Hotspot) -> dict[str, object]:
    c = h.components
    m = h.metrics
    return {
        "rank": h.rank,
        "service": h.service,
        "score": h.score,
        "components": {
            part.name: {
                # No history read: the change count is unknown, not zero.
                "count": None if part.name == "changes" and c.changes is None else part.count,
                "weight": part.weight,
                "points": part.points,
            }
            for part in c.parts()
        },
        "explain": c.explain(),
        "metrics": {
            "fan_out": m.fan_out,
            "fan_in": m.fan_in,
            "weighted_fan_out": m.weighted_fan_out,
            "weighted_fan_in": m.weighted_fan_in,
            "instability": m.instability,
            "cycle": list(m.cycle),
            "cycle_calls": list(m.cycle_calls),
            "chain": list(m.chain),
            "chain_depth": m.chain_depth,
            "chain_sites": list(m.chain_sites),
            "betweenness": m.betweenness,
        },
        "changes": c.changes,
        "easy_wins": list(h.easy_wins),
        "blocked": list(h.blocked),
    }


def _node(node: ViewNode) -> dict[str, object]:
    return {
        "id": node.id,
        "kind": node.kind,
        "label": node.label,
        "cluster": node.cluster,
        "service": node.service,
        "score": node.score,
        "level": node.level,
    }


def render_graph_json(view: GraphView) -> str:
    sites = []
    for site in view.sites:
        verdict = assess(site)
        sites.append(
            {
                "id": site.id,
                "caller": site.caller,
                "callee": site.callee,
                "role": site.role.value,
                "file": site.file,
                "line": site.line,
                "function": site.function,
                "client": site.client,
                "method": site.method,
                "endpoint": site.endpoint,
                "url": site.url,
                "result_used": site.result_used,
                "response_use": site.response_use.value,
                "is_async": site.is_async,
                "in_loop": site.in_loop,
                "has_timeout": site.has_timeout,
                "in_handler": site.in_handler,
                "evidence": list(site.evidence),
                "migratability": {
                    "label": verdict.label,
                    "fire_and_forget": verdict.fire_and_forget,
                    "blockers": [asdict(f) for f in verdict.blockers],
                    "cautions": [asdict(f) for f in verdict.cautions],
                },
            }
        )
    document = {
        "directed": True,
        "multigraph": False,
        "graph": {
            "schema_version": GRAPH_SCHEMA_VERSION,
            "title": view.title,
            "hidden": list(view.hidden),
            "level_thresholds": list(view.thresholds),
            "focus": view.options.focus,
            "depth": view.options.depth if view.options.focus else None,
            "min_calls": view.options.min_calls,
            "external": view.options.external,
            "expand": view.options.expand,
            "diagnostics": len(view.diagnostics),
        },
        "nodes": [_node(node) for node in view.nodes],
        "links": [
            {
                "source": e.source,
                "target": e.target,
                "kind": e.data.kind,
                "count": e.data.count,
                "sites": list(e.data.sites),
                "methods": list(e.data.methods),
                "endpoints": list(e.data.endpoints),
                "clients": list(e.data.clients),
                "async_count": e.data.async_count,
                "sync_count": e.data.sync_count,
                "in_cycle": e.in_cycle,
            }
            for e in view.edges
        ],
        "hotspots": [hotspot_dict(h) for h in view.hotspots],
        "call_sites": sites,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
