"""The rules decouple reports, and the findings of a scan under them.

Every output reports the same findings, computed here once: SARIF results, GitHub
annotations, the JSON ``findings`` list and the table's counts. Rule ids are stable and
never reused (each has a page, ``docs/rules/<id>.md``):

======  ==========================  =======  ================================================
id      name                        level    reported for
======  ==========================  =======  ================================================
DCP001  synchronous-service-call    warning  a production call to another service
DCP002  external-call               note     a production call to a host outside the repo
DCP003  unresolved-callee           warning  a production call whose callee is ``unknown``;
                                             the message carries the reason and the fix hint
DCP004  call-without-timeout        warning  a production call with no timeout (or deadline)
DCP005  call-in-loop                warning  a production call made inside a loop
DCP006  service-call-wrapper        note     a generic helper whose url comes from its
                                             parameters (``role: wrapper``)
DCP007  contract-violation          error    a production call a declared contract forbids
                                             (one finding per call site and contract)
======  ==========================  =======  ================================================

Every production call site (``role: call``, ``category: production``) gets exactly one of
DCP001-DCP003, plus DCP004, DCP005 and DCP007 where they apply, all at the call's own lines.
Test, load-generator and script call sites produce no findings (they are not production
coupling); a wrapper's body is only DCP006, since each invocation is a call site of its own.

Two things narrow the findings. A :class:`RuleSelection` (``--select``/``--ignore``) keeps
some rules and drops the others everywhere. ``# decouple: ignore[DCP004]`` on a call (or the
line above) marks that rule's findings at that call as *suppressed*: they stay in the data
(JSON records them, SARIF carries them with a ``suppressions`` entry) but are not shown as
problems and do not fail a gate.
"""

from __future__ import annotations

from collections.abc import Iterable

from decouple_services.core.model import (
    CallSite,
    Category,
    Confidence,
    ResponseUse,
    Role,
    ScanResult,
)
from decouple_services.core.records import record
from decouple_services.render._common import callee_kind, is_production_call, sorted_call_sites

#: The project's home; rule pages live under ``docs/rules/`` there (pyproject's
#: ``project.urls`` names the same repository, and a test keeps them equal).
REPOSITORY_URL = "https://github.com/decouple-services/decouple-services"


def rule_help_uri(rule_id: str) -> str:
    """The rule's documentation page in the repository."""
    return f"{REPOSITORY_URL}/blob/main/docs/rules/{rule_id}.md"


@record
class Rule:
    """One kind of finding, as published in ``tool.driver.rules``."""

    id: str
    name: str
    level: str
    short: str
    full: str
    help: str
    tags: tuple[str, ...]


