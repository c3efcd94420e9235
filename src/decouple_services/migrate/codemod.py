"""The rewrite: a call statement becomes a send through the caller's producer module.

    rq.post(NOTIFICATIONS_URL + "/notify", json={"kind": "email_bounced", ...})
    ->
    # decouple: migrated cs-4f798040 to notifications.notify (notifications POST /notify)
    send_event("notifications.notify", {"kind": "email_bounced", ...})

Only the statement holding the call changes: comments and blank lines around it stay, the
payload keeps its own formatting, continuation lines take the statement's indentation. A call
in ``async def`` becomes ``await send_event_async(...)``. The producer import is added once,
relative when the file already imports its own package relatively; imports the old call was
the last user of go. An ``async with`` / ``with`` block that only opened an HTTP client for
the rewritten calls is unwrapped. A gRPC request message travels as
``json_format.MessageToDict(request, preserving_proto_field_name=True)``; trace and
the headers of a literal ``headers={...}`` (but for the HTTP exchange's own), or the pairs
of a gRPC call's literal ``metadata=[...]``, travel as Kafka headers, for the consumer to
hand to the callee's application (a servicer's context, as invocation metadata).

The first comment line is the provenance marker: a later scan reports the send as an event
site (role ``event``) with the same id, and a later migration leaves it alone.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from decouple_services.core.model import ResponseUse
from decouple_services.detect.events import MARKER
from decouple_services.detect.response import Handler, ResponseReading, classify, parent_map
from decouple_services.migrate.imports import add_import, drop_unused, names_in, separate_docstring
from decouple_services.migrate.refusals import secret_name
from decouple_services.migrate.scope import bound_at, undefined_names

#: Keyword arguments that carry a request's body, in the order detectors prefer them.
PAYLOAD_KEYWORDS = ("json", "data", "payload", "body", "params", "fields")
#: Header names (lower case) that describe the HTTP exchange, not the request: a send does
#: not carry them (the consumer makes its own request to the callee's application).
TRANSPORT_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)
#: Header names (lower case) that carry a credential: stored in each record a send writes
#: (docs/security.md), which the PR body names as a risk.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
#: Constructors whose ``with`` block only exists to make HTTP calls.
_CLIENT_FACTORIES = re.compile(
    r"(^|\.)(AsyncClient|Client|Session|ClientSession|PoolManager|HTTPConnectionPool"
    r"|insecure_channel|secure_channel)$"
)
#: Library constructors that only build a client object, making no request and reading
#: nothing: a local holding one that only the old call read goes with it, as an inert
#: value's does (a generated gRPC stub only makes its methods' callables on the channel).
_CLIENT_BUILDERS = re.compile(
    r"^(?:requests\.[Ss]ession|httpx\.(?:Client|AsyncClient|Limits)"
    r"|aiohttp\.(?:ClientSession|TCPConnector)|urllib3\.PoolManager"
    r"|grpc\.(?:aio\.)?(?:insecure_channel|secure_channel)|grpc\.ssl_channel_credentials"
    r"|\w+_pb2_grpc\.\w+Stub)$"
)
#: ``contextlib``'s wrappers a ``with`` enters as the client they are given.
_CLOSING = re.compile(r"(^|\.)a?closing$")
#: Beyond this width a rewritten call is laid out one argument per line (the repository's
#: configured ``line-length`` replaces it).
LINE_WIDTH = 88


@dataclass(frozen=True, slots=True)
class SendSpec:
    """What one call site becomes."""

    site_id: str
    line: int
    end_line: int
    topic: str
    callee: str
    endpoint: str | None
    #: The producer module, absolute (``orders.decouple_producer``).
    producer_module: str
    #: Leading dots when the file imports it relatively, else 0 (absolute).
    relative: int = 0
    #: Source of the Kafka key expression, or ``None`` (the producer's own rule).
    key: str | None = None
    #: ``(parameter, source)`` for each endpoint path parameter the url carries.
    path_params: tuple[tuple[str, str], ...] = ()
    #: The payload as the scan wrote it (``json=order``), to find it in wrapper invocations.
    payload_hint: str | None = None
    is_grpc: bool = False
    #: The caller checked the response's success (``response_use`` ``status``): the send
    #: waits for the broker's acknowledgement (``send_event_and_wait``) and the checks go.
    wait: bool = False
    #: Where the key comes from (``path parameter user_id``), shown above the send; ``None``
    #: with no key says why there is none.
    key_origin: str | None = None
    #: A domain event's one send (:mod:`decouple_services.migrate.events`): ``data`` is the
    #: event's data as written, in place of the call's payload and path parameters.
    event: bool = False
    data: str | None = None
    #: The data's entries (``"to": user.email``), one a line when the send is laid out wide.
    data_entries: tuple[str, ...] = ()
    #: The bound of the wait when it comes from another of the event's calls.
    timeout: str | None = None
    #: Text after the marker's ``(callee endpoint)`` (what the subscriber takes).
    marker_suffix: str = ""
    #: The markers of the other calls the event's send stands for, one comment line each.
    markers: tuple[str, ...] = ()
    #: The site whose send this call is folded into: its statement is removed.
    fold_into: str | None = None
    #: ``--outbox``: ``django`` or ``sqlalchemy`` when the send writes the event into the
    #: caller's outbox table (``send_via_outbox``) instead of producing it.
    outbox: str | None = None
    #: The SQLAlchemy session the outbox row is written on, as written (``db.session``).
    session: str | None = None
    #: The send waits because the call is on its caller's failure path (a compensation),
    #: not because the caller checked the answer: no check of the answer is looked for.
    compensation: bool = False
    #: The send waits because the call's failure reached its caller (no ``except`` caught
    #: it): lost in silence, it would have raised before. No check of the answer is looked
    #: for either.
    raised: bool = False
    #: Source of the send's ``idempotency_key=``, when the rewrite passes one.
    idempotency_key: str | None = None
    #: The parameters of the helper the call goes through, in order, each with its literal
    #: default's source (``None`` for none): a parameter the call leaves out sends it.
    helper_params: tuple[tuple[str, str | None], ...] = ()
    #: What the helper's own request sends that the send does not carry (a fixed
    #: credential, a header), for the reviewer (``helper_request.py``).
    helper_notes: tuple[str, ...] = ()
    #: The sessions the call imports from a module of the service that the planner read
    #: there and found plain (``helper_request.HelperRequest.read_sessions``).
    read_sessions: tuple[str, ...] = ()
    #: The methods the call's class takes from a base of the service, read there and
    #: found to leave its session alone (``helper_request.HelperRequest.read_inherited``).
    read_inherited: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the code at a call site looks like, before any rewrite."""

    site_id: str
    in_async_def: bool
    #: Source of the payload expression, as written (``None`` when the call sends none).
    payload: str | None
    #: ``(name source, value source)`` of the headers a literal ``headers={...}`` sent,
    #: but for :data:`TRANSPORT_HEADERS`.
    headers: tuple[tuple[str, str], ...] = ()
    #: Something a reviewer should know (headers that are not carried...).
    notes: tuple[str, ...] = ()
    #: Column the payload started at, to re-indent its continuation lines where it moves.
    payload_column: int = 0
    #: The bound of ``send_event_and_wait`` (source), from the old call's ``timeout=``.
    timeout: str | None = None
    #: The notes (among ``notes``) that say what bounds the send's wait: a domain event's
    #: planner puts the bound of the event's one send in their place.
    bound_notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileRewrite:
    code: bytes
    #: Site id -> why it was not rewritten.
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Located:
    __slots__ = ("call", "copies", "drops", "facts", "parent_with", "statement", "widen")

    def __init__(
        self,
        call: cst.Call,
        statement: cst.SimpleStatementLine | cst.If | cst.With,
        facts: CallFacts,
    ) -> None:
        self.call = call
        #: The statement the send replaces: the call's own, or an ``if`` testing the chained
        #: call, or a ``with`` over it (their success branch or body stay after the send).
        self.statement = statement
        self.facts = facts
        self.parent_with: cst.With | None = None
        #: Success checks elsewhere, by node id: ``drop``, or the branch to keep (``body``,
        #: ``orelse``) in place of an ``if``.
        self.drops: dict[int, str] = {}
        #: ``except`` clauses (by node id) that caught only the client's failures: they catch
        #: ``EventNotAccepted`` too, so a refused send is handled as a failed call was.
        self.widen: set[int] = set()
        #: ``except`` clauses (by node id) that read the client's error only to word their
        #: report: a copy for ``EventNotAccepted`` follows each, the error's reads (by node
        #: id) replaced by the error itself.
        self.copies: dict[int, frozenset[int]] = {}


