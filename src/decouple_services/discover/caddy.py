"""Path routes of a Caddy gateway: which service a request to the reverse proxy reaches.

A compose service running Caddy with its configuration mounted from the repository
(``./caddy/Caddyfile:/etc/caddy/Caddyfile``) forwards what a site receives:
``reverse_proxy /api* http://api:8000`` sends ``/api...`` to ``api:8000`` with the path
unchanged, ``reverse_proxy /* http://web:80`` (or no matcher) takes every other path.
``handle /api* { reverse_proxy api:8000 }`` routes the same way; ``handle_path`` strips
its prefix before forwarding.

Only path matchers ending in ``*`` (and none, or ``*``, for every path) are read: exact
paths, named matchers (``@internal``), placeholders (``{$UPSTREAM}``) and several
upstreams decide on what a url alone cannot show, so such routes are left out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from decouple_services.discover.nginx import GatewayRoute

#: Blocks whose path matcher applies to the ``reverse_proxy`` inside them: the prefix is
#: kept (``handle``, ``route``) or stripped (``handle_path``).
_KEEPING = frozenset({"handle", "route"})
_STRIPPING = "handle_path"


def parse_routes(text: str, file: str) -> list[GatewayRoute]:
    """The forwarding ``reverse_proxy`` directives of every site of a Caddyfile."""
    routes: list[GatewayRoute] = []
    #: For each open block: the prefix its matcher sets and whether it strips it; None for
    #: a block whose requests are not read (a named matcher, a directive's options).
    stack: list[tuple[str, bool] | None] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split() if not raw.lstrip().startswith("#") else []
        if not words:
            continue
        if words == ["}"]:
            if stack:
                stack.pop()
            continue
        opens = words[-1] == "{"
        if opens:
            words = words[:-1]
        outer = stack[-1] if stack else ("/", False)
        if len(stack) == 0:
            # a site's addresses (or the global options): every path of it
            if opens:
                stack.append(("/", False) if words else None)
            continue
        if outer is not None and words and words[0] == "reverse_proxy":
            route = _route(words[1:], outer, f"{file}:{number}")
            if route is not None:
                routes.append(route)
        if opens:
            stack.append(_block(words, outer))
    return routes


def _block(words: list[str], outer: tuple[str, bool] | None) -> tuple[str, bool] | None:
    """What a block opened by ``words`` forwards from: a ``handle``'s path, or nothing."""
    if outer is None or not words or words[0] not in (*_KEEPING, _STRIPPING):
        return None
    prefix = _prefix(words[1]) if len(words) > 1 else "/"
    if prefix is None or len(words) > 2:
        return None
    return prefix, words[0] == _STRIPPING


def _route(args: list[str], outer: tuple[str, bool], source: str) -> GatewayRoute | None:
    prefix, strip = outer
    if args and args[0].startswith(("/", "*", "@")):
        inner = _prefix(args[0])
        if inner is None or prefix != "/":
            return None
        prefix, args = inner, args[1:]
    if len(args) != 1:
        return None
    target = _host_port(args[0])
    if target is None:
        return None
    host, port = target
    replacement = "" if strip and prefix != "/" else None
    if replacement is not None and prefix.endswith("/"):
        replacement = "/"
    return GatewayRoute(prefix=prefix, host=host, port=port, replacement=replacement, source=source)


def _prefix(matcher: str) -> str | None:
    """``/api*`` -> ``/api``, ``/api/*`` -> ``/api/``, ``*`` -> ``/``; None for an exact
    path or a named matcher."""
    if matcher == "*":
        return "/"
    if matcher.startswith("/") and matcher.endswith("*") and "*" not in matcher[:-1]:
        return matcher[:-1] or "/"
    return None


def _host_port(upstream: str) -> tuple[str, int | None] | None:
    if "{" in upstream or upstream.startswith(("unix/", "/")):
        return None
    parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.hostname, port
