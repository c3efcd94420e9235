"""Flask-RESTX, Flask-RESTPlus and Flask-RESTful routes: resources on namespaces and APIs.

Reads ``@ns.route("/a", "/b")`` on a ``Resource`` class (each of its ``get``/``post``/...
methods handles that method on every path), ``api.add_resource(Resource, "/a", "/b")``
(Flask-RESTful's way, also on a namespace), ``ns = api.namespace("name", path=...)``,
``api.add_namespace(ns, path=...)`` and ``api = Api(app_or_blueprint)`` /
``api.init_app(app)``. The routes are Flask routes (the application serving them is a Flask
app), so they are recorded as ``flask`` with the namespace or API as owner:

- a ``Namespace("users", path="/u")`` lends ``path=`` (``/users`` when none is given) and an
  ``Api(prefix="/v1")`` its prefix, read from the constructor at resolution;
- ``add_namespace(ns, path=...)`` replaces the namespace's own path, as the library does; an
  ``Api`` built on an app or a blueprint is mounted on it, so a blueprint's ``url_prefix``
  comes in front of the API's prefix.

A route on a class defined elsewhere (``api.add_resource(UserResource, "/users")`` with the
class imported) answers any method: the methods are in the other module.

Only modules importing one of the three packages are read (the gate :func:`extract` checks
first, so other modules are not walked). Not read: a module adding resources to an API made
elsewhere without importing the library itself, resources added in loops, and
``Api(..., doc=...)`` documentation routes.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.facts import RawMount, RawRoute
from decouple_services.detect.servers._common import (
    NOT_AN_OWNER,
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
    method_call,
    owner_value,
    prefix_value,
    view_routes,
    walk,
)
from decouple_services.detect.values import Lit, Obj, Ref, Value, concat

#: The packages whose ``Api``, ``Namespace`` and ``Resource`` this module reads.
PACKAGES = ("flask_restx", "flask_restplus", "flask_restful")
#: The routes are served by the Flask app (resolution and migration treat them as Flask's).
_FRAMEWORK = "flask"
_ANY = ("*",)
_CALLS = frozenset({"add_resource", "add_namespace", "namespace", "init_app"})


def imports_restful(ctx: ModuleContext) -> bool:
    """Whether the module imports Flask-RESTX, Flask-RESTPlus or Flask-RESTful."""
    return any(q.split(".", 1)[0] in PACKAGES for q in ctx.imports.values())


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """Resources, namespaces and APIs of one module."""
    if not imports_restful(ctx):
        return [], [], []
    routes: list[RawRoute] = []
    mounts: list[RawMount] = []
    _decorated_resources(tree, ctx, routes)
    for call, (receiver, name), frame in calls(tree, ctx, _CALLS):
        if framework_of(receiver, frame) == NOT_AN_OWNER:
            continue
        owner = owner_value(receiver, frame)
        if name == "add_resource":
            view = argument(call, 0, "resource")
            if view is None:
                continue
            for rule in _urls(call, 1):
                path = evaluate(rule, frame)
                routes.extend(
                    view_routes(_FRAMEWORK, owner, path, view, frame, call.lineno, None, _ANY)
                )
        elif name == "add_namespace":
            child = argument(call, 0, "ns")
            if child is not None:
                path = prefix_value(argument(call, None, "path"), frame)
                mounts.append(
                    RawMount(_FRAMEWORK, owner, owner_value(child, frame), path, call.lineno)
                )
        elif name == "init_app":
            app = argument(call, 0, "app")
            if app is not None and _is_api(receiver, frame):
                mounts.append(_on_app(owner, app, frame, call.lineno))
    mounts.extend(_constructed(tree, ctx))
    return routes, mounts, []


def _decorated_resources(tree: ast.Module, ctx: ModuleContext, routes: list[RawRoute]) -> None:
    """``@ns.route(*urls)`` on a class: one route per HTTP method of the class and url."""
    for deco, node, frame in decorated(tree, ctx):
        found = method_call(deco)
        if found is None or found[1] != "route" or not isinstance(node, ast.ClassDef):
            continue
        receiver = found[0]
        if framework_of(receiver, frame) == NOT_AN_OWNER:
            continue
        owner = owner_value(receiver, frame)
        qual = def_qualname(node, frame)
        handlers = class_methods(node)
        for rule in _urls(deco, 0):
            path = evaluate(rule, frame)
            routes.extend(
                RawRoute(
                    _FRAMEWORK, owner, (m.name.upper(),), path, f"{qual}.{m.name}", deco.lineno
                )
                for m in handlers
            )


def _urls(call: ast.Call, start: int) -> list[ast.expr]:
    """The url arguments from position ``start`` on (``route(*urls)``, ``add_resource(res,
    *urls)``), starred ones left out."""
    return [a for a in call.args[start:] if not isinstance(a, ast.Starred)]


def _is_api(expr: ast.expr, frame: Frame) -> bool:
    """Whether ``expr`` is an object this module builds with one of the packages' ``Api``."""
    value = evaluate(expr, frame)
    ctx = frame.ctx
    for _ in range(4):
        if isinstance(value, Obj):
            return value.type.split(".", 1)[0] in PACKAGES and value.type.endswith(".Api")
        if not isinstance(value, Ref):
            return False
        module, _, name = value.qualname.rpartition(".")
        if module != ctx.module or name not in ctx.globals:
            return False
        value = ctx.evaluate(ctx.globals[name])
    return False


def _on_app(api: Value, app: ast.expr, frame: Frame, line: int) -> RawMount:
    """An API put on a Flask app or blueprint: its routes sit under the blueprint's prefix."""
    return RawMount(_FRAMEWORK, owner_value(app, frame), api, prefix_value(None, frame), line)


