"""The rules refusing sites a send must not replace, on call sites built by hand."""

from __future__ import annotations

import pytest

from decouple_services.core.model import CallSite, Endpoint
from decouple_services.migrate.payload import key_field, payload_fields
from decouple_services.migrate.plan import choose_key
from decouple_services.migrate.refusals import (
    payload_cautions,
    servicer_factory,
    site_refusals,
    words,
)


def _site(method: str | None, *, client: str = "requests", **kw: object) -> CallSite:
    fields: dict[str, object] = {
        "id": "cs-1",
        "caller": "gateway",
        "file": "gateway/calls.py",
        "line": 3,
        "end_line": 3,
        "function": "calls.run",
        "client": client,
        "method": method,
        "url": "URL",
        "url_template": None,
        "callee": "users",
        "endpoint": None,
    }
    fields.update(kw)
    return CallSite(**fields)  # type: ignore[arg-type]


def _rpc(path: str, handler: str = "server.Users.Method") -> Endpoint:
    return Endpoint("users", "grpc", "RPC", path, handler, "users/server.py", 5, "grpc")


def _http(method: str, path: str) -> Endpoint:
    return Endpoint("users", "http", method, path, "app.view", "users/app.py", 5, "flask")


def _codes(site: CallSite, endpoint: Endpoint | None, files: dict[str, str] | None = None):
    read = {k: v.encode() for k, v in (files or {}).items()}.get
    return [f.code for f in site_refusals(site, endpoint, read)]


def test_words_split_snake_camel_and_paths() -> None:
    assert words("get_user_by_id") == ["get", "user", "by", "id"]
    assert words("GetUserByID") == ["get", "user", "by", "id"]
    assert words("/api/v1/log-in/") == ["api", "v1", "log", "in"]


@pytest.mark.parametrize(
    ("rpc", "refused"),
    [
        ("get_user_by_id", True),
        ("GetUser", True),
        ("listOrders", True),
        ("ExistsAccount", True),
        ("validate_coupon", True),
        ("SearchItems", True),
        ("delete_user", False),
        ("CreateInvite", False),
        ("target_update", False),  # a read word not first is no read
    ],
)
def test_rpcs_named_as_reads_are_refused(rpc: str, refused: bool) -> None:
    site = _site(rpc, client="grpc")
    codes = _codes(site, _rpc(f"/users.Users/{rpc}"))
    assert ("read-call" in codes) is refused


@pytest.mark.parametrize(
    ("method", "refused"), [("GET", True), ("HEAD", True), ("OPTIONS", True), ("POST", False)]
)
def test_http_reads_are_refused(method: str, refused: bool) -> None:
    codes = _codes(_site(method), _http(method, "/users/{user_id}"))
    assert ("read-call" in codes) is refused


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/auth/logout", "auth"),
        ("/users/{user_id}/password", "password"),
        ("/api/log-in/", "log in"),
        ("/IdentityService/logout", "logout"),
        ("/sessions/{id}/close", "sessions"),
        ("/tokens/revoke", "tokens"),
        ("/v1/mfa/enrol", "mfa"),
        ("/users/{author_id}/posts", None),  # author is not auth, a parameter names nothing
        ("/recommendations/refresh", None),
        ("/orders/{order_id}/cancel", None),
    ],
)
def test_authentication_and_session_endpoints_are_refused(path: str, word: str | None) -> None:
    found = site_refusals(_site("POST"), _http("POST", path), lambda _: None)
    auth = [f for f in found if f.code == "auth-call"]
    if word is None:
        assert not auth
    else:
        assert f"`{word}`" in auth[0].reason


def test_an_unknown_part_in_the_endpoint_path_is_refused() -> None:
    site = _site("Logout", client="grpc")
    assert _codes(site, _rpc("/{?}.Accounts/Close")) == ["unresolved-endpoint"]
    assert _codes(_site("POST"), _http("POST", "/{?}/orders")) == ["unresolved-endpoint"]
    assert _codes(site, _rpc("/Accounts/Close")) == []


@pytest.mark.parametrize(
    ("method", "refused"), [("DELETE", True), ("PATCH", True), (None, True), ("POST", False)]
)
def test_a_route_answering_any_method_refuses_a_call_not_made_with_post(
    method: str | None, refused: bool
) -> None:
    """The consumer calls a route of any method (``*``) with ``POST``: a ``DELETE`` of a
    submission would reach the view's create action."""
    found = site_refusals(_site(method), _http("*", "/submissions/"), lambda _: None)
    assert [f.code for f in found] == (["unresolved-endpoint"] if refused else [])
    if method == "DELETE":
        assert found[0].reason == (
            "the callee's route answers any method (* /submissions/), so its consumer would "
            "call it with `POST`, and the call was made with `DELETE`"
        )
    assert _codes(_site(method), _http("DELETE", "/submissions/{pk}/")) == []


