"""Can this call become a Kafka event? Per call site: the easy wins, the blockers, the cautions.

A call whose response nobody reads (``response_use`` ``none``) is *fire-and-forget*: replacing
it with a send changes nothing the caller relies on. A call whose response is only checked for
success (``status``) becomes a send that waits for the broker's acknowledgement: the check then
means "the event is durably accepted" (like HTTP 202), not "the callee succeeded", which is a
caution. A call whose body is read (``body``) is refused. Blockers make a send wrong, and the
migration refuses such sites with the reason and what would be needed instead. Cautions do
not make a send wrong, but a reviewer should know about them; they are named wherever the
site is listed (hotspots, graph pages, PR bodies).

A call inside a loop or a database transaction is a caution, not a blocker: a send per
iteration delivers what the calls delivered, and the HTTP call escaped a rollback just as the
send will. Both deserve a reviewer's eye (batching, an outbox), which is what a caution says.
"""

from __future__ import annotations

from dataclasses import dataclass

from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    UNKNOWN,
    CallSite,
    Category,
    Confidence,
    ResponseUse,
    Role,
)
from decouple_services.detect.span_exporter import EXPORTERS


@dataclass(frozen=True, slots=True)
class Finding:
    #: Short stable code: ``response-used``, ``streaming``, ``in-loop``...
    code: str
    reason: str
    suggestion: str


@dataclass(frozen=True, slots=True)
class Migratability:
    site_id: str
    fire_and_forget: bool
    blockers: tuple[Finding, ...] = ()
    cautions: tuple[Finding, ...] = ()

    @property
    def migratable(self) -> bool:
        return not self.blockers

    @property
    def label(self) -> str:
        """``easy`` (fire-and-forget, nothing to watch), ``review`` (migratable with cautions)
        or ``blocked``."""
        if self.blockers:
            return "blocked"
        return "review" if self.cautions else "easy"


RESPONSE_USED = Finding(
    "response-used",
    "the caller reads the response body, and a send has none",
    "keep the call synchronous; or request/reply over Kafka (a reply topic and a correlation "
    "id, with a bounded wait); or split it: send a command event now and have the callee "
    "publish the result as an event the caller consumes; or serve the data from a local read "
    "model fed by the callee's events",
)
STATUS_CHECKED = Finding(
    "status-checked",
    "the caller only checks that the call succeeded; the send waits for the broker's "
    "acknowledgement instead, so success now means the event is durably accepted (like HTTP "
    "202), not that the callee handled it: its 4xx/5xx go to the dead-letter topic",
    "check that nothing after the call relies on the callee's work being done; alert on the "
    "dead-letter topic",
)
STREAMING = Finding(
    "streaming",
    "the response is read as a stream",
    "keep the call synchronous; a stream of results could become a topic the caller consumes",
)
TELEMETRY = Finding(
    "telemetry",
    "a tracing library sends its spans to the collector in the background: there is no "
    "request of the caller's to turn into an event",
    "keep it; exporting spans is not a dependency between services",
)
UNKNOWN_CALLEE = Finding(
    "unknown-callee",
    "the callee could not be resolved, so there is no service to deliver the event to",
    "name it with `# decouple: target=<service>` on the line above the call, then scan again",
)
EXTERNAL_CALLEE = Finding(
    "external-callee",
    "the callee is outside the organisation and cannot consume a topic",
    "keep the call; if it must leave the request path, move it into a worker of your own",
)
SELF_CALL = Finding(
    "self-call",
    "the service calls itself",
    "call the function directly instead of going over the network",
)
INFERRED_CALLEE = Finding(
    "inferred-callee",
    "the callee was inferred from a name (or the one service serving the gRPC stub), not "
    "resolved from values in the repository",
    "check that the event should go to this service; `# decouple: target=<service>` on the "
    "line above the call makes it exact",
)
NOT_PRODUCTION = Finding(
    "not-production",
    "the call is in tests, a load generator or a script",
    "migrate the production call it exercises; tests follow the production code",
)
WRAPPER = Finding(
    "wrapper",
    "this is a generic helper whose url comes from its parameters",
    "migrate the call sites that invoke the helper instead",
)
IN_LOOP = Finding(
    "in-loop",
    "the call runs in a loop, so one request becomes many events",
    "check that consumers can take the burst, or send one batch event for the loop",
)
IN_TRANSACTION = Finding(
    "in-transaction",
    "the call runs inside a database transaction; the event is sent even if it rolls back",
    "as the HTTP call did; `migrate --outbox` writes it in the same transaction (Django, SQLAlchemy)",
)
ONE_OF_TARGETS = Finding(
    "one-of-targets",
    "the target is chosen at run time from a mapping of several services (a gateway or "
    "dispatcher forwarding each request to one of them), so no single topic stands for the call",
    "keep the forwarding synchronous; or have the caller publish one event all the services in "
    "the mapping consume, each keeping what is theirs",
)
NO_ENDPOINT = Finding(
    "no-endpoint",
    "no callee endpoint matched the url, so the generated consumer cannot call a handler",
    "fill in the marked place in the generated consumer",
)


def assess(site: CallSite) -> Migratability:
    blockers: list[Finding] = []
    cautions: list[Finding] = []
    if site.role is Role.WRAPPER:
        blockers.append(WRAPPER)
    if site.category is not Category.PRODUCTION:
        blockers.append(NOT_PRODUCTION)
    if site.callee == UNKNOWN:
        blockers.append(UNKNOWN_CALLEE)
    elif site.callee.startswith(EXTERNAL_PREFIX):
        blockers.append(EXTERNAL_CALLEE)
    elif site.callee == site.caller:
        blockers.append(SELF_CALL)
    if site.one_of is not None:
        blockers.append(ONE_OF_TARGETS)
    if site.response_use is ResponseUse.BODY:
        blockers.append(RESPONSE_USED)
    if site.streaming:
        blockers.append(STREAMING)
    if site.client in EXPORTERS:
        blockers.append(TELEMETRY)
    if site.response_use is ResponseUse.STATUS and not blockers:
        cautions.append(STATUS_CHECKED)
    if site.in_loop:
        cautions.append(IN_LOOP)
    if site.in_transaction:
        cautions.append(IN_TRANSACTION)
    if site.endpoint is None and not blockers:
        cautions.append(NO_ENDPOINT)
    if site.confidence is Confidence.INFERRED and not blockers:
        cautions.append(INFERRED_CALLEE)
    return Migratability(
        site.id,
        fire_and_forget=site.response_use is ResponseUse.NONE,
        blockers=tuple(blockers),
        cautions=tuple(cautions),
    )
