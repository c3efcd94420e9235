"""nginx gateway routes: which host a path reaches, and with which path."""

from __future__ import annotations

from decouple_services.discover.nginx import parse_routes, route_for

CONF = """
events { worker_connections 1024; }
http {
    upstream stock-app { server stock-service:5000; }   # the stock API
    server {
        listen 80;
        location /stock/ { proxy_pass http://stock-app/; }
        location /orders { proxy_pass http://order-service:5000; }
        location /orders/admin/ { proxy_pass http://admin:8080/internal/; }
        location ~ ^/legacy/(.*)$ { proxy_pass http://legacy/$1; }
        location /static/ { root /var/www; }
    }
}
"""


def test_locations_forward_to_upstreams_and_hosts() -> None:
    routes = {r.prefix: r for r in parse_routes(CONF, "gateway.conf")}
    assert sorted(routes) == ["/orders", "/orders/admin/", "/stock/"]
    assert (routes["/stock/"].host, routes["/stock/"].port) == ("stock-service", 5000)
    assert routes["/stock/"].source == "gateway.conf:7"
    assert routes["/orders"].replacement is None


def test_the_longest_prefix_wins_and_rewrites_the_path() -> None:
    routes = parse_routes(CONF, "gateway.conf")
    found = route_for(routes, "/stock/find/42")
    assert found is not None and (found[0].host, found[1]) == ("stock-service", "/find/42")
    found = route_for(routes, "/orders/admin/users")
    assert found is not None and (found[0].host, found[1]) == ("admin", "/internal/users")
    found = route_for(routes, "/orders/7")
    assert found is not None and (found[0].host, found[1]) == ("order-service", "/orders/7")


def test_unrouted_paths_and_variable_targets_reach_nothing() -> None:
    routes = parse_routes(CONF, "gateway.conf")
    assert route_for(routes, "/static/app.js") is None
    assert route_for(routes, "/legacy/x") is None
    assert parse_routes("location /a/ { proxy_pass http://$backend; }", "x.conf") == []
