"""Endpoints joined across files (prefixes, mounts, includes, gRPC paths) and calls matched to them."""

from __future__ import annotations

import textwrap

import pytest

from decouple_services.core.model import Endpoint, Severity
from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.facts import FileFacts
from decouple_services.detect.servers import SERVER_EXTRACTORS
from decouple_services.resolve.endpoints import (
    build_endpoints,
    join_path,
    match_endpoint,
    normalise_template,
    path_length,
    template_length,
)
from decouple_services.resolve.index import ProjectIndex

OPTIONS = ExtractOptions(server_extractors=SERVER_EXTRACTORS)


def _facts(files: dict[str, str]) -> list[FileFacts]:
    """``{"svc/pkg/mod.py": code}``: the first directory is the service, the rest the module."""
    found = []
    for path, code in files.items():
        parts = path.removesuffix(".py").split("/")[1:]
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        source = textwrap.dedent(code).lstrip("\n").encode()
        found.append(extract_facts(source, path, module, OPTIONS, is_package=is_package))
    return found


def _build(files: dict[str, str]) -> tuple[list[Endpoint], list[str]]:
    facts = _facts(files)
    constants = {c.qualname: c.value for f in facts for c in f.constants}

    def service_of(path: str) -> str:
        return path.split("/")[0]

    endpoints, diagnostics = build_endpoints(facts, service_of, constants.get)
    # the same when a service's own constants are read from the index's table of every
    # constant (what a scan hands it) instead of a table made again
    defined = ProjectIndex(facts, [], service_of).table("constants")
    assert build_endpoints(facts, service_of, constants.get, defined=defined) == (
        endpoints,
        diagnostics,
    )
    return endpoints, [f"{d.file}:{d.line} {d.code}" for d in diagnostics]


def _labels(endpoints: list[Endpoint]) -> set[tuple[str, str, str]]:
    return {(e.service, e.method, e.path) for e in endpoints}


# --- composition -------------------------------------------------------------------------


def test_a_flask_blueprint_prefix_is_replaced_by_the_prefix_it_is_registered_with() -> None:
    endpoints, diagnostics = _build(
        {
            "web/shop/views/users.py": """
                from flask import Blueprint

                bp = Blueprint("users", __name__, url_prefix="/users")

                @bp.get("/<int:user_id>")
                def user(user_id):
                    ...
            """,
            "web/shop/views/account.py": """
                from flask import Blueprint

                from ..settings import ACCOUNT_PREFIX

                bp = Blueprint("account", __name__, url_prefix=ACCOUNT_PREFIX)

                @bp.route("/login", methods=["POST"])
                def login():
                    ...
            """,
            "web/shop/settings.py": 'ACCOUNT_PREFIX = "/account"\n',
            "web/shop/app.py": """
                from flask import Flask

                from .views.account import bp as account_bp
                from .views.users import bp as users_bp

                def create_app():
                    app = Flask(__name__)
                    app.register_blueprint(users_bp, url_prefix="/api/v2/users")
                    app.register_blueprint(account_bp)
                    return app
            """,
        }
    )

    assert _labels(endpoints) == {
        ("web", "GET", "/api/v2/users/{user_id}"),
        ("web", "POST", "/account/login"),
    }
    assert diagnostics == []
    login = next(e for e in endpoints if e.method == "POST")
    assert (login.handler, login.file, login.line) == (
        "shop.views.account.login",
        "web/shop/views/account.py",
        7,
    )


def test_nested_flask_blueprints_join_their_prefixes() -> None:
    endpoints, _ = _build(
        {
            "web/site/api.py": """
                from flask import Blueprint, Flask

                api = Blueprint("api", __name__, url_prefix="/api")
                orders = Blueprint("orders", __name__, url_prefix="/orders")

                @orders.get("/")
                def list_orders():
                    ...

                api.register_blueprint(orders)
                app = Flask(__name__)
                app.register_blueprint(api)
            """,
        }
    )

    assert _labels(endpoints) == {("web", "GET", "/api/orders/")}


