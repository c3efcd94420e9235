"""Hosts: where the host ends in a url, and which names can name a service."""

from __future__ import annotations

import pytest

from decouple_services.core.model import Service
from decouple_services.discover.nginx import GatewayRoute
from decouple_services.resolve.hosts import HostMap, split_url


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("http://users:8000/users/{id}", "users", 8000, "/users/{id}"),
        ("http://users:8000{request.path}", "users", 8000, "{request.path}"),
        ("http://users:8000{prefix}/users", "users", 8000, "{prefix}/users"),
    ],
)
def test_host_port_and_path(url: str, host: str, port: int, path: str) -> None:
    target = split_url(url)
    assert (target.host, target.port, target.path, target.dynamic_host) == (host, port, path, False)


@pytest.mark.parametrize(
    "url",
    [
        "{BASE}/users",
        "http://{host}:8000/users",
        "http://api-{region}.example.com/x",
        "http://users{path}",
    ],
)
def test_a_run_time_host_stays_unknown(url: str) -> None:
    assert split_url(url).dynamic_host


@pytest.mark.parametrize(
    ("host", "callee"),
    [
        ("api", "api"),
        ("api.shop", "api"),  # <service>.<namespace>
        ("api.shop.svc.cluster.local", "api"),
        ("api.newrelic.com", "external:api.newrelic.com"),
        ("api.github.io", "external:api.github.io"),
    ],
)
def test_a_public_name_never_matches_a_service_by_its_first_label(host: str, callee: str) -> None:
    hosts = HostMap([Service("api", "api")], {})
    assert hosts.callee(split_url(f"http://{host}/x")).name == callee


@pytest.mark.parametrize(
    ("host", "callee"),
    [
        ("redis", "redis"),
        ("redis.cache.svc.cluster.local", "redis"),
        ("redis.example.com", "external:redis.example.com"),
    ],
)
def test_infrastructure_declared_as_an_image_follows_the_same_rule(host: str, callee: str) -> None:
    hosts = HostMap([Service("web", "web")], {"redis": "redis:7"})
    assert hosts.callee(split_url(f"http://{host}:6379/")).name == callee


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://{key}.rest.akismet.com/1.1/verify", "rest.akismet.com"),
        ("https://{tenant}.{region}.api.example.org/v1", "api.example.org"),
    ],
)
def test_a_run_time_subdomain_of_a_public_domain_is_that_domain(url: str, host: str) -> None:
    target = split_url(url)
    assert (target.host, target.dynamic_host) == (host, False)


def test_a_run_time_name_in_a_cluster_domain_stays_unknown() -> None:
    assert split_url("http://{svc}.default.svc.cluster.local/x").dynamic_host


def _gateway(prefix: str, host: str, port: int | None, path: str | None = None) -> GatewayRoute:
    return GatewayRoute(prefix=prefix, host=host, port=port, replacement=path, source="gw.conf:1")


def test_localhost_on_a_port_an_image_publishes_is_that_image() -> None:
    hosts = HostMap(
        [Service("web", "web", ports=(8000,))], {"grafana": "grafana"}, None, {"grafana": (3000,)}
    )
    assert hosts.callee(split_url("http://localhost:3000/api")).name == "grafana"
    # a port this repository's own code listens on stays that service's
    assert hosts.callee(split_url("http://localhost:8000/x")).name == "web"
    assert hosts.callee(split_url("http://localhost:4000/x")).name == "unknown"


def test_gateways_in_front_of_gateways_are_followed_to_the_service() -> None:
    hosts = HostMap(
        [Service("api", "api", ports=(8000,))],
        {"balancer": "haproxy", "proxy": "nginx"},
        {"balancer": [_gateway("/", "proxy", 80)], "proxy": [_gateway("/api", "api", 8000, "/v1")]},
        {"balancer": (8081,)},
    )
    found = hosts.callee(split_url("http://127.0.0.1:8081/api/items"))
    assert (found.name, found.path) == ("api", "/v1/items")
    assert "balancer forwards / to proxy" in (found.evidence or "")
    # a path no route of the second gateway takes ends at that gateway
    assert hosts.callee(split_url("http://127.0.0.1:8081/other")).name == "proxy"


