"""Django URLconfs: ``path``, ``re_path``, ``url`` and ``include``, and the methods views accept.

In any module, a list assigned at module level (``urlpatterns = [...]``, also ``+=`` and
``urlpatterns.extend/append``, or any other name such as ``api_patterns``) that holds
``path(route, view)``, ``re_path(regex, view)`` or ``url(regex, view)`` entries is a route
table owned by ``Ref("<module>.<name>")``. Views are functions (``views.user_detail``) or
class-based views (``UserView.as_view()``). ``path("api/", include("users.urls"))`` is a mount
of ``users.urls.urlpatterns``; ``include(other_patterns)`` mounts a named list (or, for an
imported urls module, its ``urlpatterns``), and ``include([...])`` inline is joined directly.
Paths are kept as written (``users/<int:pk>/``, ``^orders/(?P<id>\\d+)/$``): resolution adds the
leading ``/``, joins included paths with ``/`` and turns both syntaxes into ``{name}``.

A route accepts any method (``*``) unless its view says otherwise. So that views in another
module can say it, each view restricted by ``@require_POST``, ``@require_GET``,
``@require_safe``, ``@require_http_methods([...])`` or DRF's ``@api_view([...])``, and each
class-based view (a subclass of a ``...View``) defining ``get``/``post``/... methods, is recorded
as a ``django-view`` fact (a :class:`RawRoute` with an empty path and no owner) that resolution
applies to the routes naming it.

DRF routers: ``router = DefaultRouter()`` (or ``SimpleRouter()``) at module level, then
``router.register("projects", views.ProjectViewSet)``, is a route table owned by
``Ref("<module>.router.urls")`` holding one ``drf-router`` fact per registration (path the
prefix, handler the viewset); ``include(router.urls)`` and ``urlpatterns = router.urls + [...]``
mount it. Each ``@action`` of a viewset (also the older ``@detail_route``/``@list_route``) is
a ``drf-action`` fact with its methods, its path below the prefix (``<pk>/artefacts/`` for
``detail=True``, ``validate/`` otherwise) and the action's method as its handler; resolution turns a registration into the viewset's
list route (``projects/``), its detail route (``projects/<pk>/``) and one route per action
the viewset's own class body defines.

Not read: ``admin.site.urls``, actions a viewset inherits from a base class of its own,
patterns built in loops or functions, and i18n prefixes.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext, module_level_statements
from decouple_services.detect.facts import RawMount, RawRoute
from decouple_services.detect.servers._common import (
    HTTP_METHODS,
    Extracted,
    Frame,
    Mount,
    Route,
    ServerExample,
    argument,
    class_methods,
    definitions,
    evaluate,
    handler_name,
    literal_methods,
)
from decouple_services.detect.values import Dyn, Lit, Ref, Value, concat

#: Framework name of the facts that carry a view's accepted methods.
VIEW_FACT = "django-view"
#: Framework names of a DRF router's registration and of a viewset's extra action.
ROUTER_FACT = "drf-router"
ACTION_FACT = "drf-action"
#: Owner of the ``drf-action`` fact that gives a viewset's ``lookup_field`` (``<code>/``).
LOOKUP = Dyn("lookup")
_ROUTERS = frozenset(
    {"rest_framework.routers.DefaultRouter", "rest_framework.routers.SimpleRouter"}
)
#: ``@action`` and the decorators it replaced, with the ``detail`` each implies.
_ACTIONS: dict[str, bool | None] = {
    "rest_framework.decorators.action": None,
    "rest_framework.decorators.detail_route": True,
    "rest_framework.decorators.list_route": False,
}
_ANY = ("*",)
_PATTERNS = frozenset(
    {
        "django.urls.path",
        "django.urls.re_path",
        "django.urls.conf.path",
        "django.urls.conf.re_path",
        "django.conf.urls.url",
        "django.conf.urls.re_path",
    }
)
_INCLUDE = frozenset(
    {"django.urls.include", "django.urls.conf.include", "django.conf.urls.include"}
)
_DECORATORS: dict[str, tuple[str, ...] | None] = {
    "django.views.decorators.http.require_GET": ("GET",),
    "django.views.decorators.http.require_POST": ("POST",),
    "django.views.decorators.http.require_safe": ("GET", "HEAD"),
    # these two take the list of methods as their argument
    "django.views.decorators.http.require_http_methods": None,
    "rest_framework.decorators.api_view": None,
}


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """URL patterns and view method restrictions of one module."""
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    if not any(q.startswith(("django.", "rest_framework.")) for q in ctx.imports.values()):
        return routes, mounts, []
    frame = Frame(ctx, "module", ctx.module, node=tree)
    routers: set[str] = set()
    for stmt in module_level_statements(tree.body):
        _router(stmt, frame, routers, routes)
        for name, table in _tables(stmt):
            owner = Ref(f"{ctx.module}.{name}")
            if isinstance(table, ast.Attribute):  # urlpatterns = router.urls + [...]
                child = _router_urls(table, frame, routers)
                if child is not None:
                    mounts.append(RawMount("django", owner, child, Lit(""), stmt.lineno))
                continue
            _read(table, owner, Lit(""), frame, routes, mounts, routers)
    _views(tree, ctx, routes)
    return routes, mounts, []


def _router(stmt: ast.stmt, frame: Frame, routers: set[str], routes: list[RawRoute]) -> None:
    """``router = DefaultRouter()`` names a router; ``router.register(prefix, ViewSet)``
    registers a viewset on it."""
    ctx = frame.ctx
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Call)
        and ctx.qualname(stmt.value.func) in _ROUTERS
    ):
        routers.add(stmt.targets[0].id)
        return
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return
    call = stmt.value
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "register"
        and isinstance(func.value, ast.Name)
        and func.value.id in routers
    ):
        return
    prefix, viewset = argument(call, 0, "prefix"), argument(call, 1, "viewset")
    if prefix is None or viewset is None:
        return
    owner = Ref(f"{ctx.module}.{func.value.id}.urls")
    path = evaluate(prefix, frame)
    routes.append(
        RawRoute(ROUTER_FACT, owner, _ANY, path, handler_name(viewset, frame), stmt.lineno)
    )


def _router_urls(expr: ast.expr, frame: Frame, routers: frozenset[str] | set[str]) -> Ref | None:
    """The route table of ``router.urls``: a router of this module, or one imported
    (``api.router.urls``); ``admin.site.urls`` and other ``.urls`` of Django are not."""
    if not (isinstance(expr, ast.Attribute) and expr.attr == "urls"):
        return None
    if isinstance(expr.value, ast.Name) and expr.value.id in routers:
        return Ref(f"{frame.ctx.module}.{expr.value.id}.urls")
    qual = frame.ctx.qualname(expr.value)
    if qual is None or qual.startswith(("django.", "rest_framework.")) or "." not in qual:
        return None
    return Ref(f"{qual}.urls")


def _tables(stmt: ast.stmt) -> list[tuple[str, ast.expr]]:
    """(name, list expression) pairs a module-level statement contributes to a name."""
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        return [(stmt.targets[0].id, part) for part in _summands(stmt.value)]
    if (
        isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and stmt.value is not None
    ):
        return [(stmt.target.id, part) for part in _summands(stmt.value)]
    if (
        isinstance(stmt, ast.AugAssign)
        and isinstance(stmt.target, ast.Name)
        and isinstance(stmt.op, ast.Add)
    ):
        return [(stmt.target.id, part) for part in _summands(stmt.value)]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and call.args:
            if func.attr == "extend":
                return [(func.value.id, part) for part in _summands(call.args[0])]
            if func.attr == "append":
                return [(func.value.id, ast.List(elts=[call.args[0]], ctx=ast.Load()))]
    return []


def _summands(expr: ast.expr) -> list[ast.expr]:
    """``[...] + [...] + router.urls + static(...)`` -> the list literals and ``.urls`` in it."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _summands(expr.left) + _summands(expr.right)
    if isinstance(expr, ast.List | ast.Tuple):
        return [expr]
    if isinstance(expr, ast.Attribute) and expr.attr == "urls":
        return [expr]
    return []