def test_a_fastapi_router_included_with_a_prefix_keeps_its_own_prefix_after_it() -> None:
    endpoints, _ = _build(
        {
            "orders/orders/api.py": """
                from fastapi import APIRouter

                router = APIRouter(prefix="/orders")

                @router.get("")
                async def list_orders():
                    ...

                @router.get("/{order_id}")
                async def get_order(order_id: str):
                    ...
            """,
            "orders/orders/main.py": """
                from fastapi import FastAPI

                from .api import router as orders_router

                app = FastAPI()
                app.include_router(orders_router, prefix="/api")
            """,
        }
    )

    assert _labels(endpoints) == {
        ("orders", "GET", "/api/orders"),
        ("orders", "GET", "/api/orders/{order_id}"),
    }


def test_a_router_included_twice_serves_under_both_prefixes() -> None:
    endpoints, _ = _build(
        {
            "svc/app/main.py": """
                from fastapi import APIRouter, FastAPI

                router = APIRouter()

                @router.post("/items")
                def create():
                    ...

                app = FastAPI()
                app.include_router(router, prefix="/v1")
                app.include_router(router, prefix="/v2")
            """,
        }
    )

    assert _labels(endpoints) == {("svc", "POST", "/v1/items"), ("svc", "POST", "/v2/items")}


def test_a_django_include_chain_of_two_levels_joins_the_paths_from_the_root_urlconf() -> None:
    endpoints, diagnostics = _build(
        {
            "users/site/urls.py": """
                from django.urls import include, path

                from accounts import views

                urlpatterns = [
                    path("health", views.health),
                    path("api/", include("accounts.urls")),
                ]
            """,
            "users/accounts/urls.py": """
                from django.urls import include, path

                from . import views

                urlpatterns = [
                    path("users/<int:pk>/", views.user_detail),
                    path("orders/", include("accounts.orders.urls")),
                ]
            """,
            "users/accounts/orders/urls.py": """
                from django.urls import re_path

                from .. import views

                urlpatterns = [re_path(r"^(?P<order_id>\\d+)/cancel/$", views.cancel)]
            """,
            "users/accounts/views.py": """
                from django.views.decorators.http import require_POST

                def health(request):
                    ...

                def user_detail(request, pk):
                    ...

                @require_POST
                def cancel(request, order_id):
                    ...
            """,
        }
    )

    assert _labels(endpoints) == {
        ("users", "*", "/health"),
        ("users", "*", "/api/users/{pk}/"),
        ("users", "POST", "/api/orders/{order_id}/cancel/"),
    }
    assert diagnostics == []


def test_a_django_include_finds_the_urlconf_under_a_longer_module_name() -> None:
    """Django imports ``shop.urls`` from inside the service; the scan may know it as ``src.shop.urls``."""
    endpoints, _ = _build(
        {
            "svc/src/site/urls.py": """
                from django.urls import include, path

                urlpatterns = [path("shop/", include("shop.urls"))]
            """,
            "svc/src/shop/urls.py": """
                from django.urls import path

                from .views import cart

                urlpatterns = [path("cart/", cart)]
            """,
        }
    )

    assert _labels(endpoints) == {("svc", "*", "/shop/cart/")}


def test_two_services_with_the_same_module_names_keep_their_own_prefixes() -> None:
    api = """
        from fastapi import APIRouter

        router = APIRouter(prefix="/%s")

        @router.get("/{item_id}")
        def get(item_id):
            ...
    """
    main = """
        from fastapi import FastAPI

        from app.api import router

        app = FastAPI()
        app.include_router(router, prefix="/%s")
    """
    endpoints, _ = _build(
        {
            "carts/app/api.py": api % "carts",
            "carts/app/main.py": main % "v1",
            "stock/app/api.py": api % "stock",
            "stock/app/main.py": main % "v2",
        }
    )

    assert _labels(endpoints) == {
        ("carts", "GET", "/v1/carts/{item_id}"),
        ("stock", "GET", "/v2/stock/{item_id}"),
    }


