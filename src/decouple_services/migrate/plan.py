"""The planner: scan + selection -> topics, producers, consumers and one rewrite per site.

Where files go (repo-relative; a service's *import root* is the folder holding its top-level
package, ``services/orders`` for package ``orders``):

* the producer: one per caller service, inside the top-level package of its first migrated
  file (``services/orders/orders/decouple_producer.py``, imported as
  ``orders.decouple_producer``), or next to the file when the caller is not a package;
* a consumer per topic, in the package of the callee's handler
  (``services/emails/emails/decouple_consumers/emails_send.py``, run with
  ``python -m emails.decouple_consumers.emails_send`` from ``services/emails``); its test in
  the callee's ``tests/`` folder (``services/emails/tests/test_emails_send_consumer.py``);
* AsyncAPI 3.0 documents: one per application that sends or receives an event
  (``decouple/asyncapi/orders.yaml``) and the combined view (``decouple/asyncapi.yaml``);
  one topic-creation script for the repository (``decouple/create_topics.py``).

Sites migrated earlier (role ``event``) are planned again from their sends, so the AsyncAPI
document, the script, the producers and the consumers always describe every migrated topic
and a run on migrated code reproduces them unchanged.
"""

from __future__ import annotations

import ast
import functools
import os
import posixpath
import re
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import libcst as cst

from decouple_services.core.errors import DecoupleError
from decouple_services.core.model import (
    CallSite,
    Endpoint,
    ResponseUse,
    Role,
    ScanResult,
    Service,
)
from decouple_services.discover.protos import is_proto_file, read_proto_messages
from decouple_services.graph.migratability import IN_TRANSACTION, Finding, Migratability
from decouple_services.migrate.app_build import (
    BUILD_FUNCTION,
    EntryBuild,
    entry_build,
    entry_candidates,
)
from decouple_services.migrate.codemod import (
    ANSWER_USED,
    CREDENTIAL_HEADERS,
    NOT_REWRITABLE,
    CallFacts,
    Parse,
    ParsedSource,
    Problem,
    SendSpec,
    inspect_calls,
    marker_text,
    wait_note,
    with_path_params,
)
from decouple_services.migrate.deploy import image_settings
from decouple_services.migrate.events import (
    Contribution,
    EventConflict,
    EventName,
    Takes,
    data_schema,
    fields_comment,
    fields_of_marker,
    parse_event_name,
    union,
)
from decouple_services.migrate.fields import Scope, module_file, module_reader, scope_at
from decouple_services.migrate.generate import django_outbox_app
from decouple_services.migrate.grouping import candidates
from decouple_services.migrate.grpc_channel import ChannelVerdict, channel_verdict
from decouple_services.migrate.hazards import (
    StateWrite,
    atomic_requests,
    callee_cautions,
    compensation_caution,
    effect_caution,
    effects_before,
    failure_answered,
    failure_path,
    failure_tolerated,
    handler_writes,
    idempotency,
    identity_caution,
    identity_field,
    key_entity,
    non_atomic_request,
    user_credential_caution,
)
from decouple_services.migrate.helper_request import HELPER_FIX, helper_request
from decouple_services.migrate.images import MINIMUM_PYTHON, image_python
from decouple_services.migrate.naming import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_TOPIC_TEMPLATE,
    consumer_group,
    endpoint_slug,
    event_type,
    module_slug,
    topic_name,
)
from decouple_services.migrate.outbox import DJANGO as OUTBOX_DJANGO
from decouple_services.migrate.outbox import NO_OUTBOX as OUTBOX_REFUSED
from decouple_services.migrate.outbox import SQLALCHEMY as OUTBOX_SQLALCHEMY
from decouple_services.migrate.outbox import add_installed_app, outbox_write, uses_sqlalchemy
from decouple_services.migrate.patched_calls import (
    PatchLine,
    patch_lines,
    patching_note,
    patching_tests,
    reading_tests,
)
from decouple_services.migrate.payload import builds as payload_builds
from decouple_services.migrate.payload import (
    infer_schema,
    key_field,
    literal_values,
    merge_schemas,
    payload_fields,
    value_at,
)
from decouple_services.migrate.refusals import (
    READ_AFTER,
    payload_cautions,
    secret_name,
    servicer_factory,
    site_refusals,
)
from decouple_services.migrate.select import Refusal, Selection
from decouple_services.migrate.servicers import (
    FACTORY_FUNCTION,
    INTERCEPTORS_FUNCTION,
    Bootstrap,
    derive_servicer_factory,
    factory_module_name,
    service_python_files,
)
from decouple_services.migrate.spec import (
    ASYNC_CLIENT,
    SYNC_CLIENTS,
    ConsumerSpec,
    HandlerRef,
    ProducerSpec,
    TopicSpec,
)
from decouple_services.migrate.syntax import (
    function_at,
    own_nodes,
    parse_module,
    reaching_value,
)

PRODUCER_MODULE = "decouple_producer"
CONSUMER_PACKAGE = "decouple_consumers"
ASYNCAPI_PATH = "decouple/asyncapi.yaml"
#: One document per application, named after the service.
ASYNCAPI_DIR = "decouple/asyncapi"
TOPIC_SCRIPT_PATH = "decouple/create_topics.py"

#: ``path -> dotted module name`` as the file's own service imports it.
ModuleOf = Callable[[str], str]
#: ``path -> bytes`` of a repository file, or ``None`` when it does not exist.
ReadFile = Callable[[str], bytes | None]


class PlanError(DecoupleError):
    """The selection cannot be planned (a topic name breaks Kafka's rules, a path escapes)."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    client: str = "kafka-python"
    topic_template: str = DEFAULT_TOPIC_TEMPLATE
    #: ``--event``: the chosen sites become this one domain event (``users.user-registered``).
    event: str | None = None
    #: ``--subscribe``: add a subscriber to an existing domain event, touching no producer.
    subscribe: SubscribeRequest | None = None
    #: ``--outbox``: fire-and-forget sites write their events into the caller's outbox
    #: table, in its database transaction (Django and SQLAlchemy callers only).
    outbox: bool = False
    #: ``--fire-and-forget``: a call whose failure nothing caught still becomes a send that
    #: does not wait (by default it waits and raises, as the call raised).
    fire_and_forget: bool = False
    #: ``--servicer-factory``: ``(name, module:function)`` pairs, a function that builds a
    #: gRPC servicer the consumer cannot construct with no arguments. ``name`` is the gRPC
    #: service's name or the servicer's class (:func:`servicer_factory`).
    servicer_factories: tuple[tuple[str, str], ...] = ()
    #: ``--servicer-interceptors``: ``(name, module:function)`` pairs, a function that
    #: gives the interceptors of a gRPC servicer's server (named as ``servicer_factories``),
    #: which each event then goes through; it wins over the ones generated from the
    #: server's bootstrap.
    servicer_interceptors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    #: The event (``users.user-registered``), as ``--event`` named it.
    event: str
    service: str
    #: The endpoint whose handler takes the events (``POST /events``), or ``None`` when the
    #: service has only one.
    endpoint: str | None = None
    #: The keys of the body the handler takes, each a field of the event's data or
    #: ``key=field`` for a field of another name (``None``: all of the data).
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A domain event's subscriber with no call site of its own (added by ``--subscribe``)."""

    topic: str
    callee: str
    endpoint: Endpoint
    fields: tuple[str, ...] | None
    #: ``(body key, data field)`` of each key taken from a field of another name.
    renames: tuple[tuple[str, str], ...] = ()
    #: ``(body key, constant)`` of each key the consumer adds.
    values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedSite:
    site: CallSite
    send: SendSpec
    cautions: tuple[Finding, ...] = ()
    #: ``await send_event_async`` (the call is in ``async def``).
    in_async_def: bool = False
    #: What a reviewer should know beyond the cautions.
    notes: tuple[str, ...] = ()
    #: Already migrated by an earlier run: planned for the generated files, not rewritten.
    carried: bool = False
    #: The payload expression the rewrite sends (read from the call), when known.
    payload: str | None = None
    #: Part of a domain event: its send is the event's (the first site's) or folded into it.
    event: bool = False
    #: The keys of the body this site's callee takes (``None``: all of the data), each from
    #: the data's field of that name unless ``renames`` or ``values`` say otherwise.
    fields: tuple[str, ...] | None = None
    #: ``(body key, data field)`` of each key taken from a field of another name.
    renames: tuple[tuple[str, str], ...] = ()
    #: ``(body key, constant)`` of each constant its call sent, which the consumer adds.
    values: tuple[tuple[str, Any], ...] = ()
    #: The bound of a send that waits, from the old call's ``timeout=`` (a domain event's
    #: site: the bound of the event's one send, whichever call it came from).
    timeout: str | None = None
    #: The notes (among ``notes``) that say what bounds the wait, as the site's own call
    #: gave it: replaced when the site is folded into a domain event's send.
    bound_notes: tuple[str, ...] = ()
    #: The notes (among ``notes``) on the send's idempotency key, as the site's own send
    #: would have had it: a site folded into a domain event's send says the event's.
    key_notes: tuple[str, ...] = ()
    #: The names (lower case) of the headers the send carries, which the consumer hands on.
    headers: tuple[str, ...] = ()
    #: gRPC: every channel the caller builds was read as adding no metadata (no interceptor,
    #: no call credentials, no client certificate) and the call's own ``metadata=`` holds
    #: no credential, so the call sent none.
    plain_channel: bool = False


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    sites: tuple[PlannedSite, ...]
    refused: tuple[Refusal, ...]
    topics: tuple[TopicSpec, ...]
    producers: tuple[ProducerSpec, ...]
    consumers: tuple[ConsumerSpec, ...]
    #: ``(dependency file's folder, requirement name)`` for each service a send or consumer
    #: was added to: the folder is the service root.
    requirements: tuple[tuple[str, str], ...] = ()
    asyncapi_path: str = ASYNCAPI_PATH
    asyncapi_dir: str = ASYNCAPI_DIR
    topic_script_path: str = TOPIC_SCRIPT_PATH
    already_migrated: tuple[CallSite, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False)
    #: Subscriptions ``--subscribe`` adds (one spec each).
    subscribed: tuple[TopicSpec, ...] = ()
    #: ``(settings file, app)``: the Django outbox apps to list in ``INSTALLED_APPS``.
    outbox_apps: tuple[tuple[str, str], ...] = ()
    #: ``(file, function)`` -> why ``--event`` would refuse to make that function's sends
    #: one domain event: the summary offers the command only for the others.
    event_blockers: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def rewrites(self) -> tuple[PlannedSite, ...]:
        return tuple(p for p in self.sites if not p.carried)

    def asyncapi_application_path(self, service: str) -> str:
        """Where the AsyncAPI document of one application (a service) goes."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", service).strip(".-") or "service"
        return f"{self.asyncapi_dir}/{name}.yaml"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a file's code runs from."""

    import_root: str
    #: Top-level package, or ``None`` for a script-style module.
    package: str | None
    module: str

    @property
    def package_dir(self) -> str:
        if self.package is None:
            return self.import_root
        return _join(self.import_root, self.package.replace(".", "/"))


def layout_of(path: str, module_of: ModuleOf) -> Layout:
    module = module_of(path)
    parts = module.split(".")
    directories = path.split("/")[:-1]
    depth = len(parts) - (0 if path.endswith("/__init__.py") or path == "__init__.py" else 1)
    root = "/".join(directories[: len(directories) - depth]) if depth else "/".join(directories)
    package = parts[0] if len(parts) > 1 or path.endswith("__init__.py") else None
    return Layout(root or ".", package, module)


def _join(*parts: str) -> str:
    joined = posixpath.join(*[p for p in parts if p and p != "."])
    return posixpath.normpath(joined) if joined else "."