SYNC_CALL = Rule(
    id="DCP001",
    name="synchronous-service-call",
    level="warning",
    short="Synchronous call to another service",
    full=(
        "A production code path calls another service of this repository synchronously "
        "(HTTP or gRPC) and waits for it. The caller's latency and availability now depend "
        "on the callee's, and every new consumer of the event means editing the caller."
    ),
    help=(
        "If the caller does not use the response, the call can become an event: "
        "`decouple migrate --select <call-site id>` rewrites it into a Kafka producer send "
        "and generates a consumer in the callee. If the response is used, keep the call "
        "but give it a timeout and a fallback, or cache the data the caller needs."
    ),
    tags=("coupling", "architecture", "reliability"),
)
EXTERNAL_CALL = Rule(
    id="DCP002",
    name="external-call",
    level="note",
    short="Call to a host outside the repository",
    full=(
        "A production code path calls a host that matches no service of this repository: "
        "a third-party API or a service that lives in another repository."
    ),
    help=(
        "If the host is one of your services deployed from another repository, merge the "
        "scans of both repositories or add the host to the service's aliases in "
        "`[tool.decouple.services]`. Otherwise make sure the call has a timeout and retries."
    ),
    tags=("coupling", "external"),
)
UNRESOLVED = Rule(
    id="DCP003",
    name="unresolved-callee",
    level="warning",
    short="Service call whose target could not be resolved",
    full=(
        "decouple found a network call but could not work out statically which service it "
        "reaches, so the call is missing from the coupling graph."
    ),
    help=(
        "Annotate the call with `# decouple: target=<service>` (on the call or the line "
        "above), configure the value in `[tool.decouple]`, or mark a call that is not a "
        "service call with `# decouple: ignore`. The result message names the reason and "
        "the exact line that would fix it."
    ),
    tags=("coupling", "coverage"),
)
NO_TIMEOUT = Rule(
    id="DCP004",
    name="call-without-timeout",
    level="warning",
    short="Remote call without a timeout",
    full=(
        "A remote call is made without a timeout (or gRPC deadline). When the callee hangs, "
        "the caller's worker hangs with it, and a slow service stalls the whole chain."
    ),
    help=(
        "Pass an explicit timeout (`timeout=` for requests/httpx/aiohttp/urllib, "
        "`timeout=` on the gRPC stub call) sized to the caller's own latency budget."
    ),
    tags=("reliability",),
)
IN_LOOP = Rule(
    id="DCP005",
    name="call-in-loop",
    level="warning",
    short="Remote call inside a loop",
    full=(
        "A remote call is made inside a loop, so one request of the caller turns into N "
        "requests to the callee, each adding its latency and its chance of failure."
    ),
    help=(
        "Use a batch endpoint, fetch once outside the loop, or, when the response is not "
        "used, publish the items as events instead."
    ),
    tags=("performance", "reliability"),
)
WRAPPER = Rule(
    id="DCP006",
    name="service-call-wrapper",
    level="note",
    short="Generic helper that makes service calls",
    full=(
        "A helper function builds its request from its parameters. It is not an edge of "
        "the coupling graph itself; each call of the helper is reported as a call site of "
        "its own, where the target is known."
    ),
    help=(
        "Nothing to fix here. Call sites that go through this helper are listed with "
        "`via_wrapper` naming it; a timeout added here covers all of them."
    ),
    tags=("coupling",),
)

CONTRACT = Rule(
    id="DCP007",
    name="contract-violation",
    level="error",
    short="Synchronous call a declared contract forbids",
    full=(
        "A production call from one service to another breaks a contract declared in "
        "`[tool.decouple.contracts]`: a forbidden edge, an edge outside the allowed ones, "
        "or a call to the same or a higher layer. The message names the contract."
    ),
    help=(
        "Remove the call, turn it into an event (`decouple migrate --select <call-site id>` "
        "when the response is not used), or change the contract if the architecture changed "
        "on purpose. A reviewed exception can be marked on the call with "
        "`# decouple: ignore[DCP007]`."
    ),
    tags=("coupling", "architecture", "contract"),
)

