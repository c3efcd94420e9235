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

Not read: DRF routers (``include(router.urls)`` is skipped quietly), ``admin.site.urls``,
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
    for stmt in module_level_statements(tree.body):
        for name, table in _tables(stmt):
            _read(table, Ref(f"{ctx.module}.{name}"), Lit(""), frame, routes, mounts)
    _views(tree, ctx, routes)
    return routes, mounts, []


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
    """``[...] + [...] + static(...)`` -> the list literals in it."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _summands(expr.left) + _summands(expr.right)
    if isinstance(expr, ast.List | ast.Tuple):
        return [expr]
    return []


def _read(
    table: ast.expr,
    owner: Value,
    prefix: Value,
    frame: Frame,
    routes: list[RawRoute],
    mounts: list[RawMount],
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
            _include(view, owner, path, frame, routes, mounts, item.lineno)
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
) -> None:
    target = argument(call, 0, "arg")
    if isinstance(target, ast.Tuple) and target.elts:
        # include(("app.urls", "app_name")) and include((patterns, "app_name"))
        target = target.elts[0]
    if target is None or (isinstance(target, ast.Attribute) and target.attr == "urls"):
        return
    if isinstance(target, ast.List):
        _read(target, owner, prefix, frame, routes, mounts)
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
            if not any(b.rpartition(".")[2].endswith("View") for b in ctx.base_qualnames(node)):
                continue
            handlers = class_methods(node, HTTP_METHODS)
            if handlers:
                methods = tuple(m.name.upper() for m in handlers)
                routes.append(RawRoute(VIEW_FACT, Dyn("view"), methods, Lit(""), qual, node.lineno))


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
        mounts=(Mount("site.urls.urlpatterns", "accounts.urls.urlpatterns", "api/", 12),),
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
