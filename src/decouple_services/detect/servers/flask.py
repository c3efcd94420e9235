"""Flask routes: apps, blueprints and their prefixes.

Reads ``@app.route(rule, methods=[...])`` (``GET`` when ``methods`` is not given), the
shortcuts ``@bp.get``, ``post``, ``put``, ``patch`` and ``delete``, and
``app.add_url_rule(rule, view_func=..., methods=...)``, also with a ``MethodView`` class
(``UserAPI.as_view("user")``) defined in the same module, whose ``get``/``post``/... methods
become one route each. The object a route is registered on is kept as its owner, so a
``Blueprint(..., url_prefix="/account")`` lends its prefix at resolution, and
``app.register_blueprint(bp, url_prefix="/admin")`` (which replaces the blueprint's own prefix,
as Flask does) is recorded as a mount, also between blueprints. Objects created inside an
application factory (``def create_app(): app = Flask(__name__)``) are followed too.

A route decorator counts when its object is a Flask app or blueprint, or, when the module does
not show what it is (a blueprint imported from the package), when the module imports Flask or
the decorator is ``.route`` with a path starting with ``/``.

Not read: routes added in loops over lists of rules, ``app.url_map.add(Rule(...))``, view
functions registered only by endpoint name (``@app.endpoint``), and the implicit ``HEAD`` and
``OPTIONS`` methods.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.facts import RawMount, RawRoute
from decouple_services.detect.servers._common import (
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

_SHORTCUTS = frozenset({"get", "post", "put", "patch", "delete"})
_DEFAULT = ("GET",)
_CALLS = frozenset({"add_url_rule", "register_blueprint"})


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """Routes and blueprint registrations of one module."""
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    for deco, node, frame in decorated(tree, ctx):
        found = method_call(deco)
        if found is None or isinstance(node, ast.ClassDef):
            continue
        receiver, name = found
        if name != "route" and name not in _SHORTCUTS:
            continue
        rule = argument(deco, 0, "rule")
        if rule is None:
            continue
        path = evaluate(rule, frame)
        framework = framework_of(receiver, frame)
        if framework != "flask" and not (
            framework is None and name == "route" and looks_like_path(path)
        ):
            continue
        if name == "route":
            methods = literal_methods(argument(deco, None, "methods"), frame, _DEFAULT)
        else:
            methods = (name.upper(),)
        owner = owner_value(receiver, frame)
        routes.append(
            RawRoute("flask", owner, methods, path, def_qualname(node, frame), deco.lineno)
        )
    for call, (receiver, name), frame in calls(tree, ctx, _CALLS):
        framework = framework_of(receiver, frame)
        if name == "register_blueprint":
            child = argument(call, 0, "blueprint")
            if child is None or framework not in ("flask", None):
                continue
            prefix = prefix_value(argument(call, None, "url_prefix"), frame)
            mounts.append(
                RawMount(
                    "flask",
                    owner_value(receiver, frame),
                    owner_value(child, frame),
                    prefix,
                    call.lineno,
                )
            )
            continue
        rule = argument(call, 0, "rule")
        view = argument(call, 2, "view_func")
        if rule is None or view is None:
            continue
        path = evaluate(rule, frame)
        if framework != "flask" and not (framework is None and looks_like_path(path)):
            continue
        allowed = given_methods(call, frame)
        routes.extend(
            view_routes(
                "flask",
                owner_value(receiver, frame),
                path,
                view,
                frame,
                call.lineno,
                allowed,
                _DEFAULT,
            )
        )
    return routes, mounts, []


EXAMPLES = (
    ServerExample(
        snippet("""
            from flask import Flask

            app = Flask(__name__)

            @app.route("/users/<int:user_id>", methods=["GET", "PUT"])
            def user(user_id):
                ...

            @app.route("/health")
            def health():
                return "ok"
        """),
        routes=(
            Route("GET PUT", "/users/<int:user_id>", "example.user", 5, owner="example.app"),
            Route("GET", "/health", "example.health", 9, owner="example.app"),
        ),
    ),
    ServerExample(
        snippet("""
            from flask import Blueprint

            bp = Blueprint("account", __name__, url_prefix="/account")

            @bp.post("/login")
            def login():
                ...

            @bp.delete("/sessions/<sid>")
            def logout(sid):
                ...
        """),
        routes=(
            Route("POST", "/login", "example.login", 5, owner="example.bp"),
            Route("DELETE", "/sessions/<sid>", "example.logout", 9, owner="example.bp"),
        ),
    ),
    ServerExample(
        snippet("""
            from flask import Flask

            from .views.account import bp as account_bp
            from .views.admin import bp as admin_bp

            def health():
                return "ok"

            def create_app():
                app = Flask(__name__)
                app.register_blueprint(account_bp)
                app.register_blueprint(admin_bp, url_prefix="/admin")
                app.add_url_rule("/health", view_func=health)
                return app
        """),
        module="shop.app",
        routes=(Route("GET", "/health", "shop.app.health", 13, owner="flask.Flask()"),),
        mounts=(
            Mount("flask.Flask()", "shop.views.account.bp", "<none>", 11),
            Mount("flask.Flask()", "shop.views.admin.bp", "/admin", 12),
        ),
    ),
    ServerExample(
        snippet("""
            from flask.views import MethodView

            class UserAPI(MethodView):
                def get(self, user_id):
                    ...

                def delete(self, user_id):
                    ...

            def register(app):
                app.add_url_rule("/users/<int:user_id>", view_func=UserAPI.as_view("user"))
        """),
        routes=(
            Route(
                "GET",
                "/users/<int:user_id>",
                "example.UserAPI.get",
                11,
                owner="example.register.app",
            ),
            Route("DELETE", "/users/<int:user_id>", "example.UserAPI.delete", 11),
        ),
    ),
    ServerExample(
        snippet("""
            from . import bp
            from .constants import API

            @bp.route(API + "/orders", methods=("post",))
            def create_order():
                ...
        """),
        module="shop.orders.views",
        routes=(
            Route(
                "POST", "{API}/orders", "shop.orders.views.create_order", 4, owner="shop.orders.bp"
            ),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # a cache decorator, a CLI command and a plain function named route
    snippet("""
        from flask import Flask
        from flask_caching import Cache

        app = Flask(__name__)
        cache = Cache(app)

        @cache.cached(timeout=60)
        def expensive():
            ...

        @app.cli.command("seed")
        def seed():
            ...
    """),
    snippet("""
        def route(path):
            return lambda f: f

        @route("/users")
        def users():
            ...
    """),
    # a dictionary lookup on an unknown object is not a route, without flask in sight
    snippet("""
        registry = {}

        @registry.get("users")
        def users():
            ...
    """),
)
