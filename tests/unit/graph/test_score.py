"""The hotspot score: the worked example of docs/graph.md, each term, and the ranking."""

from __future__ import annotations

from pathlib import Path

from decouple_services.core.model import Category
from decouple_services.graph.score import rank_hotspots, score_components

from .factory import call, event, handler, scan_of

DOCS = Path(__file__).parents[3] / "docs" / "graph.md"


def worked_example():  # type: ignore[no-untyped-def]
    """The scan the worked example in docs/graph.md describes."""
    sites = [
        call(
            "web",
            "orders",
            function="web.views.checkout",
            endpoint="POST /orders",
            in_handler=True,
            result_used=True,
        ),
        call(
            "web",
            "orders",
            function="web.views.cart",
            endpoint="GET /orders/{id}",
            in_handler=True,
            in_loop=True,
            has_timeout=False,
            result_used=True,
        ),
        call(
            "orders",
            "payments",
            function="orders.api.create",
            endpoint="POST /charges",
            in_handler=True,
            result_used=True,
        ),
        call(
            "orders", "mail", function="orders.api.create", endpoint="POST /send", in_handler=True
        ),
        call("payments", "orders", function="payments.jobs.report", endpoint="POST /events"),
    ]
    endpoints = (
        handler("orders", "POST /orders", "orders.api.create"),
        handler("orders", "GET /orders/{id}", "orders.api.show"),
        handler("orders", "POST /events", "orders.api.payment_event"),
        handler("payments", "POST /charges", "payments.api.charge"),
        handler("mail", "POST /send", "mail.api.send"),
    )
    return scan_of(sites, endpoints=endpoints)


def test_the_worked_example_in_the_docs_holds() -> None:
    parts = score_components(worked_example(), changes={"orders": 4})
    orders = parts["orders"]
    assert {p.name: p.points for p in orders.parts()} == {
        "fan-out": 4,
        "fan-in": 2,
        "call sites": 2,
        "in loop": 0,
        "no timeout": 0,
        "in handler": 1,
        "chain": 1,
        "cycle calls": 2,
        "changes": 2,
    }
    assert orders.score == 14
    assert parts["web"].score == 7
    text = DOCS.read_text(encoding="utf-8")
    assert orders.explain() in text
    assert parts["web"].explain() in text


def test_without_history_the_change_term_is_left_out() -> None:
    orders = score_components(worked_example())["orders"]
    assert orders.changes is None
    assert orders.score == 12


def test_change_frequency_counts_at_most_ten_commits() -> None:
    parts = score_components(worked_example(), changes={"orders": 40})
    assert next(p for p in parts["orders"].parts() if p.name == "changes").points == 5


def test_events_external_unknown_and_test_calls_add_nothing() -> None:
    base = [call("a", "b")]
    noise = [
        event("a", "orders.created", "b"),
        call("a", "external:api.stripe.com"),
        call("a", "unknown"),
        call("a", "b", category=Category.TEST),
    ]
    assert (
        score_components(scan_of(base + noise))["a"].score
        == score_components(scan_of(base))["a"].score
        == 3
    )


def test_hotspots_rank_by_score_then_name_and_keep_the_top_n() -> None:
    ranking = rank_hotspots(worked_example())
    assert [(h.rank, h.service) for h in ranking] == [
        (1, "orders"),
        (2, "payments"),  # 7, tied with web: ties go by name
        (3, "web"),
        (4, "mail"),
    ]
    assert [h.service for h in rank_hotspots(worked_example(), top=2)] == ["orders", "payments"]


def test_a_hotspot_marks_its_easy_wins_and_names_its_blockers() -> None:
    orders = rank_hotspots(worked_example())[0]
    [mail] = [a for a in orders.sites if a.site.callee == "mail"]
    [payments] = [a for a in orders.sites if a.site.callee == "payments"]
    assert orders.easy_wins == (mail.site.id,)
    assert orders.blocked == (payments.site.id,)
    assert [f.code for f in payments.migratability.blockers] == ["response-used"]


def test_a_loop_is_a_caution_not_a_blocker() -> None:
    site = call("a", "b", endpoint="POST /x", in_loop=True)
    [hotspot] = [h for h in rank_hotspots(scan_of([site])) if h.service == "a"]
    assert hotspot.easy_wins == () and hotspot.blocked == ()
    assert hotspot.sites[0].migratability.label == "review"


def test_explain_lists_the_non_zero_terms_and_the_total() -> None:
    explained = score_components(worked_example())["web"].explain()
    assert explained == (
        "fan-out 1x2=2 + call sites 2 + in loop 1x0.5=0.5 + no timeout 1x0.5=0.5"
        " + in handler 2x0.5=1 + chain (2-1)x1=1 = 7"
    )


def test_a_call_reaching_one_of_several_services_counts_once_among_call_sites() -> None:
    table = "gateway.routing.SERVICES"
    fanned = [
        call("gateway", callee, function="gateway.proxy.forward", line=41, one_of=table)
        for callee in ("users", "orders", "billing")
    ]
    other = call("gateway", "users", function="gateway.proxy.profile", line=50)
    parts = score_components(scan_of([*fanned, other]))["gateway"]
    assert (parts.fan_out, parts.call_sites) == (3, 2)