def plan_migration(
    result: ScanResult,
    selection: Selection,
    options: PlanOptions,
    *,
    module_of: ModuleOf,
    read: ReadFile,
    parse: Parse = ParsedSource,
) -> MigrationPlan:
    """Decide every name, path and rewrite before anything is rendered or written.

    ``parse`` lets the caller keep each file's tree for the rewrite that follows."""
    if options.client not in SYNC_CLIENTS:
        raise PlanError(f"--client {options.client}: expected one of {', '.join(SYNC_CLIENTS)}")
    endpoints = {(e.service, e.label): e for e in result.endpoints}
    services = {s.name: s for s in result.services}
    event = parse_event_name(options.event) if options.event else None
    chosen = list(selection.chosen)
    event_refused: list[Refusal] = []
    if event is not None:
        chosen, event_refused = _event_selection(selection)
    carried = [s for s in result.call_sites if s.role is Role.EVENT]
    mirrored = _mirrored_factories(result, services, read, module_of)
    listed: dict[tuple[str | None, str | None], list[str]] = {}  # each service's .py files

    # Topic per (callee, endpoint or url path); slugs that collide get the method appended.
    def endpoint_of(site: CallSite) -> Endpoint | None:
        return endpoints.get((site.callee, site.endpoint)) if site.endpoint else None

    slugs: dict[tuple[str, str], set[str]] = defaultdict(set)
    keys: dict[str, tuple[str, str, str]] = {}
    for site in [s for s, _ in chosen] + carried:
        endpoint = endpoint_of(site)
        if endpoint is not None:
            slug = endpoint_slug(endpoint.path, protocol=endpoint.protocol, service=site.callee)
            ident = endpoint.label
        else:
            path = _url_path(site.url_template or "") or ""
            slug = endpoint_slug(path, service=site.callee) or module_slug(
                site.function.rsplit(".", 1)[-1]
            )
            ident = f"{site.method or '*'} {path}"
        slug = slug or (site.method or "event").lower()
        slugs[(site.callee, slug)].add(ident)
        keys[site.id] = (site.callee, slug, ident)
    topic_of: dict[str, str] = {}
    for site in [s for s, _ in chosen] + carried:
        if site.role is Role.EVENT:
            topic_of[site.id] = (site.url_template or site.url).strip("\"'")
            continue
        if event is not None:
            topic_of[site.id] = event.topic
            continue
        callee, slug, ident = keys[site.id]
        if len(slugs[(callee, slug)]) > 1:
            slug = f"{slug}-{kebab_method(ident)}"
        topic_of[site.id] = topic_name(
            options.topic_template,
            callee=callee,
            endpoint=slug,
            caller=site.caller,
            method=site.method or "event",
        )

    # Producers: one per caller service.
    producer_home: dict[str, tuple[str, str, str | None]] = {}
    for site in sorted([s for s, _ in chosen] + carried, key=lambda s: (s.file, s.line)):
        if site.caller in producer_home:
            continue
        layout = layout_of(site.file, module_of)
        if layout.package is not None:
            path = _join(layout.package_dir, f"{PRODUCER_MODULE}.py")
            module = f"{layout.package}.{PRODUCER_MODULE}"
        else:
            path = _join(posixpath.dirname(site.file), f"{PRODUCER_MODULE}.py")
            module = PRODUCER_MODULE
        producer_home[site.caller] = (path, module, layout.package)

    wrappers = {s.function: s for s in result.call_sites if s.role is Role.WRAPPER}
    # the messages the repository's .proto files declare: a gRPC request nesting one with an
    # ``id`` is keyed by it (:func:`nested_key`)
    messages = (
        proto_messages_under(result.root, read)
        if any(s.client == "grpc" for s, _ in chosen)
        else {}
    )
    planned: list[PlannedSite] = []
    refused = [*selection.refused, *event_refused]
    outbox_notes: dict[str, tuple[str, ...]] = {}
    outbox_apps: dict[str, str] = {}
    by_file: dict[str, list[tuple[CallSite, tuple[Finding, ...], SendSpec]]] = defaultdict(list)
    # the calls of one domain event become its one send: none is an effect before another
    folded = {s.id for s, _ in chosen} if event is not None else set()
    # (caller, callee) -> the tests that read the callee right after calling the caller
    reading: dict[tuple[str, str], list[str]] = {}
    channels: dict[str, ChannelVerdict] = {}

    def channel_of(site: CallSite) -> ChannelVerdict:
        # what the caller's gRPC channels add to every call, read once per service; a caller
        # no service claims is read in its file's folder
        service = services.get(site.caller)
        root = service.root if service is not None else posixpath.dirname(site.file) or "."
        if root not in channels:
            channels[root] = channel_verdict(result.root, root, read)
        return channels[root]

    for site, verdict in chosen:
        path, module, package = producer_home[site.caller]
        endpoint = endpoint_of(site)
        unsafe = (
            *site_refusals(site, endpoint, read, dict(options.servicer_factories), mirrored),
            *_read_after(site, result),
        )
        if unsafe:
            refused.append(Refusal(site.id, site, unsafe))
            continue
        params = _path_params(endpoint, site) if endpoint and not site.via_wrapper else ()
        carried_in_url = url_fields(site, len(params))
        foreign = (
            _foreign_callee(
                site.callee,
                "the call",
                services.get(site.callee),
                _callee_code(services.get(site.callee), result.root),
            )
            if endpoint is None and isinstance(carried_in_url, str)
            else None
        )
        if foreign is not None:
            # what the url carries matters no more when no consumer can take the event
            refused.append(Refusal(site.id, site, (Finding(NO_APP, *foreign),)))
            continue
        if isinstance(carried_in_url, str):
            refused.append(
                _not_rewritable(
                    site,
                    carried_in_url,
                    "declare the callee's route so its path parameters are known "
                    "(scan the callee too), or rewrite this call by hand",
                )
            )
            continue
        if endpoint is not None and carried_in_url:
            carried_in_url = _as_route_parameters(endpoint, params, carried_in_url)
        params = (*params, *carried_in_url)
        lost = url_arguments_lost(site, params)
        if lost is not None:
            refused.append(
                _not_rewritable(
                    site,
                    lost,
                    "write the url as an f-string naming the value at the call, or "
                    "rewrite this call by hand",
                )
            )
            continue
        # what the helper the call goes through adds to its request (its credential, its
        # content type), which the send, carrying what the call site names, would lose
        helper = helper_request(
            site,
            wrappers,
            read,
            others=_service_sources(result.root, services.get(site.caller), listed),
        )
        if helper.refusal is not None:
            refused.append(_not_rewritable(site, helper.refusal, HELPER_FIX))
            continue
        relative = 0
        layout = layout_of(site.file, module_of)
        if (
            package is not None
            and layout.package == package
            and _imports_relatively(read(site.file))
        ):
            relative = len(layout.module.split(".")) - (
                0 if site.file.endswith("__init__.py") else 1
            )
        elif package is not None and layout.package != package:
            relative = _relative_within(site.file, path, read)
        key, origin = choose_key(
            params, _payload_of(site.payload), read(site.file), site.line, messages
        )
        send = SendSpec(
            site_id=site.id,
            line=site.line,
            end_line=site.end_line,
            topic=topic_of[site.id],
            callee=site.callee,
            endpoint=site.endpoint,
            producer_module=module,
            relative=relative,
            key=key,
            path_params=params,
            payload_hint=site.payload,
            is_grpc=site.client == "grpc",
            wait=site.response_use is ResponseUse.STATUS,
            key_origin=origin,
            helper_params=_helper_parameters(site, wrappers, read, module_of),
            helper_notes=helper.notes,
            read_sessions=helper.read_sessions,
            read_inherited=helper.read_inherited,
        )
        source = read(site.file)
        undo = failure_path(source, site.line) if source is not None else None
        extra: tuple[Finding, ...] = ()
        if options.outbox:
            how = _outbox_write(site, send, result, module_of, read, producer_home[site.caller])
            if isinstance(how, Refusal):
                refused.append(how)
                continue
            send, outbox_notes[site.id], settings, extra = how
            if settings is not None:
                outbox_apps[settings[0]] = settings[1]
        if undo is not None and not send.wait and send.outbox is None:
            # Lost, the failure it repairs stays; so it waits for Kafka, as the call
            # waited for the callee's connection, and raises when Kafka does not take it.
            send = replace(send, wait=True, compensation=True)
        elif (
            not options.fire_and_forget
            and not send.wait
            and send.outbox is None
            and _failure_reached_caller(site, source, wrappers, read)
        ):
            # The call raised to its caller when the callee was unreachable: a send that
            # does not wait would turn that failure into a loss the caller never sees.
            send = replace(send, wait=True, raised=True)
        cautions = verdict.cautions
        if send.outbox is not None:  # the event now commits and rolls back with the data
            cautions = tuple(c for c in cautions if c != IN_TRANSACTION)
        if undo is not None:
            readers = reading.get((site.caller, site.callee))
            if readers is None:  # the repository's test files, walked once per pair
                readers = reading[(site.caller, site.callee)] = reading_tests(
                    result.root, result.call_sites, site.caller, site.callee
                )
            cautions = (*cautions, compensation_caution(undo, send, readers))
        identity = identity_caution(payload_fields(_payload_of(site.payload)), send.topic)
        unkeyed = key_not_entity(params, send.key) or unordered_update(site, send)
        cautions = (
            *cautions,
            *extra,
            *((unkeyed,) if unkeyed is not None else ()),
            *callee_cautions(site, endpoint, read),
            *_image_python_cautions(site, services, read),
            *_entry_caution(
                endpoint, services.get(endpoint.service) if endpoint else None, read, module_of
            ),
            *payload_cautions(_payload_of(site.payload)),
            *((identity,) if identity is not None else ()),
        )
        by_file[site.file].append((site, cautions, send))
    for file, entries in sorted(by_file.items()):
        source = read(file)
        facts: dict[str, CallFacts | str]
        if source is None:
            facts = {s.id: "the file no longer exists" for s, _, _ in entries}
        else:
            try:
                facts = inspect_calls(source, [send for _, _, send in entries], parse=parse)
            except Exception as exc:  # the file is the unit of failure
                facts = {s.id: f"cannot parse the file: {exc}" for s, _, _ in entries}
        for site, cautions, send in entries:
            fact = facts[site.id]
            if isinstance(fact, str):
                code = fact.code if isinstance(fact, Problem) else NOT_REWRITABLE
                what_to_do = (
                    "keep the request/reply call, or have the callee publish its refusal as an "
                    "event the caller compensates on"
                    if code == ANSWER_USED
                    else "rewrite this call by hand"
                )
                refused.append(Refusal(site.id, site, (Finding(code, str(fact), what_to_do),)))
                continue
            # after the call's own reading, whose reasons (its answer used) tell more
            if site.client == "grpc" and channel_of(site).kind != "plain":
                refused.append(
                    _not_rewritable(
                        site,
                        channel_of(site).reason,
                        "keep the call, or build the stub's channel in the service's code "
                        "with no interceptor, call credentials or client certificate and "
                        "have the callee's server take the consumer's own credential "
                        "(`DECOUPLE_REQUEST_HEADERS`)",
                    )
                )
                continue
            send, key_notes = idempotency(send, fact, source)
            forwarded = user_credential_caution(fact.headers, source, site.line)
            if forwarded is not None:
                cautions = (*cautions, forwarded)
            if send.idempotency_key is not None and source is not None:
                undo = failure_path(source, site.line)
                cautions = tuple(
                    compensation_caution(undo, send, reading.get((site.caller, site.callee), []))
                    if c.code == "compensation" and undo is not None
                    else c
                    for c in cautions
                )
            answered = _helper_answer_note(site, send, source, wrappers, read)
            item = PlannedSite(
                site,
                send,
                cautions,
                fact.in_async_def,
                (
                    *fact.notes,
                    *((answered,) if answered is not None else ()),
                    *outbox_notes.get(site.id, ()),
                    *key_notes,
                ),
                payload=fact.payload,
                timeout=fact.timeout,
                headers=header_names(fact.headers),
                bound_notes=fact.bound_notes,
                key_notes=key_notes,
                plain_channel=site.client == "grpc" and _no_credential(header_names(fact.headers)),
            )
            gap = _body_gap(item, endpoint_of(site), read) if event is None else None
            if gap is not None:
                refused.append(Refusal(site.id, site, (gap,)))
                continue
            planned.append(item)
    if event is not None:
        planned, refused = _one_event(planned, refused, event, read, parse)
    # Once every site's send is known: an earlier call migrated in this change is an
    # effect of another kind than one that stays a call. After the event is made, so its
    # one send is judged where it is written and as it waits.
    planned = _with_effects(planned, result, read, folded)
    # the handlers are read only where two keyed topics of one callee could share state
    keyed: dict[str, set[str]] = defaultdict(set)
    for p in planned:
        if not p.carried and p.send.key is not None:
            keyed[p.site.callee].add(p.send.topic)
    writes = {
        p.site.id: _handler_writes(p, endpoint_of(p.site), read)
        for p in planned
        if not p.carried and len(keyed[p.site.callee]) > 1
    }
    planned = across_topics(planned, writes, result.call_sites)
    planned = _with_patching_tests(planned, services, result.root, module_of)
    for site in carried:
        path, module, _ = producer_home[site.caller]
        send = SendSpec(
            site.id,
            site.line,
            site.end_line,
            topic_of[site.id],
            site.callee,
            site.endpoint,
            module,
            payload_hint=site.payload,
        )
        taken = _carried_event(site, read)
        headers, bound = _carried_send(site, read)
        planned.append(
            PlannedSite(
                site,
                send,
                in_async_def=site.is_async,
                carried=True,
                event=taken.event,
                fields=taken.fields,
                renames=taken.renames,
                values=taken.values,
                headers=headers,
                timeout=bound,
                plain_channel=site.client == "grpc"
                and channel_of(site).kind == "plain"
                and _no_credential(headers),
            )
        )
    planned.sort(key=lambda p: (p.site.file, p.site.line, p.site.id))

    recorded, recorded_types = _recorded_subscribers(read, endpoints)
    added: Subscriber | None = None
    if options.subscribe is not None:
        added = _new_subscriber(options.subscribe, planned, result, recorded, read)
        recorded.setdefault(added.topic, []).append(added)
    topics = _topics(planned, endpoint_of, read, event, recorded, recorded_types)
    consumers = _consumers(topics, result, module_of, read, options, services, mirrored)
    # A consumer that cannot reach the callee's application would dead-letter every event:
    # its producers are refused, not written.
    unusable = {
        c.topic.name: why
        for c in consumers
        if (why := _unusable(c, services.get(c.service), result.root)) is not None
    }
    if unusable:
        kept = []
        for item in planned:
            why = unusable.get(item.send.topic)
            if why is None or item.carried:
                kept.append(item)
                continue
            refused.append(Refusal(item.site.id, item.site, (Finding(NO_APP, *why),)))
        planned = kept
        topics = _topics(planned, endpoint_of, read, event, recorded, recorded_types)
        consumers = _consumers(topics, result, module_of, read, options, services, mirrored)
    producers = _producers(planned, topics, producer_home, options, read)
    kept_apps = {
        django_outbox_app(p.path, p.module)[1] for p in producers if p.outbox == OUTBOX_DJANGO
    }
    requirements = _requirements(planned, consumers, services, options)
    for path in [p.path for p in producers] + [c.path for c in consumers]:
        _inside_repo(path)
    return MigrationPlan(
        sites=tuple(planned),
        refused=tuple(refused),
        topics=topics,
        producers=producers,
        consumers=consumers,
        requirements=requirements,
        already_migrated=selection.already_migrated,
        subscribed=tuple(
            t for t in topics if added and (t.name, t.callee) == (added.topic, added.callee)
        ),
        outbox_apps=tuple(sorted((f, a) for f, a in outbox_apps.items() if a in kept_apps)),
        event_blockers=_event_blockers(planned, read, parse) if event is None else {},
    )


def _read_after(site: CallSite, result: ScanResult) -> tuple[Finding, ...]:
    """``read-after`` (``migrate/refusals.py``): a later call of the same function to the
    same service whose answer is used relies on this call's work being done."""
    if site.callee in ("unknown", ""):
        return ()
    later = sorted(
        (
            other
            for other in result.call_sites
            if other.file == site.file
            and other.function == site.function
            and other.callee == site.callee
            and other.line > site.end_line
            and other.response_use is ResponseUse.BODY
        ),
        key=lambda other: other.line,
    )
    if not later:
        return ()
    first = later[0]
    return (
        Finding(
            READ_AFTER,
            f"`{site.function}` calls {site.callee} again at line {first.line} "
            f"({first.endpoint or first.url}) and uses its answer: it relies on this call's "
            "work being done first, which an event handled later does not give",
            "keep both calls synchronous, or move the read behind the event (the consumer's "
            "side answers it)",
        ),
    )


def _failure_reached_caller(
    site: CallSite, source: str | bytes | None, wrappers: Mapping[str, CallSite], read: ReadFile
) -> bool:
    """Whether a failed call raised to its caller: no ``try`` of the caller's function (nor
    of the helper the call goes through, around its request) catches what it raises. A file
    that does not parse says nothing: the call stays fire-and-forget."""
    places: list[tuple[str | bytes | None, int]] = [(source, site.line)]
    wrapper = wrappers.get(site.via_wrapper or "")
    if wrapper is not None:
        places.append((read(wrapper.file), wrapper.line))
    for text, line in places:
        if text is None:
            return False
        tolerated = failure_tolerated(text, line)
        if tolerated is None or tolerated:
            return False
    return True


def _helper_answer_note(
    site: CallSite,
    send: SendSpec,
    source: bytes | None,
    wrappers: Mapping[str, CallSite],
    read: ReadFile,
) -> str | None:
    """The note of a send that waits in place of a call through a helper that answered a
    failed call itself (``except RequestException: abort(400, ...)``): the send does not go
    through the helper, so that answer is gone, and unless the site's own function catches
    the send's ``EventNotAccepted`` it escapes, where a web handler's caller then answers
    500. The clauses around the call itself are the rewrite's own notes."""
    wrapper = wrappers.get(site.via_wrapper or "")
    if not send.wait or send.outbox is not None or wrapper is None or source is None:
        return None
    helper_source = read(wrapper.file)
    answer = failure_answered(helper_source, wrapper.line) if helper_source else None
    if answer is None or failure_tolerated(source, site.line) is not False:
        return None
    line, clause = answer
    helper = wrapper.function.rsplit(".", 1)[-1]
    function = site.function.rsplit(".", 1)[-1]
    return (
        f"`{helper}` ({wrapper.file}:{line}) turned a failed call into an answer of its own "
        f"(`{clause}`); the send does not go through it, and nothing around the send "
        f"catches its `EventNotAccepted`, so a send Kafka does not accept escapes "
        f"`{function}` unhandled (a web handler above it answers 500 where it answered as "
        "the helper did): catch `EventNotAccepted` around the send and answer as the "
        "helper did"
    )


