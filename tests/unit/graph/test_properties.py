"""Whatever the scan, the graph's invariants hold: scores are the sum of their parts, chains
are real request paths, filters only hide what they say, and every renderer succeeds."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.core.model import CallSite, Category, Endpoint, ScanResult, Service
from decouple_services.graph.metrics import service_metrics
from decouple_services.graph.render_dot import render_dot
from decouple_services.graph.render_json import render_graph_json
from decouple_services.graph.render_mermaid import render_mermaid
from decouple_services.graph.score import rank_hotspots
from decouple_services.graph.view import ViewOptions, build_view

from .factory import call, event, handler

NAMES = ("a", "b", "c", "d", "e")
TARGETS = (*NAMES, "external:x.example.com", "unknown")
LABELS = ("POST /x", "GET /y")


@st.composite
def scans(draw: st.DrawFn) -> ScanResult:
    endpoints: list[Endpoint] = []
    for name in NAMES:
        for label in LABELS:
            if draw(st.booleans()):
                endpoints.append(handler(name, label, f"{name}.api.{label[0].lower()}"))
    sites: list[CallSite] = []
    for _ in range(draw(st.integers(0, 14))):
        caller = draw(st.sampled_from(NAMES))
        if draw(st.integers(0, 9)) == 0:
            sites.append(
                event(caller, draw(st.sampled_from(("t1", "t2"))), draw(st.sampled_from(NAMES)))
            )
            continue
        sites.append(
            call(
                caller,
                draw(st.sampled_from(TARGETS)),
                function=draw(
                    st.sampled_from((f"{caller}.api.p", f"{caller}.api.g", f"{caller}.jobs.run"))
                ),
                endpoint=draw(st.sampled_from((None, *LABELS))),
                in_loop=draw(st.booleans()),
                has_timeout=draw(st.booleans()),
                in_handler=draw(st.booleans()),
                result_used=draw(st.booleans()),
                is_async=draw(st.booleans()),
                category=draw(st.sampled_from((Category.PRODUCTION,) * 4 + (Category.TEST,))),
            )
        )
    return ScanResult(
        "prop", tuple(Service(n, n, aliases=(n,)) for n in NAMES), tuple(endpoints), tuple(sites)
    )


@settings(max_examples=150, deadline=None)
@given(scans())
def test_scores_are_the_sum_of_their_parts_and_chains_are_request_paths(result: ScanResult) -> None:
    by_id = {s.id: s for s in result.call_sites}
    for hotspot in rank_hotspots(result):
        assert hotspot.score == sum(p.points for p in hotspot.components.parts())
        chain = [by_id[i] for i in hotspot.metrics.chain_sites]
        assert len({s.id for s in chain}) == len(chain)
        assert all(s.is_production_coupling for s in chain)
        for before, after in itertools.pairwise(chain):
            assert after.caller == before.callee and before.endpoint is not None
        if chain:
            assert hotspot.service in hotspot.metrics.chain
    scores = [h.score for h in rank_hotspots(result)]
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=150, deadline=None)
@given(
    scans(),
    st.builds(
        ViewOptions,
        focus=st.sampled_from((None, *NAMES)),
        depth=st.integers(0, 2),
        min_calls=st.integers(1, 3),
        external=st.booleans(),
        expand=st.sampled_from((None, *NAMES)),
    ),
)
def test_every_view_renders_and_edges_carry_only_drawn_sites(
    result: ScanResult, options: ViewOptions
) -> None:
    view = build_view(result, rank_hotspots(result), options)
    ids = {n.id for n in view.nodes}
    shown = {s.id for s in view.sites}
    for edge in view.edges:
        assert edge.source in ids and edge.target in ids
        assert set(edge.data.sites) <= shown
    assert render_dot(view).startswith("digraph decouple {")
    assert render_mermaid(view).startswith("flowchart LR\n")
    assert len(json.loads(render_graph_json(view))["links"]) == len(view.edges)
    if options == ViewOptions():
        drawn = {
            s.id
            for s in result.call_sites
            if s.category is Category.PRODUCTION and s.caller != s.callee
        }
        assert shown == drawn


@settings(max_examples=100, deadline=None)
@given(scans())
def test_instability_is_a_fraction(result: ScanResult) -> None:
    for m in service_metrics(result).values():
        assert m.instability is None or 0 <= m.instability <= 1
        assert set(m.cycle_calls) <= set(m.cycle)
