"""Metrics on small hand-made graphs whose answers are known: chains, cycles, stars."""

from __future__ import annotations

from decouple_services.core.model import Category
from decouple_services.graph.metrics import service_metrics

from .factory import call, chain, handler, scan_of


def test_a_star_has_fan_out_at_the_centre_and_fan_in_at_the_leaves() -> None:
    sites = [call("hub", leaf) for leaf in ("a", "b", "c")] + [call("hub", "a")]
    m = service_metrics(scan_of(sites))
    assert (m["hub"].fan_out, m["hub"].fan_in, m["hub"].weighted_fan_out) == (3, 0, 4)
    assert (m["a"].fan_in, m["a"].weighted_fan_in, m["b"].fan_in) == (1, 2, 1)
    assert m["hub"].instability == 1.0
    assert m["a"].instability == 0.0
    assert m["hub"].cycle == () and m["hub"].chain_depth == 1


def test_instability_is_undefined_for_a_service_nobody_calls_and_that_calls_nobody() -> None:
    m = service_metrics(scan_of([call("a", "b")], services="lonely"))
    assert m["lonely"].instability is None
    assert m["lonely"].chain == ()


def test_instability_is_efferent_over_all_couplings() -> None:
    sites = [call("x", "mid"), call("y", "mid"), call("z", "mid"), call("mid", "w")]
    assert service_metrics(scan_of(sites))["mid"].instability == 0.25


def test_a_cycle_is_reported_with_its_members_and_the_calls_that_close_it() -> None:
    sites = [call("a", "b"), call("b", "c"), call("c", "a"), call("a", "d")]
    m = service_metrics(scan_of(sites))
    assert m["a"].cycle == ("b", "c")
    assert m["b"].cycle == ("a", "c")
    assert m["a"].cycle_calls == ("b",)
    assert m["d"].cycle == () and m["d"].cycle_calls == ()


def test_a_two_way_dependency_is_a_cycle_of_two() -> None:
    m = service_metrics(scan_of([call("a", "b"), call("b", "a")]))
    assert m["a"].cycle == ("b",) and m["a"].cycle_calls == ("b",)


def test_a_request_chain_follows_each_call_into_the_handler_it_hits() -> None:
    sites, endpoints = chain("web", "orders", "payments", "bank")
    m = service_metrics(scan_of(sites, endpoints=endpoints))
    for name in ("web", "orders", "payments", "bank"):
        assert m[name].chain == ("web", "orders", "payments", "bank"), name
        assert m[name].chain_depth == 3
    assert m["web"].chain_sites == tuple(s.id for s in sites)


def test_a_call_outside_the_hit_handler_does_not_continue_the_chain() -> None:
    """orders calls payments from a background job, not from the handler web hits."""
    sites = [
        call("web", "orders", endpoint="POST /x"),
        call("orders", "payments", function="orders.app.nightly"),
    ]
    endpoints = (handler("orders", "POST /x", "orders.app.handle"),)
    m = service_metrics(scan_of(sites, endpoints=endpoints))
    assert m["web"].chain_depth == 1
    assert m["orders"].chain_depth == 1
    assert m["payments"].chain == ("orders", "payments")


def test_a_method_of_a_class_based_view_continues_the_chain() -> None:
    sites = [
        call("web", "users", endpoint="* /users/"),
        call("users", "audit", function="users.views.UserView.get"),
    ]
    endpoints = (handler("users", "* /users/", "users.views.UserView"),)
    assert service_metrics(scan_of(sites, endpoints=endpoints))["web"].chain_depth == 2


def test_a_call_with_no_matched_endpoint_ends_the_chain() -> None:
    sites = [call("web", "orders"), call("orders", "payments", function="orders.app.handle")]
    endpoints = (handler("orders", "POST /x", "orders.app.handle"),)
    assert service_metrics(scan_of(sites, endpoints=endpoints))["web"].chain_depth == 1


def test_a_request_loop_is_cut_where_it_would_repeat_a_call() -> None:
    """a's handler calls b, whose handler calls a's same endpoint: an endless request loop."""
    sites = [
        call("a", "b", function="a.app.handle", endpoint="POST /x"),
        call("b", "a", function="b.app.handle", endpoint="POST /x"),
    ]
    endpoints = (handler("a", "POST /x", "a.app.handle"), handler("b", "POST /x", "b.app.handle"))
    m = service_metrics(scan_of(sites, endpoints=endpoints))
    assert m["a"].chain_depth == 2
    assert len(set(m["a"].chain_sites)) == 2


def test_the_longest_of_two_branches_is_the_chain() -> None:
    short, e1 = chain("web", "a")
    long, e2 = chain("a", "b", "c", "d")
    m = service_metrics(scan_of(short + long, endpoints=e1 + e2))
    # web -> a hits a.app.handle, which makes no call; a's own chain starts in a job.
    assert m["web"].chain_depth == 1
    assert m["a"].chain == ("a", "b", "c", "d")


def test_betweenness_is_highest_for_the_service_in_the_middle() -> None:
    sites = [call("a", "mid"), call("b", "mid"), call("mid", "c"), call("mid", "d")]
    m = service_metrics(scan_of(sites))
    assert m["mid"].betweenness > 0
    assert m["a"].betweenness == m["c"].betweenness == 0


def test_only_production_calls_between_services_count() -> None:
    sites = [
        call("a", "b"),
        call("a", "c", category=Category.TEST),
        call("a", "external:api.stripe.com"),
        call("a", "unknown"),
        call("a", "a"),
    ]
    m = service_metrics(scan_of(sites, services="c"))
    assert (m["a"].fan_out, m["a"].weighted_fan_out) == (1, 1)
    assert m["c"].fan_in == 0
    assert "external:api.stripe.com" not in m
