"""What a migration generates, decided before anything is rendered or written.

The planner fills these in from a scan and the user's selection; the generators
(:mod:`decouple_services.migrate.generate`) turn them into files; the codemod rewrites call sites to
call the producer module named here. Paths are repo-relative with ``/``.

The generated producer module's interface, which rewritten call sites rely on::

    send_event(topic, data, *, key=None, headers=None) -> None
    send_event_and_wait(topic, data, *, key=None, headers=None, timeout=None) -> None
    async send_event_async(topic, data, *, key=None, headers=None) -> None
    async send_event_and_wait_async(topic, data, *, key=None, headers=None, timeout=None) -> None
    send_via_outbox(topic, data, *, key=None, headers=None)            # --outbox, Django
    send_via_outbox(session, topic, data, *, key=None, headers=None)   # --outbox, SQLAlchemy
    async send_via_outbox_async(session, topic, data, *, key=None, headers=None)

``send_event`` does not wait for the broker; ``send_event_and_wait`` waits at most ``timeout``
seconds for its acknowledgement and raises ``EventNotAccepted`` (exported by the module) when
the event was not accepted. Sites whose response was only checked for success use it.
``send_via_outbox`` (with ``--outbox``) inserts the event into the caller's outbox table in
its database transaction, for the runtime's relay to send. All wrap
``data`` in a CloudEvents-style envelope whose ``type`` is the topic's versioned event type
(``EVENT_TYPES``, ``emails.send.v1``). ``data`` is the body the HTTP call sent with the
endpoint's path parameters the url carried as fields of their own (``{"order_id": 42}`` for
``/orders/{order_id}/cancel`` without a body; a gRPC request as ``json_format.MessageToDict``
with proto field names). ``key`` is chosen at migration time and written at the call.
``headers`` are the headers the call sent (str values; not the HTTP exchange's own, such as
``Content-Type``), set as Kafka headers, which the consumer hands to the application.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from decouple_services.core.model import Endpoint
from decouple_services.migrate.naming import DEAD_LETTER_SUFFIX, RETRY_SUFFIX, retry_tier_topics
from decouple_services.migrate.servicers import Bootstrap

#: The Kafka clients a generated producer or consumer can use.
SYNC_CLIENTS = ("kafka-python", "confluent-kafka")
ASYNC_CLIENT = "aiokafka"


@dataclass(frozen=True, slots=True)
class HandlerRef:
    """How a generated consumer reaches the callee's handler for the matched endpoint."""

    endpoint: Endpoint
    #: Module to import, as the callee process imports it (``emails.app``).
    module: str
    #: Attribute path inside that module (``send_email``, ``EmailServicer.Send``).
    attribute: str
    #: Module attribute holding the framework's application object where the call needs it
    #: (a Flask ``app`` for ``test_request_context``), else ``None``.
    app_object: str | None = None
    #: Module holding ``app_object`` when it is not ``module`` (routers in one module, the
    #: application made in ``main.py``).
    app_module: str | None = None
    #: The body of the consumer's ``build_app()`` when it repeats the entrypoint's call of
    #: the application factory (``app_object`` is then ``build_app()`` of the consumer).
    app_build: tuple[str, ...] | None = None
    #: ``file:line`` of the entrypoint whose application the consumer imports or rebuilds.
    app_source: str | None = None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    dead_letter: str
    callee: str
    #: Caller services that send to it.
    producers: tuple[str, ...]
    #: CloudEvents ``type`` of the events on this topic.
    event_type: str
    endpoint: Endpoint | None = None
    #: JSON Schema of ``data``, inferred from literal dict payloads; ``None`` when unknown.
    payload_schema: dict[str, Any] | None = None
    #: Call-site ids whose sends land here.
    site_ids: tuple[str, ...] = ()
    #: Names of the endpoint's path parameters, which the events carry as fields of ``data``.
    path_params: tuple[str, ...] = ()
    #: What the producers pass as the Kafka key (a ``data`` field or path parameter name),
    #: for documentation; ``None`` when the key is left to the producer's own rule.
    key_field: str | None = None
    #: A domain event's subscribers (every service with a consumer group on the topic; this
    #: spec is ``callee``'s subscription), empty for a command topic.
    subscribers: tuple[str, ...] = ()
    #: The fields of ``data`` the callee's handler takes as its body (``()``: no body;
    #: ``None``: all of it, path parameters aside).
    fields: tuple[str, ...] | None = None
    #: The names (lower case) of the headers the sends carry, which the consumer hands to
    #: the callee's application as the calls sent them.
    headers: tuple[str, ...] = ()
    #: The fields of ``data`` the producers' calls write as literals, with their values
    #: (the first site's), for the generated consumer test's event.
    literals: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: ``(body key, data field)`` of each key of ``fields`` taken from a field of another
    #: name (``("to", "email")``).
    renames: tuple[tuple[str, str], ...] = ()
    #: ``(body key, constant)`` of each key of ``fields`` the consumer adds itself: what
    #: the callee's call sent as a constant, which the event does not carry.
    values: tuple[tuple[str, Any], ...] = ()
    #: The answers its consumer dead-letters at once though the runtime retries them
    #: otherwise (its ``Subscription.final_statuses``): ``(401, 403)`` where the event's
    #: data says who asks, or a gRPC call sent no credential, so a refusal is of the user
    #: the data names (a permission denied), not of the consumer's own credential.
    final_statuses: tuple[int, ...] = ()

    @property
    def retry_topic(self) -> str:
        """Where the consumer's failed events without a key wait for their retries, named
        as its dead-letter topic is (``orders.cancel.retry``; per subscriber of a domain
        event, ``orders.cancelled.billing.retry``)."""
        return self.dead_letter.removesuffix(DEAD_LETTER_SUFFIX) + RETRY_SUFFIX

    @property
    def retry_topics(self) -> tuple[str, ...]:
        """Every retry topic of the consumer, one per tier, :attr:`retry_topic` first
        (``orders.cancel.retry``, ``orders.cancel.retry.2``, ``orders.cancel.retry.3``):
        the failed attempts of an event pick its tier, each tier with a fixed delay."""
        return retry_tier_topics(self.retry_topic)