#: Every rule, in ``ruleIndex`` order. Append only: indices and ids are part of the output.
RULES: tuple[Rule, ...] = (
    SYNC_CALL,
    EXTERNAL_CALL,
    UNRESOLVED,
    NO_TIMEOUT,
    IN_LOOP,
    WRAPPER,
    CONTRACT,
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


@record
class RuleSelection:
    """Which rules to report: ``select`` (empty: all) minus ``ignore``."""

    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()

    def includes(self, rule_id: str) -> bool:
        return (not self.select or rule_id in self.select) and rule_id not in self.ignore

    def unknown_codes(self) -> list[str]:
        return sorted((self.select | self.ignore) - set(RULES_BY_ID))


@record
class Finding:
    """One rule's finding at one call site."""

    rule: Rule
    site: CallSite
    message: str
    #: ``# decouple: ignore[<rule>]`` at the call: kept for the record, not a problem.
    suppressed: bool = False
    #: For DCP007, the contract the call breaks.
    contract: str | None = None


def find(result: ScanResult, selection: RuleSelection | None = None) -> list[Finding]:
    """Every finding of ``result`` under ``selection``, in the canonical call-site order."""
    selection = selection or RuleSelection()
    violations: dict[str, list[tuple[str, str]]] = {}
    for violation in result.contract_violations:
        violations.setdefault(violation.call_site, []).append(
            (violation.contract, violation.reason)
        )
    out: list[Finding] = []
    for site in sorted_call_sites(result.call_sites):
        if site.category is not Category.PRODUCTION:
            continue
        for rule, message, contract in _findings_at(site, violations.get(site.id, ())):
            if selection.includes(rule.id):
                out.append(Finding(rule, site, message, rule.id in site.suppressed, contract))
    return out


def omitted_non_production(result: ScanResult) -> int:
    """Call sites that produce no findings because they are not production code."""
    return sum(1 for site in result.call_sites if site.category is not Category.PRODUCTION)


def _findings_at(
    site: CallSite, violations: Iterable[tuple[str, str]]
) -> list[tuple[Rule, str, str | None]]:
    if site.role is Role.WRAPPER:
        return [(WRAPPER, _wrapper_message(site), None)]
    if not is_production_call(site):
        # Sends a migration wrote (role: event) are asynchronous: nothing to report.
        return []
    kind = callee_kind(site)
    out: list[tuple[Rule, str, str | None]]
    if kind == "service":
        out = [(SYNC_CALL, _sync_message(site), None)]
    elif kind == "external":
        out = [(EXTERNAL_CALL, _external_message(site), None)]
    else:
        out = [(UNRESOLVED, _unresolved_message(site), None)]
    if not site.has_timeout:
        out.append((NO_TIMEOUT, _no_timeout_message(site), None))
    if site.in_loop:
        out.append((IN_LOOP, _loop_message(site), None))
    for contract, reason in violations:
        message = (
            f"{site.caller} → {site.callee}: {_what(site)} breaks the contract {contract}: "
            f"{reason}."
        )
        out.append((CONTRACT, message, contract))
    return out


def _what(site: CallSite) -> str:
    """``POST /users (requests, http://userservice:8080/users)`` and the enclosing function."""
    target = site.endpoint or " ".join(
        part for part in (site.method, site.url_template or site.url) if part
    )
    detail = [site.client]
    if site.endpoint and site.url_template:
        detail.append(site.url_template)
    via = f", through {site.via_wrapper}" if site.via_wrapper else ""
    return f"{target} ({', '.join(detail)}) in {site.function}{via}"


def _sync_message(site: CallSite) -> str:
    why = [f"{site.caller} waits for {site.callee}: its latency and availability now depend on it."]
    if site.in_handler:
        why.append(
            f"The call is inside a request handler, so every request to {site.caller} pays for it."
        )
    if site.response_use is ResponseUse.BODY:
        why.append("The response is used, so the call cannot simply become an event.")
    elif site.response_use is ResponseUse.STATUS:
        why.append(
            "Only the response's success is checked: this call can become an event sent with "
            "a bounded wait for the broker's acknowledgement "
            f"(decouple migrate --select {site.id})."
        )
    else:
        why.append(
            "The response is not used: this call can become a fire-and-forget event "
            f"(decouple migrate --select {site.id})."
        )
    if site.confidence is Confidence.INFERRED:
        why.append(f"The callee is inferred, not resolved: {_inference(site)}.")
    return f"{site.caller} → {site.callee}: {_what(site)}. " + " ".join(why)


def _inference(site: CallSite) -> str:
    """The evidence line that says why the callee was inferred."""
    return next(
        (e for e in site.evidence if e.startswith("inferred from") or " is served by " in e),
        "see the evidence",
    )


def _external_message(site: CallSite) -> str:
    return (
        f"{site.caller} → {site.callee}: {_what(site)}. "
        "A host outside this repository: a third-party API or a service scanned elsewhere."
    )


def _unresolved_message(site: CallSite) -> str:
    reason = site.unknown_reason or "the target could not be resolved statically"
    text = (
        f"{site.caller} → unknown: {_what(site)}. "
        f"The callee is unknown because {reason}; the call is missing from the coupling graph."
    )
    if site.fix_hint:
        text += f" Fix: {site.fix_hint}"
    return text


def _no_timeout_message(site: CallSite) -> str:
    callee = "the callee" if callee_kind(site) == "unknown" else site.callee
    waiter = "task" if site.is_async else "worker"
    return (
        f"{site.caller} → {site.callee}: {_what(site)} has no timeout. "
        f"If {callee} hangs, this {waiter} of {site.caller} hangs with it."
    )


def _loop_message(site: CallSite) -> str:
    return (
        f"{site.caller} → {site.callee}: {_what(site)} is called inside a loop, "
        "one remote call per iteration."
    )


def _wrapper_message(site: CallSite) -> str:
    target = " ".join(part for part in (site.method, site.url) if part)
    return (
        f"{site.function} is a generic {site.client} helper ({target}) whose url comes from "
        "its parameters; each call of it is reported as a call site of its own."
    )
