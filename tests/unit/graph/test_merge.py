"""Merging scans: calls that left one scan resolve against the services of another."""

from __future__ import annotations

from dataclasses import replace

from decouple_services.core.model import Endpoint, ScanResult, Service
from decouple_services.graph.merge import merge_scans

from .factory import call


def repo(name: str, services: list[Service], sites: list, endpoints=()) -> ScanResult:  # type: ignore[no-untyped-def,type-arg]
    return ScanResult(name, tuple(services), tuple(endpoints), tuple(sites))


def test_an_external_host_that_is_another_scans_alias_becomes_that_service() -> None:
    site = replace(
        call("web", "external:accounts"),
        url_template="http://accounts:8000/users/{id}",
        method="GET",
    )
    users = Service("users", ".", aliases=("users", "accounts"), ports=(8000,))
    endpoint = Endpoint("users", "http", "GET", "/users/{user_id}", "users.api.get", "api.py", 3)
    merged = merge_scans(
        [repo("web", [Service("web", ".")], [site]), repo("users", [users], [], [endpoint])]
    )
    [resolved] = merged.call_sites
    assert resolved.callee == "users"
    assert resolved.endpoint == "GET /users/{user_id}"
    assert resolved.evidence[-1] == "host accounts -> service users (merged scans)"


def test_a_localhost_port_resolves_to_the_service_listening_there() -> None:
    site = replace(call("web", "unknown"), url_template="http://127.0.0.1:8000/x")
    merged = merge_scans(
        [
            repo("web", [Service("web", ".")], [site]),
            repo("users", [Service("users", ".", ports=(8000,))], []),
        ]
    )
    assert merged.call_sites[0].callee == "users"
    assert merged.call_sites[0].unknown_reason is None


def test_a_grpc_target_resolves_and_finds_its_rpc() -> None:
    site = replace(
        call("orders", "external:payments"),
        client="grpc",
        method="Charge",
        url_template="payments:50051",
    )
    rpc = Endpoint("payments", "grpc", "RPC", "/shop.Pay/Charge", "pay.Charge", "s.py", 1)
    merged = merge_scans(
        [
            repo("orders", [Service("orders", ".")], [site]),
            repo("payments", [Service("payments", ".", aliases=("payments",))], [], [rpc]),
        ]
    )
    assert (merged.call_sites[0].callee, merged.call_sites[0].endpoint) == (
        "payments",
        "RPC /shop.Pay/Charge",
    )


def test_real_external_hosts_and_dynamic_urls_stay_as_they_were() -> None:
    stripe = replace(
        call("web", "external:api.stripe.com"), url_template="https://api.stripe.com/v1"
    )
    dynamic = replace(call("web", "unknown"), url_template="{url}")
    merged = merge_scans(
        [repo("web", [Service("web", ".")], [stripe, dynamic]), repo("b", [Service("b", ".")], [])]
    )
    assert sorted(s.callee for s in merged.call_sites) == ["external:api.stripe.com", "unknown"]


def test_a_service_in_two_scans_is_one_with_both_aliases() -> None:
    merged = merge_scans(
        [
            repo("a", [Service("users", "svc", aliases=("users",), ports=(1,))], []),
            repo("b", [Service("users", "other", aliases=("accounts",), ports=(2,))], []),
        ]
    )
    [users] = merged.services
    assert (users.root, users.aliases, users.ports) == ("svc", ("accounts", "users"), (1, 2))
