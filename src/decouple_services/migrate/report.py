"""What a migration tells people: the terminal summary, the PR description, the commit message."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from decouple_services.core.model import CallSite, Role, ScanResult
from decouple_services.core.text import printable
from decouple_services.graph.migratability import Finding
from decouple_services.migrate.codemod import CREDENTIAL_HEADERS
from decouple_services.migrate.deploy import KAFKA_ENV
from decouple_services.migrate.generate import (
    consumer_runtime,
    consumer_workloads,
    runtime_location,
)
from decouple_services.migrate.grouping import candidates
from decouple_services.migrate.naming import DEAD_LETTER_SUFFIX, deletes
from decouple_services.migrate.refusals import secret_name
from decouple_services.migrate.run import PER_POD_DEDUPE, PER_POD_DELETES

if TYPE_CHECKING:
    from decouple_services.migrate.plan import MigrationPlan, PlannedSite
    from decouple_services.migrate.run import MigrationResult
    from decouple_services.migrate.select import Refusal
    from decouple_services.migrate.spec import ConsumerSpec, TopicSpec

#: What a fire-and-forget send (``send_event``) guarantees: it only queues the event in the
#: caller's process, so the caller hears "done" before Kafka has anything.
FIRE_AND_FORGET_LOSS = (
    "the event is only queued in the caller's memory: it is lost (logged and counted) if "
    "the process dies before it is delivered, or Kafka stays unreachable longer than "
    "`KAFKA_DELIVERY_TIMEOUT_MS` (5 min), or more is left queued at exit than the producer "
    "flushes in 10 s"
)
#: Where a fire-and-forget send can be made durable instead.
OUTBOX_ADVICE = (
    "`--outbox` writes the event in the caller's database transaction instead, where the "
    "caller keeps its data in a database Django or SQLAlchemy manages (docs/migrate.md)"
)


def _sender(item: PlannedSite, migrated: Sequence[PlannedSite]) -> PlannedSite:
    """The site whose send carries ``item``'s event: itself, or the event's one send that
    a folded call site is told by."""
    lead = item.send.fold_into
    return next((p for p in migrated if p.site.id == lead), item) if lead else item


def _fire_and_forget(migrated: Sequence[PlannedSite]) -> list[PlannedSite]:
    """The sites whose event is only queued in memory: no wait, no outbox."""
    return [
        p
        for p in migrated
        if not p.carried
        and not _sender(p, migrated).send.wait
        and _sender(p, migrated).send.outbox is None
    ]


def _send_call(item: PlannedSite) -> str:
    """How the rewritten site sends: ``send_event``, ``await send_event_and_wait_async``..."""
    if item.send.outbox is not None:
        if item.in_async_def and item.send.outbox == "sqlalchemy":
            return "await send_via_outbox_async"
        return "send_via_outbox"
    name = "send_event_and_wait" if item.send.wait else "send_event"
    return f"await {name}_async" if item.in_async_def else name


def _outbox_steps(plan: MigrationPlan) -> list[str]:
    """The rollout steps of each ``--outbox`` producer: its table, then its relay."""
    steps = []
    for producer in plan.producers:
        if producer.outbox is None:
            continue
        runtime = runtime_location(producer.module, producer.path, 1)[1]
        url = " --url URL" if producer.outbox != "django" else ""
        table = (
            "`python manage.py migrate`"
            if producer.outbox == "django"
            else f"`python -m {runtime} outbox-table --url URL`"
        )
        steps.append(
            f"- [ ] {producer.service}'s outbox: create its table ({table}) and run its relay "
            f"beside it: `python -m {runtime} relay{url}`"
        )
    return steps


def _where(site: CallSite) -> str:
    return f"{site.file}:{site.line}"


def _final(result: MigrationResult, item: PlannedSite) -> tuple[int, ...]:
    """The ``final_statuses`` of the consumer of the site's events."""
    for consumer in result.plan.consumers:
        if consumer.topic.name == item.send.topic and consumer.service == item.site.callee:
            return consumer.topic.final_statuses
    return ()


def _handler(result: MigrationResult, topic: str, callee: str | None = None) -> str:
    for consumer in result.plan.consumers:
        if consumer.topic.name == topic and callee in (None, consumer.service):
            if consumer.handler is not None:
                return f"{consumer.handler.module}.{consumer.handler.attribute}"
            return "(none found: fill in the generated consumer)"
    return "?"


#: Why a consumer whose store is per pod runs one replica.
ONE_REPLICA = (
    "each replica would keep its own record of handled events, so a repeat that reaches "
    "another replica is handled again; one replica handles every partition (a rebalance "
    "after a restart aside). Set `DECOUPLE_IDEMPOTENCY_URL` to a database every replica "
    "reaches, then raise the replicas"
)


