"""The gRPC server's interceptors on the event path, without a broker: each event goes
through their ``intercept_service`` chain as an RPC does (sync ``grpc.ServerInterceptor``
and ``grpc.aio.ServerInterceptor`` ones), with the RPC's full name and the event's
metadata, and what they answer is classified as the servicer's own answer would be."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from decouple_services.migrate.generate import render_runtime

pytest.importorskip("grpc")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("runtime")
    target = folder / "decouple_runtime_interceptors.py"
    target.write_text(render_runtime(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(target.stem, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[target.stem] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    yield module
    del sys.modules[target.stem]


WIRING = '''\
import asyncio

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="teams_interceptors_test.proto", package="shop.teams.v1", syntax="proto3"
)
_file.message_type.add(name="JoinRequest").field.add(name="team", number=1, type=9, label=1)
_file.message_type.add(name="JoinReply")
_service = _file.service.add(name="TeamService")
for _name in ("Join", "AsyncJoin"):
    _method = _service.method.add(name=_name)
    _method.input_type = ".shop.teams.v1.JoinRequest"
    _method.output_type = ".shop.teams.v1.JoinReply"
descriptor_pool.Default().Add(_file)

SEEN = []
JOINED = []


class NoSuchTeam(Exception):
    pass


class TeamService:
    def Join(self, request, context):
        if request.team == "missing":
            raise NoSuchTeam(request.team)
        if request.team == "broken":
            raise RuntimeError("the database is down")
        JOINED.append((request.team, dict(context.invocation_metadata()).get("ce-type")))

    async def AsyncJoin(self, request, context):
        await asyncio.sleep(0)
        return self.Join(request, context)


def _abort_with(code, details):
    def abort(request, context):
        context.abort(code, details)

    return grpc.unary_unary_rpc_method_handler(abort)


class Auth(grpc.ServerInterceptor):
    """Lets an RPC through only with the service's token, as an auth hook does."""

    def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata)
        SEEN.append(("auth", handler_call_details.method, metadata.get("ce-id") is not None))
        if metadata.get("authorization") != "Bearer team-token":
            return _abort_with(grpc.StatusCode.UNAUTHENTICATED, "no valid token")
        return continuation(handler_call_details)


