"""Generated consumers calling real Flask, FastAPI, Starlette, Django, aiohttp and gRPC
handlers in-process: how an event becomes the request the handler used to get, and how its
answer becomes the consumer's decision (handled, retried, dead-lettered). No broker:
``handle_record`` is what the Kafka loop calls for each record."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from decouple_services.core.model import Endpoint
from decouple_services.migrate.generate import render_consumer
from decouple_services.migrate.spec import ConsumerSpec, HandlerRef, TopicSpec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "e2e"
_count = itertools.count()


def _consumer(
    tmp_path: Path, endpoint: Endpoint, attribute: str, app_object: str | None = None
) -> ModuleType:
    module = endpoint.handler.removesuffix("." + attribute)
    path_params = tuple(part[1:-1] for part in endpoint.path.split("/") if part.startswith("{"))
    topic = TopicSpec(
        name=f"{endpoint.service}.test",
        dead_letter=f"{endpoint.service}.test.dlq",
        callee=endpoint.service,
        producers=("caller",),
        event_type="com.example.test",
        endpoint=endpoint,
        path_params=path_params,
    )
    spec = ConsumerSpec(
        topic=topic,
        service=endpoint.service,
        path="consumer.py",
        module="consumer",
        group_id="group",
        client="kafka-python",
        handler=HandlerRef(endpoint, module, attribute, app_object),
        test_path="tests/test_consumer.py",
    )
    name = f"generated_consumer_{next(_count)}"
    target = tmp_path / f"{name}.py"
    target.write_text(render_consumer(spec), encoding="utf-8")
    loader = importlib.util.spec_from_file_location(name, target)
    assert loader is not None and loader.loader is not None
    generated = importlib.util.module_from_spec(loader)
    sys.modules[name] = generated  # dataclasses look their module up while it loads
    loader.loader.exec_module(generated)
    return generated


def _event(data: Any, **extra: Any) -> bytes:
    envelope = {"specversion": "1.0", "id": f"event-{next(_count)}", "data": data, **extra}
    return json.dumps(envelope).encode()


def _handle(consumer: ModuleType, value: bytes, handler: Any) -> Any:
    return consumer.handle_record(
        value,
        [("content-type", b"application/cloudevents+json"), ("X-Request-Id", b"req-7")],
        handler=handler,
        store=consumer.MemoryStore(10),
        max_retries=1,
        backoff_ms=1,
        wait=lambda seconds: False,
    )


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("E2E_RECORD_FILE", str(path))
    return path


def _recorded(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- Flask -------------------------------------------------------------------------------


@pytest.fixture
def mailer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "mailer"))


SEND = Endpoint("mailer", "http", "POST", "/send", "mailer.app.send", "mailer/app.py", 9, "flask")
WELCOME = Endpoint(
    "mailer",
    "http",
    "POST",
    "/users/{user_id}/welcome",
    "mailer.app.welcome",
    "mailer/app.py",
    20,
    "flask",
)


@pytest.mark.usefixtures("mailer")
def test_a_flask_view_reads_the_event_data_as_its_json_body_and_the_headers(
    tmp_path: Path, records: Path
) -> None:
    consumer = _consumer(tmp_path, SEND, "send", "app")
    body = {"to": "a@example.com", "template": "welcome"}
    outcome = _handle(consumer, _event(body), consumer.load_handler())
    assert outcome.action == "handled"
    assert _recorded(records) == [{"endpoint": "send", "body": body, "request_id": "req-7"}]


@pytest.mark.usefixtures("mailer")
def test_a_flask_view_gets_path_parameters_converted_by_the_url_map(
    tmp_path: Path, records: Path
) -> None:
    consumer = _consumer(tmp_path, WELCOME, "welcome", "app")
    handler = consumer.load_handler()
    outcome = _handle(consumer, _event(None, pathparams={"user_id": "7"}), handler)
    assert outcome.action == "handled"
    assert _recorded(records) == [{"endpoint": "welcome", "user_id": 7, "body": None}]


@pytest.mark.usefixtures("mailer")
def test_a_4xx_answer_is_dead_lettered_at_once_and_an_exception_after_its_retries(
    tmp_path: Path, records: Path
) -> None:
    consumer = _consumer(tmp_path, SEND, "send", "app")
    handler = consumer.load_handler()
    rejected = _handle(consumer, _event({"template": "welcome"}), handler)
    assert (rejected.action, rejected.attempts) == ("dead_letter", 1)
    assert str(rejected.error) == "the handler answered 400"
    poison = _handle(consumer, _event({"to": "x", "template": "poison"}), handler)
    assert (poison.action, poison.attempts, type(poison.error)) == ("dead_letter", 2, ValueError)
    assert _recorded(records) == []


@pytest.mark.usefixtures("mailer")
def test_an_event_without_its_path_parameters_is_dead_lettered(tmp_path: Path) -> None:
    consumer = _consumer(tmp_path, WELCOME, "welcome", "app")
    outcome = _handle(consumer, _event(None), consumer.load_handler())
    assert (outcome.action, str(outcome.error)) == (
        "dead_letter",
        "event has no path parameter user_id",
    )


# -- FastAPI -----------------------------------------------------------------------------


@pytest.fixture
def billing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "billing"))


REFUND = Endpoint(
    "billing",
    "http",
    "POST",
    "/api/orders/{order_id}/refund",
    "billing.api.refund",
    "billing/api.py",
    23,
    "fastapi",
)
INVOICES = Endpoint(
    "billing",
    "http",
    "POST",
    "/api/invoices",
    "billing.api.create_invoice",
    "billing/api.py",
    16,
    "fastapi",
)


@pytest.mark.usefixtures("billing")
def test_a_fastapi_handler_gets_a_model_built_from_the_data_and_its_background_tasks_run(
    tmp_path: Path, records: Path
) -> None:
    consumer = _consumer(tmp_path, INVOICES, "create_invoice")
    outcome = _handle(
        consumer, _event({"order_id": "o-1", "amount_cents": 5}), consumer.load_handler()
    )
    assert outcome.action == "handled"
    assert _recorded(records) == [
        {
            "endpoint": "invoices",
            "invoice": {"order_id": "o-1", "amount_cents": 5, "currency": "EUR"},
        },
        {"endpoint": "invoice-sent", "order_id": "o-1"},
    ]


@pytest.mark.usefixtures("billing")
def test_data_that_does_not_fit_the_fastapi_handler_is_dead_lettered_at_once(
    tmp_path: Path, records: Path
) -> None:
    invoices = _consumer(tmp_path, INVOICES, "create_invoice")
    bad_model = _handle(invoices, _event({"order_id": "o-1"}), invoices.load_handler())
    refunds = _consumer(tmp_path, REFUND, "refund")
    bad_path = _handle(refunds, _event({}, pathparams={"order_id": "x"}), refunds.load_handler())
    for outcome in (bad_model, bad_path):
        assert (outcome.action, outcome.attempts) == ("dead_letter", 1)
        assert type(outcome.error).__name__ == "PermanentError"
    assert _recorded(records) == []


def test_a_fastapi_handler_with_dependencies_is_refused_when_the_consumer_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "deps_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "api.py").write_text(
        "from fastapi import Depends\n\n\n"
        "def session():\n    return None\n\n\n"
        "def create(body: dict, db=Depends(session)):\n    return body\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    endpoint = Endpoint(
        "deps", "http", "POST", "/items", "deps_service.api.create", "api.py", 1, "fastapi"
    )
    consumer = _consumer(tmp_path, endpoint, "create")
    with pytest.raises(TypeError, match="Depends"):
        consumer.load_handler()


# -- Starlette ---------------------------------------------------------------------------

STARLETTE_APP = """\
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

