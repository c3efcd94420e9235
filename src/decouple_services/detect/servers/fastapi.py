"""FastAPI routes: apps, routers, their prefixes and inclusions.

Reads the operation decorators ``@app.get(path)``, ``post``, ``put``, ``patch``, ``delete``,
``head``, ``options`` and ``trace``, ``@router.api_route(path, methods=[...])`` (``GET`` when
``methods`` is not given) and ``router.add_api_route(path, endpoint, methods=...)``, on
``FastAPI()`` apps and ``APIRouter()`` routers. A router's own ``prefix=`` is read from its
constructor at resolution; ``app.include_router(router, prefix="/api")`` and
``app.mount("/v2", other_app)`` are recorded as mounts (FastAPI joins the include prefix, the
router's own prefix and the route path, in that order), so routers defined in one module and
included in another resolve to their full paths.

An operation decorator counts when its object is a FastAPI app or router, or, when the module
does not show what it is (a router imported from elsewhere), when the module imports FastAPI
or the path starts with ``/`` or a constant.

Not read: websocket routes (``@router.websocket``), which no HTTP client calls, routes passed
as ``APIRoute`` objects, and ``root_path`` (a proxy setting, not part of the route).
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.facts import RawMount, RawRoute
from decouple_services.detect.servers._common import (
    HTTP_METHODS,
    Extracted,
    Mount,
    Route,
    ServerExample,
    argument,
    calls,
    decorated,
    def_qualname,
    evaluate,
    framework_of,
    given_methods,
    literal_methods,
    looks_like_path,
    method_call,
    owner_value,
    prefix_value,
    view_routes,
)
from decouple_services.detect.values import Value

_DEFAULT = ("GET",)
_CALLS = frozenset({"add_api_route", "include_router", "mount"})


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """Operations, router inclusions and mounted sub-applications of one module."""
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    for deco, node, frame in decorated(tree, ctx):
        found = method_call(deco)
        if found is None or isinstance(node, ast.ClassDef):
            continue
        receiver, name = found
        if name != "api_route" and name not in HTTP_METHODS:
            continue
        given = argument(deco, 0, "path")
        if given is None:
            continue
        path = evaluate(given, frame)
        if not _claims(framework_of(receiver, frame), path):
            continue
        if name == "api_route":
            methods = literal_methods(argument(deco, None, "methods"), frame, _DEFAULT)
        else:
            methods = (name.upper(),)
        routes.append(
            RawRoute(
                "fastapi",
                owner_value(receiver, frame),
                methods,
                path,
                def_qualname(node, frame),
                deco.lineno,
            )
        )
    for call, (receiver, name), frame in calls(tree, ctx, _CALLS):
        framework = framework_of(receiver, frame)
        owner = owner_value(receiver, frame)
        if name == "include_router":
            child = argument(call, 0, "router")
            if child is None or framework not in ("fastapi", None):
                continue
            prefix = prefix_value(argument(call, None, "prefix"), frame)
            mounts.append(
                RawMount("fastapi", owner, owner_value(child, frame), prefix, call.lineno)
            )
        elif name == "mount":
            given = argument(call, 0, "path")
            child = argument(call, 1, "app")
            if given is None or child is None or framework != "fastapi":
                continue
            mounts.append(
                RawMount(
                    "fastapi", owner, owner_value(child, frame), evaluate(given, frame), call.lineno
                )
            )
        else:
            given = argument(call, 0, "path")
            endpoint = argument(call, 1, "endpoint")
            if given is None or endpoint is None:
                continue
            path = evaluate(given, frame)
            if not _claims(framework, path):
                continue
            allowed = given_methods(call, frame)
            routes.extend(
                view_routes("fastapi", owner, path, endpoint, frame, call.lineno, allowed, _DEFAULT)
            )
    return routes, mounts, []


def _claims(framework: str | None, path: Value) -> bool:
    return framework == "fastapi" or (framework is None and looks_like_path(path))


EXAMPLES = (
    ServerExample(
        snippet("""
            from fastapi import APIRouter

            router = APIRouter(prefix="/orders", tags=["orders"])

            @router.get("/{order_id}")
            async def get_order(order_id: str):
                ...

            @router.post("", status_code=201)
            async def create_order(body: dict):
                ...
        """),
        module="orders.api",
        routes=(
            Route("GET", "/{order_id}", "orders.api.get_order", 5, owner="orders.api.router"),
            Route("POST", "", "orders.api.create_order", 9, owner="orders.api.router"),
        ),
    ),
    ServerExample(
        snippet("""
            from fastapi import FastAPI

            from .api import router as orders_router
            from .health import router as health_router

            app = FastAPI(title="orders")
            app.include_router(orders_router, prefix="/api")
            app.include_router(health_router)

            @app.api_route("/legacy", methods=["GET", "POST"])
            def legacy():
                ...
        """),
        module="orders.main",
        routes=(Route("GET POST", "/legacy", "orders.main.legacy", 10, owner="orders.main.app"),),
        mounts=(
            Mount("orders.main.app", "orders.api.router", "/api", 7),
            Mount("orders.main.app", "orders.health.router", "<none>", 8),
        ),
    ),
    ServerExample(
        snippet("""
            import fastapi

            VERSION = "/v1"
            app = fastapi.FastAPI()

            async def ping():
                return "pong"

            app.add_api_route(f"{VERSION}/ping", ping, methods=["HEAD"])
            app.mount("/v2", fastapi.FastAPI())
        """),
        routes=(Route("HEAD", "{VERSION}/ping", "example.ping", 9, owner="example.app"),),
        mounts=(Mount("example.app", "fastapi.FastAPI()", "/v2", 10),),
    ),
    ServerExample(
        snippet("""
            from .deps import router

            @router.delete("/carts/{cart_id}/items/{sku}")
            def remove_item(cart_id: int, sku: str):
                ...
        """),
        module="cart.views",
        routes=(
            Route(
                "DELETE",
                "/carts/{cart_id}/items/{sku}",
                "cart.views.remove_item",
                3,
                owner="cart.deps.router",
            ),
        ),
    ),
)

COUNTER_EXAMPLES = (
    snippet("""
        from fastapi import APIRouter

        router = APIRouter()

        @router.websocket("/ws")
        async def stream(websocket):
            ...
    """),
    # `.get` on something unknown with a key that is no path
    snippet("""
        import functools

        handlers = {}

        @handlers.get("users")
        def users():
            ...

        @functools.lru_cache(maxsize=None)
        def cached():
            ...
    """),
)
