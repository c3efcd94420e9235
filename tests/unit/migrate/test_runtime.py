"""The generated runtime without a broker: how an event crosses the callee's own
application (Flask, FastAPI, Starlette, Django, aiohttp, gRPC) and how the answer becomes
the consumer's decision; the consumer loop's retries, rebalances and idempotency; the
producer's refusals that must reach the caller at once.

The runtime is rendered once into a temporary folder and imported from there, as a
service imports its own copy.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import importlib.util
import itertools
import json
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from decouple_services.migrate.generate import RUNTIME_VERSION, render_runtime

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "e2e"
CREDENTIALS = {"Authorization": "Bearer internal-token", "X-Service-Token": "ledger-token"}
_count = itertools.count()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("runtime")
    target = folder / "decouple_runtime_under_test.py"
    target.write_text(render_runtime(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(target.stem, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[target.stem] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    yield module
    del sys.modules[target.stem]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", json.dumps(CREDENTIALS))


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("E2E_RECORD_FILE", str(path))
    return path


def _recorded(path: Path) -> list[Any]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _sub(runtime: ModuleType, target: str, kind: str, path: str, *params: str, **more: Any) -> Any:
    return runtime.Subscription(
        topic="t", group="g", dead_letter="t.dlq", target=target, kind=kind, path=path,
        path_params=params, **more,
    )  # fmt: skip


def _handle(runtime: ModuleType, sub: Any, app: Any, data: Any, **params: str) -> Any:
    event = runtime.make_event("com.example.test.v1", "tests", data, params)
    headers = [("content-type", b"application/cloudevents+json"), ("X-Request-Id", b"req-7")]
    return runtime.handle(runtime.encode(event), headers, sub, app, runtime.MemoryStore())


# -- the envelope --------------------------------------------------------------------------


def test_the_envelope_has_only_valid_cloudevents_attributes(runtime: ModuleType) -> None:
    event = runtime.make_event("users.user-registered.v1", "users", {"a": 1}, {"order_id": 42})
    assert event["specversion"] == "1.0"
    # Path parameters are string attributes: lower-case letters and digits, no maps.
    assert event["orderid"] == "42"
    for name, value in event.items():
        assert name.isalnum() and name.islower(), name
        assert name == "data" or isinstance(value, str)
    assert runtime.path_params(event, ("order_id",)) == {"order_id": "42"}
    # A path parameter the producer put in the data is found there too.
    inside = runtime.make_event("x", "y", {"order_id": 7})
    assert runtime.path_params(inside, ("order_id",)) == {"order_id": "7"}


def test_the_runtime_states_its_version(runtime: ModuleType) -> None:
    assert runtime.__version__ == RUNTIME_VERSION


# -- Flask (WSGI) --------------------------------------------------------------------------


@pytest.fixture
def mailer(monkeypatch: pytest.MonkeyPatch, records: Path, runtime: ModuleType) -> Any:
    monkeypatch.syspath_prepend(str(FIXTURES / "mailer"))
    return runtime.load("mailer.app:app")


@pytest.mark.usefixtures("credentials")
def test_a_flask_view_gets_the_data_as_its_json_body_through_the_apps_hooks(
    runtime: ModuleType, mailer: Any, records: Path
) -> None:
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send")
    app = runtime.application(sub)
    outcome = _handle(runtime, sub, app, {"to": "a@example.com", "template": "welcome"})
    assert (outcome.action, outcome.status) == ("handled", 202)
    assert _recorded(records) == [
        {
            "endpoint": "send",
            "body": {"to": "a@example.com", "template": "welcome"},
            "request_id": "req-7",
        }
    ]
    welcome = _sub(runtime, "mailer.app:app", "wsgi", "/users/{user_id}/welcome", "user_id")
    assert _handle(runtime, welcome, app, None, user_id="5").action == "handled"
    assert _recorded(records)[-1] == {"endpoint": "welcome", "user_id": 5, "body": None}


def test_the_apps_auth_hook_refuses_an_event_without_the_consumers_credentials(
    runtime: ModuleType, mailer: Any, records: Path
) -> None:
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send")
    outcome = _handle(runtime, sub, runtime.application(sub), {"to": "a@example.com"})
    # the consumer's own credential is missing or rotated, not the event at fault: retried,
    # never dead-lettered (one bad setting would otherwise empty the topic)
    assert (outcome.action, outcome.status) == ("retry", 401)
    assert _recorded(records) == []


@pytest.mark.usefixtures("credentials")
def test_4xx_is_final_5xx_and_exceptions_are_retried_and_repeats_skipped(
    runtime: ModuleType, mailer: Any
) -> None:
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send")
    app = runtime.application(sub)
    assert _handle(runtime, sub, app, {"template": "welcome"}).action == "dead_letter"
    failed = _handle(runtime, sub, app, {"to": "x", "template": "poison"})
    assert (failed.action, failed.status) == ("retry", 500)  # Flask's answer to the raise
    assert runtime.handle(b"{not json", [], sub, app, runtime.MemoryStore()).action == (
        "dead_letter"
    )
    missing = _sub(runtime, "mailer.app:app", "wsgi", "/users/{user_id}/welcome", "user_id")
    assert _handle(runtime, missing, app, {}).action == "dead_letter"
    store = runtime.MemoryStore()
    value = runtime.encode(runtime.make_event("x", "y", {"to": "a", "template": "w"}))
    assert runtime.handle(value, [], sub, app, store).action == "handled"
    assert runtime.handle(value, [], sub, app, store).action == "duplicate"


# -- FastAPI and Starlette (ASGI) -----------------------------------------------------------


@pytest.fixture
def billing(monkeypatch: pytest.MonkeyPatch, records: Path) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "billing"))


@pytest.mark.usefixtures("billing")
def test_a_fastapi_app_runs_its_lifespan_middleware_validation_and_background_tasks(
    runtime: ModuleType, records: Path
) -> None:
    refund = _sub(runtime, "billing.api:app", "asgi", "/api/orders/{order_id}/refund", "order_id")
    app = runtime.application(refund)
    try:
        # The handler reads the state the lifespan made and the middleware set.
        assert _handle(runtime, refund, app, {"why": "late"}, order_id="9").action == "handled"
        unfit = _handle(runtime, refund, app, {}, order_id="nine")
        assert (unfit.action, unfit.status) == ("dead_letter", 422)
        invoices = _sub(runtime, "billing.api:app", "asgi", "/api/invoices")
        sent = {"order_id": "o-1", "amount_cents": 100}
        assert _handle(runtime, invoices, app, sent).status == 201
    finally:
        app.close()
    assert _recorded(records) == [
        {"endpoint": "refund", "order_id": 9, "body": {"why": "late"}, "notify": True},
        {"endpoint": "invoices", "invoice": {**sent, "currency": "EUR"}},
        {"endpoint": "invoice-sent", "order_id": "o-1"},
    ]


STARLETTE_APP = """\
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

received = []


async def notify(request):
    body = await request.json()
    received.append(
        (request.path_params["user_id"], body, request.headers["x-request-id"], request.state.db)
    )
    return JSONResponse({"ok": True}, status_code=202)


@asynccontextmanager
async def lifespan(app):
    yield {"db": "connected"}


app = Starlette(routes=[Route("/users/{user_id}/notify", notify, methods=["POST"])], lifespan=lifespan)
"""


def test_a_starlette_app_gets_its_lifespan_state_in_each_request(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notifier.py").write_text(STARLETTE_APP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, "notifier:app", "asgi", "/users/{user_id}/notify", "user_id")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {"kind": "x"}, user_id="3").status == 202
    finally:
        app.close()
    received = importlib.import_module("notifier").received
    assert received == [("3", {"kind": "x"}, "req-7", "connected")]


def test_an_asgi_app_without_a_lifespan_is_served_all_the_same(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bare_asgi.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        raise RuntimeError('no lifespan here')\n"
        "    await receive()\n"
        "    await send({'type': 'http.response.start', 'status': 204, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b''})\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, "bare_asgi:app", "asgi", "/")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {}).status == 204
    finally:
        app.close()


# -- Django ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("credentials")
def test_a_django_view_gets_the_request_through_middleware_and_the_url_resolver(
    runtime: ModuleType, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES / "ledger"))
    sub = _sub(
        runtime, "", "django", "/accounts/{account_id}/entries", "account_id",
        settings="ledger.settings",
    )  # fmt: skip
    app = runtime.application(sub)
    assert _handle(runtime, sub, app, {"amount_cents": 5}, account_id="4").status == 201
    assert _handle(runtime, sub, app, {"amount_cents": "5"}, account_id="4").status == 400
    # The Host the callers used is one ALLOWED_HOSTS lets in; another is refused.
    elsewhere = _sub(
        runtime, "", "django", "/accounts/{account_id}/entries", "account_id",
        settings="ledger.settings", host="elsewhere",
    )  # fmt: skip
    assert _handle(runtime, elsewhere, app, {"amount_cents": 5}, account_id="4").status == 400
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", "{}")
    assert _handle(runtime, sub, app, {"amount_cents": 5}, account_id="4").status == 403
    assert _recorded(records) == [
        {"endpoint": "entries", "account_id": 4, "entry": {"amount_cents": 5}, "by": "service"}
    ]


# -- aiohttp ---------------------------------------------------------------------------------

AIOHTTP_APP = """\
from aiohttp import web

routes = web.RouteTableDef()
received = []


@routes.post("/stock/{sku}/release")
async def release(request):
    body = await request.json()
    if body.get("reservation_id") == "unknown":
        raise web.HTTPNotFound()
    received.append((request.match_info["sku"], body, request.headers["X-Request-Id"], request.app["db"]))
    return web.json_response({"ok": True})


async def connect(app):
    app["db"] = "connected"


app = web.Application()
app.add_routes(routes)
app.on_startup.append(connect)
"""


def test_an_aiohttp_app_runs_its_startup_hooks_and_routes(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stock.py").write_text(AIOHTTP_APP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, "stock:app", "aiohttp", "/stock/{sku}/release", "sku")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {"reservation_id": "r"}, sku="A-1").status == 200
        assert _handle(runtime, sub, app, {"reservation_id": "unknown"}, sku="A").status == 404
    finally:
        app.close()
    received = importlib.import_module("stock").received
    assert received == [("A-1", {"reservation_id": "r"}, "req-7", "connected")]


# -- gRPC ------------------------------------------------------------------------------------

GRPC_MESSAGES = '''\
"""What protoc would generate for refunds.proto, registered by hand in the default pool."""

import enum

from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="refunds_runtime_test.proto", package="shop.refunds.v2", syntax="proto3"
)
_request = _file.message_type.add(name="RefundRequest")
_request.field.add(name="charge_id", number=1, type=9, label=1)
_request.field.add(name="amount_cents", number=2, type=3, label=1)
_file.message_type.add(name="RefundResponse")
_method = _file.service.add(name="RefundService").method.add(name="Refund")
_method.input_type = ".shop.refunds.v2.RefundRequest"
_method.output_type = ".shop.refunds.v2.RefundResponse"
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
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "refunds").mkdir()
    (tmp_path / "refunds" / "__init__.py").write_text("")
    (tmp_path / "refunds" / "messages.py").write_text(GRPC_MESSAGES)
    (tmp_path / "refunds" / "server.py").write_text(GRPC_SERVER)
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(
        runtime, "refunds.server:RefundService", "grpc", "/shop.refunds.v2.RefundService/Refund"
    )
    app = runtime.application(sub)
    ok = _handle(runtime, sub, app, {"charge_id": "ch-1", "amount_cents": "250"})
    assert ok.action == "handled"
    assert _handle(runtime, sub, app, {"charge_id": "missing"}).action == "dead_letter"
    assert _handle(runtime, sub, app, {"charge_id": "busy"}).action == "retry"
    assert _handle(runtime, sub, app, {"no_such_field": 1}).action == "dead_letter"
    received = importlib.import_module("refunds.server").received
    assert received == [("ch-1", 250, "req-7")]


GRPC_INVITES = """\
from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="invites_runtime_test.proto", package="shop.invites.v1", syntax="proto3"
)
_file.message_type.add(name="InviteRequest").field.add(name="email", number=1, type=9, label=1)
_file.message_type.add(name="InviteReply")
_method = _file.service.add(name="InviteService").method.add(name="Invite")
_method.input_type = ".shop.invites.v1.InviteRequest"
_method.output_type = ".shop.invites.v1.InviteReply"
descriptor_pool.Default().Add(_file)


class InviteService:
    def __init__(self, repository):
        self.repository = repository

    def Invite(self, request, context):
        self.repository.append(request.email)


REPOSITORY = []
BUILT = []


def make_servicer():
    BUILT.append(1)
    return InviteService(REPOSITORY)
"""


def test_a_grpc_servicer_factory_builds_the_servicer_once_instead_of_its_class(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "invites_wiring.py").write_text(GRPC_INVITES)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = "/shop.invites.v1.InviteService/Invite"
    without = _sub(runtime, "invites_wiring:InviteService", "grpc", path)
    with pytest.raises(TypeError, match="repository"):
        runtime.application(without)
    sub = _sub(
        runtime,
        "invites_wiring:InviteService",
        "grpc",
        path,
        servicer_factory="invites_wiring:make_servicer",
    )
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {"email": "a@example.com"}).action == "handled"
        assert _handle(runtime, sub, app, {"email": "b@example.com"}).action == "handled"
    finally:
        app.close()
    wiring = importlib.import_module("invites_wiring")
    assert wiring.REPOSITORY == ["a@example.com", "b@example.com"]
    assert wiring.BUILT == [1]


GRPC_ASYNC_INVITES = """\
import asyncio
import contextlib

from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="async_invites_runtime_test.proto", package="shop.ainvites.v1", syntax="proto3"
)
_file.message_type.add(name="InviteRequest").field.add(name="email", number=1, type=9, label=1)
_file.message_type.add(name="InviteReply")
_service = _file.service.add(name="InviteService")
for _name in ("Invite", "Revoke", "Remind"):
    _method = _service.method.add(name=_name)
    _method.input_type = ".shop.ainvites.v1.InviteRequest"
    _method.output_type = ".shop.ainvites.v1.InviteReply"
descriptor_pool.Default().Add(_file)

EVENTS = []


class Pool:
    \"\"\"Stands for an async database pool: bound to the loop it was opened on, as
    asyncpg's is (a future of another loop cannot be awaited).\"\"\"

    async def connect(self):
        self.loop = asyncio.get_running_loop()
        self.ready = self.loop.create_future()
        self.ready.set_result(None)
        EVENTS.append("connect")

    async def insert(self, email):
        await self.ready  # RuntimeError on any other loop
        if email == "slow@example.com":
            EVENTS.append(("started", email))
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                EVENTS.append(("cancelled", email))
                raise
        if email == "cleanup@example.com":  # a rollback awaited once cancelled
            EVENTS.append(("started", email))
            try:
                await asyncio.sleep(30)
            finally:
                await asyncio.sleep(0.5)
                EVENTS.append(("cleaned", email))
        EVENTS.append(("insert", email))

    async def close(self):
        assert asyncio.get_running_loop() is self.loop
        EVENTS.append("close")


class InviteService:
    def __init__(self, pool):
        self.pool = pool

    async def Invite(self, request, context):
        await self.pool.insert(request.email)

    def Remind(self, request, context):
        return Later(self.pool.insert(request.email))


class Later:
    \"\"\"An awaitable that is no coroutine (as a decorated method may give).\"\"\"

    def __init__(self, coroutine):
        self.coroutine = coroutine

    def __await__(self):
        return self.coroutine.__await__()


async def make_servicer():
    pool = Pool()
    await pool.connect()
    return InviteService(pool)


@contextlib.asynccontextmanager
async def servicer_in_context():
    pool = Pool()
    await pool.connect()
    try:
        yield InviteService(pool)
    finally:
        await pool.close()


async def servicer_generator():
    yield InviteService(Pool())
"""


@pytest.fixture
def async_invites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    (tmp_path / "async_invites_wiring.py").write_text(GRPC_ASYNC_INVITES)
    monkeypatch.syspath_prepend(str(tmp_path))
    wiring = importlib.import_module("async_invites_wiring")
    wiring.EVENTS.clear()
    return wiring


def _async_invites_sub(runtime: ModuleType, factory: str) -> Any:
    return _sub(
        runtime,
        "async_invites_wiring:InviteService",
        "grpc",
        "/shop.ainvites.v1.InviteService/Invite",
        servicer_factory=f"async_invites_wiring:{factory}",
    )


def test_an_async_servicer_factory_is_awaited_once_on_the_loop_its_methods_run_on(
    runtime: ModuleType, async_invites: ModuleType
) -> None:
    sub = _async_invites_sub(runtime, "make_servicer")
    app = runtime.application(sub)
    try:
        assert async_invites.EVENTS == ["connect"]  # at start, before any event
        assert _handle(runtime, sub, app, {"email": "a@example.com"}).action == "handled"
        assert _handle(runtime, sub, app, {"email": "b@example.com"}).action == "handled"
    finally:
        app.close()
    assert async_invites.EVENTS == [
        "connect",
        ("insert", "a@example.com"),
        ("insert", "b@example.com"),
    ]


def test_an_async_servicer_call_past_the_timeout_is_cancelled_on_its_loop_which_goes_on(
    runtime: ModuleType, async_invites: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call past the timeout is cancelled on the servicer's loop, as an ASGI app's is,
    and the event retried (nothing of it runs on); the next event runs on the same loop,
    where the pool still serves."""
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.1")
    sub = _async_invites_sub(runtime, "make_servicer")
    app = runtime.application(sub)
    try:
        slow = _handle(runtime, sub, app, {"email": "slow@example.com"})
        assert slow.action == "retry" and slow.running is None
        assert isinstance(slow.error, runtime.HandlerTimeout)
        assert _handle(runtime, sub, app, {"email": "c@example.com"}).action == "handled"
    finally:
        app.close()
    assert async_invites.EVENTS == [
        "connect",
        ("started", "slow@example.com"),
        ("cancelled", "slow@example.com"),
        ("insert", "c@example.com"),
    ]


