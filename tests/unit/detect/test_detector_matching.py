"""Each detector's decisions on hand-built calls, with every field of the match asserted.

The examples on the detector classes run through extraction too (tests/test_detector_examples.py);
these tests pin down the decisions themselves, including cases extraction rarely produces.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import replace

import pytest

from decouple_services.core.config import ClientConfig, Config, parse_config
from decouple_services.core.model import Category
from decouple_services.detect.aiohttp_ import AiohttpDetector
from decouple_services.detect.base import MISSING, Detector, Match
from decouple_services.detect.custom import CustomDetector, signatures_of
from decouple_services.detect.facts import FunctionInfo, RawCall
from decouple_services.detect.grpc_ import GrpcDetector, channel_target
from decouple_services.detect.http_client import HttpClientDetector
from decouple_services.detect.httpx_ import HttpxDetector
from decouple_services.detect.locust_ import LocustDetector
from decouple_services.detect.registry import (
    DETECTORS,
    build_detectors,
    candidate_method_names,
    client_modules,
    example_detector,
    match_call,
)
from decouple_services.detect.requests_ import RequestsDetector
from decouple_services.detect.urllib3_ import Urllib3Detector
from decouple_services.detect.urllib_request import UrllibRequestDetector
from decouple_services.detect.values import Concat, Dyn, Lit, Obj, Param, Ref, Value, show

NONE = Dyn("None")
TRUE = Lit("True")
FALSE = Lit("False")


def _src(value: Value) -> str:
    """Source text for a hand-built argument, as extraction (``ast.unparse``) would write it."""
    if isinstance(value, Lit):
        return repr(value.text)
    if isinstance(value, Obj):
        return f"{value.type}(...)"
    return show(value)


def call(func: str, /, *args: Value, **kwargs: Value) -> RawCall:
    """A recorded call of a function by qualified name: ``call("requests.get", Lit(url))``."""
    return _raw(func, func.rpartition(".")[2], None, args, kwargs)


def method(
    receiver: Value, name: str, /, *args: Value, **kwargs: Value
) -> tuple[RawCall, Obj | None]:
    """A method call, and the receiver matching is given for it (resolved when an object)."""
    raw = _raw(None, name, receiver, args, kwargs)
    return raw, receiver if isinstance(receiver, Obj) else None


def _raw(
    func: str | None,
    name: str,
    receiver: Value | None,
    args: tuple[Value, ...],
    kwargs: dict[str, Value],
) -> RawCall:
    return RawCall(
        line=1,
        end_line=1,
        col=0,
        function="shop.views.checkout",
        name=name,
        func=func,
        receiver=receiver,
        args=args,
        kwargs=tuple(kwargs.items()),
        arg_src=tuple(_src(a) for a in args),
        kwarg_src=tuple((k, _src(v)) for k, v in kwargs.items()),
        result_used=False,
        in_loop=False,
        is_async=False,
    )


URL = Lit("http://orders:8080/orders")
USERS = Ref("shop.config.USERS_URL")


# --- requests ----------------------------------------------------------------------------------

REQUESTS = RequestsDetector()


def test_requests_module_post_reports_url_timeout_and_json_payload() -> None:
    found = REQUESTS.match(call("requests.post", URL, json=Dyn("order"), timeout=Lit("5")), None)
    assert found == Match(
        client="requests",
        method="POST",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        payload="json=order",
    )


@pytest.mark.parametrize("func", ["requests.get", "requests.api.get"])
def test_requests_get_through_the_api_module_takes_params_positionally(func: str) -> None:
    found = REQUESTS.match(call(func, USERS, Dyn("query")), None)
    assert found == Match(
        client="requests", method="GET", url=USERS, url_src="USERS_URL", payload="query"
    )


def test_requests_request_reads_method_and_url_by_keyword() -> None:
    found = REQUESTS.match(call("requests.request", method=Lit("delete"), url=USERS), None)
    assert found == Match(client="requests", method="DELETE", url=USERS, url_src="USERS_URL")


def test_requests_request_with_a_computed_method_leaves_the_method_unknown() -> None:
    found = REQUESTS.match(call("requests.request", Param("verb", "f"), USERS), None)
    assert found is not None
    assert found.method is None


def test_requests_timeout_none_is_no_timeout_and_stream_true_is_streaming() -> None:
    found = REQUESTS.match(call("requests.get", URL, timeout=NONE, stream=TRUE), None)
    assert found is not None
    assert (found.has_timeout, found.streaming) == (False, True)


def test_requests_payload_prefers_json_over_data_whatever_the_order() -> None:
    found = REQUESTS.match(call("requests.post", URL, data=Dyn("form"), json=Dyn("body")), None)
    assert found is not None
    assert found.payload == "json=body"


def test_requests_without_a_url_argument_records_it_as_missing() -> None:
    found = REQUESTS.match(call("requests.get", **{"timeout": Lit("1")}), None)
    assert found is not None
    assert (found.url, found.url_src) == (MISSING, "")


@pytest.mark.parametrize(
    "session_type",
    [
        "requests.Session",
        "requests.sessions.Session",
        "requests.session",
        "requests.sessions.session",
    ],
)
def test_requests_session_methods_are_found_for_every_session_spelling(session_type: str) -> None:
    found = REQUESTS.match(*method(Obj(session_type), "patch", USERS, Dyn("changes")))
    assert found == Match(
        client="requests.Session", method="PATCH", url=USERS, url_src="USERS_URL", payload="changes"
    )


def test_requests_session_request_takes_method_then_url() -> None:
    found = REQUESTS.match(*method(Obj("requests.Session"), "request", Lit("PUT"), USERS))
    assert found == Match(client="requests.Session", method="PUT", url=USERS, url_src="USERS_URL")


def test_requests_session_send_reads_the_request_it_was_prepared_from() -> None:
    prepared = Obj("example.s.prepare_request()", (Obj("requests.Request", (Lit("POST"), USERS)),))
    found = REQUESTS.match(*method(Obj("requests.Session"), "send", prepared))
    assert found == Match(
        client="requests.Session",
        method="POST",
        url=USERS,
        url_src="example.s.prepare_request()(...)",
    )


def test_requests_session_send_of_an_unknown_request_is_a_call_with_unknown_method() -> None:
    found = REQUESTS.match(*method(Obj("requests.Session"), "send", Dyn("prepared")))
    assert found == Match(
        client="requests.Session", method=None, url=Dyn("prepared"), url_src="prepared"
    )


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("requests.Session"), None),
        (call("requests.exceptions.HTTPError", Lit("down")), None),
        (call("requests.adapters.HTTPAdapter", max_retries=Lit("3")), None),
        (call("not_requests.get", URL), None),
        method(
            Obj("requests.Session"), "mount", Lit("https://"), Obj("requests.adapters.HTTPAdapter")
        ),
        method(Obj("requests.Session"), "close"),
        method(Obj("requests.get", (URL,)), "json"),
        method(Obj("redis.Redis"), "get", Lit("key")),
        method(Param("requests", "f"), "get", URL),
    ],
    ids=[
        "session-constructor",
        "exception",
        "adapter",
        "not-requests",
        "mount",
        "close",
        "response-json",
        "other-object-get",
        "unresolved-receiver",
    ],
)
def test_requests_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert REQUESTS.match(raw, receiver) is None


# --- httpx -------------------------------------------------------------------------------------

HTTPX = HttpxDetector()


def test_httpx_module_calls_have_httpx_default_timeout() -> None:
    found = HTTPX.match(call("httpx.get", URL, params=Dyn("q")), None)
    assert found == Match(
        client="httpx",
        method="GET",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        payload="params=q",
    )


def test_httpx_timeout_none_or_an_empty_timeout_object_disables_the_timeout() -> None:
    assert HTTPX.match(call("httpx.post", URL, timeout=NONE), None) == Match(
        client="httpx", method="POST", url=URL, url_src="'http://orders:8080/orders'"
    )
    empty = Obj("httpx.Timeout", (NONE,))
    found = HTTPX.match(call("httpx.post", URL, timeout=empty), None)
    assert found is not None
    assert found.has_timeout is False


def test_httpx_stream_function_is_streaming_and_takes_method_first() -> None:
    found = HTTPX.match(call("httpx.stream", Lit("GET"), USERS), None)
    assert found == Match(
        client="httpx",
        method="GET",
        url=USERS,
        url_src="USERS_URL",
        has_timeout=True,
        streaming=True,
    )


def test_httpx_client_base_url_becomes_the_base_and_its_timeout_none_applies() -> None:
    client = Obj("httpx.Client", kwargs=(("base_url", USERS), ("timeout", NONE)))
    found = HTTPX.match(*method(client, "post", Lit("/users"), json=Dyn("user")))
    assert found == Match(
        client="httpx.Client",
        method="POST",
        url=Lit("/users"),
        url_src="'/users'",
        base=USERS,
        has_timeout=False,
        payload="json=user",
    )


def test_httpx_call_timeout_overrides_the_client_timeout() -> None:
    client = Obj("httpx.Client", kwargs=(("timeout", NONE),))
    found = HTTPX.match(*method(client, "get", URL, timeout=Lit("2")))
    assert found is not None
    assert found.has_timeout is True


@pytest.mark.parametrize("client_type", ["httpx.AsyncClient", "httpx._client.AsyncClient"])
def test_httpx_async_client_calls_are_async(client_type: str) -> None:
    found = HTTPX.match(*method(Obj(client_type), "request", Lit("PUT"), URL, content=Dyn("raw")))
    assert found == Match(
        client="httpx.AsyncClient",
        method="PUT",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        payload="content=raw",
        is_async=True,
    )


def test_httpx_send_reads_an_httpx_request() -> None:
    request = Obj("httpx.Request", (Lit("DELETE"), USERS))
    found = HTTPX.match(*method(Obj("httpx.Client"), "send", request, stream=TRUE))
    assert found == Match(
        client="httpx.Client",
        method="DELETE",
        url=USERS,
        url_src="httpx.Request(...)",
        has_timeout=True,
        streaming=True,
    )


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("httpx.Timeout", Lit("5.0")), None),
        (call("httpx.Client", base_url=USERS), None),
        method(Obj("httpx.Client"), "build_request", Lit("GET"), URL),
        method(Obj("httpx.Client"), "close"),
        method(Obj("httpx.Headers"), "get", Lit("accept")),
        method(Obj("requests.Session"), "get", URL),
    ],
    ids=["timeout", "client", "build-request", "close", "headers-get", "requests-session"],
)
def test_httpx_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert HTTPX.match(raw, receiver) is None


# --- aiohttp -----------------------------------------------------------------------------------

AIOHTTP = AiohttpDetector()


def test_aiohttp_session_first_argument_is_the_base_url() -> None:
    session = Obj("aiohttp.ClientSession", (USERS,))
    found = AIOHTTP.match(*method(session, "post", Lit("/users"), json=Dyn("user")))
    assert found == Match(
        client="aiohttp",
        method="POST",
        url=Lit("/users"),
        url_src="'/users'",
        base=USERS,
        has_timeout=True,
        payload="json=user",
        is_async=True,
    )


def test_aiohttp_empty_client_timeout_on_the_session_means_no_timeout() -> None:
    session = Obj(
        "aiohttp.client.ClientSession", kwargs=(("timeout", Obj("aiohttp.ClientTimeout")),)
    )
    found = AIOHTTP.match(*method(session, "get", URL))
    assert found is not None
    assert found.has_timeout is False
    limited = Obj("aiohttp.ClientTimeout", kwargs=(("total", Lit("3")),))
    found = AIOHTTP.match(*method(session, "get", URL, timeout=limited))
    assert found is not None
    assert found.has_timeout is True


def test_aiohttp_ws_connect_is_a_streaming_get() -> None:
    found = AIOHTTP.match(*method(Obj("aiohttp.ClientSession"), "ws_connect", URL))
    assert found == Match(
        client="aiohttp",
        method="GET",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        is_async=True,
        streaming=True,
    )


def test_aiohttp_module_request_takes_method_then_url() -> None:
    found = AIOHTTP.match(call("aiohttp.request", Lit("HEAD"), USERS, timeout=NONE), None)
    assert found == Match(
        client="aiohttp", method="HEAD", url=USERS, url_src="USERS_URL", is_async=True
    )


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("aiohttp.ClientSession"), None),
        (call("aiohttp.web.get", Lit("/health"), Dyn("handler")), None),
        method(Obj("aiohttp.ClientSession"), "close"),
        method(Obj("aiohttp.web.Application"), "get", Lit("x")),
    ],
    ids=["session", "server-route", "close", "application"],
)
def test_aiohttp_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert AIOHTTP.match(raw, receiver) is None


# --- urllib3 -----------------------------------------------------------------------------------

URLLIB3 = Urllib3Detector()


def test_urllib3_pool_manager_request_with_timeout_on_the_manager() -> None:
    manager = Obj("urllib3.PoolManager", kwargs=(("timeout", Lit("3.0")),))
    found = URLLIB3.match(*method(manager, "request", Lit("POST"), URL, json=Dyn("body")))
    assert found == Match(
        client="urllib3",
        method="POST",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        payload="json=body",
    )


def test_urllib3_connection_pool_host_and_port_become_the_base() -> None:
    pool = Obj("urllib3.HTTPConnectionPool", (Lit("audit"), Lit("9000"), Lit("2")))
    found = URLLIB3.match(*method(pool, "urlopen", Lit("PUT"), Lit("/entries"), Dyn("entry")))
    assert found == Match(
        client="urllib3",
        method="PUT",
        url=Lit("/entries"),
        url_src="'/entries'",
        base=Lit("http://audit:9000"),
        has_timeout=True,
        payload="entry",
    )


def test_urllib3_https_pool_without_port_and_with_a_symbolic_host() -> None:
    host = Ref("shop.config.LEDGER_HOST")
    pool = Obj("urllib3.connectionpool.HTTPSConnectionPool", kwargs=(("host", host),))
    found = URLLIB3.match(*method(pool, "request", Lit("GET"), Lit("/balance")))
    assert found is not None
    assert found.base == Concat((Lit("https://"), host))


@pytest.mark.parametrize(
    "pool_type",
    ["urllib3.connection_from_url", "example.http.connection_from_url()"],
)
def test_urllib3_pool_from_url_uses_the_url_as_base(pool_type: str) -> None:
    pool = Obj(pool_type, (USERS,))
    found = URLLIB3.match(*method(pool, "request", Lit("GET"), Lit("/users")))
    assert found is not None
    assert (found.base, found.url) == (USERS, Lit("/users"))


def test_urllib3_pool_from_host_takes_its_scheme() -> None:
    pool = Obj(
        "urllib3.PoolManager.connection_from_host()", (Lit("users"), Lit("443"), Lit("https"))
    )
    found = URLLIB3.match(*method(pool, "request", Lit("GET"), Lit("/")))
    assert found is not None
    assert found.base == Lit("https://users:443")


def test_urllib3_module_request_and_vendored_copy_and_unpreloaded_streams() -> None:
    found = URLLIB3.match(call("urllib3.request", Lit("GET"), URL, preload_content=FALSE), None)
    assert found == Match(
        client="urllib3",
        method="GET",
        url=URL,
        url_src="'http://orders:8080/orders'",
        streaming=True,
    )
    vendored = Obj("requests.packages.urllib3.PoolManager")
    assert URLLIB3.match(*method(vendored, "request", Lit("GET"), URL)) is not None


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("urllib3.PoolManager", timeout=Lit("3")), None),
        (call("urllib3.disable_warnings"), None),
        method(Obj("urllib3.PoolManager"), "clear"),
        method(Obj("urllib3.util.retry.Retry"), "request", Lit("GET"), URL),
    ],
    ids=["manager", "disable-warnings", "clear", "retry"],
)
def test_urllib3_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert URLLIB3.match(raw, receiver) is None


# --- urllib.request ----------------------------------------------------------------------------

URLLIB = UrllibRequestDetector()


def test_urlopen_with_data_is_a_post_and_third_argument_is_the_timeout() -> None:
    found = URLLIB.match(call("urllib.request.urlopen", URL, Dyn("body"), Lit("5")), None)
    assert found == Match(
        client="urllib.request",
        method="POST",
        url=URL,
        url_src="'http://orders:8080/orders'",
        has_timeout=True,
        payload="body",
    )


def test_urlopen_without_data_is_a_get() -> None:
    found = URLLIB.match(call("urllib.request.urlopen", USERS, data=NONE, timeout=NONE), None)
    assert found == Match(client="urllib.request", method="GET", url=USERS, url_src="USERS_URL")


def test_urlopen_of_a_request_takes_url_method_and_data_from_it() -> None:
    request = Obj("urllib.request.Request", (USERS,), (("data", Dyn("body")),))
    raw = replace(call("urllib.request.urlopen", request), arg_src=("req",))
    assert URLLIB.match(raw, None) == Match(
        client="urllib.request", method="POST", url=USERS, url_src="req", payload="data=req.data"
    )
    explicit = Obj("urllib.request.Request", (USERS,), (("method", Lit("patch")),))
    found = URLLIB.match(call("urllib.request.urlopen", explicit), None)
    assert found is not None
    assert found.method == "PATCH"


def test_opener_open_and_urlretrieve() -> None:
    found = URLLIB.match(*method(Obj("urllib.request.build_opener"), "open", URL, timeout=Lit("2")))
    assert found is not None
    assert (found.method, found.has_timeout) == ("GET", True)
    # urlretrieve(url, filename, reporthook): the third argument is no timeout.
    found = URLLIB.match(call("urllib.request.urlretrieve", URL, Lit("out"), Dyn("hook")), None)
    assert found is not None
    assert (found.method, found.has_timeout, found.payload) == ("GET", False, None)


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("urllib.parse.urljoin", USERS, Lit("/x")), None),
        (call("urllib.request.Request", USERS), None),
        method(Obj("urllib.request.Request", (USERS,)), "add_header", Lit("A"), Lit("b")),
        method(Obj("zipfile.ZipFile"), "open", Lit("a.txt")),
    ],
    ids=["urljoin", "request-constructor", "add-header", "zipfile-open"],
)
def test_urllib_request_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert URLLIB.match(raw, receiver) is None


# --- http.client -------------------------------------------------------------------------------

HTTP_CLIENT = HttpClientDetector()


def test_http_connection_request_with_host_port_and_positional_timeout() -> None:
    conn = Obj("http.client.HTTPConnection", (Lit("inventory"), Lit("8080"), Lit("3")))
    found = HTTP_CLIENT.match(*method(conn, "request", Lit("POST"), Lit("/items"), Dyn("body")))
    assert found == Match(
        client="http.client",
        method="POST",
        url=Lit("/items"),
        url_src="'/items'",
        base=Lit("http://inventory:8080"),
        has_timeout=True,
        payload="body",
    )


def test_https_connection_putrequest_has_no_payload_and_keyword_timeout() -> None:
    conn = Obj("http.client.HTTPSConnection", (Lit("ledger:8443"),), (("timeout", Lit("2")),))
    found = HTTP_CLIENT.match(*method(conn, "putrequest", Lit("GET"), Lit("/balance")))
    assert found == Match(
        client="http.client",
        method="GET",
        url=Lit("/balance"),
        url_src="'/balance'",
        base=Lit("https://ledger:8443"),
        has_timeout=True,
    )


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("http.client.HTTPConnection", Lit("inventory")), None),
        (call("http.HTTPStatus", Lit("404")), None),
        method(Obj("http.client.HTTPConnection", (Lit("x"),)), "getresponse"),
        method(Obj("http.server.HTTPServer"), "request", Lit("GET"), Lit("/")),
    ],
    ids=["connection", "status", "getresponse", "server"],
)
def test_http_client_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert HTTP_CLIENT.match(raw, receiver) is None


# --- grpc --------------------------------------------------------------------------------------

GRPC = GrpcDetector()
STUB_TYPE = "shop.payments.payments_pb2_grpc.PaymentServiceStub"
TARGET = Ref("shop.config.PAYMENTS_ADDR")


def _stub(channel: Value, stub_type: str = STUB_TYPE) -> Obj:
    return Obj(stub_type, (channel,))


def test_grpc_stub_call_reports_rpc_target_stub_and_payload() -> None:
    stub = _stub(Obj("grpc.insecure_channel", (TARGET,)))
    found = GRPC.match(*method(stub, "Charge", Dyn("request"), timeout=Lit("3")))
    assert found == Match(
        client="grpc",
        method="Charge",
        url=Lit(""),
        url_src="PAYMENTS_ADDR",
        base=TARGET,
        protocol="grpc",
        has_timeout=True,
        payload="request",
        grpc_stub=STUB_TYPE,
    )


def test_grpc_aio_channel_through_an_interceptor_is_async() -> None:
    channel = Obj(
        "grpc.intercept_channel",
        (Obj("grpc.aio.secure_channel", (Lit("payments:443"), Dyn("creds"))),),
    )
    found = GRPC.match(*method(_stub(channel), "Refund", Dyn("req")))
    assert found == Match(
        client="grpc",
        method="Refund",
        url=Lit(""),
        url_src="'payments:443'",
        base=Lit("payments:443"),
        protocol="grpc",
        payload="req",
        is_async=True,
        grpc_stub=STUB_TYPE,
    )


@pytest.mark.parametrize("style", ["future", "with_call"])
def test_grpc_future_and_with_call_are_recorded_as_dotted_method_names(style: str) -> None:
    stub = _stub(Obj("grpc.insecure_channel", (TARGET,)))
    found = GRPC.match(*method(stub, f"Charge.{style}", Dyn("request"), Lit("5")))
    assert found is not None
    assert (found.method, found.has_timeout) == ("Charge", True)


def test_grpc_channel_from_elsewhere_becomes_the_base_for_the_resolver_to_unwrap() -> None:
    found = GRPC.match(*method(_stub(Ref("shop.grpc.CHANNEL")), "Charge", Dyn("request")))
    assert found is not None
    assert (found.base, found.url_src) == (Ref("shop.grpc.CHANNEL"), "CHANNEL")
    assert channel_target(Obj("grpc.secure_channel", kwargs=(("target", TARGET),))) == TARGET


def test_grpc_stub_outside_generated_modules_counts_when_built_on_a_channel() -> None:
    stub = _stub(Obj("grpc.insecure_channel", (TARGET,)), "shop.clients.PaymentsStub")
    assert GRPC.match(*method(stub, "Charge", Dyn("r"))) is not None
    fake = _stub(Ref("tests.fakes.CHANNEL"), "tests.fakes.PaymentsStub")
    assert GRPC.match(*method(fake, "Charge", Dyn("r"))) is None


@pytest.mark.parametrize(
    "raw, receiver",
    [
        (call("grpc.insecure_channel", TARGET), None),
        (call("shop.payments.payments_pb2_grpc.add_PaymentServiceServicer_to_server"), None),
        method(Obj("grpc.insecure_channel", (TARGET,)), "Close"),
        method(_stub(Obj("grpc.insecure_channel", (TARGET,))), "close"),
        method(_stub(Obj("grpc.insecure_channel", (TARGET,))), "Charge.result"),
        method(Obj("shop.payments.payments_pb2_grpc.PaymentServiceServicer"), "Charge", Dyn("r")),
    ],
    ids=["channel", "add-servicer", "channel-method", "lowercase", "unknown-style", "servicer"],
)
def test_grpc_ignores_look_alikes(raw: RawCall, receiver: Obj | None) -> None:
    assert GRPC.match(raw, receiver) is None


# --- locust ------------------------------------------------------------------------------------

LOCUST = LocustDetector()
LOCUST_CLIENT = Obj("locust.client", kwargs=(("host", Ref("load.Shopper.host")),))


def test_locust_client_call_is_load_generation_based_on_the_user_host() -> None:
    found = LOCUST.match(
        *method(LOCUST_CLIENT, "post", Lit("/cart"), Dyn("item"), name=Lit("cart"))
    )
    assert found == Match(
        client="locust",
        method="POST",
        url=Lit("/cart"),
        url_src="'/cart'",
        base=Ref("load.Shopper.host"),
        payload="item",
        category=Category.LOADGEN,
    )


@pytest.mark.parametrize("name", ["request", "rest"])
def test_locust_request_and_rest_take_method_first(name: str) -> None:
    found = LOCUST.match(*method(LOCUST_CLIENT, name, Lit("put"), Lit("/cart"), timeout=Lit("5")))
    assert found is not None
    assert (found.method, found.url, found.has_timeout) == ("PUT", Lit("/cart"), True)


@pytest.mark.parametrize(
    "raw, receiver",
    [
        method(Obj("django.test.Client"), "get", Lit("/health")),
        method(Obj("frontend.app.create_app.test_client()"), "post", Lit("/contact")),
        method(LOCUST_CLIENT, "close"),
    ],
    ids=["django-test-client", "flask-test-client", "close"],
)
def test_locust_ignores_other_clients(raw: RawCall, receiver: Obj | None) -> None:
    assert LOCUST.match(raw, receiver) is None


# --- custom ------------------------------------------------------------------------------------

CALL_SERVICE = ClientConfig(
    "acme.rpc.call_service", service_arg="service", path_arg="path", method="post"
)


def test_custom_function_names_the_service_and_path() -> None:
    detector = CustomDetector([CALL_SERVICE])
    found = detector.match(
        call(
            "acme.rpc.call_service", service=Lit("payments"), path=Lit("/charges"), payload=Dyn("o")
        ),
        None,
    )
    assert found == Match(
        client="acme.rpc.call_service",
        method="POST",
        url=Lit("/charges"),
        url_src="'/charges'",
        payload="payload=o",
        service=Lit("payments"),
    )


def test_custom_argument_names_match_positional_arguments_only_with_a_signature() -> None:
    raw = call("acme.rpc.call_service", Lit("payments"), Lit("/charges"), Dyn("order"))
    unknown = CustomDetector([CALL_SERVICE]).match(raw, None)
    assert unknown is not None
    assert (unknown.service, unknown.url, unknown.payload) == (None, Lit(""), None)
    function = FunctionInfo(
        "acme.rpc.call_service", ("service", "path", "payload", "timeout"), False, 3
    )
    known = CustomDetector([CALL_SERVICE], signatures=signatures_of([function])).match(raw, None)
    assert known is not None
    assert (known.service, known.url, known.url_src, known.payload) == (
        Lit("payments"),
        Lit("/charges"),
        "'/charges'",
        "order",
    )


def test_custom_positions_and_url_with_path_make_base_and_url() -> None:
    config = ClientConfig("acme.http.fetch", url_arg=0, path_arg=1, method_arg="verb")
    found = CustomDetector([config]).match(
        call("acme.http.fetch", USERS, Lit("/users"), verb=Lit("get"), timeout=Lit("2")), None
    )
    assert found == Match(
        client="acme.http.fetch",
        method="GET",
        url=Lit("/users"),
        url_src="'/users'",
        base=USERS,
        has_timeout=True,
    )


def test_custom_missing_url_is_recorded_as_missing_and_computed_method_is_unknown() -> None:
    config = ClientConfig("acme.http.fetch", url_arg="url", method_arg="verb")
    found = CustomDetector([config]).match(call("acme.http.fetch", verb=Param("v", "f")), None)
    assert found is not None
    assert (found.url, found.url_src, found.method) == (MISSING, "", None)


def test_custom_method_of_a_configured_class_is_found_on_its_instances() -> None:
    config = ClientConfig("acme.http.ApiClient.send", url_arg="url", method_arg="method")
    method_info = FunctionInfo(
        "acme.http.ApiClient.send", ("self", "method", "url"), False, 9, True
    )
    detector = CustomDetector([config], signatures=signatures_of([method_info]))
    assert detector.modules == ("acme",)
    assert detector.method_names == frozenset({"send"})
    found = detector.match(*method(Obj("acme.http.ApiClient"), "send", Lit("DELETE"), USERS))
    assert found == Match(
        client="acme.http.ApiClient.send", method="DELETE", url=USERS, url_src="USERS_URL"
    )
    assert detector.match(*method(Obj("acme.http.Cache"), "send", Lit("DELETE"), USERS)) is None
    assert detector.match(call("acme.http.other", USERS), None) is None


def test_custom_docstring_configuration_is_the_one_the_examples_use() -> None:
    """The TOML shown to users parses to exactly the configuration the examples run with."""
    doc = CustomDetector.__doc__ or ""
    block = re.search(r"::\n\n(.*?)\n\n    A function", doc, re.S)
    assert block is not None
    table = tomllib.loads("\n".join(line[8:] for line in block.group(1).splitlines()))
    config = parse_config(table["tool"]["decouple"], "docstring")
    assert set(config.clients) == set(CustomDetector.example_clients)


# --- registry ----------------------------------------------------------------------------------


def test_registry_unions_modules_and_method_names() -> None:
    assert {"requests", "httpx", "aiohttp", "urllib3", "urllib", "http", "grpc", "locust"} <= (
        client_modules()
    )
    assert {"get", "post", "request", "send", "urlopen", "ws_connect", "open"} <= (
        candidate_method_names()
    )


def test_build_detectors_configures_the_custom_detector_in_its_place() -> None:
    config = Config(clients=(CALL_SERVICE,))
    function = FunctionInfo("acme.rpc.call_service", ("service", "path"), False, 1)
    detectors = build_detectors(config, functions=[function])
    assert [type(d) for d in detectors] == [type(d) for d in DETECTORS]
    assert "acme" in client_modules(detectors)
    assert "call_service" in candidate_method_names(detectors)
    found = match_call(call("acme.rpc.call_service", Lit("payments"), Lit("/c")), None, detectors)
    assert found is not None
    assert found.service == Lit("payments")
    assert match_call(call("acme.rpc.call_service", Lit("x")), None, DETECTORS) is None


def test_match_call_uses_an_object_built_in_the_call_expression_itself() -> None:
    raw, _ = method(Obj("requests.Session"), "get", URL)
    found = match_call(raw, None)
    assert found is not None
    assert found.client == "requests.Session"


def test_match_call_tries_detectors_in_order_and_skips_unrelated_modules() -> None:
    class Claims(Detector):
        name = "claims"
        modules = ("requests",)

        def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
            return Match(client="claims", method=None, url=Lit(""), url_src="")

    class Unrelated(Claims):
        modules = ("other",)

        def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
            raise AssertionError("a call of requests is never offered to this detector")

    detectors: Sequence[Detector] = (Unrelated(), Claims(), RequestsDetector())
    found = match_call(call("requests.get", URL), None, detectors)
    assert found is not None
    assert found.client == "claims"


def test_example_detector_configures_only_detectors_that_need_it() -> None:
    requests = DETECTORS[1]
    assert example_detector(requests) is requests
    custom = example_detector(CustomDetector())
    assert isinstance(custom, CustomDetector)
    assert set(custom.clients) == {c.qualname for c in CustomDetector.example_clients}
