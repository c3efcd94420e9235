"""Detector for the standard library's ``http.client`` connections."""

from __future__ import annotations

from decouple_services.detect.base import (
    Detector,
    Example,
    Match,
    argument,
    is_none,
    lit_upper,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Lit, Obj, Value, concat

#: Connection class -> scheme. ``httplib`` is Python 2's name for the module.
_CONNECTIONS = {
    "http.client.HTTPConnection": "http",
    "http.client.HTTPSConnection": "https",
    "httplib.HTTPConnection": "http",
    "httplib.HTTPSConnection": "https",
}
_METHODS = frozenset({"request", "putrequest"})


class HttpClientDetector(Detector):
    """Requests sent through the standard library's `http.client
    <https://docs.python.org/3/library/http.client.html>`_.

    Finds ``conn.request(method, path, body=...)`` and ``conn.putrequest(method, path)`` on
    ``HTTPConnection(host, port)`` and ``HTTPSConnection`` objects. The connection's scheme,
    host and port become the call's base (``http://{host}:{port}``; a host that already
    carries its port, ``"users:8080"``, stays as it is), and the path is the url.

    http.client waits forever by default, so ``has_timeout`` needs the connection's
    ``timeout=`` (the third positional argument of ``HTTPConnection``) other than ``None``.
    The payload is ``body``.

    Deliberately ignored: ``putheader``/``endheaders``/``send`` (parts of a request already
    reported at ``putrequest``), ``getresponse()``, and ``http.server`` or ``http.HTTPStatus``.
    """

    name = "http_client"
    modules = ("http", "httplib")
    method_names = _METHODS
    examples = (
        Example(
            snippet("""
                import http.client

                def reserve(sku, body):
                    conn = http.client.HTTPConnection("inventory", 8080, timeout=3)
                    conn.request("POST", f"/items/{sku}/reserve", body=body)
                    return conn.getresponse().status
            """),
            client="http.client",
            method="POST",
            url_src='f"/items/{sku}/reserve"',
            line=5,
        ),
        Example(
            snippet("""
                import os
                from http.client import HTTPSConnection

                conn = HTTPSConnection(os.environ["LEDGER_HOST"])
                conn.putrequest("GET", "/balance")
                conn.endheaders()
            """),
            client="http.client",
            method="GET",
            url_src='"/balance"',
            line=5,
        ),
    )
    counter_examples = (
        snippet("""
            from http import HTTPStatus
            from http.server import HTTPServer, BaseHTTPRequestHandler

            server = HTTPServer(("", 8000), BaseHTTPRequestHandler)
            server.serve_forever()
            code = HTTPStatus(404)
        """),
        snippet("""
            import http.client

            def finish(conn: http.client.HTTPConnection):
                conn.putheader("Accept", "text/plain")
                conn.endheaders()
                return conn.getresponse()
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None or receiver is None or call.name not in _METHODS:
            return None
        scheme = _CONNECTIONS.get(receiver.type)
        if scheme is None:
            return None
        url, url_src = argument(call, 1, "url")
        is_https = scheme == "https"
        # HTTPConnection(host, port, timeout); HTTPSConnection takes timeout by keyword.
        timeout = receiver.kwarg("timeout") if is_https else receiver.arg(2, "timeout")
        return Match(
            client="http.client",
            method=lit_upper(call.arg(0, "method")),
            url=url,
            url_src=url_src,
            base=_base(scheme, receiver),
            has_timeout=bool(sets_timeout(timeout)),
            payload=payload_of(call, "body", positional={2: "body"})
            if call.name == "request"
            else None,
        )


def _base(scheme: str, connection: Obj) -> Value | None:
    host = connection.arg(0, "host")
    if host is None:
        return None
    port = connection.arg(1, "port")
    if port is None or is_none(port):
        return concat(Lit(f"{scheme}://"), host)
    return concat(Lit(f"{scheme}://"), host, Lit(":"), port)