def _read(
    table: ast.expr,
    owner: Value,
    prefix: Value,
    frame: Frame,
    routes: list[RawRoute],
    mounts: list[RawMount],
    routers: frozenset[str] | set[str] = frozenset(),
) -> None:
    if not isinstance(table, ast.List | ast.Tuple):
        return
    ctx = frame.ctx
    for item in table.elts:
        if not isinstance(item, ast.Call) or ctx.qualname(item.func) not in _PATTERNS:
            continue
        route, view = argument(item, 0, "route"), argument(item, 1, "view")
        if route is None or view is None:
            continue
        path = _join(prefix, evaluate(route, frame))
        if isinstance(view, ast.Call) and ctx.qualname(view.func) in _INCLUDE:
            _include(view, owner, path, frame, routes, mounts, item.lineno, routers)
        elif not (isinstance(view, ast.Attribute) and view.attr == "urls"):
            routes.append(
                RawRoute("django", owner, _ANY, path, handler_name(view, frame), item.lineno)
            )


def _include(
    call: ast.Call,
    owner: Value,
    prefix: Value,
    frame: Frame,
    routes: list[RawRoute],
    mounts: list[RawMount],
    line: int,
    routers: frozenset[str] | set[str],
) -> None:
    target = argument(call, 0, "arg")
    if isinstance(target, ast.Tuple) and target.elts:
        # include(("app.urls", "app_name")) and include((patterns, "app_name"))
        target = target.elts[0]
    if target is None:
        return
    if isinstance(target, ast.Attribute) and target.attr == "urls":
        child = _router_urls(target, frame, routers)
        if child is not None:
            mounts.append(RawMount("django", owner, child, prefix, line))
        return
    if isinstance(target, ast.List):
        _read(target, owner, prefix, frame, routes, mounts, routers)
        return
    value = evaluate(target, frame)
    if isinstance(value, Lit):
        mounts.append(RawMount("django", owner, Ref(f"{value.text}.urlpatterns"), prefix, line))
    elif isinstance(value, Ref):
        mounts.append(RawMount("django", owner, value, prefix, line))


