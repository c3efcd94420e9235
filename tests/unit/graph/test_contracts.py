"""Contracts over services: forbidden edges, allowed edges, layers."""

from __future__ import annotations

from dataclasses import replace

from decouple_services.core.config import Contracts, Edge
from decouple_services.core.model import CallSite, Category, Role, ScanResult, Service
from decouple_services.graph.contracts import check_contracts, unknown_services


def call(caller: str, callee: str, line: int, **flags: object) -> CallSite:
    site = CallSite(
        id=f"cs-{caller[:2]}{callee[:2]}{line:04d}",
        caller=caller,
        file=f"{caller}/app.py",
        line=line,
        end_line=line,
        function=f"{caller}.app.f",
        client="requests",
        method="GET",
        url=f'"http://{callee}/x"',
        url_template=f"http://{callee}/x",
        callee=callee,
        endpoint=None,
    )
    return replace(site, **flags)  # type: ignore[arg-type]


SITES = (
    call("frontend", "orders", 1),
    call("orders", "users", 2),
    call("orders", "users", 3),
    call("users", "frontend", 4),
    call("orders", "payments", 5),
    call("orders", "users", 6, category=Category.TEST),
    call("orders", "external:api.stripe.com", 7),
    call("orders", "users", 8, role=Role.EVENT),
)
RESULT = ScanResult(
    root=".",
    services=tuple(Service(n, n) for n in ("frontend", "orders", "payments", "users")),
    call_sites=SITES,
)


def lines(contracts: Contracts) -> list[tuple[int, str]]:
    by_id = {s.id: s for s in SITES}
    return [(by_id[v.call_site].line, v.contract) for v in check_contracts(RESULT, contracts)]


def test_a_forbidden_edge_is_one_violation_per_production_call_site() -> None:
    assert lines(Contracts(forbid=(Edge("orders", "users"),))) == [
        (2, 'forbid "orders -> users"'),
        (3, 'forbid "orders -> users"'),
    ]


def test_a_wildcard_forbids_every_caller() -> None:
    assert [line for line, _ in lines(Contracts(forbid=(Edge("*", "frontend"),)))] == [4]


def test_allow_constrains_only_the_services_it_names() -> None:
    """payments is not named, so orders -> payments is not constrained."""
    contracts = Contracts(
        allow=(Edge("frontend", "orders"), Edge("orders", "frontend"), Edge("users", "users"))
    )

    assert [line for line, _ in lines(contracts)] == [2, 3, 4]


def test_layers_allow_calls_to_lower_layers_only() -> None:
    contracts = Contracts(layers=(("frontend",), ("orders",), ("payments", "users")))

    found = check_contracts(RESULT, contracts)
    assert [(v.caller, v.callee) for v in found] == [("users", "frontend")]
    assert "layer 3" in found[0].reason and "a layer above" in found[0].reason


def test_a_call_within_one_layer_breaks_layers() -> None:
    contracts = Contracts(layers=(("frontend",), ("orders", "payments", "users")))

    found = check_contracts(RESULT, contracts)
    assert [(v.caller, v.callee) for v in found] == [
        ("orders", "users"),
        ("orders", "users"),
        ("orders", "payments"),
        ("users", "frontend"),
    ]
    assert "its own layer" in found[2].reason


def test_unknown_services_are_named_with_the_known_ones() -> None:
    contracts = Contracts(forbid=(Edge("orders", "userz"), Edge("*", "users")), layers=(("web",),))

    assert unknown_services(contracts, RESULT.services) == [
        "contracts.forbid[0]: unknown service 'userz' (known services: frontend, orders, payments, users)",
        "contracts.layers[0]: unknown service 'web' (known services: frontend, orders, payments, users)",
    ]
