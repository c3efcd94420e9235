"""Topic names from the template, checked against Kafka's rules, and the names derived from them.

The template's fields: ``{callee}``, ``{endpoint}`` (the endpoint slug), ``{caller}`` and
``{method}``. The default, ``{callee}.{endpoint}``, names ``POST /api/orders/{order_id}/cancel``
on ``orders`` as ``orders.cancel``: path parameters, ``api``/version segments and a first segment
repeating the service's name do not name anything. A gRPC method is its own slug (``/shop.payments.v1.PaymentService/Refund`` ->
``refund``). A service name that repeats a word (``identity-service-service``, a Kubernetes
Service named after a Deployment ``identity-service``) gives its topics the name once
(``identity-service.logout``).

The generated deployment files name their workloads from the same parts: :func:`workload_slug`
(the topic less the callee it starts with) and :func:`dns_label` (a Kubernetes name: a long one
is cut and told apart by a hash of the whole).
"""

from __future__ import annotations

import hashlib
import re
import string

from decouple_services.core.errors import DecoupleError

DEFAULT_TOPIC_TEMPLATE = "{callee}.{endpoint}"
TEMPLATE_FIELDS = ("callee", "endpoint", "caller", "method")
#: Kafka's limit is 249 characters; the dead-letter and retry suffixes must still fit.
DEAD_LETTER_SUFFIX = ".dlq"
RETRY_SUFFIX = ".retry"
#: Retry topics per consumer: ``<topic>.retry``, ``<topic>.retry.2``, ``<topic>.retry.3``,
#: one per fixed delay of the runtime's ``DECOUPLE_RETRY_TIERS``.
RETRY_TIERS = 3
#: The runtime's default delay of each retry tier, in seconds (``DECOUPLE_RETRY_TIERS``).
RETRY_TIER_DELAYS_S = (10.0, 60.0, 600.0)
MAX_TOPIC_LENGTH = 249 - max(len(DEAD_LETTER_SUFFIX), len(f"{RETRY_SUFFIX}.{RETRY_TIERS}"))
_LEGAL = re.compile(r"^[A-Za-z0-9._-]+$")
_NOISE_SEGMENTS = re.compile(r"^(api|v\d+)$", re.IGNORECASE)


class TopicNameError(DecoupleError):
    """A topic template or the name it gives breaks Kafka's rules."""


class WorkloadNameError(DecoupleError):
    """Two generated workloads (or a generated one and the repository's own) would share a
    name."""


def kebab(text: str) -> str:
    """``PaymentService`` -> ``payment-service``; ``stock_release`` -> ``stock-release``."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def without_repeats(name: str) -> str:
    """``name`` with a word, or a run of words, that repeats the one before it said once:
    ``identity-service-service`` -> ``identity-service``, ``orders-api-orders-api`` ->
    ``orders-api``. Words are separated by ``-``, ``_`` or ``.``; ``a-b-a`` is left alone."""
    previous = None
    while previous != name:
        previous = name
        name = _REPEATED.sub(r"\1", name)
    return name


_REPEATED = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*?)(?:[-_.]\1)+(?![A-Za-z0-9])"
)


def endpoint_slug(path: str, *, protocol: str = "http", service: str = "") -> str:
    """The part of a topic name an endpoint (or a url path) gives. A first segment that
    repeats the service's name goes (``/api/orders/{id}/cancel`` on orders -> ``cancel``)."""
    if protocol == "grpc" or (re.match(r"^/[\w.]+/\w+$", path) and "." in path.split("/")[1]):
        return kebab(path.rsplit("/", 1)[-1])
    segments = [
        kebab(s)
        for s in path.split("?", 1)[0].split("/")
        if s and not s.startswith("{") and not s.startswith("<") and not _NOISE_SEGMENTS.match(s)
    ]
    segments = [s for s in segments if s]
    if (
        len(segments) > 1
        and service
        and segments[0] in {kebab(service), kebab(without_repeats(service))}
    ):
        segments = segments[1:]
    return "-".join(segments)