@dataclass(frozen=True, slots=True)
class ProducerSpec:
    service: str
    #: Where the module is written (``services/orders/orders/decouple_producer.py``).
    path: str
    #: The import rewritten sites use (``orders.decouple_producer``).
    module: str
    #: ``kafka-python`` or ``confluent-kafka`` when any migrated site is synchronous.
    sync_client: str | None
    #: Some migrated site is in ``async def``: the module also offers ``send_event_async``.
    needs_async: bool
    #: The topics its sites send to, so each event carries its topic's ``event_type``
    #: (a topic not listed gets its own name as the type).
    topics: tuple[TopicSpec, ...] = ()
    #: The bounds (seconds) its waiting sites give as numbers: the producer opens their
    #: clients when the service starts, so the first send of each does not pay for it.
    wait_bounds: tuple[float, ...] = ()
    #: ``--outbox``: ``django`` or ``sqlalchemy`` when some of its sites write their events
    #: into the service's outbox table (the module then offers ``send_via_outbox``).
    outbox: str | None = None


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    topic: TopicSpec
    service: str
    #: Where the module is written; it runs with ``python -m <module>``.
    path: str
    module: str
    group_id: str
    #: The Kafka client the consumer uses (one of :data:`SYNC_CLIENTS`).
    client: str
    handler: HandlerRef | None
    #: Where its generated test is written, in the callee's tests.
    test_path: str
    #: Folder the callee's code runs from (``services/emails``), for ``python -m``.
    import_root: str = "."
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: Where the consumer keeps handled events and attempts: ``file`` (a SQLite file in its
    #: working directory: per pod), or the callee's own database, ``django`` or
    #: ``sqlalchemy``, which every replica shares.
    idempotency: str = "file"
    #: ``module:function`` that builds the callee's gRPC servicer (``--servicer-factory``),
    #: called by the consumer instead of the servicer's class (awaited when async, entered
    #: when it gives an async context manager); ``None``: the class, with no arguments.
    servicer_factory: str | None = None
    #: ``module:function`` that gives the server's interceptors, run on each event as on an
    #: RPC (``--servicer-interceptors``, or ``build_interceptors`` generated beside the
    #: factory from the server's bootstrap); ``None``: none run.
    servicer_interceptors: str | None = None
    #: The factory generated from the server's bootstrap (``servicer_factory`` names it),
    #: and where its module is written: for a servicer whose ``__init__`` needs arguments
    #: when no ``--servicer-factory`` names one.
    servicer_bootstrap: Bootstrap | None = field(default=None, compare=False, hash=False)
    servicer_factory_path: str | None = None
