"""The coupling graph, its metrics, the hotspot score and the pictures of it.

    build (services, hosts, topics; endpoint view) -> metrics -> score / rank_hotspots
    -> view (filters, expansion) -> render_dot | render_mermaid | render_graph_json
       | render_svg | render_html

``merge_scans`` joins the scans of several repositories first; ``change_counts`` reads the
change frequency from git. Each module is small and pure except ``history`` (runs git) and
``render_svg`` (runs the layout engine).
"""

from __future__ import annotations

from decouple_services.graph.build import build_graph, coupling_graph, endpoint_graph
from decouple_services.graph.history import Window, change_counts, parse_window
from decouple_services.graph.merge import merge_scans
from decouple_services.graph.metrics import ServiceMetrics, longest_chains, service_metrics
from decouple_services.graph.render_dot import render_dot
from decouple_services.graph.render_html import render_html
from decouple_services.graph.render_json import render_graph_json
from decouple_services.graph.render_mermaid import render_mermaid
from decouple_services.graph.render_svg import Engine, EngineNotFound, find_engine, render_svg
from decouple_services.graph.score import (
    Hotspot,
    Part,
    ScoreComponents,
    SiteAssessment,
    hotspot_scores,
    rank_hotspots,
    score_components,
)
from decouple_services.graph.view import GraphView, ViewOptions, build_view

__all__ = [
    "Engine",
    "EngineNotFound",
    "GraphView",
    "Hotspot",
    "Part",
    "ScoreComponents",
    "ServiceMetrics",
    "SiteAssessment",
    "ViewOptions",
    "Window",
    "build_graph",
    "build_view",
    "change_counts",
    "coupling_graph",
    "endpoint_graph",
    "find_engine",
    "hotspot_scores",
    "longest_chains",
    "merge_scans",
    "parse_window",
    "rank_hotspots",
    "render_dot",
    "render_graph_json",
    "render_html",
    "render_mermaid",
    "render_svg",
    "score_components",
    "service_metrics",
]