received = []


async def notify(request):
    body = await request.json()
    received.append((body, dict(request.path_params), request.headers.get("x-request-id")))
    status = 503 if body.get("kind") == "down" else 202
    return JSONResponse({"queued": 1}, status_code=status)


app = Starlette(routes=[Route("/users/{user_id}/notify", notify, methods=["POST"])])
"""


def test_a_starlette_endpoint_gets_a_request_with_the_body_path_parameters_and_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "__init__.py").write_text("")
    (tmp_path / "alerts" / "app.py").write_text(STARLETTE_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    endpoint = Endpoint(
        "alerts",
        "http",
        "POST",
        "/users/{user_id}/notify",
        "alerts.app.notify",
        "alerts/app.py",
        8,
        "starlette",
    )
    consumer = _consumer(tmp_path, endpoint, "notify", "app")
    handler = consumer.load_handler()
    ok = _handle(consumer, _event({"kind": "signup"}, pathparams={"user_id": "3"}), handler)
    down = _handle(consumer, _event({"kind": "down"}, pathparams={"user_id": "3"}), handler)
    assert ok.action == "handled"
    assert (down.action, down.attempts, str(down.error)) == (
        "dead_letter",
        2,
        "the handler answered 503",
    )
    received = importlib.import_module("alerts.app").received
    assert received[0] == ({"kind": "signup"}, {"user_id": "3"}, "req-7")


# -- Django ------------------------------------------------------------------------------

DJANGO_FILES = {
    "djsite/__init__.py": "",
    "djsite/settings.py": (
        'SECRET_KEY = "test"\nROOT_URLCONF = "djsite.urls"\nINSTALLED_APPS = []\n'
        "DATABASES = {}\nUSE_TZ = True\n"
    ),
    "djsite/urls.py": (
        "from django.urls import path\n\nfrom . import views\n\n"
        "urlpatterns = [\n"
        '    path("api/users/<int:user_id>/preferences/", views.preferences),\n'
        '    path("api/ping/", views.Ping.as_view()),\n'
        "]\n"
    ),
    "djsite/views.py": """\
