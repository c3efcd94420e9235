"""Detector for aiohttp's HTTP client."""

from __future__ import annotations

from decouple_services.detect.base import (
    HTTP_VERBS,
    Detector,
    Example,
    Match,
    method_and_url,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Obj

_SESSION_METHODS = HTTP_VERBS | {"request", "ws_connect"}
SESSION_TYPES = frozenset({"aiohttp.ClientSession", "aiohttp.client.ClientSession"})
_FUNCTIONS = frozenset({"aiohttp.request", "aiohttp.client.request"})
_PAYLOAD_KEYS = ("json", "data", "params")


class AiohttpDetector(Detector):
    """Calls made with `aiohttp <https://docs.aiohttp.org>`_'s client.

    Finds the methods of ``aiohttp.ClientSession`` objects (``get``, ``post``, ``put``,
    ``patch``, ``delete``, ``head``, ``options``, ``request(method, url)``, and
    ``ws_connect(url)``, reported as a ``GET``), whether awaited or used as
    ``async with session.get(...) as response``, and the module function
    ``aiohttp.request(method, url)``. Every call is asynchronous.

    The session's base url (its first argument or ``base_url=``) becomes the call's base.
    aiohttp applies a five-minute total timeout by default, so ``has_timeout`` is false only
    when the call, or the session without an override on the call, passes ``timeout=None`` or a
    ``ClientTimeout()`` with nothing set. Websocket connections are marked as streaming. The
    payload comes from ``json=``, ``data=`` or ``params=``, in that order of preference.

    Deliberately ignored: aiohttp's server side (``web.Application`` routes are endpoints, not
    calls), creating sessions, connectors and timeouts, and response methods
    (``await response.json()``).
    """

    name = "aiohttp"
    modules = ("aiohttp",)
    method_names = _SESSION_METHODS
    examples = (
        Example(
            snippet("""
                import aiohttp

                async def stock(sku):
                    async with aiohttp.ClientSession() as session:
                        async with session.get(f"{INVENTORY_URL}/items/{sku}") as response:
                            return await response.json()
            """),
            client="aiohttp",
            method="GET",
            url_src='f"{INVENTORY_URL}/items/{sku}"',
            line=5,
        ),
        Example(
            snippet("""
                from aiohttp import ClientSession, ClientTimeout

                async def ship(order):
                    session = ClientSession(SHIPPING_URL, timeout=ClientTimeout(total=3))
                    await session.request("POST", "/shipments", json=order)
            """),
            client="aiohttp",
            method="POST",
            url_src='"/shipments"',
            line=5,
        ),
        Example(
            snippet("""
                import aiohttp

                async def tail():
                    async with aiohttp.request("GET", LOGS_URL) as response:
                        return await response.text()
            """),
            client="aiohttp",
            method="GET",
            url_src="LOGS_URL",
            line=4,
        ),
        Example(
            snippet("""
                import aiohttp

                async def feed():
                    async with aiohttp.ClientSession(base_url=EVENTS_URL) as session:
                        async with session.ws_connect("/feed") as ws:
                            await ws.receive()
            """),
            client="aiohttp",
            method="GET",
            url_src='"/feed"',
            line=5,
        ),
    )
    counter_examples = (
        snippet("""
            from aiohttp import web

            app = web.Application()
            app.router.add_get("/health", lambda request: web.Response(text="ok"))
        """),
        snippet("""
            import aiohttp

            async def close(session: aiohttp.ClientSession, response):
                timeout = aiohttp.ClientTimeout(total=5)
                data = await response.json()
                return data.get("id")
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            if call.func not in _FUNCTIONS:
                return None
            return _request(call, None)
        if receiver is None or receiver.type not in SESSION_TYPES:
            return None
        if call.name not in _SESSION_METHODS:
            return None
        return _request(call, receiver)


def _request(call: RawCall, session: Obj | None) -> Match:
    method, url, url_src = method_and_url(call, call.name == "request")
    if call.name == "ws_connect":
        method = "GET"  # a websocket handshake is an HTTP GET with an upgrade header
    return Match(
        client="aiohttp",
        method=method,
        url=url,
        url_src=url_src,
        base=None if session is None else session.arg(0, "base_url"),
        has_timeout=_has_timeout(call, session),
        payload=payload_of(call, *_PAYLOAD_KEYS),
        is_async=True,
        streaming=call.name == "ws_connect",
    )


def _has_timeout(call: RawCall, session: Obj | None) -> bool:
    # The call's timeout overrides the session's, which overrides aiohttp's 5-minute default.
    for value in (call.kwarg("timeout"), None if session is None else session.kwarg("timeout")):
        decided = sets_timeout(value)
        if decided is not None:
            return decided
    return True
