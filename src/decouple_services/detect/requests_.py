"""Detector for the requests library."""

from __future__ import annotations

from dataclasses import replace

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
from decouple_services.detect.values import Obj

_VERBS_AND_REQUEST = HTTP_VERBS | {"request"}
#: ``requests.get`` and its home ``requests.api.get``: one name per module function.
_FUNCTIONS = frozenset(
    f"{module}.{name}" for module in ("requests", "requests.api") for name in _VERBS_AND_REQUEST
)
#: The class, where it is defined, and the lowercase factory ``requests.session()``.
SESSION_TYPES = frozenset(
    {
        "requests.Session",
        "requests.sessions.Session",
        "requests.session",
        "requests.sessions.session",
    }
)
#: requests-oauthlib's sessions: ``requests.Session`` subclasses that also fetch tokens.
OAUTH_SESSION_TYPES = frozenset(
    {
        "requests_oauthlib.OAuth2Session",
        "requests_oauthlib.oauth2_session.OAuth2Session",
        "requests_oauthlib.OAuth1Session",
        "requests_oauthlib.oauth1_session.OAuth1Session",
    }
)
#: Their token requests, each a POST to the url passed first (or by this keyword).
_TOKEN_REQUESTS = {
    "fetch_token": "token_url",
    "refresh_token": "token_url",
    "fetch_request_token": "url",
    "fetch_access_token": "url",
}
#: Request constructors a ``Session.send`` argument may come from.
_REQUEST_TYPES = frozenset({"requests.Request", "requests.models.Request"})
#: ``session.prepare_request(...)`` as extraction names it (``<receiver>.<method>()``); the
#: receiver may be an unresolved reference, and the request is sent by a session anyway.
_PREPARE = ".prepare_request()"
_PAYLOAD_KEYS = ("json", "data", "files", "params")
#: Parameters a payload may be passed at positionally. ``requests.get(url, params)`` takes
#: params second, but ``Session.get(url, **kwargs)`` does not, hence two tables.
_MODULE_POSITIONAL: dict[str, dict[int, str]] = {
    "get": {1: "params"},
    "post": {1: "data", 2: "json"},
    "put": {1: "data"},
    "patch": {1: "data"},
}
_SESSION_POSITIONAL: dict[str, dict[int, str]] = {
    "post": {1: "data", 2: "json"},
    "put": {1: "data"},
    "patch": {1: "data"},
    "request": {2: "params", 3: "data"},
}