def test_restx_namespaces_take_their_path_or_name_under_the_api_prefix() -> None:
    endpoints, diagnostics = _build(
        {
            "thoughts/backend/api_namespace.py": """
                from flask_restx import Namespace, Resource

                api_namespace = Namespace("api", description="API operations")

                @api_namespace.route("/me/thoughts/")
                class MeThoughts(Resource):
                    def get(self):
                        ...

                    def post(self):
                        ...
            """,
            "thoughts/backend/admin_namespace.py": """
                from flask_restx import Namespace, Resource

                admin = Namespace("admin", path="/internal")

                @admin.route("/thoughts/<int:thought_id>/")
                class Thought(Resource):
                    def delete(self, thought_id):
                        ...
            """,
            "thoughts/backend/app.py": """
                from flask import Flask
                from flask_restx import Api

                def create_app():
                    from backend.api_namespace import api_namespace
                    from backend.admin_namespace import admin

                    application = Flask(__name__)
                    api = Api(application, version="0.1", prefix="/v1")
                    api.add_namespace(api_namespace)
                    api.add_namespace(admin, path="/ops")
                    return application
            """,
        }
    )

    assert _labels(endpoints) == {
        ("thoughts", "GET", "/v1/api/me/thoughts/"),
        ("thoughts", "POST", "/v1/api/me/thoughts/"),
        ("thoughts", "DELETE", "/v1/ops/thoughts/{thought_id}/"),
    }
    assert diagnostics == []
    post = next(e for e in endpoints if e.method == "POST")
    assert (post.handler, post.framework) == ("backend.api_namespace.MeThoughts.post", "flask")


def test_an_api_on_a_blueprint_sits_under_the_blueprints_prefix_then_its_own() -> None:
    endpoints, _ = _build(
        {
            "users/app/api.py": """
                from flask import Blueprint
                from flask_restplus import Api, Resource

                bp = Blueprint("api", __name__, url_prefix="/api")
                api = Api(bp, prefix="/v2")
                users = api.namespace("users")

                @users.route("/<int:user_id>")
                class User(Resource):
                    def get(self, user_id):
                        ...

                @api.route("/health")
                class Health(Resource):
                    def get(self):
                        ...
            """,
            "users/app/main.py": """
                from flask import Flask

                from app.api import bp

                app = Flask(__name__)
                app.register_blueprint(bp, url_prefix="/gateway")
            """,
        }
    )

    assert _labels(endpoints) == {
        ("users", "GET", "/gateway/v2/users/{user_id}"),
        ("users", "GET", "/gateway/v2/health"),
    }


def test_flask_restful_resources_take_the_api_prefix_given_second() -> None:
    endpoints, _ = _build(
        {
            "stock/app/resources.py": """
                from flask_restful import Resource

                class Item(Resource):
                    def put(self, item_id):
                        ...
            """,
            "stock/app/main.py": """
                from flask import Flask
                from flask_restful import Api

                from app.resources import Item

                app = Flask(__name__)
                api = Api(app, "/api")
                api.add_resource(Item, "/items/<int:item_id>", "/item/<int:item_id>")
            """,
        }
    )

    assert _labels(endpoints) == {
        ("stock", "*", "/api/items/{item_id}"),
        ("stock", "*", "/api/item/{item_id}"),
    }


def test_copies_of_one_factory_app_in_two_services_serve_their_own_routes() -> None:
    namespace = """
        from flask_restx import Namespace, Resource

        ns = Namespace("%s")

        @ns.route("/items/")
        class Items(Resource):
            def post(self):
                ...
    """
    app = """
        from flask import Flask
        from flask_restx import Api

        def create_app():
            from backend.ns import ns

            application = Flask(__name__)
            Api(application).add_namespace(ns)
            api = Api(application)
            api.add_namespace(ns)
            return application
    """
    endpoints, _ = _build(
        {
            "first/backend/ns.py": namespace % "one",
            "first/backend/app.py": app,
            "second/backend/ns.py": namespace % "two",
            "second/backend/app.py": app,
        }
    )

    assert _labels(endpoints) == {
        ("first", "POST", "/one/items/"),
        ("second", "POST", "/two/items/"),
    }


def test_a_blueprint_from_a_shared_library_is_served_by_the_service_registering_it() -> None:
    endpoints, _ = _build(
        {
            "libs/health/views.py": """
                from flask import Blueprint

                bp = Blueprint("health", __name__)

                @bp.get("/live")
                def live():
                    ...
            """,
            "web/web/app.py": """
                from flask import Flask

                from health.views import bp

                app = Flask(__name__)
                app.register_blueprint(bp, url_prefix="/_health")
            """,
        }
    )

    assert _labels(endpoints) == {("web", "GET", "/_health/live")}