@pytest.mark.parametrize("method", ["Invite", "Remind"])
def test_an_async_servicer_call_cancelled_is_waited_for_until_its_cleanup_ends(
    runtime: ModuleType, async_invites: ModuleType, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """A call whose ``finally`` awaits a cleanup still runs once cancelled: the timeout
    carries its end, which the event's retry waits for. ``Invite`` is a coroutine run on
    the servicer's loop; ``Remind`` gives an awaitable from the handler thread."""
    import time

    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.1")
    sub = _sub(
        runtime,
        "async_invites_wiring:InviteService",
        "grpc",
        f"/shop.ainvites.v1.InviteService/{method}",
        servicer_factory="async_invites_wiring:make_servicer",
    )
    app = runtime.application(sub)
    try:
        outcome = _handle(runtime, sub, app, {"email": "cleanup@example.com"})
        assert outcome.action == "retry" and isinstance(outcome.error, runtime.HandlerTimeout)
        assert outcome.running is not None and not outcome.running.done()
        assert ("cleaned", "cleanup@example.com") not in async_invites.EVENTS
        deadline = time.monotonic() + 5
        while not outcome.running.done():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert async_invites.EVENTS[-1] == ("cleaned", "cleanup@example.com")
        with pytest.raises(runtime.HandlerTimeout):  # it was the attempt, failed
            outcome.running.result(0)
    finally:
        app.close()


def test_closing_an_async_servicer_cancels_its_running_calls_before_exiting_its_context(
    runtime: ModuleType, async_invites: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the factory's context closes (its pool) is not closed under a call still
    running on it: the call is cancelled and awaited first."""
    import time

    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0")  # no bound: only close ends it
    sub = _async_invites_sub(runtime, "servicer_in_context")
    app = runtime.application(sub)
    outcomes: list[Any] = []
    call = threading.Thread(
        target=lambda: outcomes.append(_handle(runtime, sub, app, {"email": "slow@example.com"}))
    )
    call.start()
    deadline = time.monotonic() + 5
    while ("started", "slow@example.com") not in async_invites.EVENTS:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    app.close()
    call.join(5)
    assert async_invites.EVENTS == [
        "connect",
        ("started", "slow@example.com"),
        ("cancelled", "slow@example.com"),
        "close",
    ]
    assert outcomes and outcomes[0].action != "handled"


def test_methods_of_one_servicer_factory_share_what_it_built_and_any_awaitable_is_run(
    runtime: ModuleType, async_invites: ModuleType
) -> None:
    """Two methods consumed in one process: the factory runs once, and its context is
    exited once, with the last of them. A method giving an awaitable that is no coroutine
    is awaited all the same, not taken as done."""
    invite = _async_invites_sub(runtime, "servicer_in_context")
    remind = _sub(
        runtime,
        "async_invites_wiring:InviteService",
        "grpc",
        "/shop.ainvites.v1.InviteService/Remind",
        servicer_factory="async_invites_wiring:servicer_in_context",
    )
    first, second = runtime.application(invite), runtime.application(remind)
    try:
        assert _handle(runtime, invite, first, {"email": "a@example.com"}).action == "handled"
        assert _handle(runtime, remind, second, {"email": "b@example.com"}).action == "handled"
        first.close()
        assert async_invites.EVENTS == [
            "connect",
            ("insert", "a@example.com"),
            ("insert", "b@example.com"),
        ]
    finally:
        second.close()
    assert async_invites.EVENTS[-1] == "close" and async_invites.EVENTS.count("connect") == 1


def test_an_async_context_manager_factory_is_entered_at_start_and_exited_at_close(
    runtime: ModuleType, async_invites: ModuleType
) -> None:
    sub = _async_invites_sub(runtime, "servicer_in_context")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {"email": "a@example.com"}).action == "handled"
        assert async_invites.EVENTS == ["connect", ("insert", "a@example.com")]
    finally:
        app.close()
    # closed on the loop it was opened on (``Pool.close`` checks), once
    assert async_invites.EVENTS == ["connect", ("insert", "a@example.com"), "close"]


def test_an_async_servicer_without_the_method_is_closed_again(
    runtime: ModuleType, async_invites: ModuleType
) -> None:
    sub = _sub(
        runtime,
        "async_invites_wiring:InviteService",
        "grpc",
        "/shop.ainvites.v1.InviteService/Revoke",
        servicer_factory="async_invites_wiring:servicer_in_context",
    )
    with pytest.raises(AttributeError, match="Revoke"):
        runtime.application(sub)
    assert async_invites.EVENTS == ["connect", "close"]


def test_an_async_generator_factory_is_refused_with_what_to_do(
    runtime: ModuleType, async_invites: ModuleType
) -> None:
    sub = _async_invites_sub(runtime, "servicer_generator")
    with pytest.raises(TypeError, match="asynccontextmanager"):
        runtime.application(sub)


# -- the consumer loop -------------------------------------------------------------------------


class Record:
    def __init__(self, offset: int, value: bytes, partition: int = 0) -> None:
        self._offset, self._value, self._partition = offset, value, partition

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> None:
        return None

    def headers(self) -> list[tuple[str, bytes]]:
        return []

    def error(self) -> None:
        return None


class Client:
    """What the loop asks of a confluent-kafka consumer, written down."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args or kwargs))


class Partition:
    def __init__(self, topic: str, partition: int, offset: int = -1001) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset

    def __repr__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


class Flaky:
    """An application that answers 503 ``failures`` times, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        self.calls += 1
        return 503 if self.calls <= self.failures else 200

    def close(self) -> None:
        pass


class Sent:
    """The consumer's producer, for dead letters."""

    def __init__(self) -> None:
        self.dead: list[Any] = []
        #: Dead-letter sends to refuse before accepting one.
        self.refuse = 0

    def produce_raw(self, *args: Any) -> None:
        if self.refuse:
            self.refuse -= 1
            raise sys.modules["decouple_runtime_under_test"].EventNotAccepted("unavailable")
        self.dead.append(args)

    def flush(self, timeout: float) -> int:
        return 0


def _consumer(runtime: ModuleType, app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DECOUPLE_RETRY_BASE_S", "0.001")
    monkeypatch.setenv("DECOUPLE_RETRY_CAP_S", "0.001")
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "3")
    sub = _sub(runtime, "x:y", "function", "/")
    consumer = runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())
    consumer._apps["t"] = app
    consumer._owned.add(("t", 0))
    return consumer


def _value(runtime: ModuleType) -> bytes:
    return runtime.encode(runtime.make_event("x", "y", {"n": next(_count)}))


def _due(consumer: Any, client: Any) -> None:
    """Wait out the parked records' delays (1 ms) and try each that is due once."""
    import time

    time.sleep(0.01)
    consumer._retry_parked(client, Partition)


def _stored(client: Any) -> list[int]:
    """The offsets the loop stored, in order."""
    found = []
    for name, args in client.calls:
        if name == "store_offsets":
            if "message" in args:
                found.append(args["message"].offset() + 1)
            else:
                (partition,) = args["offsets"]
                found.append(partition.offset)
    return found


def test_a_failing_event_is_parked_and_retried_from_the_loop_without_a_seek(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=1)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    record = Record(5, _value(runtime))
    consumer._one(client, record, Partition)
    # parked in memory: no pause, no seek, no offset stored past it
    assert client.calls == [] and app.calls == 1
    assert list(consumer._parked[("t", 0)][None].records) == [record]
    _due(consumer, client)
    # due: retried from the loop, handled, and the offset stored past it
    assert app.calls == 2 and consumer._parked == {}
    assert [name for name, _ in client.calls] == ["store_offsets"] and _stored(client) == [6]


def test_an_event_failing_past_its_retries_is_dead_lettered_then_committed(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(runtime, Flaky(failures=10), monkeypatch)
    client = Client()
    record = Record(3, _value(runtime))
    consumer._one(client, record, Partition)
    for _ in range(2):
        _due(consumer, client)
    (dead,) = consumer.producer.dead
    headers = dict(dead[3])
    assert dead[0] == "t.dlq"
    assert headers["decouple.attempts"] == b"3"
    assert headers["decouple.error.message"] == b"the application answered 503"
    assert _stored(client) == [4] and consumer._parked == {}


def test_revoked_partitions_are_committed_and_forgotten_and_returned_ones_resume(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=1)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    consumer._one(client, Record(5, _value(runtime)), Partition)
    assert ("t", 0) in consumer._parked
    client.calls.clear()
    consumer._on_revoke(client, [Partition("t", 0)])
    assert client.calls == [("commit", {"asynchronous": False})]
    assert consumer._parked == {} and consumer._owned == set()
    # Not ours any more: a record of it still in the local queue is left to its new owner.
    consumer._one(client, Record(6, _value(runtime)), Partition)
    assert app.calls == 1
    client.calls.clear()
    back = [Partition("t", 0)]
    consumer._on_assign(client, back)
    # cooperative-sticky by default: only the partitions added are assigned
    assert client.calls == [("incremental_assign", (back,)), ("resume", (back,))]
    client.calls.clear()
    monkeypatch.setenv("KAFKA_PARTITION_ASSIGNMENT_STRATEGY", "range,roundrobin")
    eager = _consumer(runtime, app, monkeypatch)
    eager._on_assign(client, back)
    assert client.calls == [("assign", (back,)), ("resume", (back,))]


def test_backoff_is_exponential_capped_and_jittered(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECOUPLE_RETRY_BASE_S", "0.1")
    monkeypatch.setenv("DECOUPLE_RETRY_CAP_S", "1")
    monkeypatch.setenv("DECOUPLE_RETRY_JITTER", "0.5")
    policy = runtime.RetryPolicy.from_env()
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (4, 0.8), (9, 1.0), (500, 1.0)):
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # spread out, not a fixed delay


def test_the_default_retries_ride_out_minutes_not_seconds(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("ATTEMPTS", "BASE_S", "CAP_S", "JITTER"):
        monkeypatch.delenv(f"DECOUPLE_RETRY_{name}", raising=False)
    policy = runtime.RetryPolicy.from_env()
    shortest, longest = policy.window()
    # a deploy or a failover of a few minutes is ridden out before anything is dead-lettered
    assert shortest >= 5 * 60 and longest <= 20 * 60
    assert policy.attempts == 10 and policy.cap == 300
    assert "dead-lettered after 6.8 to 13.5 min" in policy.describe()
    # a setting of the schedule before this version is named, not silently ignored
    monkeypatch.setenv("DECOUPLE_MAX_RETRIES", "3")
    runtime.RetryPolicy.from_env()
    assert "DECOUPLE_MAX_RETRIES is no longer read: set DECOUPLE_RETRY_ATTEMPTS" in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [("ATTEMPTS", "0"), ("BASE_S", "0"), ("BASE_S", "600"), ("JITTER", "1.5")],
)
def test_a_retry_setting_out_of_range_stops_the_consumer_naming_it(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"DECOUPLE_RETRY_{name}", value)
    with pytest.raises(ValueError, match=f"DECOUPLE_RETRY_{name}"):
        runtime.RetryPolicy.from_env()


class Answering:
    """An application that always gives one answer."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        self.calls += 1
        return self.status

    def close(self) -> None:
        pass


def test_a_failed_dead_letter_send_is_retried_without_handling_the_event_again(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Answering(400)
    consumer = _consumer(runtime, app, monkeypatch)
    consumer.producer.refuse = 1
    client = Client()
    record = Record(4, _value(runtime))
    consumer._one(client, record, Partition)
    assert consumer.producer.dead == [] and client.calls == []  # parked, nothing stored
    parked = consumer._parked[("t", 0)][None]
    assert parked.undelivered is not None
    parked.due = 0.0  # due now
    consumer._retry_parked(client, Partition)
    # only the dead-letter send was tried again: the handler ran once
    assert app.calls == 1
    (dead,) = consumer.producer.dead
    assert dict(dead[3])["decouple.error.message"] == b"the application answered 400"
    assert _stored(client) == [5] and consumer._parked == {}


class FakeKafka:
    """confluent-kafka's Consumer over a list of records (offsets 0, 1...): ``seek``
    rewinds, ``pause`` holds the partition back, and the consumer is stopped once every
    record was polled. ``store_offsets`` fails ``failing_stores`` times."""

    def __init__(self, consumer: Any, records: list[Record], failing_stores: int) -> None:
        self.consumer, self.records, self.failing_stores = consumer, records, failing_stores
        self.cursor, self.paused, self.stored = 0, False, 0

    def subscribe(self, topics: Any, on_assign: Any, **callbacks: Any) -> None:
        on_assign(self, [Partition("t", 0)])

    def poll(self, timeout: float) -> Record | None:
        if self.paused:
            return None
        if self.cursor >= len(self.records):
            self.consumer.stop()
            return None
        self.cursor += 1
        return self.records[self.cursor - 1]

    def store_offsets(self, message: Record) -> None:
        from confluent_kafka import KafkaException

        if self.failing_stores:
            self.failing_stores -= 1
            raise KafkaException("Local: Erroneous state")
        self.stored += 1

    def seek(self, partition: Partition) -> None:
        self.cursor = partition.offset

    def pause(self, partitions: Any) -> None:
        self.paused = True

    def resume(self, partitions: Any) -> None:
        self.paused = False

    def assign(self, partitions: Any) -> None:
        pass

    incremental_assign = assign

    def commit(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_failure_around_a_record_does_not_end_the_consumer_and_the_record_comes_again(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    app = Flaky(failures=0)
    consumer = _consumer(runtime, app, monkeypatch)
    fake = FakeKafka(consumer, [Record(0, _value(runtime)), Record(1, _value(runtime))], 1)
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: fake)
    consumer.run()  # returns once the records are used up, raising nothing
    # record 0's offset could not be stored: it came again, was skipped as handled, stored
    assert consumer.counts == {"handled": 2, "error": 1, "duplicate": 1}
    assert app.calls == 2 and fake.stored == 2


def test_the_entry_point_reports_a_failure_and_exits_1_instead_of_raising(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import signal

    monkeypatch.setattr(signal, "signal", lambda *args: None)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    sub = _sub(runtime, "json:dumps", "function", "/")
    assert runtime.main([sub], service="s") == 1
    assert "the consumer stopped: KAFKA_BOOTSTRAP_SERVERS is not set" in caplog.text


SLOW_WSGI = """\
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(3)
    start_response("200 OK", [])
    return [b""]
"""

SLOW_ASGI = """\
import asyncio

cancelled = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        cancelled.append(scope["path"])
        raise
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_handler_running_past_its_timeout_is_a_failure_to_retry(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import time

    name = f"slow_{kind}"
    (tmp_path / f"{name}.py").write_text(SLOW_WSGI if kind == "wsgi" else SLOW_ASGI)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.3")
    slow = _sub(runtime, f"{name}:app", kind, "/slow")
    app = runtime.application(slow)
    try:
        started = time.monotonic()
        outcome = _handle(runtime, slow, app, {})
        assert time.monotonic() - started < 2
        assert outcome.action == "retry"
        assert isinstance(outcome.error, runtime.HandlerTimeout)
        # the next event does not wait behind the stuck one
        started = time.monotonic()
        fast = _sub(runtime, f"{name}:app", kind, "/fast")
        if kind == "wsgi":
            assert _handle(runtime, fast, app, {}).action == "handled"
            assert time.monotonic() - started < 1
        else:  # the coroutine was cancelled, not left running
            cancelled = importlib.import_module(name).cancelled
            while not cancelled and time.monotonic() - started < 2:
                time.sleep(0.01)
            assert cancelled == ["/slow"]
    finally:
        app.close()


#: A WSGI app whose calls take ``SLEEPS`` seconds and answer ``STATUSES``, one by one, and
#: that writes down how many of its calls ran at once.
OVERRUNNING_WSGI = """\
import threading
import time

SLEEPS = [0.8]
STATUSES = ["200 OK"]
runs = []
at_once = []
_active = [0]
_lock = threading.Lock()


def app(environ, start_response):
    with _lock:
        number = len(runs)
        runs.append(time.monotonic())
        _active[0] += 1
        at_once.append(_active[0])
    try:
        time.sleep(SLEEPS[number] if number < len(SLEEPS) else 0)
        start_response(STATUSES[number] if number < len(STATUSES) else "200 OK", [])
        return [b""]
    finally:
        with _lock:
            _active[0] -= 1
"""


def _overrunning(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[Any, ModuleType]:
    (tmp_path / f"{name}.py").write_text(OVERRUNNING_WSGI)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.2")
    module = importlib.import_module(name)
    consumer = _consumer(runtime, None, monkeypatch)
    consumer._apps["t"] = runtime.WsgiApp(module.app)
    return consumer, module


def _until(condition: Any, timeout: float = 5) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_wsgi_call_past_its_timeout_is_waited_for_and_its_success_is_the_events(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread cannot be stopped: the retry of an event whose call timed out waits until
    that call has finished (its partition is paused past it, polling goes on), and a call
    that then succeeded is the event handled: the handler does not run a second time."""
    consumer, module = _overrunning(runtime, tmp_path, monkeypatch, "overrun_ok")
    client = Client()
    record = Record(8, _value(runtime))
    consumer._one(client, record, Partition)
    assert [(name, repr(args[0])) for name, args in client.calls] == [
        ("pause", "[t/0@9]"),
        ("seek", "t/0@9"),
    ]
    assert consumer.counts == {"retry": 1}
    client.calls.clear()
    # the retry is due at once (1 ms), but the timed-out call still runs: nothing runs
    for _ in range(5):
        consumer._resume_due(client, Partition)
        assert not consumer._retry_parked(client, Partition)
    assert client.calls == [] and len(module.runs) == 1
    _until(lambda: not consumer._running[("t", 0)][1].running())
    consumer._resume_due(client, Partition)
    assert [name for name, _ in client.calls] == ["resume"]
    consumer._retry_parked(client, Partition)
    assert len(module.runs) == 1  # not run again
    assert consumer.counts == {"retry": 1, "handled": 1}
    assert _stored(client) == [9]
    assert consumer._running == {} and consumer._parked == {}
    event_id = json.loads(record.value())["id"]
    assert consumer.store.seen(f"g/{event_id}")


def test_a_wsgi_call_past_its_timeout_that_failed_is_retried_after_it_never_beside_it(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer, module = _overrunning(runtime, tmp_path, monkeypatch, "overrun_fail")
    module.STATUSES[:] = ["503 Service Unavailable", "200 OK"]
    client = Client()
    record = Record(2, _value(runtime))
    consumer._one(client, record, Partition)
    _until(lambda: consumer._retry_parked(client, Partition))
    assert len(module.runs) == 2 and module.at_once == [1, 1]
    assert module.runs[1] - module.runs[0] >= 0.8  # the second began once the first ended
    assert consumer.counts == {"retry": 1, "handled": 1}


#: An ASGI app (no lifespan) whose first call never answers and whose cleanup, in its
#: ``finally``, awaits ``CLEANUP_S`` once cancelled; it writes down when each call began
#: and ended, and how many ran at once.
CLEANING_ASGI = """\
import asyncio
import time

CLEANUP_S = [0.6]
runs = []
ended = []
at_once = []
_active = [0]


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    number = len(runs)
    runs.append(time.monotonic())
    _active[0] += 1
    at_once.append(_active[0])
    try:
        if number == 0:
            await asyncio.sleep(30)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if number == 0:
            await asyncio.sleep(CLEANUP_S[0])  # a connection closed, a flush
        _active[0] -= 1
        ended.append(time.monotonic())
"""


def _cleaning(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[Any, ModuleType]:
    (tmp_path / f"{name}.py").write_text(CLEANING_ASGI)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.2")
    module = importlib.import_module(name)
    sub = _sub(runtime, f"{name}:app", "asgi", "/send")
    return runtime.application(sub), module


def test_a_cancelled_coroutine_whose_cleanup_outlasts_the_grace_is_waited_for(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling only asks: the coroutine's ``finally`` still awaits. Past the grace
    (the handler timeout, 0.2 s, when shorter than 10 s), the timeout carries the task's
    end, as a synchronous call's thread, instead of claiming it is over."""
    import time

    app, module = _cleaning(runtime, tmp_path, monkeypatch, "cleaning_slow")
    try:
        started = time.monotonic()
        outcome = _handle(runtime, _sub(runtime, "x:y", "asgi", "/send"), app, {})
        assert outcome.action == "retry" and isinstance(outcome.error, runtime.HandlerTimeout)
        assert 0.35 < time.monotonic() - started < 1.5  # the timeout, then the grace
        assert outcome.running is not None and not outcome.running.done()
        assert module.ended == []  # its cleanup still runs
        _until(lambda: outcome.running.done())
        assert len(module.ended) == 1
        # what it came to: a failure (it was cancelled), the attempt already made
        with pytest.raises(runtime.HandlerTimeout):
            outcome.running.result(0)
    finally:
        app.close()


def test_a_cancelled_coroutine_that_ends_within_the_grace_is_over_when_retried(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, module = _cleaning(runtime, tmp_path, monkeypatch, "cleaning_fast")
    module.CLEANUP_S[:] = [0.05]
    try:
        outcome = _handle(runtime, _sub(runtime, "x:y", "asgi", "/send"), app, {})
        # ended within the grace: a plain failure, retried as any (its cleanup is over)
        assert outcome.action == "retry" and outcome.running is None
        assert len(module.ended) == 1
    finally:
        app.close()


def test_a_coroutine_that_answers_after_its_cancellation_gives_its_answer(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.1")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def stubborn() -> int:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.02)  # finishes its work, and says so
        return 201

    try:
        assert runtime._await_bounded(stubborn(), loop) == 201
    finally:
        loop.call_soon_threadsafe(loop.stop)


def test_an_async_call_past_its_timeout_is_retried_after_its_cleanup_never_beside_it(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event's retry (due after 1 ms) waits for the cancelled call's cleanup: two runs
    of one event never overlap, and the next event of its key waits behind it."""
    app, module = _cleaning(runtime, tmp_path, monkeypatch, "cleaning_retry")
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    try:
        consumer._one(client, Record(2, _value(runtime)), Partition)
        assert consumer.counts == {"retry": 1} and module.ended == []
        _until(lambda: consumer._retry_parked(client, Partition))
        assert len(module.runs) == 2 and module.at_once == [1, 1]
        assert module.runs[1] >= module.ended[0]  # the retry began once the first ended
        assert consumer.counts == {"retry": 1, "handled": 1}
    finally:
        app.close()


def test_a_partition_revoked_while_its_timed_out_call_runs_waits_for_it(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition's next owner would run the event beside the call still running:
    the revoke waits for it (at most the handler timeout, 2 s here) and commits it."""
    consumer, module = _overrunning(runtime, tmp_path, monkeypatch, "overrun_revoke")
    consumer._one(Client(), Record(4, _value(runtime)), Partition)
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "2")
    client = Client()
    consumer._on_revoke(client, [Partition("t", 0)])
    assert not module.at_once or max(module.at_once) == 1
    (stored, commit) = client.calls
    assert stored[0] == "store_offsets"
    (offset,) = stored[1]["offsets"]
    assert (offset.topic, offset.partition, offset.offset) == ("t", 0, 5)
    assert commit == ("commit", {"asynchronous": False})
    assert consumer._running == {}


def test_a_call_stuck_past_the_poll_interval_stops_the_liveness_signal(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that never returns holds its event's partition: the probe fails, and the
    restart ends the call, so the event's retry runs alone."""
    import os
    import time

    alive = tmp_path / "alive"
    monkeypatch.setenv("DECOUPLE_LIVENESS_FILE", str(alive))
    monkeypatch.setenv("KAFKA_MAX_POLL_INTERVAL_MS", "300")
    consumer, module = _overrunning(runtime, tmp_path, monkeypatch, "overrun_stuck")
    module.SLEEPS[:] = [1.5]
    consumer._one(Client(), Record(0, _value(runtime)), Partition)
    consumer._beat()
    assert alive.exists()
    os.utime(alive, (0, 0))
    time.sleep(0.5)
    consumer._beat_at = 0
    consumer._beat()
    assert alive.stat().st_mtime == 0  # stuck past the poll interval: not touched
    _until(lambda: not consumer._running[("t", 0)][1].running())
    consumer._beat_at = 0
    consumer._beat()
    assert alive.stat().st_mtime > 0


LIFESPAN_APP = """\
started = []
stopped = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                started.append(1)
                await send({"type": "lifespan.startup.complete"})
            else:
                stopped.append(1)
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


def test_the_apps_startup_runs_once_per_process_whatever_consumes_its_events(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "once.py").write_text(LIFESPAN_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    subs = [
        runtime.Subscription(
            topic=topic, group=topic, dead_letter=f"{topic}.dlq", target="once:app", kind="asgi"
        )
        for topic in ("a", "b")
    ]
    both = runtime.Consumer(subs, service="s", store=runtime.MemoryStore(), producer=object())
    alone = runtime.Consumer(subs[:1], service="s", store=runtime.MemoryStore(), producer=object())
    apps = [both._app("a"), both._app("b"), alone._app("a")]
    once = importlib.import_module("once")
    assert once.started == [1]
    for sub, app in zip([*subs, subs[0]], apps, strict=True):
        assert _handle(runtime, sub, app, {}).status == 204
    for app in apps[:-1]:
        app.close()
    assert once.stopped == []  # one consumer still uses it
    apps[-1].close()
    assert once.stopped == [1]


NESTED_APP = """\
import threading

import decouple_runtime_under_test as runtime

SUBSCRIPTION = runtime.Subscription(
    topic="t", group="g", dead_letter="t.dlq", target="nested:app", kind="asgi"
)
threads = []


async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    # the service's own lifespan consumes its topic in-process
    async with runtime.consuming_in_lifespan([SUBSCRIPTION], service="s"):
        threads.extend(t.name for t in threading.enumerate())
        await send({"type": "lifespan.startup.complete"})
        await receive()
    await send({"type": "lifespan.shutdown.complete"})
"""


def test_a_consumer_beside_the_service_starts_its_lifespan_without_a_second_consumer(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    (tmp_path / "nested.py").write_text(NESTED_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    nested = importlib.import_module("nested")
    consumer = runtime.Consumer(
        [nested.SUBSCRIPTION], service="s", store=runtime.MemoryStore(), producer=Sent()
    )
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: FakeKafka(consumer, [], 0))
    consumer.run()
    assert nested.threads and "decouple-consumer" not in nested.threads


def test_the_loop_touches_its_liveness_file_and_logs_its_counts(
    runtime: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import time

    alive = tmp_path / "alive"
    monkeypatch.setenv("DECOUPLE_LIVENESS_FILE", str(alive))
    monkeypatch.setenv("DECOUPLE_STATS_INTERVAL_S", "0.01")
    consumer = _consumer(runtime, Flaky(failures=0), monkeypatch)
    caplog.set_level(logging.INFO)
    consumer._beat()
    assert alive.exists()
    first = alive.stat().st_mtime
    consumer._one(Client(), Record(0, _value(runtime)), Partition)
    time.sleep(1.05)
    consumer._beat()
    assert alive.stat().st_mtime > first
    assert "stats g: handled=1" in caplog.text


def test_a_dead_letter_goes_back_to_its_topic_with_its_own_headers_only(
    runtime: ModuleType,
) -> None:
    headers = [
        ("ce_id", b"e-1"),
        ("X-Request-Id", b"req-1"),
        ("decouple.error.message", b"the application answered 503"),
        ("decouple.original.topic", b"emails.send"),
    ]
    assert runtime.original_topic("anything", headers) == "emails.send"
    assert runtime.original_topic("emails.send.dlq", []) == "emails.send"
    with pytest.raises(runtime.PermanentError, match="give --to"):
        runtime.original_topic("elsewhere", [])
    assert runtime.redrive_headers(headers) == [("ce_id", b"e-1"), ("X-Request-Id", b"req-1")]
    from_group = [*headers, ("decouple.consumer.group", b"emails.users.user-registered")]
    assert runtime.redrive_headers(from_group)[-1] == (
        "decouple.redrive.group",
        b"emails.users.user-registered",
    )


def test_a_redriven_record_is_handled_by_the_group_that_dead_lettered_it_only(
    runtime: ModuleType,
) -> None:
    """Every group of a topic reads what redrive publishes on it; the groups whose copy
    did not fail handled the event already."""
    calls = []

    def app(subscription: Any, event: Any, headers: Any) -> int:
        calls.append(subscription)
        return 200

    sub = _sub(runtime, "x:app", "none", "/send")
    value = runtime.encode(runtime.make_event("x", "y", {"to": "a"}))
    redriven = [("decouple.redrive.group", b"emails.signup")]
    for group, expected in (("analytics.signup", "duplicate"), ("emails.signup", "handled")):
        outcome = runtime.handle(value, redriven, sub, app, runtime.MemoryStore(), group)
        assert outcome.action == expected
    assert runtime.handle(value, [], sub, app, runtime.MemoryStore(), "a").action == "handled"
    assert len(calls) == 2


def test_the_redrive_command_says_what_is_missing(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert runtime.cli(["redrive", "--topic", "emails.send.dlq"]) == 1
    assert "redrive: KAFKA_BOOTSTRAP_SERVERS is not set" in capsys.readouterr().err


def test_one_store_serves_several_consumer_groups_each_seeing_the_event_once(
    runtime: ModuleType,
) -> None:
    store = runtime.MemoryStore()
    sub = _sub(runtime, "x:y", "function", "/")
    value = runtime.encode(runtime.make_event("x", "y", {"n": 1}))
    app = Flaky(failures=0)
    outcomes = [runtime.handle(value, [], sub, app, store, group) for group in ("a", "b", "a")]
    assert [o.action for o in outcomes] == ["handled", "handled", "duplicate"]
    assert app.calls == 2


def test_the_sqlite_store_remembers_across_restarts(runtime: ModuleType, tmp_path: Path) -> None:
    path = str(tmp_path / "handled.sqlite")
    store = runtime.SqliteStore(path)
    store.mark("e-1")
    store.close()
    again = runtime.SqliteStore(path)
    assert again.seen("e-1") and not again.seen("e-2")


def test_old_handled_events_are_purged_a_bounded_batch_at_a_time_through_an_index(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge runs in the transaction marking an event: a backlog of old rows goes a
    batch a minute, never in one long delete of the whole table."""
    import sqlite3

    clock = [0.0]
    monkeypatch.setattr(runtime.time, "time", lambda: clock[0])
    path = tmp_path / "handled.sqlite"
    store = runtime.SqliteStore(str(path), keep=90)

    def rows() -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM decouple_handled").fetchone()[0])

    for n in range(999):
        store.mark(f"old-{n}")
    clock[0] = 1.0
    for n in range(999, 1500):  # after a thousand marks comes a purge: nothing old yet
        store.mark(f"old-{n}")
    assert rows() == 1500
    clock[0] = 100.0
    store.mark("new-1")  # a minute since the last purge: one batch of the oldest goes
    assert rows() == 1501 - 1000
    clock[0] = 120.0
    store.mark("new-2")  # too soon for another
    assert rows() == 502
    clock[0] = 161.0
    store.mark("new-3")
    assert rows() == 3 and store.seen("new-1") and not store.seen("old-1499")
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT event_key FROM decouple_handled WHERE first_seen < 1 "
            "ORDER BY first_seen LIMIT 1000"
        ).fetchall()
    assert "decouple_handled_first_seen" in str(plan)
    store.close()
    runtime.SqliteStore(str(path)).close()  # the index made by an earlier start is fine


def test_the_default_store_is_a_file_and_memory_only_when_asked(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(runtime.open_store("g"), runtime.SqliteStore)
    assert (tmp_path / "decouple-handled-g.sqlite").exists()
    monkeypatch.setenv("DECOUPLE_IDEMPOTENCY_DB", "memory")
    assert isinstance(runtime.open_store("g"), runtime.MemoryStore)


def test_the_sqlite_store_counts_attempts_across_restarts_and_releases_them(
    runtime: ModuleType, tmp_path: Path
) -> None:
    path = str(tmp_path / "handled.sqlite")
    store = runtime.SqliteStore(path)
    assert store.attempt("g/e-1")[0] == 1
    first = store.attempt("g/e-1")
    store.close()
    again = runtime.SqliteStore(path)
    attempts, since = again.attempt("g/e-1")
    assert (attempts, since) == (3, first[1]) and not again.seen("g/e-1")
    again.release("g/e-1")  # dead-lettered: a redrive counts from the start
    assert again.attempt("g/e-1")[0] == 1
    again.mark("g/e-1")
    again.release("g/e-1")  # a handled event stays handled
    assert again.seen("g/e-1")


def test_a_sqlite_file_of_an_earlier_runtime_keeps_its_handled_events(
    runtime: ModuleType, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE handled_events (event_id TEXT PRIMARY KEY, handled_at REAL)")
        db.execute("INSERT INTO handled_events VALUES ('g/e-1', 1.0)")
    store = runtime.SqliteStore(str(path))
    assert store.seen("g/e-1") and not store.seen("g/e-2")


def test_a_sqlalchemy_url_makes_the_store_shared_by_every_consumer_of_the_database(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two consumers (two pods) on one database see each other's marks and attempts."""
    monkeypatch.setenv("DECOUPLE_IDEMPOTENCY_URL", f"sqlite:///{tmp_path / 'service.db'}")
    one, two = runtime.open_store("g", "sqlalchemy"), runtime.open_store("g", "sqlalchemy")
    assert isinstance(one, runtime.DatabaseStore) and "DECOUPLE_IDEMPOTENCY_URL" in one.where
    assert one.attempt("g/e-1")[0] == 1 and two.attempt("g/e-1")[0] == 2
    one.mark("g/e-1")
    assert two.seen("g/e-1")


def test_a_django_consumer_keeps_its_store_in_the_services_database(
    runtime: ModuleType, tmp_path: Path
) -> None:
    """In a process of its own: Django is configured once per process."""
    import subprocess

    database = tmp_path / "django.sqlite"
    (tmp_path / "store_settings.py").write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = []\nDATABASES = {'default': "
        f"{{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(database)!r}}}}}\n"
    )
    (tmp_path / "no_database.py").write_text("SECRET_KEY = 'x'\nDATABASES = {}\n")
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        f"import {runtime.__name__} as runtime\n"
        "store = runtime.open_store('g', 'django', sys.argv[3])\n"
        "print(type(store).__name__, store.where)\n"
        "store.mark('g/e-1')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DECOUPLE_", "DJANGO_"))}
    folder = str(Path(runtime.__file__).parent)

    def opened(settings: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", script, folder, str(tmp_path), settings],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert opened("store_settings").startswith("DatabaseStore Django's 'default' database")
    import sqlite3

    with sqlite3.connect(database) as db:
        (row,) = db.execute("SELECT event_key, handled_at FROM decouple_handled")
    assert row[0] == "g/e-1" and row[1] is not None
    assert not (tmp_path / "decouple-handled-g.sqlite").exists()
    # a Django service without a database keeps a file, and says so
    assert opened("no_database").startswith("SqliteStore")


def test_a_database_store_that_is_not_configured_says_so_loudly_and_keeps_a_file(
    runtime: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DECOUPLE_IDEMPOTENCY_URL", raising=False)
    store = runtime.open_store("g", "sqlalchemy")
    assert isinstance(store, runtime.SqliteStore)
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "per pod and lost on restart" in error.getMessage()


def test_an_unwritable_store_file_falls_back_to_memory_at_error_level_and_stays_loud(
    runtime: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DECOUPLE_IDEMPOTENCY_DB", str(tmp_path / "missing" / "h.sqlite"))
    store = runtime.open_store("g")
    assert isinstance(store, runtime.MemoryStore)
    assert any(
        r.levelname == "ERROR" and "IDEMPOTENCY STORE IN MEMORY" in r.getMessage()
        for r in caplog.records
    )
    monkeypatch.setenv("DECOUPLE_STATS_INTERVAL_S", "0.01")
    sub = _sub(runtime, "x:y", "function", "/")
    consumer = runtime.Consumer([sub], service="s", store=store, producer=Sent())
    caplog.clear()
    import time

    consumer._beat()
    time.sleep(0.02)
    consumer._beat()  # every stats line repeats it
    assert any(
        r.levelname == "ERROR" and "h.sqlite failed" in r.getMessage() for r in caplog.records
    )


def test_attempts_that_never_ended_dead_letter_the_event_without_another_call(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt is counted before the call: calls that killed the process leave their
    count, and the next delivery past the limit goes to the dead-letter topic unrun."""
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "3")
    policy = runtime.RetryPolicy.from_env()
    store = runtime.SqliteStore(str(tmp_path / "h.sqlite"))
    app = Flaky(failures=0)
    sub = _sub(runtime, "x:y", "function", "/")
    value = _value(runtime)
    event_id = runtime.decode(value)["id"]
    for _ in range(3):  # three processes died inside the call
        store.attempt(f"g/{event_id}")
    outcome = runtime.handle(value, [], sub, app, store, "g", policy)
    assert outcome.action == "dead_letter" and app.calls == 0
    assert outcome.attempts == 3 and "without an outcome" in str(outcome.error)


def test_a_rebalance_does_not_reset_an_events_attempts(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures before a revoke count for the consumer that gets the partition next."""
    app = Flaky(failures=10)
    store = runtime.SqliteStore(str(tmp_path / "h.sqlite"))
    first = _consumer(runtime, app, monkeypatch)
    first.store = store
    record = Record(3, _value(runtime))
    first._one(Client(), record, Partition)
    first._on_revoke(Client(), [Partition("t", 0)])
    assert first._parked == {}
    second = _consumer(runtime, app, monkeypatch)
    second.store = store
    client = Client()
    second._one(client, record, Partition)
    _due(second, client)
    (dead,) = second.producer.dead
    assert dict(dead[3])["decouple.attempts"] == b"3" and app.calls == 3


def test_a_revoke_waits_for_its_running_calls_together_not_each_in_turn(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures
    import time

    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "0.3")
    consumer = _consumer(runtime, Flaky(failures=0), monkeypatch)
    partitions = [Partition("t", n) for n in range(3)]
    for n in range(3):  # calls that never finish
        consumer._running[("t", n)] = (4, concurrent.futures.Future(), f"e-{n}", 0.0)
    started = time.monotonic()
    consumer._settle_running(Client(), partitions)
    assert 0.25 < time.monotonic() - started < 0.6


def test_an_event_failing_past_the_deadline_is_dead_lettered_whatever_its_count(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECOUPLE_RETRY_DEADLINE_S", "60")
    app = Flaky(failures=10)
    consumer = _consumer(runtime, app, monkeypatch)
    value = _value(runtime)
    event_id = runtime.decode(value)["id"]
    consumer.store.attempt(f"g/{event_id}")
    consumer.store._attempts[f"g/{event_id}"] = (1, 1.0)  # first tried long ago
    consumer._one(Client(), Record(3, value), Partition)
    (dead,) = consumer.producer.dead
    assert dict(dead[3])["decouple.attempts"] == b"2" and app.calls == 1


# -- retries through a retry topic ---------------------------------------------------------


class Message(Record):
    """A record of any topic, with a key and headers of its own."""

    def __init__(
        self,
        offset: int,
        value: bytes,
        *,
        topic: str = "t",
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        super().__init__(offset, value)
        self._topic, self._key, self._headers = topic, key, headers or []

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:  # type: ignore[override]
        return self._key

    def headers(self) -> list[tuple[str, bytes]]:
        return list(self._headers)


def _retrying(
    runtime: ModuleType, app: Any, monkeypatch: pytest.MonkeyPatch, cap: str = "0.001"
) -> Any:
    """A consumer of ``t`` whose events without a key wait for their retries in ``t.retry``."""
    monkeypatch.setenv("DECOUPLE_RETRY_BASE_S", cap)
    monkeypatch.setenv("DECOUPLE_RETRY_CAP_S", cap)
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "3")
    sub = _sub(runtime, "x:y", "function", "/", retry_topic="t.retry")
    consumer = runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())
    consumer._apps["t"] = app
    consumer._owned.update({("t", 0), ("t.retry", 0)})
    return consumer


def _retry_copy(sent: Any, offset: int = 0) -> Message:
    """The record the retry topic gives back for a copy the consumer sent."""
    topic, value, key, headers = sent
    assert topic == "t.retry" and key is None
    return Message(offset, value, topic=topic, headers=list(headers))


def test_a_failing_event_without_a_key_waits_in_the_retry_topic_and_its_partition_goes_on(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=1)
    consumer = _retrying(runtime, app, monkeypatch)
    client = Client()
    traced = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    first = Message(5, _value(runtime), headers=traced)
    second = Message(6, _value(runtime))
    started = time.time()
    consumer._one(client, first, Partition)
    (sent,) = consumer.producer.dead
    topic, value, key, headers = sent
    assert (topic, value, key) == ("t.retry", first.value(), None)
    assert headers[0] == traced[0]  # the record's own headers first, unchanged
    extra = dict(headers)
    assert extra["decouple.attempts"] == b"1"
    assert extra["decouple.consumer.group"] == b"g"
    assert (extra["decouple.original.topic"], extra["decouple.original.offset"]) == (b"t", b"5")
    assert extra["decouple.original.partition"] == b"0"
    assert started <= float(extra["decouple.retry.due"]) <= time.time() + 1
    # the retry topic has it: the offset is stored, and the partition was never paused
    assert client.calls == [("store_offsets", {"message": first})]
    assert consumer._retrying == {}
    consumer._one(client, second, Partition)  # the next record, at once
    assert app.calls == 2 and client.calls[-1] == ("store_offsets", {"message": second})
    assert consumer.counts == {"retry": 1, "retry_topic": 1, "handled": 1}


def test_a_due_retry_is_handled_as_the_original_and_dead_lettered_once_its_budget_is_spent(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=10)
    consumer = _retrying(runtime, app, monkeypatch)
    client = Client()
    original = Message(5, _value(runtime), headers=[("x-request-id", b"req-1")])
    consumer._one(client, original, Partition)
    first_copy = _retry_copy(consumer.producer.dead[-1], offset=0)
    time.sleep(0.01)  # due (the delay is 1 ms)
    consumer._one(client, first_copy, Partition)
    second_copy = _retry_copy(consumer.producer.dead[-1], offset=1)
    again = dict(second_copy.headers())
    # the attempts the store counted; where the original was, not where the copy was
    assert again["decouple.attempts"] == b"2"
    assert (again["decouple.original.topic"], again["decouple.original.offset"]) == (b"t", b"5")
    assert [name for name, _ in second_copy.headers()].count("decouple.attempts") == 1
    time.sleep(0.01)
    consumer._one(client, second_copy, Partition)
    assert app.calls == 3
    assert [sent[0] for sent in consumer.producer.dead] == ["t.retry", "t.retry", "t.dlq"]
    _, value, key, headers = consumer.producer.dead[-1]
    assert value == original.value() and key is None
    dead = dict(headers)
    assert dead["decouple.attempts"] == b"3"
    assert "decouple.retry.due" not in dead
    assert (dead["decouple.original.topic"], dead["decouple.original.offset"]) == (b"t", b"5")
    assert headers[0] == ("x-request-id", b"req-1")
    assert client.calls[-1] == ("store_offsets", {"message": second_copy})
    assert consumer._retrying == {}


def test_a_retry_not_yet_due_pauses_only_its_retry_partition(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=0)
    consumer = _retrying(runtime, app, monkeypatch, cap="300")
    client = Client()
    copy = Message(
        0,
        _value(runtime),
        topic="t.retry",
        headers=[
            ("decouple.consumer.group", b"g"),
            ("decouple.attempts", b"1"),
            ("decouple.original.topic", b"t"),
            ("decouple.original.partition", b"0"),
            ("decouple.original.offset", b"5"),
            ("decouple.retry.due", str(time.time() + 0.2).encode()),
        ],
    )
    consumer._one(client, copy, Partition)
    assert [(name, repr(args[0])) for name, args in client.calls] == [
        ("pause", "[t.retry/0@0]"),
        ("seek", "t.retry/0@0"),
    ]
    assert app.calls == 0 and list(consumer._retrying) == [("t.retry", 0)]
    client.calls.clear()
    main = Message(7, _value(runtime))
    consumer._one(client, main, Partition)  # the main topic flows meanwhile
    assert app.calls == 1 and client.calls == [("store_offsets", {"message": main})]
    client.calls.clear()
    consumer._resume_due(client, Partition)
    assert client.calls == []  # not due yet
    time.sleep(0.25)
    consumer._resume_due(client, Partition)
    consumer._one(client, copy, Partition)
    assert [name for name, _ in client.calls] == ["resume", "store_offsets"]
    assert app.calls == 2 and consumer._retrying == {}


def test_another_groups_retry_is_passed_by(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=0)
    consumer = _retrying(runtime, app, monkeypatch, cap="300")
    client = Client()
    theirs = Message(
        3,
        _value(runtime),
        topic="t.retry",
        headers=[
            ("decouple.consumer.group", b"analytics"),
            ("decouple.retry.due", str(time.time() + 60).encode()),
        ],
    )
    consumer._one(client, theirs, Partition)
    # neither handled nor waited for: its offset is stored
    assert app.calls == 0 and client.calls == [("store_offsets", {"message": theirs})]
    assert consumer.counts == {"duplicate": 1} and consumer._retrying == {}


def test_a_retry_the_retry_topic_refused_is_parked_never_lost(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=1)
    consumer = _retrying(runtime, app, monkeypatch)
    consumer.producer.refuse = 1
    client = Client()
    record = Message(5, _value(runtime))
    consumer._one(client, record, Partition)
    # the retry topic was tried and did not take it: the event is parked, under no key
    assert consumer.producer.refuse == 0 and consumer.producer.dead == []
    assert client.calls == [] and None in consumer._parked[("t", 0)]
    assert "retry_topic" not in consumer.counts
    keyed = Message(6, _value(runtime), key=b"k")
    consumer._one(client, keyed, Partition)  # a key of its own goes on
    assert app.calls == 2 and _stored(client) == [5]
    _due(consumer, client)
    assert app.calls == 3 and _stored(client) == [5, 7]


def test_an_event_with_a_key_is_parked_not_sent_to_the_retry_topic(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=1)
    consumer = _retrying(runtime, app, monkeypatch)
    client = Client()
    consumer._one(client, Message(5, _value(runtime), key=b"order-1"), Partition)
    # its key's later events must not pass it: it waits in memory, its partition flows
    assert consumer.producer.dead == [] and client.calls == []
    assert list(consumer._parked[("t", 0)]) == [b"order-1"]


def test_a_consumer_with_retry_topics_subscribes_to_them_too(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    consumer = _retrying(runtime, Flaky(failures=0), monkeypatch)
    topics: list[Any] = []

    class Subscribing(FakeKafka):
        def subscribe(self, wanted: Any, on_assign: Any, **callbacks: Any) -> None:
            topics.extend(wanted)
            super().subscribe(wanted, on_assign, **callbacks)

    fake = Subscribing(consumer, [], 0)
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: fake)
    consumer.run()
    assert topics == ["t", "t.retry"]


# -- retry tiers ---------------------------------------------------------------------------


def test_retry_tiers_default_to_ten_seconds_a_minute_and_ten_minutes(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decouple_services.migrate.naming import RETRY_TIER_DELAYS_S, RETRY_TIERS

    monkeypatch.delenv("DECOUPLE_RETRY_TIERS", raising=False)
    for name in ("ATTEMPTS", "BASE_S", "CAP_S", "JITTER", "DEADLINE_S"):
        monkeypatch.delenv(f"DECOUPLE_RETRY_{name}", raising=False)
    monkeypatch.delenv("DECOUPLE_HANDLER_TIMEOUT_S", raising=False)
    policy = runtime.RetryPolicy.from_env()
    # the AsyncAPI document and the topic script describe the runtime's own tiers
    assert policy.tiers == RETRY_TIER_DELAYS_S and len(policy.tiers) == RETRY_TIERS
    # 9 retries: 10 s, 60 s, then 600 s seven times; the window is the tiers' nominal one
    assert policy.window(tiered=True) == (4270.0, 4270.0)
    assert policy.give_up_after(tiered=True) == 2 * 4270 + 10 * 60
    assert policy.give_up_after() == 2 * 810 + 10 * 60  # with a key: as before
    described = policy.describe(tiered=True)
    assert "wait 10 s, 60 s, 600 s (each +/-5%): dead-lettered after 71.2 min" in described
    assert "or 152.3 min after the first attempt" in described
    monkeypatch.setenv("DECOUPLE_RETRY_TIERS", " 5, 30,30 ")
    assert runtime.RetryPolicy.from_env().tiers == (5.0, 30.0, 30.0)


def test_a_retry_deadline_shorter_than_the_tier_window_is_warned_of_and_described_so(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadline set for the backoff's window (an earlier runtime's advice) caps the
    tiers' 71 minutes: the start says so, and its summary does not promise both."""
    monkeypatch.delenv("DECOUPLE_RETRY_TIERS", raising=False)
    for name in ("ATTEMPTS", "BASE_S", "CAP_S", "JITTER"):
        monkeypatch.delenv(f"DECOUPLE_RETRY_{name}", raising=False)
    monkeypatch.delenv("DECOUPLE_HANDLER_TIMEOUT_S", raising=False)
    monkeypatch.delenv("KAFKA_MAX_POLL_INTERVAL_MS", raising=False)
    monkeypatch.setenv("DECOUPLE_RETRY_DEADLINE_S", "1800")
    policy = runtime.RetryPolicy.from_env()
    (caution,) = policy.cautions(tiered=True)
    assert "DECOUPLE_RETRY_DEADLINE_S=1800 is shorter than the 71.2 min" in caution
    assert "in retry tiers" in caution
    described = policy.describe(tiered=True)
    assert (
        "dead-lettered 30.0 min after the first attempt (DECOUPLE_RETRY_DEADLINE_S), "
        "before the 10 attempts' 71.2 min"
    ) in described
    assert "71.2 min of failures" not in described
    # with a key the backoff's 13.5 min fit in it
    assert policy.cautions(tiered=False) == []
    assert "after 6.8 to 13.5 min of failures, or 30.0 min" in policy.describe()


def test_a_handler_timeout_and_grace_past_the_poll_interval_is_warned_of_at_start(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop waits the timeout and then up to 10 s for a cancelled coroutine: 295 s
    of timeout alone fits in 300 s, not with the grace."""
    monkeypatch.delenv("DECOUPLE_RETRY_DEADLINE_S", raising=False)
    monkeypatch.delenv("KAFKA_MAX_POLL_INTERVAL_MS", raising=False)
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "295")
    (caution,) = runtime.RetryPolicy.from_env().cautions()
    assert "hold the poll loop up to 305 s" in caution
    assert "KAFKA_MAX_POLL_INTERVAL_MS (300 s)" in caution
    monkeypatch.setenv("KAFKA_MAX_POLL_INTERVAL_MS", "600000")
    assert runtime.RetryPolicy.from_env().cautions() == []
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", "60")
    monkeypatch.delenv("KAFKA_MAX_POLL_INTERVAL_MS")
    assert runtime.RetryPolicy.from_env().cautions() == []


def test_a_tier_copys_delay_is_drawn_within_a_tenth_of_the_jitter(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies failing together after a downstream blip do not come back in lockstep,
    and a copy waits behind copies due at most 5% (jitter 0.5) of its tier after it."""
    policy = runtime.RetryPolicy(jitter=0.5, tiers=(10.0, 60.0, 600.0))
    drawn = [policy.tier_delay(1) for _ in range(200)]
    assert all(57.0 <= delay <= 63.0 for delay in drawn)
    assert len(set(drawn)) > 100
    assert runtime.RetryPolicy(jitter=0, tiers=(10.0,)).tier_delay(0) == 10.0


@pytest.mark.parametrize(
    "setting", ["ten,60,600", "10,,600", "0,60,600", "10,-60,600", "10,nan,600", "10,inf", "60,10"]
)
def test_a_wrong_retry_tiers_setting_stops_the_consumer_naming_it(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("DECOUPLE_RETRY_TIERS", setting)
    with pytest.raises(ValueError, match="DECOUPLE_RETRY_TIERS takes delays in seconds"):
        runtime.RetryPolicy.from_env()


def test_retry_tiers_must_give_a_delay_per_tier_topic(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECOUPLE_RETRY_TIERS", "10,60")
    sub = _sub(runtime, "x:y", "function", "/", retry_topic="t.retry", retry_tiers=_TIERS[1:])
    with pytest.raises(ValueError, match=r"gives 2 delay\(s\), and t has 3 retry tiers"):
        runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())


def test_the_failed_attempts_pick_the_tier(runtime: ModuleType) -> None:
    policy = runtime.RetryPolicy(tiers=(10.0, 60.0, 600.0))
    assert [policy.tier(attempts) for attempts in (1, 2, 3, 4, 9)] == [0, 1, 2, 2, 2]


_TIERS = ("t.retry", "t.retry.2", "t.retry.3")


class WithoutTopics(Sent):
    """A producer without some topics: a send to one raises as librdkafka reports it."""

    def __init__(self, missing: set[str], error: str = "UNKNOWN_TOPIC_OR_PART") -> None:
        super().__init__()
        self.missing, self.error, self.refused = missing, error, []

    def produce_raw(self, *args: Any) -> None:
        if args[0] in self.missing:
            self.refused.append(args[0])
            runtime = sys.modules["decouple_runtime_under_test"]
            raise runtime.EventNotAccepted(f"{args[0]}: KafkaError{{code={self.error}}}")
        super().produce_raw(*args)


def _tiered(
    runtime: ModuleType,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    producer: Any = None,
    tiers: str = "0.001,0.002,0.003",
) -> Any:
    """A consumer of ``t`` whose events without a key wait in three retry tiers (by
    default of 1 ms, 2 ms and 3 ms), its other retries after 1 s (so a copy's delay
    says which schedule it followed)."""
    monkeypatch.setenv("DECOUPLE_RETRY_TIERS", tiers)
    monkeypatch.setenv("DECOUPLE_RETRY_BASE_S", "1")
    monkeypatch.setenv("DECOUPLE_RETRY_CAP_S", "1")
    monkeypatch.setenv("DECOUPLE_RETRY_JITTER", "0")
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "5")
    sub = _sub(runtime, "x:y", "function", "/", retry_topic="t.retry", retry_tiers=_TIERS[1:])
    consumer = runtime.Consumer(
        [sub], service="s", store=runtime.MemoryStore(), producer=producer or Sent()
    )
    consumer._apps["t"] = app
    consumer._owned.update({("t", 0), *((tier, 0) for tier in _TIERS)})
    return consumer


def _copy(sent: Any, offset: int = 0) -> tuple[Message, float]:
    """The record a retry tier gives back for a copy, and the delay it was sent with."""
    import time

    topic, value, key, headers = sent
    assert key is None
    due = float(dict(headers)["decouple.retry.due"])
    return Message(offset, value, topic=topic, headers=list(headers)), due - time.time()


def test_each_failed_attempt_goes_to_its_tier_with_the_tiers_fixed_delay(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=4)
    consumer = _tiered(runtime, app, monkeypatch)
    client = Client()
    original = Message(5, _value(runtime))
    consumer._one(client, original, Partition)
    topics, delays = [], []
    for offset in range(3):
        copy, delay = _copy(consumer.producer.dead[-1], offset)
        topics.append(copy.topic())
        delays.append(delay)
        time.sleep(0.01)  # due
        consumer._one(client, copy, Partition)
    # attempt 1 -> tier 1, 2 -> tier 2, 3 and 4 -> the last tier; then handled
    assert topics == ["t.retry", "t.retry.2", "t.retry.3"]
    assert [sent[0] for sent in consumer.producer.dead] == [*_TIERS, "t.retry.3"]
    assert all(delay < 0.01 for delay in delays)  # the tiers' delays, not the backoff's 1 s
    copy, _ = _copy(consumer.producer.dead[-1], 1)
    assert dict(copy.headers())["decouple.attempts"] == b"4"
    time.sleep(0.01)
    consumer._one(client, copy, Partition)
    assert app.calls == 5 and consumer.counts["handled"] == 1
    assert consumer.counts["retry_topic"] == 4 and consumer._parked == {}


class Overrunning:
    """An application whose first call times out and goes on (a thread, or a cancelled
    coroutine still cleaning up) until ``running`` is settled; later calls answer 200."""

    def __init__(self) -> None:
        import concurrent.futures

        self.running: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.calls = 0

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        self.calls += 1
        if self.calls == 1:
            runtime = sys.modules["decouple_runtime_under_test"]
            raise runtime.HandlerTimeout("the application did not answer", self.running)
        return 200

    def close(self) -> None:
        pass


def test_an_event_without_a_key_whose_call_overran_goes_to_its_tier_once_the_call_ends(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """It is held only while its call still runs (two runs of one event never overlap),
    then its copy goes to the tier of its failed attempt: the partition's other events
    without a key do not wait for its later attempts on the backoff's schedule."""
    import time

    app = Overrunning()
    consumer = _tiered(runtime, app, monkeypatch)
    client = Client()
    with caplog.at_level("WARNING"):
        consumer._one(client, Message(5, _value(runtime)), Partition)
    assert "goes to its retry topic once the call that timed out has ended" in caplog.text
    assert "the events without a key of t/0 behind it" in caplog.text
    assert "of its key" not in caplog.text
    time.sleep(0.01)
    assert not consumer._retry_parked(client, Partition)  # its call still runs
    assert consumer.producer.dead == []
    app.running.set_exception(RuntimeError("the cleanup failed"))
    consumer._retry_parked(client, Partition)
    # the attempt that overran is the one counted: no other runs in the partition's way
    assert app.calls == 1 and consumer._parked == {}
    assert [sent[0] for sent in consumer.producer.dead] == ["t.retry"]
    copy, delay = _copy(consumer.producer.dead[-1])
    assert dict(copy.headers())["decouple.attempts"] == b"1" and delay < 0.01
    assert _stored(client) == [6]
    time.sleep(0.01)
    consumer._one(client, copy, Partition)
    assert app.calls == 2 and consumer.counts["handled"] == 1


def test_a_tiered_event_is_dead_lettered_once_its_budget_is_spent(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=10)
    consumer = _tiered(runtime, app, monkeypatch)
    client = Client()
    consumer._one(client, Message(5, _value(runtime)), Partition)
    for offset in range(4):
        copy, _ = _copy(consumer.producer.dead[-1], offset)
        time.sleep(0.01)
        consumer._one(client, copy, Partition)
    assert [sent[0] for sent in consumer.producer.dead] == [*_TIERS, "t.retry.3", "t.dlq"]
    dead = dict(consumer.producer.dead[-1][3])
    assert dead["decouple.attempts"] == b"5" and dead["decouple.original.offset"] == b"5"


def test_a_tiered_copy_not_yet_due_is_waited_for_as_long_as_its_tier_asks(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backoff's cap (1 s here) does not cut the last tier's wait short; a clock far
    ahead is still bounded, by the longest tier."""
    import time

    consumer = _tiered(runtime, Flaky(failures=0), monkeypatch, tiers="10,60,600")
    client = Client()
    headers = [("decouple.consumer.group", b"g"), ("decouple.attempts", b"3")]
    for due, wait in ((500, 500), (5000, 600)):
        copy = Message(
            0,
            _value(runtime),
            topic="t.retry.3",
            headers=[*headers, ("decouple.retry.due", str(time.time() + due).encode())],
        )
        consumer._retrying.clear()
        consumer._one(client, copy, Partition)
        resume_at = consumer._retrying[("t.retry.3", 0)][2]
        assert wait - 5 <= resume_at - time.monotonic() <= wait


def test_tiers_the_broker_lacks_at_the_start_leave_the_retry_topic_alone(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    app = Flaky(failures=1)
    consumer = _tiered(runtime, app, monkeypatch)
    subscribed: list[Any] = []

    class Metadata:
        topics: ClassVar[dict[str, object]] = dict.fromkeys(["t", "t.retry", "t.retry.2"])

    class WithoutTier3(FakeKafka):
        def list_topics(self, timeout: float) -> Metadata:
            return Metadata()

        def subscribe(self, wanted: Any, on_assign: Any, **callbacks: Any) -> None:
            subscribed.extend(wanted)
            super().subscribe(wanted, on_assign, **callbacks)

    fake = WithoutTier3(consumer, [Record(0, _value(runtime))], 0)
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: fake)
    consumer.run()
    # the tier the broker has is still read (another member may have sent copies there)
    assert subscribed == ["t", "t.retry", "t.retry.2"]
    assert "retry tiers of t: the broker has no t.retry.3" in caplog.text
    # its events without a key go to t.retry, after the backoff's delay (1 s), as before
    ((topic, _, _, headers),) = consumer.producer.dead
    assert topic == "t.retry"
    import time

    assert 0.5 < float(dict(headers)["decouple.retry.due"]) - time.time() <= 1.01


def test_a_broker_that_cannot_list_its_topics_keeps_the_tiers(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    consumer = _tiered(runtime, Flaky(failures=0), monkeypatch)
    subscribed: list[Any] = []

    class Silent(FakeKafka):
        def list_topics(self, timeout: float) -> Any:
            raise confluent_kafka.KafkaException("Local: Timed out")

        def subscribe(self, wanted: Any, on_assign: Any, **callbacks: Any) -> None:
            subscribed.extend(wanted)
            super().subscribe(wanted, on_assign, **callbacks)

    fake = Silent(consumer, [], 0)
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: fake)
    consumer.run()
    assert subscribed == ["t", *_TIERS] and list(consumer._tiers) == ["t"]


def test_a_tier_the_broker_does_not_have_falls_back_to_the_retry_topic_for_good(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    app = Flaky(failures=10)
    consumer = _tiered(runtime, app, monkeypatch, WithoutTopics({"t.retry.2"}))
    client = Client()
    consumer._one(client, Message(5, _value(runtime)), Partition)
    copy, _ = _copy(consumer.producer.dead[-1])
    time.sleep(0.01)
    consumer._one(client, copy, Partition)  # tier 2 is missing: t.retry takes it
    assert consumer.producer.refused == ["t.retry.2"]
    assert [sent[0] for sent in consumer.producer.dead] == ["t.retry", "t.retry"]
    assert "retry tiers of t: the broker has no t.retry.2" in caplog.text
    copy, delay = _copy(consumer.producer.dead[-1], 1)
    assert 0.5 < delay <= 1.01  # the backoff's delay, as before tiers
    time.sleep(1.01)
    consumer._one(client, copy, Partition)
    # tier 3 is not tried any more: every copy waits in t.retry
    assert consumer.producer.refused == ["t.retry.2"]
    assert [sent[0] for sent in consumer.producer.dead] == ["t.retry"] * 3
    assert client.calls[-1] == ("store_offsets", {"message": copy})


def test_a_tier_refusing_a_copy_for_another_reason_sends_that_copy_to_the_retry_topic(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = Flaky(failures=10)
    consumer = _tiered(runtime, app, monkeypatch, WithoutTopics({"t.retry.2"}, "_MSG_TIMED_OUT"))
    client = Client()
    consumer._one(client, Message(5, _value(runtime)), Partition)
    copy, _ = _copy(consumer.producer.dead[-1])
    time.sleep(0.01)
    consumer._one(client, copy, Partition)
    assert [sent[0] for sent in consumer.producer.dead] == ["t.retry", "t.retry"]
    assert list(consumer._tiers) == ["t"]  # the tiers stay: the next copy tries them
    consumer.producer.missing.clear()
    copy, _ = _copy(consumer.producer.dead[-1], 1)
    time.sleep(1.01)
    consumer._one(client, copy, Partition)
    assert consumer.producer.dead[-1][0] == "t.retry.3"


def test_a_subscription_of_an_earlier_runtime_keeps_its_one_retry_topic(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module generated before tiers names ``retry_topic`` alone: its copies go there,
    after the backoff's delays, and nothing else is subscribed to."""
    monkeypatch.setenv("DECOUPLE_RETRY_TIERS", "0.001,0.002,0.003")
    consumer = _retrying(runtime, Flaky(failures=1), monkeypatch, cap="0.5")
    client = Client()
    consumer._one(client, Message(5, _value(runtime)), Partition)
    copy, delay = _copy(consumer.producer.dead[-1])
    assert copy.topic() == "t.retry" and 0.2 < delay <= 0.5
    assert consumer._tiers == {} and consumer._longest_wait == 0.5
    assert set(consumer.subscriptions) == {"t", "t.retry"}


# -- the producer --------------------------------------------------------------------------


def test_without_bootstrap_servers_every_send_raises_at_once(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    producer = runtime.Producer("shop", {"t": "shop.thing.v1"})
    with pytest.raises(runtime.EventNotAccepted, match="KAFKA_BOOTSTRAP_SERVERS"):
        producer.send("t", {"a": 1})
    with pytest.raises(runtime.EventNotAccepted):
        producer.send_and_wait("t", {"a": 1}, timeout=5)
    with pytest.raises(runtime.EventNotAccepted):
        asyncio.run(producer.send_async("t", {}))
    with pytest.raises(runtime.EventNotAccepted):
        asyncio.run(producer.send_and_wait_async("t", {}))


def test_data_that_is_not_json_raises_at_the_call_as_with_the_http_client(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    producer = runtime.Producer("shop", {})
    with pytest.raises(TypeError):
        producer.send("t", {"when": object()})


class FakeKafkaProducer:
    """confluent-kafka's ``Producer``, as far as making one goes: its configuration kept."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        FakeKafkaProducer.made.append(config)

    def poll(self, timeout: float) -> int:
        threading.Event().wait(timeout)
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


@pytest.fixture
def made(runtime: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setattr(confluent_kafka, "Producer", FakeKafkaProducer)
    monkeypatch.setattr(runtime, "_WARNED", set())
    FakeKafkaProducer.made = []
    # no thread polls the fakes
    monkeypatch.setattr(runtime.Producer, "_serving", lambda self, client: client)
    yield FakeKafkaProducer.made


def test_a_waiting_sends_bound_limits_the_message_timeout_not_the_request_timeout(
    runtime: ModuleType, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.Producer("shop", {}, wait_bounds=(8.0,))
    default, bounded = made
    assert default["message.timeout.ms"] == 300_000
    assert bounded["message.timeout.ms"] == 7000
    assert bounded["request.timeout.ms"] == default["request.timeout.ms"] == 30_000

    monkeypatch.setenv("KAFKA_REQUEST_TIMEOUT_MS", "1000")  # never under 5 s
    runtime.Producer("shop", {}, wait_bounds=(8.0,))
    assert [config["request.timeout.ms"] for config in made[2:]] == [5000, 5000]


def test_past_the_cap_of_clients_a_send_never_goes_through_a_longer_timeout(
    runtime: ModuleType, made: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    bounds = (7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0)
    producer = runtime.Producer("shop", {}, wait_bounds=bounds)
    assert len(made) == 1 + runtime._MAX_BOUNDED_PRODUCERS == 1 + len(bounds)
    ms = runtime.delivery_timeout_ms
    assert producer.delivery_ms_for(ms(10.0)) == 9000  # its own
    assert producer.delivery_ms_for(ms(11.55)) == 10_000  # 10.5 s would be past the bound
    assert producer.delivery_ms_for(ms(30.0)) == 13_000
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # every client's timeout is longer: the shortest, the caller's wait bounded here
    assert producer.delivery_ms_for(ms(6.5)) == 6000
    assert producer.delivery_ms_for(ms(6.5)) == 6000
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "may be delivered after it" in warned[0]
    assert len(made) == 1 + len(bounds)  # no client past the cap


def test_a_bound_under_two_seconds_is_warned_about_once(
    runtime: ModuleType, made: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    runtime._Report("t", 5.0)
    assert not caplog.records
    runtime._Report("t", 1.0)
    runtime._Report("t", 0.5)
    (warned,) = [r.getMessage() for r in caplog.records]
    assert "1 s bound" in warned and "acks=all" in warned


def test_a_delivery_failure_is_counted_and_handed_to_the_hook(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(runtime, "on_delivery_failure", lambda *args: seen.append(args))
    before = runtime.DELIVERY_FAILURES
    runtime._delivery_failed("t", {"id": "e-1"}, "timed out")
    assert before + 1 == runtime.DELIVERY_FAILURES
    assert seen == [("t", {"id": "e-1"}, "timed out")]


def test_a_consumer_thread_that_cannot_start_says_why_and_holds_nothing_up(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    sub = _sub(runtime, "json:dumps", "function", "/")
    before = threading.active_count()
    with runtime.consuming_in_thread([sub], service="s", store=runtime.MemoryStore()) as consumer:
        pass
    assert consumer.stopping.is_set()
    assert threading.active_count() <= before
    assert "the consumer stopped: KAFKA_BOOTSTRAP_SERVERS is not set" in caplog.text


def test_only_tracing_headers_cross_from_the_record_and_the_consumers_own_win(
    runtime: ModuleType, credentials: None
) -> None:
    record = [
        ("authorization", b"Bearer forged"),
        ("x-user-id", b"admin"),
        ("host", b"evil.example"),
        ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ]
    headers = runtime._http_headers(record)
    names = [name.lower() for name, _ in headers]
    assert ("Authorization", "Bearer internal-token") in headers
    assert names.count("authorization") == 1 and "x-user-id" not in names and "host" not in names
    assert "traceparent" in names


def test_path_parameters_put_in_data_leave_the_request_body(runtime: ModuleType) -> None:
    event = {"data": {"order_id": 5, "reason": "late"}}
    assert json.loads(runtime._body(event, ("order_id",))) == {"reason": "late"}
    # sent as an attribute (earlier releases), a body field of that name is the caller's
    event_with_attribute = {"orderid": "5", "data": {"order_id": 5, "reason": "late"}}
    assert json.loads(runtime._body(event_with_attribute, ("order_id",))) == {
        "order_id": 5,
        "reason": "late",
    }


@pytest.mark.usefixtures("credentials")
def test_a_domain_events_subscriber_gets_only_its_own_fields(
    runtime: ModuleType, mailer: Any, records: Path
) -> None:
    """One event carries what several calls sent; each handler gets back only its own."""
    data = {"to": "a@example.com", "template": "welcome", "user_id": 5, "name": "registered"}
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send", fields=("to", "template"))
    app = runtime.application(sub)
    assert _handle(runtime, sub, app, data).action == "handled"
    assert _recorded(records)[-1]["body"] == {"to": "a@example.com", "template": "welcome"}
    # a call that sent no body: the path parameter, and no body at all
    welcome = _sub(
        runtime, "mailer.app:app", "wsgi", "/users/{user_id}/welcome", "user_id", fields=()
    )
    assert _handle(runtime, welcome, app, data).action == "handled"
    assert _recorded(records)[-1] == {"endpoint": "welcome", "user_id": 5, "body": None}


@pytest.mark.usefixtures("credentials")
def test_a_subscriber_gets_its_calls_body_back_from_the_fact_and_its_constants(
    runtime: ModuleType, mailer: Any, records: Path
) -> None:
    """The event carries the fact (the user's email, id and name); the mailer's call sent
    the email as ``to`` and a constant template: its handler gets exactly that body, in its
    call's order, and not the user's name."""
    data = {"email": "a@example.com", "user_id": 5, "name": "Ada"}
    sub = _sub(
        runtime,
        "mailer.app:app",
        "wsgi",
        "/send",
        fields=("to", "template", "user_id"),
        renames={"to": "email"},
        values={"template": "welcome"},
    )
    app = runtime.application(sub)
    assert _handle(runtime, sub, app, data).action == "handled"
    body = {"to": "a@example.com", "template": "welcome", "user_id": 5}
    assert _recorded(records)[-1]["body"] == body
    raw = runtime._body({"data": data}, (), sub.fields, sub.renames, sub.values)
    assert list(json.loads(raw)) == ["to", "template", "user_id"]
    # a field the event lacks stays out, as a field it lacks did before
    assert json.loads(runtime._body({"data": {}}, (), sub.fields, sub.renames, sub.values)) == {
        "template": "welcome"
    }


def test_the_headers_the_call_sent_reach_the_app_and_no_others(
    runtime: ModuleType, mailer: Any, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call sent its Authorization: the consumer hands it on, so the app's own check
    passes as it did for the call. A header no call sent stays out, whoever wrote it."""
    monkeypatch.delenv("DECOUPLE_REQUEST_HEADERS", raising=False)
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send", forward_headers=("authorization",))
    app = runtime.application(sub)
    value = runtime.encode(runtime.make_event("x", "y", {"to": "a@example.com"}))
    sent = [("authorization", b"Bearer internal-token"), ("x-user-id", b"admin")]
    outcome = runtime.handle(value, sent, sub, app, runtime.MemoryStore())
    assert (outcome.action, outcome.status) == ("handled", 202)
    names = {name.lower() for name, _ in runtime._http_headers(sent, sub.forward_headers)}
    assert names == {"authorization", "x-forwarded-proto"}
    # a subscription whose calls sent no credential forwards none: the consumer's own, or none
    plain = _sub(runtime, "mailer.app:app", "wsgi", "/send")
    assert runtime.handle(value, sent, plain, app, runtime.MemoryStore()).action == "retry"


def test_a_refused_caller_credential_is_final_and_a_refused_own_one_retried(
    runtime: ModuleType, mailer: Any, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retrying sends the record's credential again: an expired or revoked token of the
    caller's goes to the dead-letter topic at once instead of minutes of retries. The
    consumer's own credential may be rotated meanwhile: retried, and it wins over the
    record's when both are there."""
    sub = _sub(runtime, "mailer.app:app", "wsgi", "/send", forward_headers=("authorization",))
    app = runtime.application(sub)
    value = runtime.encode(runtime.make_event("x", "y", {"to": "a@example.com"}))
    expired = [("Authorization", b"Bearer expired")]
    monkeypatch.delenv("DECOUPLE_REQUEST_HEADERS", raising=False)
    outcome = runtime.handle(value, expired, sub, app, runtime.MemoryStore())
    assert (outcome.action, outcome.status) == ("dead_letter", 401)
    assert "the caller's credential" in str(outcome.error)
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", json.dumps({"Authorization": "Bearer rotated"}))
    outcome = runtime.handle(value, expired, sub, app, runtime.MemoryStore())
    assert (outcome.action, outcome.status) == ("retry", 401)
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", json.dumps(CREDENTIALS))
    assert runtime.handle(value, expired, sub, app, runtime.MemoryStore()).action == "handled"


CLIENT_ADDRESS_APPS = """\
seen = []


def wsgi(environ, start_response):
    seen.append(environ["REMOTE_ADDR"])
    start_response("200 OK", [])
    return [b""]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    seen.append(scope["client"][0])
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_requests_built_from_events_never_come_from_loopback(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """An application that trusts 127.0.0.1 (INTERNAL_IPS, an admin allow-list) must not
    grant that trust to whoever can write to the topic."""
    name = f"client_address_{kind}"
    (tmp_path / f"{name}.py").write_text(CLIENT_ADDRESS_APPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, f"{name}:{kind}", kind, "/x")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {}).action == "handled"
        monkeypatch.setenv("DECOUPLE_REQUEST_REMOTE_ADDR", "10.1.2.3")
        assert _handle(runtime, sub, app, {}).action == "handled"
    finally:
        app.close()
    assert importlib.import_module(name).seen == ["192.0.2.1", "10.1.2.3"]


SENDING_WSGI = """\
import types

import decouple_runtime_under_test as runtime

PRODUCER = types.SimpleNamespace(event_types={}, service="orders")
sent = []


def app(environ, start_response):
    for n in (1, 2, 2):  # the same send twice is two events, not one
        sent.append(runtime.outbox_row(PRODUCER, "emails.send", {"n": n})[0])
    start_response("200 OK", [])
    return [b""]
"""


@pytest.mark.parametrize("timeout", ["0", "5"])
def test_sends_a_handler_makes_get_the_same_ids_when_its_event_comes_again(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timeout: str
) -> None:
    """A retried or redelivered event runs its handler again: what the handler sends
    carries the ids it had the first time, so the next consumers skip the copies."""
    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", timeout)  # in the thread or beside it
    monkeypatch.setitem(sys.modules, "decouple_runtime_under_test", runtime)
    name = f"sending_wsgi_{timeout}"
    (tmp_path / f"{name}.py").write_text(SENDING_WSGI)
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, f"{name}:app", "wsgi", "/x")
    app = runtime.application(sub)
    sent = importlib.import_module(name).sent
    event = runtime.encode(runtime.make_event("com.example.v1", "tests", {"a": 1}))
    other = runtime.encode(runtime.make_event("com.example.v1", "tests", {"a": 1}))
    try:
        for value in (event, event, other):
            outcome = runtime.handle(value, [], sub, app, runtime.MemoryStore())
            assert outcome.action == "handled"
    finally:
        app.close()
    first, again, third = sent[:3], sent[3:6], sent[6:]
    assert first == again and len(set(first)) == 3
    assert not set(third) & set(first)
    # a send outside any handling keeps a fresh id each time
    producer = importlib.import_module(name).PRODUCER
    assert runtime.outbox_row(producer, "t", {})[0] != runtime.outbox_row(producer, "t", {})[0]


# -- what is not the handler's failure ---------------------------------------------------------


class Outage:
    """An idempotency store down for its first ``down`` lookups, or whose marks fail."""

    def __init__(self, runtime: ModuleType, down: int = 0, marks_fail: bool = False) -> None:
        self.inner, self.down, self.marks_fail = runtime.MemoryStore(), down, marks_fail

    def seen(self, key: str) -> bool:
        if self.down:
            self.down -= 1
            raise ConnectionError("the database is down")
        return bool(self.inner.seen(key))

    def attempt(self, key: str) -> Any:
        return self.inner.attempt(key)

    def mark(self, key: str) -> None:
        if self.marks_fail:
            raise ConnectionError("the database is down")
        self.inner.mark(key)

    def release(self, key: str) -> None:
        self.inner.release(key)

    def close(self) -> None:
        pass


def test_a_store_outage_is_waited_out_without_counting_attempts_or_dead_lettering(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    app = Flaky(failures=1)
    consumer = _consumer(runtime, app, monkeypatch)  # 3 attempts at most
    consumer.store = Outage(runtime, down=5)
    client = Client()
    record = Record(2, _value(runtime))
    for _ in range(5):  # more outages than the event has attempts
        consumer._one(client, record, Partition)
        # the store serves every key: the whole partition waits, rewound to the record
        assert [name for name, _ in client.calls[-2:]] == ["pause", "seek"]
        time.sleep(0.01)
    assert app.calls == 0 and consumer.producer.dead == []
    assert consumer.counts == {"outage": 5}
    assert "not counted as an attempt" in caplog.text
    # back up: the handler's own failures count from the first one
    consumer._one(client, record, Partition)
    assert app.calls == 1 and consumer._parked[("t", 0)][None].attempts == 1
    _due(consumer, client)
    assert app.calls == 2 and _stored(client) == [3]
    assert consumer.producer.dead == [] and consumer._outages == {}


def test_a_store_outage_on_a_parked_records_retry_keeps_it_parked_uncounted(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=1)
    consumer = _consumer(runtime, app, monkeypatch)
    outage = Outage(runtime)
    consumer.store = outage
    client = Client()
    consumer._one(client, Message(2, _value(runtime), key=b"k1"), Partition)
    outage.down = 1
    _due(consumer, client)
    parked = consumer._parked[("t", 0)][b"k1"]
    assert app.calls == 1 and parked.attempts == 1 and client.calls == []
    assert consumer.counts == {"retry": 1, "outage": 1}
    parked.due = 0.0
    consumer._retry_parked(client, Partition)
    assert app.calls == 2 and _stored(client) == [3] and consumer._parked == {}


def test_the_wait_through_an_outage_grows_with_jitter_and_stays_short(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ATTEMPTS", "BASE_S", "CAP_S", "JITTER"):
        monkeypatch.delenv(f"DECOUPLE_RETRY_{name}", raising=False)
    policy = runtime.RetryPolicy.from_env()
    cap = runtime.OUTAGE_CAP_S
    assert 1 <= policy.delay(1, cap) <= 2 and 4 <= policy.delay(3, cap) <= 8
    late = [policy.delay(12, cap) for _ in range(100)]
    assert all(cap / 2 <= d <= cap for d in late) and len(set(late)) > 50
    assert policy.ceiling(12) == 300  # handler retries keep their own cap


def test_a_failed_mark_after_the_handler_succeeded_does_not_run_it_again(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = Flaky(failures=0)
    consumer = _consumer(runtime, app, monkeypatch)
    consumer.store = Outage(runtime, marks_fail=True)
    client = Client()
    record = Record(9, _value(runtime))
    consumer._one(client, record, Partition)
    assert app.calls == 1 and client.calls == [("store_offsets", {"message": record})]
    assert consumer.counts == {"handled": 1}
    assert "could not mark it" in caplog.text


def test_an_answer_the_subscription_counts_as_done_is_handled_not_dead_lettered(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECOUPLE_DONE_STATUSES", raising=False)
    conflict = Answering(409)
    plain = _sub(runtime, "x:y", "function", "/")
    done = _sub(runtime, "x:y", "function", "/", done_statuses=(409,))
    assert _handle(runtime, plain, conflict, {}).action == "dead_letter"  # by default
    store = runtime.MemoryStore()
    value = _value(runtime)
    outcome = runtime.handle(value, [], done, conflict, store, "g")
    assert (outcome.action, outcome.status) == ("handled", 409)
    assert store.seen(f"g/{runtime.decode(value)['id']}")  # marked like a 2xx
    assert _handle(runtime, done, Answering(400), {}).action == "dead_letter"
    # the service's setting wins over every subscription's
    monkeypatch.setenv("DECOUPLE_DONE_STATUSES", "409, 410")
    assert _handle(runtime, plain, Answering(410), {}).action == "handled"
    monkeypatch.setenv("DECOUPLE_DONE_STATUSES", "none")
    assert _handle(runtime, done, conflict, {}).action == "dead_letter"
    # a 5xx is a failure whatever it says: refused when the consumer starts
    monkeypatch.setenv("DECOUPLE_DONE_STATUSES", "503")
    with pytest.raises(ValueError, match="DECOUPLE_DONE_STATUSES takes 4xx"):
        _consumer(runtime, conflict, monkeypatch)


def test_a_call_past_its_timeout_that_answered_done_is_the_event_handled(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    monkeypatch.delenv("DECOUPLE_DONE_STATUSES", raising=False)
    call: concurrent.futures.Future[int] = concurrent.futures.Future()
    call.set_result(409)
    assert runtime.finished("e-1", call).action == "dead_letter"
    assert runtime.finished("e-1", call, frozenset({409})).action == "handled"


# -- a producer client that failed for good ----------------------------------------------------


class FatalKafkaProducer:
    """confluent-kafka's ``Producer``: ``poll`` raises a fatal error once ``broken``, as
    the client does, and ``produce`` then refuses with ``_FATAL``."""

    made: ClassVar[list[FatalKafkaProducer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config, self.produced, self.flushed = config, [], 0
        self.broken = False
        FatalKafkaProducer.made.append(self)

    @staticmethod
    def fatal() -> Exception:
        from confluent_kafka import KafkaError, KafkaException

        return KafkaException(
            KafkaError(KafkaError._FATAL, "Broker: out of order sequence number", fatal=True)
        )

    def poll(self, timeout: float) -> int:
        if self.broken:
            self.broken = False
            raise self.fatal()
        threading.Event().wait(timeout / 10)
        return 0

    def produce(self, topic: str, **kwargs: Any) -> None:
        if self.produced and self.produced[-1] == "fatal":
            raise self.fatal()
        self.produced.append(topic)

    def flush(self, timeout: float = 0) -> int:
        self.flushed += 1
        return 0

    def __len__(self) -> int:
        return 0


def test_a_client_a_fatal_error_broke_is_replaced_on_the_next_send(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setattr(confluent_kafka, "Producer", FatalKafkaProducer)
    monkeypatch.setattr(runtime, "_REPLACE_EVERY_S", 3600.0)
    FatalKafkaProducer.made = []
    producer = runtime.Producer("shop", {})
    (first,) = FatalKafkaProducer.made
    first.broken = True  # the fatal error comes out of the thread polling it
    _until(lambda: producer._fatal and "hit a fatal error" in caplog.text, 30)
    producer.send("t", {"n": 1})
    second = FatalKafkaProducer.made[1]
    assert second.produced == ["t"] and first.produced == []
    _until(lambda: first.flushed, 30)  # its thread ended, and flushed what it held
    # a send that meets the fatal error first says so; the next one gets a new client,
    # at most one per _REPLACE_EVERY_S (a cause that stays makes no storm of clients)
    second.produced.append("fatal")
    with pytest.raises(runtime.EventNotAccepted, match="failed for good"):
        producer.send("t", {"n": 2})
    with pytest.raises(runtime.EventNotAccepted, match="a new one is made in"):
        producer.send("t", {"n": 3})
    monkeypatch.setattr(runtime, "_REPLACE_EVERY_S", 0.0)
    producer.send("t", {"n": 4})
    assert FatalKafkaProducer.made[2].produced == ["t"]
    # errors librdkafka recovers from by itself are logged, nothing more
    first.config["error_cb"](confluent_kafka.KafkaError(confluent_kafka.KafkaError._TRANSPORT))
    assert len(FatalKafkaProducer.made) == 3 and "kafka producer:" in caplog.text


# -- Django's database connections in handler threads -------------------------------------------


@pytest.mark.parametrize("timeout", ["0", "5"])
def test_a_handler_thread_closes_stale_django_connections_around_each_event(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, timeout: str
) -> None:
    import types

    monkeypatch.setenv("DECOUPLE_HANDLER_TIMEOUT_S", timeout)
    calls: list[str] = []
    django_db = types.SimpleNamespace(close_old_connections=lambda: calls.append("close"))
    settings = types.SimpleNamespace(configured=True)
    monkeypatch.setitem(sys.modules, "django.db", django_db)
    monkeypatch.setitem(sys.modules, "django.conf", types.SimpleNamespace(settings=settings))
    handler = runtime.FunctionHandler(lambda data: calls.append("handler"))
    sub = _sub(runtime, "x:y", "function", "/")
    try:
        assert _handle(runtime, sub, handler, {}).action == "handled"
        assert calls == ["close", "handler", "close"]
        settings.configured = False  # Django imported, not set up: left alone
        calls.clear()
        assert _handle(runtime, sub, handler, {}).action == "handled"
        assert calls == ["handler"]
    finally:
        handler.close()


# -- redirects and the request's scheme -----------------------------------------------------


def _wsgi_app(status: str, location: str | None = None) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", "text/plain")]
        if location is not None:
            headers.append(("Location", location))
        start_response(status, headers)
        return [b""]

    return app


def _redirects_plain_http(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What Flask-Talisman's ``force_https`` and Django's ``SECURE_SSL_REDIRECT`` do: a
    request that did not come over TLS (``wsgi.url_scheme``, or the proxy's
    ``X-Forwarded-Proto``) is sent to its https:// address."""
    secure = environ["wsgi.url_scheme"] == "https"
    proxied = environ.get("HTTP_X_FORWARDED_PROTO") == "https"
    if not (secure and proxied):
        target = f"https://{environ['HTTP_HOST']}{environ['PATH_INFO']}"
        start_response("301 Moved Permanently", [("Location", target)])
        return [b""]
    start_response("204 No Content", [])
    return [b""]


def test_a_redirect_is_final_and_dead_lettered_naming_where_it_points(
    runtime: ModuleType,
) -> None:
    sub = _sub(runtime, "x:y", "wsgi", "/orders")
    app = runtime.WsgiApp(_wsgi_app("301 Moved Permanently", "https://shop.example/orders/"))
    try:
        outcome = _handle(runtime, sub, app, {"n": 1})
    finally:
        app.close()
    assert (outcome.action, outcome.status) == ("dead_letter", 301)
    assert isinstance(outcome.error, runtime.PermanentError)
    assert str(outcome.error).startswith(
        "the application answered 301 -> https://shop.example/orders/"
    )
    # only a 2xx is success; a redirect without a Location is final all the same
    assert runtime.answered("e", 302).action == "dead_letter"
    assert runtime.answered("e", 304).action == "dead_letter"
    assert runtime.answered("e", 204).action == "handled"
    assert runtime.answered("e", 199).action == "retry"


def test_an_asgi_redirect_carries_its_location_to_the_dead_letter(runtime: ModuleType) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await receive()
        location = [(b"location", b"https://shop.example/next")]
        await send({"type": "http.response.start", "status": 307, "headers": location})
        await send({"type": "http.response.body", "body": b""})

    sub = _sub(runtime, "x:y", "asgi", "/orders")
    asgi = runtime.AsgiApp(app)
    try:
        outcome = _handle(runtime, sub, runtime._Shared(("k",), asgi), {"n": 1})
    finally:
        asgi.close()
    assert outcome.action == "dead_letter"
    assert "answered 307 -> https://shop.example/next" in str(outcome.error)


def test_an_aiohttp_redirect_is_the_answer_not_followed(runtime: ModuleType) -> None:
    from aiohttp import web

    followed: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.Response(status=200)

    application = web.Application()
    application.router.add_post("/orders", moved)
    application.router.add_get("/elsewhere", elsewhere)
    app = runtime.AiohttpApp(application)
    try:
        outcome = _handle(runtime, _sub(runtime, "x:y", "aiohttp", "/orders"), app, {"n": 1})
    finally:
        app.close()
    assert (outcome.action, outcome.status) == ("dead_letter", 302)
    assert "answered 302 -> /elsewhere" in str(outcome.error)
    assert followed == []


def test_requests_look_as_if_they_came_over_tls_unless_set_to_http(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECOUPLE_REQUEST_SCHEME", raising=False)
    monkeypatch.delenv("DECOUPLE_REQUEST_HEADERS", raising=False)
    sub = _sub(runtime, "x:y", "wsgi", "/orders", host="orders")
    app = runtime.WsgiApp(_redirects_plain_http)
    try:
        assert _handle(runtime, sub, app, {"n": 1}).action == "handled"
        monkeypatch.setenv("DECOUPLE_REQUEST_SCHEME", "http")
        outcome = _handle(runtime, sub, app, {"n": 2})
    finally:
        app.close()
    assert outcome.action == "dead_letter"
    assert "answered 301 -> https://orders/orders" in str(outcome.error)
    monkeypatch.setenv("DECOUPLE_REQUEST_SCHEME", "gopher")
    with pytest.raises(ValueError, match="DECOUPLE_REQUEST_SCHEME"):
        runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())


def test_a_flask_app_forcing_https_handles_the_event(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask-Talisman's ``force_https``, as a hook: ``request.is_secure`` or a redirect."""
    import flask

    monkeypatch.delenv("DECOUPLE_REQUEST_SCHEME", raising=False)
    app = flask.Flask("forced")
    seen: list[str] = []

    @app.before_request
    def force_https() -> Any:
        if not flask.request.is_secure:
            return flask.redirect(flask.request.url.replace("http://", "https://", 1), 301)
        return None

    @app.post("/orders")
    def orders() -> Any:
        seen.append(flask.request.url)
        return "", 201

    wsgi = runtime.WsgiApp(app)
    try:
        outcome = _handle(runtime, _sub(runtime, "x:y", "wsgi", "/orders", host="shop"), wsgi, {})
    finally:
        wsgi.close()
    assert (outcome.action, outcome.status) == ("handled", 201)
    assert seen == ["https://shop/orders"]


def test_an_asgi_scope_says_https(runtime: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECOUPLE_REQUEST_SCHEME", raising=False)
    monkeypatch.delenv("DECOUPLE_REQUEST_HEADERS", raising=False)
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    asgi = runtime.AsgiApp(app)
    try:
        _handle(runtime, _sub(runtime, "x:y", "asgi", "/orders"), asgi, {})
    finally:
        asgi.close()
    (scope,) = scopes
    assert scope["scheme"] == "https" and scope["server"][1] == 443
    assert (b"x-forwarded-proto", b"https") in scope["headers"]


# -- path parameters named like the envelope's attributes -----------------------------------


@pytest.mark.parametrize("name", ["id", "type", "source", "time"])
def test_a_path_parameter_named_like_a_context_attribute_is_the_datas(
    runtime: ModuleType, name: str
) -> None:
    path = f"/items/{{{name}}}/refresh"
    event = runtime.make_event("com.example.item.v1", "tests", {name: "item-5"})
    assert runtime.path_params(event, (name,)) == {name: "item-5"}
    sub = _sub(runtime, "x:y", "function", path, name)
    assert runtime.request_path(sub, runtime.path_params(event, (name,))) == "/items/item-5/refresh"
    # not in the data: never the envelope's own attribute
    bare = runtime.make_event("com.example.item.v1", "tests", {"other": 1})
    with pytest.raises(runtime.PermanentError, match=f"no path parameter {name}"):
        runtime.path_params(bare, (name,))


@pytest.mark.parametrize("name", ["id", "type", "source", "time"])
def test_a_path_parameter_sent_as_an_attribute_never_overwrites_the_envelopes(
    runtime: ModuleType, name: str
) -> None:
    event = runtime.make_event("com.example.item.v1", "tests", {}, {name: "item-5"}, "event-1")
    assert (event["id"], event["type"], event["source"]) == (
        "event-1",
        "com.example.item.v1",
        "tests",
    )
    assert event["time"] != "item-5"
    assert event[f"param{name}"] == "item-5"
    assert runtime.path_params(event, (name,)) == {name: "item-5"}


def test_two_path_parameters_that_would_share_an_attribute_are_refused(
    runtime: ModuleType,
) -> None:
    with pytest.raises(ValueError, match="order_id and orderId"):
        runtime.make_event("x", "y", {}, {"order_id": 1, "orderId": 2})
    assert runtime.make_event("x", "y", {}, {"order_id": 1, "orderId": 1})["orderid"] == "1"


def test_a_function_handler_gets_the_datas_id_for_its_id_route(runtime: ModuleType) -> None:
    seen: list[str] = []

    class App:
        def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
            seen.append(runtime.request_path(subscription, runtime.path_params(event, ("id",))))
            return 200

    sub = _sub(runtime, "x:y", "function", "/items/{id}/refresh", "id")
    assert _handle(runtime, sub, App(), {"id": 42}).action == "handled"
    assert seen == ["/items/42/refresh"]


# -- data JSON cannot carry as it is --------------------------------------------------------


def test_uuids_datetimes_dates_and_decimals_are_sent_as_strings(runtime: ModuleType) -> None:
    import datetime
    import decimal
    import uuid

    user = uuid.UUID("12345678-1234-5678-1234-567812345678")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    data = {
        "user_id": user,
        "at": when,
        "on": datetime.date(2026, 1, 2),
        "lines": [{"price": decimal.Decimal("19.90")}],
    }
    event = runtime.make_event("x", "y", data)
    assert json.loads(runtime.encode(event))["data"] == {
        "user_id": "12345678-1234-5678-1234-567812345678",
        "at": "2026-01-02T03:04:05+00:00",
        "on": "2026-01-02",
        "lines": [{"price": "19.90"}],
    }
    # an idempotency key's event id is made from such data too
    assert runtime.derived_event_id("t", "key-1", data) == runtime.derived_event_id(
        "t", "key-1", dict(data)
    )


def test_data_json_cannot_carry_raises_naming_where_it_is(runtime: ModuleType) -> None:
    event = runtime.make_event("x", "y", {"items": [{"n": 1}, {"when": object()}]})
    with pytest.raises(TypeError, match=r"data\.items\[1\]\.when") as raised:
        runtime.encode(event)
    assert "object is not JSON serializable" in str(raised.value)


# -- the producer's clients -----------------------------------------------------------------


def test_every_client_partitions_keys_as_the_java_client_does(
    runtime: ModuleType, made: list[dict[str, Any]]
) -> None:
    runtime.Producer("shop", {}, wait_bounds=(8.0,))
    assert [config["partitioner"] for config in made] == ["murmur2_random"] * 2


def test_fire_and_forget_events_ride_out_minutes_of_outage_unless_set_shorter(
    runtime: ModuleType, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_DELIVERY_TIMEOUT_MS", raising=False)
    runtime.Producer("shop", {})
    assert made[-1]["message.timeout.ms"] == 300_000
    monkeypatch.setenv("KAFKA_DELIVERY_TIMEOUT_MS", "60000")
    runtime.Producer("shop", {})
    assert made[-1]["message.timeout.ms"] == 60_000


def test_dead_letters_and_outbox_rows_never_wait_past_thirty_seconds(
    runtime: ModuleType, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll loop waits for each dead letter: a 5 min timeout would outlast
    ``max.poll.interval.ms`` and cost the consumer its partitions."""
    monkeypatch.delenv("KAFKA_DELIVERY_TIMEOUT_MS", raising=False)
    shared = runtime.Producer("shop", {})  # the service's own, given to the consumer
    client, delivery_ms = shared._loop_client()
    assert delivery_ms == 30_000 and client.config["message.timeout.ms"] == 30_000
    assert client is not shared._client_for(None)
    own = runtime.Producer("shop", {}, delivery_ms=runtime.loop_delivery_timeout_ms())
    assert own._loop_client() == (own._client_for(None), 30_000)
    monkeypatch.setenv("KAFKA_DELIVERY_TIMEOUT_MS", "1500")
    assert runtime.loop_delivery_timeout_ms() == 1500


class SilentKafkaProducer(FakeKafkaProducer):
    """A client whose broker never answers: produced events get no report."""

    def produce(self, topic: str, **kwargs: Any) -> None:
        pass


def test_a_short_bound_still_bounds_the_wait_but_gives_the_event_five_seconds(
    runtime: ModuleType, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import confluent_kafka

    monkeypatch.setattr(confluent_kafka, "Producer", SilentKafkaProducer)
    ms = runtime.delivery_timeout_ms
    assert [ms(b) for b in (0.05, 1, 2, 5, 6, 6.1, 30)] == [
        5000, 5000, 5000, 5000, 5000, 5100, 29_000,
    ]  # fmt: skip
    producer = runtime.Producer("shop", {})
    started = time.monotonic()
    with pytest.raises(runtime.EventOutcomeUnknown, match="within 1 s"):
        producer.send_and_wait("t", {"a": 1}, timeout=1)
    assert time.monotonic() - started < 2
    assert made[-1]["message.timeout.ms"] == 5000


# -- rebalance callbacks never end the consumer ---------------------------------------------


class Refusing(Client):
    """A consumer client whose calls all fail, as during a rebalance gone wrong."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args or kwargs))
            raise RuntimeError(f"{name} failed")

        return refuse


def test_a_rebalance_callback_that_fails_is_logged_and_the_consumer_goes_on(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import concurrent.futures

    consumer = _consumer(runtime, Flaky(failures=0), monkeypatch)
    client = Refusing()
    back = [Partition("t", 1)]
    consumer._on_assign(client, back)
    assert [name for name, _ in client.calls] == ["incremental_assign", "resume"]
    assert ("t", 1) in consumer._owned  # its records are not dropped
    # a revoke whose timed-out call succeeded meanwhile: storing its offset and the
    # commit fail, the partitions are forgotten all the same
    call: concurrent.futures.Future[Any] = concurrent.futures.Future()
    call.set_result(200)
    consumer._running[("t", 0)] = (4, call, "e-1", 0.0)
    consumer._parked[("t", 0)] = {None: runtime._Parked(deque([Record(4, b"{}")]))}
    consumer._on_revoke(client, [Partition("t", 0), Partition("t", 1)])
    assert consumer._owned == set() and consumer._running == {}
    assert consumer.store.seen("g/e-1")
    assert "store_offsets" in [name for name, _ in client.calls]

    class Broken:
        def __iter__(self) -> Any:
            raise RuntimeError("no partitions")

    consumer._on_lost(client, Broken())
    failed = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(failed) == 4, failed


# -- answers that mean done when the event comes again --------------------------------------


class Answers:
    """An application that answers the given statuses in turn."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.calls = 0

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        self.calls += 1
        return self.statuses.pop(0)

    def close(self) -> None:
        pass


def test_a_404_is_done_only_when_an_earlier_attempt_of_the_event_was_made(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECOUPLE_OK_STATUSES", raising=False)
    sub = _sub(runtime, "x:y", "function", "/items/{id}", "id", method="DELETE",
               ok_statuses=(404,))  # fmt: skip
    value = runtime.encode(runtime.make_event("x", "y", {"id": 3}, event_id="e-7"))
    # the first attempt: nothing says the work was done, the 404 is final as before
    first = runtime.handle(value, [], sub, Answers(404), runtime.MemoryStore(), "g")
    assert first.action == "dead_letter"
    # a redelivery: the store counted an attempt that never said how it ended
    store = runtime.MemoryStore()
    store.attempt("g/e-7")
    again = runtime.handle(value, [], sub, Answers(404), store, "g")
    assert (again.action, again.status) == ("handled", 404)
    assert store.seen("g/e-7")
    # a subscription without them: dead-lettered whatever came before
    plain = _sub(runtime, "x:y", "function", "/items/{id}", "id", method="DELETE")
    store = runtime.MemoryStore()
    store.attempt("g/e-7")
    assert runtime.handle(value, [], plain, Answers(404), store, "g").action == "dead_letter"


def test_a_retry_answered_404_by_the_consumer_loop_is_the_event_handled(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.delenv("DECOUPLE_OK_STATUSES", raising=False)
    app = Answers(503, 404)
    consumer = _consumer(runtime, app, monkeypatch)
    consumer.subscriptions["t"] = _sub(runtime, "x:y", "function", "/", ok_statuses=(404,))
    client = Client()
    record = Record(2, _value(runtime))
    consumer._one(client, record, Partition)
    _due(consumer, client)
    assert app.calls == 2 and consumer.producer.dead == []
    assert consumer.counts == {"retry": 1, "handled": 1}
    assert _stored(client) == [3]


def test_ok_statuses_are_set_for_the_process_and_4xx_only(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = _sub(runtime, "x:y", "function", "/", ok_statuses=(404,))
    monkeypatch.setenv("DECOUPLE_OK_STATUSES", "404, 410")
    assert runtime.ok_statuses(sub) == {404, 410}
    assert runtime.repeat_statuses(sub, 1) == frozenset()
    assert runtime.repeat_statuses(sub, 2) == {404, 410}
    monkeypatch.setenv("DECOUPLE_OK_STATUSES", "none")
    assert runtime.ok_statuses(sub) == frozenset()
    monkeypatch.setenv("DECOUPLE_OK_STATUSES", "503")
    with pytest.raises(ValueError, match="DECOUPLE_OK_STATUSES takes 4xx"):
        runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())


def _action(runtime: ModuleType, sub: Any, status: int) -> str:
    """What the runtime does with an event its application answers ``status``."""
    value = runtime.encode(runtime.make_event("x", "y", {}, event_id="e-3"))
    return str(runtime.handle(value, [], sub, Answers(status), runtime.MemoryStore(), "g").action)


def test_a_refusal_of_the_user_the_event_names_is_dead_lettered_at_once(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription whose data says who asks (``final_statuses=(401, 403)``): the
    callee's PERMISSION_DENIED is that user's, which a retry only repeats, holding the
    key's later events behind it for the whole backoff. Without them it is retried, as the
    consumer's own credential may be the one refused."""
    for name in ("DECOUPLE_FINAL_STATUSES", "DECOUPLE_REQUEST_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    value = runtime.encode(runtime.make_event("x", "y", {"event_id": "e1"}, event_id="e-9"))
    sub = _sub(runtime, "x:y", "function", "/", final_statuses=(401, 403))
    for status in (401, 403):
        outcome = runtime.handle(value, [], sub, Answers(status), runtime.MemoryStore(), "g")
        assert (outcome.action, outcome.status) == ("dead_letter", status)
        assert isinstance(outcome.error, runtime.PermanentError)
    # the other retried 4xx stay retried, and so do both without final_statuses
    assert _action(runtime, sub, 429) == "retry"
    plain = _sub(runtime, "x:y", "function", "/")
    assert _action(runtime, plain, 403) == "retry"
    # a call that timed out and answered later is classified the same way
    done: concurrent.futures.Future[int] = concurrent.futures.Future()
    done.set_result(403)
    assert runtime.finished("e-9", done, final=runtime.final_statuses(sub)).action == "dead_letter"


def test_a_401_stays_retried_while_the_consumer_sends_its_own_credential(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``DECOUPLE_REQUEST_HEADERS`` naming a credential, a 401 may be of that one (a
    rotated token), which a retry outlives; a 403 is still the user's refusal."""
    monkeypatch.delenv("DECOUPLE_FINAL_STATUSES", raising=False)
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", '{"Authorization": "Bearer own"}')
    sub = _sub(runtime, "x:y", "function", "/", final_statuses=(401, 403))
    assert runtime.final_statuses(sub) == {403}
    assert _action(runtime, sub, 401) == "retry"
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", '{"X-Tenant": "a"}')
    assert runtime.final_statuses(sub) == {401, 403}


def test_final_statuses_are_set_for_the_process_and_4xx_only(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = _sub(runtime, "x:y", "function", "/", final_statuses=(401, 403))
    monkeypatch.setenv("DECOUPLE_FINAL_STATUSES", "none")
    assert runtime.final_statuses(sub) == frozenset()
    assert _action(runtime, sub, 403) == "retry"
    # named for the process, a 401 is final even beside the consumer's own credential
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", '{"Authorization": "Bearer own"}')
    monkeypatch.setenv("DECOUPLE_FINAL_STATUSES", "401")
    assert runtime.final_statuses(_sub(runtime, "x:y", "function", "/")) == {401}
    monkeypatch.setenv("DECOUPLE_FINAL_STATUSES", "500")
    with pytest.raises(ValueError, match="DECOUPLE_FINAL_STATUSES takes 4xx"):
        runtime.Consumer([sub], service="s", store=runtime.MemoryStore(), producer=Sent())


def test_the_generator_names_path_parameter_attributes_as_the_runtime_does(
    runtime: ModuleType,
) -> None:
    from decouple_services.migrate.generate import attribute_name

    for name in ("id", "type", "source", "time", "subject", "data", "order_id", "orderId", "_"):
        assert attribute_name(name) == runtime.attribute_name(name), name
    assert runtime.attribute_name("id") == "paramid"


# -- metrics ---------------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def _records(topic: str, outcome: str) -> float:
    return _sample("decouple_consumer_records_total", topic=topic, outcome=outcome)


def _stats(**partitions: int) -> str:
    """librdkafka's statistics of a consumer of topic ``t`` (``p0=7``: partition 0, lag 7),
    with the internal partition -1 librdkafka always lists."""
    listed = {
        name[1:]: {"partition": int(name[1:]), "consumer_lag": lag}
        for name, lag in partitions.items()
    }
    listed["-1"] = {"partition": -1, "consumer_lag": -1}
    return json.dumps({"type": "consumer", "topics": {"t": {"topic": "t", "partitions": listed}}})  # fmt: skip


def test_records_are_counted_by_topic_and_outcome_as_the_log_line_counts_them(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    consumer = _consumer(runtime, Flaky(failures=0), monkeypatch)
    fake = FakeKafka(consumer, [Record(0, _value(runtime)), Record(1, _value(runtime))], 1)
    configs: list[dict[str, Any]] = []
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: configs.append(config) or fake)
    before = {outcome: _records("t", outcome) for outcome in ("handled", "duplicate", "error")}
    consumer.run()
    assert consumer.counts == {"handled": 2, "error": 1, "duplicate": 1}
    after = {outcome: _records("t", outcome) - before[outcome] for outcome in before}
    assert after == {"handled": 2, "error": 1, "duplicate": 1}
    # the lag comes from librdkafka's statistics, every 30 s
    (config,) = configs
    assert config["statistics.interval.ms"] == 30_000
    assert config["stats_cb"] == consumer._gauges.statistics
    monkeypatch.setenv("KAFKA_STATISTICS_INTERVAL_MS", "0")  # no statistics, no lag
    assert consumer._gauges.kafka_config() == {}


def test_a_parked_records_outcome_is_counted_under_its_topic(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parked record is retried from the loop, with no record polled: its dead letter
    is still counted under its own topic, not the last one polled."""
    consumer = _consumer(runtime, Answers(503, 503), monkeypatch)
    consumer.retry = runtime.RetryPolicy(attempts=2, base=0.01, cap=0.01, jitter=0)
    dead = _records("t", "dead_letter")
    client = Client()
    consumer._one(client, _keyed(runtime, 0, "k1", 0), Partition)
    consumer._in_hand = None  # polls found nothing since
    _due(consumer, client)
    assert _records("t", "dead_letter") - dead == 1


def test_a_dead_letter_is_counted_under_its_topic_and_the_handler_is_timed(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(runtime, Answering(400), monkeypatch)
    dead, timed = (
        _records("t", "dead_letter"),
        _sample("decouple_consumer_handler_duration_seconds_count", topic="t"),
    )
    record = Record(4, _value(runtime))
    consumer._in_hand = record  # as the loop has it
    consumer._one(Client(), record, Partition)
    assert _records("t", "dead_letter") == dead + 1
    count = _sample("decouple_consumer_handler_duration_seconds_count", topic="t")
    assert count == timed + 1
    # each call is timed, whatever its answer
    sub = _sub(runtime, "x:y", "function", "/")
    runtime.handle(_value(runtime), [], sub, Flaky(failures=1), runtime.MemoryStore())
    assert _sample("decouple_consumer_handler_duration_seconds_count", topic="t") == count + 1


def test_the_lag_of_each_owned_partition_is_read_from_librdkafkas_statistics(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = _consumer(runtime, Flaky(failures=0), monkeypatch)
    consumer._owned.add(("t", 2))
    gauges = consumer._gauges
    # partition 1 is not this consumer's; partition 2's lag is not known yet (-1)
    gauges.statistics(_stats(p0=7, p1=3, p2=-1))
    lag = {p: _sample("decouple_consumer_lag_records", topic="t", partition=p) for p in "012"}
    assert lag == {"0": 7, "1": 0, "2": 0}
    assert gauges.lagging == {("t", "0")}
    gauges.statistics(_stats(p0=2, p2=5))
    assert _sample("decouple_consumer_lag_records", topic="t", partition="0") == 2
    assert _sample("decouple_consumer_lag_records", topic="t", partition="2") == 5
    # a partition revoked leaves the gauge, not a stale number
    consumer._on_revoke(Client(), [Partition("t", 0)])
    gauges.statistics(_stats(p0=2, p2=6))
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("decouple_consumer_lag_records", {"topic": "t", "partition": "0"}) is None  # fmt: skip
    assert gauges.lagging == {("t", "2")}
    # statistics it cannot read never reach poll(), which would raise them
    gauges.statistics("{not json")
    gauges.statistics(json.dumps({"topics": {"t": {"partitions": {"x": {}}}}}))
    assert "statistics could not be read" in caplog.text


def test_a_held_back_partition_shows_how_long_it_has_been_held(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from prometheus_client import REGISTRY

    def held(partition: str) -> float | None:
        labels = {"topic": "t", "partition": partition}
        return REGISTRY.get_sample_value("decouple_consumer_blocked_seconds", labels)

    consumer = _consumer(runtime, Flaky(failures=1), monkeypatch)
    client, record = Client(), Record(5, _value(runtime))
    consumer._one(client, record, Partition)  # fails: parked until its retry
    consumer._gauges.beat()
    first = held("0")
    assert first is not None and first < 1
    consumer._gauges.checked_at -= 1  # a second later
    time.sleep(0.05)
    consumer._gauges.beat()
    later = held("0")
    assert later is not None and later >= 0.05
    consumer._parked[("t", 0)][None].due = 0  # due now
    assert consumer._retry_parked(client, Partition)  # handled: nothing held any more
    consumer._gauges.checked_at -= 1
    consumer._gauges.beat()
    assert held("0") is None
    # a partition paused whole (the store is down) shows from its first check
    consumer._retrying[("t", 2)] = (7, 0, time.monotonic() + 60)
    consumer._gauges.checked_at -= 1
    consumer._gauges.beat()
    assert held("2") == 0 and held("0") is None


class Delivering(FakeKafkaProducer):
    """A producer client whose records wait in its queue until :meth:`report`."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.queued: list[tuple[str, Any]] = []

    def produce(self, topic: str, on_delivery: Any, **record: Any) -> None:
        self.queued.append((topic, on_delivery))

    def __len__(self) -> int:
        return len(self.queued)

    def report(self, error: Any = None) -> None:
        _, on_delivery = self.queued.pop(0)
        on_delivery(error, None)


def test_delivery_reports_are_counted_per_topic_and_the_queue_is_measured(
    runtime: ModuleType, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setattr(confluent_kafka, "Producer", Delivering)
    # one client: dead letters go through the client of the sends
    producer = runtime.Producer("shop", {}, delivery_ms=runtime.loop_delivery_timeout_ms())
    client = producer._client
    delivered = _sample("decouple_producer_records_total", topic="orders", outcome="delivered")
    failed = _sample("decouple_producer_records_total", topic="orders", outcome="failed")
    failures = runtime.DELIVERY_FAILURES
    for n in range(3):
        producer.send("orders", {"n": n})
    # what this process's producers hold, read when scraped
    metrics = runtime.Metrics()
    metrics.producer(producer)
    assert metrics._queued() == 3
    client.report()
    client.report("Local: Message timed out")
    assert metrics._queued() == 1
    counted = _sample("decouple_producer_records_total", topic="orders", outcome="delivered")
    assert counted == delivered + 1
    counted = _sample("decouple_producer_records_total", topic="orders", outcome="failed")
    assert counted == failed + 1
    assert failures + 1 == runtime.DELIVERY_FAILURES  # as before, beside the counter
    # dead letters and outbox rows are counted under their own topic
    dead = _sample("decouple_producer_records_total", topic="t.dlq", outcome="delivered")
    sent = threading.Thread(target=producer.produce_raw, args=("t.dlq", b"{}", None, []))
    sent.start()
    _until(lambda: len(client) == 2)
    client.queued[-1][1](None, None)
    sent.join(5)
    assert (
        _sample("decouple_producer_records_total", topic="t.dlq", outcome="delivered") == dead + 1
    )


def test_the_metrics_are_served_on_their_port_once_per_process(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    import urllib.request

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("DECOUPLE_METRICS_PORT", str(port))
    metrics = runtime.Metrics()  # another copy of the runtime: the same metrics
    metrics.serve()
    metrics.serve()  # a second consumer of the process: one server
    runtime.METRICS.consumed(Record(0, b""), "handled")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert 'decouple_consumer_records_total{outcome="handled",topic="t"}' in text
    assert "decouple_producer_queue_records" in text
    # a port another process of the service holds: said, and the consumer goes on
    runtime.Metrics().serve()
    assert f"metrics not served on port {port}" in caplog.text


def test_without_prometheus_client_everything_runs_and_only_the_log_counts(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import confluent_kafka

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # its import fails
    monkeypatch.setattr(runtime, "METRICS", runtime.Metrics())
    assert not runtime.METRICS.on
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    monkeypatch.setenv("DECOUPLE_METRICS_PORT", "1")
    consumer = _consumer(runtime, Flaky(failures=1), monkeypatch)
    records = [Record(0, _value(runtime)), Record(1, _value(runtime))]
    fake = ParkingKafka(consumer, records)  # polls until the parked record is retried
    configs: list[dict[str, Any]] = []
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: configs.append(config) or fake)
    consumer.run()
    assert consumer.counts == {"retry": 1, "handled": 2}
    assert "stats_cb" not in configs[0] and "statistics.interval.ms" not in configs[0]
    assert "no metrics served: prometheus_client is not installed" in caplog.text
    consumer._retrying[("t", 0)] = (0, 1, 0.0)
    consumer._gauges.checked_at = 0.0
    consumer._gauges.beat()
    consumer._gauges.statistics(_stats(p0=1))
    assert consumer._gauges.held == {} and consumer._gauges.lagging == set()

    def done(error: Any, message: Any) -> None:
        pass

    assert runtime.METRICS.delivery("t", done) is done  # reports go straight to the send
    runtime.METRICS.backlog(runtime.Backlog(1, 2.0, 0))
    monkeypatch.setattr(confluent_kafka, "Producer", Delivering)
    monkeypatch.setattr(runtime.Producer, "_serving", lambda self, client: client)
    producer = runtime.Producer("shop", {})
    producer.send("orders", {"n": 1})
    producer._client.report("Local: Message timed out")
    assert runtime.METRICS._queued() == 0 and not runtime.METRICS._producers


# -- a failing key is parked; the other keys of its partition go on -------------------------


class ByKey:
    """An application that records the events it handled, in order, and fails every attempt
    of those whose data says ``poison``."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, int]] = []
        self.calls = 0

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        self.calls += 1
        data = event["data"]
        if data.get("poison"):
            return 503
        self.handled.append((data["key"], data["n"]))
        return 200

    def close(self) -> None:
        pass


def _keyed(runtime: ModuleType, offset: int, key: str, n: int, poison: bool = False) -> Message:
    data = {"key": key, "n": n, "poison": poison}
    return Message(offset, runtime.encode(runtime.make_event("x", "y", data)), key=key.encode())


class ParkingKafka(FakeKafka):
    """:class:`FakeKafka` that stops once every record was polled and nothing is parked,
    and writes down the offsets stored and when the dead letters went."""

    def __init__(self, consumer: Any, records: list[Any]) -> None:
        super().__init__(consumer, records, 0)
        self.offsets: list[int] = []
        self.log: list[str] = []

    def poll(self, timeout: float) -> Any:
        if self.cursor >= len(self.records) and not self.consumer._parked:
            self.consumer.stop()
        if self.paused or self.cursor >= len(self.records):
            return None
        self.cursor += 1
        return self.records[self.cursor - 1]

    def store_offsets(self, message: Any = None, offsets: Any = None) -> None:
        if message is not None:
            self.offsets.append(message.offset() + 1)
        else:
            (partition,) = offsets
            self.offsets.append(partition.offset)
        self.log.append(f"stored {self.offsets[-1]} after {len(self.consumer.producer.dead)} dlq")


def test_a_poisoned_key_holds_only_its_own_later_records_and_stored_offsets_wait_for_it(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import confluent_kafka

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "4")
    app = ByKey()
    consumer = _consumer(runtime, app, monkeypatch)
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "4")
    consumer.retry = runtime.RetryPolicy(attempts=4, base=0.02, cap=0.02, jitter=0)
    records = [
        _keyed(runtime, 0, "k1", 0, poison=True),
        _keyed(runtime, 1, "k0", 1),
        _keyed(runtime, 2, "k1", 2),
        _keyed(runtime, 3, "k2", 3),
        _keyed(runtime, 4, "k0", 4),
        _keyed(runtime, 5, "k1", 5),
    ]
    fake = ParkingKafka(consumer, records)
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: fake)
    consumer.run()
    # k0 and k2 went on while k1's poison was retried; k1's later records came after it,
    # in their order
    (dead,) = consumer.producer.dead
    assert dict(dead[3])["decouple.attempts"] == b"4"
    assert app.handled == [("k0", 1), ("k2", 3), ("k0", 4), ("k1", 2), ("k1", 5)]
    assert app.calls == 4 + 5
    # until the poison was dead-lettered nothing past it was stored; then k1's next held
    # record was the lowest, then nothing
    before = [line for line in fake.log if line.endswith("after 0 dlq")]
    assert before and all(line.startswith("stored 0 ") for line in before)
    assert fake.offsets[-1] == 6 and fake.offsets == sorted(fake.offsets)
    assert consumer.counts == {"retry": 3, "dead_letter": 1, "handled": 5}


def test_a_later_record_of_a_parked_key_is_held_unhandled_and_then_handled_in_order(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Answers(503, 200, 200, 503, 200)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    first, other, second = (
        _keyed(runtime, 0, "k1", 0),
        _keyed(runtime, 1, "k0", 1),
        _keyed(runtime, 2, "k1", 2),
    )
    consumer._one(client, first, Partition)
    consumer._one(client, other, Partition)  # another key: handled at once
    consumer._one(client, second, Partition)  # behind k1's first: not handled
    assert app.calls == 2 and _stored(client) == [0]
    assert list(consumer._parked[("t", 0)][b"k1"].records) == [first, second]
    _due(consumer, client)  # the first is handled; the second is due now
    assert app.calls == 3 and _stored(client) == [0, 2]
    consumer._retry_parked(client, Partition)  # the second fails: it is parked in turn
    parked = consumer._parked[("t", 0)][b"k1"]
    assert list(parked.records) == [second] and parked.attempts == 1
    _due(consumer, client)
    assert app.calls == 5 and _stored(client) == [0, 2, 3] and consumer._parked == {}


def test_a_rebalance_drops_what_the_partition_held(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Flaky(failures=10)
    consumer = _consumer(runtime, app, monkeypatch)
    consumer._owned.add(("t", 1))
    client = Client()
    consumer._one(client, _keyed(runtime, 0, "k1", 0), Partition)
    consumer._one(client, _keyed(runtime, 1, "k1", 1), Partition)
    other = Message(0, _value(runtime), key=b"k9")
    other._partition = 1
    consumer._one(client, other, Partition)
    assert set(consumer._parked) == {("t", 0), ("t", 1)}
    consumer._on_revoke(client, [Partition("t", 0)])
    # its committed offset is before what it held: the next owner reads it again
    assert set(consumer._parked) == {("t", 1)} and ("t", 0) not in consumer._next
    consumer._on_lost(client, [Partition("t", 1)])
    assert consumer._parked == {} and consumer._next == {}
    calls = app.calls
    consumer._retry_parked(client, Partition)
    assert app.calls == calls


def test_past_the_bound_of_records_held_the_partition_pauses_until_they_drain(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DECOUPLE_MAX_PARKED", "3")
    app = Answers(503, 200, 200, 200, 200)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    for offset in range(3):
        consumer._one(client, _keyed(runtime, offset, "k1", offset), Partition)
    # three held: the partition is paused at the first record not read
    assert [(name, repr(args[0])) for name, args in client.calls] == [
        ("pause", "[t/0@3]"),
        ("seek", "t/0@3"),
    ]
    assert "DECOUPLE_MAX_PARKED" in caplog.text
    client.calls.clear()
    consumer._one(client, _keyed(runtime, 3, "k2", 3), Partition)  # fetched before: dropped
    consumer._resume_due(client, Partition)
    assert app.calls == 1 and client.calls == []  # still three held: no resume
    _due(consumer, client)  # k1's first handled: two held
    consumer._resume_due(client, Partition)
    assert [name for name, _ in client.calls] == ["store_offsets", "resume"]
    consumer._one(client, _keyed(runtime, 3, "k2", 3), Partition)
    assert app.calls == 3 and consumer._retrying == {}


def test_past_the_bound_of_bytes_held_a_partition_that_would_hold_more_pauses(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The bytes bound the consumer's memory, all partitions together: past it, a
    partition that would hold one more record pauses (another partition's records
    count too), one that holds nothing goes on, and both resume once they drain."""
    monkeypatch.setenv("DECOUPLE_MAX_PARKED", "1000")
    app = Answers(503, 200, 503, 200, 200, 200, 200)
    consumer = _consumer(runtime, app, monkeypatch)
    assert consumer.max_parked_bytes == 64 * 1024 * 1024  # the default
    consumer._owned.add(("t", 1))
    client = Client()
    first, second, third = (_keyed(runtime, n, "k1", n) for n in range(3))
    consumer.max_parked_bytes = runtime._size(first) + runtime._size(second) + 1
    consumer._one(client, first, Partition)  # fails: parked
    consumer._one(client, second, Partition)  # behind it: under the bound
    assert client.calls == []
    consumer._one(client, third, Partition)  # past the bound: t/0 pauses after it
    assert [(name, repr(args[0])) for name, args in client.calls] == [
        ("pause", "[t/0@3]"),
        ("seek", "t/0@3"),
    ]
    assert "DECOUPLE_MAX_PARKED_BYTES" in caplog.text
    assert consumer.blocked()[0].size == sum(runtime._size(r) for r in (first, second, third))
    client.calls.clear()
    # t/1 holds nothing: what it reads is handled
    free = _keyed(runtime, 0, "k5", 5)
    free._partition = 1
    consumer._one(client, free, Partition)
    assert app.calls == 2 and [name for name, _ in client.calls] == ["store_offsets"]
    # a failure on t/1 is parked, and t/1 pauses too: the consumer is past its bound
    failing = _keyed(runtime, 1, "k6", 6)
    failing._partition = 1
    consumer._one(client, failing, Partition)
    assert app.calls == 3 and set(consumer._retrying) == {("t", 0), ("t", 1)}
    client.calls.clear()
    consumer._resume_due(client, Partition)
    assert client.calls == []  # still past the bound
    _due(consumer, client)  # k1's first and k6 handled: back under the bound
    consumer._resume_due(client, Partition)
    assert sorted(repr(args[0]) for name, args in client.calls if name == "resume") == [
        "[t/0@-1001]",
        "[t/1@-1001]",
    ]
    _due(consumer, client)  # k1's second, due at once
    _due(consumer, client)  # and its third
    assert app.calls == 7 and consumer._parked == {} and consumer._held_bytes == {}


class FailsFirst:
    """An application that fails the first attempt of the events numbered ``failing`` and
    writes down, in order, the events it handled."""

    def __init__(self, *failing: int) -> None:
        self.failing, self.tried = set(failing), set()
        self.handled: list[tuple[str, int]] = []

    def __call__(self, subscription: Any, event: Any, headers: Any) -> int:
        data = event["data"]
        if data["n"] in self.failing and data["n"] not in self.tried:
            self.tried.add(data["n"])
            return 503
        self.handled.append((data["key"], data["n"]))
        return 200

    def close(self) -> None:
        pass


def _on(partition: int, record: Any) -> Any:
    record._partition = partition
    return record


def test_a_resumed_partition_held_again_by_another_partitions_bytes_pauses_at_its_record(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes bound counts every partition's records: between the resume of a partition
    and its next record, another partition can take the consumer past the bound again.
    That record is not one fetched before a seek (none would bring it again): the
    partition pauses at it, and it is handled once the consumer is back under the bound,
    before any offset past it is stored."""
    monkeypatch.setenv("DECOUPLE_MAX_PARKED", "1000")
    app = FailsFirst(0, 2)
    consumer = _consumer(runtime, app, monkeypatch)
    consumer._owned.add(("t", 1))
    client = Client()
    first, second = _keyed(runtime, 0, "k1", 0), _keyed(runtime, 1, "k1", 1)
    consumer.max_parked_bytes = runtime._size(first) + runtime._size(second)
    consumer._one(client, first, Partition)  # fails: parked
    consumer._one(client, second, Partition)  # behind it, at the bound: t/0 pauses at 2
    _due(consumer, client)  # k1's first handled: under the bound
    consumer._resume_due(client, Partition)
    assert client.calls[-1][0] == "resume"
    client.calls.clear()
    # t/1 reads k2, which fails: parked there, and the consumer is past the bound again
    consumer._one(client, _on(1, _keyed(runtime, 0, "k2", 2)), Partition)
    client.calls.clear()
    # t/0 was resumed: its offset 2 comes, and nothing would bring it again if dropped
    consumer._one(client, _keyed(runtime, 2, "k3", 3), Partition)
    assert [(name, repr(args[0])) for name, args in client.calls] == [
        ("pause", "[t/0@2]"),
        ("seek", "t/0@2"),
    ]
    client.calls.clear()
    _due(consumer, client)  # k1's second and k2 handled: nothing held
    consumer._resume_due(client, Partition)
    assert sorted(repr(args[0]) for name, args in client.calls if name == "resume") == [
        "[t/0@-1001]",
        "[t/1@-1001]",
    ]
    stored_before = _stored(client)
    assert stored_before and max(stored_before) <= 2  # none past offset 2 yet
    client.calls.clear()
    consumer._one(client, _keyed(runtime, 2, "k3", 3), Partition)  # the seek brings it
    assert app.handled == [("k1", 0), ("k1", 1), ("k2", 2), ("k3", 3)]
    assert _stored(client) == [3] and consumer._parked == {} and ("t", 0) not in consumer._retrying


def test_a_partition_resumed_at_the_end_of_its_log_is_no_longer_shown_held_back(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition paused by the count bound at the offset after its last record may read
    nothing more for long once it is resumed: it waits for no one, so its held-back gauge
    goes, and it is resumed once rather than on every turn of the loop."""
    from prometheus_client import REGISTRY

    def held() -> float | None:
        labels = {"topic": "t", "partition": "0"}
        return REGISTRY.get_sample_value("decouple_consumer_blocked_seconds", labels)

    monkeypatch.setenv("DECOUPLE_MAX_PARKED", "2")
    app = FailsFirst(0)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    consumer._one(client, _keyed(runtime, 0, "k1", 0), Partition)  # fails: parked
    consumer._one(client, _keyed(runtime, 1, "k1", 1), Partition)  # at the bound: paused
    assert ("t", 0) in consumer._retrying
    consumer._gauges.beat()
    assert held() is not None
    _due(consumer, client)
    _due(consumer, client)  # both handled: nothing held, nothing more to read
    client.calls.clear()
    consumer._resume_due(client, Partition)
    consumer._resume_due(client, Partition)
    assert [name for name, _ in client.calls] == ["resume"]
    consumer._gauges.checked_at -= 1
    consumer._gauges.beat()
    assert held() is None and app.handled == [("k1", 0), ("k1", 1)]


def test_a_partition_read_past_the_span_bound_of_its_first_held_record_pauses_until_it_is_done(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The offset committed stays at the first record a partition holds, so a restart
    reads again whatever the other keys had handled since: past
    ``DECOUPLE_MAX_PARKED_SPAN`` offsets the partition pauses at the first record not
    read, and goes on once the held record is done."""
    app = FailsFirst(0)
    consumer = _consumer(runtime, app, monkeypatch)
    assert consumer.max_parked_span == 10_000  # the default
    consumer.max_parked_span = 3
    client = Client()
    consumer._one(client, _keyed(runtime, 0, "k1", 0), Partition)  # fails: parked
    consumer._one(client, _keyed(runtime, 1, "k2", 1), Partition)  # handled, span 2
    assert [name for name, _ in client.calls] == ["store_offsets"]
    client.calls.clear()
    consumer._one(client, _keyed(runtime, 2, "k3", 2), Partition)  # handled, span 3
    assert _stored(client) == [0]  # not past k1's record
    assert [(name, repr(args[0])) for name, args in client.calls[1:]] == [
        ("pause", "[t/0@3]"),
        ("seek", "t/0@3"),
    ]
    assert "DECOUPLE_MAX_PARKED_SPAN=3" in caplog.text
    client.calls.clear()
    consumer._resume_due(client, Partition)
    assert client.calls == []  # k1's record still held
    _due(consumer, client)  # handled: the partition holds nothing
    consumer._resume_due(client, Partition)
    assert [name for name, _ in client.calls] == ["store_offsets", "resume"]
    assert _stored(client) == [3]
    consumer._one(client, _keyed(runtime, 3, "k4", 3), Partition)
    assert app.handled == [("k2", 1), ("k3", 2), ("k1", 0), ("k4", 3)]


def test_a_bytes_bound_of_0_is_none(runtime: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECOUPLE_MAX_PARKED_BYTES", "0")
    consumer = _consumer(runtime, Flaky(failures=10), monkeypatch)
    client = Client()
    for offset in range(5):
        consumer._one(client, _keyed(runtime, offset, "k1", offset), Partition)
    assert client.calls == [] and consumer.blocked()[0].records == 5


def test_a_held_partition_whose_next_offset_holds_no_record_goes_on_from_the_next_one(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction's commit marker (or a compacted record) sits at the offset the
    partition was paused at: the first record read once it is due comes later, and is
    handled, not taken for one fetched before the pause."""
    monkeypatch.setenv("DECOUPLE_MAX_PARKED", "3")
    app = Answers(503, 200, 200, 200, 200, 200)
    consumer = _consumer(runtime, app, monkeypatch)
    client = Client()
    for offset in range(3):
        consumer._one(client, _keyed(runtime, offset, "k1", offset), Partition)
    assert consumer._retrying[("t", 0)][0] == 3
    consumer._one(client, _keyed(runtime, 4, "k2", 4), Partition)  # not due: dropped
    assert app.calls == 1
    _due(consumer, client)
    consumer._resume_due(client, Partition)
    consumer._one(client, _keyed(runtime, 4, "k2", 4), Partition)  # offset 3 is a marker
    assert app.calls == 3 and consumer._retrying == {} and consumer._next[("t", 0)] == 5


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_records_handled_after_a_parked_one_are_skipped_when_read_again(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    """The offset committed stops at the parked record: its next owner (or this consumer
    after a crash) reads the records handled after it again, and the store skips them."""
    store = runtime.MemoryStore() if kind == "memory" else None
    path = str(tmp_path / "handled.sqlite")
    app = Answers(503, 200, 200, 200)
    first = _consumer(runtime, app, monkeypatch)
    first.store = store or runtime.SqliteStore(path)
    client = Client()
    records = [
        _keyed(runtime, 0, "k1", 0),
        _keyed(runtime, 1, "k0", 1),
        _keyed(runtime, 2, "k2", 2),
    ]
    for record in records:
        first._one(client, record, Partition)
    assert app.calls == 3 and _stored(client) == [0, 0]
    first._on_revoke(client, [Partition("t", 0)])
    if store is None:
        first.store.close()
    second = _consumer(runtime, app, monkeypatch)
    second.store = store or runtime.SqliteStore(path)
    client = Client()
    for record in records:  # from the committed offset: 0
        second._one(client, record, Partition)
    assert app.calls == 4  # only k1's record ran again
    assert second.counts == {"handled": 1, "duplicate": 2} and _stored(client) == [1, 2, 3]


def test_a_retry_record_counts_on_from_its_attempts_when_the_store_lost_them(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECOUPLE_RETRY_ATTEMPTS", "10")
    app = Flaky(failures=10)
    consumer = _retrying(runtime, app, monkeypatch)
    consumer.retry = runtime.RetryPolicy(attempts=10, base=0.001, cap=0.001)
    copy = Message(
        0,
        _value(runtime),
        topic="t.retry",
        headers=[
            ("decouple.consumer.group", b"g"),
            ("decouple.attempts", b"3"),
            ("decouple.original.topic", b"t"),
            ("decouple.original.partition", b"0"),
            ("decouple.original.offset", b"5"),
        ],
    )
    consumer._one(Client(), copy, Partition)  # a store of another pod: it counts 1
    (sent,) = consumer.producer.dead
    assert dict(sent[3])["decouple.attempts"] == b"4"


def test_what_is_parked_is_reported_and_a_key_parked_too_long_warned_about(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    monkeypatch.setenv("DECOUPLE_PARKED_WARN_S", "300")
    caplog.set_level("INFO")
    consumer = _consumer(runtime, Flaky(failures=10), monkeypatch)
    client = Client()
    poison = _keyed(runtime, 0, "k1", 0)
    consumer._one(client, poison, Partition)
    consumer._one(client, _keyed(runtime, 1, "k1", 1), Partition)
    (blocked,) = consumer.blocked()
    assert (blocked.topic, blocked.partition, blocked.keys, blocked.records) == ("t", 0, 1, 2)
    assert blocked.key == "k1" and blocked.event_id == runtime.decode(poison.value())["id"]
    consumer._stats_at = 1.0
    consumer._beat()
    size = sum(runtime._size(r) for r in consumer._parked[("t", 0)][b"k1"].records)
    assert blocked.size == size and 200 < size < 1024
    assert f"t/0: 1 key(s) parked, 2 record(s) held ({size} B), oldest 0 s" in caplog.text
    assert not [r for r in caplog.records if "has waited" in r.getMessage()]
    consumer._parked[("t", 0)][b"k1"].since = time.time() - 400
    consumer._stats_at = 1.0
    consumer._beat()
    (warned,) = [r.getMessage() for r in caplog.records if "has waited" in r.getMessage()]
    assert "t/0: key k1 has waited 400 s since its first failure" in warned
    assert f"now on event {blocked.event_id}" in warned
    assert consumer.blocked()[0].oldest_s >= 400


def test_a_key_behind_a_series_of_failing_events_has_waited_since_the_first(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first event dead-lettered, its second failing in turn: the key is still held
    back, and has been since the first failure, not since the second took the head. Free
    again, its next failure starts a new wait."""
    import time

    app = Answers(503, 503, 503, 503, 200, 503)
    consumer = _consumer(runtime, app, monkeypatch)  # 3 attempts
    client = Client()
    first, second = _keyed(runtime, 0, "k1", 0), _keyed(runtime, 1, "k1", 1)
    consumer._one(client, first, Partition)
    consumer._one(client, second, Partition)
    consumer._parked[("t", 0)][b"k1"].since = time.time() - 400
    _due(consumer, client)
    _due(consumer, client)  # the first dead-lettered; the second is due at once
    assert len(consumer.producer.dead) == 1
    _due(consumer, client)  # the second fails: parked at the head of its key
    (blocked,) = consumer.blocked()
    assert blocked.event_id == runtime.decode(second.value())["id"]
    assert blocked.oldest_s >= 400
    _due(consumer, client)  # handled: the key is free
    assert consumer.blocked() == [] and app.calls == 5
    consumer._one(client, _keyed(runtime, 2, "k1", 2), Partition)
    (blocked,) = consumer.blocked()
    assert blocked.oldest_s < 5


def test_python_m_is_a_dynamic_member_unless_an_instance_id_is_set(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []

    class Made:
        def __init__(self, subscriptions: Any, **kwargs: Any) -> None:
            made.append(kwargs["instance_id"])

        def run(self) -> None:
            pass

    monkeypatch.setattr(runtime, "Consumer", Made)
    monkeypatch.setattr(runtime.signal, "signal", lambda *args: None)
    sub = _sub(runtime, "x:y", "function", "/")
    monkeypatch.setenv("HOSTNAME", "orders-consumer-7d9f-abcde")
    monkeypatch.delenv("DECOUPLE_GROUP_INSTANCE_ID", raising=False)
    runtime.run([sub], service="s")
    monkeypatch.setenv("DECOUPLE_GROUP_INSTANCE_ID", "orders-0")
    runtime.run([sub], service="s")
    monkeypatch.setenv("DECOUPLE_GROUP_INSTANCE_ID", "none")
    runtime.run([sub], service="s")
    assert made == [None, "orders-0", None]


REQUEST_URI_APP = """\
seen = []


def wsgi(environ, start_response):
    # request logging as uwsgi-served apps write it: `REQUEST {REQUEST_METHOD} {REQUEST_URI}`
    seen.append((environ["REQUEST_URI"], environ["RAW_URI"]))
    start_response("200 OK", [])
    return [b""]
"""


def test_a_wsgi_request_carries_the_request_uri_servers_set(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uwsgi, gunicorn and werkzeug's server set ``REQUEST_URI``/``RAW_URI``: an app whose
    request hook reads it answered 500 to every event without them."""
    (tmp_path / "request_uri_wsgi.py").write_text(REQUEST_URI_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = _sub(runtime, "request_uri_wsgi:wsgi", "wsgi", "/api/me/thoughts/{name}", "name")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, {}, name="a b").action == "handled"
    finally:
        app.close()
    uri = "/api/me/thoughts/a%20b"
    assert importlib.import_module("request_uri_wsgi").seen == [(uri, uri)]
