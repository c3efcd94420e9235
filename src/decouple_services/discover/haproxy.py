"""Path routes of an HAProxy gateway: which service a request to the load balancer reaches.

A compose service running HAProxy with its configuration mounted from the repository
(``./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg``) sends what its ``frontend`` receives
to a ``backend``: ``acl is_users path_beg /users`` + ``use_backend users_back if is_users``
for a path prefix, ``default_backend web_back`` for the rest. The backend's first
``server web1 web:8000`` names the host. HAProxy passes the path on unchanged.

Only conditions that are one path-prefix test are read (an ACL name, a negation-free
``{ path_beg ... }``); host headers, ``||``, ``!`` and several ACLs together decide on what a
url alone cannot show, so such rules are left out rather than guessed.
"""

from __future__ import annotations

from decouple_services.discover.nginx import GatewayRoute

#: Sections that start a block; every other line belongs to the last one.
_SECTIONS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "resolvers",
        "peers",
        "userlist",
        "program",
        "http-errors",
        "cache",
        "mailers",
        "ring",
    }
)


def parse_routes(text: str, file: str) -> list[GatewayRoute]:
    """The path routes of every ``frontend`` and ``listen`` section of an HAProxy
    configuration; the longest prefix wins, ``/`` stands for ``default_backend``."""
    sections = _sections(text)
    servers: dict[str, tuple[str, int | None]] = {}
    for kind, name, _, lines in sections:
        if kind in {"backend", "listen"}:
            server = _first_server(lines)
            if server is not None:
                servers[name] = server
    routes: list[GatewayRoute] = []
    for kind, name, start, lines in sections:
        if kind not in {"frontend", "listen"}:
            continue
        acls: dict[str, list[str] | None] = {}
        for line_no, words in lines:
            if words[0] == "acl" and len(words) >= 3:
                prefixes = _prefixes(words[2:])
                # an ACL declared twice is an OR of both: a prefix test only if both are
                known = acls.get(words[1], [])
                acls[words[1]] = None if prefixes is None or known is None else known + prefixes
            elif words[0] == "use_backend" and len(words) >= 4 and words[2] == "if":
                prefixes = _condition(words[3:], acls)
                server = servers.get(words[1])
                if prefixes and server is not None:
                    for prefix in prefixes:
                        routes.append(_route(prefix, server, f"{file}:{line_no}"))
            elif words[0] == "default_backend" and len(words) == 2:
                server = servers.get(words[1])
                if server is not None:
                    routes.append(_route("/", server, f"{file}:{line_no}"))
        if kind == "listen" and name in servers:
            routes.append(_route("/", servers[name], f"{file}:{start}"))
    return routes


def _route(prefix: str, server: tuple[str, int | None], source: str) -> GatewayRoute:
    host, port = server
    return GatewayRoute(prefix=prefix, host=host, port=port, replacement=None, source=source)


def _sections(text: str) -> list[tuple[str, str, int, list[tuple[int, list[str]]]]]:
    """(kind, name, line, [(line, words)]) for each section, comments dropped."""
    sections: list[tuple[str, str, int, list[tuple[int, list[str]]]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in _SECTIONS:
            sections.append((words[0], words[1] if len(words) > 1 else "", number, []))
        elif sections:
            sections[-1][3].append((number, words))
    return sections


def _first_server(lines: list[tuple[int, list[str]]]) -> tuple[str, int | None] | None:
    for _, words in lines:
        if words[0] == "server" and len(words) >= 3:
            host, _, port = words[2].rpartition(":") if ":" in words[2] else (words[2], "", "")
            if host and "$" not in host and not host.startswith("/"):
                return host, int(port) if port.isdigit() else None
    return None


def _prefixes(criterion: list[str]) -> list[str] | None:
    """The path prefixes of ``path_beg /a /b`` (also ``path -m beg``, either with ``-i``);
    None for any other test."""
    fetch, *rest = criterion
    if fetch == "path" and rest[:2] == ["-m", "beg"]:
        rest = rest[2:]
    elif fetch != "path_beg":
        return None
    values = [w for w in rest if w != "-i"]
    if not values or any(not v.startswith("/") for v in values):
        return None
    return values


def _condition(words: list[str], acls: dict[str, list[str] | None]) -> list[str] | None:
    """The prefixes of ``if is_api`` or ``if { path_beg /api }``; None for anything else."""
    if len(words) == 1:
        return acls.get(words[0])
    if words[0] == "{" and words[-1] == "}":
        return _prefixes(words[1:-1])
    return None