def _join(prefix: Value, path: Value) -> Value:
    """An inline ``include([...])``: the prefix, then the path, with one ``/`` between."""
    if prefix == Lit("") or (isinstance(prefix, Lit) and prefix.text.endswith("/")):
        return concat(prefix, path)
    return concat(prefix, Lit("/"), path)


def _views(tree: ast.Module, ctx: ModuleContext, routes: list[RawRoute]) -> None:
    """Method restrictions of the views defined in this module."""
    for node, frame in definitions(tree, ctx):
        qual = f"{frame.qualname}.{node.name}"
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and frame.kind == "module":
            methods = _decorated_methods(node, frame)
            if methods is not None:
                routes.append(RawRoute(VIEW_FACT, Dyn("view"), methods, Lit(""), qual, node.lineno))
        elif isinstance(node, ast.ClassDef):
            routes.extend(_actions(node, qual, frame))
            if not any(b.rpartition(".")[2].endswith("View") for b in ctx.base_qualnames(node)):
                continue
            handlers = class_methods(node, HTTP_METHODS)
            if handlers:
                methods = tuple(m.name.upper() for m in handlers)
                routes.append(RawRoute(VIEW_FACT, Dyn("view"), methods, Lit(""), qual, node.lineno))


def _actions(cls: ast.ClassDef, qual: str, frame: Frame) -> list[RawRoute]:
    """A viewset's extra actions: ``@action(detail=True, methods=["patch"], url_path="x")``
    answers ``<pk>/x/`` below the viewset's prefix (``<lookup_field>`` when the class names
    one, and a fact of its own says so for the detail route), ``detail=False`` answers
    ``x/``; the path defaults to the method's name."""
    lookup = "pk"
    for stmt in cls.body:
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "lookup_field" for t in stmt.targets)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            lookup = stmt.value.value
    out = []
    if lookup != "pk":  # the viewset's detail route reads it too
        out.append(RawRoute(ACTION_FACT, LOOKUP, (), Lit(f"<{lookup}>/"), qual, cls.lineno))
    for stmt in cls.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for deco in stmt.decorator_list:
            func = deco.func if isinstance(deco, ast.Call) else deco
            qualname = frame.ctx.qualname(func)
            if qualname not in _ACTIONS:
                continue
            detail = _ACTIONS[qualname]
            call = deco if isinstance(deco, ast.Call) else None
            if detail is None:
                flag = argument(call, None, "detail") if call is not None else None
                if not (isinstance(flag, ast.Constant) and isinstance(flag.value, bool)):
                    break  # ``detail`` is required; one not written as True/False is not read
                detail = flag.value
            given = argument(call, None, "url_path") if call is not None else None
            if given is None:
                url_path: Value = Lit(stmt.name)
            else:
                url_path = evaluate(given, frame)
            methods = literal_methods(
                argument(call, None, "methods") if call is not None else None, frame, ("GET",)
            )
            head = Lit(f"<{lookup}>/") if detail else Lit("")
            path = concat(head, url_path, Lit("/"))
            handler = f"{qual}.{stmt.name}"
            out.append(RawRoute(ACTION_FACT, Dyn("view"), methods, path, handler, stmt.lineno))
            break
    return out