CHECKS = """\
def ensure_exists(stub, uid):
    _ = stub.Touch(uid)


def validate_order(order):
    requests.post(URL, json=order).raise_for_status()


def ensure_and_return(stub, uid):
    stub.Touch(uid)
    return uid


def ensure_kept(stub, uid):
    answer = stub.Touch(uid)
    log(answer)


def notify(stub, uid):
    _ = stub.Touch(uid)


async def require_quota(client, uid):
    await client.post(URL)
    return None
"""


@pytest.mark.parametrize(
    ("line", "refused"),
    [(2, True), (6, True), (10, False), (15, False), (20, False), (24, True)],
)
def test_a_call_whose_only_effect_is_its_exception_is_a_check(line: int, refused: bool) -> None:
    site = _site("POST", file="gateway/checks.py", line=line, end_line=line)
    codes = _codes(site, _http("POST", "/touch"), {"gateway/checks.py": CHECKS})
    assert ("check-call" in codes) is refused


SERVICERS = """\
class Base(pb2_grpc.UsersServicer):
    def __init__(self, repo):
        self.repo = repo


class Users(Base):
    def Method(self, request, context):
        return request


class Defaults(pb2_grpc.UsersServicer):
    def __init__(self, repo=None, *args, cache=None, **kwargs):
        self.repo = repo

    def Method(self, request, context):
        return request


class Plain(pb2_grpc.UsersServicer):
    def Method(self, request, context):
        return request


class KeywordOnly(pb2_grpc.UsersServicer):
    def __init__(self, *, repo):
        self.repo = repo
"""


@pytest.mark.parametrize(
    ("servicer", "required"),
    [("Users", "`repo`"), ("Defaults", None), ("Plain", None), ("KeywordOnly", "`repo`")],
)
def test_a_servicer_with_required_init_parameters_is_refused(
    servicer: str, required: str | None
) -> None:
    endpoint = _rpc("/users.Users/Method", f"server.{servicer}.Method")
    read = {"users/server.py": SERVICERS.encode()}.get
    found = site_refusals(_site("Method", client="grpc"), endpoint, read)
    if required is None:
        assert not found
    else:
        assert [f.code for f in found] == ["servicer-needs-arguments"]
        assert f"requires {required}" in found[0].reason


def test_secret_named_fields_of_the_payload_are_a_caution() -> None:
    assert [f.code for f in payload_cautions('{"access_token": t, "user": u}')] == [
        "secret-in-payload"
    ]
    assert payload_cautions("GrpcAccessToken(access_token=token)")
    assert payload_cautions('{"apiKey": k}') and payload_cautions("dict(client_secret=s)")
    assert not payload_cautions('{"user_id": u, "keyboard": k}')
    assert not payload_cautions("payload")


def test_message_constructors_name_their_fields_for_the_event_key() -> None:
    proto = "json_format.MessageToDict(Req(author_id=user.id, title=t), preserving_proto_field_name=True)"
    assert [n for n, _ in payload_fields(proto)] == ["author_id", "title"]
    assert key_field("Req(title=t, event_id=e)") == "event_id"
    assert choose_key((), proto) == ("user.id", "the payload's author_id")
    assert choose_key((), "pb2.DeleteRequest(id=ident)") == ("ident", "the payload's id")
    # a function's keywords are not the payload's fields
    assert choose_key((), "build_payload(user_id=uid)") == (
        None,
        "no entity id in the url or the payload",
    )


@pytest.mark.parametrize("name", ["Users", "users.Users", "Base"])
def test_a_servicer_factory_lifts_the_refusal_by_service_or_class_name(name: str) -> None:
    """``Users`` is the gRPC service, ``users.Users`` its full name; ``Base`` is not the
    handler's class (that is ``Users``), so it names nothing here."""
    endpoint = _rpc("/users.Users/Method", "server.Users.Method")
    read = {"users/server.py": SERVICERS.encode()}.get
    site = _site("Method", client="grpc")
    factories = {name: "users.wiring:make_servicer"}
    found = site_refusals(site, endpoint, read, factories)
    if name == "Base":
        assert [f.code for f in found] == ["servicer-needs-arguments"]
        assert servicer_factory(endpoint, factories) is None
    else:
        assert not found
        assert servicer_factory(endpoint, factories) == "users.wiring:make_servicer"


def test_the_servicer_refusal_names_its_class_and_points_to_a_factory() -> None:
    read = {"users/server.py": SERVICERS.encode()}.get
    (users,) = site_refusals(
        _site("Method", client="grpc"), _rpc("/users.Users/Method", "server.Users.Method"), read
    )
    (keyword,) = site_refusals(
        _site("Method", client="grpc"),
        _rpc("/users.Accounts/Method", "server.KeywordOnly.Method"),
        read,
    )
    assert "the servicer `Users`" in users.reason
    assert "the servicer `KeywordOnly`" in keyword.reason
    assert "--servicer-factory Users=module:function" in users.suggestion
    assert "--servicer-factory Accounts=module:function" in keyword.suggestion
    assert "default" not in users.suggestion