class _Calls(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, positions: Mapping[cst.CSTNode, object]) -> None:
        self.positions = positions
        self.calls: list[tuple[int, int, int, int, cst.Call]] = []
        #: First line -> the statements starting there.
        self.statements: dict[int, list[cst.CSTNode]] = {}

    def visit_Call(self, node: cst.Call) -> None:
        pos = self.positions[node]
        start, end = pos.start, pos.end  # type: ignore[attr-defined]
        self.calls.append((start.line, end.line, start.column, -end.column, node))

    def _statement(self, node: cst.CSTNode) -> None:
        line = self.positions[node].start.line  # type: ignore[attr-defined]
        self.statements.setdefault(line, []).append(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement(node)

    def visit_If(self, node: cst.If) -> None:
        self._statement(node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._statement(node)


class ParsedSource:
    """A file's libcst tree with the positions, parents and calls both the planner's
    :func:`inspect_calls` and :func:`rewrite_source` read: parse once, use for both."""

    __slots__ = ("_ast", "calls", "parents", "positions", "source", "statements", "wrapper")

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        finder = _Calls(self.positions)
        self.wrapper.module.visit(finder)
        self.calls = finder.calls
        self.statements = finder.statements
        self._ast: tuple[ast.Module, dict[int, ast.AST]] | None = None

    def reading(self, line: int, end_line: int) -> ResponseReading | None:
        """What the code does with the response of the outermost call spanning the lines
        (:mod:`decouple_services.detect.response`), ``None`` when ``ast`` cannot read it."""
        if self._ast is None:
            try:
                tree = ast.parse(self.source)
            except (SyntaxError, ValueError):
                return None
            self._ast = (tree, parent_map(tree))
        tree, parents = self._ast
        calls = sorted(
            (
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and n.lineno == line and n.end_lineno == end_line
            ),
            key=lambda n: (n.col_offset, -(n.end_col_offset or 0)),
        )
        if not calls:
            return None
        request = calls[0]
        # ``requests.post(...).raise_for_status()`` spans the same lines as the request
        while isinstance(request.func, ast.Attribute) and request.func.attr == "raise_for_status":
            inner = request.func.value
            inner = inner.value if isinstance(inner, ast.Await) else inner
            if not (isinstance(inner, ast.Call) and inner in calls):
                break
            request = inner
        node: ast.AST | None = request
        while node is not None and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node = parents.get(id(node))
        body = node.body if node is not None else tree.body
        return classify(request, lambda n: parents.get(id(n)), body)


def _locate(
    parsed: ParsedSource, sites: Sequence[SendSpec]
) -> tuple[dict[str, _Located], dict[str, str]]:
    wrapper, positions, parents = parsed.wrapper, parsed.positions, parsed.parents
    found: dict[str, _Located] = {}
    problems: dict[str, str] = {}
    for spec in sites:
        matches = sorted(
            (c for c in parsed.calls if c[0] == spec.line and c[1] == spec.end_line),
            key=lambda c: (c[2], c[3]),
        )
        if not matches:
            problems[spec.site_id] = (
                f"no call at lines {spec.line}-{spec.end_line} any more (edited since the scan?)"
            )
            continue
        call = _request_call([m[4] for m in matches])
        reading: ResponseReading | None = None
        unread = False
        if not spec.wait:
            # ``ret = await fetch(...)`` with ``ret`` never read is a statement of its own
            found_reading = parsed.reading(spec.line, spec.end_line)
            unread = found_reading is not None and found_reading.use is ResponseUse.NONE
        if spec.wait:
            reading = parsed.reading(spec.line, spec.end_line)
            if reading is None:
                problems[spec.site_id] = "the file cannot be read with this Python's parser"
                continue
            if reading.use is ResponseUse.BODY:
                problems[spec.site_id] = (
                    f"the response is read beyond its success ({reading.why}): scan again"
                )
                continue
        statement, why = _statement_of(call, parents, wait=spec.wait, unread=unread)
        if statement is None:
            problems[spec.site_id] = why
            continue
        in_async = _in_async_def(statement, parents)
        # what the call site itself can read: a helper's parameter is not among it
        scoped = bound_at(parsed.source, spec.line)
        known = (names_in([wrapper.module]) if scoped is None else scoped) | _BUILTINS
        try:
            payload, notes, payload_node = _payload_source(wrapper.module, call, spec, known)
            drops, check_notes = _checks(parsed, reading, statement) if reading else ({}, ())
            widened, copied, handler_notes = (
                _handling(reading, parsed) if reading else (set(), {}, ())
            )
            headers, header_notes = (
                (_grpc_metadata(parsed, call), _grpc_call_options(parsed, call))
                if spec.is_grpc
                else _call_headers(parsed, call, spec.read_sessions, spec.read_inherited)
            )
            # after the answer's use, which tells more of a site that does both
            _refuse_query(parsed, call, spec)
        except _NotRewritable as exc:
            problems[spec.site_id] = Problem(str(exc), exc.code)
            continue
        column = positions[payload_node].start.column if payload_node is not None else 0
        timeout, timeout_notes = _timeout(parsed, call) if spec.wait else (None, ())
        if spec.timeout is not None:  # an event's send waits as its status-checked call did
            timeout, timeout_notes = spec.timeout, ()
        if spec.path_params and not spec.is_grpc:
            unreadable = [src for _, src in spec.path_params if not _parses_as_expression(src)]
            if unreadable:
                problems[spec.site_id] = (
                    f"the url carries `{unreadable[0]}`, a value the scan followed from the "
                    f"call, and the url at line {spec.line} is not an f-string that names it"
                )
                continue
            missing = {n for _, src in spec.path_params for n in _free_names(src)} - known
            if missing:
                problems[spec.site_id] = (
                    f"the url is built from {', '.join(sorted(missing))}, which the call site "
                    "does not have"
                )
                continue
            notes = (*notes, *with_path_params(payload, spec.path_params)[1])
        wait_notes: tuple[str, ...] = ()
        bound_notes: tuple[str, ...] = ()
        if reading is not None:
            bound_notes = (*((wait_note(timeout),) if timeout else ()), *timeout_notes)
            wait_notes = (
                # a domain event's sites say the bound of its one send (the planner's note)
                *(bound_notes if not spec.event and spec.fold_into is None else ()),
                *check_notes,
                *handler_notes,
                # An event's send that waits for another of its calls checked nothing here,
                # and neither did a compensation, which waits for its own sake.
                *(
                    _helper_check_notes(wrapper.module, call, reading)
                    if spec.timeout is None and not spec.compensation and not spec.raised
                    else ()
                ),
            )
        facts = CallFacts(
            spec.site_id,
            in_async,
            payload,
            headers,
            (*wait_notes, *notes, *header_notes, *spec.helper_notes),
            column,
            timeout,
            bound_notes,
        )
        if spec.fold_into is not None:
            unsafe = _not_removable(statement, reading)
            if unsafe is not None:
                problems[spec.site_id] = unsafe
                continue
        located = _Located(call, statement, facts)
        located.drops = drops
        if reading is not None:
            located.widen = {
                id(node)
                for line in widened
                for node in parsed.statements.get(line, [])
                if isinstance(node, cst.ExceptHandler)
            }
            located.copies = copied
        parent = parents.get(parents.get(statement))  # type: ignore[arg-type]
        if isinstance(parent, cst.With):
            located.parent_with = parent
        found[spec.site_id] = located
    # before the folds are checked: a call folded into a refused send is refused with it
    _refuse_sends_of_copied_reads(parsed, found, problems)
    _check_folds(sites, found, problems, parsed)
    _check_between(sites, found, problems, parsed)
    return found, problems


def _not_removable(
    statement: cst.SimpleStatementLine | cst.If | cst.With,
    reading: ResponseReading | None,
) -> str | None:
    """Why a call folded into an event's send cannot simply go, or ``None``."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return (
            "its status is tested in an `if` or it opens a `with`, so removing it would "
            "change the code around it; keep it out of the event or rewrite it by hand"
        )
    if any(line.comment is not None for line in statement.leading_lines) or (
        statement.trailing_whitespace.comment is not None
    ):
        return (
            "it carries comments of its own, which would go with it; move them off the call, "
            "or keep it out of the event"
        )
    if reading is not None and reading.handlers:
        return (
            "a `try`/`except` guards it, which would guard nothing once the call goes; "
            "keep it out of the event or rewrite it by hand"
        )
    return None


def _check_folds(
    sites: Sequence[SendSpec],
    found: dict[str, _Located],
    problems: dict[str, str],
    parsed: ParsedSource,
) -> None:
    """A call folded into the event's send must run whenever that send runs: in the same
    block, not under a condition or a loop of its own."""
    for spec in sites:
        if spec.fold_into is None or spec.site_id not in found:
            continue
        lead = found.get(spec.fold_into)
        if lead is None:
            problems[spec.site_id] = f"the event's send ({spec.fold_into}) cannot be written"
            del found[spec.site_id]
            continue
        mine = parsed.parents.get(found[spec.site_id].statement)
        if mine is not parsed.parents.get(lead.statement):
            line = parsed.positions[found[spec.site_id].statement].start.line
            problems[spec.site_id] = (
                f"line {line} is not in the block of the event's send (a condition, loop or "
                "`with` is around one of them only): folded into one send, the fact would be "
                "told at other times; keep it out of the event"
            )
            del found[spec.site_id]


def _check_between(
    sites: Sequence[SendSpec],
    found: dict[str, _Located],
    problems: dict[str, str],
    parsed: ParsedSource,
) -> None:
    """The event's one send takes the place of its first call: a folded call after a
    statement that can fail or change something (a payment, a write, any call, an await,
    a raise, a return) would have its fact told before that work, and even when that work
    then fails. Such a call is refused, naming those statements."""
    # hazards imports this module, for SendSpec and CallFacts
    from decouple_services.migrate.hazards import fallible_between

    folds = [s for s in sites if s.fold_into is not None and s.site_id in found]
    if not folds:
        return
    by_id = {id(n): n for nodes in parsed.statements.values() for n in nodes}

    def lines(node: cst.CSTNode) -> set[int]:
        pos = parsed.positions[node]
        return set(range(pos.start.line, pos.end.line + 1))

    # What the rewrite takes out: the folded statements and every success check it drops
    # (an `if` check keeps its success branch, which stays and is judged).
    gone: set[int] = set()
    for spec in sites:
        located = found.get(spec.site_id)
        if located is None or (spec.fold_into is None and not spec.event):
            continue
        if spec.fold_into is not None:
            gone |= lines(located.statement)
        for node_id, how in located.drops.items():
            node = by_id.get(node_id)
            if node is None:
                continue
            kept: set[int] = set()
            if isinstance(node, cst.If) and how in ("body", "orelse"):
                branch = node.orelse.body if isinstance(node.orelse, cst.Else) else None
                block = node.body if how == "body" else branch
                for statement in block.body if isinstance(block, cst.IndentedBlock) else ():
                    kept |= lines(statement)
            gone |= lines(node) - kept
    for spec in folds:
        assert spec.fold_into is not None
        lead = found.get(spec.fold_into)
        if lead is None:
            continue
        where = parsed.positions[lead.statement]
        start, after = where.start.line, where.end.line
        end = parsed.positions[found[spec.site_id].statement].start.line
        reads = names_in([found[spec.site_id].statement])
        hazards = fallible_between(parsed.source, after, end, gone, reads)
        if not hazards:
            continue
        shown = "; ".join(f"`{h.code}` (line {h.line}: {h.what})" for h in hazards)
        problems[spec.site_id] = (
            f"between the event's send ({spec.fold_into}, line {start}) and this call "
            f"(line {end}) come {shown}: the send would tell this call's fact before they "
            "run, even when they fail; put the event's calls together after them, or keep "
            "this call out of the event"
        )
        del found[spec.site_id]


def _request_call(calls: Sequence[cst.Call]) -> cst.Call:
    """The request among the calls spanning a site's lines, outermost first: the call a
    chained ``.raise_for_status()`` is made on, not the chained call (a client built on the
    line, ``PoolManager().request(...)``, is not the request)."""
    call = calls[0]
    while isinstance(call.func, cst.Attribute) and call.func.attr.value == "raise_for_status":
        inner = call.func.value
        inner = inner.expression if isinstance(inner, cst.Await) else inner
        if not (isinstance(inner, cst.Call) and any(inner is c for c in calls)):
            break
        call = inner
    return call


def _statement_of(
    call: cst.Call,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    *,
    wait: bool = False,
    unread: bool = False,
) -> tuple[cst.SimpleStatementLine | cst.If | cst.With | None, str]:
    """The statement the send replaces: the one holding the call, or (``wait`` sites only)
    the ``if`` testing the chained call or the ``with`` opening it. ``unread``: the name the
    call is assigned to is never read, so the assignment goes with the call."""
    node: cst.CSTNode = call
    parent = parents.get(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, parents.get(parent)
    if wait and isinstance(parent, cst.Attribute) and parent.value is node:
        holder = _chained_holder(parent, parents)
        if holder is None:
            return None, "the call's status is checked in a way this rewrite cannot take"
        if isinstance(holder, cst.If):
            return _compound(holder, parents)
        node, parent = holder, parents.get(holder)
    if wait and isinstance(parent, cst.WithItem):
        block = parents.get(parent)
        if not isinstance(block, cst.With) or len(block.items) != 1:
            return None, "the call is opened in a `with` with other items"
        return _compound(block, parents)
    given = _assigned(parent) if isinstance(parent, cst.Assign | cst.AnnAssign) else None
    if parent is None or not (
        isinstance(parent, cst.Expr) or (given is not None and (wait or unread or given[0] == "_"))
    ):
        return None, "the call is part of a larger expression, not a statement of its own"
    line = parents.get(parent)
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None, "the call shares its line with other statements"
    return line, ""


def _chained_holder(
    attribute: cst.Attribute, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> cst.CSTNode | None:
    """For ``call.raise_for_status()`` the call around the attribute (its statement is the
    check); for ``if not call.ok:`` the ``if``."""
    parent = parents.get(attribute)
    if attribute.attr.value == "raise_for_status":
        return parent if isinstance(parent, cst.Call) else None
    node: cst.CSTNode = attribute
    while isinstance(parent, cst.UnaryOperation | cst.BooleanOperation | cst.Comparison):
        node, parent = parent, parents.get(parent)
    if isinstance(parent, cst.If) and parent.test is node:
        return parent
    return None


def _compound(
    block: cst.If | cst.With, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> tuple[cst.If | cst.With | None, str]:
    if isinstance(parents.get(block), cst.If):
        return None, "the call is tested in an `elif`; rewrite it by hand"
    return block, ""


def _checks(
    parsed: ParsedSource, reading: ResponseReading, replaced: cst.CSTNode
) -> tuple[dict[int, str], tuple[str, ...]]:
    """The success checks to take out (by node id) and what the reviewer is told of them."""
    drops: dict[int, str] = {}
    notes: list[str] = []
    module = parsed.wrapper.module
    for check in reading.checks:
        nodes = parsed.statements.get(check.line, [])
        kind = cst.If if check.kind == "if" else cst.SimpleStatementLine
        node = next((n for n in nodes if isinstance(n, kind)), None)
        if node is None:
            raise _NotRewritable(f"cannot find the success check at line {check.line}")
        test = _first_line(module.code_for_node(node))
        if node is replaced or (check.chained and check.kind == "raise_for_status"):
            if node is replaced and check.kind == "if":
                drops[id(node)] = check.success_branch
            what = f"line {check.line}: `{test}` is gone"
        elif check.kind == "if":
            if isinstance(parsed.parents.get(node), cst.If):
                raise _NotRewritable(
                    f"the success check at line {check.line} is an `elif`; rewrite it by hand"
                )
            if isinstance(node, cst.SimpleStatementLine) and len(node.body) != 1:
                raise _NotRewritable(f"line {check.line} holds other statements too")
            drops[id(node)] = check.success_branch
            what = f"line {check.line}: the check `{test}` is gone"
        else:
            if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
                raise _NotRewritable(f"line {check.line} holds other statements too")
            drops[id(node)] = "drop"
            what = f"line {check.line}: `{test}` is gone"
        first, last = check.failure_lines
        if first:
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            what += f"; its failure branch ({span}) no longer runs"
            did = (
                _what_it_did(_failure_branch(node, check.success_branch), module)
                if isinstance(node, cst.If)
                else None
            )
            if did:
                # what the caller saw of a failure changes: name it (the exception it got,
                # the value returned, the log line), not only the lines
                what += (
                    f": it {did}, where a send Kafka does not accept raises "
                    "`EventNotAccepted` instead, and the callee's own refusals go to the "
                    "dead-letter topic"
                )
                raised = re.search(r"raised `([^`]+)`", did)
                if raised:
                    what += (
                        f"; code that catches `{raised.group(1)}` around this function "
                        "must catch `EventNotAccepted` too"
                    )
        notes.append(what)
        acted = (
            _acts_on_failure(node, check.success_branch, module, parsed.parents)
            if check.kind == "if"
            else None
        )
        if acted is not None:
            raise _NotRewritable(
                f"the failure branch of the check at line {check.line} acts on the callee's "
                f"answer (`{acted}`): a refusal this caller compensates or decides on is a "
                "business answer, not a success check, and no event brings it back",
                ANSWER_USED,
            )
    return drops, tuple(notes)


#: Calls that only report a failure: logging, printing (a management command's
#: ``self.stdout.write``, click's ``echo``), warnings, error trackers, aborting the request.
_REPORTING = re.compile(
    r"(^|\.)(log|debug|info|warning|warn|error|exception|critical|print|abort|fail"
    r"|write|echo|secho|flash|capture_exception|capture_message)$"
)


#: Calls that only read or word a value: the body of the answer (``.content.decode()``,
#: ``.json()``, ``.json().get("detail")``), a message's text (``MSG.format(...)``,
#: ``str(e)``). A local made of these changes nothing.
_WORDING = frozenset(
    {
        "decode",
        "json",
        "format",
        "get",
        "strip",
        "join",
        "lower",
        "upper",
        "replace",
        "str",
        "repr",
        "len",
        "int",
        "dumps",
        "getattr",
    }
)


def _acts_on_failure(
    node: cst.CSTNode,
    success: str,
    module: cst.Module,
    parents: Mapping[cst.CSTNode, cst.CSTNode] | None = None,
) -> str | None:
    """The first statement of an ``if`` check's failure branch that does more than report
    the failure (``rollback_stock(removed)``, ``order.status = FAILED``), as written.

    A local the branch words its report with (``content = response.content.decode()``
    before ``raise Error(content)``) reports too, when its value calls nothing that acts
    and nothing after the branch reads it: the branch leaves the function (its last
    statement a ``raise`` or ``return``), or the function reads the name nowhere else."""
    if not isinstance(node, cst.If):
        return None
    if success == "body":
        branch = node.orelse.body if isinstance(node.orelse, cst.Else) else None
    else:
        branch = node.body
    statements = list(_failure_branch(node, success))
    shared = _shared_names(node, parents) if parents is not None else None
    # what the function reads besides the branch: a local read there carries the answer on
    read_elsewhere = (
        set()
        if _leaves(statements) or parents is None
        else _names_read_outside(node, branch, parents)
    )
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            return _first_line(module.code_for_node(statement))
        for small in statement.body:
            if isinstance(small, cst.Raise | cst.Return | cst.Pass):
                continue
            if (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and _REPORTING.search(_dotted(small.value.func) or "")
            ):
                continue
            if shared is not None and _words_a_local(small, shared | read_elsewhere):
                continue
            return _first_line(module.code_for_node(small))
    return None


def _failure_branch(node: cst.If, success: str) -> Sequence[cst.BaseStatement]:
    """The statements of an ``if`` check's failure branch (its ``else`` when the success
    is the body)."""
    if success == "body":
        branch = node.orelse.body if isinstance(node.orelse, cst.Else) else None
    else:
        branch = node.body
    return branch.body if isinstance(branch, cst.IndentedBlock) else ()


def _leaves(statements: Sequence[cst.BaseStatement]) -> bool:
    """Whether a block's last statement is a ``raise`` or a ``return``."""
    last = statements[-1] if statements else None
    return (
        isinstance(last, cst.SimpleStatementLine)
        and bool(last.body)
        and isinstance(last.body[-1], cst.Raise | cst.Return)
    )


def _names_read_outside(
    node: cst.CSTNode, branch: cst.CSTNode | None, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> set[str]:
    """The names the function around ``node`` reads outside ``branch``."""
    current = _enclosing_function(node, parents)
    if current is None:
        return set()
    inside = {id(n) for n in _walk(branch)} if branch is not None else set()
    return {
        n.value
        for n in _walk(current)
        if isinstance(n, cst.Name) and id(n) not in inside and not _is_store(n, parents)
    }


def _is_store(name: cst.Name, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    parent = parents.get(name)
    return (isinstance(parent, cst.AssignTarget) and parent.target is name) or (
        isinstance(parent, cst.AnnAssign) and parent.target is name
    )


def _shared_names(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> set[str] | None:
    """The names the function around ``node`` declares ``global`` or ``nonlocal`` (an
    assignment to them outlives the frame); ``None`` outside a function."""
    current = _enclosing_function(node, parents)
    if current is None:
        return None
    return {
        name.name.value
        for n in _walk(current)
        if isinstance(n, cst.Global | cst.Nonlocal)
        for name in n.names
    }


def _words_a_local(small: cst.BaseSmallStatement, kept: set[str]) -> bool:
    """``name = <value>`` where ``name`` is not in ``kept`` (declared ``global``, read
    after the branch) and ``value`` calls only what reads or words (``_WORDING``)."""
    if not (
        isinstance(small, cst.Assign | cst.AnnAssign)
        and small.value is not None
        and all(
            isinstance(t, cst.Name) and t.value not in kept
            for t in (
                [a.target for a in small.targets]
                if isinstance(small, cst.Assign)
                else [small.target]
            )
        )
    ):
        return False
    for n in _walk(small.value):
        if isinstance(n, cst.Call):
            func = n.func
            name = (
                func.attr.value
                if isinstance(func, cst.Attribute)
                else func.value
                if isinstance(func, cst.Name)
                else ""
            )
            if name not in _WORDING:
                return False
            # ``client.get(url)`` is another call; ``response.json().get("detail")`` reads
            if name == "get" and not (
                isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call | cst.Subscript)
            ):
                return False
        if isinstance(n, cst.Await | cst.Yield | cst.NamedExpr | cst.Lambda):
            return False
    return True


def _first_line(code: str) -> str:
    line = code.strip().splitlines()[0] if code.strip() else ""
    return line.strip()


def wait_note(timeout: str) -> str:
    """The note of a send that waits at most its old call's ``timeout``."""
    return f"the send waits at most {timeout} s for Kafka's acknowledgement (the old timeout)"


def _helper_check_notes(
    module: cst.Module, call: cst.Call, reading: ResponseReading
) -> tuple[str, ...]:
    """A site waits with no check of its own: the helper it called checked the answer."""
    if reading.checks or reading.handlers:
        return ()
    helper = module.code_for_node(call.func)
    return (
        f"`{helper}(...)` checked the callee's answer itself (raise_for_status() or a status "
        "test in its body); that check no longer runs for this site: the send raises "
        "`EventNotAccepted` when Kafka does not accept the event, and the callee's own "
        "4xx/5xx go to the dead-letter topic",
    )


#: What ``except`` catches a send's ``EventNotAccepted`` (an ``Exception``) as written.
_CATCH_ALL = frozenset({"Exception", "BaseException", "builtins.Exception"})


def _handling(
    reading: ResponseReading, parsed: ParsedSource
) -> tuple[set[int], dict[int, frozenset[int]], tuple[str, ...]]:
    """The lines of the ``except`` clauses that get ``EventNotAccepted`` added, the clauses
    (by node id) that get a copy for it, and what the reviewer is told of each clause
    around the call.

    A clause that reads the client's error (``e.response.text``, ``e.code()``) cannot take
    an ``EventNotAccepted``, which has none of that (``AttributeError``). Where it reads
    them only to word its report (``log.error(f"failed: {e.code()}")``, ``raise
    HTTPException(detail=f"{e.details()}")``), a copy of it for ``EventNotAccepted``
    follows it, with the error itself (its message says why Kafka did not take the event)
    in their place. When every clause that handled the call's failures decides on what it
    reads (``if e.code() == ...``), nothing can handle a refused send as the failed call
    was: the site is refused."""
    widened: set[int] = set()
    copies: dict[int, frozenset[int]] = {}
    out: list[str] = []
    caught_somewhere = False
    readers: list[tuple[Handler, cst.ExceptHandler | None, frozenset[int] | cst.CSTNode | None]]
    readers = []
    # clauses (by line) that take the send's failure only because no clause before them does
    catch_alls: list[Handler] = []
    # the readers that a clause before them would keep the send's failure from
    shadowed: set[int] = set()
    for handler in reading.handlers:
        caught = ", ".join(handler.caught) or "everything"
        if handler.client_only and handler.reads:
            if caught_somewhere:
                shadowed.add(handler.line)
            node = next(
                (
                    n
                    for n in parsed.statements.get(handler.line, [])
                    if isinstance(n, cst.ExceptHandler)
                ),
                None,
            )
            worded = _worded_reads(node, parsed) if node is not None else None
            readers.append((handler, node, worded))
            out.append(
                f"line {handler.line}: `except {caught}` is left as it was: it reads the "
                f"error's `{'`, `'.join(handler.reads)}`, which `EventNotAccepted` has not"
            )
        elif handler.client_only:
            widened.add(handler.line)
            caught_somewhere = True
            out.append(
                f"line {handler.line}: `except {caught}` now also catches `EventNotAccepted`, "
                "so a send Kafka did not accept is handled as the failed call was; the "
                "callee's own failures no longer reach it"
            )
        elif not handler.caught or set(handler.caught) & _CATCH_ALL:
            if not caught_somewhere:
                catch_alls.append(handler)
            caught_somewhere = True
            out.append(
                f"line {handler.line}: `except {caught}` now catches `EventNotAccepted` (the "
                "event was not accepted) instead of the call's failures"
            )
    # No clause before it takes the send's failure: the first that reads the error only to
    # word its report gets a copy for it (a second copy after it could never run). A
    # catch-all after it (``except Exception``) took what else failed; the clause the call's
    # failures went to keeps handling a refused send as it handled them (``return False``
    # rather than the catch-all's ``return None``). A clause that catches only the client's
    # failures with no read is widened instead, as before.
    copied = next(
        (
            (handler, node, worded)
            for handler, node, worded in readers
            if node is not None and isinstance(worded, frozenset)
        ),
        None,
    )
    if copied is not None and not widened and copied[0].line not in shadowed:
        handler, node, worded = copied
        assert node is not None and isinstance(worded, frozenset)
        copies[id(node)] = worded
        caught_somewhere = True
        caught = ", ".join(handler.caught)
        after = {
            f"line {h.line}: ": (
                f"line {h.line}: `except {', '.join(h.caught) or 'everything'}` no longer gets "
                "the call's failures: a send Kafka does not accept goes to the copy of line "
                f"{handler.line}'s clause before it"
            )
            for h in catch_alls
        }
        out = [
            (
                f"line {handler.line}: `except {caught}` reads the error's "
                f"`{'`, `'.join(handler.reads)}` only to word its report: a copy of it for "
                "`EventNotAccepted` follows it and words the report with the send's error "
                "(why Kafka did not take the event); the callee's own failures no longer "
                "reach either"
            )
            if n.startswith(f"line {handler.line}: ")
            else after.get(n.partition(": ")[0] + ": ", n)
            for n in out
        ]
        # the error passed on as data (``requests.post(audit, json={"why": str(e)})``): the
        # copy passes the send's error text on, which is more than the words of a report
        out.extend(
            f"line {line}: the clause passes `{read}` on in a call, not only in its report: "
            f"in the copy of line {handler.line}'s clause for `EventNotAccepted` it is the "
            "send's error text (why Kafka did not take the event), not the client's"
            for line, read in _errors_passed_on(node, parsed)
        )
    elif readers:
        # the clauses left as they were, while another takes the send's failure: say what
        # they did that a refused send no longer does (``return False``, ``raise X``)
        out = [_with_what_it_did(n, readers, parsed) for n in out]
    if readers and not caught_somewhere:
        first, _, deciding = readers[0]
        if isinstance(deciding, cst.CSTNode):
            # ``if e.code() == ...``, ``status_code=e.response.status_code``: the callee's
            # answer decides what this caller does
            read = parsed.wrapper.module.code_for_node(deciding)
            line = parsed.positions[deciding].start.line
            raise _NotRewritable(
                f"the `except {', '.join(first.caught)}` at line {first.line} acts on the "
                f"callee's answer: it reads `{read}` at line {line} for more than the words "
                "of its report (a refusal this caller decides on is a business answer, and "
                "no event brings it back; a send's `EventNotAccepted` has no such answer)",
                ANSWER_USED,
            )
        raise _NotRewritable(
            f"the `except {', '.join(first.caught)}` at line {first.line} handles the call's "
            f"failures by reading the error's `{'`, `'.join(first.reads)}`, which a send's "
            "`EventNotAccepted` has not: adding it there would raise AttributeError, leaving "
            "it out lets a refused send escape the handling; rewrite the handling by hand"
        )
    if reading.handlers and not caught_somewhere:
        lines = ", ".join(str(h.line) for h in reading.handlers)
        out.append(
            f"no `except` around the call (line {lines}) catches `EventNotAccepted`: a send "
            "Kafka does not accept escapes to this function's caller, unhandled"
        )
    return widened, copies, tuple(out)


def _with_what_it_did(
    note: str,
    readers: Sequence[tuple[Handler, cst.ExceptHandler | None, object]],
    parsed: ParsedSource,
) -> str:
    """A left-alone clause's note, with what it did that a refused send no longer does."""
    for handler, node, _ in readers:
        if node is None or not note.startswith(f"line {handler.line}: "):
            continue
        body = node.body
        did = _what_it_did(
            body.body if isinstance(body, cst.IndentedBlock) else (), parsed.wrapper.module
        )
        if did:
            return (
                f"{note}; it {did} on a failed call, which a send Kafka does not accept does not do"
            )
    return note


def _what_it_did(statements: Sequence[cst.BaseStatement], module: cst.Module) -> str | None:
    """What a failure branch or clause did that its caller could see: the report it logged
    and how it left (``logged with `log.warning` and raised `PropagationError```), or
    ``None`` when it did neither."""
    reported: list[str] = []
    left = ""
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                name = _dotted(small.value.func) or ""
                if _REPORTING.search(name) and name not in reported:
                    reported.append(name)
            elif isinstance(small, cst.Raise):
                exc = small.exc
                if exc is None:
                    left = "re-raised the call's error"
                else:
                    kind = exc.func if isinstance(exc, cst.Call) else exc
                    left = f"raised `{module.code_for_node(kind)}`"
            elif isinstance(small, cst.Return):
                value = module.code_for_node(small.value) if small.value is not None else "None"
                left = f"returned `{value}`"
    said = f"reported the failure with `{'`, `'.join(reported)}`" if reported else ""
    return " and ".join(p for p in (said, left) if p) or None


class _ReplaceNodes(cst.CSTTransformer):
    """Puts ``by`` in place of each node whose id is in ``ids``."""

    def __init__(self, ids: frozenset[int], by: cst.BaseExpression) -> None:
        super().__init__()
        self.ids = ids
        self.by = by

    def _swap(self, original: cst.CSTNode, updated: cst.BaseExpression) -> cst.BaseExpression:
        return self.by.deep_clone() if id(original) in self.ids else updated

    # a read is a chain on the error: it ends in a call, an attribute or a subscript
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._swap(original_node, updated_node)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        return self._swap(original_node, updated_node)

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        return self._swap(original_node, updated_node)


class _DropMarkers(cst.CSTTransformer):
    """Takes the provenance markers out of a clause's copy: a site keeps one marker, above
    its send in the clause the copy was made of."""

    def leave_EmptyLine(
        self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
    ) -> cst.EmptyLine | cst.RemovalSentinel:
        comment = updated_node.comment
        if comment is not None and MARKER().search(comment.value):
            return cst.RemoveFromParent()
        return updated_node


#: What every exception has: a read of these works on the send's error as well.
_EXCEPTION_ATTRIBUTES = frozenset(dir(Exception()))

#: What turns a value into text, the error's reads included.
_TO_TEXT = frozenset({"str", "repr"})


def _read_chain(
    node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> tuple[cst.CSTNode, cst.CSTNode | None]:
    """The whole read on a name (``e.response.json()["detail"]``) and what holds it."""
    top = node
    parent = parents.get(top)
    while (
        (isinstance(parent, cst.Attribute) and parent.value is top)
        or (isinstance(parent, cst.Call) and parent.func is top)
        or (isinstance(parent, cst.Subscript) and parent.value is top)
    ):
        top, parent = parent, parents.get(parent)
    return top, parent


def _worded_reads(
    handler: cst.ExceptHandler, parsed: ParsedSource
) -> frozenset[int] | cst.CSTNode | None:
    """The node ids of the reads of the clause's error (``e.code()``, ``e.response.text``)
    when each only words a report: inside an f-string's braces, an argument of a call that
    reports (``log.error("%s", e.details())``), or of ``str()``/``repr()``. Else the first
    read that does more (``if e.code() == ...``, ``status_code=e.response.status_code``),
    or ``None`` when the clause names no error."""
    if handler.name is None or not isinstance(handler.name.name, cst.Name):
        return None
    error = handler.name.name.value
    parents = parsed.parents
    found: set[int] = set()
    for node in _walk(handler.body):
        if not (isinstance(node, cst.Name) and node.value == error):
            continue
        # the read: the whole chain on the error (``e.response.json()["detail"]``)
        top, parent = _read_chain(node, parents)
        if top is node:
            continue  # the error itself: ``str(e)``, ``raise ... from e``
        first = parents.get(node)
        if isinstance(first, cst.Attribute) and first.attr.value in _EXCEPTION_ATTRIBUTES:
            continue  # ``e.args``: every exception has it, the send's error too
        if isinstance(parent, cst.FormattedStringExpression) and parent.format_spec is None:
            found.add(id(top))
            continue
        holder = parents.get(parent) if isinstance(parent, cst.Arg) else None
        if (
            isinstance(parent, cst.Arg)
            and parent.keyword is None
            and isinstance(holder, cst.Call)
            and (_dotted(holder.func) in _TO_TEXT or _REPORTING.search(_dotted(holder.func) or ""))
            # ``abort(e.response.status_code)`` passes the callee's status on: not words
            and not (
                (_dotted(holder.func) or "").rpartition(".")[2] == "abort"
                and holder.args
                and holder.args[0] is parent
            )
        ):
            found.add(id(top))
            continue
        return top
    return frozenset(found) if found else None


def _httpx_default(call: cst.Call, parsed: ParsedSource) -> bool:
    """Whether a call with no ``timeout=`` was bounded by httpx's default: made with
    ``httpx.post(...)``, or on an ``httpx.Client()``/``AsyncClient()`` opened in a ``with``
    around it with no timeout of its own (already looked for)."""
    name = _dotted(call.func) or ""
    if name.startswith("httpx."):
        return True
    owner = name.rpartition(".")[0]
    for block in _enclosing_withs(call, parsed.parents):
        for item in block.items:
            client = item.item
            alias = item.asname.name if item.asname is not None else None
            if (
                isinstance(client, cst.Call)
                and (_dotted(client.func) or "").startswith("httpx.")
                and isinstance(alias, cst.Name)
                and alias.value == owner
            ):
                return True
    return False


def _timeout(parsed: ParsedSource, call: cst.Call) -> tuple[str | None, tuple[str, ...]]:
    """The send's bound from the old call's ``timeout=``: a number, the sum of a
    ``(connect, read)`` pair, a timeout object's total, or a module constant holding one."""
    module = parsed.wrapper.module
    arg = _keyword(call, "timeout")
    if arg is None:
        # the client the call was made on, opened in a ``with`` around it, may set one
        for block in _enclosing_withs(call, parsed.parents):
            for item in block.items:
                client = item.item
                given = _keyword(client, "timeout") if isinstance(client, cst.Call) else None
                if given is not None:
                    bound = _number(_local_value(given.value, call, parsed))
                    if bound is not None:
                        return bound, ()
        if _httpx_default(call, parsed):
            return None, (
                "the old call passed no `timeout=`, so httpx bounded it by its default "
                "5 s: the send waits the producer's bound, the same 5 s unless "
                "`DECOUPLE_SEND_TIMEOUT_S` sets another",
            )
        return None, ("the old call passed no `timeout=`: the send waits the producer's bound",)
    value = arg.value
    number = _number(_local_value(value, call, parsed))
    if number is not None:
        return number, ()
    if isinstance(value, cst.Name) and _module_number(module, value.value):
        return value.value, ()
    text = module.code_for_node(value)
    return None, (
        f"the old call's `timeout={text}` is not a number this rewrite can read: the send waits "
        "the producer's bound; pass `timeout=` to make it shorter",
    )


def _local_value(
    value: cst.BaseExpression, at: cst.CSTNode, parsed: ParsedSource
) -> cst.BaseExpression:
    """A name's value when one assignment alone reaches ``at`` (``timeout =
    aiohttp.ClientTimeout(total=3)`` above the call, at the function's top level or in a
    block around the call), else ``value`` itself."""
    if not isinstance(value, cst.Name):
        return value
    found = _reaching_assignment(value.value, at, parsed.parents)
    if found is None:
        return value
    # the value is read again where the call was: a name it reads, bound anew in between
    # (``token = refresh()`` after ``headers = {"Authorization": token}``), reads another
    current = _enclosing_function(at, parsed.parents)
    made, read = parsed.positions[found].end, parsed.positions[at].start
    reads = names_in([_value(found)])
    for node in _walk(current) if current is not None else ():
        if isinstance(node, cst.Name) and node.value in reads and _binds(node, parsed.parents):
            where = parsed.positions[node].start
            if (made.line, made.column) < (where.line, where.column) < (read.line, read.column):
                return value
    return _value(found)


#: ``name = value`` or ``name: T = value``: a local annotated is bound the same way (the
#: annotation of a local is never evaluated).
Assignment = cst.Assign | cst.AnnAssign


def _assigned(small: cst.BaseSmallStatement) -> tuple[str, cst.BaseExpression] | None:
    """The name and value of ``name = value`` or ``name: T = value``; None for any other
    statement (several targets, a target that is no plain name, ``name: T`` alone)."""
    if isinstance(small, cst.Assign):
        if len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            return small.targets[0].target.value, small.value
    elif (
        isinstance(small, cst.AnnAssign)
        and isinstance(small.target, cst.Name)
        and small.value is not None
    ):
        return small.target.value, small.value
    return None


def _value(assignment: Assignment) -> cst.BaseExpression:
    """The value of an assignment :func:`_reaching_assignment` found (an annotated one has
    one)."""
    assert assignment.value is not None
    return assignment.value


def _reaching_assignment(
    name: str, at: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> Assignment | None:
    """The assignment ``name = <value>`` (or ``name: T = <value>``) that is the only binding
    of ``name`` in the function around ``at`` and comes before ``at`` in the block holding
    ``at`` or in a block around it (``if``, ``with``, ``for``, ``try``): the value ``at``
    sees, whichever way the function ran. ``None`` when another binding could reach it
    instead (a parameter, another branch, a loop target, ``+=``, ``global``/``nonlocal``, a
    second assignment)."""
    current = _enclosing_function(at, parents)
    if current is None:
        return None
    bindings = [n for n in _walk(current) if isinstance(n, cst.Name) and n.value == name]
    # ``headers: dict[str, str]`` alone declares the local and gives it nothing
    bindings = [n for n in bindings if _binds(n, parents) and not _declared(n, parents)]
    if len(bindings) != 1:
        return None
    target = parents.get(bindings[0])
    assign = parents.get(target) if isinstance(target, cst.AssignTarget) else target
    line = parents.get(assign) if assign is not None else None
    if not (
        isinstance(assign, cst.Assign | cst.AnnAssign)
        and _assigned(assign) is not None
        and isinstance(line, cst.SimpleStatementLine)
    ):
        return None
    block = parents.get(line)
    # the statement of ``block`` that holds ``at`` must come after the assignment
    child: cst.CSTNode | None = at
    while child is not None and child is not current and parents.get(child) is not block:
        child = parents.get(child)
    if child is None or child is current or not isinstance(block, cst.IndentedBlock):
        return None
    body = list(block.body)
    return assign if body.index(line) < body.index(child) else None  # type: ignore[arg-type]


def _declared(name: cst.Name, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Whether ``name`` is the target of an annotation without a value (``x: int``)."""
    parent = parents.get(name)
    return isinstance(parent, cst.AnnAssign) and parent.target is name and parent.value is None


def _binds(name: cst.Name, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Whether ``name`` is bound where it stands rather than read: an assignment's target
    (also inside a tuple), ``+=``, a ``for``/``with``/``except``/comprehension target, a
    walrus, ``del``, ``global``/``nonlocal``, a parameter, an import, a ``def`` or
    ``class``."""
    node: cst.CSTNode = name
    parent = parents.get(node)
    while isinstance(parent, cst.Element | cst.Tuple | cst.List | cst.StarredElement):
        node, parent = parent, parents.get(parent)
    if isinstance(parent, cst.AssignTarget | cst.AsName | cst.NameItem | cst.Del):
        return True
    if isinstance(parent, cst.AnnAssign | cst.AugAssign | cst.For | cst.CompFor | cst.NamedExpr):
        return parent.target is node
    if isinstance(parent, cst.Param):
        return parent.name is node
    if isinstance(parent, cst.ImportAlias):
        return parent.asname is None and parent.name is node
    if isinstance(parent, cst.FunctionDef | cst.ClassDef):
        return parent.name is node
    return False


def _client_credentials(
    parsed: ParsedSource,
    call: cst.Call,
    read_sessions: tuple[str, ...] = (),
    read_inherited: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """A note for each credential the call sent that its send does not carry: ``auth=``
    or ``cookies=`` on the call, and what the session or client it was made on adds (headers or auth set
    on it, in the function or the module: ``s.headers["Authorization"] = ...``,
    ``requests.Session(headers=...)``, ``httpx.Client(auth=...)``), read by the rules a
    helper's session is (:func:`helper_request.client_request`): a credential of fixed
    values is a note, one made per call or per client (a user's token) refuses the call,
    as no consumer setting can give it, and an OAuth session always holds one."""
    # imported here: helper_request reads this module's header tables
    from decouple_services.migrate.helper_request import client_request

    start = parsed.positions[call].start
    added = client_request(parsed.source, start.line, start.column, read_sessions, read_inherited)
    if added.refusal is not None:
        raise _NotRewritable(
            f"{added.refusal}: the send carries only what the call names, and the "
            f"consumer's request would go to the callee without {added.lost}, which "
            "the callee would refuse for every event; keep the call, or give the callee a "
            "credential of the consumer's own (`DECOUPLE_REQUEST_HEADERS`) and rewrite it by "
            "hand"
        )
    return added.notes


def _changed_in_place(name: str, at: cst.CSTNode, parsed: ParsedSource) -> bool:
    """Whether the function around ``at`` changes the dict ``name`` holds after making it:
    an item set or deleted (``headers["X-Trace"] = ...``), or a method call on it
    (``headers.update(...)``). Its literal then no longer says what was sent."""
    current = _enclosing_function(at, parsed.parents)
    if current is None:
        return True
    for node in _walk(current):
        reads = isinstance(node, cst.Attribute) and node.attr.value == "get"
        target = node.value if isinstance(node, cst.Subscript | cst.Attribute) else None
        if not reads and isinstance(target, cst.Name) and target.value == name:
            return True
    return False


def _enclosing_function(
    node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> cst.FunctionDef | None:
    """The function ``node`` is in, or ``None`` at module level."""
    current = parents.get(node)
    while current is not None and not isinstance(current, cst.FunctionDef):
        current = parents.get(current)
    return current


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _number(value: cst.BaseExpression) -> str | None:
    if isinstance(value, cst.Integer | cst.Float):
        return value.value
    if isinstance(value, cst.Tuple):
        parts = [_number(e.value) for e in value.elements]
        if parts and all(p is not None for p in parts):
            total = sum(float(p) for p in parts if p is not None)
            return f"{total:g}"
        return None
    if (
        isinstance(value, cst.Call)
        and _dotted(value.func)
        and str(_dotted(value.func)).endswith("Timeout")
    ):
        given = _keyword(value, "total") or _keyword(value, "timeout")
        if given is None:
            positional = [a for a in value.args if a.keyword is None]
            given = positional[0] if positional else None
        return _number(given.value) if given is not None else None
    return None


def _module_number(module: cst.Module, name: str) -> bool:
    """Whether ``name`` is assigned a number once at module level."""
    values = [
        assigned[1]
        for statement in module.body
        if isinstance(statement, cst.SimpleStatementLine)
        for small in statement.body
        if (assigned := _assigned(small)) is not None and assigned[0] == name
    ]
    return len(values) == 1 and isinstance(values[0], cst.Integer | cst.Float)


def _in_async_def(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    current: cst.CSTNode | None = parents.get(node)
    while current is not None:
        if isinstance(current, cst.FunctionDef):
            return current.asynchronous is not None
        if isinstance(current, cst.Lambda):
            return False
        current = parents.get(current)
    return False


def _payload_source(
    module: cst.Module, call: cst.Call, spec: SendSpec, known: set[str]
) -> tuple[str | None, tuple[str, ...], cst.CSTNode | None]:
    """The payload's source, notes about it, and its node when it is taken from the call.
    ``known``: the names the call site can read."""
    hint = spec.payload_hint
    if spec.is_grpc:
        positional = [a for a in call.args if a.keyword is None and a.star == ""]
        request = positional[0] if positional else _keyword(call, "request")
        if request is None:
            return None, (), None
        return module.code_for_node(request.value), (), request.value
    if hint is not None and hint.lstrip().startswith("*"):
        hint = None  # the helper's own ``*args``/``**kwargs``, passed on as the scan saw them
    if hint is None:
        # A helper that passes ``**kwargs`` on: the scan saw no payload, but the call site
        # may name one (``sendinblue.request("POST", "contacts", json={...})``).
        given = next((a for k in PAYLOAD_KEYWORDS if (a := _keyword(call, k)) is not None), None)
        if given is not None:
            value = _unwrap_dumps(given.value)
            return module.code_for_node(value), (), value
        if any(a.star == "**" for a in call.args):
            raise _NotRewritable(
                "the call passes `**` arguments, so what it sends cannot be read; rewrite it by "
                "hand"
            )
        return None, (), None
    keyword, eq, expression = hint.partition("=")
    if not eq or not keyword.isidentifier():
        keyword, expression = "", hint
    arg = _keyword(call, keyword) if keyword else None
    if arg is None:
        # Positional payloads, and wrapper invocations whose argument is the payload.
        wanted = _squash(expression)
        for candidate in call.args:
            if _squash(module.code_for_node(candidate.value)) == wanted:
                arg = candidate
                break
    if arg is None:
        # A wrapper that builds the payload from its parameters: the scan substituted them.
        # Names the helper has and the call site lacks would make the send fail at run time.
        text, unset = _with_defaults(expression.strip(), call, spec.helper_params)
        # a parameter left out is the helper's, even where the call site has a name like it
        left_out = _free_names(text) & unset
        if left_out:
            raise _NotRewritable(
                f"the helper builds its payload from its parameter "
                f"{', '.join(sorted(left_out))}, which the call leaves out and whose default "
                "is computed by the helper, not written as a value the send could carry"
            )
        missing = _free_names(text) - known
        if missing:
            raise _NotRewritable(
                f"the helper builds its payload from {', '.join(sorted(missing))}, which the "
                "call site does not have"
            )
        return text or None, (), None
    value = _unwrap_dumps(arg.value)
    notes: tuple[str, ...] = ()
    if keyword == "data" and isinstance(value, cst.Dict):
        notes = ("the call sent `data=` as a form body; the event carries it as JSON",)
    return module.code_for_node(value), notes, value


def _refuse_query(parsed: ParsedSource, call: cst.Call, spec: SendSpec) -> None:
    """Refuses an HTTP call that sends a query string (``params={"cascade": "true"}``, or a
    helper whose payload the scan read from its ``params=``). An event has its data and no
    query: carried as the body, the query would reach the callee's application as a body it
    never read (``DELETE ...?cascade=true`` handled without ``cascade``), and the consumer
    calls the route's path with no query at all."""
    if spec.is_grpc:
        return
    given = _keyword(call, "params")
    hint = (spec.payload_hint or "").partition("=")
    through_helper = hint[1] == "=" and hint[0].strip() == "params"
    if given is None and not through_helper:
        return
    line = parsed.positions[given.value if given is not None else call].start.line
    what = (
        f"`params={parsed.wrapper.module.code_for_node(given.value)}`"
        if given is not None
        else f"`{spec.payload_hint}` through its helper"
    )
    raise _NotRewritable(
        f"the call at line {line} sends {what}, a query string, which an event has no "
        "place for: as the event's data it would reach the callee as a body, and the "
        "consumer calls the route with no query; keep the call, or move the values into "
        "the body or the path where the callee reads them"
    )


#: Refusal code of a site whose caller acts on the callee's refusal (a saga step).
ANSWER_USED = "answer-used"
NOT_REWRITABLE = "not-rewritable"


class Problem(str):
    """Why a site is not rewritten (the text), with the refusal code it is reported under."""

    code: str

    def __new__(cls, reason: str, code: str = NOT_REWRITABLE) -> Problem:
        made = super().__new__(cls, reason)
        made.code = code
        return made


class _NotRewritable(Exception):
    def __init__(self, reason: str, code: str = NOT_REWRITABLE) -> None:
        super().__init__(reason)
        self.code = code


_BUILTINS = frozenset(dir(builtins))


def _with_defaults(
    text: str, call: cst.Call, params: Sequence[tuple[str, str | None]]
) -> tuple[str, set[str]]:
    """The helper's payload with each parameter the call leaves out replaced by its literal
    default (``json=pload`` of ``fetch(url, pload=None)`` called as ``fetch(url)`` sends
    ``None``; ``data or {}`` with ``data=None`` left out sends ``{}``), and the parameters
    left out that have no literal default (the call site is refused for any it would send)."""
    passed = {a.keyword.value for a in call.args if a.keyword is not None}
    positional = sum(1 for a in call.args if a.keyword is None and a.star == "")
    if any(a.star for a in call.args):
        return text, set()
    omitted = [
        (name, default)
        for index, (name, default) in enumerate(params)
        if name not in passed and index >= positional
    ]
    left_out = {name: default for name, default in omitted if default is not None}
    unset = {name for name, default in omitted if default is None}
    if not left_out or not (_free_names(text) & left_out.keys()):
        return text, unset
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return text, unset

    class _Defaults(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            default = left_out.get(node.id)
            if default is None or not isinstance(node.ctx, ast.Load):
                return node
            return ast.parse(default, mode="eval").body

        def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
            self.generic_visit(node)
            if not isinstance(node.op, ast.Or):
                return node
            # ``None or {}`` is ``{}``: a literal that is false never decides an ``or``
            kept = [v for v in node.values[:-1] if not _falsy_literal(v)] + node.values[-1:]
            return kept[0] if len(kept) == 1 else ast.BoolOp(ast.Or(), kept)

    return ast.unparse(_Defaults().visit(tree)), unset


def _falsy_literal(node: ast.expr) -> bool:
    try:
        return not ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def _parses_as_expression(source: str) -> bool:
    try:
        ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return True


def _free_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return {"<unparsable payload>"}
    bound = {
        n.id
        for node in ast.walk(tree)
        if isinstance(node, ast.comprehension)
        for n in ast.walk(node.target)
        if isinstance(n, ast.Name)
    }
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound
    }


def _unwrap_dumps(value: cst.BaseExpression) -> cst.BaseExpression:
    """``json.dumps(x)`` and ``json.dumps(x).encode()`` carry ``x``."""
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "encode"
        and isinstance(value.func.value, cst.Call)
    ):
        value = value.func.value
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "dumps"
        and value.args
    ):
        return value.args[0].value
    return value


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _call_headers(
    parsed: ParsedSource,
    call: cst.Call,
    read_sessions: tuple[str, ...] = (),
    read_inherited: tuple[str, ...] = (),
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The headers the call sent that its send carries: every entry of a literal dict
    named by a string (credentials too: the callee's application checks them as it did),
    but for the exchange's own; a note for each the rewrite cannot name. A dict the
    function assigns once to a name it never changes (``headers = {...}`` above the call)
    counts as written in the call: written out again in the send when making it there
    changes nothing, else read from the local where it was made
    (``headers={"Authorization": headers["Authorization"]}``).

    Raises :class:`_NotRewritable` when the rewrite cannot tell which dict the call sent
    and a credential is among the headers the function gives it: the event would go
    without the caller's credential, and the consumer would call with its own."""
    module = parsed.wrapper.module
    arg = _keyword(call, "headers")
    if arg is None:
        return (), _client_credentials(parsed, call, read_sessions, read_inherited)
    given = arg.value
    local: str | None = None
    if isinstance(given, cst.Name) and given.value == "None":
        return (), _client_credentials(parsed, call, read_sessions, read_inherited)
    if isinstance(given, cst.Name):
        made = _header_local(parsed, call)
        if made is None:
            line = _local_read_before(parsed, call, arg)
            if line is not None:
                raise _NotRewritable(
                    f"the call sends `headers={given.value}`, which the function reads "
                    f"before the call (line {line}), where an alias or a function given it "
                    "may change it: the rewrite cannot tell which headers the call sent, "
                    "and the event would go without one it added; name the headers in the "
                    "send's `headers=` by hand, or keep the call"
                )
            _refuse_held_credential(parsed, call, given.value)
        else:
            if not made[1]:
                local = given.value
            given = made[0]
    if not isinstance(given, cst.Dict):
        constant = _module_dict(parsed, given) or _fixed_dict(parsed, call, given)
        if constant is None:
            _refuse_unseen_headers(parsed, call, given)
        _refuse_content_type(parsed, constant)
        if constant is not None and _exchange_only(constant):
            return (), _client_credentials(parsed, call, read_sessions, read_inherited)
        return (), (
            f"`headers={module.code_for_node(arg.value)}` is not carried: name the "
            f"headers to keep in the send's `headers=`{_held_credential(constant, given)}",
        )
    _refuse_content_type(parsed, given)
    kept = []
    notes = []
    for element in given.elements:
        if not isinstance(element, cst.DictElement):
            spread = element.value if isinstance(element, cst.StarredDictElement) else None
            constant = _module_dict(parsed, spread) if spread is not None else None
            if spread is not None and constant is None:
                _refuse_unseen_headers(parsed, call, spread)
            _refuse_content_type(parsed, constant)
            if constant is None or not _exchange_only(constant):
                notes.append(
                    f"`{module.code_for_node(element)}` in `headers=` is not carried: name "
                    "the headers to keep in the send's `headers=`"
                )
            continue
        key = element.key
        if not isinstance(key, cst.SimpleString):
            if _module_string(parsed, key) is None:
                raise _NotRewritable(
                    f"the call sends a header named `{module.code_for_node(key)}` (line "
                    f"{parsed.positions[key].start.line}): {_UNNAMED_HEADER}"
                )
            # a module constant naming the header (``TENANT_HEADER = "X-Tenant"``)
            notes.append(
                f"header `{module.code_for_node(key)}` is not carried (its name is not a "
                "literal): add it to the send's `headers=`"
            )
        elif key.evaluated_value.lower() not in TRANSPORT_HEADERS:
            value = (
                module.code_for_node(element.value) if local is None else f"{local}[{key.value}]"
            )
            kept.append((key.value, value))
    return tuple(kept), (*notes, *_client_credentials(parsed, call, read_sessions, read_inherited))


def _grpc_argument(call: cst.Call, name: str, position: int) -> cst.Arg | None:
    """The stub call's argument ``name``, by keyword or at ``position`` (a multi-callable
    takes ``request, timeout, metadata, credentials, wait_for_ready, compression``)."""
    given = _keyword(call, name)
    if given is not None:
        return given
    positional = [a for a in call.args if a.keyword is None and a.star == ""]
    return positional[position] if len(positional) > position else None


def _grpc_call_options(parsed: ParsedSource, call: cst.Call) -> tuple[str, ...]:
    """Notes for the stub call's ``wait_for_ready=`` and ``compression=``, which the send
    does not carry: the consumer calls the servicer in process, with no channel to wait
    for or compress on, and the send's own wait is bounded by the producer instead."""
    module = parsed.wrapper.module
    notes = []
    for name, position in (("wait_for_ready", 4), ("compression", 5)):
        given = _grpc_argument(call, name, position)
        if given is not None and not _is_none(given.value):
            notes.append(
                f"`{name}={module.code_for_node(given.value)}` (line "
                f"{parsed.positions[given].start.line}) is not carried: the consumer calls "
                "the servicer in process, with no channel to wait for or compress on; the "
                "send's wait for Kafka is bounded by the producer"
            )
    return tuple(notes)


def _grpc_metadata(parsed: ParsedSource, call: cst.Call) -> tuple[tuple[str, str], ...]:
    """The metadata a gRPC stub call sent, as the send's headers: every ``(key, value)``
    pair of a literal list or tuple in ``metadata=``, or in the local it names when one
    assignment alone makes it and nothing changes it after (:func:`_metadata_local`),
    credentials too (the consumer hands them to the servicer's context as invocation
    metadata, where its interceptors check them as the server's did), but for the
    exchange's own.

    Raises :class:`_NotRewritable` for what the event cannot carry and the rewrite would
    otherwise drop: call credentials (``credentials=``), metadata it cannot read (a name,
    a call, a pair whose key is not a literal string), binary (``-bin``) metadata, and
    ``*``/``**`` arguments, which may hold either."""
    module = parsed.wrapper.module

    def line_of(node: cst.CSTNode) -> int:
        return parsed.positions[node].start.line

    spread = next((a for a in call.args if a.star), None)
    if spread is not None:
        raise _NotRewritable(
            f"the call passes `{spread.star}{module.code_for_node(spread.value)}` (line "
            f"{line_of(spread)}), which may hold `metadata=` or `credentials=`: the rewrite "
            "cannot see what it sends, and the event would go without it; pass the metadata "
            "as a literal `metadata=[(key, value), ...]`, or keep the call"
        )
    credentials = _grpc_argument(call, "credentials", 3)
    if credentials is not None and not _is_none(credentials.value):
        raise _NotRewritable(
            f"the call passes `credentials={module.code_for_node(credentials.value)}` (line "
            f"{line_of(credentials)}), call credentials that add metadata (usually the "
            "credential the callee's server checks) the event cannot carry, so the servicer "
            "would refuse every event; keep the call, or have the callee's server take the "
            "consumer's own credential (`DECOUPLE_REQUEST_HEADERS`) and drop `credentials=`"
        )
    given = _grpc_argument(call, "metadata", 2)
    if given is None or _is_none(given.value):
        return ()
    value = given.value
    # a list made once above the call and left as it is: its pairs, written out again in
    # the send, or read from the local where making them again would not run as it ran
    local: str | None = None
    made = _metadata_local(parsed, call)
    if made is not None:
        if not made[1]:
            local = cast(cst.Name, value).value
        value = made[0]
    if isinstance(value, cst.Name):
        line = _local_read_before(parsed, call, given)
        why = (
            f"it is read before the call (line {line}), where an alias or a function given "
            "it may change it"
            if line is not None
            else "it is a parameter or bound more than once, or changed after it is made"
        )
        raise _NotRewritable(
            f"the call passes `metadata={value.value}` (line {line_of(given)}), a name the "
            "rewrite cannot read as one literal list of `(key, value)` pairs made above the "
            f"call and left as it is: {why}: {_UNREAD_METADATA}"
        )
    if not isinstance(value, cst.List | cst.Tuple):
        raise _NotRewritable(
            f"the call passes `metadata={module.code_for_node(value)}` (line "
            f"{line_of(given)}), which is not a literal list or tuple of `(key, value)` "
            f"pairs: {_UNREAD_METADATA}"
        )
    kept = []
    seen: dict[str, int] = {}  # each key, by its lower case, and its line
    for index, element in enumerate(value.elements):
        pair = element.value
        if (
            isinstance(element, cst.StarredElement)
            or not isinstance(pair, cst.List | cst.Tuple)
            or len(pair.elements) != 2
            or any(isinstance(e, cst.StarredElement) for e in pair.elements)
        ):
            raise _NotRewritable(
                f"`{module.code_for_node(element).strip().rstrip(',')}` in the call's "
                f"`metadata=` (line {line_of(element)}) is not a literal `(key, value)` "
                f"pair: {_UNREAD_METADATA}"
            )
        key, item = (e.value for e in pair.elements)
        name = key.evaluated_value if isinstance(key, cst.SimpleString) else None
        if not isinstance(name, str):
            raise _NotRewritable(
                f"the call sends metadata keyed `{module.code_for_node(key)}` (line "
                f"{line_of(key)}), not a literal string: {_UNREAD_METADATA}"
            )
        if name.lower() in seen:
            first, again = seen[name.lower()], line_of(key)
            where = f"line {again}" if first == again else f"lines {first} and {again}"
            raise _NotRewritable(
                f"the call sends metadata `{name}` twice ({where}), which the servicer reads "
                "as two values and the event's headers, one value per name, cannot carry; "
                "keep the call"
            )
        seen[name.lower()] = line_of(key)
        if name.lower().endswith("-bin"):
            raise _NotRewritable(
                f"the call sends binary metadata `{name}` (line {line_of(key)}), which the "
                "event's headers, text, cannot carry as the servicer would read it; keep "
                "the call"
            )
        if name.lower() not in TRANSPORT_HEADERS:
            source = module.code_for_node(item) if local is None else f"{local}[{index}][1]"
            kept.append((module.code_for_node(key), source))
    return tuple(kept)


def _is_none(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Name) and value.value == "None"


#: Why gRPC metadata the rewrite cannot read refuses its call.
_UNREAD_METADATA = (
    "the rewrite cannot see which keys it sends, and one may be the credential (or the "
    "tenant) the callee's server checks, which the event would go without; write the "
    "metadata as a literal `[(key, value), ...]`, in the call or in a local made once "
    "above it and not changed after, or keep the call"
)


#: Why a header whose name is not a literal refuses its call.
_UNNAMED_HEADER = (
    "the rewrite cannot see which header that is, and it may be the credential (or the "
    "tenant) the callee needs, which the event would go without; name the headers in the "
    "send's `headers=` by hand, or keep the call"
)


def _held_credential(headers: cst.Dict | None, given: cst.BaseExpression) -> str:
    """What a note on headers the send does not carry says of a credential among them:
    the one a dict the rewrite reads holds, or, for a constant it does not read (one the
    file imports: ``headers=SERVICE_HEADERS``, ``settings.KERNEL_HEADERS``), that it may
    hold one. The consumer calls the callee with its own (``DECOUPLE_REQUEST_HEADERS``)
    or with none, and a callee that checks it refuses every event."""
    own = " (docs/security.md): the callee refuses every event sent without it"
    constant = (isinstance(given, cst.Name) and given.value.isupper()) or (
        isinstance(given, cst.Attribute) and given.attr.value.isupper()
    )
    if headers is None and constant:
        return (
            "; the rewrite cannot see into it, and it may hold a credential (`Authorization`, "
            f"an API key): give the consumer its own with `DECOUPLE_REQUEST_HEADERS`{own}"
        )
    if headers is None:
        return ""  # dicts the function writes, whose credential refuses the site
    held = [
        e.key.evaluated_value
        for e in headers.elements
        if isinstance(e, cst.DictElement)
        and isinstance(e.key, cst.SimpleString)
        and isinstance(e.key.evaluated_value, str)
        and (
            e.key.evaluated_value.lower() in CREDENTIAL_HEADERS
            or secret_name(e.key.evaluated_value)
        )
    ]
    if not held:
        return ""
    return (
        f"; it holds the credential `{held[0]}`: give the consumer its own with "
        f"`DECOUPLE_REQUEST_HEADERS`{own}"
    )


def _refuse_content_type(parsed: ParsedSource, headers: cst.Dict | None) -> None:
    """Refuses a call whose headers give a ``Content-Type`` other than JSON
    (``application/vnd.api+json``, a form encoding): the consumer hands the callee the
    event's data as ``application/json``, so a callee choosing its parser by the type (a
    JSON:API parser, a form parser) would read every event differently from the call, and
    refuse it. Not a header of the exchange to drop, then, but part of the request."""
    if headers is None:
        return
    for element in headers.elements:
        if not (
            isinstance(element, cst.DictElement)
            and isinstance(element.key, cst.SimpleString)
            and isinstance(element.key.evaluated_value, str)
            and element.key.evaluated_value.lower() == "content-type"
        ):
            continue
        value = element.value
        media = value.evaluated_value if isinstance(value, cst.SimpleString) else None
        if isinstance(media, str) and is_json_media_type(media):
            continue
        shown = media if isinstance(media, str) else parsed.wrapper.module.code_for_node(value)
        line = parsed.positions[element].start.line
        raise _NotRewritable(
            f"the call sends `Content-Type: {shown}` (line {line}), and the consumer hands "
            "the callee the event's data as `application/json`, which its parsers read "
            "differently (a JSON:API or form parser is not chosen), so every event would "
            "be refused; keep the call, or make the callee accept `application/json`"
        )


def is_json_media_type(media: str) -> bool:
    """Whether a ``Content-Type`` is the one the consumer's request has, JSON."""
    return media.partition(";")[0].strip().lower() == "application/json"


def _module_assign(
    parsed: ParsedSource, value: cst.Name
) -> tuple[cst.Assign | cst.AnnAssign, list[cst.BaseAssignTargetExpression]] | None:
    """The one module-level statement that binds the name ``value`` (``X = ...``), with
    its targets, else ``None``: a name bound twice has no single value."""
    made = [
        statement.body[0]
        for statement in parsed.wrapper.module.body
        if isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Assign | cst.AnnAssign)
        and value.value in names_in([statement])
    ]
    if len(made) != 1:
        return None
    assign = made[0]
    assert isinstance(assign, cst.Assign | cst.AnnAssign)
    targets = (
        [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else [assign.target]
    )
    return assign, targets


def _module_string(parsed: ParsedSource, value: cst.BaseExpression) -> str | None:
    """The text a module-level name holds (``TENANT_HEADER = "X-Tenant"``) when the module
    binds it once to a string literal, else ``None``: a header named by it is that
    header."""
    if not isinstance(value, cst.Name) or (found := _module_assign(parsed, value)) is None:
        return None
    assign, targets = found
    held = assign.value
    if (
        len(targets) == 1
        and isinstance(targets[0], cst.Name)
        and targets[0].value == value.value
        and isinstance(held, cst.SimpleString)
        and isinstance(held.evaluated_value, str)
    ):
        return held.evaluated_value
    return None


def _module_dict(parsed: ParsedSource, value: cst.BaseExpression) -> cst.Dict | None:
    """The dict literal a module-level name holds (``JSON_HEADERS = {...}``) when the module
    binds it once and the function around nothing rebinds it, else ``None``."""
    if not isinstance(value, cst.Name) or (found := _module_assign(parsed, value)) is None:
        return None
    assign, targets = found
    if [t.value for t in targets if isinstance(t, cst.Name)] != [value.value] or len(targets) != 1:
        return None
    current = _enclosing_function(value, parsed.parents)
    if current is not None and any(
        isinstance(n, cst.Name) and n.value == value.value and _binds(n, parsed.parents)
        for n in _walk(current)
    ):
        return None
    return assign.value if isinstance(assign.value, cst.Dict) else None


def _fixed_dict(parsed: ParsedSource, call: cst.Call, value: cst.BaseExpression) -> cst.Dict | None:
    """The dict literal of fixed headers behind ``headers=self.<attr>`` or
    ``headers=<getter>()``, else ``None``: what a module constant is, made elsewhere. An
    attribute counts when its class assigns it once, in ``__init__``, and reads it only as a
    call's ``headers=``; a getter when it is a module function of no parameter whose body
    returns the literal. The literal's values must be fixed (:func:`_fixed_value`): one made
    from ``__init__``'s parameters may differ per client, as a tenant's credential does."""
    made: cst.BaseExpression | None = None
    if (
        isinstance(value, cst.Attribute)
        and isinstance(value.value, cst.Name)
        and value.value.value == "self"
    ):
        made = _init_attribute(parsed, call, value.attr.value)
    elif isinstance(value, cst.Call) and not value.args and isinstance(value.func, cst.Name):
        getters = [
            s
            for s in parsed.wrapper.module.body
            if isinstance(s, cst.FunctionDef) and s.name.value == value.func.value
        ]
        body = getters[0].body.body if len(getters) == 1 else ()
        statements = [s for s in body if not _docstring(s)]
        if (
            len(getters) == 1
            and _no_parameters(getters[0].params)
            and not getters[0].decorators
            and len(statements) == 1
            and isinstance(statements[0], cst.SimpleStatementLine)
            and len(statements[0].body) == 1
            and isinstance(statements[0].body[0], cst.Return)
        ):
            made = statements[0].body[0].value
    if not isinstance(made, cst.Dict) or not all(
        isinstance(e, cst.DictElement)
        and isinstance(e.key, cst.SimpleString)
        and _fixed_value(e.value)
        for e in made.elements
    ):
        return None
    return made


def _no_parameters(params: cst.Parameters) -> bool:
    return not (
        params.params
        or params.posonly_params
        or params.kwonly_params
        or isinstance(params.star_arg, cst.Param)
        or params.star_kwarg is not None
    )


def _docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _init_attribute(parsed: ParsedSource, call: cst.Call, attr: str) -> cst.BaseExpression | None:
    """The value ``self.<attr>`` is given by the one assignment the class around ``call``
    makes to it, in its ``__init__``, when every other use of it in the class is a call's
    ``headers=`` (no item set, no method called on it, not handed to a function that may
    change it); else ``None``."""
    node: cst.CSTNode | None = parsed.parents.get(call)
    while node is not None and not isinstance(node, cst.ClassDef):
        node = parsed.parents.get(node)
    if node is None:
        return None
    assigned: list[cst.BaseExpression] = []
    for found in _walk(node):
        if not (
            isinstance(found, cst.Attribute)
            and isinstance(found.value, cst.Name)
            and found.value.value == "self"
            and found.attr.value == attr
        ):
            continue
        parent = parsed.parents.get(found)
        if isinstance(parent, cst.Arg) and parent.keyword and parent.keyword.value == "headers":
            continue
        statement = parsed.parents.get(parent) if parent is not None else None
        function = _enclosing_function(found, parsed.parents)
        if (
            isinstance(parent, cst.AssignTarget)
            and isinstance(statement, cst.Assign)
            and len(statement.targets) == 1
            and function is not None
            and function.name.value == "__init__"
            and parsed.parents.get(parsed.parents.get(function) or function) is node
        ):
            assigned.append(statement.value)
            continue
        return None
    return assigned[0] if len(assigned) == 1 else None


def _fixed_value(value: cst.BaseExpression) -> bool:
    """Whether a header's value is the same for every call and every client: a literal, a
    name or attribute in capitals (``settings.KERNEL_TOKEN``), the environment
    (``os.environ["TOKEN"]``, ``os.getenv("TOKEN")``), or text made of these."""
    if isinstance(value, cst.SimpleString | cst.ConcatenatedString | cst.Integer):
        return True
    if isinstance(value, cst.Name):
        return value.value.isupper()
    if isinstance(value, cst.Attribute):
        return value.attr.value.isupper()
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
        return _fixed_value(value.left) and _fixed_value(value.right)
    if isinstance(value, cst.FormattedString):
        return all(
            _fixed_value(p.expression)
            for p in value.parts
            if isinstance(p, cst.FormattedStringExpression)
        )
    code = _EMPTY_MODULE.code_for_node
    if isinstance(value, cst.Subscript):
        return code(value.value) == "os.environ" and all(
            isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.SimpleString)
            for e in value.slice
        )
    if isinstance(value, cst.Call):
        return code(value.func) in ("os.getenv", "os.environ.get") and all(
            isinstance(a.value, cst.SimpleString) and a.keyword is None for a in value.args
        )
    return False


_EMPTY_MODULE = cst.Module(body=())


def _exchange_only(headers: cst.Dict) -> bool:
    """Whether a header dict holds only the HTTP exchange's own headers (``Content-Type``,
    ``Accept``), which a send does not carry and the consumer's request makes anew."""
    return all(
        isinstance(e, cst.DictElement)
        and isinstance(e.key, cst.SimpleString)
        and isinstance(e.key.evaluated_value, str)
        and e.key.evaluated_value.lower() in TRANSPORT_HEADERS
        for e in headers.elements
    )


def _refuse_unseen_headers(parsed: ParsedSource, call: cst.Call, given: cst.BaseExpression) -> None:
    """Refuses a call whose ``headers=`` the rewrite cannot see into: made by a function
    (``headers=wrap_kernel_headers(project)``, or a local it made), a parameter, an
    attribute. Such headers often carry what differs per call (the caller's credential, the
    tenant's realm), which no consumer setting (``DECOUPLE_REQUEST_HEADERS``) can give: the
    event would go without them, and the callee would handle it as no one's, or another
    tenant's."""
    module = parsed.wrapper.module
    origin = given
    at = parsed.positions[given].start.line
    where = ""
    if isinstance(given, cst.Name) and _dicts_only(parsed, call, given.value):
        return  # every dict it may hold is written in the function: the note names it
    if (isinstance(given, cst.Name) and given.value.isupper()) or (
        isinstance(given, cst.Attribute) and given.attr.value.isupper()
    ):
        # a constant (``settings.KERNEL_HEADERS``) is the same for every call, which the
        # consumer's own ``DECOUPLE_REQUEST_HEADERS`` can give: the note says so
        return
    if isinstance(given, cst.Name):
        found = _reaching_assignment(given.value, call, parsed.parents)
        current = _enclosing_function(call, parsed.parents)
        if found is not None and isinstance(found.value, cst.Dict):
            at = parsed.positions[found].start.line
            where = f"`{given.value}` (line {at}), a dict the function changes after making it"
        elif found is not None:
            origin, at = _value(found), parsed.positions[found].start.line
        elif current is not None and given.value in {
            p.name.value for p in _parameters(current.params)
        }:
            where = f"the parameter `{given.value}` of `{current.name.value}`"
        elif current is not None and any(
            isinstance(n, cst.Name) and n.value == given.value and _binds(n, parsed.parents)
            for n in _walk(current)
        ):
            where = f"`{given.value}`, which more than one binding may give the call"
    if not where:
        text = module.code_for_node(origin)
        if isinstance(origin, cst.Call):
            text = f"{module.code_for_node(origin.func)}(...)"
        where = f"`{text}` at line {at}"
    raise _NotRewritable(
        f"the headers come from {where}, which the rewrite cannot see into: the event would "
        "go without them (a credential or a tenant's realm that differs per call, which no "
        "consumer setting can give); keep the call, or write the headers to send as a dict "
        "in the call's `headers=`"
    )


def _dicts_only(parsed: ParsedSource, call: cst.Call, name: str) -> bool:
    """Whether every value the function around ``call`` gives the local ``name`` is written
    there as a dict: each binding assigns a dict literal, and what changes it after sets an
    item or adds a dict literal (``headers.update({"Cookie": ...})``). The rewrite then sees
    every header it may send, though not which one a run sent."""
    current = _enclosing_function(call, parsed.parents)
    if current is None:
        return False
    seen = False
    for node in _walk(current):
        if isinstance(node, cst.Name) and node.value == name and _binds(node, parsed.parents):
            target = parsed.parents.get(node)
            assign = parsed.parents.get(target) if target is not None else None
            if isinstance(target, cst.AssignTarget) and isinstance(assign, cst.Assign):
                value: cst.BaseExpression | None = assign.value
            elif isinstance(target, cst.AnnAssign) and target.target is node:
                value = target.value
            else:
                return False
            if not isinstance(value, cst.Dict):
                return False
            seen = True
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and isinstance(node.func.value, cst.Name)
            and node.func.value.value == name
            and node.func.attr.value == "update"
            and any(a.keyword is None and not isinstance(a.value, cst.Dict) for a in node.args)
        ):
            return False
    return seen


def _parameters(params: cst.Parameters) -> list[cst.Param]:
    star = [params.star_arg] if isinstance(params.star_arg, cst.Param) else []
    kwargs = [params.star_kwarg] if params.star_kwarg is not None else []
    return [*params.posonly_params, *params.params, *star, *params.kwonly_params, *kwargs]


def _header_local(parsed: ParsedSource, call: cst.Call) -> tuple[cst.Dict, bool] | None:
    """The dict of ``headers=<name>`` when one assignment alone makes it and the function
    never changes it after (``headers = {"Authorization": token}`` above the call), and
    whether the send may make it again in its place (``True``) rather than read the local
    (:func:`_literal_local`)."""
    arg = _keyword(call, "headers")
    if arg is None or not isinstance(arg.value, cst.Name):
        return None
    made = _literal_local(parsed, call, arg)
    if made is None or not isinstance(made[0], cst.Dict):
        return None
    entries = [
        (e.key, e.value) if isinstance(e, cst.DictElement) else None for e in made[0].elements
    ]
    return made[0], made[1] and _all_carried(entries)


def _metadata_local(
    parsed: ParsedSource, call: cst.Call
) -> tuple[cst.List | cst.Tuple, bool] | None:
    """The list or tuple of a gRPC call's ``metadata=<name>`` when one assignment alone
    makes it (``metadata = [("x-request-id", rid)]`` above the call), the function never
    changes it after, and reads it nowhere before the call (a function given the list may
    append to it); with whether the send may make it again in its place
    (:func:`_literal_local`)."""
    given = _grpc_argument(call, "metadata", 2)
    if given is None or not isinstance(given.value, cst.Name):
        return None
    made = _literal_local(parsed, call, given)
    if made is None or not isinstance(made[0], cst.List | cst.Tuple):
        return None
    entries = [
        (e.value.elements[0].value, e.value.elements[1].value)
        if isinstance(e, cst.Element)
        and isinstance(e.value, cst.List | cst.Tuple)
        and len(e.value.elements) == 2
        else None
        for e in made[0].elements
    ]
    return made[0], made[1] and _all_carried(entries)


def _all_carried(
    entries: Sequence[tuple[cst.BaseExpression, cst.BaseExpression] | None],
) -> bool:
    """Whether a send written out from these ``(key, value)`` entries (``None``: a spread,
    or a pair it cannot read) holds each of them or leaves it out harmlessly: every key a
    literal string, and an exchange header's value (which the send leaves out) makes
    nothing. Only then can the local go, its entries made in the send alone; a value left
    to run in the local as well would run twice."""
    for entry in entries:
        if entry is None or not isinstance(entry[0], cst.SimpleString):
            return False
        if entry[0].evaluated_value.lower() in TRANSPORT_HEADERS and not _inert(entry[1]):
            return False
    return True


def _literal_local(
    parsed: ParsedSource, call: cst.Call, arg: cst.Arg
) -> tuple[cst.BaseExpression, bool] | None:
    """The value of the local the call's argument ``arg`` names when one assignment alone
    makes it, the function never changes it after and reads it nowhere before the call (an
    alias, or a function given it, may change it where this cannot see); and whether the
    send may make it again in its place (``True``) rather than read the local.

    Making it again is the same only when the local then goes (nothing else reads it), or
    making it does nothing (it calls nothing), and the value, made where the call was, is
    the one the call sent: no name it reads is bound anew in between, it binds none itself
    (a walrus the call's other arguments may read), and it sits in the call's own block with
    nothing but assignments of values that call nothing to plain names in between
    (:func:`_runs_as_it_ran`). ``headers = {"Authorization":
    auth.mint_token(user)}`` in a loop around ``if user.active:`` ran for every user; made
    again in the send, it would run for the active ones only. ``("x-attempt",
    f"{self.attempts}")`` with ``self.attempts += 1`` in between would send the next one."""
    name = arg.value
    assert isinstance(name, cst.Name)
    found = _reaching_assignment(name.value, call, parsed.parents)
    if found is None or _changed_in_place(name.value, call, parsed):
        return None
    before, elsewhere = _other_reads(name.value, arg, call, parsed)
    if before is not None:
        return None
    value = _value(found)
    again = (
        (not elsewhere or _inert(value))
        and not any(isinstance(node, cst.NamedExpr) for node in _walk(value))
        and _local_value(name, call, parsed) is value
        and _runs_as_it_ran(found, call, parsed.parents, inert=_inert(value))
    )
    return value, again


def _local_read_before(parsed: ParsedSource, call: cst.Call, arg: cst.Arg) -> int | None:
    """The line where the function reads the local ``arg`` names before the call, however
    it binds it or changes it (a name it never binds is a global, read as one)."""
    name = arg.value
    current = _enclosing_function(call, parsed.parents)
    if not isinstance(name, cst.Name) or current is None:
        return None
    if not any(
        isinstance(node, cst.Name) and node.value == name.value and _binds(node, parsed.parents)
        for node in _walk(current)
    ):
        return None
    return _other_reads(name.value, arg, call, parsed, escaping=True)[0]


def _other_reads(
    name: str, arg: cst.Arg, call: cst.Call, parsed: ParsedSource, *, escaping: bool = False
) -> tuple[int | None, bool]:
    """Where the function first reads the local ``name`` before the call, other than as the
    call's ``arg`` (the line; in the call's other arguments, which run first, or in a loop
    around the call, anywhere in that loop), and whether it reads it elsewhere at all.
    ``escaping``: only reads that hand the object on count as before the call, not an item
    or a method read on it (``headers["X"] = ...``, ``headers.update(...)``), which the
    function's own changes are, seen and read as such."""
    current = _enclosing_function(call, parsed.parents)
    at = parsed.positions[call].start
    loops = []
    node: cst.CSTNode | None = parsed.parents.get(call)
    while node is not None and node is not current:
        if isinstance(node, cst.For | cst.While):
            loops.append(node)
        node = parsed.parents.get(node)
    before: int | None = None
    elsewhere = False
    for node in _walk(current) if current is not None else ():
        if (
            not isinstance(node, cst.Name)
            or node.value != name
            or node is arg.value
            or _binds(node, parsed.parents)
        ):
            continue
        parent = parsed.parents.get(node)
        if (isinstance(parent, cst.Attribute) and parent.attr is node) or (
            isinstance(parent, cst.Arg) and parent.keyword is node
        ):
            continue  # ``self.metadata``, ``metadata=``: not the local
        elsewhere = True
        if escaping and isinstance(parent, cst.Attribute | cst.Subscript) and parent.value is node:
            continue
        where = parsed.positions[node].start
        if (
            (where.line, where.column) < (at.line, at.column)
            or _within(node, call, parsed.parents)
            or any(_within(node, loop, parsed.parents) for loop in loops)
        ) and (before is None or where.line < before):
            before = where.line
    return before, elsewhere


def _within(
    node: cst.CSTNode, outer: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is outer:
            return True
        current = parents.get(current)
    return False


def _runs_as_it_ran(
    assign: Assignment,
    call: cst.Call,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    *,
    inert: bool = False,
) -> bool:
    """Whether ``assign``'s value, evaluated in the call's arguments instead, still runs
    exactly when it ran and reads what it read: the call is in the statement of the
    assignment's block that follows it, or follows it past assignments of values that call
    nothing to plain names (``data = {"text": text}``; not ``self.n = self.n + 1``, which
    the value may read). An ``inert`` value (one that calls nothing, so running it less
    often changes nothing) may also be read in the body of an ``if`` whose test calls
    nothing, past such assignments there too; never in a loop, where a later turn would
    read what the earlier ones changed."""
    line = parents.get(assign)
    block = parents.get(line) if line is not None else None
    if not isinstance(block, cst.IndentedBlock):
        return False
    # each block from the call's up to the assignment's, with the statement holding the call
    path: list[tuple[cst.IndentedBlock, cst.CSTNode]] = []
    child: cst.CSTNode = call
    while True:
        parent = parents.get(child)
        if parent is None:
            return False
        if isinstance(parent, cst.IndentedBlock):
            path.append((parent, child))
            if parent is block:
                break
            owner = parents.get(parent)
            if isinstance(owner, cst.Else):
                owner = parents.get(owner)  # an ``if``'s, not a ``try``'s or a loop's
            if not inert or not isinstance(owner, cst.If):
                return False  # the call is inside a body the assignment's block holds
        if isinstance(parent, cst.If) and not _inert(parent.test):
            return False
        child = parent
    between: list[cst.BaseStatement] = []
    for held, statement in path:
        body = list(held.body)
        start = body.index(line) + 1 if held is block else 0  # type: ignore[arg-type]
        between.extend(body[start : body.index(statement)])  # type: ignore[arg-type]
    return all(
        isinstance(statement, cst.SimpleStatementLine)
        and all(
            (
                isinstance(s, cst.Assign)
                and _inert(s.value)
                and all(isinstance(t.target, cst.Name) for t in s.targets)
            )
            or (isinstance(s, cst.AnnAssign) and (a := _assigned(s)) is not None and _inert(a[1]))
            for s in statement.body
        )
        for statement in between
    )


def _refuse_held_credential(parsed: ParsedSource, call: cst.Call, name: str) -> None:
    """Refuses a call whose ``headers=<name>`` the send cannot carry (the name is bound
    more than once, or the dict is changed after it is made) when the function gives that
    dict a credential (``Authorization``, ``Cookie``, ``X-Api-Key``, a token): the event
    would go without it, and the consumer would call the callee with its own credential,
    not the caller's. So does a header it writes there under a name that is not a literal
    (``for k, v in auth_headers().items(): headers[k] = v``), which may be the
    credential; a module constant holding a string is read as that name. Headers the
    rewrite cannot see (a parameter, a helper's dict) stay a note."""
    current = _enclosing_function(call, parsed.parents)
    if current is None:
        return
    for node in _walk(current):
        for key, at in _header_keys_given(node, name):
            header = (
                key.evaluated_value
                if isinstance(key, cst.SimpleString)
                else _module_string(parsed, key)
            )
            if header is None:
                # ``for k, v in auth_headers().items(): headers[k] = v``
                line = parsed.positions[at].start.line
                raise _NotRewritable(
                    f"the call sends `headers={name}`, into which the function writes a "
                    f"header named `{parsed.wrapper.module.code_for_node(key)}` (line "
                    f"{line}): {_UNNAMED_HEADER}"
                )
            if not isinstance(header, str):
                continue
            if header.lower() in CREDENTIAL_HEADERS or secret_name(header):
                line = parsed.positions[at].start.line
                why = (
                    "the function changes the dict after making it"
                    if _changed_in_place(name, call, parsed)
                    else f"more than one binding of `{name}` may reach the call"
                )
                raise _NotRewritable(
                    f"the call sends `headers={name}`, whose `{header}` (line {line}) is a "
                    f"credential, and {why}, so the rewrite cannot tell which headers it "
                    "sent: the event would go without the caller's credential, and the "
                    "consumer would call the callee with its own; name the headers in the "
                    "send's `headers=` by hand, or keep the call"
                )


def _header_keys_given(
    node: cst.CSTNode, name: str
) -> Iterator[tuple[cst.BaseExpression, cst.CSTNode]]:
    """The header names ``node`` gives the dict ``name``, each with the node of the tree
    it is written at: the keys of a dict assigned to it (``name = {...}``, ``name: dict =
    {...}``, ``name |= {...}``), an item set on it (``name["Cookie"] = ...``), or what
    ``name.update(...)``/``name.setdefault(...)`` adds. A keyword's name
    (``name.update(Authorization=...)``) is made into a string here, which is no node of
    the tree: its place is the keyword's argument."""
    value: cst.BaseExpression | None = None
    if (
        isinstance(node, cst.AnnAssign)
        and isinstance(node.target, cst.Name)
        and node.target.value == name
    ):
        value = node.value
    elif isinstance(node, cst.Assign):
        for target in node.targets:
            held = target.target
            if isinstance(held, cst.Name) and held.value == name:
                value = node.value
            elif (
                isinstance(held, cst.Subscript)
                and isinstance(held.value, cst.Name)
                and held.value.value == name
                and len(held.slice) == 1
                and isinstance(held.slice[0].slice, cst.Index)
            ):
                key = held.slice[0].slice.value
                yield key, key
    elif (
        isinstance(node, cst.AugAssign)
        and isinstance(node.target, cst.Name)
        and node.target.value == name
    ):
        value = node.value
    elif (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and isinstance(node.func.value, cst.Name)
        and node.func.value.value == name
        and node.func.attr.value in ("update", "setdefault")
    ):
        for given in node.args:
            if given.keyword is not None:
                yield cst.SimpleString(repr(given.keyword.value)), given
            elif node.func.attr.value == "setdefault":
                yield given.value, given.value
                break
            else:
                value = given.value
    if isinstance(value, cst.Dict):
        yield from ((e.key, e.key) for e in value.elements if isinstance(e, cst.DictElement))


def _carried_local(parsed: ParsedSource, call: cst.Call, grpc: bool) -> tuple[str, bool] | None:
    """The local whose dict the call sent as ``headers=`` (a gRPC call: whose pairs it sent
    as ``metadata=``) and its send now carries written out (``headers = {"Authorization":
    token}`` above the call): the send makes it again in its place (:func:`_literal_local`,
    :func:`_all_carried`), so its assignment can go with the call, as a literal's would.
    With it, whether the send carries any of its entries (a dict of the exchange's own
    headers, such as ``Content-Type``, has none to carry)."""
    keys: list[cst.BaseExpression] = []
    if grpc:
        arg = _grpc_argument(call, "metadata", 2)
        pairs = _metadata_local(parsed, call)
        if pairs is None or not pairs[1]:
            return None
        for element in pairs[0].elements:
            pair = element.value
            assert isinstance(pair, cst.List | cst.Tuple)  # as _all_carried found it
            keys.append(pair.elements[0].value)
    else:
        arg = _keyword(call, "headers")
        made = _header_local(parsed, call)
        if made is None or not made[1]:
            return None
        keys = [cast(cst.DictElement, e).key for e in made[0].elements]
    if arg is None or not isinstance(arg.value, cst.Name):
        return None
    sent = any(
        cast(cst.SimpleString, key).evaluated_value.lower() not in TRANSPORT_HEADERS for key in keys
    )
    return arg.value.value, sent


Parse = Callable[[bytes], ParsedSource]


def inspect_calls(
    source: bytes, sites: Sequence[SendSpec], *, parse: Parse = ParsedSource
) -> dict[str, CallFacts | str]:
    """For each site, what the planner needs to know (or why it cannot be rewritten).

    ``parse`` may hand out a tree parsed before (the rewrite that follows reuses it)."""
    found, problems = _locate(parse(source), sites)
    out: dict[str, CallFacts | str] = dict(problems)
    out.update({ident: located.facts for ident, located in found.items()})
    return out


def rewrite_source(
    source: bytes,
    sites: Sequence[SendSpec],
    *,
    line_width: int = LINE_WIDTH,
    parse: Parse = ParsedSource,
) -> FileRewrite:
    """``source`` with every site in ``sites`` rewritten into a send.

    The result is checked as pyflakes checks for undefined names: a name the rewritten file
    reads where nothing binds it, and the original did not, means a site's send reads a name
    its call site lacks or a statement the rewrite took out defined one used later. Such
    sites are refused with the reason and the file is rewritten without them: code that
    compiles and fails with ``NameError`` when it runs is never written."""
    before = undefined_names(source)
    refused: dict[str, str] = {}
    remaining = list(sites)
    while True:
        result, blame = _rewrite(source, remaining, line_width, parse)
        after = undefined_names(result.code) if result.code != source else before
        new = after - before if after is not None and before is not None else set()
        if not new:
            return FileRewrite(result.code, {**result.skipped, **refused}, result.notes)
        culprits = {ident for ident, names in blame.items() if names & new} or set(blame)
        for ident in culprits:
            names = sorted(blame[ident] & new) or sorted(new)
            refused[ident] = (
                f"the rewritten file would read {', '.join(f'`{n}`' for n in names)} where "
                "nothing binds it (the old call's helper or a statement the rewrite takes "
                "out defined it): rewrite it by hand"
            )
        remaining = [s for s in remaining if s.site_id not in culprits]
        if not remaining:
            return FileRewrite(source, {**result.skipped, **refused})


def _rewrite(
    source: bytes, sites: Sequence[SendSpec], line_width: int, parse: Parse
) -> tuple[FileRewrite, dict[str, set[str]]]:
    """The rewrite, and per site the names its send reads or its old statement read."""
    parsed = parse(source)
    wrapper, module, positions = parsed.wrapper, parsed.wrapper.module, parsed.positions
    found, problems = _locate(parsed, sites)
    if not found:
        return FileRewrite(source, problems), {}
    specs = {s.site_id: s for s in sites}
    removed: set[str] = set()
    lines = module.code.splitlines()
    by_statement: dict[int, tuple[SendSpec, _Located]] = {}
    with_blocks: dict[int, cst.With] = {}
    drops: dict[int, str] = {}
    widen: set[int] = set()
    copies: dict[int, frozenset[int]] = {}
    for ident, located in found.items():
        by_statement[id(located.statement)] = (specs[ident], located)
        drops.update(located.drops)
        widen |= located.widen
        copies.update(located.copies)
        for block in _enclosing_withs(located.statement, parsed.parents):
            if _only_opens_clients(block):
                with_blocks[id(block)] = block
    # A with-block that opened a client around a rewritten call is unwrapped when what stays
    # of its body no longer uses the client (checked as the block is left).
    unwrapped = {
        key for key, block in with_blocks.items() if isinstance(block.body, cst.IndentedBlock)
    }

    def indent_of(node: cst.CSTNode) -> str:
        line = lines[positions[node].start.line - 1]
        return line[: len(line) - len(line.lstrip())]

    transformer = _Rewriter(
        module, by_statement, unwrapped, indent_of, removed, line_width, drops, widen, copies
    )
    new_module = wrapper.module.visit(transformer)
    wanted = {
        _send_name(spec, located)
        for spec, located in by_statement.values()
        if spec.fold_into is None
    }
    first = next(iter(specs.values()))
    names = [n for n in SEND_NAMES if n in wanted]
    if transformer.widened:
        names.insert(0, NOT_ACCEPTED)
    new_module = drop_unused(new_module, removed)
    if first.relative:
        target = "." * first.relative + first.producer_module.rsplit(".", 1)[-1]
    else:
        target = first.producer_module
    own = first.producer_module.split(".")[0] if "." in first.producer_module else None
    new_module = add_import(new_module, f"from {target} import {', '.join(names)}", own_package=own)
    if any(specs[i].is_grpc for i in found):
        new_module = add_import(new_module, "from google.protobuf import json_format")
    new_module = separate_docstring(new_module, module)
    dead: dict[int, cst.SimpleStatementLine] = {}
    bare: set[int] = set()
    # header dicts (metadata lists) the sends now carry written out: (function, name) -> the line of the
    # call whose send carries some of its entries (``None``: the exchange's own only)
    carried: dict[tuple[str, str], int | None] = {}
    metadata: set[tuple[str, str]] = set()  # those of them that were gRPC metadata
    for ident, located in sorted(found.items(), key=lambda f: specs[f[0]].line):
        function = _function_of(located.statement, parsed.parents)
        spec = specs[ident]
        local = (
            _carried_local(parsed, located.call, spec.is_grpc) if spec.fold_into is None else None
        )
        if function is not None and local is not None:
            line = specs[ident].line if local[1] else None
            if carried.get((function, local[0])) is None:
                carried[(function, local[0])] = line
            if spec.is_grpc:
                metadata.add((function, local[0]))
    # this rewrite's sends: the functions and blocks around them are those it changed
    markers = tuple(f"# decouple: migrated {ident} " for ident in found)
    local_leftovers = _left_over_locals(new_module, removed, dead, bare, carried, markers)
    while True:
        while dead or bare:
            # what a dropped statement read may have served only it (``url = f"{base}/x"``
            # gone, ``base = get_base_url()`` is read by nothing now)
            freed = names_in(dead.values())
            new_module = new_module.visit(_DropStatements(set(dead), bare))
            removed |= freed
            new_module = drop_unused(new_module, removed)
            dead, bare = {}, set()
            if not freed:
                break
            for owner, stale in _left_over_locals(
                new_module, freed, dead, bare, carried, markers
            ).items():
                local_leftovers.setdefault(owner, []).extend(stale)
        # a client block whose last user went with the statements above
        idle = _UnwrapIdleClients(markers)
        new_module = new_module.visit(idle)
        if not idle.freed:
            break
        removed |= idle.freed
        new_module = drop_unused(new_module, removed)
        for owner, stale in _left_over_locals(
            new_module, idle.freed, dead, bare, carried, markers
        ).items():
            local_leftovers.setdefault(owner, []).extend(stale)
    leftovers = _left_over_globals(new_module, removed)
    notes: dict[str, tuple[str, ...]] = {}
    for ident, located in found.items():
        mine = [name for name in leftovers if name in transformer.removed_by_site.get(ident, ())]
        extra = tuple(
            f"`{name}` is no longer used in this file; remove it unless other modules import it"
            for name in mine
        )
        leftovers = [name for name in leftovers if name not in mine]
        function = _function_of(located.statement, parsed.parents)
        stale = local_leftovers.pop(function, []) if function else []
        extra = (
            *extra,
            *(
                _leftover_note(
                    name,
                    function or "",
                    fate,
                    carried.get((function or "", name)),
                    "pairs" if (function or "", name) in metadata else "dict",
                )
                for name, fate in stale
            ),
        )
        clause = _copied_clause(located.statement, parsed.parents, copies)
        if clause is not None:
            line = positions[clause].start.line
            extra = (
                *extra,
                f"the send is in the `except` clause at line {line} and in the copy of it "
                "for `EventNotAccepted` that follows: it runs whichever of them handles "
                "the failure",
            )
            sent_error = _error_in_data(located.call, clause, parsed)
            copied_for = next((i for i, f in found.items() if id(clause) in f.copies), None)
            if (
                sent_error is not None
                and copied_for is not None
                and _clause_error(clause) in transformer.sent_names.get(ident, ())
            ):
                extra = (
                    *extra,
                    f"line {specs[ident].line}: the event's data carries `{sent_error}`, the "
                    "clause's error: in the copy for `EventNotAccepted` it carries the send's "
                    f"error text (why Kafka did not take the event of line {specs[copied_for].line}), "
                    "not the client's, to its consumer",
                )
        if located.facts.notes or extra:
            notes[ident] = (*located.facts.notes, *extra)
    if leftovers:  # read only by a client block the rewrite unwrapped
        ident = min(found, key=lambda i: specs[i].line)
        notes[ident] = (
            *notes.get(ident, found[ident].facts.notes),
            *(
                f"`{name}` is no longer used in this file; remove it unless other modules import it"
                for name in leftovers
            ),
        )
    blame = {
        ident: transformer.sent_names.get(ident, set())
        | transformer.removed_by_site.get(ident, set())
        for ident in found
    }
    return FileRewrite(new_module.bytes, problems, notes), blame


def _copied_clause(
    node: cst.CSTNode,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    copies: Mapping[int, frozenset[int]],
) -> cst.ExceptHandler | None:
    """The ``except`` clause around ``node`` that gets a copy for ``EventNotAccepted``."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, cst.ExceptHandler) and id(current) in copies:
            return current
        current = parents.get(current)
    return None


def _clause_error(clause: cst.ExceptHandler) -> str | None:
    """The name an ``except ... as <name>`` clause binds its error to."""
    name = clause.name.name if clause.name is not None else None
    return name.value if isinstance(name, cst.Name) else None


def _errors_passed_on(clause: cst.ExceptHandler, parsed: ParsedSource) -> list[tuple[int, str]]:
    """``(line, read)`` of each call in the clause that passes its error on as data, one per
    line (``requests.post(audit, json={"why": str(e)})``): not a report (logging,
    ``print``, ``abort``), nor what it raises, which words the caller's failure."""
    out: dict[int, str] = {}
    parents = parsed.parents
    for node in _walk(clause.body):
        if not isinstance(node, cst.Call):
            continue
        func = _dotted(node.func) or ""
        if func in _TO_TEXT or _REPORTING.search(func):
            continue
        line = parsed.positions[node].start.line
        if line in out or _within_report(node, clause, parents):
            continue
        read = _error_in_data(node, clause, parsed)
        if read is not None:
            out[line] = read
    return sorted(out.items())


def _within_report(
    node: cst.CSTNode, clause: cst.ExceptHandler, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> bool:
    """Whether ``node`` is part of what the clause raises or reports
    (``log.error("%s", describe(e))``): words, not data sent on."""
    current = parents.get(node)
    while current is not None and current is not clause:
        if isinstance(current, cst.Raise) or (
            isinstance(current, cst.Call) and _REPORTING.search(_dotted(current.func) or "")
        ):
            return True
        current = parents.get(current)
    return False


def _error_in_data(call: cst.Call, clause: cst.ExceptHandler, parsed: ParsedSource) -> str | None:
    """What of the clause's error the call sends (``str(err)``, ``f"{err}"``, ``err.args``),
    as written: a read the copy for ``EventNotAccepted`` keeps, the send's error in its
    place."""
    error = _clause_error(clause)
    if error is None:
        return None
    parents = parsed.parents
    for arg in call.args:
        for node in _walk(arg.value):
            if not (isinstance(node, cst.Name) and node.value == error):
                continue
            top, parent = _read_chain(node, parents)
            holder = parents.get(parent) if isinstance(parent, cst.Arg) else None
            if isinstance(holder, cst.Call) and _dotted(holder.func) in _TO_TEXT:
                top = holder
            elif isinstance(parent, cst.FormattedStringExpression):
                top = parents.get(parent) or top
            return parsed.wrapper.module.code_for_node(top)
    return None


def _refuse_sends_of_copied_reads(
    parsed: ParsedSource, found: dict[str, _Located], problems: dict[str, str]
) -> None:
    """Refuses a site inside an ``except`` clause that gets a copy for ``EventNotAccepted``
    when its call words its data with the clause's error (``json={"why": str(e.response.text)}``):
    its send, copied into the copy, would keep that read, which the send's error has not."""
    reads = {i for located in found.values() for r in located.copies.values() for i in r}
    if not reads:
        return
    for ident, located in list(found.items()):
        read = next((n for n in _walk(located.statement) if id(n) in reads), None)
        if read is None:
            continue
        line = parsed.positions[read].start.line
        problems[ident] = Problem(
            f"the call sends the error's `{parsed.wrapper.module.code_for_node(read)}` "
            f"(line {line}) from an `except` clause that gets a copy for `EventNotAccepted`, "
            "whose error has no such value: rewrite it by hand"
        )
        del found[ident]


def _function_of(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> str | None:
    found = _enclosing_function(node, parents)
    return found.name.value if found is not None else None


#: What becomes of a local only the old call read: its statement goes (``removed``), its
#: value's call stays as a statement of its own (``call``), or it stays as it was (``kept``).
_Fate = Literal["removed", "call", "kept"]


def _leftover_note(
    name: str, function: str, fate: _Fate, sent_at: int | None = None, what: str = "dict"
) -> str:
    """``sent_at``: the line of the call whose send now carries the local's header dict
    (``what``: or gRPC metadata pairs) written out (evaluated there, not where the local
    was)."""
    if fate == "removed" and sent_at is not None:
        return (
            f"`{name}` in `{function}` only served the old call: removed, its {what} written "
            f"out in the send at line {sent_at}"
        )
    if fate == "removed":
        return f"`{name}` in `{function}` only served the old call: removed"
    if fate == "call":
        return (
            f"`{name}` in `{function}` only served the old call: the call that made it stays, "
            "as a statement of its own, for what else it may do; remove it if it does nothing"
        )
    return f"`{name}` is no longer used in `{function}`; remove it"


def _left_over_locals(
    module: cst.Module,
    removed: set[str],
    dead: dict[int, cst.SimpleStatementLine],
    bare: set[int],
    carried: Mapping[tuple[str, str], int | None],
    markers: tuple[str, ...],
) -> dict[str, list[tuple[str, _Fate]]]:
    """Per function name: locals that only removed code read (``timeout =
    aiohttp.ClientTimeout(total=3)`` for a client the rewrite unwrapped), assigned at its top
    level or in a block inside it (``if``, ``with``, ``for``...). The statements of those that
    can go without a side effect are added to ``dead``; those whose value is a call
    (``headers = realm_headers(project)``) to ``bare``, to keep the call and lose the name
    nobody reads. A name the function mentions anywhere but in its own assignments (a read
    in another branch or after the block, ``+=``, ``global``) stays as it is. ``carried``:
    ``(function, name)`` of header dicts (gRPC metadata lists) a send now carries written
    out; they go too. Only the functions holding one of ``markers`` (this rewrite's sends)
    are read: another of the same name is none of the rewrite's."""
    out: dict[str, list[tuple[str, _Fate]]] = {}

    class _Functions(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if not any(m in _EMPTY.code_for_node(node) for m in markers):
                return
            assigned: dict[str, list[cst.SimpleStatementLine]] = {}
            blocks: dict[int, cst.IndentedBlock] = {}
            for statement, block in _own_statements(node.body):
                blocks[id(statement)] = block
                if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
                    continue
                found = _assigned(statement.body[0])
                if found is not None and found[0] in removed:
                    assigned.setdefault(found[0], []).append(statement)
            for name, statements in assigned.items():
                if name in _names_outside(node, {id(s) for s in statements}):
                    continue
                values = [_value(cast(Assignment, s.body[0])) for s in statements]
                fate: _Fate = "kept"
                mine = {id(s) for s in statements} | set(dead)
                if any(
                    all(id(s) in mine for s in blocks[id(statement)].body)
                    for statement in statements
                ):
                    # a branch that only assigned it (``else: url = B``) would be left
                    # empty: the reviewer takes it out with its ``if``
                    out.setdefault(node.name.value, []).append((name, fate))
                    continue
                moved = (node.name.value, name) in carried
                if all(
                    _inert(v)
                    or _getter(v)
                    or _builds_client(v)
                    or (moved and isinstance(v, cst.Dict | cst.List | cst.Tuple))
                    for v in values
                ):
                    # a value reading the name (``url = url + "/x"``) goes with the rest
                    fate = "removed"
                    dead.update((id(s), s) for s in statements)
                elif name not in names_in(values) and all(
                    _inert(v) or isinstance(v, cst.Call | cst.Await) for v in values
                ):
                    fate = "call"
                    for statement, value in zip(statements, values, strict=True):
                        if _inert(value):
                            dead[id(statement)] = statement
                        else:
                            bare.add(id(statement))
                out.setdefault(node.name.value, []).append((name, fate))

    module.visit(_Functions())
    return out


def _own_statements(
    block: cst.BaseSuite,
) -> Iterator[tuple[cst.BaseStatement, cst.IndentedBlock]]:
    """The statements of a function's body with the block holding each, those inside its
    compound statements (``if``, ``else``, ``with``, ``for``, ``try``...) included, not
    those of a function or class it defines."""
    if not isinstance(block, cst.IndentedBlock):
        return
    for statement in block.body:
        yield statement, block
        for suite in _suites(statement):
            yield from _own_statements(suite)


def _suites(statement: cst.BaseStatement) -> Iterator[cst.BaseSuite]:
    """The blocks a compound statement holds directly: its body, ``elif``/``else``,
    ``except`` and ``finally`` blocks, a ``match``'s cases."""
    if not isinstance(statement, cst.BaseCompoundStatement) or isinstance(
        statement, cst.FunctionDef | cst.ClassDef
    ):
        return
    if isinstance(statement, cst.Match):
        yield from (case.body for case in statement.cases)
        return
    yield statement.body
    pending: list[cst.CSTNode] = [
        child for child in statement.children if not isinstance(child, cst.BaseSuite)
    ]
    while pending:
        child = pending.pop(0)
        if isinstance(child, _HOLDERS):
            yield child.body
        if isinstance(child, cst.If) and child.orelse is not None:
            pending.append(child.orelse)


#: The parts of a compound statement that hold a block of their own.
_HOLDERS = (
    cst.If,
    cst.Else,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.Finally,
    cst.MatchCase,
)


def _names_outside(function: cst.FunctionDef, skip: set[int]) -> set[str]:
    """Every name the function's body mentions (read or bound, ``global`` too) outside the
    statements in ``skip``. Its parameters are left out: rebinding one that nothing reads
    after (``url = url.strip()``) is as dead as any other local."""
    return names_in([function.body], frozenset(skip))


#: Words of a getter's name that say it does more than read (``get_or_create``,
#: ``get_next_id``, ``get_and_lock``).
_NOT_ONLY_GETS = frozenset(
    {
        "or",
        "and",
        "create",
        "make",
        "new",
        "next",
        "increment",
        "incr",
        "set",
        "update",
        "add",
        "pop",
        "reset",
        "delete",
        "remove",
        "save",
        "lock",
        "acquire",
        "claim",
        "consume",
        "register",
        "refresh",
        "issue",
        "mint",
    }
)


def _getter(value: cst.BaseExpression) -> bool:
    """A call that only reads a value, so that its result unread it does nothing and goes
    with its local: named ``get_...`` (``get_kernel_url()``, ``settings.get_base_url()``)
    with no word saying more, and given only names, attributes and literals. A call named
    otherwise (``add_realm(project, headers)``) may change what it is given or elsewhere,
    and stays as a statement of its own."""
    if isinstance(value, cst.Await) or not isinstance(value, cst.Call):
        return False
    func = value.func
    name = func.attr.value if isinstance(func, cst.Attribute) else None
    if isinstance(func, cst.Name):
        name = func.value
    if name is None or (isinstance(func, cst.Attribute) and not _inert(func.value)):
        return False
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]
    return (
        len(words) > 1  # a bare ``get`` is as often a request (``session.get(url)``)
        and words[0] == "get"
        and not _NOT_ONLY_GETS & set(words)
        and all(_inert(a.value) for a in value.args)
    )


class _DropStatements(cst.CSTTransformer):
    """Removes the ``dead`` statements; of the ``bare`` assignments keeps only the value."""

    def __init__(self, dead: set[int], bare: set[int]) -> None:
        self.dead = dead
        self.bare = bare

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        if id(original_node) in self.dead:
            return cst.RemoveFromParent()
        if id(original_node) in self.bare:
            found = _assigned(updated_node.body[0])
            if found is not None:
                return updated_node.with_changes(body=[cst.Expr(found[1])])
        return updated_node

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        # a block whose every statement went (``else: url = B``) still needs one
        if original_node.body and not updated_node.body:
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node


def _inert(value: cst.BaseExpression) -> bool:
    """A value whose assignment can go with its last reader: a literal, names and
    attributes read, strings and sums built from them (``url = self.base + "/register"``,
    ``headers = {"Authorization": token}``), or a timeout object
    (``aiohttp.ClientTimeout(total=3)``, ``httpx.Timeout(5)``) built from literals."""
    if isinstance(value, cst.Integer | cst.Float | cst.SimpleString | cst.Name):
        return True
    if isinstance(value, cst.Attribute):
        return _inert(value.value)
    if isinstance(value, cst.BinaryOperation):
        return _inert(value.left) and _inert(value.right)
    if isinstance(value, cst.ConcatenatedString):
        return _inert(value.left) and _inert(value.right)
    if isinstance(value, cst.FormattedString):
        return all(
            _inert(part.expression)
            for part in value.parts
            if isinstance(part, cst.FormattedStringExpression)
        )
    if isinstance(value, cst.Dict):
        return all(
            isinstance(e, cst.DictElement) and _inert(e.key) and _inert(e.value)
            for e in value.elements
        )
    if isinstance(value, cst.Tuple | cst.List):
        return all(_inert(e.value) for e in value.elements)
    if isinstance(value, cst.Call):
        name = _dotted(value.func) or ""
        return name.endswith("Timeout") and all(_inert(a.value) for a in value.args)
    return False


def _builds_client(value: cst.BaseExpression) -> bool:
    """A library client's construction (:data:`_CLIENT_BUILDERS`) from inert values and
    other such constructions (``pb2_grpc.InvitesStub(grpc.insecure_channel(ADDRESS))``)."""
    if not isinstance(value, cst.Call):
        return False
    name = _dotted(value.func)
    return (
        name is not None
        and _CLIENT_BUILDERS.match(name) is not None
        and all(not a.star and (_inert(a.value) or _builds_client(a.value)) for a in value.args)
    )


def _left_over_globals(module: cst.Module, removed: set[str]) -> list[str]:
    """Module-level names assigned once that only the removed calls read."""
    assigned: dict[str, cst.BaseStatement] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            continue
        found = _assigned(statement.body[0])
        if found is not None and found[0] in removed:
            assigned[found[0]] = statement
    out = []
    for name, assignment in assigned.items():
        others = [s for s in module.body if s is not assignment]
        exported = "__all__" in module.code and (
            f"'{name}'" in module.code or f'"{name}"' in module.code
        )
        if name not in names_in(others) and not exported:
            out.append(name)
    return sorted(out)


def _enclosing_withs(
    node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> list[cst.With]:
    """The ``with`` blocks around ``node`` inside its function, innermost first."""
    out = []
    current = parents.get(node)
    while current is not None and not isinstance(current, cst.FunctionDef | cst.ClassDef):
        if isinstance(current, cst.With):
            out.append(current)
        current = parents.get(current)
    return out


def _only_opens_clients(block: cst.With) -> bool:
    for item in block.items:
        call = item.item
        if not isinstance(call, cst.Call):
            return False
        name = _dotted(call.func)
        if (
            name is not None
            and _CLOSING.search(name)
            and len(call.args) == 1
            and not call.args[0].keyword
            and not call.args[0].star
            and isinstance(call.args[0].value, cst.Call)
        ):
            # `with closing(requests.Session()) as s`: the session, closed on exit
            call = call.args[0].value
            name = _dotted(call.func)
        if name is None or not _CLIENT_FACTORIES.search(name):
            return False
    return True


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


#: What the producer module raises when Kafka does not accept an event in time.
NOT_ACCEPTED = "EventNotAccepted"
#: The producer module's functions, in the order they are imported.
SEND_NAMES = (
    "send_event",
    "send_event_and_wait",
    "send_event_and_wait_async",
    "send_event_async",
    "send_via_outbox",
    "send_via_outbox_async",
)


def marker_text(site_id: str, topic: str, callee: str, endpoint: str | None) -> str:
    """The provenance marker above a send (:data:`MARKER` reads it back)."""
    marker = f"# decouple: migrated {site_id} to {topic} ({callee}"
    return marker + (f" {endpoint})" if endpoint else ")")


def _send_name(spec: SendSpec, located: _Located) -> str:
    if spec.outbox is not None:
        # A Django outbox write is synchronous; an async SQLAlchemy session's is awaited.
        if located.facts.in_async_def and spec.outbox == "sqlalchemy":
            return "send_via_outbox_async"
        return "send_via_outbox"
    name = "send_event_and_wait" if spec.wait else "send_event"
    return name + "_async" if located.facts.in_async_def else name


#: Expressions ``{**x}`` takes as written; any other (``data or {}``, ``a if b else c``) is
#: parenthesised, since ``**`` binds tighter than ``or`` and ``if``.
_SPREADABLE = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.DictComp)


def with_path_params(
    data: str | None, params: Sequence[tuple[str, str]]
) -> tuple[str | None, tuple[str, ...]]:
    """``data`` with the path parameters the url carried as fields of its own: a literal dict
    gets them as entries (a field it already has wins), anything else is merged into."""
    if not params:
        return data, ()
    entries = [(f'"{name}"', source) for name, source in params]
    if data is None:
        return "{" + ", ".join(f"{k}: {v}" for k, v in entries) + "}", ()
    try:
        node = ast.parse(data.strip(), mode="eval").body
    except SyntaxError:
        node = None
    if not isinstance(node, ast.Dict):
        pairs = ", ".join(f"{k}: {v}" for k, v in entries)
        spread = data if isinstance(node, _SPREADABLE) else f"({data.strip()})"
        return "{**" + spread + ", " + pairs + "}", (
            f"the payload `{_first_line(data)}` must be a mapping: the path parameters "
            f"({', '.join(n for n, _ in params)}) are merged into it",
        )
    have = {k.value for k in node.keys if isinstance(k, ast.Constant)}
    notes = tuple(
        f"the payload's own `{name}` field is sent; the path carried `{source}`"
        for name, source in params
        if name in have
    )
    entries = [
        (k, v) for (k, v), (name, _) in zip(entries, params, strict=True) if name not in have
    ]
    if not entries:
        return data, notes
    text = data.rstrip()
    assert text.endswith("}")
    inner = text[:-1].rstrip()
    if "\n" not in text:
        separator = "" if inner.endswith("{") else " " if inner.endswith(",") else ", "
        return inner + separator + ", ".join(f"{k}: {v}" for k, v in entries) + "}", notes
    lines = text.split("\n")
    closing = lines[-1]
    body = [line for line in lines[:-1]]
    last = next((line for line in reversed(body[1:]) if line.strip()), None)
    indent = (
        last[: len(last) - len(last.lstrip())]
        if last
        else closing[: len(closing) - len(closing.lstrip())] + "    "
    )
    if last is not None and not body[-1].rstrip().endswith((",", "{")):
        body[-1] = body[-1].rstrip() + ","
    added = [f"{indent}{k}: {v}," for k, v in entries]
    return "\n".join([*body, *added, closing]), notes


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        module: cst.Module,
        statements: dict[int, tuple[SendSpec, _Located]],
        unwrapped: set[int],
        indent_of: object,
        removed: set[str],
        line_width: int,
        drops: dict[int, str],
        widen: set[int],
        copies: Mapping[int, frozenset[int]],
    ) -> None:
        self.drops = drops
        self.widen = widen
        self.copies = copies
        #: The reads the copies replace, by their original node's id -> the node as
        #: rewritten: the copy is made of the rewritten clause, its reads found in it.
        self._read_ids = frozenset(i for reads in copies.values() for i in reads)
        self._rewritten_reads: dict[int, cst.CSTNode] = {}
        self.widened = False
        self.line_width = line_width
        self.module = module
        self.statements = statements
        self.unwrapped = unwrapped
        self.indent_of = indent_of
        self.removed = removed
        self.removed_by_site: dict[str, set[str]] = {}
        #: Site id -> the names its send reads.
        self.sent_names: dict[str, set[str]] = {}

    def _send(self, spec: SendSpec, located: _Located, indent: str) -> cst.SimpleStatementLine:
        facts = located.facts
        name = _send_name(spec, located)
        data = facts.payload or "None"
        # Continuation lines of copied code are relative to the old statement's indentation
        # and become relative to the new one's: move them so their alignment holds.
        old_indent = len(self._statement_indent(located))
        if "\n" in data:
            flat = _flatten(data)
            if flat is not None and len(indent) + 4 + len(flat) + 1 <= self.line_width:
                data = flat
            else:
                data = _shift(data, old_indent + 4 - facts.payload_column)
        if spec.is_grpc and facts.payload:
            data = f"json_format.MessageToDict({data}, preserving_proto_field_name=True)"
            if "\n" in data or len(indent) + 4 + len(data) + 1 > self.line_width:
                request = _shift(facts.payload, old_indent + 8 - facts.payload_column)
                data = (
                    f"json_format.MessageToDict(\n        {request},\n"
                    "        preserving_proto_field_name=True,\n    )"
                )
        if spec.event:
            data = spec.data or "None"
            if spec.data_entries and len(indent) + 4 + len(data) + 1 > self.line_width:
                data = "{\n" + "".join(f"        {e},\n" for e in spec.data_entries) + "    }"
        elif spec.path_params and not spec.is_grpc:
            merged, _ = with_path_params(facts.payload and data, spec.path_params)
            data = merged or "None"
        args = [f'"{spec.topic}"', data]
        if spec.session is not None:
            args.insert(0, spec.session)
        if spec.key:
            args.append(f"key={spec.key}")
        if facts.headers:
            pairs = ", ".join(f"{k}: {v}" for k, v in facts.headers)
            args.append(f"headers={{{pairs}}}")
        if spec.idempotency_key:
            args.append(f"idempotency_key={spec.idempotency_key}")
        timeout = spec.timeout or facts.timeout
        if spec.wait and timeout:
            args.append(f"timeout={timeout}")
        prefix = "await " if name.endswith("_async") else ""
        one_line = f"{prefix}{name}({', '.join(args)})"
        multi = located.statement is not None and (
            "\n" in one_line or len(indent) + len(one_line) > self.line_width
        )
        if multi:
            # Continuation lines are relative: libcst adds the block's indentation.
            body = "".join(f"    {arg},\n" for arg in args)
            code = f"{prefix}{name}(\n{body})\n"
        else:
            code = one_line + "\n"
        statement = cst.parse_statement(code, config=self.module.config_for_parsing)
        assert isinstance(statement, cst.SimpleStatementLine)
        marker = marker_text(spec.site_id, spec.topic, spec.callee, spec.endpoint)
        leading = [
            *located.statement.leading_lines,
            cst.EmptyLine(indent=True, comment=cst.Comment(marker + spec.marker_suffix)),
            *(cst.EmptyLine(indent=True, comment=cst.Comment(m)) for m in spec.markers),
        ]
        if spec.key_origin:
            key = f"event key: {spec.key or 'none'} ({spec.key_origin})"
            leading.append(cst.EmptyLine(indent=True, comment=cst.Comment(f"# {key}")))
        used = names_in([located.statement])
        self.sent_names[spec.site_id] = names_in([statement])
        self.removed.update(used)
        self.removed_by_site[spec.site_id] = used
        if isinstance(located.statement, cst.SimpleStatementLine):
            return statement.with_changes(
                leading_lines=leading, trailing_whitespace=located.statement.trailing_whitespace
            )
        return statement.with_changes(leading_lines=leading)

    def _kept(self, original: cst.CSTNode, updated: cst.If | cst.With) -> list[cst.BaseStatement]:
        """What stays of a replaced ``if`` (its success branch) or ``with`` (its body)."""
        self.removed.update(names_in([original]))
        if isinstance(updated, cst.With):
            block: cst.BaseSuite | None = updated.body
        elif self.drops.get(id(original)) == "body":
            block = updated.body
        else:
            orelse = updated.orelse
            if isinstance(orelse, cst.If):
                return [orelse]
            block = orelse.body if orelse is not None else None
        if isinstance(block, cst.IndentedBlock):
            return list(block.body)
        if isinstance(block, cst.SimpleStatementSuite):
            return [cst.SimpleStatementLine(body=block.body)]
        return []

    def on_leave(  # type: ignore[override]  # the base's type variable binds per call
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        result = super().on_leave(original_node, updated_node)
        if id(original_node) in self._read_ids and isinstance(result, cst.CSTNode):
            self._rewritten_reads[id(original_node)] = result
        return result

    def leave_ExceptHandler(
        self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler
    ) -> cst.ExceptHandler | cst.FlattenSentinel[cst.ExceptHandler]:
        reads = self.copies.get(id(original_node))
        if reads is not None and isinstance(original_node.name, cst.AsName):
            # the clause stays for what else fails in its ``try``; its copy takes the send's.
            # The copy is made of the clause as rewritten: a call migrated inside the clause
            # sends in the copy too, rather than keep the old call there (where only a
            # refused send would run it) and put its send where nothing raises any more.
            self.widened = True
            error = original_node.name.name
            rewritten = frozenset(
                id(self._rewritten_reads[i]) for i in reads if i in self._rewritten_reads
            )
            body = updated_node.body.visit(_ReplaceNodes(rewritten, error))
            assert isinstance(body, cst.BaseSuite)
            body = body.visit(_DropMarkers())
            assert isinstance(body, cst.BaseSuite)
            copy = updated_node.with_changes(
                type=cst.Name(NOT_ACCEPTED), body=body, leading_lines=()
            )
            return cst.FlattenSentinel([updated_node, copy])
        caught = updated_node.type
        if id(original_node) not in self.widen or caught is None:
            return updated_node
        self.widened = True
        extra = cst.Element(cst.Name(NOT_ACCEPTED))
        if isinstance(caught, cst.Tuple):
            elements = list(caught.elements)
            last = elements[-1]
            elements[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            return updated_node.with_changes(type=caught.with_changes(elements=[*elements, extra]))
        pair = cst.Tuple(
            [
                cst.Element(caught, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                extra,
            ]
        )
        return updated_node.with_changes(type=pair)

    def leave_If(
        self, original_node: cst.If, updated_node: cst.If
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        entry = self.statements.get(id(original_node))
        if entry is not None:
            spec, located = entry
            send = self._send(spec, located, self._indent(located))
            return cst.FlattenSentinel([send, *self._kept(original_node, updated_node)])
        if id(original_node) not in self.drops:
            if _emptied(original_node, updated_node):
                # ``if raise_errors: resp.raise_for_status()`` with the check gone
                return cst.RemoveFromParent()
            return updated_node
        kept = self._kept(original_node, updated_node)
        if not kept:
            return cst.RemoveFromParent()
        first = kept[0]
        if isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            kept[0] = first.with_changes(
                leading_lines=[*updated_node.leading_lines, *first.leading_lines]
            )
        return cst.FlattenSentinel(kept)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        entry = self.statements.get(id(original_node))
        if entry is None:
            if self.drops.get(id(original_node)) == "drop":
                self.removed.update(names_in([original_node]))
                return cst.RemoveFromParent()  # type: ignore[return-value]
            return updated_node
        spec, located = entry
        if spec.fold_into is not None:  # told by the event's one send
            used = names_in([original_node])
            self.removed.update(used)
            self.removed_by_site[spec.site_id] = used
            return cst.RemoveFromParent()  # type: ignore[return-value]
        indent = self._indent(located)
        return self._send(spec, located, indent)

    def _statement_indent(self, located: _Located) -> str:
        indent_of = self.indent_of
        assert callable(indent_of)
        return str(indent_of(located.statement))

    def _indent(self, located: _Located) -> str:
        indent_of = self.indent_of
        assert callable(indent_of)
        if located.parent_with is not None and id(located.parent_with) in self.unwrapped:
            return str(indent_of(located.parent_with))
        return str(indent_of(located.statement))

    def leave_With(
        self, original_node: cst.With, updated_node: cst.With
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        entry = self.statements.get(id(original_node))
        if entry is not None:
            spec, located = entry
            send = self._send(spec, located, self._indent(located))
            return cst.FlattenSentinel([send, *self._kept(original_node, updated_node)])
        if id(original_node) not in self.unwrapped:
            return updated_node
        if _clients_used(updated_node):
            return updated_node  # what stays of the block still uses the client
        for item in original_node.items:
            self.removed.update(names_in([item]))
        return _unwrapped(updated_node)


def _clients_used(block: cst.With) -> bool:
    """Whether the body of ``block`` reads a name its items bind (``as channel``)."""
    bound = {
        name for item in block.items if item.asname is not None for name in names_in([item.asname])
    }
    return bool(bound & names_in(list(block.body.body)))


def _unwrapped(block: cst.With) -> cst.FlattenSentinel[cst.BaseStatement]:
    """The statements of ``block``'s body in its place, its leading lines kept."""
    body = block.body
    assert isinstance(body, cst.IndentedBlock)
    statements = list(body.body)
    if statements:
        first = statements[0]
        assert isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
        statements[0] = first.with_changes(
            leading_lines=[*block.leading_lines, *first.leading_lines]
        )
    return cst.FlattenSentinel(statements)


_EMPTY = cst.Module(body=[])


class _UnwrapIdleClients(cst.CSTTransformer):
    """Takes out of a ``with`` around a send of the rewrite the clients nothing uses any
    more, and unwraps the block when none is left: ``with grpc.insecure_channel(ADDRESS)
    as channel:`` whose ``stub = pb2_grpc.InvitesStub(channel)`` went with the call it
    served, which the rewrite's own unwrapping, reading the body before that, still saw
    use the channel. A client is taken out only when building it does nothing else
    (:func:`_builds_client`: not a channel given credentials read from a file), it is bound
    to a plain name (``as self.channel`` sets what other methods may read), and the
    function reads that name nowhere else (nor another item of the block). One whose
    building does more keeps its effects and loses its unused name. ``markers``: this
    rewrite's sends (a block around none is the repository's own); ``freed``: the names
    the items taken out read."""

    def __init__(self, markers: tuple[str, ...]) -> None:
        self.markers = markers
        self.functions: list[cst.FunctionDef] = []
        self.freed: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.functions.pop()
        return updated_node

    def leave_With(
        self, original_node: cst.With, updated_node: cst.With
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        body = updated_node.body
        if not isinstance(body, cst.IndentedBlock) or not any(
            m in _EMPTY.code_for_node(body) for m in self.markers
        ):
            return updated_node
        read = names_in(list(body.body))
        if self.functions:
            read |= names_in([self.functions[-1].body], frozenset({id(original_node)}))
        kept = []
        changed = False
        for item in updated_node.items:
            target = item.asname.name if item.asname is not None else None
            others = names_in([o.item for o in updated_node.items if o is not item])
            idle = target is None or (
                isinstance(target, cst.Name) and target.value not in read | others
            )
            if idle and _builds_client(item.item):
                self.freed |= names_in([item.item])
                changed = True
                continue
            if (
                idle
                and target is not None
                and isinstance(item.item, cst.Call)
                and _CLIENT_BUILDERS.match(_dotted(item.item.func) or "") is not None
            ):
                # building it does more (reads a certificate): it stays, nameless
                item = item.with_changes(asname=None)
                changed = True
            kept.append(item)
        if not changed:
            return updated_node
        if not kept:
            return _unwrapped(updated_node)
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(items=kept)


def _emptied(original: cst.If, updated: cst.If) -> bool:
    """An ``if`` whose every statement the rewrite took out (libcst leaves a ``pass``), with
    no ``else`` and a test without side effects: nothing is left for it to do."""

    def only_pass(node: cst.If) -> bool:
        body = node.body
        return isinstance(body, cst.IndentedBlock) and (
            not body.body  # rendered as ``pass``
            or (
                len(body.body) == 1
                and isinstance(body.body[0], cst.SimpleStatementLine)
                and all(isinstance(small, cst.Pass) for small in body.body[0].body)
            )
        )

    return (
        only_pass(updated)
        and not only_pass(original)
        and updated.orelse is None
        and isinstance(updated.test, cst.Name | cst.Attribute)
    )


def _shift(code: str, columns: int) -> str:
    """``code`` with its continuation lines moved ``columns`` to the right (left if negative),
    so an argument keeps its inner alignment where it moves."""
    lines = code.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if columns >= 0:
            out.append(" " * columns + line if line.strip() else line)
        else:
            lead = len(line) - len(line.lstrip(" "))
            out.append(line[min(lead, -columns) :])
    return "\n".join(out)


def _flatten(code: str) -> str | None:
    """``code`` on one line, or ``None`` when that could change it (comments, long strings)."""
    if "#" in code or '"""' in code or "'''" in code or "\\\n" in code:
        return None
    lines = [line.strip() for line in code.strip().splitlines()]
    flat = lines[0]
    for line in lines[1:]:
        if flat.endswith(("(", "[", "{")):
            flat += line
        elif line.startswith((")", "]", "}")):
            flat = flat.rstrip(",") + line
        else:
            flat += " " + line
    return flat


def find_markers(source: str) -> list[tuple[int, dict[str, str]]]:
    """``(line, fields)`` for each provenance marker in ``source`` (1-based lines)."""
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER().search(line)
        if match:
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            out.append((number, fields))
    return out
