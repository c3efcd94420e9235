"""Example specs for the generators, modelled on the sample repository's services.

They are what the golden files under ``tests/fixtures/golden/generated/`` are rendered
from, one per producer client and one consumer per framework, and what
``docs/generated-code.md`` describes.
"""

from __future__ import annotations

from dataclasses import replace

from decouple_services.core.model import Endpoint
from decouple_services.migrate.naming import consumer_group
from decouple_services.migrate.spec import ConsumerSpec, HandlerRef, ProducerSpec, TopicSpec


def _endpoint(
    service: str, framework: str, method: str, path: str, handler: str, file: str
) -> Endpoint:
    protocol = "grpc" if framework == "grpc" else "http"
    return Endpoint(service, protocol, method, path, handler, file, 1, framework)


EMAILS_SEND = TopicSpec(
    name="emails.send",
    dead_letter="emails.send.dlq",
    callee="emails",
    producers=("frontend", "orders"),
    event_type="com.shop.emails.send",
    endpoint=_endpoint(
        "emails", "flask", "POST", "/send", "emails.app.send", "services/emails/emails/app.py"
    ),
    payload_schema={
        "type": "object",
        "properties": {
            "user_id": {"type": "integer"},
            "template": {"type": "string"},
            "context": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
        "required": ["user_id", "template"],
    },
    site_ids=("cs-1a2b3c4d", "cs-5e6f7a8b"),
    key_field="user_id",
)

ORDERS_CANCEL = TopicSpec(
    name="orders.cancel-order",
    dead_letter="orders.cancel-order.dlq",
    callee="orders",
    producers=("frontend",),
    event_type="com.shop.orders.cancel-order",
    endpoint=_endpoint(
        "orders",
        "fastapi",
        "POST",
        "/api/orders/{order_id}/cancel",
        "orders.api.cancel_order",
        "services/orders/orders/api.py",
    ),
    # the producer's send carries the path parameter the url filled in as a field
    payload_schema={
        "type": "object",
        "properties": {"order_id": {}},
        "required": ["order_id"],
        "additionalProperties": True,
    },
    site_ids=("cs-0c1d2e3f",),
    path_params=("order_id",),
    key_field="order_id",
    # the call sent the user's token: the consumer hands it to the app, which checks it
    headers=("authorization",),
)

USERS_PREFERENCES = TopicSpec(
    name="users.preferences",
    dead_letter="users.preferences.dlq",
    callee="users",
    producers=("frontend",),
    event_type="com.shop.users.preferences",
    endpoint=_endpoint(
        "users",
        "django",
        "PATCH",
        "/api/users/{user_id}/preferences/",
        "accounts.views.preferences",
        "services/users/accounts/views.py",
    ),
    payload_schema={
        "type": "object",
        "properties": {"newsletter": {"type": "boolean"}, "user_id": {}},
        "required": ["newsletter", "user_id"],
    },
    site_ids=("cs-9a8b7c6d",),
    path_params=("user_id",),
)

INVENTORY_RELEASE = TopicSpec(
    name="inventory.stock-release",
    dead_letter="inventory.stock-release.dlq",
    callee="inventory",
    producers=("orders",),
    event_type="com.shop.inventory.stock-release",
    endpoint=_endpoint(
        "inventory",
        "aiohttp",
        "POST",
        "/stock/release",
        "inventory.app.release",
        "services/inventory/inventory/app.py",
    ),
    payload_schema={"type": "object", "properties": {"reservation_id": {"type": "string"}}},
    site_ids=("cs-11223344",),
)

NOTIFICATIONS_NOTIFY = TopicSpec(
    name="notifications.notify",
    dead_letter="notifications.notify.dlq",
    callee="notifications",
    producers=("users",),
    event_type="com.shop.notifications.notify",
    endpoint=_endpoint(
        "notifications",
        "starlette",
        "POST",
        "/notify",
        "notifications.app.notify",
        "services/notifications/notifications/app.py",
    ),
    payload_schema={
        "type": "object",
        "properties": {"user_id": {"type": "integer"}, "kind": {"type": "string"}},
    },
    site_ids=("cs-55667788",),
)

PAYMENTS_REFUND = TopicSpec(
    name="payments.refund",
    dead_letter="payments.refund.dlq",
    callee="payments",
    producers=("orders",),
    event_type="com.shop.payments.refund",
    endpoint=_endpoint(
        "payments",
        "grpc",
        "RPC",
        "/shop.payments.v1.PaymentService/Refund",
        "payments.server.PaymentService.Refund",
        "services/payments/payments/server.py",
    ),
    payload_schema={
        "type": "object",
        "properties": {
            "charge_id": {"type": "string"},
            "amount_cents": {"type": "integer"},
            "reason": {"type": "string"},
        },
    },
    site_ids=("cs-99aabbcc",),
)

SEARCH_REINDEX = TopicSpec(
    name="search.reindex",
    dead_letter="search.reindex.dlq",
    callee="search",
    producers=("inventory",),
    event_type="com.shop.search.reindex",
    site_ids=("cs-ddeeff00",),
)

TOPICS = (
    EMAILS_SEND,
    ORDERS_CANCEL,
    USERS_PREFERENCES,
    INVENTORY_RELEASE,
    NOTIFICATIONS_NOTIFY,
    PAYMENTS_REFUND,
    SEARCH_REINDEX,
)


def _producer(
    service: str,
    sync_client: str | None,
    needs_async: bool,
    outbox: str | None = None,
    wait_bounds: tuple[float, ...] = (),
) -> ProducerSpec:
    return ProducerSpec(
        service=service,
        path=f"services/{service}/{service}/decouple_producer.py",
        module=f"{service}.decouple_producer",
        sync_client=sync_client,
        needs_async=needs_async,
        topics=tuple(t for t in TOPICS if service in t.producers),
        wait_bounds=wait_bounds,
        outbox=outbox,
    )


#: Producers by golden-file name: every one sends through the runtime's one client,
#: whether its sites are synchronous, ``async def`` or both.
PRODUCERS = {
    "frontend": _producer("frontend", "confluent-kafka", False),
    # its status-checked sites wait 2 and 5 s: their clients are opened at startup
    "orders": _producer("orders", "confluent-kafka", True, wait_bounds=(2.0, 5.0)),
    # migrate --outbox: a Django caller writes through Django's connection, a SQLAlchemy
    # caller on its session.
    "outbox-django": _producer("frontend", "confluent-kafka", False, "django"),
    "outbox-sqlalchemy": _producer("orders", "confluent-kafka", True, "sqlalchemy"),
}


def _consumer(
    topic: TopicSpec,
    client: str,
    module: str,
    attribute: str,
    app_object: str | None = None,
    **extra: str,
) -> ConsumerSpec:
    service = topic.callee
    slug = topic.name.replace(".", "_").replace("-", "_")
    package = module.partition(".")[0]
    handler = None
    if topic.endpoint is not None:
        handler = HandlerRef(topic.endpoint, module, attribute, app_object)
    return ConsumerSpec(
        topic=topic,
        service=service,
        path=f"services/{service}/{package}/decouple_consumers/{slug}.py",
        module=f"{package}.decouple_consumers.{slug}",
        group_id=consumer_group(service, topic.name),
        client=client,
        handler=handler,
        test_path=f"services/{service}/tests/test_decouple_{slug}.py",
        import_root=f"services/{service}",
        extra=dict(extra),
        idempotency="django" if "django_settings_module" in extra else "file",
    )


#: One consumer per framework (and one without a handler), by golden-file name.
CONSUMERS = {
    "flask": _consumer(EMAILS_SEND, "kafka-python", "emails.app", "send", "app"),
    "fastapi": _consumer(ORDERS_CANCEL, "confluent-kafka", "orders.api", "cancel_order"),
    "django": _consumer(
        USERS_PREFERENCES,
        "kafka-python",
        "accounts.views",
        "preferences",
        django_settings_module="users_site.settings",
    ),
    "aiohttp": _consumer(INVENTORY_RELEASE, "confluent-kafka", "inventory.app", "release"),
    "starlette": _consumer(
        NOTIFICATIONS_NOTIFY, "kafka-python", "notifications.app", "notify", "app"
    ),
    "grpc": _consumer(
        PAYMENTS_REFUND, "confluent-kafka", "payments.server", "PaymentService.Refund"
    ),
    "no-handler": _consumer(SEARCH_REINDEX, "kafka-python", "search.main", ""),
}
#: A servicer built by the factory generated from its server's bootstrap, each event
#: going through the server's interceptors.
GRPC_INTERCEPTED = replace(
    CONSUMERS["grpc"],
    servicer_factory="payments.decouple_consumers.servicer_payment:build_servicer",
    servicer_interceptors="payments.decouple_consumers.servicer_payment:build_interceptors",
)