class Errors(grpc.ServerInterceptor):
    """Turns the domain's exceptions into statuses, wrapping the method's behaviour."""

    def intercept_service(self, continuation, handler_call_details):
        SEEN.append(("errors", handler_call_details.method))
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary

        def mapped(request, context):
            try:
                return behaviour(request, context)
            except NoSuchTeam as error:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no team {error}")

        return grpc.unary_unary_rpc_method_handler(
            mapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class Unrouted(grpc.ServerInterceptor):
    """Handles no method of the service: a server answers UNIMPLEMENTED."""

    def intercept_service(self, continuation, handler_call_details):
        return None


class AsyncAuth(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata)
        SEEN.append(("aio-auth", handler_call_details.method))
        if metadata.get("authorization") != "Bearer team-token":
            return _abort_with(grpc.StatusCode.UNAUTHENTICATED, "no valid token")
        return await continuation(handler_call_details)


class AsyncErrors(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        SEEN.append(("aio-errors", handler_call_details.method))
        handler = await continuation(handler_call_details)
        behaviour = handler.unary_unary

        async def mapped(request, context):
            try:
                return await behaviour(request, context)
            except NoSuchTeam as error:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no team {error}")

        return grpc.unary_unary_rpc_method_handler(mapped)


def interceptors():
    return [Auth(), Errors()]


def auth_only():
    return [Auth()]


def unrouted():
    return [Unrouted()]


def async_interceptors():
    return [AsyncAuth(), AsyncErrors()]


def mixed():
    return [Auth(), AsyncErrors()]


async def built_async():
    return [Auth()]


async def make_servicer():
    return TeamService()
'''

TOKEN = {"Authorization": "Bearer team-token"}


@pytest.fixture
def wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    (tmp_path / "teams_wiring.py").write_text(WIRING)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("teams_wiring")
    module.SEEN.clear()
    module.JOINED.clear()
    return module


def _sub(runtime: ModuleType, method: str = "Join", **more: Any) -> Any:
    return runtime.Subscription(
        topic="t",
        group="g",
        dead_letter="t.dlq",
        target="teams_wiring:TeamService",
        kind="grpc",
        path=f"/shop.teams.v1.TeamService/{method}",
        **more,
    )


def _handle(runtime: ModuleType, sub: Any, app: Any, team: str) -> Any:
    event = runtime.make_event("com.example.teams.join.v1", "tests", {"team": team})
    headers = [("content-type", b"application/cloudevents+json"), ("X-Request-Id", b"req-7")]
    return runtime.handle(runtime.encode(event), headers, sub, app, runtime.MemoryStore())


def _token(monkeypatch: pytest.MonkeyPatch, headers: dict[str, str] | None = TOKEN) -> None:
    monkeypatch.setenv("DECOUPLE_REQUEST_HEADERS", json.dumps(headers or {}))


def test_sync_interceptors_run_in_the_servers_order_with_the_rpcs_name_and_metadata(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token(monkeypatch)
    sub = _sub(runtime, servicer_interceptors="teams_wiring:interceptors")
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, "blue").action == "handled"
    finally:
        app.close()
    method = "/shop.teams.v1.TeamService/Join"
    # the first interceptor is the outermost, and it sees the event's id as ce-id
    assert [("auth", method, True), ("errors", method)] == wiring.SEEN
    # the servicer's context carries the same metadata: the event's type as ce-type
    assert wiring.JOINED == [("blue", "com.example.teams.join.v1")]


def test_an_interceptor_refusing_the_consumers_credential_retries_the_event(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer's own credential missing or rotated is one bad setting: the events
    wait for it to be fixed, as an HTTP app's 401 does, instead of filling the
    dead-letter topic."""
    for headers in (None, {"Authorization": "Bearer rotated-token"}):
        _token(monkeypatch, headers)
        sub = _sub(runtime, servicer_interceptors="teams_wiring:interceptors")
        app = runtime.application(sub)
        try:
            outcome = _handle(runtime, sub, app, "blue")
        finally:
            app.close()
        assert outcome.action == "retry"
        assert "401 (UNAUTHENTICATED: no valid token)" in str(outcome.error)
    assert wiring.JOINED == []  # the servicer never ran


def test_an_interceptor_refusing_the_callers_forwarded_credential_is_final(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller's credential travels in the record: a retry sends it again."""
    _token(monkeypatch, None)
    sub = _sub(
        runtime,
        servicer_interceptors="teams_wiring:interceptors",
        forward_headers=("Authorization",),
    )
    app = runtime.application(sub)
    event = runtime.make_event("com.example.teams.join.v1", "tests", {"team": "blue"})
    headers = [("authorization", b"Bearer callers-expired")]
    try:
        outcome = runtime.handle(runtime.encode(event), headers, sub, app, runtime.MemoryStore())
    finally:
        app.close()
    assert outcome.action == "dead_letter"
    assert "UNAUTHENTICATED" in str(outcome.error)
    assert "caller's credential" in str(outcome.error)


def test_the_metadata_a_call_sent_reaches_the_servicers_context(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stub call's ``metadata=`` travels as the send's headers; the subscription names
    their keys, and the servicer reads them as invocation metadata, as the RPC's. A record
    header no call sent is not handed on."""
    seen: list[dict[str, str]] = []

    def join(self: Any, request: Any, context: Any) -> None:
        seen.append(dict(context.invocation_metadata()))

    monkeypatch.setattr(wiring.TeamService, "Join", join)
    _token(monkeypatch, None)
    sub = _sub(runtime, forward_headers=("x-api-key",))
    app = runtime.application(sub)
    event = runtime.make_event("com.example.teams.join.v1", "tests", {"team": "blue"})
    headers = [("x-api-key", b"invites-key"), ("x-admin", b"yes")]
    try:
        outcome = runtime.handle(runtime.encode(event), headers, sub, app, runtime.MemoryStore())
    finally:
        app.close()
    assert outcome.action == "handled"
    (metadata,) = seen
    assert metadata["x-api-key"] == "invites-key"
    assert "x-admin" not in metadata


def test_interceptors_with_no_consumer_credential_are_warned_of_at_start(
    runtime: ModuleType,
    wiring: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _token(monkeypatch, None)
    sub = _sub(runtime, servicer_interceptors="teams_wiring:interceptors")
    with caplog.at_level("WARNING"):
        runtime.application(sub).close()
    assert "DECOUPLE_REQUEST_HEADERS gives the consumer no credential" in caplog.text
    caplog.clear()
    _token(monkeypatch)
    with caplog.at_level("WARNING"):
        runtime.application(sub).close()
    assert "no credential" not in caplog.text


def test_a_servicers_permission_denied_for_the_user_the_data_names_is_final(
    runtime: ModuleType,
    wiring: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A servicer that checks the user the request names (a ``requesting_user``) and
    aborts PERMISSION_DENIED: with ``final_statuses=(401, 403)`` the event is dead-lettered
    at once instead of being retried as the consumer's own credential, and no warning says
    an interceptor's UNAUTHENTICATED is retried."""
    import grpc

    def join(self: Any, request: Any, context: Any) -> None:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "not the owner")

    monkeypatch.setattr(wiring.TeamService, "Join", join)
    monkeypatch.delenv("DECOUPLE_FINAL_STATUSES", raising=False)
    _token(monkeypatch, None)
    final = _sub(
        runtime, servicer_interceptors="teams_wiring:interceptors", final_statuses=(401, 403)
    )
    with caplog.at_level("WARNING"):
        runtime.application(final).close()
    assert "no credential" not in caplog.text
    # the consumer's own credential passes the auth interceptor; the servicer refuses
    _token(monkeypatch)
    app = runtime.application(final)
    try:
        outcome = _handle(runtime, final, app, "a")
    finally:
        app.close()
    assert (outcome.action, outcome.status) == ("dead_letter", 403)
    assert "PERMISSION_DENIED: not the owner" in str(outcome.error)
    plain = _sub(runtime)
    app = runtime.application(plain)
    try:
        assert _handle(runtime, plain, app, "a").action == "retry"
    finally:
        app.close()


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("UNAUTHENTICATED", "retry"),
        ("PERMISSION_DENIED", "retry"),
        ("RESOURCE_EXHAUSTED", "retry"),
        ("UNAVAILABLE", "retry"),
        ("DEADLINE_EXCEEDED", "retry"),
        ("ABORTED", "retry"),
        ("INTERNAL", "retry"),
        ("INVALID_ARGUMENT", "dead_letter"),
        ("NOT_FOUND", "dead_letter"),
        ("ALREADY_EXISTS", "dead_letter"),
        ("FAILED_PRECONDITION", "dead_letter"),
        ("OUT_OF_RANGE", "dead_letter"),
        ("UNIMPLEMENTED", "dead_letter"),
    ],
)
def test_abort_and_set_code_classify_a_code_alike(
    runtime: ModuleType,
    wiring: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    action: str,
) -> None:
    import grpc

    status = getattr(grpc.StatusCode, code)

    def join(self: Any, request: Any, context: Any) -> None:
        if request.team == "abort":
            context.abort(status, "said so")
        context.set_code(status)
        context.set_details("said so")

    _token(monkeypatch)
    monkeypatch.setattr(wiring.TeamService, "Join", join)
    sub = _sub(runtime)
    app = runtime.application(sub)
    try:
        aborted = _handle(runtime, sub, app, "abort")
        set_code = _handle(runtime, sub, app, "set")
    finally:
        app.close()
    assert (aborted.action, set_code.action) == (action, action)
    assert f"{code}: said so" in str(aborted.error)
    assert f"{code}: said so" in str(set_code.error)


def test_an_interceptor_mapping_an_exception_to_not_found_makes_it_final(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token(monkeypatch)
    mapped = _sub(runtime, servicer_interceptors="teams_wiring:interceptors")
    unmapped = _sub(runtime, servicer_interceptors="teams_wiring:auth_only")
    with_mapping, without = runtime.application(mapped), runtime.application(unmapped)
    try:
        found = _handle(runtime, mapped, with_mapping, "missing")
        assert found.action == "dead_letter" and "NOT_FOUND" in str(found.error)
        # an exception it does not map stays a failure worth a retry, as UNKNOWN is
        assert _handle(runtime, mapped, with_mapping, "broken").action == "retry"
        # without the error-mapping interceptor the same exception is retried
        assert _handle(runtime, unmapped, without, "missing").action == "retry"
    finally:
        with_mapping.close()
        without.close()


def test_an_interceptor_that_gives_no_handler_dead_letters_the_event_with_a_reason(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token(monkeypatch)
    sub = _sub(runtime, servicer_interceptors="teams_wiring:unrouted")
    app = runtime.application(sub)
    try:
        outcome = _handle(runtime, sub, app, "blue")
    finally:
        app.close()
    assert outcome.action == "dead_letter"
    assert "gave no handler for /shop.teams.v1.TeamService/Join" in str(outcome.error)
    assert "UNIMPLEMENTED" in str(outcome.error)
    assert wiring.JOINED == []


@pytest.mark.parametrize("factory", [None, "teams_wiring:make_servicer"])
def test_aio_interceptors_are_awaited_around_an_async_method(
    runtime: ModuleType,
    wiring: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    factory: str | None,
) -> None:
    """On a loop of the handler thread (the class built), and on the servicer's own loop
    (an async factory): the chain is awaited where the method runs."""
    sub = _sub(
        runtime,
        "AsyncJoin",
        servicer_interceptors="teams_wiring:async_interceptors",
        servicer_factory=factory,
    )
    app = runtime.application(sub)
    try:
        _token(monkeypatch)
        assert _handle(runtime, sub, app, "blue").action == "handled"
        missing = _handle(runtime, sub, app, "missing")
        assert missing.action == "dead_letter" and "NOT_FOUND" in str(missing.error)
        _token(monkeypatch, None)
        denied = _handle(runtime, sub, app, "red")
        assert denied.action == "retry" and "UNAUTHENTICATED" in str(denied.error)
    finally:
        app.close()
    method = "/shop.teams.v1.TeamService/AsyncJoin"
    assert wiring.SEEN[:2] == [("aio-auth", method), ("aio-errors", method)]
    assert wiring.JOINED == [("blue", "com.example.teams.join.v1")]


@pytest.mark.parametrize(
    ("factory", "message"),
    [("mixed", "both grpc.ServerInterceptor"), ("built_async", "is async")],
)
def test_interceptors_a_server_would_not_take_stop_the_consumer_at_start(
    runtime: ModuleType, wiring: ModuleType, factory: str, message: str
) -> None:
    sub = _sub(runtime, servicer_interceptors=f"teams_wiring:{factory}")
    with pytest.raises(TypeError, match=message):
        runtime.application(sub)


def test_the_events_attributes_are_ce_metadata_beside_the_forwarded_headers(
    runtime: ModuleType,
) -> None:
    event = runtime.make_event("com.example.v1", "orders", {"x": 1}, {"order_id": "o-9"})
    metadata = dict(runtime._event_metadata(event))
    assert metadata["ce-id"] == event["id"]
    assert metadata["ce-type"] == "com.example.v1"
    assert metadata["ce-source"] == "orders"
    assert metadata["ce-specversion"] == "1.0"
    assert metadata["ce-orderid"] == "o-9"  # a path parameter's extension attribute
    assert "ce-data" not in metadata and "ce-datacontenttype" not in metadata


def test_an_abort_with_ok_ends_the_call_unknown_as_a_server_does(
    runtime: ModuleType, wiring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call did not finish: the event is not handled, and is retried."""
    import grpc

    def join(self: Any, request: Any, context: Any) -> None:
        context.abort(grpc.StatusCode.OK, "done?")
        JOINED_AFTER_ABORT.append(request.team)

    _token(monkeypatch)
    monkeypatch.setattr(wiring.TeamService, "Join", join)
    sub = _sub(runtime)
    app = runtime.application(sub)
    try:
        outcome = _handle(runtime, sub, app, "blue")
    finally:
        app.close()
    assert outcome.action == "retry" and "UNKNOWN: done?" in str(outcome.error)
    assert JOINED_AFTER_ABORT == []


JOINED_AFTER_ABORT: list[str] = []


STREAMING = """\
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool

_file = descriptor_pb2.FileDescriptorProto(
    name="rosters_streaming_test.proto", package="shop.rosters.v1", syntax="proto3"
)
_file.message_type.add(name="ListRequest").field.add(name="team", number=1, type=9, label=1)
_file.message_type.add(name="Member")
_service = _file.service.add(name="RosterService")
for _name in ("List", "AsyncList"):
    _method = _service.method.add(name=_name, server_streaming=True)
    _method.input_type = ".shop.rosters.v1.ListRequest"
    _method.output_type = ".shop.rosters.v1.Member"
_method = _service.method.add(name="Upload", client_streaming=True)
_method.input_type = ".shop.rosters.v1.ListRequest"
_method.output_type = ".shop.rosters.v1.Member"
descriptor_pool.Default().Add(_file)

RAN = []


class RosterService:
    def List(self, request, context):
        RAN.append(("start", request.team))
        yield None
        if request.team == "broken":
            raise RuntimeError("the database is down")
        if request.team == "gone":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such team")
        RAN.append(("end", request.team))

    async def AsyncList(self, request, context):
        for reply in self.List(request, context):
            yield reply


class Pass(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        return continuation(handler_call_details)


class AsyncPass(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        return await continuation(handler_call_details)


def interceptors():
    return [Pass()]


def async_interceptors():
    return [AsyncPass()]


async def make_servicer():
    return RosterService()
"""


@pytest.mark.parametrize(
    ("method", "interceptors", "factory"),
    [
        ("List", None, None),
        ("List", "interceptors", None),
        ("AsyncList", None, None),
        ("AsyncList", "interceptors", None),
        ("AsyncList", "async_interceptors", None),
        ("AsyncList", None, "make_servicer"),
        ("AsyncList", "async_interceptors", "make_servicer"),
    ],
)
def test_a_server_streaming_method_runs_to_its_end_and_its_failure_is_the_events(
    runtime: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    interceptors: str | None,
    factory: str | None,
) -> None:
    """A generator's body runs only as its replies are read: every one is, so the event
    is handled only once the method ran to its end, and what it raises, or aborts with,
    part way is classified as a unary method's would be."""
    (tmp_path / "rosters_wiring.py").write_text(STREAMING)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("rosters_wiring")
    module.RAN.clear()
    _token(monkeypatch)
    sub = runtime.Subscription(
        topic="t",
        group="g",
        dead_letter="t.dlq",
        target="rosters_wiring:RosterService",
        kind="grpc",
        path=f"/shop.rosters.v1.RosterService/{method}",
        servicer_interceptors=interceptors and f"rosters_wiring:{interceptors}",
        servicer_factory=factory and f"rosters_wiring:{factory}",
    )
    app = runtime.application(sub)
    try:
        assert _handle(runtime, sub, app, "blue").action == "handled"
        broken = _handle(runtime, sub, app, "broken")
        gone = _handle(runtime, sub, app, "gone")
    finally:
        app.close()
    assert module.RAN == [
        ("start", "blue"),
        ("end", "blue"),
        ("start", "broken"),
        ("start", "gone"),
    ]
    assert broken.action == "retry" and "the database is down" in str(broken.error)
    assert gone.action == "dead_letter" and "NOT_FOUND: no such team" in str(gone.error)


def test_a_client_streaming_method_stops_the_consumer_at_start(
    runtime: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rosters_wiring.py").write_text(STREAMING)
    monkeypatch.syspath_prepend(str(tmp_path))
    sub = runtime.Subscription(
        topic="t",
        group="g",
        dead_letter="t.dlq",
        target="rosters_wiring:RosterService",
        kind="grpc",
        path="/shop.rosters.v1.RosterService/Upload",
    )
    with pytest.raises(TypeError, match="takes a stream of requests"):
        runtime.application(sub)
