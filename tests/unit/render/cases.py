"""Hand-built scan results the renderer tests share, one builder per golden case.

Each case name is also a folder under ``tests/fixtures/render/`` holding the expected
outputs. Tuples are deliberately out of canonical order so the renderers' sorting is
exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from decouple_services.core.model import (
    CallSite,
    Category,
    Diagnostic,
    Endpoint,
    EnvValue,
    Role,
    ScanResult,
    Service,
    Severity,
    call_site_id,
)

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "render"

#: A value that must never reach any output (env values may be secrets).
SECRET = "s3cr3t-do-not-print"


def _site(
    caller: str,
    file: str,
    line: int,
    function: str,
    client: str,
    method: str | None,
    url: str,
    callee: str,
    **fields: Any,
) -> CallSite:
    site = CallSite(
        id=call_site_id(caller, file, function, client, method, url),
        caller=caller,
        file=file,
        line=line,
        end_line=line,
        function=function,
        client=client,
        method=method,
        url=url,
        url_template=None,
        callee=callee,
        endpoint=None,
    )
    return replace(site, **fields)


FRONTEND = Service(
    name="frontend",
    root="src/frontend",
    aliases=("frontend", "web"),
    evidence=("docker-compose.yml:12 build context", "k8s/frontend.yaml:3 Deployment frontend"),
    ports=(8080,),
    env=(
        EnvValue("USERS_URI", "http://userservice:8080", "k8s/frontend.yaml:41"),
        EnvValue("API_TOKEN", SECRET, ".env:3"),
    ),
)
USERSERVICE = Service(
    name="userservice",
    root="src/userservice",
    aliases=("userservice", "users"),
    evidence=("docker-compose.yml:30 build context",),
    ports=(8080,),
)
ORDERS = Service(
    name="orders",
    root="src/orders",
    aliases=("orders",),
    evidence=("src/orders/Dockerfile marker file",),
    ports=(50051,),
)

#: frontend → userservice, fire-and-forget, inside a request handler, with a timeout.
CREATE_USER = _site(
    "frontend",
    "src/frontend/views.py",
    120,
    "frontend.views.checkout",
    "requests",
    "POST",
    'f"{USERS_URI}/users"',
    "userservice",
    end_line=123,
    url_template="http://userservice:8080/users",
    endpoint="POST /users",
    evidence=("USERS_URI <- k8s/frontend.yaml:41", "userservice:8080 -> service userservice"),
    in_handler=True,
    has_timeout=True,
    payload="json=order",
)
#: frontend → orders over gRPC, response used, in a loop, no deadline.
PLACE_ORDER = _site(
    "frontend",
    "src/frontend/cart.py",
    55,
    "frontend.cart.Cart.submit",
    "grpc",
    "CreateOrder",
    "ORDERS_ADDR",
    "orders",
    url_template="orders:50051",
    endpoint="RPC /orders.Orders/CreateOrder",
    evidence=("ORDERS_ADDR <- docker-compose.yml:18",),
    result_used=True,
    in_loop=True,
)
#: orders → a third-party API.
CHARGE = _site(
    "orders",
    "src/orders/billing.py",
    31,
    "orders.billing.charge",
    "httpx",
    "POST",
    '"https://api.stripe.com/v1/charges"',
    "external:api.stripe.com",
    url_template="https://api.stripe.com/v1/charges",
    has_timeout=True,
    result_used=True,
    is_async=True,
)
#: orders → unknown, with the reason and the annotation that would fix it.
SYNC_INVENTORY = _site(
    "orders",
    "src/orders/sync.py",
    40,
    "orders.sync.push",
    "requests",
    "PUT",
    "build_url(item)",
    "unknown",
    unknown_reason="the url comes from build_url(), whose return value is computed at run time",
    fix_hint="add `# decouple: target=<service>` to src/orders/sync.py:40",
)
#: The body of a generic helper: its url is a parameter.
POST_JSON = _site(
    "frontend",
    "src/frontend/clients.py",
    12,
    "frontend.clients.post_json",
    "requests",
    "POST",
    "url",
    "unknown",
    role=Role.WRAPPER,
    has_timeout=True,
)
#: An invocation of that helper: the call site the graph counts.
UPDATE_USER = _site(
    "frontend",
    "src/frontend/profile.py",
    77,
    "frontend.profile.save",
    "requests",
    "POST",
    'f"{USERS_URI}/users/{uid}"',
    "userservice",
    url_template="http://userservice:8080/users/{uid}",
    endpoint="POST /users/{id}",
    via_wrapper="frontend.clients.post_json",
    has_timeout=True,
)
#: A test calling a service: classified, not production coupling.
TEST_CALL = _site(
    "userservice",
    "tests/test_users.py",
    9,
    "tests.test_users.test_create",
    "requests",
    "GET",
    '"http://userservice:8080/users/1"',
    "userservice",
    url_template="http://userservice:8080/users/1",
    endpoint="GET /users/{id}",
    category=Category.TEST,
    result_used=True,
)
#: A locust task: a load generator, not coupling either.
LOADGEN_CALL = _site(
    "frontend",
    "loadtest/locustfile.py",
    20,
    "loadtest.locustfile.Shopper.browse",
    "locust",
    "GET",
    '"/"',
    "frontend",
    url_template="http://frontend:8080/",
    category=Category.LOADGEN,
)

PARSE_ERROR = Diagnostic(
    "src/legacy/old.py", 3, Severity.WARNING, "parse-error", "invalid syntax (print statement)"
)
NO_CONFIG = Diagnostic(
    "", 0, Severity.NOTE, "no-config", "no [tool.decouple] table; using discovered services"
)


def mixed() -> ScanResult:
    """Three services and one of every kind of call site, plus two diagnostics."""
    return ScanResult(
        root="shop",
        files_scanned=42,
        services=(USERSERVICE, FRONTEND, ORDERS),
        endpoints=(
            Endpoint(
                "userservice",
                "http",
                "POST",
                "/users/{id}",
                "userservice.app.update_user",
                "src/userservice/app.py",
                52,
            ),
            Endpoint(
                "userservice",
                "http",
                "POST",
                "/users",
                "userservice.app.create_user",
                "src/userservice/app.py",
                40,
            ),
            Endpoint(
                "orders",
                "grpc",
                "RPC",
                "/orders.Orders/CreateOrder",
                "orders.server.OrdersServicer.CreateOrder",
                "src/orders/server.py",
                18,
            ),
        ),
        call_sites=(
            UPDATE_USER,
            LOADGEN_CALL,
            CREATE_USER,
            SYNC_INVENTORY,
            POST_JSON,
            CHARGE,
            TEST_CALL,
            PLACE_ORDER,
        ),
        diagnostics=(PARSE_ERROR, NO_CONFIG),
    )


def empty() -> ScanResult:
    """A scan of an empty directory: nothing found, nothing wrong."""
    return ScanResult(root="empty")


CASES: dict[str, Callable[[], ScanResult]] = {"mixed": mixed, "empty": empty}