def check_template(template: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise TopicNameError(f"--topic-template {template!r}: {exc}") from exc
    unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
    if unknown:
        raise TopicNameError(
            f"--topic-template {template!r}: unknown field {{{unknown[0]}}} "
            f"(fields: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
        )


def topic_name(template: str, *, callee: str, endpoint: str, caller: str, method: str) -> str:
    """The topic the template gives, or :class:`TopicNameError` saying which rule it breaks."""
    check_template(template)
    name = template.format(
        callee=without_repeats(callee),
        endpoint=endpoint,
        caller=without_repeats(caller),
        method=method.lower(),
    )
    problem = topic_problem(name)
    if problem:
        raise TopicNameError(f"topic {name!r} (from {template!r}): {problem}")
    return name


def topic_problem(name: str) -> str | None:
    """Why ``name`` is not a legal Kafka topic (with room for its dead-letter topic), or None."""
    if not name:
        return "empty"
    if name in (".", ".."):
        return "'.' and '..' are not topic names"
    if not _LEGAL.match(name):
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9._-]", c)})
        return f"illegal character(s) {''.join(bad)!r}: Kafka allows letters, digits, '.', '_', '-'"
    if len(name) > MAX_TOPIC_LENGTH:
        room = f"{RETRY_SUFFIX}.{RETRY_TIERS}"
        return f"{len(name)} characters; at most {MAX_TOPIC_LENGTH} leave room for '{room}'"
    return None


def retry_tier_topics(retry_topic: str) -> tuple[str, ...]:
    """Every retry topic of a consumer, its first tier's first: ``orders.cancel.retry``,
    ``orders.cancel.retry.2``, ``orders.cancel.retry.3``."""
    return (retry_topic, *(f"{retry_topic}.{tier}" for tier in range(2, RETRY_TIERS + 1)))


def module_slug(topic: str) -> str:
    """A Python module name for a topic's consumer: ``emails.send`` -> ``emails_send``."""
    slug = re.sub(r"[^a-z0-9]+", "_", topic.lower()).strip("_")
    return slug if slug and not slug[0].isdigit() else f"topic_{slug}"


def consumer_group(callee: str, topic: str) -> str:
    """The callee's consumer group for a topic: ``emails.send`` in emails -> ``emails.send``.

    Groups and topics live in separate namespaces, so the topic's name is the clearest group
    name when it already starts with the callee; otherwise the callee is put in front, so
    every group names the service that owns it.
    """
    if topic.startswith((f"{callee}.", f"{without_repeats(callee)}.")):
        return topic
    return f"{callee}.{topic}"


def workload_slug(callee: str, topic: str) -> str:
    """What tells a consumer's workload apart from its service's other workloads: the topic
    without the callee it starts with, in kebab case (``emails.send`` in emails -> ``send``;
    ``users.user-registered`` in emails -> ``users-user-registered``)."""
    for prefix in (f"{callee}.", f"{without_repeats(callee)}."):
        if topic.startswith(prefix) and len(topic) > len(prefix):
            topic = topic[len(prefix) :]
            break
    return kebab(topic) or "consumer"


#: Kubernetes names most objects with DNS-1123 labels: lower-case letters, digits and
#: ``-``, at most 63 characters, starting and ending with a letter or digit.
DNS_LABEL_LENGTH = 63
_HASH_LENGTH = 8


def dns_label(name: str, limit: int = DNS_LABEL_LENGTH) -> str:
    """``name`` as a DNS-1123 label. One longer than ``limit`` is cut and ends with the first
    8 hex digits of the SHA-1 of the whole (``...-3f2a9c1b``): two long names with the same
    beginning stay apart, and the same name gives the same label on every run."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    label = re.sub(r"-{2,}", "-", label).strip("-") or "x"
    if len(label) <= limit:
        return label
    digest = hashlib.sha1(label.encode("utf-8"), usedforsecurity=False).hexdigest()[:_HASH_LENGTH]
    return label[: limit - _HASH_LENGTH - 1].rstrip("-") + "-" + digest


_VERSIONED = re.compile(r"\.v\d+$")


def event_type(name: str) -> str:
    """The CloudEvents ``type`` of the events named ``name`` (a topic, or a domain event such
    as ``users.user-registered``): the name with its schema version, ``.v1`` unless it ends
    with one (``emails.send`` -> ``emails.send.v1``). A change that breaks consumers gets a
    new version, and consumers can tell the two apart."""
    return name if _VERSIONED.search(name) else f"{name}.v1"


#: Words of a gRPC method that name a delete (``DeleteOrder``, ``delete_event_by_id``,
#: ``RemoveMember``): its repeat finds nothing left, as a repeated HTTP ``DELETE`` does.
DELETE_WORDS = frozenset({"delete", "remove", "destroy", "erase", "purge"})


def deletes(grpc_path: str) -> bool:
    """Whether a gRPC method (``/pkg.Service/DeleteOrder``) deletes, by its name's words
    (:data:`DELETE_WORDS`)."""
    method = grpc_path.rsplit("/", 1)[-1]
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", method).lower().split("_")
    return any(word in DELETE_WORDS for word in words)
