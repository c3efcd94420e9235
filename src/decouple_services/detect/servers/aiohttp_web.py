"""aiohttp.web routes: route tables, the router's ``add_*`` methods and sub-applications.

Reads route table decorators (``routes = web.RouteTableDef()``, then ``@routes.get(path)``,
``post``, ``put``, ``patch``, ``delete``, ``head``, ``options``, ``@routes.route(method,
path)`` and ``@routes.view(path)`` on a class-based view), the router's methods
(``app.router.add_get(path, handler)``, ``add_post`` ... ``add_route(method, path, handler)``,
``add_view``), and route definitions passed to ``app.add_routes([web.get(path, handler),
web.post(...), web.route(method, path, handler), web.view(path, View)])`` or kept in a named
list. ``app.add_routes(routes)`` with a table or a named list, and
``app.add_subapp("/admin", admin)``, are recorded as mounts.

A class-based view (``web.View``) defined in the module gives one route per ``get``/``post``/...
method; one defined elsewhere gives a route for any method (``*``).

Not read: ``add_static``, routes added through a variable holding ``app.router``, and
resources built with ``add_resource(...).add_route(...)``.
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
    class_methods,
    decorated,
    def_qualname,
    evaluate,
    framework_of,
    literal_methods,
    method_call,
    owner_value,
    view_routes,
    walk,
)
from decouple_services.detect.values import Value

_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
_ANY = ("*",)
#: ``web.get(...)`` and friends, also under their home module ``aiohttp.web_routedef``.
_DEFS = {
    f"aiohttp.{module}.{name}": name
    for module in ("web", "web_routedef")
    for name in (*_VERBS, "route", "view")
}
_ADDERS = {f"add_{verb}": verb for verb in _VERBS}
_ROUTER_METHODS = frozenset({*_ADDERS, "add_route", "add_view", "add_routes", "add_subapp"})


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """Routes, route tables and sub-applications of one module."""
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    for deco, node, frame in decorated(tree, ctx):
        found = method_call(deco)
        if found is None or framework_of(found[0], frame) != "aiohttp":
            continue
        receiver, name = found
        owner = owner_value(receiver, frame)
        methods: tuple[str, ...] | None
        if name in _VERBS or name == "view":
            given = argument(deco, 0, "path")
            methods = (name.upper(),) if name in _VERBS else None
        elif name == "route":
            given = argument(deco, 1, "path")
            methods = literal_methods(argument(deco, 0, "method"), frame, _ANY)
        else:
            continue
        if given is None:
            continue
        path = evaluate(given, frame)
        handler = def_qualname(node, frame)
        if isinstance(node, ast.ClassDef) and methods is None:
            found_methods = class_methods(node)
            routes.extend(
                RawRoute(
                    "aiohttp", owner, (m.name.upper(),), path, f"{handler}.{m.name}", deco.lineno
                )
                for m in found_methods
            )
            if found_methods:
                continue
        routes.append(RawRoute("aiohttp", owner, methods or _ANY, path, handler, deco.lineno))
    # route definitions (`web.get(...)`) are recognised by qualified name, so need the import
    # (and a name `web` or `web_routedef` in the text, which their qualified names pass by)
    imports_aiohttp = any(q.startswith("aiohttp") for q in ctx.imports.values())
    named_lists = (
        _named_lists(tree, ctx) if imports_aiohttp and ctx.mentions("web", "web_routedef") else {}
    )
    for call, found, frame in calls(tree, ctx, _ROUTER_METHODS):
        _router_call(call, found, frame, routes, mounts, named_lists)
    for table, owner, frame in named_lists.values():
        _definitions(table, owner, frame, routes)
    return routes, mounts, []


def _router_call(
    call: ast.Call,
    found: tuple[ast.expr, str],
    frame: Frame,
    routes: list[RawRoute],
    mounts: list[RawMount],
    named_lists: dict[int, tuple[ast.List | ast.Tuple, Value, Frame]],
) -> None:
    receiver, name = found
    # `app.router.add_get(...)` belongs to the application
    on_router = isinstance(receiver, ast.Attribute) and receiver.attr == "router"
    app = receiver.value if isinstance(receiver, ast.Attribute) and on_router else receiver
    framework = framework_of(app, frame)
    if framework not in ("aiohttp", None):
        return
    owner = owner_value(app, frame)
    line = call.lineno
    if name in _ADDERS or name in ("add_route", "add_view"):
        if not on_router:
            return
        verb = "route" if name == "add_route" else _ADDERS.get(name, "view")
        _add_route(call, verb, owner, frame, routes)
    elif name == "add_routes":
        given = argument(call, 0, "routes")
        if isinstance(given, ast.List | ast.Tuple):
            if id(given) not in named_lists:
                _definitions(given, owner, frame, routes)
        elif given is not None and (framework == "aiohttp" or on_router):
            mounts.append(RawMount("aiohttp", owner, owner_value(given, frame), NO_PREFIX, line))
    elif name == "add_subapp" and not on_router:
        prefix, child = argument(call, 0, "prefix"), argument(call, 1, "subapp")
        if prefix is not None and child is not None:
            mounts.append(
                RawMount("aiohttp", owner, owner_value(child, frame), evaluate(prefix, frame), line)
            )


def _definitions(
    table: ast.List | ast.Tuple, owner: Value, frame: Frame, routes: list[RawRoute]
) -> None:
    """``[web.get("/a", handler), web.route("POST", "/b", other), ...]``."""
    for item in table.elts:
        if not isinstance(item, ast.Call):
            continue
        kind = _DEFS.get(frame.ctx.qualname(item.func) or "")
        if kind is None:
            continue
        _add_route(item, kind, owner, frame, routes)


def _add_route(
    call: ast.Call, verb: str, owner: Value, frame: Frame, routes: list[RawRoute]
) -> None:
    """The route(s) of ``route(method, path, handler)`` (``verb`` "route"), ``get(path,
    handler)`` and the like, or ``view(path, View)`` (any method the view defines)."""
    methods: tuple[str, ...] | None
    if verb == "route":
        given, handler = argument(call, 1, "path"), argument(call, 2, "handler")
        methods = literal_methods(argument(call, 0, "method"), frame, _ANY)
    else:
        given, handler = argument(call, 0, "path"), argument(call, 1, "handler")
        methods = None if verb == "view" else (verb.upper(),)
    if given is not None and handler is not None:
        routes.extend(
            view_routes(
                "aiohttp", owner, evaluate(given, frame), handler, frame, call.lineno, methods, _ANY
            )
        )


def _named_lists(
    tree: ast.Module, ctx: ModuleContext
) -> dict[int, tuple[ast.List | ast.Tuple, Value, Frame]]:
    """Lists of route definitions assigned to a name, by id of the list node."""
    # the calls' frames (a walk of the whole module) only once a list of definitions is met
    frames: dict[int, Frame] | None = None
    found: dict[int, tuple[ast.List | ast.Tuple, Value, Frame]] = {}
    for node in statements_breadth_first(tree):
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            continue
        table = node.value
        if not isinstance(table, ast.List | ast.Tuple):
            continue
        first = next(
            (e for e in table.elts if isinstance(e, ast.Call) and ctx.qualname(e.func) in _DEFS),
            None,
        )
        if first is None:
            continue
        if frames is None:
            frames = {id(n): frame for n, frame in walk(tree, ctx) if isinstance(n, ast.Call)}
        if id(first) in frames:
            frame = frames[id(first)]
            found[id(table)] = (table, owner_value(node.targets[0], frame), frame)
    return found


EXAMPLES = (
    ServerExample(
        snippet("""
            from aiohttp import web

            routes = web.RouteTableDef()

            @routes.get("/items/{item_id}")
            async def get_item(request):
                ...

            @routes.route("POST", "/stock/reserve")
            async def reserve(request):
                ...

            async def release(request):
                ...

            def create_app():
                app = web.Application()
                app.add_routes(routes)
                app.router.add_post("/stock/release", release)
                return app
        """),
        module="inventory.app",
        routes=(
            Route(
                "GET", "/items/{item_id}", "inventory.app.get_item", 5, owner="inventory.app.routes"
            ),
            Route(
                "POST", "/stock/reserve", "inventory.app.reserve", 9, owner="inventory.app.routes"
            ),
            Route(
                "POST",
                "/stock/release",
                "inventory.app.release",
                19,
                owner="aiohttp.web.Application()",
            ),
        ),
        mounts=(Mount("aiohttp.web.Application()", "inventory.app.routes", "<none>", 18),),
    ),
    ServerExample(
        snippet("""
            from aiohttp import web

            from .admin import admin_app
            from . import handlers

            class Cart(web.View):
                async def get(self):
                    ...

                async def delete(self):
                    ...

            app = web.Application()
            app.add_routes([
                web.get("/health", handlers.health),
                web.route("PATCH", "/carts/{cid}", handlers.patch_cart),
                web.view("/carts/{cid}/full", Cart),
            ])
            app.router.add_route("*", "/echo", handlers.echo)
            app.add_subapp("/admin/", admin_app)
        """),
        module="carts.app",
        routes=(
            Route("GET", "/health", "carts.handlers.health", 15, owner="carts.app.app"),
            Route("PATCH", "/carts/{cid}", "carts.handlers.patch_cart", 16, owner="carts.app.app"),
            Route("GET", "/carts/{cid}/full", "carts.app.Cart.get", 17, owner="carts.app.app"),
            Route(
                "DELETE", "/carts/{cid}/full", "carts.app.Cart.delete", 17, owner="carts.app.app"
            ),
            Route("*", "/echo", "carts.handlers.echo", 19, owner="carts.app.app"),
        ),
        mounts=(Mount("carts.app.app", "carts.admin.admin_app", "/admin/", 20),),
    ),
    ServerExample(
        snippet("""
            from aiohttp import web

            from .views import index, search

            ROUTES = [web.get("/", index), web.post("/search", search)]

            def setup(app: web.Application) -> None:
                app.add_routes(ROUTES)
        """),
        module="site.routes",
        routes=(
            Route("GET", "/", "site.views.index", 5, owner="site.routes.ROUTES"),
            Route("POST", "/search", "site.views.search", 5, owner="site.routes.ROUTES"),
        ),
        mounts=(Mount("site.routes.setup.app", "site.routes.ROUTES", "<none>", 8),),
    ),
)

COUNTER_EXAMPLES = (
    # aiohttp as a client only: a session's get is a call, not a route
    snippet("""
        import aiohttp

        async def fetch(session: aiohttp.ClientSession):
            async with session.get("/users") as resp:
                return await resp.json()
    """),
    snippet("""
        from aiohttp import web

        cache = {}

        @cache.get("/not-a-table")
        def nothing():
            ...
    """),
)