import json

from django.http import Http404, HttpResponse, JsonResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

received = []


@csrf_exempt
@require_http_methods(["PATCH"])
def preferences(request, user_id):
    if user_id == 404:
        raise Http404("no such user")
    received.append((user_id, json.loads(request.body), request.headers.get("X-Request-Id")))
    return JsonResponse({"ok": True})


class Ping(View):
    def post(self, request):
        received.append("ping")
        return HttpResponse(status=204)
""",
}


def _write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_django_view_gets_a_request_factory_request_through_the_url_resolver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_files(tmp_path, DJANGO_FILES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "djsite.settings")
    preferences = Endpoint(
        "users",
        "http",
        "PATCH",
        "/api/users/{user_id}/preferences/",
        "djsite.views.preferences",
        "djsite/views.py",
        12,
        "django",
    )
    ping = Endpoint(
        "users", "http", "POST", "/api/ping/", "djsite.views.Ping", "djsite/views.py", 17, "django"
    )
    consumer = _consumer(tmp_path, preferences, "preferences")
    event = _event({"newsletter": False}, pathparams={"user_id": "12"})
    assert _handle(consumer, event, consumer.load_handler()).action == "handled"
    missing = _handle(consumer, _event({}, pathparams={"user_id": "404"}), consumer.load_handler())
    assert (missing.action, missing.attempts, str(missing.error)) == (
        "dead_letter",
        1,
        "Http404: no such user",
    )
    class_based = _consumer(tmp_path, ping, "Ping")
    assert _handle(class_based, _event(None), class_based.load_handler()).action == "handled"
    received = importlib.import_module("djsite.views").received
    assert received == [(12, {"newsletter": False}, "req-7"), "ping"]


# -- aiohttp -----------------------------------------------------------------------------

AIOHTTP_APP = """\
from aiohttp import web

routes = web.RouteTableDef()
received = []


@routes.post("/stock/{sku}/release")
async def release(request):
    body = await request.json()
    if body.get("reservation_id") == "unknown":
        raise web.HTTPNotFound()
    if body.get("reservation_id") == "accepted":
        raise web.HTTPAccepted()
    received.append(
        (request.match_info["sku"], body, request.headers.get("X-Request-Id"), request.app["name"])
    )
    return web.json_response({"released": True})