def _constructed(tree: ast.Module, ctx: ModuleContext) -> list[RawMount]:
    """``api = Api(app)`` and ``ns = api.namespace("name", path=...)``: the API mounted on
    the app or blueprint it is built on, the namespace on the API under its path."""
    if not ctx.mentions("Api", "namespace"):
        return []  # a module of resources alone: no walk of the tree for assignments
    targets: dict[int, ast.Name] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
        ):
            targets[id(node.value)] = node.targets[0]
    if not targets:
        return []
    mounts: list[RawMount] = []
    for node, frame in walk(tree, ctx):
        target = targets.get(id(node))
        if target is None or not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "namespace":
            if framework_of(func.value, frame) == NOT_AN_OWNER or not _is_api(func.value, frame):
                continue
            name = argument(node, 0, "name")
            given = argument(node, 2, "path")
            if given is not None:
                path = evaluate(given, frame)
            elif name is not None:
                path = concat(Lit("/"), evaluate(name, frame))
            else:
                continue
            mounts.append(
                RawMount(
                    _FRAMEWORK,
                    owner_value(func.value, frame),
                    owner_value(target, frame),
                    path,
                    node.lineno,
                )
            )
            continue
        qual = ctx.qualname(func, frame.scope)
        if qual is None or qual.split(".", 1)[0] not in PACKAGES or not qual.endswith(".Api"):
            continue
        app = argument(node, 0, "app")
        if app is None or (isinstance(app, ast.Constant) and app.value is None):
            continue
        mounts.append(_on_app(owner_value(target, frame), app, frame, node.lineno))
    return mounts


EXAMPLES = (
    ServerExample(
        snippet("""
            from flask_restx import Namespace, Resource

            ns = Namespace("orders", description="Order operations")

            @ns.route("/", "/all")
            class OrderList(Resource):
                def get(self):
                    ...

                def post(self):
                    ...

            @ns.route("/<int:order_id>")
            class Order(Resource):
                def delete(self, order_id):
                    ...

                def _audit(self):
                    ...
        """),
        module="shop.orders",
        routes=(
            Route("GET", "/", "shop.orders.OrderList.get", 5, owner="shop.orders.ns"),
            Route("POST", "/", "shop.orders.OrderList.post", 5, owner="shop.orders.ns"),
            Route("GET", "/all", "shop.orders.OrderList.get", 5),
            Route("POST", "/all", "shop.orders.OrderList.post", 5),
            Route("DELETE", "/<int:order_id>", "shop.orders.Order.delete", 13),
        ),
    ),
    ServerExample(
        snippet("""
            from flask import Blueprint, Flask
            from flask_restplus import Api

            from shop.orders import ns as orders

            blueprint = Blueprint("api", __name__, url_prefix="/api")
            api = Api(blueprint, prefix="/v1")
            api.add_namespace(orders, path="/o")

            def create_app():
                app = Flask(__name__)
                app.register_blueprint(blueprint)
                return app
        """),
        module="shop.app",
        mounts=(
            Mount("shop.app.blueprint", "shop.app.api", "<none>", 7),
            Mount("shop.app.api", "shop.orders.ns", "/o", 8),
            Mount("flask.Flask()", "shop.app.blueprint", "<none>", 12),
        ),
    ),
    ServerExample(
        snippet("""
            from flask import Flask
            from flask_restful import Api, Resource

            from .resources import UserResource

            class Health(Resource):
                def get(self):
                    return {"ok": True}

            app = Flask(__name__)
            api = Api(app, prefix="/v2")
            api.add_resource(Health, "/health")
            api.add_resource(UserResource, "/users/<int:user_id>", "/user/<int:user_id>")
        """),
        module="users.app",
        routes=(
            Route("GET", "/health", "users.app.Health.get", 12, owner="users.app.api"),
            Route("*", "/users/<int:user_id>", "users.resources.UserResource", 13),
            Route("*", "/user/<int:user_id>", "users.resources.UserResource", 13),
        ),
        mounts=(Mount("users.app.app", "users.app.api", "<none>", 11),),
    ),
    ServerExample(
        snippet("""
            from flask_restx import Api, Resource

            api = Api()
            todos = api.namespace("todos", description="TODO operations")

            @todos.route("/<string:todo_id>")
            class Todo(Resource):
                async def put(self, todo_id):
                    ...

            @api.route("/ping")
            class Ping(Resource):
                def head(self):
                    ...

            def create_app(app):
                api.init_app(app)
                return app
        """),
        routes=(
            Route("PUT", "/<string:todo_id>", "example.Todo.put", 6, owner="example.todos"),
            Route("HEAD", "/ping", "example.Ping.head", 11, owner="example.api"),
        ),
        mounts=(
            Mount("example.api", "example.todos", "/todos", 4),
            Mount("example.create_app.app", "example.api", "<none>", 17),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # the same shapes without any of the three packages imported
    snippet("""
        from tasks import Namespace, Resource, registry

        ns = Namespace("jobs")

        @ns.route("/jobs")
        class Jobs(Resource):
            def get(self):
                ...

        registry.add_resource(Jobs, "/jobs")
    """),
    # a route decorator on a literal, a class without HTTP methods, a non-API namespace call
    snippet("""
        from flask_restx import Namespace, Resource

        handlers = {}
        ns = Namespace("jobs")

        @handlers.route("/x")
        class Job(Resource):
            def get(self):
                ...

        @ns.route("/helpers")
        class Helpers(Resource):
            def build(self):
                ...

        config = {}
        jobs = config.namespace("jobs")
    """),
)
