"""Detector for the httpx library."""

from __future__ import annotations

from decouple_services.detect.base import (
    HTTP_VERBS,
    MISSING,
    Detector,
    Example,
    Match,
    argument,
    is_true,
    lit_upper,
    method_and_url,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Obj, Value

_METHOD_FIRST = frozenset({"request", "stream"})
_CLIENT_METHODS = HTTP_VERBS | _METHOD_FIRST
_FUNCTIONS = frozenset(
    f"{module}.{name}" for module in ("httpx", "httpx._api") for name in _CLIENT_METHODS
)
SYNC_CLIENTS = frozenset({"httpx.Client", "httpx._client.Client"})
ASYNC_CLIENTS = frozenset({"httpx.AsyncClient", "httpx._client.AsyncClient"})
_CLIENTS = SYNC_CLIENTS | ASYNC_CLIENTS
_REQUESTS = frozenset({"httpx.Request", "httpx._models.Request"})
#: Extraction names the result of a method call ``<receiver>.<method>()``; the receiver of
#: ``build_request`` may be a reference not yet resolved (``example.client``), so only the
#: method is checked: the request is sent through an httpx client either way.
_BUILD_REQUEST = ".build_request()"
_PAYLOAD_KEYS = ("json", "data", "content", "files", "params")


class HttpxDetector(Detector):
    """Calls made with `httpx <https://www.python-httpx.org>`_.

    Finds the module functions (``httpx.get``, ``post``, ``put``, ``patch``, ``delete``,
    ``head``, ``options``, ``httpx.request(method, url)``, ``httpx.stream(method, url)``) and
    the same methods on ``httpx.Client`` and ``httpx.AsyncClient`` objects, however they are
    kept (``with``/``async with`` blocks, also through ``contextlib.closing(...)`` or
    ``aclosing(...)`` and an ``ExitStack``'s ``enter_context``/``enter_async_context``,
    attributes, module globals, other modules).
    ``client.send(request)`` is found too; its method and url are known when the request
    comes from ``httpx.Request(...)`` or ``client.build_request(...)``.

    The client's ``base_url=`` becomes the call's base, so ``client.get("/users")`` on a client
    made with ``base_url=USERS_URL`` resolves to the users service. Calls on an
    ``AsyncClient`` are asynchronous. httpx applies a five-second timeout unless told
    otherwise, so ``has_timeout`` is false only when ``timeout=None`` is passed to the call, or
    to the client and not overridden by the call. ``.stream(...)`` and ``send(...,
    stream=True)`` are marked as streaming. The payload comes from ``json=``, ``data=``,
    ``content=``, ``files=`` or ``params=``, in that order of preference.

    Deliberately ignored: clients calling an app in the same process (``app=app``, or
    ``transport=httpx.ASGITransport(app=app)`` / ``WSGITransport``: a test of the app, not a
    call of another service), building clients, timeouts, limits and requests
    (``httpx.Timeout(...)``, ``client.build_request(...)``), exceptions, and response
    methods.
    """

    name = "httpx"
    modules = ("httpx",)
    method_names = _CLIENT_METHODS | {"send"}
    examples = (
        Example(
            snippet("""
                import httpx

                def search(q):
                    return httpx.get(f"{SEARCH_URL}/search", params={"q": q}).json()
            """),
            client="httpx",
            method="GET",
            url_src='f"{SEARCH_URL}/search"',
            line=4,
        ),
        Example(
            snippet("""
                import httpx

                with httpx.stream("GET", EXPORT_URL) as response:
                    lines = list(response.iter_lines())
            """),
            client="httpx",
            method="GET",
            url_src="EXPORT_URL",
            line=3,
        ),
        Example(
            snippet("""
                import httpx

                search = httpx.Client(base_url=SEARCH_URL, timeout=2.0)

                def reindex():
                    search.post("/reindex", json={"all": True})
            """),
            client="httpx.Client",
            method="POST",
            url_src='"/reindex"',
            line=6,
        ),
        Example(
            snippet("""
                from httpx import AsyncClient as AC

                async def notify(event):
                    async with AC(base_url=NOTIFY_URL) as client:
                        await client.request("POST", "/events", json=event)
            """),
            client="httpx.AsyncClient",
            method="POST",
            url_src='"/events"',
            line=5,
        ),
        Example(
            snippet("""
                from contextlib import AsyncExitStack

                import httpx

                async def notify(event):
                    async with AsyncExitStack() as stack:
                        client = await stack.enter_async_context(httpx.AsyncClient())
                        await client.post(f"{NOTIFY_URL}/events", json=event)
            """),
            client="httpx.AsyncClient",
            method="POST",
            url_src='f"{NOTIFY_URL}/events"',
            line=8,
        ),
        Example(
            snippet("""
                import httpx

                client = httpx.Client()
                client.send(client.build_request("HEAD", HEALTH_URL))
            """),
            client="httpx.Client",
            method="HEAD",
            url_src='client.build_request("HEAD", HEALTH_URL)',
            line=4,
        ),
    )
    counter_examples = (
        snippet("""
            import httpx

            timeout = httpx.Timeout(5.0, connect=1.0)
            limits = httpx.Limits(max_connections=10)
            client = httpx.Client(timeout=timeout, limits=limits)
        """),
        snippet("""
            import httpx

            def status(response: httpx.Response):
                return response.raise_for_status()
        """),
        snippet("""
            import httpx

            try:
                pass
            except httpx.HTTPStatusError as exc:
                exc.response.json()
        """),
        snippet("""
            import httpx

            headers = httpx.Headers({"a": "b"})
            headers.get("a")
        """),
        snippet("""
            import httpx

            from shop.main import app

            async def test_orders():
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    await c.get("/orders")
                async with httpx.AsyncClient(app=app, base_url="http://test") as c:
                    await c.post("/orders", json={})
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            if call.func not in _FUNCTIONS:
                return None
            return _request(call, "httpx", None)
        if receiver is None or receiver.type not in _CLIENTS or _in_process(receiver):
            return None
        client = "httpx.AsyncClient" if receiver.type in ASYNC_CLIENTS else "httpx.Client"
        if call.name == "send":
            return _send(call, client, receiver)
        if call.name not in _CLIENT_METHODS:
            return None
        return _request(call, client, receiver)


def _request(call: RawCall, client: str, owner: Obj | None) -> Match:
    method, url, url_src = method_and_url(call, call.name in _METHOD_FIRST)
    return Match(
        client=client,
        method=method,
        url=url,
        url_src=url_src,
        base=_base(owner),
        has_timeout=_has_timeout(call, owner),
        payload=payload_of(call, *_PAYLOAD_KEYS),
        is_async=client == "httpx.AsyncClient",
        streaming=call.name == "stream",
    )


def _send(call: RawCall, client: str, owner: Obj) -> Match:
    request, request_src = argument(call, 0, "request")
    method = None
    url: Value = request
    if isinstance(request, Obj) and (
        request.type in _REQUESTS or request.type.endswith(_BUILD_REQUEST)
    ):
        method = lit_upper(request.arg(0, "method"))
        url = request.arg(1, "url") or MISSING
    return Match(
        client=client,
        method=method,
        url=url,
        url_src=request_src,
        base=_base(owner),
        has_timeout=_has_timeout(call, owner),
        is_async=client == "httpx.AsyncClient",
        streaming=is_true(call.kwarg("stream")),
    )


def _in_process(client: Obj) -> bool:
    """A client calling an app in the same process (``AsyncClient(app=app)``,
    ``transport=ASGITransport(app)``): a test of the app, not a call of another service."""
    if client.kwarg("app") is not None:
        return True
    transport = client.kwarg("transport")
    return isinstance(transport, Obj) and transport.type.rpartition(".")[2] in _APP_TRANSPORTS


#: httpx transports that call a Python app in the same process.
_APP_TRANSPORTS = frozenset({"ASGITransport", "WSGITransport"})


def _base(owner: Obj | None) -> Value | None:
    return None if owner is None else owner.kwarg("base_url")


def _has_timeout(call: RawCall, owner: Obj | None) -> bool:
    # The call's timeout overrides the client's, which overrides httpx's 5 s default.
    for value in (call.kwarg("timeout"), None if owner is None else owner.kwarg("timeout")):
        decided = sets_timeout(value)
        if decided is not None:
            return decided
    return True