def test_aiohttp_route_table_and_sub_application_get_their_prefixes() -> None:
    endpoints, _ = _build(
        {
            "inventory/inventory/app.py": """
                from aiohttp import web

                from .admin import admin

                routes = web.RouteTableDef()

                @routes.get("/items/{item_id}")
                async def get_item(request):
                    ...

                async def release(request):
                    ...

                def create_app():
                    app = web.Application()
                    app.add_routes(routes)
                    app.router.add_post("/stock/release", release)
                    app.add_subapp("/admin/", admin)
                    return app
            """,
            "inventory/inventory/admin.py": """
                from aiohttp import web

                async def purge(request):
                    ...

                admin = web.Application()
                admin.add_routes([web.delete("/cache", purge)])
            """,
        }
    )

    assert _labels(endpoints) == {
        ("inventory", "GET", "/items/{item_id}"),
        ("inventory", "POST", "/stock/release"),
        ("inventory", "DELETE", "/admin/cache"),
    }


def test_a_starlette_mount_of_a_route_list_from_another_module_prefixes_it() -> None:
    endpoints, _ = _build(
        {
            "notify/notify/app.py": """
                from starlette.applications import Starlette
                from starlette.routing import Mount, Route

                from .api import api_routes

                async def health(request):
                    ...

                app = Starlette(routes=[Route("/health", health), Mount("/api", routes=api_routes)])
            """,
            "notify/notify/api.py": """
                from starlette.routing import Mount, Route

                async def send(request):
                    ...

                api_routes = [Mount("/v1", routes=[Route("/messages/{mid:int}", send, methods=["PUT"])])]
            """,
        }
    )

    assert _labels(endpoints) == {
        ("notify", "GET", "/health"),
        ("notify", "PUT", "/api/v1/messages/{mid}"),
    }


def test_a_grpc_servicer_method_is_served_at_the_path_of_the_generated_stub() -> None:
    endpoints, diagnostics = _build(
        {
            "payments/payments/payments_pb2_grpc.py": """
                class PaymentServiceStub(object):
                    def __init__(self, channel):
                        self.Charge = channel.unary_unary('/shop.payments.v1.PaymentService/Charge')
            """,
            "payments/payments/server.py": """
                from . import payments_pb2_grpc

                class PaymentService(payments_pb2_grpc.PaymentServiceServicer):
                    def Charge(self, request, context):
                        ...

                    def healthy(self):
                        return True
            """,
        }
    )

    assert endpoints == [
        Endpoint(
            "payments",
            "grpc",
            "RPC",
            "/shop.payments.v1.PaymentService/Charge",
            "payments.server.PaymentService.Charge",
            "payments/payments/server.py",
            4,
            "grpc",
        )
    ]
    assert diagnostics == []


def test_a_servicer_whose_generated_module_was_imported_top_level_still_finds_its_path() -> None:
    endpoints, _ = _build(
        {
            "recs/src/demo_pb2_grpc.py": """
                class RecsStub:
                    def __init__(self, channel):
                        self.List = channel.unary_stream('/demo.Recs/List')
            """,
            "recs/src/server.py": """
                import demo_pb2_grpc

                class Recs(demo_pb2_grpc.RecsServicer):
                    def List(self, request, context):
                        ...
            """,
        }
    )

    assert [e.path for e in endpoints] == ["/demo.Recs/List"]


def test_a_servicer_without_its_generated_module_keeps_an_unknown_package_and_says_so() -> None:
    endpoints, diagnostics = _build(
        {
            "mail/mail/server.py": """
                from protos import mail_pb2_grpc

                class Mail(mail_pb2_grpc.MailerServicer):
                    def Send(self, request, context):
                        ...
            """,
        }
    )

    assert [e.path for e in endpoints] == ["/{?}.Mailer/Send"]
    assert diagnostics == ["mail/mail/server.py:4 grpc-path-unresolved"]


def test_a_path_part_known_only_at_run_time_stays_unknown_and_the_endpoint_is_still_reported() -> (
    None
):
    endpoints, diagnostics = _build(
        {
            "svc/app/main.py": """
                import os
                from fastapi import APIRouter, FastAPI

                router = APIRouter(prefix=os.environ["API_PREFIX"])

                @router.get("/items/{item_id}")
                def item(item_id):
                    ...

                app = FastAPI()
                app.include_router(router, prefix=os.getenv("ROOT", "/root"))
            """,
        }
    )

    assert _labels(endpoints) == {("svc", "GET", "/root/{?}/items/{item_id}")}
    assert diagnostics == ["svc/app/main.py:6 route-path-unresolved"]