app = web.Application()
app["name"] = "inventory"
app.add_routes(routes)
"""


def test_an_aiohttp_handler_gets_a_mocked_request_with_the_body_and_match_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_files(tmp_path, {"stock/__init__.py": "", "stock/app.py": AIOHTTP_APP})
    monkeypatch.syspath_prepend(str(tmp_path))
    endpoint = Endpoint(
        "inventory",
        "http",
        "POST",
        "/stock/{sku}/release",
        "stock.app.release",
        "stock/app.py",
        8,
        "aiohttp",
    )
    consumer = _consumer(tmp_path, endpoint, "release", "app")
    handler = consumer.load_handler()
    sku = {"pathparams": {"sku": "A-1"}}
    assert _handle(consumer, _event({"reservation_id": "r-1"}, **sku), handler).action == "handled"
    assert _handle(consumer, _event({"reservation_id": "accepted"}, **sku), handler).action == (
        "handled"
    )
    missing = _handle(consumer, _event({"reservation_id": "unknown"}, **sku), handler)
    assert (missing.action, missing.attempts) == ("dead_letter", 1)
    received = importlib.import_module("stock.app").received
    assert received == [("A-1", {"reservation_id": "r-1"}, "req-7", "inventory")]


# -- gRPC --------------------------------------------------------------------------------

GRPC_MESSAGES = '''\
"""What protoc would generate for refunds.proto, registered by hand in the default pool."""

import enum

from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="refunds_test.proto", package="shop.refunds.v1", syntax="proto3"
)
_request = _file.message_type.add(name="RefundRequest")
_request.field.add(name="charge_id", number=1, type=9, label=1)
_request.field.add(name="amount_cents", number=2, type=3, label=1)
_file.message_type.add(name="RefundResponse")
_method = _file.service.add(name="RefundService").method.add(name="Refund")
_method.input_type = ".shop.refunds.v1.RefundRequest"
_method.output_type = ".shop.refunds.v1.RefundResponse"
descriptor_pool.Default().Add(_file)


class StatusCode(enum.Enum):
    NOT_FOUND = 5
    UNAVAILABLE = 14
'''

GRPC_SERVER = """\
from . import messages

received = []


class RefundService:
    def Refund(self, request, context):
        if request.charge_id == "missing":
            context.abort(messages.StatusCode.NOT_FOUND, "unknown charge")
        if request.charge_id == "busy":
            context.set_code(messages.StatusCode.UNAVAILABLE)
            return None
        metadata = dict(context.invocation_metadata())
        received.append((request.charge_id, request.amount_cents, metadata["x-request-id"]))
        return None
"""


def test_a_grpc_servicer_gets_its_request_message_parsed_from_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_files(
        tmp_path,
        {
            "refunds/__init__.py": "",
            "refunds/messages.py": GRPC_MESSAGES,
            "refunds/server.py": GRPC_SERVER,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    endpoint = Endpoint(
        "payments",
        "grpc",
        "RPC",
        "/shop.refunds.v1.RefundService/Refund",
        "refunds.server.RefundService.Refund",
        "refunds/server.py",
        7,
        "grpc",
    )
    consumer = _consumer(tmp_path, endpoint, "RefundService.Refund")
    handler = consumer.load_handler()
    ok = _handle(consumer, _event({"charge_id": "ch-1", "amount_cents": "250"}), handler)
    missing = _handle(consumer, _event({"charge_id": "missing"}), handler)
    busy = _handle(consumer, _event({"charge_id": "busy"}), handler)
    not_a_request = _handle(consumer, _event({"no_such_field": 1}), handler)
    assert ok.action == "handled"
    assert (missing.action, missing.attempts) == ("dead_letter", 1)
    assert (busy.action, busy.attempts) == ("dead_letter", 2)
    assert (not_a_request.action, not_a_request.attempts) == ("dead_letter", 1)
    received = importlib.import_module("refunds.server").received
    assert received == [("ch-1", 250, "req-7")]