def _helper_parameters(
    site: CallSite, wrappers: Mapping[str, CallSite], read: ReadFile, module_of: ModuleOf
) -> tuple[tuple[str, str | None], ...]:
    """The parameters of the helper a call goes through, in order (``self`` left out), each
    with its default's source when that is a literal (``pload=None``): a parameter the call
    site leaves out sends that default. Empty when the call is not through a helper whose
    definition is in the repository."""
    wrapper = wrappers.get(site.via_wrapper or "")
    source = read(wrapper.file) if wrapper is not None else None
    if wrapper is None or source is None:
        return ()
    module = layout_of(wrapper.file, module_of).module
    if not wrapper.function.startswith(module + "."):
        return ()
    path = wrapper.function[len(module) + 1 :].split(".")
    try:
        body: list[ast.stmt] = ast.parse(source).body
    except (SyntaxError, ValueError):
        return ()
    found: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for index, name in enumerate(path):
        last = index == len(path) - 1
        node = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and n.name == name
                and (isinstance(n, ast.ClassDef) != last)
            ),
            None,
        )
        if node is None:
            return ()
        if isinstance(node, ast.ClassDef):
            body = node.body
        else:
            found = node
    if found is None:
        return ()
    args = found.args
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr] = dict(
        zip(
            [a.arg for a in positional][len(positional) - len(args.defaults) :],
            args.defaults,
            strict=True,
        )
    )
    defaults.update(
        (a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    )
    names = [a.arg for a in [*positional, *args.kwonlyargs]]
    if len(path) > 1 and names and not _is_static(found):
        names = names[1:]  # self or cls
    return tuple((name, _literal_source(defaults.get(name))) for name in names)


def _is_static(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _literal_source(node: ast.expr | None) -> str | None:
    """A default that is a literal (``None``, ``{}``, ``"json"``, ``3``), as written; ``None``
    for any other (computed when the helper is defined, so not the call site's to copy)."""
    if node is None:
        return None
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return ast.unparse(node)


#: Words of a topic's operation that end, or suspend, what an entity is: an update handled
#: after one of them is lost or refused.
ENDING_WORDS = frozenset(
    {"delete", "destroy", "remove", "cancel", "deactivate", "disable", "drop", "close"}
    | {"archive", "expire", "void", "revoke", "release"}
)


def _topic_words(topic: str) -> list[str]:
    return re.split(r"[-_]", topic.rsplit(".", 1)[-1].lower())


def across_topics(
    planned: Sequence[PlannedSite],
    writes: Mapping[str, Sequence[StateWrite]] | None = None,
    call_sites: Sequence[CallSite] = (),
) -> list[PlannedSite]:
    """``planned`` with the caution ``entity-across-topics`` at each send of one entity
    that goes to a topic other sends of it do not: the event keys of one callee naming the
    same entity (``order_id`` in both, or ``invite.id`` and ``invite_id``) where one of
    the topics ends or suspends it (:data:`ENDING_WORDS`: a delete, a cancel, a
    deactivation), or the same key sent by one function to two topics. Kafka keeps one key's events in order only within a
    partition of one topic, so an update and a delete on two topics can be handled in
    either order.

    Also two keyed sends to one callee whose handlers change the same state (``writes``,
    by site id: :func:`~decouple_services.migrate.hazards.handler_writes`): two updates of
    one field, or two calls of one model method that sets it, do not commute, so a late
    event on one topic moves back what a newer one on the other set. ``call_sites``: the
    scan's, for a read of the callee the send's function makes before it, which an event
    still in flight on the other topic leaves stale."""
    groups: dict[tuple[str, ...], set[str]] = defaultdict(set)
    ends = {
        item.send.topic
        for item in planned
        if set(_topic_words(item.send.topic)) & ENDING_WORDS and not item.carried
    }
    for item in planned:
        entity = key_entity(item.send)
        if item.carried or item.send.key is None:
            continue
        if entity is not None:
            groups[("entity", item.site.callee, entity)].add(item.send.topic)
        groups[("function", item.site.file, item.site.function, item.send.key)].add(item.send.topic)
    shared = _shared_state(planned, writes or {})
    out = []
    for item in planned:
        entity = key_entity(item.send)
        found: set[str] = set()
        if not item.carried and item.send.key is not None:
            if entity is not None:
                same = groups[("entity", item.site.callee, entity)]
                if same & ends:  # updates on two topics both apply; an end races them
                    found |= same
            found |= groups[("function", item.site.file, item.site.function, item.send.key)]
        racing = shared.get(item.site.id, {})
        others = sorted((found | set(racing)) - {item.send.topic})
        if not others:
            out.append(item)
            continue
        what = f"one {entity}" if entity is not None else f"one key (`{item.send.key}`)"
        shown = ", ".join(f"`{t}`" for t in others)
        example = " (a delete before the update sent first)" if found - {item.send.topic} else ""
        state = "".join(
            f"; its handler and that of `{topic}` both {'; both '.join(racing[topic])}, so "
            "a late event on one topic (retried, parked behind a failing one, redriven from "
            "the dead-letter topic) is applied after a newer one on the other and sets the "
            "state back"
            for topic in sorted(racing)
        )
        stale = _read_before(item, call_sites) if racing else None
        caution = Finding(
            "entity-across-topics",
            f"this send of {what} goes to `{item.send.topic}` while other operations on it go "
            f"to {shown}: Kafka keeps the order of one key's events only within a partition "
            f"of one topic, so these can be handled in either order{example}{state}"
            f"{stale or ''}",
            "send the entity's operations to one topic (one event type per operation, one "
            "consumer that dispatches on it), or make each handler check the entity's "
            "version or state before it applies a change",
        )
        out.append(replace(item, cautions=(*item.cautions, caution)))
    return out


def _handler_writes(
    item: PlannedSite, endpoint: Endpoint | None, read: ReadFile
) -> tuple[StateWrite, ...]:
    """The state the callee's handler of a site changes (:func:`handler_writes`)."""
    if endpoint is None or endpoint.protocol != "http" or item.send.key is None:
        return ()
    source = read(endpoint.file)
    if source is None:
        return ()
    return handler_writes(
        source,
        endpoint.handler.rsplit(".", 1)[-1],
        endpoint.line,
        file=endpoint.file,
        find_module=_module_finder(endpoint.file, read),
    )


def _shared_state(
    planned: Sequence[PlannedSite], writes: Mapping[str, Sequence[StateWrite]]
) -> dict[str, dict[str, list[str]]]:
    """Site id -> each other topic whose handler changes state this site's handler changes
    too -> what they share, as the caution names it. Both sends keyed, to one callee, and
    not keyed by two different entities (an order's and a user's events do not race)."""
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for item in planned:
        mine = {w.key: w for w in writes.get(item.site.id, ())}
        if item.carried or item.send.key is None or not mine:
            continue
        entity = key_entity(item.send)
        for other in planned:
            if (
                other.carried
                or other.send.key is None
                or other.send.topic == item.send.topic
                or other.site.callee != item.site.callee
            ):
                continue
            theirs = {w.key: w for w in writes.get(other.site.id, ())}
            entities = (entity, key_entity(other.send))
            if None not in entities and entities[0] != entities[1]:
                continue
            common = sorted(mine.keys() & theirs.keys())
            if common:
                out[item.site.id][other.send.topic] = [
                    f"{mine[k].shown} ({mine[k].at}; {theirs[k].at})" for k in common
                ]
    return out


def _read_before(item: PlannedSite, call_sites: Sequence[CallSite]) -> str | None:
    """The read of the callee that the send's function makes before the send, as the
    caution names it: what it reads may not yet hold an event of the other topic."""
    for other in call_sites:
        if (
            other.role is Role.CALL
            and other.file == item.site.file
            and other.function == item.site.function
            and other.callee == item.site.callee
            and other.line < item.site.line
            and (other.method or "").upper() in ("GET", "HEAD")
        ):
            return (
                f"; this function reads {other.callee} before it sends "
                f"({other.file}:{other.line}): what it reads does not hold yet an event "
                "of the other topic that is still waiting to be handled"
            )
    return None


#: Words an RPC's name starts with when it only reads.
_READ_RPCS = frozenset({"get", "list", "find", "search", "read", "fetch", "check", "lookup"})


def _changes(site: CallSite) -> bool:
    """Whether a call changes something in the service it calls: an HTTP
    ``POST``/``PUT``/``PATCH``/``DELETE``, an RPC whose name does not say it only reads."""
    method = site.method or ""
    if site.client == "grpc":
        words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", method).lower().split("_")
        return bool(words) and words[0] not in _READ_RPCS
    return method.upper() in ("POST", "PUT", "PATCH", "DELETE")


def _with_effects(
    planned: Sequence[PlannedSite],
    result: ScanResult,
    read: ReadFile,
    folded: set[str] | frozenset[str] = frozenset(),
) -> list[PlannedSite]:
    """Each send that waits given its ``effect-before-send`` caution
    (:func:`~decouple_services.migrate.hazards.effects_before`): what its function, and the
    functions of the repository it calls first, did for good before it. The other calls
    that change something are the scan's call sites; one planned in this change is named
    as the send it becomes, and a send an earlier migration wrote is one too. ``folded``: the sites that become one send with it (a domain
    event's), none an effect of another."""
    mine = {p.site.id: p for p in planned if not p.carried}
    calls: dict[tuple[str, int], str] = {}
    for other in result.call_sites:
        if other.id in folded:
            continue
        if other.role is Role.EVENT:  # a send an earlier migration wrote
            topic = (other.url_template or other.url).strip("\"'")
            calls[(other.file, other.line)] = f"the send to `{topic}`, migrated before"
            continue
        if not _changes(other):
            continue
        sent = mine.get(other.id)
        calls[(other.file, other.line)] = _send_text(sent) if sent is not None else ""
    out = []
    for item in planned:
        source = read(item.site.file) if item.site.id in mine else None
        # A call folded into a domain event's send has no send of its own to raise: the
        # event's send, where its first call was, carries the caution for all of them.
        if (
            source is None
            or not item.send.wait
            or item.send.outbox is not None
            or item.send.fold_into is not None
        ):
            out.append(item)
            continue
        effects = effects_before(
            source,
            item.site.line,
            file=item.site.file,
            calls=calls,
            find_module=_module_finder(item.site.file, read),
        )
        caution = effect_caution(effects, item.site.file, item.send)
        if caution is None:
            out.append(item)
            continue
        cautions = list(item.cautions)
        # before the identity caution, where the summary has always put it
        at = next((n for n, c in enumerate(cautions) if c.code == "identity-in-payload"), None)
        cautions.insert(len(cautions) if at is None else at, caution)
        out.append(replace(item, cautions=tuple(cautions)))
    return out


def _with_patching_tests(
    planned: Sequence[PlannedSite],
    services: Mapping[str, Service],
    repo_root: str | None,
    module_of: ModuleOf,
) -> list[PlannedSite]:
    """Each site with a note naming the caller's tests that patch the call it replaces
    (:mod:`decouple_services.migrate.patched_calls`), once its send is final."""
    out = []
    lines: dict[str, list[PatchLine]] = {}  # each service's test files, read once
    for item in planned:
        service = services.get(item.site.caller)
        found: list[str] = []
        if service is not None and not item.carried:
            if service.root not in lines:
                lines[service.root] = patch_lines(repo_root, service.root)
            found = patching_tests(lines[service.root], item.site, module_of(item.site.file))
        if item.send.outbox is not None:
            async_outbox = item.in_async_def and item.send.outbox == "sqlalchemy"
            send = "send_via_outbox_async" if async_outbox else "send_via_outbox"
        else:
            send = "send_event_and_wait" if item.send.wait else "send_event"
            send += "_async" if item.in_async_def else ""
        note = patching_note(found, module_of(item.site.file), send)
        out.append(replace(item, notes=(*item.notes, note)) if note else item)
    return out


def _send_text(item: PlannedSite) -> str:
    """A send of this change, as an effect-before-send caution names it."""
    how = (
        " through the outbox (its row commits with the caller's transaction, unless this "
        "send's failure rolls that back)"
        if item.send.outbox is not None
        else ""
    )
    return f"the send of {item.site.id} to `{item.send.topic}`, migrated in this change{how}"


def _module_finder(path: str, read: ReadFile) -> Callable[[str, int], tuple[str, bytes] | None]:
    """The repository's module a file imports, for a caution: one that cannot be read
    safely (a link out of the tree) is none, and stops nothing."""
    find = module_file(path, read)

    @functools.cache
    def safe(module: str, level: int) -> tuple[str, bytes] | None:
        try:
            return find(module, level)
        except DecoupleError:
            return None

    return safe


def _payload_of(hint: str | None) -> str | None:
    """The payload expression of a scan's ``json=order``."""
    if hint is None:
        return None
    keyword, eq, expression = hint.partition("=")
    return expression if eq and keyword.isidentifier() else hint


def choose_key(
    params: Sequence[tuple[str, str]],
    payload: str | None,
    caller: str | bytes | None = None,
    line: int = 0,
    messages: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str | None, str]:
    """The Kafka key of a send, decided now so a reviewer sees it: the entity id the url
    carried (a path parameter named ``id`` or ``*_id``, else the only one when it is named as
    an id, :func:`names_an_id`), else the payload's
    ``id`` or first ``*_id`` field, else the ``id`` of the one message the payload nests
    (:func:`nested_key`; ``caller``: the source of the file, ``line``: the call's). Events
    with one key keep their order. ``(None, why)`` when there is no entity id to key by.
    ``messages``: the repository's proto messages (:func:`proto_messages_under`)."""
    named = [(n, src) for n, src in params if n == "id" or n.endswith("_id")]
    only = params[0] if len(params) == 1 else None
    chosen = named[0] if named else only if only and names_an_id(only[0]) else None
    if chosen is not None:
        return chosen[1], f"path parameter {chosen[0]}"
    field = key_field(payload, skip=identity_field)
    source = _field_source(payload, field) if field else None
    if field is not None and source is not None:
        return source, f"the payload's {field}"
    nested = nested_key(payload, caller, line, messages) if caller is not None else None
    if nested is not None:
        return nested
    if only is not None:
        return None, f"no entity id in the url or the payload: {only[0]} is not named as one"
    return None, "no entity id in the url or the payload"


#: The name of a path parameter that holds an entity's id (``id``, ``order_id``, ``pk``,
#: ``uuid``, ``order_uuid``, ``orderId``) or a natural key of one (``sku``, ``slug``,
#: ``username``, ``email``, ``order_number``).
_ID_NAME = re.compile(
    r"(?:.+_)?(?:id|pk|uuid|guid|uid|sku|slug|key|code|number|no|username|email)"
    r"|[a-z].*[a-z0-9](?:Id|Uuid|Key|Slug)"
)


def names_an_id(name: str) -> bool:
    """Whether a path parameter is named as an entity's id or natural key: only such a one
    keys a send when it is the url's only parameter (``/fhir/{resource_name}`` names a
    kind of resource, and keying by it would put every event of that kind behind a
    failing one)."""
    return bool(_ID_NAME.fullmatch(name)) or name.lower() in ("id", "pk", "uuid")


def key_not_entity(params: Sequence[tuple[str, str]], key: str | None) -> Finding | None:
    """``key-not-entity`` when a send goes without a key although the url carries one
    path parameter, not named as an id: the reviewer decides whether its events need the
    order a key would give, at the price it has."""
    if key is not None or len(params) != 1 or names_an_id(params[0][0]):
        return None
    name = params[0][0]
    return Finding(
        "key-not-entity",
        f"the url's only path parameter, `{name}`, is not named as an entity id, so the "
        "event is sent without a key: its events are spread over the topic's partitions "
        f"and handled in no set order. Keyed by `{name}`, every event with the same "
        f"`{name}` would share a partition and wait behind a failing one",
        f"nothing to do when the events of one `{name}` need no order; else pass "
        f"`key={params[0][1]}` to the send, knowing that one failing event then holds "
        "back the later ones until it is dead-lettered",
    )


#: Words of an operation that sets an entity's state: two of them for one entity applied
#: in the wrong order leave the older state.
UPDATE_WORDS = frozenset({"update", "set", "patch", "edit", "modify"})


def unordered_update(site: CallSite, send: SendSpec) -> Finding | None:
    """``unordered-update`` when a send without a key carries an update (a ``PUT`` or
    ``PATCH``, a topic or gRPC method named ``update_*``, ``set_*``, ``patch_*``): its events
    are spread over the partitions, and one that fails waits in a retry tier while the
    next goes on, so two updates of one entity may be applied in either order."""
    if send.key is not None:
        return None
    operation = send.topic.rsplit(".", 1)[-1]
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", operation).lower().replace("-", "_")
    method = (site.method or "").upper()
    if method not in ("PUT", "PATCH") and not UPDATE_WORDS.intersection(words.split("_")):
        return None
    what = f"`{method}`" if method in ("PUT", "PATCH") else f"`{operation}`"
    return Finding(
        "unordered-update",
        f"the send carries an update ({what}) without a key: its events are spread over "
        "the topic's partitions, and one that fails waits in a retry tier while the next "
        "goes on, so two updates of one entity may be applied in either order and the "
        "older one kept",
        "pass `key=` the updated entity's id to the send (its events then share a "
        "partition and keep their order), or make the handler refuse an update older "
        "than the state it holds",
    )


#: Methods that turn a model into the message a field of a gRPC request holds.
_TO_MESSAGE = frozenset({"to_proto", "to_pb", "to_protobuf", "to_grpc", "to_message"})


def nested_key(
    payload: str | None,
    caller: str | bytes,
    line: int,
    messages: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str, str] | None:
    """The ``id`` of the one message a payload nests, one level down, as ``(source,
    origin)``: ``Req(invite=Invite(id=x, ...))`` -> ``x``; ``Req(invite=invite.to_proto())``
    -> ``invite.id`` when the function making the call reads ``invite.id`` itself, or when
    the request's message (``messages``: the repository's, by name) types the field with a
    message that has an ``id`` field (``GrpcInvite invite = 1`` and ``string id = 1`` in
    ``GrpcInvite``), which ``to_proto()`` fills from the model's. Fields that carry who asks
    (``requesting_user``) are not the entity; two messages with an id are not one entity:
    ``None``."""
    tree = parse_module(caller)
    function = function_at(tree, line) if tree is not None else None
    read = (
        {ast.unparse(n) for n in own_nodes(function) if isinstance(n, ast.Attribute)}
        if function is not None
        else set()
    )
    request = _request_message(payload, tree, messages or {})
    found: list[tuple[str, str]] = []
    for name, value in payload_fields(payload):
        if identity_field(name) or not isinstance(value, ast.Call):
            continue
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in _TO_MESSAGE and not value.args:
            owner = ast.unparse(func.value)
            nested = (messages or {}).get(request.get(name, "").rsplit(".", 1)[-1], {})
            if isinstance(func.value, ast.Name | ast.Attribute) and (
                f"{owner}.id" in read or "id" in nested
            ):
                found.append((f"{owner}.id", f"the payload's {name}.id"))
            continue
        inner = [k for k in value.keywords if k.arg == "id"]
        if inner and not value.args and payload_builds(func):
            text = ast.unparse(inner[0].value)
            if "\n" not in text:
                found.append((text, f"the payload's {name}.id"))
    return found[0] if len(found) == 1 else None


def _request_message(
    payload: str | None, tree: ast.Module | None, messages: Mapping[str, Mapping[str, str]]
) -> Mapping[str, str]:
    """The fields (name -> type) of the proto message a payload builds
    (``GrpcNotificationRequest(...)``, the name the module imports ``NotificationRequest``
    as, or ``pb2.NotificationRequest(...)``); empty when it is not one of ``messages``."""
    node = _parse_expression(payload) if payload else None
    if not messages or not isinstance(node, ast.Call):
        return {}
    func = node.func
    if isinstance(func, ast.Attribute):
        return messages.get(func.attr, {})
    if not isinstance(func, ast.Name):
        return {}
    name = func.id
    for imported in ast.walk(tree) if tree is not None else ():
        if isinstance(imported, ast.ImportFrom):
            for alias in imported.names:
                if alias.asname == name:
                    name = alias.name
    return messages.get(name, {})


#: Folders never searched for ``.proto`` files: virtual environments, dependencies, VCS.
_NOT_SOURCE = frozenset({"node_modules", "venv", "site-packages", "__pycache__"})


def _service_sources(
    root: str | None,
    service: Service | None,
    listed: dict[tuple[str | None, str | None], list[str]],
) -> Callable[[], list[str]]:
    """The repo-relative ``.py`` files under ``service``'s root but its tests
    (:func:`service_python_files`), listed when first asked
    (only a call sent through a module session asks), once a service into ``listed``."""
    key = (root, service.root if service is not None else None)

    def files() -> list[str]:
        if key not in listed:
            listed[key] = (
                service_python_files(root, service.root) if root and service is not None else []
            )
        return listed[key]

    return files


def proto_messages_under(root: str | None, read: ReadFile) -> Mapping[str, Mapping[str, str]]:
    """The messages of the ``.proto`` files under ``root`` (the repository), each read
    through ``read`` (its path relative to ``root``), by their own name
    (:func:`read_proto_messages`); none when the root is not a folder."""
    if not root or not os.path.isdir(root):
        return {}
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCE)
        rel = os.path.relpath(folder, root)
        paths += [
            posixpath.join(*Path(rel).parts, f) if rel != "." else f
            for f in sorted(files)
            if is_proto_file(f)
        ]
    return read_proto_messages(paths, read)


def _field_source(payload: str | None, field: str) -> str | None:
    """The source of ``field``'s value in a payload that names it (a literal dict's key, a
    message's keyword; ``order.id``: a key of a dict it nests), if it is a simple one."""
    value = value_at(payload, field)
    if value is None:
        return None
    text = ast.unparse(value)
    return text if "\n" not in text else None


def kebab_method(ident: str) -> str:
    return ident.split(" ", 1)[0].lower().replace("*", "any")


def _url_path(url: str) -> str | None:
    if "://" in url:
        rest = url.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return url if url.startswith("/") else None


def _without_base(template: str) -> str:
    """The template's path when it starts with its base as a run-time value
    (``{get_kernel_url(…)}/projects/{project_id}/`` -> ``/projects/{project_id}/``): the
    scan matched the path after it; the template as it is otherwise."""
    if not template.startswith("{"):
        return template
    depth = 0
    for index, char in enumerate(template):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            rest = template[index + 1 :]
            return rest if rest.startswith("/") else template
    return template


#: A value only known at run time in a url's path or query (``/orders/{order.id}``, ``?{q}``),
#: as the resolved template shows it; one glued to another (``{base}{path}``) is configuration.
_RUNTIME_PART = re.compile(r"(?<=[/?=&])\{[^{}]*\}")


def url_fields(site: CallSite, matched: int) -> tuple[tuple[str, str], ...] | str:
    """Values the url carries beyond the ``matched`` path parameters of its endpoint, as
    ``(field, source)`` for the event's data, or why they cannot be carried (the event would
    lose them). They are read from the url as written at the call: an f-string's
    placeholders (``f"{GATEWAY}/stock/{item_id}/{qty}"`` -> ``item_id``, ``qty``)."""
    template = site.url_template or ""
    rest = template.split("://", 1)[1] if "://" in template else template
    rest = rest[rest.find("/") :] if "/" in rest else ""
    parts = _RUNTIME_PART.findall(rest)
    if len(parts) <= matched:
        return ()
    expressions = _url_placeholders(site.url)
    if expressions is None or len(expressions) != len(parts):
        return (
            f"the url carries values known only at run time ({', '.join(parts[matched:])}) "
            "that no endpoint names, so the event would lose them"
        )
    out = []
    for expression in expressions[matched:]:
        name = _field_name(expression)
        if name is None:
            return (
                f"the url carries `{ast.unparse(expression)}`, which has no name to carry it "
                "under in the event"
            )
        out.append((name, ast.unparse(expression)))
    return tuple(out)


def url_arguments_lost(site: CallSite, carried: Sequence[tuple[str, str]]) -> str | None:
    """Why the event would lose a value the url was made from, or ``None``: the url as
    written calls a helper with a value (``get_submissions_url(submission_id)``) that none of
    the path parameters the event carries reads. The scan resolves such a helper's path
    without the value (``/submissions/``), so the consumer would call that path instead of
    the one the call reached (``/submissions/{id}/``). Literals and names or attributes in
    capitals (``settings.BASE_URL``) are configuration, which the resolved path holds; so is
    a name or attribute the scan followed to its value (``users_url <- admin.py:10``), such as
    the url's base (``urljoin(users_url, ...)``): it says where the callee lives, which the
    scan resolved to the service, not a value the event must carry."""
    if site.client == "grpc":
        return None
    try:
        url = cst.parse_expression(site.url.strip(), config=_F_STRINGS)
    except cst.ParserSyntaxError:
        return None
    read = {n for _, source in carried for n in _names_read(source)}
    resolved = _resolved_names(site.evidence)
    for node in _calls_in(url):
        given = [
            _EMPTY.code_for_node(a.value)
            for a in node.args
            if not _constant(a.value) and not _base_argument(a.value, resolved)
        ]
        names = [n for text in given for n in _names_read(text)]
        lost = [n for n in dict.fromkeys(names) if n not in read]
        if lost:
            rest = _without_base(site.url_template or "")
            called = (
                (site.endpoint or "").partition(" ")[2]
                or _url_path(rest)
                or (rest if rest.startswith("/") else "its route")
            )
            return (
                f"the url at line {site.line} is made by `{_EMPTY.code_for_node(node)}`, "
                f"whose {', '.join(f'`{n}`' for n in lost)} the event does not carry: the "
                f"consumer would call the path the scan resolved (`{called}`), which need "
                "not hold what that value put in the url"
            )
    return None


def _resolved_names(evidence: Sequence[str]) -> set[str]:
    """The names and attributes the scan followed to a value on the way to the url
    (``users_url <- admin.py:10``, ``self.base_url <- KernelClient(...) at ...``): their value
    is in the resolved url, so they are configuration, not values known only at run time."""
    return {e.partition(" <- ")[0].strip() for e in evidence if " <- " in e}


def _base_argument(value: cst.BaseExpression, resolved: set[str]) -> bool:
    """Whether a call's argument is a name or attribute the scan followed to its value (an
    evidence line names it, whole or by its last part: ``kernel_url`` for
    ``settings.kernel_url``), such as the url's base (``urljoin(users_url, ...)``): that value
    is in the resolved url. Its position alone does not say so: ``urljoin(one, "x/")`` after
    ``one = submission_url(submission_id)`` puts a run-time value in the path."""
    if not isinstance(value, cst.Name | cst.Attribute):
        return False
    text = _EMPTY.code_for_node(value)
    return text in resolved or text.rpartition(".")[2] in resolved


def _constant(value: cst.BaseExpression) -> bool:
    """A literal, or a name or attribute spelt in capitals (``BASE``,
    ``settings.RECOMMENDATIONS_URL``): configuration, which the resolved url holds."""
    if isinstance(value, cst.Attribute):
        return value.attr.value.isupper()
    if isinstance(value, cst.Name):
        return value.value.isupper()
    return isinstance(value, cst.SimpleString | cst.Integer | cst.Float)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """The calls within an expression, outermost first."""
    found: list[cst.Call] = []

    class _Visit(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            found.append(node)

    node.visit(_Visit())
    return found


def _names_read(source: str) -> set[str]:
    """The names an expression's source reads (``order.id`` reads ``order``)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _as_route_parameters(
    endpoint: Endpoint,
    matched: Sequence[tuple[str, str]],
    carried: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str], ...]:
    """The url's values under the names the callee's route gives them, in order
    (``f"{GATEWAY}/subtract/{item_id}/{quantity}"`` to ``/subtract/{item_id}/{amount}``
    carries ``quantity`` as ``amount``): the consumer reads the route's names."""
    if endpoint.protocol != "http":
        return carried
    names = re.findall(r"\{(\w+)", endpoint.path)
    rest = names[len(matched) :]
    if len(rest) != len(carried):
        return carried
    return tuple((name, source) for name, (_, source) in zip(rest, carried, strict=True))


def _url_placeholders(source: str) -> list[ast.expr] | None:
    """The placeholders of the url's f-string after its base (the first part, which names the
    host), or ``None`` when the url is not written as one at the call. A helper's url argument
    placed inside its own f-string counts with its placeholders (``f"{BASE}/{url}"`` given
    ``url=f"projects/{pk}/"`` reads ``f"{BASE}/{f'projects/{pk}/'}"``, quotes and all, which
    only Python 3.12's parser reads: libcst reads it on any Python)."""
    try:
        node = cst.parse_expression(source.strip(), config=_F_STRINGS)
    except cst.ParserSyntaxError:
        return None
    strings = [node] if isinstance(node, cst.FormattedString) else []
    if isinstance(node, cst.BinaryOperation) and isinstance(node.right, cst.FormattedString):
        strings = [node.right]  # API_URL + f"contacts/{name}"
    if not strings:
        return None
    parts = strings[0].parts
    found = [p.expression for p in parts if isinstance(p, cst.FormattedStringExpression)]
    if strings[0] is node and parts and isinstance(parts[0], cst.FormattedStringExpression):
        found = found[1:]  # f"{BASE}/..."
    out: list[ast.expr] = []
    for expression in (e for value in found for e in _flattened(value)):
        try:
            out.append(ast.parse(_EMPTY.code_for_node(expression), mode="eval").body)
        except SyntaxError:
            return None
    return out


_F_STRINGS = cst.PartialParserConfig(python_version="3.12")
_EMPTY = cst.Module(body=())


def _flattened(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The placeholders of an f-string placed inside another, in order; a literal placed in
    one (``{'projects'}``) carries nothing."""
    if isinstance(value, cst.SimpleString | cst.ConcatenatedString | cst.Integer):
        return []
    if not isinstance(value, cst.FormattedString):
        return [value]
    return [
        part
        for item in value.parts
        if isinstance(item, cst.FormattedStringExpression)
        for part in _flattened(item.expression)
    ]


def _field_name(expression: ast.expr) -> str | None:
    """``item_id`` -> ``item_id``; ``order.user_id`` -> ``user_id``; ``course.id`` ->
    ``course_id``; anything computed -> ``None``."""
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Attribute):
        if expression.attr == "id" and isinstance(expression.value, ast.Name | ast.Attribute):
            owner = _field_name(expression.value)
            return f"{owner}_id" if owner and owner != "self" else "id"
        return expression.attr
    return None


def _path_params(endpoint: Endpoint, site: CallSite) -> tuple[tuple[str, str], ...]:
    """``(name, source)`` for each ``{name}`` of the endpoint's path the url fills in."""
    if endpoint.protocol != "http" or "{" not in endpoint.path:
        return ()
    url_path = _url_path(_without_base(site.url_template or ""))
    if url_path is None:
        return ()
    wanted = [s for s in endpoint.path.strip("/").split("/")]
    given = [s for s in url_path.split("?", 1)[0].strip("/").split("/")]
    if len(wanted) != len(given):
        return ()
    # the scan may show a value it followed (``{self.order_id}`` as ``{UUIDField(…)}``): the
    # url's own placeholder, in the same place, is the source the send reads, as the text
    # the url made of it
    written = _url_placeholders(site.url)
    if written is not None and len(written) != len(_RUNTIME_PART.findall(url_path)):
        written = None
    out = []
    placed = 0  # run-time segments seen so far, the index of the url's placeholder
    for pattern, segment in zip(wanted, given, strict=True):
        inner = re.fullmatch(r"\{(.+)\}", segment)
        placed += inner is not None
        match = re.fullmatch(r"\{(\w+)(?::[^}]*)?\}", pattern)
        if match is None:
            continue
        if inner is not None:
            source = inner.group(1)
            if not _parses(source) and written is not None:
                # the url carried it as text; what the scan followed it to (a model's
                # UUIDField, a Decimal, a date) may be nothing JSON encodes
                source = f"str({ast.unparse(written[placed - 1])})"
            out.append((match.group(1), source))
        elif segment:
            out.append((match.group(1), repr(segment)))
    return tuple(out)


def _parses(source: str) -> bool:
    try:
        ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return True


_RELATIVE_IMPORT = re.compile(rb"^\s*from\s+\.", re.MULTILINE)


def _imports_relatively(source: bytes | None) -> bool:
    return source is not None and _RELATIVE_IMPORT.search(source) is not None


def _relative_within(file: str, producer: str, read: ReadFile) -> int:
    """Leading dots of a relative import of ``producer`` from ``file``, when ``file``'s own
    imports root it elsewhere than the producer's (``from caluma.extensions.settings import
    settings`` in a file of the package the producer took as ``extensions``) and both are in
    one package: an absolute ``extensions.decouple_producer`` would fail under the file's
    root, and ``caluma.extensions.decouple_producer`` under the producer's; a relative import
    holds under either. 0 (absolute) when the file is not inside the producer's package."""
    home = posixpath.dirname(producer)
    folder = posixpath.dirname(file)
    if home in ("", ".") or not (folder == home or folder.startswith(home + "/")):
        return 0
    below = [] if folder == home else folder[len(home) + 1 :].split("/")
    for depth in range(len(below) + 1):
        if read(_join(home, *below[:depth], "__init__.py")) is None:
            return 0
    return len(below) + 1


def _topics(
    planned: Sequence[PlannedSite],
    endpoint_of: Callable[[CallSite], Endpoint | None],
    read: ReadFile,
    event: EventName | None = None,
    recorded: Mapping[str, Sequence[Subscriber]] | None = None,
    recorded_types: Mapping[str, str] | None = None,
) -> tuple[TopicSpec, ...]:
    groups: dict[str, list[PlannedSite]] = defaultdict(list)
    for item in planned:
        groups[item.send.topic].append(item)
    topics: list[TopicSpec] = []
    for name, items in sorted(groups.items()):
        if any(i.event for i in items):
            kind = (
                event.type
                if event is not None and event.topic == name
                else (recorded_types or {}).get(name, event_type(name))
            )
            extra = (recorded or {}).get(name, ())
            topics.extend(_event_topics(name, kind, items, endpoint_of, read, extra))
            continue
        callees = {i.site.callee for i in items}
        if len(callees) > 1:
            raise PlanError(
                f"topic {name!r} would be consumed by {', '.join(sorted(callees))}: "
                "use a --topic-template with {callee}"
            )
        endpoint = next((e for e in map(endpoint_of, (i.site for i in items)) if e), None)
        payloads = [_payload_text(i) for i in items]
        # what the data holds, for its schema and the sample of the generated test: a
        # payload bound to a dict literal above the call (``data = {"text": text}``) is it
        shapes = [_payload_text(i, read) for i in items]
        params: tuple[str, ...] = ()
        if endpoint is not None and endpoint.protocol == "http":
            params = tuple(re.findall(r"\{(\w+)", endpoint.path))
        topics.append(
            TopicSpec(
                name=name,
                dead_letter=name + DEAD_LETTER_SUFFIX,
                callee=items[0].site.callee,
                producers=tuple(sorted({i.site.caller for i in items})),
                event_type=event_type(name),
                endpoint=endpoint,
                payload_schema=merge_schemas([infer_schema(p) for p in shapes]),
                site_ids=tuple(sorted(i.site.id for i in items)),
                path_params=params,
                key_field=key_field(payloads[0], params, identity_field)
                if len({key_field(p, params, identity_field) for p in payloads}) == 1
                else None,
                headers=tuple(sorted({h for i in items for h in i.headers})),
                literals=literal_values(shapes[0]),
                final_statuses=final_statuses(items, endpoint),
            )
        )
    return tuple(topics)


def _no_credential(headers: Sequence[str]) -> bool:
    """Whether none of the headers a send carries (a gRPC call's ``metadata=``) is a
    credential (``authorization``, or named like a secret: ``x-api-key``): only then did a
    call on a plain channel send no credential of its caller's."""
    return not any(h in CREDENTIAL_HEADERS or secret_name(h) for h in headers)


#: The answers a subscription whose refusals are of the user its data names dead-letters at
#: once: UNAUTHENTICATED/401 and PERMISSION_DENIED/403, which the runtime otherwise retries
#: as a refusal of the consumer's own credential.
USER_REFUSALS = (401, 403)


def final_statuses(items: Sequence[PlannedSite], endpoint: Endpoint | None) -> tuple[int, ...]:
    """:data:`USER_REFUSALS` when the callee's refusal can only be of the user the event
    names: some site's data carries who asks (``identity-in-payload``: the callee checks
    that user, and a retry asks for the same user again, holding the key's later events
    behind it for the whole backoff), or a gRPC call sent no credential metadata (none in
    the call's ``metadata=``, and every channel its service builds was read as plain:
    no interceptor, no call credentials, no client certificate; its server checked none of
    the caller's, and the consumer sends none either). A call that sent a credential keeps
    the runtime's rule: a 401/403 for the consumer's own credential is retried, one for the
    caller's forwarded credential is final."""
    headers = {h for i in items for h in i.headers}
    if headers & CREDENTIAL_HEADERS:
        return ()
    says_who = any(c.code == "identity-in-payload" for i in items for c in i.cautions) or any(
        identity_field(n, v) for i in items for n, v in payload_fields(_payload_text(i))
    )
    # only where every channel the callers build was read as plain: an interceptor or call
    # credentials send a credential the call does not name, which the consumer lacks
    grpc = (
        endpoint is not None and endpoint.protocol == "grpc" and all(i.plain_channel for i in items)
    )
    return USER_REFUSALS if says_who or grpc else ()


def _payload_text(item: PlannedSite, read: ReadFile | None = None) -> str | None:
    """The event's data as the send writes it: the payload, with the path parameters the
    url carried as fields (a send migrated earlier already has them). With ``read``, what
    that data holds: a local name in it (the whole payload, or ``**name`` in a dict) bound
    to a dict literal before the call, and never changed, is read as that literal
    (:func:`reaching_value`), as the send's data is the same whether the site is migrated
    now or was before."""
    payload = item.payload or _payload_of(item.send.payload_hint)
    if not (item.carried or item.send.is_grpc or not item.send.path_params):
        payload = with_path_params(payload, item.send.path_params)[0]
    if read is None or payload is None:
        return payload
    node = _parse_expression(payload)
    tree = parse_module(read(item.site.file)) if node is not None else None
    if tree is None or node is None:
        return payload

    def literal(name: ast.expr | None) -> ast.Dict | None:
        if not isinstance(name, ast.Name):
            return None
        value = reaching_value(tree, item.site.line, name.id)
        return value if isinstance(value, ast.Dict) else None

    whole = literal(node)
    if whole is not None:
        return ast.unparse(whole)
    if not isinstance(node, ast.Dict):
        return payload
    keys: list[ast.expr | None] = []
    values: list[ast.expr] = []
    for key, value in zip(node.keys, node.values, strict=True):
        inner = literal(value) if key is None else None
        if inner is not None:
            # ``{**event, "order_id": order_id}``: event's entries, in its place
            keys += inner.keys
            values += inner.values
        else:
            keys.append(key)
            values.append(value)
    return ast.unparse(ast.Dict(keys=keys, values=values))


#: FastAPI's markers of a parameter that is not the request's body.
_NOT_BODY = {"Depends", "Security", "Query", "Path", "Header", "Cookie", "File", "Form"}


def _body_gap(item: PlannedSite, endpoint: Endpoint | None, read: ReadFile) -> Finding | None:
    """``payload-mismatch`` when the FastAPI handler takes its body as a pydantic model the
    code defines, the event's data is a dict whose keys are all written out, and a field
    the model requires is not among them: FastAPI would answer every event 422, which is
    final, so each would go to the dead-letter topic while the caller goes on as if it
    was sent. Anything less known (a ``**`` of an unknown dict, an alias, a validator that
    runs first, two body parameters) says nothing."""
    if endpoint is None or endpoint.framework != "fastapi" or item.carried:
        return None
    data = _payload_text(item, read)
    node = _parse_expression(data) if data else None
    if not isinstance(node, ast.Dict):
        return None
    keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    if len(keys) != len(node.keys):
        return None
    source = read(endpoint.file)
    tree = parse_module(source)
    if tree is None or source is None:
        return None
    name = endpoint.handler.rpartition(".")[2]
    handlers = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    ]
    if len(handlers) > 1:
        handlers = [
            n
            for n in handlers
            if min([n.lineno, *(d.lineno for d in n.decorator_list)])
            <= endpoint.line
            <= (n.end_lineno or n.lineno)
        ]
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    text = source.decode(errors="replace")
    scope = scope_at(text, handler.lineno, module_reader(endpoint.file, read))
    in_path = set(re.findall(r"\{(\w+)", endpoint.path))
    arguments = handler.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [
        *[None] * (len(positional) - len(arguments.defaults)),
        *arguments.defaults,
    ]
    pairs = [
        *zip(positional, defaults, strict=True),
        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
    ]
    bodies: list[tuple[str, Any]] = []
    for arg, default in pairs:
        if arg.arg in in_path or arg.annotation is None:
            continue
        if isinstance(default, ast.Call) and _call_name(default.func) in _NOT_BODY:
            continue
        if isinstance(default, ast.Call) and _call_name(default.func) == "Body":
            return None  # ``Body(embed=True)``, an example: not read
        annotation = arg.annotation
        if isinstance(annotation, ast.Subscript):
            if _call_name(annotation.value) in ("dict", "Dict", "list", "List", "Annotated"):
                return None  # another body parameter, or markers the check does not read
            continue
        if not isinstance(annotation, ast.Name | ast.Attribute):
            continue
        model = scope.model(_call_name(annotation) or "")
        if model is not None:
            bodies.append((_call_name(annotation) or "", model))
        elif _call_name(annotation) in ("dict", "Dict", "list", "List"):
            return None
    if len(bodies) != 1:
        return None
    model_name, model = bodies[0]
    if model.kind != "pydantic" or model.required is None:
        return None
    missing = sorted(model.required - keys)
    if not missing:
        return None
    where = endpoint.file
    if model_name in scope.imported:
        module, _original, level = scope.imported[model_name]
        found = module_file(endpoint.file, read)(module, level)
        if found is not None:
            where = found[0]
    listed = ", ".join(f"`{m}`" for m in missing)
    return Finding(
        PAYLOAD_MISMATCH,
        f"the handler {endpoint.handler} takes its body as `{model_name}` "
        f"({where}:{model.line}), which requires {listed}; the data this call sends lacks "
        f"them (its keys: {', '.join(sorted(keys)) or 'none'}), so FastAPI would answer "
        "every event 422 and each would go to the dead-letter topic",
        "send the fields the model requires (or give them defaults in the model), check "
        "the call reaches the route it meant to, or keep the call",
    )


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _parse_expression(source: str) -> ast.expr | None:
    try:
        return ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return None


def _producers(
    planned: Sequence[PlannedSite],
    topics: Sequence[TopicSpec],
    homes: dict[str, tuple[str, str, str | None]],
    options: PlanOptions,
    read: ReadFile,
) -> tuple[ProducerSpec, ...]:
    by_name = {t.name: t for t in topics}
    out = []
    for service in sorted({p.site.caller for p in planned}):
        items = [p for p in planned if p.site.caller == service]
        path, module, _ = homes[service]
        needs_sync = any(not p.in_async_def for p in items)
        bounds = (
            _bound(p.send.timeout or p.timeout)
            for p in items
            if (p.send.wait or p.carried) and not p.send.fold_into
        )
        out.append(
            ProducerSpec(
                service=service,
                path=path,
                module=module,
                sync_client=options.client if needs_sync else None,
                needs_async=any(p.in_async_def for p in items),
                topics=tuple(by_name[n] for n in sorted({p.send.topic for p in items})),
                wait_bounds=tuple(sorted({b for b in bounds if b is not None})),
                outbox=_outbox_kind(items, read(path)),
            )
        )
    return tuple(out)


def _outbox_kind(items: Sequence[PlannedSite], producer: bytes | None) -> str | None:
    """Which outbox a producer module offers: the one its new sites write into, else the
    one it already offered (sites migrated earlier still call ``send_via_outbox``)."""
    kinds = {p.send.outbox for p in items if p.send.outbox is not None}
    if kinds:
        return OUTBOX_DJANGO if OUTBOX_DJANGO in kinds else OUTBOX_SQLALCHEMY
    if producer is not None and any(p.carried for p in items):
        if b"send_via_django_outbox" in producer:
            return OUTBOX_DJANGO
        if b"send_via_session_outbox" in producer:
            return OUTBOX_SQLALCHEMY
    return None


def _is_django_service(service: str, result: ScanResult, root: str, read: ReadFile) -> bool:
    if any(e.service == service and e.framework == "django" for e in result.endpoints):
        return True
    return read(_join(root, "manage.py")) is not None


def _outbox_refusal(site: CallSite, why: str, fix: str | None = None) -> Refusal:
    return Refusal(
        site.id,
        site,
        (
            Finding(
                OUTBOX_REFUSED,
                f"--outbox: {why}",
                fix
                or "migrate it without --outbox (its send raises when Kafka does not accept "
                "the event), or keep the call",
            ),
        ),
    )


def _outbox_write(
    site: CallSite,
    send: SendSpec,
    result: ScanResult,
    module_of: ModuleOf,
    read: ReadFile,
    home: tuple[str, str, str | None],
) -> tuple[SendSpec, tuple[str, ...], tuple[str, str] | None, tuple[Finding, ...]] | Refusal:
    """The send of ``site`` as an outbox write, the notes it brings, the settings file to
    list the Django outbox app in and the cautions it brings; or the site's refusal."""
    if send.wait:
        return (
            send,
            (
                "--outbox: this site checked the answer, so its send still waits for Kafka "
                "and raises when the event is not accepted; it does not use the outbox",
            ),
            None,
            (),
        )
    source = read(site.file)
    if source is None:
        return _outbox_refusal(site, "the file no longer exists")
    layout = layout_of(site.file, module_of)
    django = _is_django_service(site.caller, result, layout.import_root, read)
    try:
        how = outbox_write(source, site.line, django=django)
    except SyntaxError as error:
        return _outbox_refusal(site, f"the file does not parse: {error}")
    if isinstance(how, str):
        fix = None
        if "commits" in how:
            fix = "move the call above the commit and run again, or migrate it without --outbox"
        elif "several sessions" in how or "no SQLAlchemy session" in how:
            fix = (
                "pass the session to the function (a parameter annotated `Session`) and run "
                "again, or migrate it without --outbox"
            )
        return _outbox_refusal(site, how, fix)
    settings: tuple[str, str] | None = None
    cautions: tuple[Finding, ...] = ()
    if how.kind == OUTBOX_DJANGO:
        path, module, _ = home
        app = django_outbox_app(path, module)[1]
        found = DJANGO_SETTINGS.search(read(_join(layout.import_root, "manage.py")) or b"")
        if found is None:
            return _outbox_refusal(
                site,
                "no `manage.py` naming `DJANGO_SETTINGS_MODULE` next to the service's code, "
                f"so the outbox app `{app}` cannot be listed in its `INSTALLED_APPS`",
                f"add `{app}` to `INSTALLED_APPS` yourself, or migrate it without --outbox",
            )
        stem = _join(layout.import_root, found.group(1).decode().replace(".", "/"))
        for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
            text = read(candidate)
            if text is None:
                continue
            edited = add_installed_app(text, app)
            if isinstance(edited, str):
                return _outbox_refusal(
                    site,
                    f"{candidate}: {edited}",
                    f"add `{app}` to `INSTALLED_APPS` yourself and run again, or migrate "
                    "it without --outbox",
                )
            settings = (candidate, app)
            # The row joins a transaction only where one is open; in autocommit it commits
            # at once, on its own, as each write of the view does.
            covered = site.in_transaction or (
                atomic_requests(text) is not False and not non_atomic_request(source, site.line)
            )
            if not covered:
                cautions = (NO_TRANSACTION,)
            break
        else:
            return _outbox_refusal(site, f"no settings module `{found.group(1).decode()}`")
    return replace(send, outbox=how.kind, session=how.session), how.notes, settings, cautions


NO_TRANSACTION = Finding(
    "no-transaction",
    "the call is not inside `transaction.atomic()` (nor an `@atomic` function) and the "
    "settings do not turn on `ATOMIC_REQUESTS`: in autocommit the outbox row commits on its "
    "own, as each write of the view does, so the event can exist without the data or the "
    "data without the event",
    "open `with transaction.atomic():` around the writes and the send, or set "
    "`ATOMIC_REQUESTS: True` for the database",
)


#: ``DJANGO_SETTINGS_MODULE`` as ``manage.py`` sets it.
DJANGO_SETTINGS = re.compile(rb"DJANGO_SETTINGS_MODULE['\"],\s*['\"]([\w.]+)['\"]")


def django_settings(root: str, service: Service | None, read: ReadFile) -> str | None:
    """The settings module of the Django service whose code is imported from ``root``: the
    one its ``manage.py`` sets, else the one its image's entrypoint script exports
    (``export DJANGO_SETTINGS_MODULE=...``, :func:`deploy.image_settings`) when that module
    is under ``root``. A ``manage.py`` that leaves it to the environment names none, and
    the consumers would otherwise start with no settings at all."""
    found = DJANGO_SETTINGS.search(read(_join(root, "manage.py")) or b"")
    if found is not None:
        return found.group(1).decode()
    if service is None:
        return None
    exported = image_settings(read, service)
    if exported is None:
        return None
    # the script's module is relative to the image's working folder: only one found from
    # the service's import root is the one the consumers import
    stem = _join(root, exported.replace(".", "/"))
    if read(f"{stem}.py") is None and read(f"{stem}/__init__.py") is None:
        return None
    return exported


#: The application object next to a handler, which generated consumers hand events to.
_APP_OBJECT = {
    "flask": re.compile(rb"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:flask\.)?Flask\(", re.MULTILINE),
    "fastapi": re.compile(rb"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:fastapi\.)?FastAPI\(", re.MULTILINE),
    "starlette": re.compile(rb"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)*Starlette\(", re.MULTILINE),
    "aiohttp": re.compile(rb"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)*Application\(", re.MULTILINE),
}


#: An application factory at module level (``def create_app():``), for apps made on demand;
#: parameters all given plain defaults (``def create_app(script=False):``) are left to them.
_APP_FACTORY = re.compile(
    rb"^(?:async\s+)?def\s+(create_app|make_app|get_app|build_app|app_factory|init_app)\s*\("
    rb"\s*(?:\w+\s*(?::\s*[\w.]+\s*)?=\s*[^,()\n]+?\s*(?:,\s*|(?=\))))*\)",
    re.MULTILINE,
)

#: Where a service makes its application when the handler's module only holds routes.
_APP_FILES = ("main.py", "app.py", "application.py", "server.py", "asgi.py", "wsgi.py")


#: A router or blueprint made at module level, which an application mounts by this name.
_ROUTER_OBJECT = re.compile(
    rb"^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:\w+\.)*(?:APIRouter|Blueprint|RouteTableDef)\(",
    re.MULTILINE,
)

#: A mount of routes onto an application: FastAPI/Starlette, Flask, aiohttp.
_MOUNTS = re.compile(rb"\.(include_router|register_blueprint|add_subapp|mount)\(")


def _application(
    endpoint: Endpoint, read: ReadFile, module_of: ModuleOf, root: str | None = None
) -> tuple[str | None, str | None]:
    """``(module, attribute)`` of the application object serving ``endpoint``: in the
    handler's own file, else in a file next to it that makes one, else in a parent folder (up
    to the service's ``root``) whose application mounts the handler's router or blueprint
    (``app.include_router(categories.router)``, ``app.register_blueprint(bp)``)."""
    pattern = _APP_OBJECT.get(endpoint.framework or "")
    if pattern is None:
        return None, None
    folder = posixpath.dirname(endpoint.file)
    paths = (endpoint.file, *(_join(folder, name) for name in _APP_FILES))
    for path in paths:
        found = pattern.search(read(path) or b"")
        if found:
            return module_of(path), found.group(1).decode()
    for path in paths:
        # `def create_app(): app = web.Application(); ...; return app`: the consumer calls it
        factory = _APP_FACTORY.search(read(path) or b"")
        if factory:
            return module_of(path), factory.group(1).decode() + "()"
    # The routes' module holds a router; the application that mounts it is further up.
    names = {
        part.encode()
        for part in posixpath.splitext(endpoint.file)[0].split("/")[-2:]
        if part not in ("__init__", "")
    }
    top = posixpath.normpath(root) if root and root != "." else ""
    while folder and folder != top and posixpath.dirname(folder) != folder:
        folder = posixpath.dirname(folder)
        for name in _APP_FILES:
            path = _join(folder, name)
            text = read(path) or b""
            found = pattern.search(text)
            if not _MOUNTS.search(text) or not any(
                re.search(rb"\b" + re.escape(n) + rb"\b", text) for n in names
            ):
                continue
            if found:
                return module_of(path), found.group(1).decode()
            # A router that includes the handler's router (`api_router.include_router(
            # items.router)`): the application further up mounts it by its own name.
            names.update(_ROUTER_OBJECT.findall(text))
        if folder in ("", "."):
            break
    return None, None


def _entry_of(
    endpoint: Endpoint,
    service: Service | None,
    read: ReadFile,
    module_of: ModuleOf,
) -> tuple[str | None, str | None, EntryBuild | None]:
    """:func:`_application`'s ``(module, attribute)``, and, for an application a factory
    makes, the module-level call of the service's entrypoint that passes it arguments
    (``application = create_app(script=NO_SYSLOG)`` in ``wsgi.py``), which the consumer
    must repeat rather than call the factory with its defaults."""
    root = service.root if service else None
    app_module, app_object = _application(endpoint, read, module_of, root)
    if app_module is None or app_object is None or not app_object.endswith("()"):
        return app_module, app_object, None
    found = entry_build(
        app_module,
        app_object.removesuffix("()"),
        entry_candidates(service.entries if service else (), endpoint.file, root, _ENTRY_FILES),
        read,
        module_of,
        layout_of(endpoint.file, module_of).import_root,
    )
    return app_module, app_object, found


#: Files a service's served application is usually made in, looked at after the ones its
#: deployment runs.
_ENTRY_FILES = ("wsgi.py", "asgi.py", "app.py", "main.py", "application.py", "server.py")


def _entry_caution(
    endpoint: Endpoint | None,
    service: Service | None,
    read: ReadFile,
    module_of: ModuleOf,
) -> tuple[Finding, ...]:
    """``app-factory-arguments``: the consumer calls the callee's application factory with
    its defaults, while the entrypoint passes arguments the consumer can neither import
    with the entrypoint (importing it starts the server) nor repeat."""
    if endpoint is None or endpoint.framework not in _APP_OBJECT:
        return ()
    _, app_object, found = _entry_of(endpoint, service, read, module_of)
    if found is None or found.unsafe is None or found.rebuilt is not None:
        return ()
    return (
        Finding(
            APP_FACTORY_ARGUMENTS,
            f"the consumer builds the application with `{app_object}`, the factory's "
            f"defaults, while {found.where} builds the served one with `{found.call}`; "
            f"the consumer cannot import it from there ({found.unsafe}) nor repeat the "
            "call (an argument is computed in a way it cannot reproduce), so events can go "
            "through an application configured otherwise than the one requests reach",
            f"make {found.path} safe to import (start the server under `if __name__ == "
            f'"__main__":`) and migrate again, or give the factory defaults that build the '
            "served application",
        ),
    )


def _image_python_cautions(
    site: CallSite, services: Mapping[str, Service], read: ReadFile
) -> tuple[Finding, ...]:
    """``old-python``: the image of the caller (which runs the producer) or of the callee
    (which runs the consumer) runs a Python older than generated code needs."""
    out = []
    for role, name in (("producer", site.caller), ("consumer", site.callee)):
        service = services.get(name)
        for dockerfile in service.dockerfiles if service else ():
            text = read(dockerfile)
            found = image_python(text.decode("utf-8", "replace"), dockerfile) if text else None
            if found is None or found.version >= MINIMUM_PYTHON:
                continue
            needed = ".".join(map(str, MINIMUM_PYTHON))
            out.append(
                Finding(
                    OLD_PYTHON,
                    f"{name}'s image runs Python {found.shown} ({found.where}: "
                    f"`{found.base}`), and the generated {role} needs Python {needed} or "
                    "later: it fails on its first import there",
                    f"build {name}'s image on Python {needed} or later (`python:{needed}-slim`, "
                    "or a newer release of its base), or keep the call",
                )
            )
            break
    return tuple(out)


#: Caution code of a site whose producer or consumer would run on a Python too old for it.
OLD_PYTHON = "old-python"

#: Caution code of a site whose consumer builds the application otherwise than its server.
APP_FACTORY_ARGUMENTS = "app-factory-arguments"

#: Refusal code of a site whose callee's application a consumer cannot reach.
NO_APP = "no-app"
#: The event's data lacks a field the handler's body model requires.
PAYLOAD_MISMATCH = "payload-mismatch"

#: Languages a service's code may be in, by file suffix, to name in a refusal.
_LANGUAGES = {
    ".py": "Python",
    ".go": "Go",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".ts": "TypeScript",
    ".java": "Java",
    ".kt": "Kotlin",
    ".rb": "Ruby",
    ".rs": "Rust",
    ".cs": "C#",
    ".php": "PHP",
    ".ex": "Elixir",
    ".scala": "Scala",
}
#: Folders that hold no service's own code.
_NOT_OWN = frozenset({"node_modules", "vendor", "third_party", "dist", "build", "__pycache__"})


def _foreign_callee(
    name: str, what: str, service: Service | None, code: str | None
) -> tuple[str, str] | None:
    """``(reason, what to do)`` when the callee's code is not here or not Python: no
    consumer this tool writes can hand it an event, whatever the call site looks like."""
    no_handler = "a consumer would have no handler to give the events to"
    if code == "":
        return (
            f"no route of {name} that answers {what} was found: {name} is declared here "
            f"without its code (an image or a host of its own), so {no_handler}",
            f"scan {name}'s repository with this one so its route is known, or keep the call",
        )
    if code is not None and code != "Python":
        return (
            f"no route of {name} that answers {what} was found: its code "
            f"({service.root if service else name}) is {code}, not Python, so no consumer "
            "this tool generates could hand it the events",
            f"keep the call, or have {name} consume the topic itself (a Kafka consumer "
            f"written in {code})",
        )
    return None


def _callee_code(service: Service | None, repo_root: str | None) -> str | None:
    """The language most of the callee's code is in (``Python`` when it has any Python),
    ``""`` when the repository holds none of it (a service declared by its image), or
    ``None`` when that is not known (no repository to look in)."""
    if repo_root is None:
        return None
    if service is None:
        return ""
    folder = Path(repo_root) / service.root
    if not folder.is_dir():
        return ""
    counts: Counter[str] = Counter()
    seen = 0
    for _folder, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _NOT_OWN]
        for name in files:
            language = _LANGUAGES.get(posixpath.splitext(name)[1])
            if language is not None:
                counts[language] += 1
        seen += len(files)
        if seen > 20_000:  # a service at the repository's root: enough to tell
            break
    if counts["Python"] or not counts:
        return "Python" if counts["Python"] else ""
    return counts.most_common(1)[0][0]


def _unusable(
    consumer: ConsumerSpec, service: Service | None = None, repo_root: str | None = None
) -> tuple[str, str] | None:
    """``(reason, what to do)`` when a consumer for ``consumer`` could not hand an event to
    the callee's application, so every event would be dead-lettered. ``service`` and
    ``repo_root`` say, where no route answers, whether the callee's code is here at all
    and in which language."""
    handler = consumer.handler
    topic = consumer.topic
    if handler is None:
        what = topic.endpoint.label if topic.endpoint else "the call"
        name = consumer.service
        code = _callee_code(service, repo_root)
        no_handler = "a consumer would have no handler to give the events to"
        if code is None:
            return (
                f"no route of {name} that answers {what} was found (its code was not "
                "scanned, or is not Python, or the route is registered in a way the scan "
                f"does not read): {no_handler}",
                f"scan {name}'s code with the caller's so its route is known, or keep the call",
            )
        foreign = _foreign_callee(name, what, service, code)
        if foreign is not None:
            return foreign
        return (
            f"no route of {name} that answers {what} was found (its code "
            f"({service.root if service else name}) is Python, and the route is registered "
            f"in a way the scan does not read): {no_handler}",
            "register the route where the scan reads it (a decorator, a router, a url "
            "pattern), or keep the call",
        )
    framework = handler.endpoint.framework
    if framework in _APP_OBJECT and handler.app_object is None:
        return (
            f"the handler {handler.module}.{handler.attribute} is on a router or blueprint, "
            f"and no {framework} application that mounts it was found (in its module, next "
            "to it, or in a parent folder's main.py/app.py): a consumer could not run the "
            "events through the application",
            "create the application in a main.py/app.py that includes the router, or keep the call",
        )
    if framework not in ("flask", "django", "fastapi", "starlette", "aiohttp", "grpc"):
        return (
            f"the handler {handler.module}.{handler.attribute} is served by "
            f"{framework or 'a framework'}, whose application a consumer cannot call",
            "keep the call",
        )
    return None


def _consumers(
    topics: Sequence[TopicSpec],
    result: ScanResult,
    module_of: ModuleOf,
    read: ReadFile,
    options: PlanOptions,
    services: Mapping[str, Service],
    mirrored: _Mirrored,
) -> tuple[ConsumerSpec, ...]:
    out = []
    for topic in topics:
        endpoint = topic.endpoint
        handler: HandlerRef | None = None
        if endpoint is not None:
            layout = layout_of(endpoint.file, module_of)
            module = layout.module
            attribute = (
                endpoint.handler[len(module) + 1 :]
                if endpoint.handler.startswith(module + ".")
                else endpoint.handler.rpartition(".")[2]
            )
            service = services.get(topic.callee)
            app_module, app_object, entry = _entry_of(endpoint, service, read, module_of)
            app_build: tuple[str, ...] | None = None
            app_source: str | None = None
            if entry is not None and entry.unsafe is None and entry.module is not None:
                # the entrypoint's own object: built as the server serves it
                app_module, app_object = entry.module, entry.name
                app_source = entry.where
            elif entry is not None and entry.rebuilt is not None:
                # importing the entrypoint would serve: repeat its call in the consumer
                app_module, app_object = None, f"{BUILD_FUNCTION}()"
                app_build = entry.rebuilt
                app_source = entry.where
            handler = HandlerRef(
                endpoint,
                module,
                attribute,
                app_object,
                app_module if app_module != module else None,
                app_build=app_build,
                app_source=app_source,
            )
        else:
            layout = _service_layout(topic.callee, result, module_of)
        slug = module_slug(topic.name)
        if layout.package is not None:
            folder = _join(layout.package_dir, CONSUMER_PACKAGE)
            module_name = f"{layout.package}.{CONSUMER_PACKAGE}.{slug}"
        else:
            folder = _join(layout.import_root, CONSUMER_PACKAGE)
            module_name = f"{CONSUMER_PACKAGE}.{slug}"
        extra: dict[str, object] = {}
        idempotency = "file"
        if endpoint is not None and endpoint.framework == "django":
            settings = django_settings(layout.import_root, services.get(topic.callee), read)
            if settings is not None:
                extra["django_settings_module"] = settings
                idempotency = OUTBOX_DJANGO
        elif endpoint is not None and uses_sqlalchemy(read(endpoint.file) or b""):
            idempotency = OUTBOX_SQLALCHEMY
        factory = servicer_factory(endpoint, dict(options.servicer_factories))
        interceptors = servicer_factory(endpoint, dict(options.servicer_interceptors))
        bootstrap: Bootstrap | None = None
        factory_path: str | None = None
        if factory is None and endpoint is not None and endpoint.framework == "grpc":
            # only a servicer the refusals asked about (its __init__ needs arguments) has one
            made = mirrored.cached(endpoint)
            if isinstance(made, Bootstrap):
                bootstrap = made
                name = factory_module_name(made.service)
                factory_path = _join(folder, f"{name}.py")
                factory = f"{module_name.rpartition('.')[0]}.{name}:{FACTORY_FUNCTION}"
                if made.generates_interceptors and interceptors is None:
                    interceptors = factory.replace(
                        f":{FACTORY_FUNCTION}", f":{INTERCEPTORS_FUNCTION}"
                    )
        out.append(
            ConsumerSpec(
                topic=topic,
                service=topic.callee,
                path=_join(folder, f"{slug}.py"),
                module=module_name,
                group_id=consumer_group(topic.callee, topic.name),
                client=options.client,
                handler=handler,
                test_path=_join(layout.import_root, "tests", f"test_{slug}_consumer.py"),
                import_root=layout.import_root,
                extra=extra,
                idempotency=idempotency,
                servicer_factory=factory,
                servicer_interceptors=interceptors,
                servicer_bootstrap=bootstrap,
                servicer_factory_path=factory_path,
            )
        )
    return tuple(out)


class _Mirrored:
    """Each gRPC servicer's factory mirrored from its server's bootstrap, made once per
    servicer class when a site asks (:func:`servicers.derive_servicer_factory`)."""

    def __init__(
        self,
        result: ScanResult,
        services: Mapping[str, Service],
        read: ReadFile,
        module_of: ModuleOf,
    ) -> None:
        self._result = result
        self._services = services
        self._read = read
        self._module_of = module_of
        self._made: dict[tuple[str, str, str], Bootstrap | str | None] = {}

    @staticmethod
    def _key(endpoint: Endpoint) -> tuple[str, str, str]:
        return endpoint.service, endpoint.file, endpoint.handler.rpartition(".")[0]

    def __call__(self, endpoint: Endpoint) -> Bootstrap | str | None:
        key = self._key(endpoint)
        if key not in self._made:
            service = self._services.get(endpoint.service)
            self._made[key] = derive_servicer_factory(
                endpoint,
                repo_root=self._result.root,
                service_root=service.root if service is not None else ".",
                read=self._read,
                module_of=self._module_of,
            )
        return self._made[key]

    def cached(self, endpoint: Endpoint) -> Bootstrap | str | None:
        """What a site's refusals made for the endpoint's servicer; ``None`` when none
        asked (its servicer needs no arguments)."""
        return self._made.get(self._key(endpoint))


def _mirrored_factories(
    result: ScanResult, services: Mapping[str, Service], read: ReadFile, module_of: ModuleOf
) -> _Mirrored:
    return _Mirrored(result, services, read, module_of)


def _service_layout(service: str, result: ScanResult, module_of: ModuleOf) -> Layout:
    """A callee without a matched endpoint: its most common top-level package."""
    root = next((s.root for s in result.services if s.name == service), None)
    files = [e.file for e in result.endpoints if e.service == service] or [
        s.file for s in result.call_sites if s.caller == service
    ]
    layouts = Counter(layout_of(f, module_of) for f in files)
    for layout, _ in layouts.most_common():
        if layout.package is not None:
            return Layout(layout.import_root, layout.package, layout.package)
    return Layout(root or ".", None, "")


#: The generated runtime sends and consumes with confluent-kafka whatever the client
#: option says: one client per service, whose enqueue blocks neither threads nor loops.
_REQUIREMENT = {
    "kafka-python": "confluent-kafka",
    "confluent-kafka": "confluent-kafka",
    ASYNC_CLIENT: "confluent-kafka",
}


def _requirements(
    planned: Sequence[PlannedSite],
    consumers: Sequence[ConsumerSpec],
    services: Mapping[str, Service],
    options: PlanOptions,
) -> tuple[tuple[str, str], ...]:
    wanted: set[tuple[str, str]] = set()

    def root_of(name: str) -> str | None:
        service = services.get(name)
        return service.root if service is not None else None

    for item in planned:
        root = root_of(item.site.caller)
        if root is None:
            continue
        client = ASYNC_CLIENT if item.in_async_def else options.client
        wanted.add((root, _REQUIREMENT[client]))
        if item.send.is_grpc:
            wanted.add((root, "protobuf"))
    for consumer in consumers:
        root = root_of(consumer.service)
        if root is not None:
            wanted.add((root, _REQUIREMENT[consumer.client]))
    return tuple(sorted(wanted))


def _inside_repo(path: str) -> None:
    normal = posixpath.normpath(path)
    if normal.startswith("../") or normal == ".." or posixpath.isabs(normal):
        raise PlanError(f"{path}: outside the repository; nothing is written there")


# -- domain events -------------------------------------------------------------------------

EVENT_FINDING = "event"


def _event_selection(
    selection: Selection,
) -> tuple[list[tuple[CallSite, Migratability]], list[Refusal]]:
    """The sites of ``--event``: all of them, in one function, or none (each refused with
    the reason: an event that leaves out a call would stop telling its service the fact)."""
    chosen = list(selection.chosen)
    if not chosen:
        return [], []
    why: str | None = None
    if selection.refused:
        named = ", ".join(r.site_id for r in selection.refused)
        why = f"{named} cannot be migrated (see its reason), and the event needs every call"
    places = {(s.file, s.function) for s, _ in chosen}
    if why is None and len(places) > 1:
        shown = "; ".join(f"{s.id} in {s.file}:{s.function}" for s, _ in chosen)
        why = f"the sites are in different functions ({shown}); an event is one fact told once"
    callees = Counter(s.callee for s, _ in chosen)
    twice = sorted(c for c, n in callees.items() if n > 1)
    if why is None and twice:
        why = (
            f"{', '.join(twice)} is called more than once, and an event reaches each subscriber "
            "once, through one handler; migrate the extra call on its own"
        )
    if why is None:
        return chosen, []
    return [], [_event_refusal(site, why) for site, _ in chosen]


def _event_refusal(site: CallSite, why: str) -> Refusal:
    return Refusal(
        site.id,
        site,
        (
            Finding(
                EVENT_FINDING,
                f"not made part of the event: {why}",
                "fix what the reason names, select only sites of one function, or migrate "
                "the calls one by one (without --event)",
            ),
        ),
    )


def _one_event(
    planned: list[PlannedSite],
    refused: list[Refusal],
    event: EventName,
    read: ReadFile,
    parse: Parse,
) -> tuple[list[PlannedSite], list[Refusal]]:
    """The sites planned for ``--event`` made one send: the first site's, carrying the union
    of what every call sent, keyed by the entity id; the others' statements removed."""
    mine = sorted((p for p in planned if not p.carried), key=lambda p: p.site.line)
    others = [p for p in planned if p.carried]
    if not mine:
        return planned, refused
    ids = {p.site.id for p in mine}

    def refuse_all(why: str) -> tuple[list[PlannedSite], list[Refusal]]:
        return others, [*refused, *(_event_refusal(p.site, why) for p in mine)]

    dropped = [r.site_id for r in refused if r.site_id in ids]
    if dropped:
        return refuse_all(f"{', '.join(dropped)} cannot be rewritten (see its reason)")
    parts = [
        Contribution(p.site.id, p.payload, () if p.send.is_grpc else p.send.path_params)
        for p in mine
    ]
    try:
        data = union(parts, _scope_of(mine[0].site, read))
    except EventConflict as conflict:
        return refuse_all(str(conflict))
    if any(p.send.is_grpc for p in mine):
        return refuse_all("a gRPC call's request message cannot be merged into an event's data")
    lead = mine[0]
    params = [pair for p in mine for pair in p.send.path_params]
    key, origin = _entity_key(event, data.sources) or choose_key(params, data.expression)
    waits = [p for p in mine if p.send.wait]
    timeout = next((p.timeout for p in waits if p.timeout is not None), None)

    def takes(ident: str) -> str:
        return fields_comment(data.fields[ident], data.renames[ident], data.values[ident])

    sends = {
        lead.site.id: replace(
            lead.send,
            event=True,
            data=data.expression,
            data_entries=tuple(f'"{n}": {s}' for n, s in data.entries),
            key=key,
            key_origin=origin,
            wait=bool(waits),
            timeout=timeout,
            # An event one of whose calls checked the answer waits for Kafka: no outbox.
            outbox=None if waits else lead.send.outbox,
            session=None if waits else lead.send.session,
            marker_suffix=takes(lead.site.id),
            markers=tuple(
                marker_text(p.site.id, event.topic, p.site.callee, p.site.endpoint)
                + takes(p.site.id)
                for p in mine[1:]
            ),
        )
    }
    for item in mine[1:]:
        sends[item.site.id] = replace(
            item.send,
            fold_into=lead.site.id,
            marker_suffix=takes(item.site.id),
        )
    source = read(lead.site.file)
    facts = inspect_calls(source or b"", list(sends.values()), parse=parse)
    problems = [f"{ident}: {fact}" for ident, fact in facts.items() if isinstance(fact, str)]
    if problems:
        return refuse_all("; ".join(problems))
    lead_facts = facts[lead.site.id]
    key_notes: tuple[str, ...] = ()
    if isinstance(lead_facts, CallFacts):
        # The idempotency key the lead's own send had was made for its own key and data:
        # the event's send gets one, and the notes on it, as a send of the event's.
        made_send, key_notes = idempotency(
            replace(sends[lead.site.id], event=False, idempotency_key=None), lead_facts, source
        )
        sends[lead.site.id] = replace(made_send, event=True)
    carried = lead_facts.headers if isinstance(lead_facts, CallFacts) else ()
    # the event's one send carries the lead call's headers, for every subscriber
    carried_names = header_names(carried)

    def header_notes(item: PlannedSite) -> tuple[str, ...]:
        fact = facts[item.site.id]
        if not isinstance(fact, CallFacts) or item is lead:
            return item.notes
        lost = [k for k, v in fact.headers if (k, v) not in carried]
        if not lost:
            return item.notes
        return (
            *item.notes,
            f"its headers {', '.join(lost)} are not carried: the event's one send carries "
            f"those of {lead.site.id}; add them to the send's `headers=` if they matter",
        )

    # The event's one send waits with one bound, whichever call it came from (the one the
    # rewrite writes): each site says that one, not the bound its own call had.
    bound = lead_facts.timeout if waits and isinstance(lead_facts, CallFacts) else None
    bound_from = next((p for p in waits if p.timeout == timeout), lead) if timeout else lead
    lead_bound = lead_facts.bound_notes if isinstance(lead_facts, CallFacts) else ()

    def bound_notes(item: PlannedSite) -> tuple[str, ...]:
        if not waits:
            return ()
        if bound is None:
            if item is lead:
                return lead_bound
            return (
                f"the event's send ({lead.site.id}) waits the producer's bound "
                "(`DECOUPLE_SEND_TIMEOUT_S`, 5 s): no call of the event passed a `timeout=` "
                "this rewrite can read",
            )
        if item is bound_from and item is lead:
            return (wait_note(bound),)
        if item is bound_from:
            return (
                f"the event's send ({lead.site.id}) waits at most {bound} s for Kafka's "
                "acknowledgement (this call's old timeout)",
            )
        own = f"; this call's was {item.timeout} s" if item.timeout not in (None, bound) else ""
        return (
            f"the event's send ({lead.site.id}) waits at most {bound} s for Kafka's "
            f"acknowledgement (the old timeout of {bound_from.site.id}{own})",
        )

    def event_notes(item: PlannedSite) -> tuple[str, ...]:
        # every site is told by the event's one send: its wait and its key are the send's
        mine = {*item.bound_notes, *item.key_notes}
        own = [n for n in header_notes(item) if n not in mine]
        return (*bound_notes(item), *own, *key_notes)

    made = [
        replace(
            p,
            notes=event_notes(p),
            timeout=bound,
            bound_notes=bound_notes(p),
            key_notes=key_notes,
            send=sends[p.site.id],
            event=True,
            fields=data.fields[p.site.id],
            renames=data.renames[p.site.id],
            values=data.values[p.site.id],
            payload=data.expression,
            in_async_def=lead.in_async_def if p is lead else p.in_async_def,
            headers=carried_names,
        )
        for p in mine
    ]
    return [*made, *others], refused


def _event_blockers(
    planned: Sequence[PlannedSite], read: ReadFile, parse: Parse
) -> dict[tuple[str, str], str]:
    """Why each function the summary would offer as one domain event could not be one, as
    ``--event`` would find it: its calls folded into its first call's send, the rewrite's
    own checks (same block, nothing between that can fail or act...) say what stops it."""
    blockers: dict[tuple[str, str], str] = {}
    for group in candidates(planned):
        items = sorted(
            (p for p in planned if p.site.id in group.site_ids), key=lambda p: p.site.line
        )
        lead = items[0]
        sends = [
            replace(lead.send, event=True),
            *(replace(p.send, fold_into=lead.site.id) for p in items[1:]),
        ]
        try:
            facts = inspect_calls(read(group.file) or b"", sends, parse=parse)
        except Exception:
            continue
        problems = [f"{i}: {fact}" for i, fact in facts.items() if isinstance(fact, str)]
        if problems:
            blockers[(group.file, group.function)] = "; ".join(problems)
    return blockers


def _scope_of(site: CallSite, read: ReadFile) -> Scope:
    """What the function holding ``site`` says about its names and models."""
    source = read(site.file)
    if source is None:
        return Scope()
    text = source.decode("utf-8", errors="replace")
    return scope_at(text, site.line, module_reader(site.file, read))


def _entity_key(event: EventName, entries: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The id of the entity the event is about, when its data carries one named after the
    event's domain (``orders.order-cancelled`` -> ``order_id``): its events stay in order."""
    domain = event.topic.split(".", 1)[0].replace("-", "_")
    wanted = {f"{domain}_id", f"{domain.removesuffix('s')}_id"}
    for name, source in entries:
        if name in wanted and "\n" not in source:
            return source, f"the event's entity, {name}"
    return None


def header_names(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The names, lower case, of ``(name source, value source)`` header pairs."""
    names = []
    for name, _ in pairs:
        try:
            value = ast.literal_eval(name)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str):
            names.append(value.lower())
    return tuple(sorted(set(names)))


def _carried_send(site: CallSite, read: ReadFile) -> tuple[tuple[str, ...], str | None]:
    """What a send migrated earlier carries, so that a later migration generates the same
    consumer and producer: the string keys of its literal ``headers={...}`` (which the
    consumer hands on), and the ``timeout=`` of a send that waits, when it is a number."""
    source = read(site.file)
    if source is None:
        return (), None
    lines = source.decode("utf-8", errors="replace").splitlines()[site.line - 1 : site.end_line]
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:
        return (), None
    names: set[str] = set()
    bound = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "headers" and isinstance(keyword.value, ast.Dict):
                names.update(
                    key.value.lower()
                    for key in keyword.value.keys
                    if isinstance(key, ast.Constant) and isinstance(key.value, str)
                )
            waits = isinstance(node.func, ast.Name) and "and_wait" in node.func.id
            if keyword.arg == "timeout" and waits and _bound(ast.unparse(keyword.value)):
                bound = ast.unparse(keyword.value)
    return tuple(sorted(names)), bound


def _bound(source: str | None) -> float | None:
    """A send's ``timeout=`` as seconds, when it is a positive number written out."""
    try:
        value = ast.literal_eval(source or "")
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def _carried_event(site: CallSite, read: ReadFile) -> Takes:
    """Whether a send migrated earlier is a domain event's, and what its subscriber takes,
    from the marker above it (``... (emails POST /send) fields: to=email, user_id``)."""
    source = read(site.file)
    if source is None:
        return Takes(False)
    lines = source.decode("utf-8", errors="replace").splitlines()
    number = site.line - 1
    while number > 0 and lines[number - 1].lstrip().startswith("#"):
        line = lines[number - 1]
        if f"migrated {site.id} " in line:
            return fields_of_marker(line)
        number -= 1
    return Takes(False)


def _event_topics(
    name: str,
    kind: str,
    items: Sequence[PlannedSite],
    endpoint_of: Callable[[CallSite], Endpoint | None],
    read: ReadFile,
    extra: Sequence[Subscriber] = (),
) -> list[TopicSpec]:
    """One spec per subscriber of a domain event: the same topic, type and data, each with
    its own consumer group, dead-letter topic, handler, path parameters and fields."""
    by_callee: dict[str, list[PlannedSite]] = defaultdict(list)
    for item in items:
        by_callee[item.site.callee].append(item)
    added = {s.callee: s for s in extra if s.callee not in by_callee}
    subscribers = tuple(sorted({*by_callee, *added}))
    data = _payload_text(items[0]) if items[0].carried else items[0].payload
    # The data's schema, as the code sending it types its fields: the same when the event
    # is planned again from the send.
    schema = data_schema(data, _scope_of(items[0].site, read)) or infer_schema(data)
    out = []
    for callee, subscriber in sorted(added.items()):
        wanted: tuple[str, ...] = ()
        if subscriber.endpoint.protocol == "http":
            wanted = tuple(re.findall(r"\{(\w+)", subscriber.endpoint.path))
        out.append(
            TopicSpec(
                name=name,
                dead_letter=f"{name}.{callee}{DEAD_LETTER_SUFFIX}",
                callee=callee,
                producers=tuple(sorted({i.site.caller for i in items})),
                event_type=kind,
                endpoint=subscriber.endpoint,
                payload_schema=schema,
                path_params=wanted,
                key_field=key_field(data, wanted, identity_field),
                subscribers=subscribers,
                fields=subscriber.fields,
                headers=tuple(sorted({h for i in items for h in i.headers})),
                literals=literal_values(data),
                renames=subscriber.renames,
                values=subscriber.values,
            )
        )
    for callee, mine in sorted(by_callee.items()):
        endpoint = next((e for e in map(endpoint_of, (i.site for i in mine)) if e), None)
        params: tuple[str, ...] = ()
        if endpoint is not None and endpoint.protocol == "http":
            params = tuple(re.findall(r"\{(\w+)", endpoint.path))
        taken: list[str] = []
        fields: tuple[str, ...] | None = ()
        renames: dict[str, str] = {}
        values: dict[str, Any] = {}
        for item in mine:
            if item.fields is None:
                fields = None
                break
            taken.extend(f for f in item.fields if f not in taken)
            fields = tuple(taken)
            renames.update((k, v) for k, v in item.renames if k not in renames)
            values.update((k, v) for k, v in item.values if k not in values)
        out.append(
            TopicSpec(
                name=name,
                dead_letter=f"{name}.{callee}{DEAD_LETTER_SUFFIX}",
                callee=callee,
                producers=tuple(sorted({i.site.caller for i in items})),
                event_type=kind,
                endpoint=endpoint,
                payload_schema=schema,
                site_ids=tuple(sorted(i.site.id for i in mine)),
                path_params=params,
                key_field=key_field(data, params, identity_field),
                subscribers=subscribers,
                fields=fields,
                headers=tuple(sorted({h for i in mine for h in i.headers})),
                literals=literal_values(data),
                final_statuses=final_statuses(mine, endpoint),
                renames=tuple(renames.items()) if fields is not None else (),
                values=tuple(values.items()) if fields is not None else (),
            )
        )
    return out


def _recorded_subscribers(
    read: ReadFile, endpoints: Mapping[tuple[str, str], Endpoint]
) -> tuple[dict[str, list[Subscriber]], dict[str, str]]:
    """Subscribers an earlier ``--subscribe`` added, as the combined AsyncAPI document
    records them (they have no call site whose marker would), and each topic's event type
    (an event made as ``.v2`` stays ``.v2``)."""
    import yaml

    from decouple_services.migrate.generate import SUBSCRIPTION_EXTENSION

    raw = read(ASYNCAPI_PATH)
    if raw is None:
        return {}, {}
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}, {}
    if not isinstance(document, dict):
        return {}, {}
    messages = (document.get("components") or {}).get("messages") or {}
    types = {
        str(ident).removesuffix(".event"): str(message["name"])
        for ident, message in messages.items()
        if str(ident).endswith(".event") and isinstance(message, dict) and message.get("name")
    }
    operations = document.get("operations")
    out: dict[str, list[Subscriber]] = defaultdict(list)
    for name, operation in (operations or {}).items():
        if not isinstance(operation, dict) or not isinstance(name, str):
            continue
        recorded = operation.get(SUBSCRIPTION_EXTENSION)
        callee, _, topic = name.partition(".receive.")
        if not isinstance(recorded, dict) or not topic:
            continue
        endpoint = endpoints.get((callee, str(recorded.get("endpoint"))))
        taken = recorded.get("fields")
        if endpoint is None or not (taken == "*" or isinstance(taken, list)):
            continue
        fields = None if taken == "*" else tuple(str(f) for f in taken)
        moved = recorded.get("renames")
        constants = recorded.get("values")
        renames = (
            tuple((str(k), str(v)) for k, v in moved.items()) if isinstance(moved, dict) else ()
        )
        values = tuple(constants.items()) if isinstance(constants, dict) else ()
        out[topic].append(Subscriber(topic, callee, endpoint, fields, renames, values))
    return dict(out), types


def _new_subscriber(
    request: SubscribeRequest,
    planned: Sequence[PlannedSite],
    result: ScanResult,
    recorded: Mapping[str, Sequence[Subscriber]],
    read: ReadFile,
) -> Subscriber:
    """The subscriber ``--subscribe`` asks for, checked against the event as the code sends
    it: the event exists, the service does not subscribe yet, one endpoint takes it, and
    what that endpoint needs is in the event's data."""
    from decouple_services.core.errors import SelectionError

    topic = parse_event_name(request.event, "--subscribe").topic
    sends = [p for p in planned if p.carried and p.event and p.send.topic == topic]
    if not sends:
        known = sorted({p.send.topic for p in planned if p.carried and p.event})
        raise SelectionError(
            f"--subscribe {request.event}: no domain event {topic} is sent in this repository "
            f"(events: {', '.join(known) or 'none'}); make it with --event first"
        )
    services = sorted(s.name for s in result.services)
    if request.service not in services:
        raise SelectionError(
            f"--service {request.service}: no such service (services: {', '.join(services)})"
        )
    subscribed = {p.site.callee for p in sends} | {s.callee for s in recorded.get(topic, ())}
    if request.service in subscribed:
        raise SelectionError(f"{request.service} already subscribes to {topic}: nothing to add")
    mine = [e for e in result.endpoints if e.service == request.service]
    if request.endpoint is not None:
        wanted = " ".join(request.endpoint.split())
        method, _, path = wanted.partition(" ")
        chosen = [
            e
            for e in mine
            if e.label == wanted
            or (path and e.method == method.upper() and e.path == path)
            or e.path == wanted
        ]
    else:
        chosen = mine
    if len(chosen) != 1:
        listed = ", ".join(sorted(e.label for e in mine)) or "none found"
        what = (
            f"--endpoint {request.endpoint!r} names {'none' if not chosen else 'several'} of "
            f"{request.service}'s endpoints"
            if request.endpoint is not None
            else f"{request.service} has {len(mine) or 'no'} endpoints"
        )
        raise SelectionError(
            f"--subscribe {request.event}: {what} ({listed}); name the one whose handler "
            'takes the event with --endpoint "METHOD /path"'
        )
    endpoint = chosen[0]
    schema = data_schema(_payload_text(sends[0]), _scope_of(sends[0].site, read))
    data = sends[0].send.payload_hint
    node = None
    try:
        node = ast.parse((data or "").strip(), mode="eval").body if data else None
    except SyntaxError:
        node = None
    have: set[str] | None = None
    if schema is not None:
        have = set(schema.get("properties") or {})
    elif isinstance(node, ast.Dict):
        have = {str(k.value) for k in node.keys if isinstance(k, ast.Constant)}
    path_params = re.findall(r"\{(\w+)", endpoint.path)
    # ``--field to=email``: the body key ``to`` takes the data's ``email``
    keys: list[str] = []
    renames: list[tuple[str, str]] = []
    for entry in request.fields or ():
        key, equals, source = (part.strip() for part in entry.partition("="))
        if not key or (equals and not source) or key in keys:
            raise SelectionError(
                f"--field {entry!r}: name a field of the event's data (--field user_id), or "
                "the handler's body key and the field it takes, once each (--field to=email)"
            )
        keys.append(key)
        if equals and source != key:
            renames.append((key, source))
    if have is not None:
        moved = dict(renames)
        needed = [*path_params, *(moved.get(k, k) for k in keys)]
        missing = [n for n in needed if n not in have]
        if missing:
            raise SelectionError(
                f"--subscribe {request.event}: {endpoint.label} needs "
                f"{', '.join(missing)}, which the event's data does not carry (it has "
                f"{', '.join(sorted(have)) or 'no fields'}); take a field under the name the "
                "handler expects with --field KEY=FIELD (--field to=email)"
            )
    fields = tuple(keys) if request.fields is not None else None
    if fields is None and schema is not None:
        # every field the schema names, path parameters aside: what the handler takes is
        # spelled out in its consumer, never "whatever the data holds"
        fields = tuple(n for n in schema.get("properties") or {} if n not in path_params)
    return Subscriber(topic, request.service, endpoint, fields, tuple(renames))


def _not_rewritable(site: CallSite, reason: str, fix: str) -> Refusal:
    return Refusal(site.id, site, (Finding(NOT_REWRITABLE, reason, fix),))