def test_mounts_that_form_a_cycle_are_reported_and_do_not_loop() -> None:
    endpoints, diagnostics = _build(
        {
            "svc/app/main.py": """
                from fastapi import APIRouter

                a = APIRouter(prefix="/a")
                b = APIRouter(prefix="/b")

                @a.get("/x")
                def x():
                    ...

                a.include_router(b)
                b.include_router(a)
            """,
        }
    )

    assert {e.path for e in endpoints} == {"/b/a/x"}
    assert [d.split()[1] for d in diagnostics] == ["mount-cycle"]


def test_an_endpoint_belongs_to_the_service_of_its_file_and_unknown_outside_any() -> None:
    facts = _facts(
        {
            "svc/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/a')\ndef a(): ...\n"
        }
    )

    endpoints, _ = build_endpoints(facts, lambda path: None, lambda name: None)

    assert [(e.service, e.path) for e in endpoints] == [("unknown", "/a")]


def test_diagnostics_are_notes_or_warnings_never_errors() -> None:
    facts = _facts(
        {
            "svc/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.get(PATH)\ndef a(): ...\n"
        }
    )

    _, diagnostics = build_endpoints(facts, lambda path: "svc", lambda name: None)

    assert [d.severity for d in diagnostics] == [Severity.NOTE]


# --- templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "template"),
    [
        ("/users/<int:user_id>", "/users/{user_id}"),
        ("/files/<path:name>", "/files/{name}"),
        ("/lang/<string(length=2):code>/", "/lang/{code}/"),
        ("users/<int:pk>/", "/users/{pk}/"),
        (r"^orders/(?P<id>\d+)/$", "/orders/{id}/"),
        (r"^items/(?P<sku>[A-Z]{3}-\d+)/?$", "/items/{sku}/"),
        (r"^archive/(\d{4})/$", "/archive/{?}/"),
        (r"^static\.json$", "/static.json"),
        ("/items/{item_id:path}", "/items/{item_id}"),
        ("/users/{user_id}", "/users/{user_id}"),
        ("", "/"),
    ],
)
def test_every_framework_path_syntax_becomes_a_braced_template(written: str, template: str) -> None:
    assert join_path([normalise_template(written)]) == template


def test_joining_collapses_doubled_slashes_and_keeps_the_last_trailing_slash() -> None:
    assert join_path(["/api/", "/orders", "", "/{id}/"]) == "/api/orders/{id}/"
    assert join_path(["api", "orders"]) == "/api/orders"


# --- matching ----------------------------------------------------------------------------


def _endpoint(method: str, written: str, protocol: str = "http", handler: str = "h") -> Endpoint:
    return Endpoint(
        "users", protocol, method, join_path([normalise_template(written)]), handler, "f.py", 1
    )


@pytest.mark.parametrize(
    "written",
    ["/users/<int:user_id>", "/users/{user_id}", "users/<int:pk>", r"^users/(?P<id>\d+)/$"],
)
@pytest.mark.parametrize(
    "called", ["/users/{uid}", "/users/{user.id}", "/users/42", "/users/42/", "/users/42?full=1"]
)
def test_each_parameter_style_matches_a_call_with_a_runtime_or_literal_segment(
    written: str, called: str
) -> None:
    endpoint = _endpoint("GET", written)

    assert match_endpoint("GET", called, [endpoint]) == endpoint


@pytest.mark.parametrize("called", ["/users/42/orders", "/users", "/accounts/42", "/"])
def test_a_call_with_other_segments_matches_nothing(called: str) -> None:
    assert match_endpoint("GET", called, [_endpoint("GET", "/users/<int:user_id>")]) is None


def test_a_call_of_another_method_matches_nothing() -> None:
    assert match_endpoint("DELETE", "/users/42", [_endpoint("GET", "/users/{id}")]) is None


def test_an_endpoint_of_any_method_takes_every_method_and_a_call_of_unknown_method_takes_any() -> (
    None
):
    any_method = _endpoint("*", "users/<int:pk>/")
    only_get = _endpoint("GET", "/users/{id}")

    assert match_endpoint("PATCH", "/users/7/", [any_method]) == any_method
    assert match_endpoint(None, "/users/7", [only_get]) == only_get


