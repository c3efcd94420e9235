"""HAProxy gateway routes: which backend server a path reaches."""

from __future__ import annotations

from decouple_services.discover.haproxy import parse_routes
from decouple_services.discover.nginx import route_for

CFG = """
global
    maxconn 4096

defaults
    mode http

frontend web
    bind *:80
    acl is_api path_beg /api /v2   # two prefixes
    acl is_api path -m beg /rpc
    acl is_admin hdr(host) -i admin.example.org
    acl is_docs path_beg -i /docs
    use_backend api_back if is_api
    use_backend admin_back if is_admin
    use_backend docs_back if { path_beg /help }
    use_backend api_back if is_api !is_admin
    default_backend site_back

backend api_back
    server api1 api:8000 check
    server api2 api-replica:8000 check

backend admin_back
    server admin1 admin:9000

backend docs_back
    server docs1 docs:80

backend site_back
    server site1 site check

listen stats
    bind *:8404
    stats enable
"""


def test_path_prefix_rules_and_the_default_backend_are_routes() -> None:
    routes = parse_routes(CFG, "haproxy.cfg")
    found = {(r.prefix, r.host, r.port) for r in routes}
    assert found == {
        ("/api", "api", 8000),
        ("/v2", "api", 8000),
        ("/rpc", "api", 8000),
        ("/help", "docs", 80),
        ("/", "site", None),
    }
    assert all(r.replacement is None for r in routes)
    assert next(r for r in routes if r.prefix == "/help").source == "haproxy.cfg:16"


def test_the_longest_prefix_wins_and_the_path_is_passed_unchanged() -> None:
    routes = parse_routes(CFG, "haproxy.cfg")
    route, path = route_for(routes, "/api/users/1") or (None, "")
    assert route is not None
    assert (route.host, path) == ("api", "/api/users/1")
    route, path = route_for(routes, "/about") or (None, "")
    assert route is not None
    assert route.host == "site"


def test_conditions_on_what_a_url_does_not_show_are_left_out() -> None:
    routes = parse_routes(CFG, "haproxy.cfg")
    # `hdr(host)` and `is_api !is_admin` give no route of their own
    assert not any(r.host == "admin" for r in routes)
    assert [r.prefix for r in routes if r.prefix == "/api"] == ["/api"]


def test_an_acl_mixing_a_prefix_and_another_test_is_no_prefix() -> None:
    cfg = """
frontend web
    acl mixed path_beg /api
    acl mixed hdr(host) -i api.example.org
    use_backend api_back if mixed
backend api_back
    server a api:8000
"""
    assert parse_routes(cfg, "haproxy.cfg") == []


def test_a_listen_section_with_servers_forwards_everything() -> None:
    cfg = "listen app\n    bind :8080\n    server s1 web:5000 check\n"
    routes = parse_routes(cfg, "haproxy.cfg")
    assert [(r.prefix, r.host, r.port, r.source) for r in routes] == [
        ("/", "web", 5000, "haproxy.cfg:1")
    ]
