"""Caddy gateway routes: which upstream a path reaches."""

from __future__ import annotations

from decouple_services.discover.caddy import parse_routes
from decouple_services.discover.nginx import route_for

CADDYFILE = """
{
    email ops@example.org
}

# the public site
{$DOMAIN_NAME}, www.example.org {
    reverse_proxy /api* http://api:8000
    handle_path /files/* {
        reverse_proxy files:9000 {
            header_up Host {upstream_hostport}
        }
    }
    handle /auth* {
        reverse_proxy http://keycloak:8080
    }
    reverse_proxy /health http://api:8000
    reverse_proxy /lb* a:1 b:1
    reverse_proxy /dyn* {$UPSTREAM}
    @office {
        remote_ip 10.0.0.0/8
    }
    handle @office {
        reverse_proxy /admin* http://admin:80
    }
    reverse_proxy http://web:3000
}
"""


def test_path_matchers_and_handle_blocks_are_routes() -> None:
    routes = parse_routes(CADDYFILE, "Caddyfile")
    found = {(r.prefix, r.host, r.port, r.replacement) for r in routes}
    assert found == {
        ("/api", "api", 8000, None),
        ("/files/", "files", 9000, "/"),
        ("/auth", "keycloak", 8080, None),
        ("/", "web", 3000, None),
    }


def test_the_longest_prefix_wins_and_handle_path_strips_its_prefix() -> None:
    routes = parse_routes(CADDYFILE, "Caddyfile")
    api = route_for(routes, "/api/users")
    files = route_for(routes, "/files/a.pdf")
    other = route_for(routes, "/about")
    assert api is not None and (api[0].host, api[1]) == ("api", "/api/users")
    assert files is not None and (files[0].host, files[1]) == ("files", "/a.pdf")
    assert other is not None and other[0].host == "web"


def test_exact_paths_named_matchers_and_placeholders_are_left_out() -> None:
    hosts = {r.host for r in parse_routes(CADDYFILE, "Caddyfile")}
    assert not hosts & {"admin", "a", "b"}
    assert parse_routes("{\n  admin off\n}\n", "Caddyfile") == []
