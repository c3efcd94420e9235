"""The graph: nodes of every kind, edges aggregating call sites, the endpoint view."""

from __future__ import annotations

from decouple_services.core.model import Category
from decouple_services.graph.build import build_graph, coupling_graph, endpoint_graph

from .factory import call, event, handler, scan_of


def test_edges_aggregate_their_call_sites() -> None:
    a = call("web", "orders", endpoint="POST /orders")
    b = call("web", "orders", endpoint="GET /orders", is_async=True)
    graph = build_graph(scan_of([a, b]))
    data = graph.edges["web", "orders"]
    assert data["count"] == 2
    assert data["sites"] == tuple(sorted((a.id, b.id)))
    assert data["endpoints"] == ("GET /orders", "POST /orders")
    assert (data["sync_count"], data["async_count"]) == (1, 1)
    assert not data["data"].is_async
    assert graph.graph["call_sites"][a.id] == a


def test_nodes_have_kinds_and_every_declared_service_is_one() -> None:
    sites = [call("web", "external:api.stripe.com"), call("web", "unknown")]
    graph = build_graph(scan_of(sites, services="idle"))
    kinds = dict(graph.nodes(data="kind"))
    assert kinds == {
        "idle": "service",
        "web": "service",
        "external:api.stripe.com": "external",
        "unknown": "unknown",
    }


def test_a_migrated_call_runs_through_its_topic_node() -> None:
    graph = build_graph(scan_of([event("orders", "orders.placed", "mail")]))
    assert graph.nodes["topic:orders.placed"]["kind"] == "topic"
    assert graph.has_edge("orders", "topic:orders.placed")
    assert graph.has_edge("topic:orders.placed", "mail")
    assert graph.edges["orders", "topic:orders.placed"]["kind"] == "event"
    assert not graph.has_edge("orders", "mail")
    assert (
        coupling_graph(scan_of([event("orders", "orders.placed", "mail")])).number_of_edges() == 0
    )


def test_tests_scripts_and_self_calls_are_not_drawn() -> None:
    sites = [call("a", "b", category=Category.SCRIPT), call("a", "a")]
    graph = build_graph(scan_of(sites, services="a b"))
    assert graph.number_of_edges() == 0


def test_the_endpoint_view_goes_from_calling_functions_to_endpoints() -> None:
    site = call("web", "orders", function="web.views.checkout", endpoint="POST /orders")
    loose = call("web", "orders", function="web.views.cart")
    endpoints = (
        handler("orders", "POST /orders", "orders.api.create"),
        handler("orders", "GET /unused", "orders.api.unused"),
    )
    graph = endpoint_graph(scan_of([site, loose], endpoints=endpoints))
    assert graph.has_edge("web::web.views.checkout()", "orders::POST /orders")
    assert graph.has_edge("web::web.views.cart()", "orders")
    assert graph.nodes["orders::GET /unused"]["kind"] == "endpoint"
    assert graph.nodes["web::web.views.checkout()"]["kind"] == "function"


def test_the_endpoint_view_draws_an_event_through_its_topic_to_the_consumer() -> None:
    graph = endpoint_graph(scan_of([event("orders", "orders.placed", "mail")]))
    [(function, topic)] = [(a, b) for a, b in graph.edges if b.startswith("topic:")]
    assert topic == "topic:orders.placed"
    assert function.startswith("orders::orders.app.publish")
    assert graph.has_edge("topic:orders.placed", "mail")


def test_a_call_reaching_one_of_several_services_is_an_edge_to_each() -> None:
    table = "gateway.routing.SERVICES"
    to_users = call("gateway", "users", line=41, one_of=table)
    to_orders = call("gateway", "orders", line=41, one_of=table)
    graph = build_graph(scan_of([to_users, to_orders]))
    assert graph.edges["gateway", "users"]["sites"] == (to_users.id,)
    assert graph.edges["gateway", "orders"]["sites"] == (to_orders.id,)