class RequestsDetector(Detector):
    """Calls made with `requests <https://requests.readthedocs.io>`_.

    Finds the module functions (``requests.get``, ``post``, ``put``, ``patch``, ``delete``,
    ``head``, ``options``, also through ``requests.api``), ``requests.request(method, url)``,
    and the same methods on ``Session`` objects (``requests.Session()``,
    ``requests.sessions.Session()``, ``requests.session()``) wherever the session is kept: a
    local, a ``with`` block (also one entering it through ``contextlib.closing(...)``, or
    an ``ExitStack``'s ``stack.enter_context(...)``), a ``self.`` attribute, a module global
    or another module.
    ``session.send(...)`` is found too; its method and url are known when the request was
    built inline with ``requests.Request(...)`` or ``session.prepare_request(...)``.

    Reports ``has_timeout`` when ``timeout=`` is passed and is not ``None`` (requests has no
    default timeout), the payload from ``json=``, ``data=``, ``files=`` or ``params=`` (in that
    order of preference), and ``streaming`` for ``stream=True``.

    requests-oauthlib's ``OAuth2Session`` and ``OAuth1Session`` are sessions too, and their
    token requests (``fetch_token(token_url, ...)``, ``refresh_token``,
    ``fetch_request_token``, ``fetch_access_token``) are POSTs to the url they are given.

    Deliberately ignored: creating a session, ``session.mount(...)`` and other configuration,
    exceptions (``requests.exceptions...``), methods of responses, and methods named like a
    verb on objects that are not sessions. A session subclass defined in the project is not
    recognised; configure it as a custom client.
    """

    name = "requests"
    modules = ("requests", "requests_oauthlib")
    method_names = _VERBS_AND_REQUEST | {"send"} | frozenset(_TOKEN_REQUESTS)
    examples = (
        Example(
            snippet("""
                import requests

                def create(order):
                    requests.post(f"{ORDERS_URL}/orders", json=order, timeout=5)
            """),
            client="requests",
            method="POST",
            url_src='f"{ORDERS_URL}/orders"',
            line=4,
        ),
        Example(
            snippet("""
                from requests import get as http_get

                user = http_get("http://users:8080/users/1").json()
            """),
            client="requests",
            method="GET",
            url_src='"http://users:8080/users/1"',
            line=3,
        ),
        Example(
            snippet("""
                import requests as rq

                rq.request("DELETE", url=CART_URL)
            """),
            client="requests",
            method="DELETE",
            url_src="CART_URL",
            line=3,
        ),
        Example(
            snippet("""
                import requests

                def refresh():
                    with requests.Session() as session:
                        session.put(PRICES_URL, data=prices)
            """),
            client="requests.Session",
            method="PUT",
            url_src="PRICES_URL",
            line=5,
        ),
        Example(
            snippet("""
                import contextlib

                import requests

                def deactivate(user_id):
                    with contextlib.closing(requests.Session()) as s:
                        s.post(f"{USERS_URL}/users/{user_id}/deactivate", timeout=5)
            """),
            client="requests.Session",
            method="POST",
            url_src='f"{USERS_URL}/users/{user_id}/deactivate"',
            line=7,
        ),
        Example(
            snippet("""
                from contextlib import ExitStack

                import requests

                def sync_prices(prices):
                    with ExitStack() as stack:
                        session = stack.enter_context(requests.Session())
                        session.put(PRICES_URL, json=prices)
            """),
            client="requests.Session",
            method="PUT",
            url_src="PRICES_URL",
            line=8,
        ),
        Example(
            snippet("""
                import requests

                class UsersClient:
                    def __init__(self):
                        self.session = requests.session()

                    def find(self, uid):
                        return self.session.get(f"{USERS_URL}/users/{uid}", timeout=2)
            """),
            client="requests.Session",
            method="GET",
            url_src='f"{USERS_URL}/users/{uid}"',
            line=8,
        ),
        Example(
            snippet("""
                from requests.sessions import Session

                SESSION = Session()
                SESSION.request("PATCH", STOCK_URL, json={"sku": 1})
            """),
            client="requests.Session",
            method="PATCH",
            url_src="STOCK_URL",
            line=4,
        ),
        Example(
            snippet("""
                from requests_oauthlib import OAuth2Session

                def admin_token(client):
                    oauth = OAuth2Session(client=client)
                    return oauth.fetch_token(token_url=f"{KEYCLOAK_URL}/token", timeout=5)
            """),
            client="requests_oauthlib.OAuth2Session",
            method="POST",
            url_src='f"{KEYCLOAK_URL}/token"',
            line=5,
        ),
    )
    counter_examples = (
        snippet("""
            def get(url):
                return url

            get("http://users:8080/users")
        """),
        snippet("""
            params = {"url": "http://users:8080"}
            params.get("url")
        """),
        snippet("""
            import not_requests

            not_requests.get("http://users:8080/users")
        """),
        snippet("""
            def fetch(requests):
                return requests.get("http://users:8080/users")
        """),
        snippet("""
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            session.mount("https://", HTTPAdapter(max_retries=3))
        """),
        snippet("""
            import requests

            try:
                response = requests.Session()
            except requests.exceptions.ConnectionError:
                raise requests.exceptions.HTTPError("down")
        """),
        snippet("""
            import requests

            def total(response: requests.Response):
                return response.json()["total"]
        """),
        snippet("""
            import redis

            cache = redis.Redis()
            cache.get("http://users:8080/users")
        """),
        snippet("""
            import requests

            from shop.pool import closing

            def refresh():
                with closing(requests.Session()) as pool:
                    pool.get("http://users:8080/users")
        """),
        snippet("""
            from requests_oauthlib import OAuth2Session

            oauth = OAuth2Session(client_id="shop")
            url, state = oauth.authorization_url("https://auth.example.com/authorize")
            oauth.token_updater(oauth.token)
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            if call.func not in _FUNCTIONS:
                return None
            return _request(call, "requests", _MODULE_POSITIONAL.get(call.name, {}))
        if receiver is not None and receiver.type in OAUTH_SESSION_TYPES:
            return _oauth(call, receiver)
        if receiver is None or receiver.type not in SESSION_TYPES:
            return None
        if call.name == "send":
            return _send(call)
        if call.name not in _VERBS_AND_REQUEST:
            return None
        return _request(call, "requests.Session", _SESSION_POSITIONAL.get(call.name, {}))


def _request(call: RawCall, client: str, positional: dict[int, str]) -> Match:
    method, url, url_src = method_and_url(call, call.name == "request")
    return Match(
        client=client,
        method=method,
        url=url,
        url_src=url_src,
        has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
        payload=payload_of(call, *_PAYLOAD_KEYS, positional=positional),
        streaming=is_true(call.kwarg("stream")),
    )


def _oauth(call: RawCall, receiver: Obj) -> Match | None:
    client = "requests_oauthlib." + receiver.type.rpartition(".")[2]
    keyword = _TOKEN_REQUESTS.get(call.name)
    if keyword is not None:
        url, url_src = argument(call, 0, keyword)
        return Match(
            client=client,
            method="POST",
            url=url,
            url_src=url_src,
            has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
        )
    if call.name == "send":
        return replace(_send(call), client=client)
    if call.name not in _VERBS_AND_REQUEST:
        return None
    return _request(call, client, _SESSION_POSITIONAL.get(call.name, {}))


def _send(call: RawCall) -> Match:
    request, request_src = argument(call, 0, "request")
    # session.prepare_request(requests.Request(...)): the Request is its argument.
    if isinstance(request, Obj) and request.type.endswith(_PREPARE) and request.args:
        request = request.args[0]
    method = None
    url = request
    if isinstance(request, Obj) and request.type in _REQUEST_TYPES:
        method = lit_upper(request.arg(0, "method"))
        url = request.arg(1, "url") or MISSING
    return Match(
        client="requests.Session",
        method=method,
        url=url,
        url_src=request_src,
        has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
        streaming=is_true(call.kwarg("stream")),
    )