def render_summary(
    result: MigrationResult, *, dry_run: bool, path: str = "PATH", branch: str | None = None
) -> str:
    """Plain text for stderr: every migrated site with its cautions, every refusal with its
    reason and suggestion, every generated file left alone. ``path``: the repository as the
    user named it, for the commands the summary offers; ``branch``: the branch the change
    is committed on (``--branch``), which no dry run makes."""
    lines: list[str] = []
    migrated = result.plan.rewrites
    topics = sorted({p.send.topic for p in migrated})
    if branch is not None:
        mode = f"committed on the branch {branch}"
    else:
        mode = "dry run; --write applies it" if dry_run else "writing"
    lines.extend(f"merge blocker: {blocker}" for blocker in merge_blockers(result))
    lines.append(
        f"decouple migrate: {len(migrated)} call site(s) -> {len(topics)} topic(s), "
        f"{len(result.plan.refused) + len(result.failed)} refused ({mode})"
    )
    if result.changes:
        counts = {
            k: sum(c.kind == k for c in result.changes)
            for k in ("rewrite", "dependencies", "deployment", "generated")
        }
        deployment = f"{counts['deployment']} deployment file(s), " if counts["deployment"] else ""
        lines.append(
            f"  files: {counts['rewrite']} rewritten, {counts['dependencies']} dependency "
            f"file(s), {deployment}{counts['generated']} generated (in this order in the diff)"
        )
    elif not dry_run or not migrated:
        lines.append("  nothing to change")
    for item in migrated:
        site = item.site
        send = _send_call(item)
        if item.send.fold_into is not None:
            send = f"told by the event's send, {item.send.fold_into}; its statement goes"
        lines.append(
            f"  {site.id}  {_where(site)}  {site.caller} -> {item.send.topic} -> {site.callee}"
            f"  ({send})"
        )
        for finding in item.cautions:
            lines.append(f"      caution [{finding.code}]: {finding.reason}; {finding.suggestion}")
        for note in item.notes:
            lines.append(f"      note: {note}")
    fire = _fire_and_forget(migrated)
    if fire:
        lines.append(
            f"fire-and-forget ({', '.join(p.site.id for p in fire)}): {FIRE_AND_FORGET_LOSS}; "
            f"{OUTBOX_ADVICE}"
        )
    for site in result.plan.already_migrated:
        lines.append(f"  {site.id}  {_where(site)}  already migrated to {site.url}: nothing to do")
    lines.extend(event_lines(result))
    for group in candidates(migrated, result.plan.event_blockers):
        told = (
            f"one fact, {len(group.callees)} services: {group.function} ({group.file}) tells "
            f"{', '.join(group.callees)} ({', '.join(group.site_ids)})"
        )
        if group.blocked is not None:
            # said, not offered: `--event` would refuse these calls as the code stands
            lines.append(f"{told}: not one domain event as the code stands: {group.blocked}")
            continue
        lines.append(
            f"{told}: a candidate for one "
            "domain event they subscribe to, instead of one command topic per callee "
            f"(name the fact in the past tense): {group.command(path)}"
        )
    refusals = _refusals(result.plan.refused)
    if refusals or result.failed:
        lines.append(f"refused ({len(refusals) + len(result.failed)}):")
    for refusal in refusals:
        codes = ", ".join(f.code for f in refusal.reasons)
        where = (
            f"{_where(refusal.site)}  {refusal.site.caller} -> {refusal.site.callee}  "
            if refusal.site
            else ""
        )
        lines.append(f"  {refusal.site_id}  {where}[{codes}]")
    for ident, why in result.failed:
        lines.append(f"  {ident}  [not-rewritable] {why}")
    findings = _findings(refusals)
    reasons_of = Counter(f.code for f in findings)
    advised: dict[str, str] = {}
    for finding in findings:
        sites = ""
        if reasons_of[finding.code] > 1:  # say which sites each of the code's reasons is about
            ids = [r.site_id for r in refusals if _has_reason(r, finding)]
            sites = f"({', '.join(ids)}) "
        lines.append(f"  [{finding.code}] {sites}{finding.reason}")
        if advised.get(finding.code) != finding.suggestion:
            lines.append(f"      instead: {finding.suggestion}")
            advised[finding.code] = finding.suggestion
    for path, why in result.kept:
        lines.append(f"kept {path}: {why}")
    for service, note in result.dependency_notes:
        lines.append(f"dependencies of {service}: {note}")
    for service, note in result.deployment_notes:
        lines.append(f"deployment of {service}: {note}")
    if result.store_notes:
        lines.append(f"caution [per-pod-dedupe] {_per_pod(result, '')}")
    if result.replica_notes:
        lines.append(f"caution [one-replica] {_one_replica(result, '')}")
    lines.extend(
        f"caution [servicer-from-bootstrap] {text}" for text in servicer_cautions(result, "")
    )
    return "".join(printable(line) + "\n" for line in lines)


def servicer_cautions(result: MigrationResult, quote: str = "`") -> list[str]:
    """One line per servicer factory generated from its server's bootstrap: what it
    mirrors, what it runs, what it leaves out (the server's interceptors)."""
    out: list[str] = []
    seen: set[str] = set()
    for consumer in result.plan.consumers:
        bootstrap, path = consumer.servicer_bootstrap, consumer.servicer_factory_path
        if bootstrap is None or path is None or path in seen:
            continue
        seen.add(path)
        q = quote
        label = bootstrap.function_label if q else bootstrap.function_label.replace("`", "")
        text = (
            f"{q}{path}{q} builds the {bootstrap.service} servicer as {label} does "
            f"({q}{bootstrap.file}:{bootstrap.function_line}{q}, the servicer at line "
            f"{bootstrap.line}), once per consumer process: keep it in step with that code"
        )
        steps = []
        if bootstrap.setup_lines:
            many = "s" if len(bootstrap.setup_lines) > 1 else ""
            lines = ", ".join(str(n) for n in bootstrap.setup_lines)
            steps.append(f"the startup steps at line{many} {lines} too")
        if bootstrap.teardown_at:
            steps.append(f"the teardown at {q}{bootstrap.teardown_at}{q} when it stops")
        if steps:
            text += (
                f". The consumer runs {', and '.join(steps)}: its process needs the "
                "environment and the network the server's has (the databases and clients "
                "those steps connect)"
            )
        if bootstrap.not_run:
            listed = ", ".join(
                f"{q}{step}{q} ({bootstrap.file}:{line})" for line, step, _ in bootstrap.not_run
            )
            text += (
                f". It does not run {listed}: the construction does not depend on "
                f"{'them' if len(bootstrap.not_run) > 1 else 'it'}, and a step of the server's "
                "own process (its scheduled jobs, its registration in service discovery, its "
                "migrations, its metrics port) would be repeated by every consumer replica"
            )
            needed = [f"{q}{step}{q}" for _, step, may in bootstrap.not_run if may]
            if needed:
                text += (
                    f"; check {', '.join(needed)}: the servicer may rely on "
                    f"{'them' if len(needed) > 1 else 'it'} (it reads what the servicer uses, "
                    "or looks like an initialisation), and if it does, run it where the "
                    "consumer starts or name a factory with --servicer-factory"
                )
        if bootstrap.copied_calls:
            listed = ", ".join(
                f"{q}{step}{q} ({bootstrap.file}:{line})" for line, step in bootstrap.copied_calls
            )
            text += (
                f". It runs {listed} in every consumer replica: check "
                f"{'them' if len(bootstrap.copied_calls) > 1 else 'it'}: it is copied as "
                "the servicer (or its teardown) needs the object it calls, but the call may "
                "be the server process's own work (a scheduler, migrations), which each "
                "replica would repeat"
            )
        if bootstrap.interceptors:
            named = ", ".join(
                f"{q}{source}{q} ({bootstrap.file}:{line})"
                for source, line in bootstrap.interceptors
            )
            if consumer.servicer_interceptors and not bootstrap.generates_interceptors:
                text += (
                    f". The server's interceptors, {named}, are not generated, as "
                    f"{bootstrap.interceptors_refused}: each event goes through those "
                    f"{q}{consumer.servicer_interceptors}{q} gives instead"
                )
            elif consumer.servicer_interceptors:
                text += (
                    f". Each event goes through the server's interceptors, as an RPC does: "
                    f"{named}, built by {q}{consumer.servicer_interceptors}{q}; their "
                    "metadata is the headers the consumer forwards and the event's attributes "
                    f"as {q}ce-*{q}"
                )
            else:
                text += (
                    f". The server's interceptors are not run on the event path: {named}, as "
                    f"{bootstrap.interceptors_refused}. What they do for a request "
                    "(authentication, logging, turning exceptions into statuses) does not "
                    "happen for an event: an exception one of them would turn into a final "
                    "status such as NOT_FOUND is retried and then dead-lettered. Name a "
                    f"function that gives them with {q}--servicer-interceptors "
                    f"{bootstrap.service}=module:function{q}"
                )
        out.append(text + ".")
    return out


