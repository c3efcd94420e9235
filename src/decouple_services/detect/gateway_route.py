"""Detector for gateway route decorators: fastapi-gateway and its fork fastapi-proxy."""

from __future__ import annotations

from decouple_services.detect.base import (
    HTTP_VERBS,
    MISSING,
    Detector,
    Example,
    Match,
    argument,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Concat, Obj, Value

_ROUTES = frozenset({"fastapi_gateway.route", "fastapi_proxy.route"})
#: ``route(request_method, service_url, gateway_path, service_path, ...)`` in that order.
_METHOD_AT, _SERVICE_URL_AT, _SERVICE_PATH_AT = 0, 1, 3


class GatewayRouteDetector(Detector):
    """Routes an API gateway proxies to another service with `fastapi-gateway
    <https://pypi.org/project/fastapi-gateway/>`_ (or its fork ``fastapi-proxy``).

    ``@route(request_method=router.post, service_url=USERS_URL, gateway_path="/users",
    service_path="/api/users")`` declares a gateway endpoint whose every request is forwarded
    to ``service_url + service_path`` with the method of ``request_method``. The decorator is
    the call site: it is where the callee and its endpoint are fixed, and the library makes
    the request (asynchronously, with aiohttp) each time the gateway route is hit.

    Deliberately ignored: ``route`` decorators of other libraries (FastAPI's own routes
    receive requests, they do not send them) and a ``request_method`` that is not a router's
    HTTP verb (the method is then unknown, the call site is still reported).
    """

    name = "gateway_route"
    modules = ("fastapi_gateway", "fastapi_proxy")
    examples = (
        Example(
            snippet("""
                from fastapi import APIRouter
                from fastapi_gateway import route

                router = APIRouter()
                USERS_URL = "http://users:8000"

                @route(
                    request_method=router.post,
                    service_url=USERS_URL,
                    gateway_path="/users",
                    service_path="/api/users",
                )
                async def create_user(request, response):
                    pass
            """),
            client="fastapi_gateway",
            method="POST",
            url_src='USERS_URL + "/api/users"',
            line=7,
        ),
    )
    counter_examples = (
        snippet("""
            from fastapi import APIRouter

            router = APIRouter()

            @router.post("/users")
            async def create_user():
                pass
        """),
        snippet("""
            from myapp.routing import route

            @route(request_method="post", service_url="http://users:8000", service_path="/x")
            def handler():
                pass
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func not in _ROUTES:
            return None
        base, base_src = argument(call, _SERVICE_URL_AT, "service_url")
        path, path_src = argument(call, _SERVICE_PATH_AT, "service_path")
        url: Value = base if path is MISSING else Concat((base, path))
        verb = (call.src(_METHOD_AT, "request_method") or "").rpartition(".")[2].lower()
        return Match(
            client="fastapi_gateway",
            method=verb.upper() if verb in HTTP_VERBS else None,
            url=url,
            url_src=f"{base_src} + {path_src}" if path_src else base_src,
            is_async=True,
            # the library forwards with aiohttp's default timeout (five minutes)
            has_timeout=True,
        )