def _decorated_methods(
    node: ast.FunctionDef | ast.AsyncFunctionDef, frame: Frame
) -> tuple[str, ...] | None:
    for deco in node.decorator_list:
        func = deco.func if isinstance(deco, ast.Call) else deco
        qual = frame.ctx.qualname(func)
        if qual not in _DECORATORS:
            continue
        fixed = _DECORATORS[qual]
        if fixed is not None:
            return fixed
        given = argument(deco, 0, "http_method_names") if isinstance(deco, ast.Call) else None
        # api_view without arguments allows GET only
        return literal_methods(given, frame, ("GET",))
    return None


EXAMPLES = (
    ServerExample(
        snippet("""
            from django.urls import path, re_path

            from . import views

            urlpatterns = [
                path("users/", views.UserListView.as_view(), name="user-list"),
                path("users/<int:user_id>/", views.user_detail),
                re_path(r"^users/(?P<user_id>[0-9]+)/deactivate/$", views.deactivate),
            ]
        """),
        module="accounts.urls",
        routes=(
            Route(
                "*", "users/", "accounts.views.UserListView", 6, owner="accounts.urls.urlpatterns"
            ),
            Route(
                "*",
                "users/<int:user_id>/",
                "accounts.views.user_detail",
                7,
                owner="accounts.urls.urlpatterns",
            ),
            Route(
                "*",
                "^users/(?P<user_id>[0-9]+)/deactivate/$",
                "accounts.views.deactivate",
                8,
                owner="accounts.urls.urlpatterns",
            ),
        ),
    ),
    ServerExample(
        snippet("""
            from django.contrib import admin
            from django.urls import include, path
            from rest_framework.routers import DefaultRouter

            from accounts import views as account_views

            router = DefaultRouter()

            urlpatterns = [
                path("admin/", admin.site.urls),
                path("health", account_views.health),
                path("api/", include("accounts.urls")),
                path("v1/", include(router.urls)),
                path("legacy/", include([path("ping/", account_views.ping)])),
            ]
        """),
        module="site.urls",
        routes=(
            Route("*", "health", "accounts.views.health", 11, owner="site.urls.urlpatterns"),
            Route("*", "legacy/ping/", "accounts.views.ping", 14, owner="site.urls.urlpatterns"),
        ),
        mounts=(
            Mount("site.urls.urlpatterns", "accounts.urls.urlpatterns", "api/", 12),
            Mount("site.urls.urlpatterns", "site.urls.router.urls", "v1/", 13),
        ),
    ),
    ServerExample(
        snippet("""
            from django.urls import path
            from rest_framework.routers import SimpleRouter

            from catalog import views

            router = SimpleRouter()
            router.register("products", views.ProductViewSet)

            urlpatterns = router.urls + [path("ping/", views.ping)]
        """),
        module="catalog.urls",
        routes=(
            Route(
                "*",
                "products",
                "catalog.views.ProductViewSet",
                7,
                owner="catalog.urls.router.urls",
            ),
            Route("*", "ping/", "catalog.views.ping", 9, owner="catalog.urls.urlpatterns"),
        ),
        mounts=(Mount("catalog.urls.urlpatterns", "catalog.urls.router.urls", "", 9),),
    ),
    ServerExample(
        snippet("""
            from rest_framework import viewsets
            from rest_framework.decorators import action

            class ProductViewSet(viewsets.ModelViewSet):
                @action(detail=True, methods=["patch"], url_path="stock-level")
                def stock_level(self, request, pk=None):
                    ...

                @action(detail=False, methods=["post"])
                def reindex(self, request):
                    ...

            class ShelfViewSet(viewsets.ModelViewSet):
                lookup_field = "code"

                @action(detail=True)
                def label(self, request, code=None):
                    ...
        """),
        module="catalog.views",
        routes=(
            Route("PATCH", "<pk>/stock-level/", "catalog.views.ProductViewSet.stock_level", 6),
            Route("POST", "reindex/", "catalog.views.ProductViewSet.reindex", 10),
            Route("", "<code>/", "catalog.views.ShelfViewSet", 13),
            Route("GET", "<code>/label/", "catalog.views.ShelfViewSet.label", 17),
        ),
    ),
    ServerExample(
        snippet("""
            from django.conf.urls import url
            from django.urls import include

            from .views import orders

            order_patterns = [url(r"^(?P<id>\\d+)/$", orders)]

            urlpatterns = []
            urlpatterns += [url(r"^orders/", include(order_patterns))]
        """),
        module="shop.urls",
        routes=(
            Route("*", r"^(?P<id>\d+)/$", "shop.views.orders", 6, owner="shop.urls.order_patterns"),
        ),
        mounts=(Mount("shop.urls.urlpatterns", "shop.urls.order_patterns", "^orders/", 9),),
    ),
    ServerExample(
        snippet("""
            from django.views import View
            from django.views.decorators.http import require_http_methods, require_POST
            from rest_framework.decorators import api_view

            @require_POST
            def login(request):
                ...

            @require_http_methods(["GET", "PATCH"])
            def preferences(request, user_id):
                ...

            @api_view(["DELETE"])
            def remove(request, pk):
                ...

            class UserListView(View):
                def get(self, request):
                    ...
        """),
        module="accounts.views",
        routes=(
            Route("POST", "", "accounts.views.login", 6),
            Route("GET PATCH", "", "accounts.views.preferences", 10),
            Route("DELETE", "", "accounts.views.remove", 14),
            Route("GET", "", "accounts.views.UserListView", 17),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # ``register`` on something that is not a DRF router, an ``@action`` whose ``detail`` is
    # not written, and ``admin.site.urls``
    snippet("""
        from django.contrib import admin
        from django.urls import include, path
        from rest_framework.decorators import action

        registry = {}
        registry.register("products", object)

        class Tools:
            @action(methods=["post"])
            def run(self, request):
                ...

        patterns = admin.site.urls
    """),
    # a list of paths that are not URL patterns, and a `path` of another library
    snippet("""
        from pathlib import Path
        from django.conf import settings

        STATIC_DIRS = [Path("static"), Path("assets")]
    """),
    snippet("""
        from django.urls import path

        def build():
            return [path("x/", lambda request: None)]
    """),
)
