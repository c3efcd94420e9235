"""Detector for urllib3: pool managers, connection pools and ``urllib3.request``."""

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

#: Objects whose requests carry a full url.
MANAGERS = frozenset(
    {
        "urllib3.PoolManager",
        "urllib3.poolmanager.PoolManager",
        "urllib3.ProxyManager",
        "urllib3.poolmanager.ProxyManager",
        "urllib3.proxy_from_url",
        "urllib3.poolmanager.proxy_from_url",
    }
)
#: Connection pools bound to one host: their requests carry a path.
POOLS = {
    "urllib3.HTTPConnectionPool": "http",
    "urllib3.connectionpool.HTTPConnectionPool": "http",
    "urllib3.HTTPSConnectionPool": "https",
    "urllib3.connectionpool.HTTPSConnectionPool": "https",
}
#: Functions that make such a pool for the host of a url.
POOLS_FROM_URL = frozenset(
    {"urllib3.connection_from_url", "urllib3.connectionpool.connection_from_url"}
)
#: ``manager.connection_from_url(url)`` / ``connection_from_host(host, port, scheme)``, as
#: extraction names the results of method calls.
_FROM_URL_METHOD = ".connection_from_url()"
_FROM_HOST_METHOD = ".connection_from_host()"
#: urllib3 as vendored by old versions of requests.
_VENDORED = "requests.packages."
_FUNCTIONS = frozenset({"urllib3.request", "urllib3._request_methods.request"})
_METHODS = frozenset({"request", "urlopen", "request_encode_url", "request_encode_body"})
_PAYLOAD_KEYS = ("json", "body", "fields")
_POSITIONAL: dict[str, dict[int, str]] = {
    "request": {2: "body", 3: "fields"},
    "urlopen": {2: "body"},
    "request_encode_url": {2: "fields"},
    "request_encode_body": {2: "fields"},
}


class Urllib3Detector(Detector):
    """Calls made with `urllib3 <https://urllib3.readthedocs.io>`_.

    Finds ``request``, ``urlopen``, ``request_encode_url`` and ``request_encode_body`` (all
    ``(method, url, ...)``) on ``PoolManager`` and ``ProxyManager`` objects, and the module
    function ``urllib3.request(method, url)`` of urllib3 2. On connection pools bound to one
    host (``HTTPConnectionPool(host, port)``, ``HTTPSConnectionPool``,
    ``connection_from_url(url)``, ``manager.connection_from_url(url)`` and
    ``connection_from_host(host, port, scheme)``) the same methods take a path, and the
    pool's scheme, host and port become the call's base (``http://{host}:{port}``). The urllib3
    that old versions of requests vendor (``requests.packages.urllib3``) counts as urllib3.

    urllib3 waits forever by default, so ``has_timeout`` needs ``timeout=`` on the call, or on
    the manager or pool, set to something other than ``None`` or an empty ``Timeout()``.
    The payload comes from ``json=``, ``body=`` or ``fields=``; ``preload_content=False`` marks
    a streamed response.

    Deliberately ignored: building managers, pools, retries and timeouts
    (``urllib3.util.Retry(...)``), and response methods.
    """

    name = "urllib3"
    modules = ("urllib3", "requests")
    method_names = _METHODS
    examples = (
        Example(
            snippet("""
                import urllib3

                http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=3.0))

                def charge(payment):
                    return http.request("POST", PAYMENTS_URL + "/charges", json=payment)
            """),
            client="urllib3",
            method="POST",
            url_src='PAYMENTS_URL + "/charges"',
            line=6,
        ),
        Example(
            snippet("""
                import urllib3

                urllib3.request("GET", "https://api.github.com/zen")
            """),
            client="urllib3",
            method="GET",
            url_src='"https://api.github.com/zen"',
            line=3,
        ),
        Example(
            snippet("""
                from urllib3 import HTTPConnectionPool

                def audit(entry):
                    pool = HTTPConnectionPool("audit", port=9000)
                    pool.urlopen("PUT", "/entries", body=entry)
            """),
            client="urllib3",
            method="PUT",
            url_src='"/entries"',
            line=5,
        ),
    )
    counter_examples = (
        snippet("""
            import urllib3
            from urllib3.util.retry import Retry

            retries = Retry(total=3, backoff_factor=0.5)
            http = urllib3.PoolManager(retries=retries)
            http.clear()
        """),
        snippet("""
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            if _unvendored(call.func) not in _FUNCTIONS:
                return None
            return _request(call, None, None)
        if receiver is None or call.name not in _METHODS:
            return None
        kind = _unvendored(receiver.type)
        if kind in MANAGERS:
            return _request(call, receiver, None)
        base = _pool_base(kind, receiver)
        if base is None:
            return None
        return _request(call, receiver, base)


def _request(call: RawCall, owner: Obj | None, base: Value | None) -> Match:
    url, url_src = argument(call, 1, "url")
    return Match(
        client="urllib3",
        method=lit_upper(call.arg(0, "method")),
        url=url,
        url_src=url_src,
        base=base,
        has_timeout=_has_timeout(call, owner),
        payload=payload_of(call, *_PAYLOAD_KEYS, positional=_POSITIONAL.get(call.name)),
        streaming=_is_false(call.kwarg("preload_content")),
    )


def _unvendored(name: str) -> str:
    return name.removeprefix(_VENDORED)


def _pool_base(kind: str, pool: Obj) -> Value | None:
    """``http://host:port`` for a connection pool, or None when ``pool`` is not one."""
    if kind in POOLS:
        return _host_base(Lit(POOLS[kind]), pool.arg(0, "host"), pool.arg(1, "port"))
    if kind in POOLS_FROM_URL or kind.endswith(_FROM_URL_METHOD):
        # The url's path is ignored by the pool; the resolver only reads its host from it.
        return pool.arg(0, "url")
    if kind.endswith(_FROM_HOST_METHOD):
        scheme = pool.arg(2, "scheme")
        return _host_base(
            scheme if isinstance(scheme, Lit) else Lit("http"),
            pool.arg(0, "host"),
            pool.arg(1, "port"),
        )
    return None


def _host_base(scheme: Value, host: Value | None, port: Value | None) -> Value | None:
    if host is None:
        return None
    if port is None or is_none(port):
        return concat(scheme, Lit("://"), host)
    return concat(scheme, Lit("://"), host, Lit(":"), port)


def _has_timeout(call: RawCall, owner: Obj | None) -> bool:
    own = sets_timeout(call.kwarg("timeout"))
    if own is not None:
        return own
    if owner is not None:
        # HTTPConnectionPool(host, port, timeout): the third positional argument.
        pooled = owner.arg(2, "timeout") if _unvendored(owner.type) in POOLS else None
        return bool(sets_timeout(owner.kwarg("timeout") or pooled))
    return False


def _is_false(value: Value | None) -> bool:
    return isinstance(value, Lit) and value.text == "False"
