"""Path routes of an nginx gateway: which service a request to the gateway reaches.

A compose service running nginx with its configuration mounted from the repository
(``./gateway_nginx.conf:/etc/nginx/nginx.conf``) forwards ``location /stock/ { proxy_pass
http://stock-app/; }`` to the ``upstream stock-app { server stock-service:5000; }``. A call to
``http://gateway/stock/items`` then goes to ``stock-service``, at ``/items``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.records import record


@record
class GatewayRoute:
    """One ``location`` of a gateway that forwards to another host."""

    #: The location's path prefix (``/stock/``).
    prefix: str
    #: The host the request is forwarded to (an upstream's first server, or the host of
    #: ``proxy_pass`` itself).
    host: str
    port: int | None
    #: What replaces the prefix (``proxy_pass`` with a URI part: ``/`` for
    #: ``http://stock-app/``); None keeps the request's path as it is.
    replacement: str | None
    #: ``file:line`` of the ``location``.
    source: str

    def forward(self, path: str) -> str | None:
        """The path the target gets for ``path``, or None when the location does not match."""
        if not path.startswith(self.prefix) and path.rstrip("/") + "/" != self.prefix:
            return None
        if self.replacement is None:
            return path
        rest = path[len(self.prefix) :] if path.startswith(self.prefix) else ""
        return self.replacement + rest


_COMMENT = lazy_pattern(r"#[^\n]*")
_UPSTREAM = lazy_pattern(r"\bupstream\s+([\w.-]+)\s*\{([^}]*)\}")
_SERVER = lazy_pattern(r"\bserver\s+([^\s;]+)")
_LOCATION = lazy_pattern(r"\blocation\s+(?:\^~\s+|=\s+)?(/[^\s{]*)\s*\{([^{}]*)\}")
_PROXY = lazy_pattern(r"\bproxy_pass\s+([^\s;]+)\s*;")


def parse_routes(text: str, file: str) -> list[GatewayRoute]:
    """The forwarding ``location`` blocks of an nginx configuration (prefix locations
    only; regular expressions and variables in ``proxy_pass`` are left out)."""
    clean = _COMMENT().sub("", text)
    upstreams: dict[str, tuple[str, int | None]] = {}
    for match in _UPSTREAM().finditer(clean):
        server = _SERVER().search(match.group(2))
        if server is not None:
            upstreams[match.group(1)] = _host_port(server.group(1))
    routes: list[GatewayRoute] = []
    for match in _LOCATION().finditer(clean):
        proxy = _PROXY().search(match.group(2))
        if proxy is None or "$" in proxy.group(1):
            continue
        parts = urlsplit(proxy.group(1))
        if not parts.hostname:
            continue
        host, port = upstreams.get(parts.hostname, (parts.hostname, parts.port))
        line = clean.count("\n", 0, match.start()) + 1
        routes.append(
            GatewayRoute(
                prefix=match.group(1),
                host=host,
                port=port,
                replacement=parts.path or None,
                source=f"{file}:{line}",
            )
        )
    return routes


def route_for(routes: list[GatewayRoute], path: str) -> tuple[GatewayRoute, str] | None:
    """The longest matching location for ``path`` and the path it forwards."""
    best: tuple[GatewayRoute, str] | None = None
    for route in routes:
        forwarded = route.forward(path)
        if forwarded is not None and (best is None or len(route.prefix) > len(best[0].prefix)):
            best = (route, forwarded)
    return best


def _host_port(text: str) -> tuple[str, int | None]:
    host, _, port = text.partition(":")
    return host, int(port) if port.isdigit() else None
