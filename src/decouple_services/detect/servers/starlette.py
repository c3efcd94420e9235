"""Starlette routes: route tables, mounts and the application's own route methods.

Reads ``Route(path, endpoint, methods=[...])`` (``GET`` when ``methods`` is not given; an
``HTTPEndpoint`` class defined in the module gives one route per ``get``/``post``/... method)
in route lists: a list assigned to a name (``routes = [...]``) or passed inline to
``Starlette(routes=[...])`` or ``Router(routes=[...])``. ``Mount("/api", routes=[...])``
nested inline is joined into the paths directly; a ``Mount`` of a named list or of another
application (``Mount("/v1", app=api)``), ``Starlette(routes=routes)`` and ``app.mount(...)``
are recorded as mounts. ``@app.route(path, methods=[...])`` and ``app.add_route(...)`` on a
Starlette application are read too (on a FastAPI application, ``add_route`` is read here).

Not read: ``WebSocketRoute``, ``Host`` routing, route lists built by comprehension or
``append``.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext, statements_breadth_first
from decouple_services.detect.facts import RawMount, RawRoute
from decouple_services.detect.servers._common import (
    NO_PREFIX,
    Extracted,
    Frame,
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
    method_call,
    owner_value,
    view_routes,
    walk,
)
from decouple_services.detect.values import Lit, Ref, Value, concat

_DEFAULT = ("GET",)
_APP_CALLS = frozenset({"add_route", "mount"})
_ROUTE = frozenset({"starlette.routing.Route"})
_MOUNT = frozenset({"starlette.routing.Mount"})
_TABLE_ITEMS = _ROUTE | _MOUNT
#: Constructors taking ``routes=``, with the position of that argument.
_APPS = {
    "starlette.applications.Starlette": 1,
    "starlette.Starlette": 1,
    "starlette.routing.Router": 0,
    "fastapi.FastAPI": 1,
    "fastapi.applications.FastAPI": 1,
}


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """Route tables, mounts and application routes of one module."""
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    if not any(q.startswith(("starlette.", "fastapi")) for q in ctx.imports.values()):
        return routes, mounts, []
    reader = _Reader(routes, mounts)
    targets = _assignment_targets(tree)
    tables: list[tuple[ast.List | ast.Tuple, Value, Frame]] = []
    for node, frame in walk(tree, ctx):
        if not isinstance(node, ast.Call):
            continue
        qual = ctx.qualname(node.func)
        if qual in _APPS:
            owner = _owner_of(node, targets, frame)
            given = argument(node, _APPS[qual], "routes")
            if isinstance(given, ast.List | ast.Tuple):
                tables.append((given, owner, frame))
            elif given is not None:
                mounts.append(
                    RawMount("starlette", owner, owner_value(given, frame), NO_PREFIX, node.lineno)
                )
    # Named lists holding routes: `routes = [Route(...), Mount(...)]`.
    seen = {id(table) for table, _, _ in tables}
    frames = {id(node): frame for node, frame in walk(tree, ctx) if isinstance(node, ast.Call)}
    for value, name in targets.values():
        if not isinstance(value, ast.List | ast.Tuple) or id(value) in seen:
            continue
        first = next(
            (
                e
                for e in value.elts
                if isinstance(e, ast.Call) and ctx.qualname(e.func) in _TABLE_ITEMS
            ),
            None,
        )
        if first is not None and id(first) in frames:
            frame = frames[id(first)]
            tables.append((value, owner_value(name, frame), frame))
    for table, owner, frame in tables:
        reader.table(table, owner, Lit(""), frame)
    _app_methods(tree, ctx, routes, mounts)
    return routes, mounts, []


class _Reader:
    def __init__(self, routes: list[RawRoute], mounts: list[RawMount]) -> None:
        self.routes = routes
        self.mounts = mounts

    def table(self, table: ast.List | ast.Tuple, owner: Value, prefix: Value, frame: Frame) -> None:
        ctx = frame.ctx
        for item in table.elts:
            if not isinstance(item, ast.Call):
                continue
            qual = ctx.qualname(item.func)
            if qual in _ROUTE:
                given = argument(item, 0, "path")
                endpoint = argument(item, 1, "endpoint")
                if given is None or endpoint is None:
                    continue
                path = concat(prefix, evaluate(given, frame))
                methods = given_methods(item, frame)
                self.routes.extend(
                    view_routes(
                        "starlette", owner, path, endpoint, frame, item.lineno, methods, _DEFAULT
                    )
                )
            elif qual in _MOUNT:
                given = argument(item, 0, "path")
                if given is None:
                    continue
                inner = concat(prefix, evaluate(given, frame))
                nested = argument(item, None, "routes")
                child = argument(item, 1, "app")
                if isinstance(nested, ast.List | ast.Tuple):
                    self.table(nested, owner, inner, frame)
                elif nested is not None:
                    self.mounts.append(
                        RawMount("starlette", owner, owner_value(nested, frame), inner, item.lineno)
                    )
                elif child is not None:
                    self.mounts.append(
                        RawMount("starlette", owner, owner_value(child, frame), inner, item.lineno)
                    )


def _app_methods(
    tree: ast.Module, ctx: ModuleContext, routes: list[RawRoute], mounts: list[RawMount]
) -> None:
    """``@app.route``, ``app.add_route`` and ``app.mount`` on a Starlette application."""
    for deco, node, frame in decorated(tree, ctx):
        found = method_call(deco)
        if found is None or found[1] != "route" or isinstance(node, ast.ClassDef):
            continue
        given = argument(deco, 0, "path")
        if given is None or framework_of(found[0], frame) != "starlette":
            continue
        methods = literal_methods(argument(deco, None, "methods"), frame, _DEFAULT)
        owner = owner_value(found[0], frame)
        routes.append(
            RawRoute(
                "starlette",
                owner,
                methods,
                evaluate(given, frame),
                def_qualname(node, frame),
                deco.lineno,
            )
        )
    for call, (receiver, name), frame in calls(tree, ctx, _APP_CALLS):
        framework = framework_of(receiver, frame)
        given = argument(call, 0, "path")
        if given is None:
            continue
        owner = owner_value(receiver, frame)
        if name == "mount" and framework == "starlette":
            child = argument(call, 1, "app")
            if child is not None:
                mounts.append(
                    RawMount(
                        "starlette",
                        owner,
                        owner_value(child, frame),
                        evaluate(given, frame),
                        call.lineno,
                    )
                )
        elif name == "add_route" and framework in ("starlette", "fastapi"):
            endpoint = argument(call, 1, "route")
            if endpoint is None:
                continue
            allowed = given_methods(call, frame)
            path = evaluate(given, frame)
            routes.extend(
                view_routes(
                    "starlette", owner, path, endpoint, frame, call.lineno, allowed, _DEFAULT
                )
            )


def _assignment_targets(tree: ast.Module) -> dict[int, tuple[ast.expr, ast.Name]]:
    """id(value) -> (value, target) for every ``name = value`` in the module."""
    found: dict[int, tuple[ast.expr, ast.Name]] = {}
    for node in statements_breadth_first(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            found[id(node.value)] = (node.value, node.targets[0])
        elif (
            isinstance(node, ast.AnnAssign)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            found[id(node.value)] = (node.value, node.target)
    return found


def _owner_of(call: ast.Call, targets: dict[int, tuple[ast.expr, ast.Name]], frame: Frame) -> Value:
    """The name an application is assigned to, or one made up from where it is created."""
    target = targets.get(id(call))
    if target is not None:
        return owner_value(target[1], frame)
    return Ref(f"{frame.qualname}.<app:{call.lineno}>")


EXAMPLES = (
    ServerExample(
        snippet("""
            from starlette.applications import Starlette
            from starlette.routing import Route

            async def health(request):
                ...

            async def notify(request):
                ...

            routes = [
                Route("/health", health),
                Route("/notify", notify, methods=["POST"]),
            ]

            app = Starlette(routes=routes)
        """),
        module="notifications.app",
        routes=(
            Route(
                "GET", "/health", "notifications.app.health", 11, owner="notifications.app.routes"
            ),
            Route(
                "POST", "/notify", "notifications.app.notify", 12, owner="notifications.app.routes"
            ),
        ),
        mounts=(Mount("notifications.app.app", "notifications.app.routes", "<none>", 15),),
    ),
    ServerExample(
        snippet("""
            from starlette.applications import Starlette
            from starlette.endpoints import HTTPEndpoint
            from starlette.routing import Mount, Route

            from .admin import admin_app

            class Users(HTTPEndpoint):
                async def get(self, request):
                    ...

                async def post(self, request):
                    ...

            async def user(request):
                ...

            app = Starlette(
                routes=[
                    Mount("/api", routes=[
                        Route("/users", Users),
                        Route("/users/{user_id:int}", user, methods=["GET", "DELETE"]),
                    ]),
                    Mount("/admin", app=admin_app),
                ]
            )
        """),
        module="svc.app",
        routes=(
            Route("GET", "/api/users", "svc.app.Users.get", 20, owner="svc.app.app"),
            Route("POST", "/api/users", "svc.app.Users.post", 20, owner="svc.app.app"),
            Route(
                "GET DELETE", "/api/users/{user_id:int}", "svc.app.user", 21, owner="svc.app.app"
            ),
        ),
        mounts=(Mount("svc.app.app", "svc.admin.admin_app", "/admin", 23),),
    ),
    ServerExample(
        snippet("""
            from starlette.applications import Starlette

            app = Starlette()

            @app.route("/items", methods=["GET", "POST"])
            async def items(request):
                ...

            async def item(request):
                ...

            app.add_route("/items/{item_id}", item)
        """),
        routes=(
            Route("GET POST", "/items", "example.items", 5, owner="example.app"),
            Route("GET", "/items/{item_id}", "example.item", 12, owner="example.app"),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # a list of something else, and a Route class that is not Starlette's
    snippet("""
        from myrouting import Route

        async def home(request):
            ...

        routes = [Route("/", home)]
        handlers = [home]
    """),
    snippet("""
        from starlette.routing import WebSocketRoute

        async def ws(websocket):
            ...

        routes = [WebSocketRoute("/ws", ws)]
    """),
)
