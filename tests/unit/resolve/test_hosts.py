"""Hosts: where the host ends in a url, and which names can name a service."""

from __future__ import annotations

import pytest

from decouple_services.core.model import Service
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
