"""What a picture shows, and the legend line for everything a filter left out."""

from __future__ import annotations

import pytest

from decouple_services.core.errors import SelectionError
from decouple_services.core.model import Category, ScanResult
from decouple_services.graph.score import rank_hotspots
from decouple_services.graph.view import ViewOptions, build_view

from .factory import call, event, handler, scan_of


def view(result: ScanResult, **options: object):  # type: ignore[no-untyped-def]
    return build_view(result, rank_hotspots(result), ViewOptions(**options))  # type: ignore[arg-type]


def scan() -> ScanResult:
    sites = [
        call("web", "orders", endpoint="POST /orders", function="web.views.checkout"),
        call("web", "orders", endpoint="POST /orders", function="web.views.retry"),
        call("orders", "payments", function="orders.api.create"),
        call("payments", "bank"),
        call("orders", "external:api.stripe.com"),
        call("orders", "unknown"),
        call("web", "orders", category=Category.TEST),
        call("orders", "orders"),
    ]
    endpoints = (
        handler("orders", "POST /orders", "orders.api.create"),
        handler("orders", "GET /orders", "orders.api.list"),
    )
    return scan_of(sites, endpoints=endpoints)


def test_everything_is_drawn_by_default_and_non_production_calls_are_noted() -> None:
    v = view(scan())
    ids = {n.id for n in v.nodes}
    assert ids == {"web", "orders", "payments", "bank", "external:api.stripe.com", "unknown"}
    assert v.hidden == (
        "not production code, not drawn: 1 test call sites",
        "1 call site of a service to itself, not drawn",
    )
    assert v.node("external:api.stripe.com").cluster == "external"
    assert v.node("orders").level == 4  # the top score


def test_no_external_says_what_it_left_out() -> None:
    v = view(scan(), external=False)
    assert not {"external:api.stripe.com", "unknown"} & {n.id for n in v.nodes}
    assert (
        "--no-external: 2 external hosts and unresolved callees (2 call sites) left out" in v.hidden
    )


def test_min_calls_says_how_many_edges_and_sites_it_left_out() -> None:
    v = view(scan(), min_calls=2)
    assert [(e.source, e.target) for e in v.edges] == [("web", "orders")]
    assert "--min-calls 2: 4 edges with fewer call sites (4 call sites) left out" in v.hidden
    # Services stay, even without edges.
    assert "bank" in {n.id for n in v.nodes}


def test_focus_keeps_what_lies_within_depth_hops() -> None:
    v = view(scan(), focus="payments", depth=1)
    assert {n.id for n in v.nodes} == {"orders", "payments", "bank"}
    assert {(e.source, e.target) for e in v.edges} == {("orders", "payments"), ("payments", "bank")}
    assert any(
        h.startswith("--focus payments --depth 1: 3 nodes further away and 3 edges")
        for h in v.hidden
    )
    assert {n.id for n in view(scan(), focus="payments", depth=2).nodes} >= {"web"}


def test_an_unknown_focus_or_expand_is_a_selection_error() -> None:
    with pytest.raises(SelectionError, match="no such service"):
        view(scan(), focus="nope")
    with pytest.raises(SelectionError, match="--expand nope"):
        view(scan(), expand="nope")


def test_expand_draws_endpoints_and_calling_functions() -> None:
    v = view(scan(), expand="orders")
    ids = {n.id for n in v.nodes}
    assert "orders" not in ids
    assert {"orders::POST /orders", "orders::GET /orders", "orders::orders.api.create()"} <= ids
    edges = {(e.source, e.target): e.data.count for e in v.edges}
    assert edges[("web", "orders::POST /orders")] == 2
    assert ("orders::orders.api.create()", "payments") in edges
    assert all(n.cluster == "orders" for n in v.nodes if n.id.startswith("orders::"))


def test_cycle_edges_are_marked() -> None:
    v = view(scan_of([call("a", "b"), call("b", "a"), call("a", "c")]))
    marked = {(e.source, e.target): e.in_cycle for e in v.edges}
    assert marked == {("a", "b"): True, ("b", "a"): True, ("a", "c"): False}


def test_topics_are_drawn_in_their_own_box() -> None:
    v = view(scan_of([event("orders", "orders.placed", "mail")]))
    assert v.node("topic:orders.placed").cluster == "topics"
    assert {(e.source, e.target, e.data.kind) for e in v.edges} == {
        ("orders", "topic:orders.placed", "event"),
        ("topic:orders.placed", "mail", "event"),
    }


def test_tooltips_list_the_call_sites_with_their_migratability() -> None:
    v = view(scan())
    [edge] = [e for e in v.edges if (e.source, e.target) == ("web", "orders")]
    head, *lines = edge.tooltip.split("\n")
    assert head == "web -> orders: 2 call sites"
    assert lines == [
        f"{i} web/app.py:1 POST /orders (fire-and-forget; easy)" for i in edge.data.sites
    ]
    [blocked] = [e for e in v.edges if e.target == "external:api.stripe.com"]
    assert blocked.tooltip.endswith("(fire-and-forget; blocked: external-callee)")