def test_a_port_published_by_services_leading_to_different_places_is_unknown() -> None:
    hosts = HostMap(
        [Service("api", "api", ports=(8000,)), Service("admin", "admin", ports=(9000,))],
        {"edge": "nginx", "edge2": "nginx"},
        {"edge": [_gateway("/", "api", 8000)], "edge2": [_gateway("/", "admin", 9000)]},
        {"edge": (8081,), "edge2": (8081,)},
    )
    assert hosts.callee(split_url("http://localhost:8081/x")).name == "unknown"
    same = HostMap(
        [Service("api", "api", ports=(8000,))],
        {"edge": "nginx", "edge2": "haproxy"},
        {"edge": [_gateway("/", "api", 8000)], "edge2": [_gateway("/", "edge", 80)]},
        {"edge": (8081,), "edge2": (8081,)},
    )
    assert same.callee(split_url("http://localhost:8081/x")).name == "api"


COPIES = [
    Service("v1-api", "v1/api", aliases=("v1-api", "api"), ports=(8000,)),
    Service("v2-api", "v2/api", aliases=("v2-api", "api"), ports=(8000,)),
    Service("v2-web", "v2/web", aliases=("v2-web", "web"), ports=(8080,)),
]


@pytest.mark.parametrize(
    ("url", "near", "callee"),
    [
        ("http://api:8000/items", "v1/web/app.py", "v1-api"),
        ("http://api:8000/items", "v2/web/app.py", "v2-api"),
        ("http://localhost:8000/items", "v2/web/app.py", "v2-api"),
        # no copy is nearer to a file outside both
        ("http://api:8000/items", "tools/build.py", "unknown"),
        ("http://api:8000/items", None, "unknown"),
    ],
)
def test_a_host_of_several_copies_is_the_callers_own(
    url: str, near: str | None, callee: str
) -> None:
    assert HostMap(COPIES, {}).callee(split_url(url), near).name == callee


@pytest.mark.parametrize(
    ("url", "callee"),
    [
        # the developer's docker host reaching a port another service publishes
        ("http://10.0.0.5:8080/", "v2-web"),
        ("http://192.168.1.20:8080/", "v2-web"),
        # not published by any service: an address out there
        ("http://10.0.0.5:9100/", "external:10.0.0.5"),
        # a public address is not the developer's machine
        ("http://8.8.8.8:8080/", "external:8.8.8.8"),
    ],
)
def test_a_private_address_names_the_service_publishing_its_port(url: str, callee: str) -> None:
    assert HostMap(COPIES, {}).callee(split_url(url), "v1/web/app.py").name == callee


def test_a_private_address_does_not_name_the_caller_itself() -> None:
    hosts = HostMap(COPIES, {})
    assert hosts.callee(split_url("http://10.0.0.5:8080/"), "v2/web/app.py").name == (
        "external:10.0.0.5"
    )


@pytest.mark.parametrize(
    ("host", "callee"),
    [
        ("prod-engine", "engine"),  # a release's name in front of the chart's suffix
        ("prod-engine.ml.svc.cluster.local", "engine"),
        ("engine-prod", "external:engine-prod"),  # the suffix must end the name
        ("prod-engine.example.com", "external:prod-engine.example.com"),  # a public name
        ("blue-worker", "worker-blue"),  # an exact alias wins over a pattern
        ("a-cache", "external:a-cache"),  # two patterns fit: no guess
    ],
)
def test_a_helm_name_pattern_names_the_service_when_one_fits(host: str, callee: str) -> None:
    hosts = HostMap(
        [
            Service("engine", "engine", aliases=("*-engine",)),
            Service("worker", "worker", aliases=("*-worker",)),
            Service("worker-blue", "wb", aliases=("blue-worker",)),
            Service("cache", "cache", aliases=("*-cache",)),
            Service("other-cache", "oc", aliases=("a-*",)),
        ],
        {},
    )
    assert hosts.callee(split_url(f"http://{host}:8000/")).name == callee