def test_the_most_specific_template_wins_over_a_parameter() -> None:
    me = _endpoint("GET", "/users/me", handler="me")
    by_id = _endpoint("GET", "/users/{id}", handler="by_id")

    assert match_endpoint("GET", "/users/me", [by_id, me]) == me
    assert match_endpoint("GET", "/users/42", [by_id, me]) == by_id
    assert match_endpoint("GET", "/users/{uid}", [me, by_id]) == by_id


def test_an_exact_method_wins_over_any_method_at_equal_specificity() -> None:
    star = _endpoint("*", "/users/{id}", handler="star")
    post = _endpoint("POST", "/users/{id}", handler="post")

    assert match_endpoint("POST", "/users/1", [star, post]) == post
    assert match_endpoint("PUT", "/users/1", [star, post]) == star


def test_of_equal_scores_the_first_in_endpoint_order_wins_whatever_the_order_given() -> None:
    first = _endpoint("GET", "/users/{id}", handler="a_first")
    second = _endpoint("GET", "/users/{pk}", handler="b_second")
    twin = _endpoint("GET", "/users/{id}", handler="a_first")
    other_file = Endpoint("users", "http", "GET", "/users/{id}", "a_first", "a.py", 9)

    for given in ([first, second], [second, first]):
        assert match_endpoint("GET", "/users/1", given) is first
    assert match_endpoint("GET", "/users/1", [second, twin, first]) is twin
    assert match_endpoint("GET", "/users/1", [first, other_file, second]) is other_file


@pytest.mark.parametrize(
    "path",
    ["/", "/users", "/users/1", "/users/1/", "http://h:8/users/{a/b}/x?q=1#f", "users/{id}.csv"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", None])
def test_only_templates_of_the_paths_length_can_match_it(path: str, method: str | None) -> None:
    written = ["/", "/users", "/users/{id}", "/users/{id}/x", "/users/{id}.csv", "/{a}/{b}/{c}"]
    endpoints = [_endpoint(m, w) for w in written for m in ("GET", "*")]
    same_length = [e for e in endpoints if template_length(e) == path_length(path)]

    assert match_endpoint(method, path, endpoints) == match_endpoint(method, path, same_length)
    for endpoint in endpoints:
        if template_length(endpoint) != path_length(path):
            assert match_endpoint(method, path, [endpoint]) is None


def test_a_segment_mixing_text_and_a_parameter_matches_on_its_text() -> None:
    export = _endpoint("GET", "/reports/{name}.csv")

    assert match_endpoint("GET", "/reports/{day}.csv", [export]) == export
    assert match_endpoint("GET", "/reports/may.csv", [export]) == export
    assert match_endpoint("GET", "/reports/may.json", [export]) is None


def test_a_full_url_is_matched_on_its_path() -> None:
    endpoint = _endpoint("GET", "/users/{id}")

    assert match_endpoint("GET", "http://users:8080/users/42#top", [endpoint]) == endpoint


def test_a_grpc_endpoint_matches_only_its_exact_path() -> None:
    charge = _endpoint("RPC", "/shop.payments.v1.PaymentService/Charge", protocol="grpc")

    assert match_endpoint("Charge", "/shop.payments.v1.PaymentService/Charge", [charge]) == charge
    assert match_endpoint("Charge", "/shop.payments.v1.PaymentService/Refund", [charge]) is None


def test_two_services_with_a_module_of_one_name_read_their_own_constants() -> None:
    # `app.config.PREFIX` in each: a service's routes read its own (the index's table of
    # every constant holds both, in the order of the files)
    api = """
        from fastapi import APIRouter

        from app.config import PREFIX

        router = APIRouter(prefix=PREFIX)

        @router.get("/items")
        def items():
            return []
    """
    endpoints, _ = _build(
        {
            "users/app/config.py": 'PREFIX = "/users"\n',
            "users/app/api.py": api,
            "orders/app/config.py": 'PREFIX = "/orders"\n',
            "orders/app/api.py": api,
        }
    )
    assert _labels(endpoints) == {
        ("users", "GET", "/users/items"),
        ("orders", "GET", "/orders/items"),
    }