def possessive(name: str) -> str:
    """``orders'`` for a name ending in s, ``billing's`` otherwise."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def commit_message(result: MigrationResult, label: str) -> str:
    migrated = result.plan.rewrites
    topics = sorted({p.send.topic for p in migrated})
    callers = sorted({p.site.caller for p in migrated})
    # "fire-and-forget" only where no send waits for the broker's acknowledgement
    what = "calls" if any(p.send.wait for p in migrated) else "fire-and-forget calls"
    subject = (
        f"Send {possessive(', '.join(callers))} {what} as Kafka events"
        if len(callers) > 1 or not migrated
        else f"{label}: send {what} as Kafka events"
    )
    waiting = [p for p in migrated if p.send.wait]
    body = [
        "The calls' responses were never read, or only checked for success, so a send",
        "through the service's producer keeps what the callers relied on; the callees",
        "consume the topics with generated consumers.",
        *(
            [
                "",
                "Where the caller checked the status, the send waits for the broker's",
                "acknowledgement: success now means the event was accepted, and the callee's",
                "own errors go to the dead-letter topic.",
            ]
            if any(not p.send.compensation and not p.send.raised for p in waiting)
            else []
        ),
        *(
            [
                "",
                "Where nothing caught the call's failure, the send waits for the broker too:",
                "the caller still fails when the event is not accepted, as it failed when",
                "the callee was unreachable, instead of losing the event in silence.",
            ]
            if any(p.send.raised for p in waiting)
            else []
        ),
        *(
            [
                "",
                "A call on the caller's failure path (a compensation) waits for the broker",
                "too: it must not be lost, nor applied twice.",
            ]
            if any(p.send.compensation for p in waiting)
            else []
        ),
        "",
        *[
            f"- {p.site.id} {_where(p.site)} -> {p.send.topic}"
            + (" (waits for the broker)" if p.send.wait else "")
            for p in migrated
        ],
        "",
        f"Topics: {', '.join(topics)}",
        "Generated with decouple migrate.",
    ]
    return subject + "\n\n" + "\n".join(body) + "\n"


# --- PR description ---------------------------------------------------------------------------


def event_lines(result: MigrationResult) -> list[str]:
    """Each domain event the migration makes: its publisher, its send, its subscribers."""
    lines = []
    leads = [p for p in result.plan.rewrites if p.event and p.send.event]
    for lead in leads:
        specs = [t for t in result.plan.topics if t.name == lead.send.topic and t.subscribers]
        if not specs:
            continue
        groups = {c.service: c.group_id for c in result.plan.consumers if c.topic in specs}
        key = lead.send.key or "none"
        lines.append(
            f"domain event {specs[0].event_type} on {lead.send.topic}: published by "
            f"{lead.site.caller} ({lead.site.function}, {_where(lead.site)}, "
            f"{_send_call(lead)} keyed by {key}); subscribers: "
            + ", ".join(
                f"{t.callee} (group {groups.get(t.callee, '?')}, takes {_takes(t)})" for t in specs
            )
        )
    for topic in result.plan.subscribed:
        group = next((c.group_id for c in result.plan.consumers if c.topic == topic), "?")
        endpoint = topic.endpoint.label if topic.endpoint else "?"
        lines.append(
            f"subscriber {topic.callee} added to {topic.event_type} on {topic.name}: group "
            f"{group}, {endpoint}, takes {_takes(topic)}; the publisher "
            f"({', '.join(topic.producers)}) is not touched; its new group starts at the "
            "topic's earliest record, so its first start handles every event the topic still "
            "keeps (KAFKA_AUTO_OFFSET_RESET=latest for its first start to take only new ones)"
        )
    return lines


def _takes(topic: TopicSpec) -> str:
    """``email as to, user_id; adds template="welcome"; path user_id``: the data's fields
    the body takes (under the handler's key), the constants its consumer adds, the path's."""
    parts = []
    renames, values = dict(topic.renames), dict(topic.values)
    if topic.fields is None:
        parts.append("all of the data")
    elif topic.fields:
        taken = [
            f"{renames[k]} as {k}" if k in renames else k for k in topic.fields if k not in values
        ]
        if taken:
            parts.append(", ".join(taken))
        added = [f"{k}={json.dumps(values[k])}" for k in topic.fields if k in values]
        if added:
            parts.append("adds " + ", ".join(added))
    if topic.path_params:
        parts.append("path " + ", ".join(topic.path_params))
    return "; ".join(parts) or "no body"


def render_pr_body(result: MigrationResult, *, title: str | None = None) -> str:
    """Markdown for the pull request: summary, sites, refusals, graphs, rollout, risks."""
    plan = result.plan
    migrated = plan.rewrites
    topics = [t for t in plan.topics if set(t.site_ids) & {p.site.id for p in migrated}]
    callers = sorted({p.site.caller for p in migrated})
    callees = sorted({p.site.callee for p in migrated})
    # a domain event's sites share one send (the first site's, the others folded into it)
    # and one topic with a spec per subscriber: each site counts as the send it ends in
    senders = {p.site.id: _sender(p, migrated).send for p in migrated}
    out: list[str] = []
    heading = (
        f"Migrate {title} to Kafka events" if title else "Migrate synchronous calls to Kafka events"
    )
    out.append(f"# {heading}\n")
    blockers = merge_blockers(result)
    if blockers:
        out.extend(f"> **Merge blocker:** {_cell(blocker)}" for blocker in blockers)
        out.append("")
    waiting = [p for p in migrated if senders[p.site.id].wait]
    outboxed = [
        p for p in migrated if senders[p.site.id].outbox is not None and not senders[p.site.id].wait
    ]
    fire = [
        p for p in migrated if not senders[p.site.id].wait and senders[p.site.id].outbox is None
    ]
    out.append("## Summary\n")
    out.append(
        f"{len(migrated)} call site(s) in {', '.join(callers) or 'no service'} become sends to "
        f"{len({t.name for t in topics})} Kafka topic(s), consumed by {', '.join(callees) or 'no service'}: "
        f"{len(fire)} fire-and-forget (the response was never read: `send_event`, which "
        f"does not wait: {FIRE_AND_FORGET_LOSS}), "
        + (
            f"{len(outboxed)} written to the caller's outbox table with its transaction "
            "(`send_via_outbox`: committed or rolled back with the data, then relayed to "
            "Kafka at least once) "
            if outboxed
            else ""
        )
        + f"and {len(waiting)} whose send waits (the response was only checked for success, "
        "the call's failure reached its caller (no `except` caught it), the call repairs a "
        "failure, or it shares one event's send with such a call: "
        "`send_event_and_wait` waits, bounded by the old call's "
        "timeout, for the broker's acknowledgement and raises `EventNotAccepted` without it, "
        "`EventOutcomeUnknown` when no answer came in time: the event may still appear on the "
        "topic later, so a caller that retries needs an idempotency key for the consumer to "
        "skip the copy). "
        "Every site's behaviour change is in the table below: once Kafka has the event, the "
        "callee does the work later, at least once, and its own errors go to the dead-letter "
        "topic instead of the caller.\n"
    )
    out.append(
        "Each send goes through one generated producer module per caller service and carries "
        "a CloudEvents envelope whose `type` is versioned (`<topic>.v1`), keyed by the entity "
        "id chosen at migration time (shown at each call). Each topic gets a consumer in the "
        "callee that calls the endpoint's existing handler "
        "([generated-code.md](docs/generated-code.md)).\n"
    )
    events = event_lines(result)
    if events:
        out.append("### Domain events\n")
        out.append(
            "These calls told several services about one fact; they become one event the "
            "services subscribe to, each in a consumer group of its own, so the caller no "
            "longer names every consumer. The event carries the fact as the caller knows "
            "it (its own names, no constants); each consumer hands its handler the body its "
            "call used to send, each key from the event's data (`email as to`: under the "
            "key the handler expects) or the constant the call sent (`adds`).\n"
        )
        out.extend(f"- {_cell(line)}" for line in events)
        out.append("")
    changes = _score_changes(result)
    if changes:
        out.append(f"Hotspot scores (docs/graph.md): {changes}.\n")
    out.append("## Migrated call sites\n")
    out.append(
        "| call site | id | caller → callee | topic | send | key | behaviour change "
        "| callee handler | notes |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for item in migrated:
        site = item.site
        # the cautions' reasons are under "Review these"
        notes = [f"⚠ {f.code}" for f in item.cautions] + list(item.notes)
        sender = _sender(item, migrated)
        key = (
            f"`{sender.send.key}` ({sender.send.key_origin})"
            if sender.send.key
            else f"none ({sender.send.key_origin})"
            if sender.send.key_origin
            else "none"
        )
        out.append(
            f"| `{_where(site)}` | `{site.id}` | {site.caller} → {site.callee} | "
            f"`{item.send.topic}` | `{_send_call(sender)}` | {_cell(key)} | "
            f"{_cell(behaviour_change(item, sender, _final(result, item)))} | "
            f"`{_handler(result, item.send.topic, site.callee)}` | "
            f"{'<br>'.join(_cell(n) for n in notes) or ''} |"
        )
    out.append("")
    cautions = [(p, f) for p in migrated for f in p.cautions]
    # Only what `--event` would take: a blocked function's reason is in the summary.
    groups = [g for g in candidates(migrated) if (g.file, g.function) not in plan.event_blockers]
    if cautions or groups:
        out.append("### Review these\n")
        for item, finding in cautions:
            out.append(
                f"- `{_where(item.site)}` ({finding.code}): {finding.reason}. "
                f"{finding.suggestion[0].upper()}{finding.suggestion[1:]}."
            )
        for group in groups:
            out.append(
                f"- `{group.function}` (`{group.file}`) tells {', '.join(group.callees)} about "
                f"one fact ({', '.join(f'`{i}`' for i in group.site_ids)}): a candidate for one "
                "domain event they subscribe to, so this caller stops naming every consumer: "
                f"`{group.command()}` (name the fact in the past tense)."
            )
        out.append("")
    servicers = servicer_cautions(result)
    if servicers:
        out.append("### Servicers built as the server builds them\n")
        out.append(
            "These servicers' `__init__` takes arguments and no `--servicer-factory` named "
            "a function that builds them, so each got a factory generated from the code that "
            "adds it to its gRPC server. Read it next to that code: it is a copy, and a "
            "change to one is not a change to the other.\n"
        )
        out.extend(f"- {_cell(text)}" for text in servicers)
        out.append("")
    refused = _refusals(plan.refused)
    if refused or result.failed:
        out.append("## Not migrated\n")
        for finding in _findings(refused):
            sites = [r for r in refused if _has_reason(r, finding)]
            out.append(f"**{finding.code}**: {finding.reason}. Instead: {finding.suggestion}.\n")
            for refusal in sites:
                named = refusal.site
                if named is None:
                    out.append(f"- `{refusal.site_id}`")
                else:
                    out.append(
                        f"- `{_where(named)}` `{refusal.site_id}` {named.caller} → {named.callee}"
                    )
            out.append("")
        if result.failed:
            out.append("**not-rewritable**: the rewrite could not apply; rewrite these by hand.\n")
            out.extend(f"- `{ident}`: {why}" for ident, why in result.failed)
            out.append("")
    out.append("## Coupling before and after\n")
    out.append("Before:\n")
    out.append("```mermaid\n" + _mermaid(result, after=False) + "```\n")
    out.append("After:\n")
    out.append("```mermaid\n" + _mermaid(result, after=True) + "```\n")
    out.append("## New topics\n")
    out.append("| topic | dead-letter topic | consumer group | producers | consumer module |")
    out.append("|---|---|---|---|---|")
    for consumer in plan.consumers:
        if consumer.topic not in topics:
            continue
        out.append(
            f"| `{consumer.topic.name}` | `{consumer.topic.dead_letter}` | `{consumer.group_id}` "
            f"| {', '.join(consumer.topic.producers)} | `python -m {consumer.module}` "
            f"(from `{consumer.import_root}`) |"
        )
    out.append("")
    out.append(
        f"Described in [`{plan.asyncapi_path}`]({plan.asyncapi_path}) (AsyncAPI 3.0, every "
        f"application) and one document per application in [`{plan.asyncapi_dir}/`]"
        f"({plan.asyncapi_dir}); created by "
        f"[`{plan.topic_script_path}`]({plan.topic_script_path}).\n"
    )
    out.append("## Reviewing the event path\n")
    out.extend(_review_steps(migrated, [c for c in plan.consumers if c.topic in topics]))
    out.append("")
    out.append("## Rollout checklist\n")
    out.extend(
        [
            f"- [ ] Create the topics and their dead-letter topics: "
            f"`KAFKA_BOOTSTRAP_SERVERS=... python {plan.topic_script_path}` "
            "(partitions and replication from the environment; dead-letter topics keep their "
            "records until deleted unless `KAFKA_DEAD_LETTER_RETENTION_MS` bounds them).",
            "- [ ] Deploy the consumers **before** the producers, one process per callee "
            "running all its topics (each in its own consumer group; `--skip <module>` "
            "leaves one to a process of its own, `python -m <package>.<module>`):",
            *[
                f"  - [ ] `{w.service}`: `python -m {w.module}` (from "
                f"`{w.consumers[0].import_root}`): "
                + ", ".join(f"`{c.topic.name}`" for c in w.consumers)
                for w in consumer_workloads([c for c in plan.consumers if c.topic in topics])
            ],
            "- [ ] Set `KAFKA_BOOTSTRAP_SERVERS` (and the security settings) for every caller "
            "and consumer; see docs/generated-code.md." + _deployment_files(result),
            *[
                f"  - [ ] {service}, by hand: {_cell(note)}"
                for service, note in result.deployment_notes
            ],
            *_outbox_steps(plan),
            "- [ ] Deploy the callers; the sends replace the HTTP calls in the same release.",
            "- [ ] Watch consumer lag per group and the dead-letter topics; once what made "
            "an event fail is fixed, publish it again on its topic (same key and headers):",
            *[
                line
                for c in plan.consumers
                if c.topic in topics
                for line in (
                    f"  - [ ] `{c.topic.dead_letter}`: `python -m {consumer_runtime(c)[1]} "
                    f"redrive --topic {c.topic.dead_letter}` (from `{c.import_root}`)",
                    *_lost_delete(c, result),
                )
            ],
            "- [ ] Once the topics carry the traffic, retire the callee endpoints nobody calls "
            "any more (or keep them for other callers).",
        ]
    )
    out.append("")
    out.append("## Risks\n")
    risks = [
        "**Asynchronous now.** The callee handles each event later (lag), not before the "
        "caller's request returns. Anything that relied on the effect being visible right "
        "after the call (a redirect that reads it back, a test) needs a look.",
        "**At-least-once delivery.** A consumer crash between handling and commit repeats an "
        "event; the generated idempotency hook skips repeats by event id only within its "
        "store: a `decouple_handled` table in the callee's own database when it is Django's "
        "or SQLAlchemy's (`DECOUPLE_IDEMPOTENCY_URL`), else a SQLite file per pod. A "
        "caller that retries a request sends the event again: the copy is skipped only when "
        "the send carries an idempotency key (the call's `Idempotency-Key` or `X-Request-ID` "
        "header, or `idempotency_key=`) and the same data.",
        "**Errors move.** A failing handler no longer fails the caller's request: after the "
        "retries (7 to 14 minutes of failures by default) the event goes to the "
        "dead-letter topic. Alert on it. Where the caller "
        "checked the status, success now means the event was accepted, and `except` clauses "
        "for the HTTP client's errors no longer fire (each is named in the table).",
        "**Ordering** is per key (the key each send names; see the table); events without "
        "one are spread over partitions.",
        "**Kafka becomes a dependency** of every caller and callee listed above: with the "
        "broker down, the sends that wait fail within their bound, as the HTTP calls failed "
        "(a call whose failure nothing caught gets a send that waits for this reason); "
        "the fire-and-forget sends, left where the caller caught the call's failure, do not "
        "wait for it (what the producer does with a send it cannot deliver is in "
        "docs/generated-code.md).",
    ]
    lossy = _fire_and_forget(migrated)
    if lossy:
        risks.insert(
            1,
            "**Fire-and-forget sends can be lost.** At "
            + ", ".join(f"`{_where(p.site)}`" for p in lossy)
            + f" {FIRE_AND_FORGET_LOSS}. The caller's request has already succeeded, so the "
            f"work never happens and only the caller's log says so. {OUTBOX_ADVICE[0].upper()}"
            f"{OUTBOX_ADVICE[1:]}; elsewhere, where the loss matters, call "
            "`send_event_and_wait` instead: it raises when Kafka does not take the event.",
        )
    credentials = sorted(
        {h for p in migrated for h in p.headers if h in CREDENTIAL_HEADERS or secret_name(h)}
    )
    if credentials:
        risks.append(
            "**Credentials in events.** Some sends carry the headers "
            + ", ".join(f"`{h}`" for h in credentials)
            + " their calls sent, for the callee's application to check: they are stored in "
            "the topic and its dead-letter topic, readable by whoever reads them, for the "
            "topic's retention, and a token that expires before its event is handled is "
            "refused (dead-lettered at once). Give a consumer its own credential with "
            "`DECOUPLE_REQUEST_HEADERS` where the header is a service's static secret "
            "(docs/security.md, *Credentials in events*)."
        )
    if any(f.code == "in-loop" for _, f in cautions):
        risks.append(
            "**Bursts.** Some sends run in a loop: one request can now produce many events."
        )
    if any(f.code == "compensation" for _, f in cautions):
        risks.append(
            "**Compensations.** Some sends undo an earlier step on a failure path (named "
            "under *Review these*): they wait for Kafka instead of firing and forgetting, yet "
            "a caller's retry or a redelivery applies them twice unless the send carries an "
            "idempotency key and the handler is idempotent, and the undo is done only after "
            "the consumer's lag, not before the caller answers."
        )
    if any(f.code == "effect-before-send" for _, f in cautions):
        risks.append(
            "**Errors after done work.** Some sends that wait come after an effect their "
            "caller cannot undo (a payment, a committed write, another send whose event goes "
            "out anyway; named under *Review these*): when Kafka does not take the event the "
            "caller's client gets an error for work that was done, and its retry does it "
            "again. `--outbox` where Django or SQLAlchemy manage the caller's data, else an "
            "idempotency key on the caller's side, or on the earlier send."
        )
    if any(f.code == "entity-across-topics" for _, f in cautions):
        risks.append(
            "**One entity, several topics.** Some entities' operations go to several topics "
            "(named under *Review these*): Kafka orders one key's events only within one "
            "topic's partition, so an update and a delete of one entity, or two updates of "
            "the same state, can be handled in either order."
        )
    if any(f.code == "identity-in-payload" for _, f in cautions):
        risks.append(
            "**Who asks travels in the event.** Some payloads carry the caller's identity for "
            "the callee to check: anyone allowed to produce to those topics can act as any "
            "user. Restrict who may write to them (Kafka producer ACLs). A request the "
            "callee refuses for that user (permission denied) now succeeds for the client, "
            "and its event is dead-lettered: check the user's permission in the caller "
            "before sending."
        )
    if any(f.code == "transient-as-4xx" for _, f in cautions):
        risks.append(
            "**Outages dead-lettered.** Some callee handlers answer a 4xx when their database "
            "or cache fails; the consumer dead-letters every 4xx but 401, 403, 408, 425 and "
            "429 at once, so an outage fills the dead-letter topic: redrive it afterwards."
        )
    if any(f.code == "conflict-answer" for _, f in cautions):
        risks.append(
            "**Repeats answered 409.** Some callee handlers answer 409 Conflict, which the "
            "consumer dead-letters; where it means the work is done already, add "
            "`done_statuses=(409,)` to the consumer's `Subscription`."
        )
    if any(f.code == "in-transaction" for _, f in cautions):
        risks.append(
            "**Transactions.** Some sends run inside a database transaction and go out even "
            "if it rolls back, as the HTTP calls did; an outbox table would make them exact."
        )
    if result.store_notes:
        risks.append(f"**Dedupe per pod.** {_per_pod(result, '`')}.")
    if result.replica_notes:
        risks.append(f"**One replica.** {_one_replica(result, '`')}.")
    out.extend(f"- {r}" for r in risks)
    out.append("")
    return "\n".join(out)


def placeholder_files(result: MigrationResult) -> list[str]:
    """The deployment files this change writes the placeholder broker address into
    (``KAFKA_BOOTSTRAP_SERVERS`` set to ``kafka:9092``): the users' manifests and values
    given it, and the generated Kubernetes files. The compose override runs a broker of
    that name, and an AsyncAPI document only describes one: neither is counted."""
    placeholder = KAFKA_ENV[0][1].encode()
    out = []
    for change in result.changes:
        name = change.path.rsplit("/", 1)[-1]
        if change.kind not in ("deployment", "generated") or "compose" in name:
            continue
        if "asyncapi" in change.path or not name.endswith((".yaml", ".yml")):
            continue
        before = change.before or b""
        if placeholder in change.after and change.after.count(placeholder) > before.count(
            placeholder
        ):
            out.append(change.path)
    return out


def merge_blockers(result: MigrationResult) -> list[str]:
    """What keeps the change from working once merged: the run's own blockers, and the
    broker address left as a placeholder."""
    out = list(result.blockers)
    files = placeholder_files(result)
    if files:
        out.append(
            f"set the broker address: `KAFKA_BOOTSTRAP_SERVERS` is `{KAFKA_ENV[0][1]}`, a "
            f"placeholder, in {', '.join(f'`{f}`' for f in files)}; point it at the "
            "cluster's brokers before deploying"
        )
    return out


def _deployment_files(result: MigrationResult) -> str:
    """The deployment files this change gives ``KAFKA_BOOTSTRAP_SERVERS``, for the checklist:
    those given the placeholder, and the Helm values files given it empty, which their
    chart requires (it does not render until it is set)."""
    placeholder = KAFKA_ENV[0][1].encode()
    given, required = [], []
    for change in result.changes:
        if change.kind != "deployment":
            continue
        before = change.before or b""
        if change.after.count(placeholder) > before.count(placeholder):
            given.append(f"`{change.path}`")
        elif re.match(r"values[\w.-]*\.ya?ml$", change.path.rsplit("/", 1)[-1]):
            required.append(f"`{change.path}`")
    out = ""
    if given:
        out += (
            f" This change sets it to `{KAFKA_ENV[0][1]}` in {', '.join(given)}: point it at "
            "the cluster's brokers there."
        )
    if required:
        out += (
            f" It is empty in {', '.join(required)}, and required: the chart does not render "
            "until it is set there."
        )
    return out


def behaviour_change(
    item: PlannedSite, sender: PlannedSite | None = None, final: Sequence[int] = ()
) -> str:
    """What changes for the caller and the callee at one site, in one sentence or two.
    ``sender``: the site whose send carries the event, when another site's send tells it;
    ``final``: the retried answers its consumer dead-letters at once (``final_statuses``)."""
    site, send = item.site, item.send
    how = (sender or item).send
    dead_letter = f"`{send.topic}{DEAD_LETTER_SUFFIX}`"
    if item.event:
        dead_letter = f"`{send.topic}.{site.callee}{DEAD_LETTER_SUFFIX}`"
    if item.carried:
        return "migrated earlier"
    if how.wait:
        before = (
            f"the caller no longer waits for {site.callee}; as a compensation, the send waits "
            "for Kafka to accept the event"
            if how.compensation
            else f"the caller no longer waits for {site.callee}, nor fails when it is down; "
            "nothing caught the call's failure, so the send waits for Kafka to accept the "
            "event and the caller fails when Kafka does not, as it failed when "
            f"{site.callee} was unreachable"
            if how.raised
            else f"success used to mean {site.callee} handled the call; now it means Kafka "
            "accepted the event"
        )
        return (
            f"{before} (the send waits for it, and raises `EventNotAccepted` without it, "
            "`EventOutcomeUnknown` when no answer came within its bound: the event may then "
            f"still appear on the topic later). Once accepted, {site.callee} handles it later, "
            f"at least once; {_errors_go(item, dead_letter, final)}"
        )
    waits = f"the caller no longer waits for {site.callee}, nor fails when {site.callee} is down"
    if how.outbox is not None:
        return (
            f"{waits} or slow; the event is written to the caller's outbox table in its "
            "database transaction (committed or rolled back with the data) and relayed to "
            f"Kafka at least once; {site.callee} handles it later, at least once; its errors "
            f"go to {dead_letter}"
        )
    return (
        f"{waits} or slow; the event is only queued in memory, so it is lost if the process "
        "dies or Kafka stays unreachable longer than `KAFKA_DELIVERY_TIMEOUT_MS` (5 min) "
        "(`--outbox` avoids this for a caller whose data Django or SQLAlchemy manages). "
        f"Once Kafka has it, {site.callee} handles it later, at least once; its errors go to "
        f"{dead_letter}"
    )


#: The 4xx answers the runtime retries (its ``RETRIED_4XX``), as gRPC names them where
#: grpc-gateway maps one to them.
_RETRIED = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    408: "",
    425: "",
    429: "RESOURCE_EXHAUSTED",
}


def _errors_go(item: PlannedSite, dead_letter: str, final: Sequence[int]) -> str:
    """Where the callee's errors go instead of to this caller, as the runtime classifies
    them: a caller's error at once, a failure after the consumer's retries."""
    retried = [status for status in _RETRIED if status not in final]
    if item.send.is_grpc:
        codes = [_RETRIED[s] for s in retried if _RETRIED[s]]
        refused = [_RETRIED[s] for s in (401, 403) if s in final]
        at_once = ", ".join(["INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", *refused])
        return (
            f"its errors go to {dead_letter} instead of reaching this caller: at once for "
            f"{at_once}; after the consumer's retries for "
            f"{', '.join(['UNAVAILABLE', 'INTERNAL', *codes])} and the like"
        )
    listed = ", ".join(str(s) for s in retried[:-1]) + f" and {retried[-1]}"
    return (
        f"its errors go to {dead_letter} instead of reaching this caller: a 4xx at once, "
        f"a 5xx (and {listed}) after the consumer's retries"
    )


def _review_steps(migrated: Sequence[PlannedSite], consumers: Sequence[ConsumerSpec]) -> list[str]:
    """What a reviewer checks on the event path, with the sites and modules named."""
    steps = [
        "- [ ] Each rewritten call: the `# event key:` comment names the entity whose events "
        "must stay in order (a site without one sends unordered events); `data` holds the "
        "body and the path parameters the handler needs.",
    ]
    waiting = [p for p in migrated if p.send.wait]
    if waiting:
        steps.append(
            "- [ ] Sends that wait ("
            + ", ".join(f"`{_where(p.site)}`" for p in waiting)
            + "): nothing after the send relies on the callee's work being done (a read "
            "back, a redirect, a test); the bound is right for the request path; the `except` "
            "clauses the notes name catch `EventNotAccepted` where the caller must survive a "
            "failed send."
        )
    fire = [p for p in migrated if not p.send.wait]
    if fire:
        steps.append(
            "- [ ] Fire-and-forget sends ("
            + ", ".join(f"`{_where(p.site)}`" for p in fire)
            + "): losing the callee's answer is acceptable, since nothing read it; for the "
            "sends without an outbox, so is losing the *event* on a crash or a broker outage "
            "longer than `KAFKA_DELIVERY_TIMEOUT_MS` (5 min)."
        )
    steps.extend(
        [
            "- [ ] Each consumer calls its handler the way an HTTP request did: authentication "
            "hooks, middleware, validation and application state it needs are in place "
            "(run its generated test: " + ", ".join(f"`{c.test_path}`" for c in consumers) + ").",
            "- [ ] Each handler tolerates the same event twice (delivery is at least once), "
            "and a consumer that lags does not break a user-visible flow.",
            "- [ ] Alerts exist on consumer lag and on every dead-letter topic, and someone "
            "owns replaying it. With `prometheus-client` installed (optional: not added to "
            "the dependencies), the runtime exports `decouple_consumer_lag_records`, "
            "`decouple_consumer_blocked_seconds` and `decouple_consumer_records_total"
            '{outcome="dead_letter"}` on the default registry; a consumer in a process of '
            "its own serves them on `DECOUPLE_METRICS_PORT` (see docs/generated-code.md).",
            "- [ ] The event types (`<topic>.v1`) and payload schemas in the AsyncAPI "
            "documents describe what the consumers expect.",
        ]
    )
    return steps


def _per_pod_delete(consumer: ConsumerSpec, result: MigrationResult) -> bool:
    """Whether the consumer keeps its store in the pod and hands on a delete (its
    subscription's ``ok_statuses`` take a repeat's 404 as done)."""
    endpoint = consumer.topic.endpoint
    if endpoint is None or consumer.module not in {m for m, _ in result.store_notes}:
        return False
    return endpoint.method == "DELETE" or (endpoint.protocol == "grpc" and deletes(endpoint.path))


def _lost_delete(consumer: ConsumerSpec, result: MigrationResult) -> tuple[str, ...]:
    """The runbook's line for a delete whose consumer keeps its store in the pod: its
    redelivery after the store is lost is a first attempt, whose 404 is dead-lettered."""
    if not _per_pod_delete(consumer, result):
        return ()
    return (
        "    - a 404 (`NOT_FOUND`) there may be a delete done before the pod's store was "
        "lost (a restart, a rebalance): check that the thing is gone, then drop the record "
        "rather than redrive it",
    )


def _per_pod(result: MigrationResult, quote: str) -> str:
    """The consumers deployed without a shared idempotency store, and what that means."""
    named = ", ".join(f"{quote}{m}{quote} ({where})" for m, where in result.store_notes)
    if any(_per_pod_delete(c, result) for c in result.plan.consumers):
        return f"{named}: {PER_POD_DEDUPE}. {PER_POD_DELETES}"
    return f"{named}: {PER_POD_DEDUPE}"


def _one_replica(result: MigrationResult, quote: str) -> str:
    """The consumers generated with one replica where their service runs more."""
    named = ", ".join(f"{quote}{m}{quote} ({where})" for m, where in result.replica_notes)
    return f"{named}: {ONE_REPLICA}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _refusals(refusals: Iterable[Refusal]) -> list[Refusal]:
    return sorted(
        refusals, key=lambda r: (r.site.file if r.site else "", r.site.line if r.site else 0)
    )


def _has_reason(refusal: Refusal, finding: Finding) -> bool:
    return any((f.code, f.reason) == (finding.code, finding.reason) for f in refusal.reasons)


def _findings(refusals: Iterable[Refusal]) -> list[Finding]:
    """Each distinct reason once, in the order first met: a code whose reason names what
    differs between sites (the servicer's class) has a line for each."""
    seen: dict[tuple[str, str], Finding] = {}
    for refusal in refusals:
        for finding in refusal.reasons:
            seen.setdefault((finding.code, finding.reason), finding)
    return list(seen.values())


def as_migrated(scan: ScanResult, planned: Iterable[PlannedSite]) -> ScanResult:
    """``scan`` as it will read once the ``planned`` calls are sends (role ``event``)."""
    from dataclasses import replace

    sends = {p.site.id: p.send for p in planned}
    sites = tuple(
        replace(
            s,
            role=Role.EVENT,
            client="kafka",
            url=sends[s.id].topic,
            url_template=sends[s.id].topic,
        )
        if s.id in sends
        else s
        for s in scan.call_sites
    )
    return replace(scan, call_sites=sites)


def _after(result: MigrationResult) -> ScanResult:
    return as_migrated(result.scan, result.plan.rewrites)


def _score_changes(result: MigrationResult) -> str:
    from decouple_services.graph.score import hotspot_scores

    before = hotspot_scores(result.scan)
    after = hotspot_scores(_after(result))
    moved = sorted(
        (name for name in before if after.get(name) != before[name]),
        key=lambda name: (after.get(name, 0) - before[name], name),
    )
    return ", ".join(f"{n} {before[n]:g} → {after.get(n, 0):g}" for n in moved)


def _mermaid(result: MigrationResult, *, after: bool) -> str:
    """The coupling graph as ``decouple graph --mermaid`` draws it, before the migration and
    after it (the migrated calls as events through their topics)."""
    from decouple_services.graph.render_mermaid import render_mermaid
    from decouple_services.graph.score import rank_hotspots
    from decouple_services.graph.view import build_view

    scan = _after(result) if after else result.scan
    return render_mermaid(build_view(scan, rank_hotspots(scan)))
