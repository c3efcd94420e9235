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
correlation headers of a literal ``headers={...}`` travel as Kafka headers.

The first comment line is the provenance marker: a later scan reports the send as an event
site (role ``event``) with the same id, and a later migration leaves it alone.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from decouple_services.detect.events import MARKER
from decouple_services.migrate.imports import add_import, drop_unused, names_in, separate_docstring

#: Keyword arguments that carry a request's body, in the order detectors prefer them.
PAYLOAD_KEYWORDS = ("json", "data", "payload", "body", "params", "fields")
#: Header names (lower case) that follow a request across services: they become Kafka headers.
TRACE_HEADERS = frozenset(
    {
        "traceparent",
        "tracestate",
        "baggage",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-request-id",
        "request-id",
        "x-correlation-id",
        "correlation-id",
        "x-trace-id",
        "x-amzn-trace-id",
        "x-cloud-trace-context",
        "uber-trace-id",
        "idempotency-key",
        "x-idempotency-key",
    }
)
#: Constructors whose ``with`` block only exists to make HTTP calls.
_CLIENT_FACTORIES = re.compile(
    r"(^|\.)(AsyncClient|Client|Session|ClientSession|PoolManager|HTTPConnectionPool"
    r"|insecure_channel|secure_channel)$"
)
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


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the code at a call site looks like, before any rewrite."""

    site_id: str
    in_async_def: bool
    #: Source of the payload expression, as written (``None`` when the call sends none).
    payload: str | None
    #: ``(name source, value source)`` of trace headers in a literal ``headers={...}``.
    headers: tuple[tuple[str, str], ...] = ()
    #: Something a reviewer should know (headers that are not carried...).
    notes: tuple[str, ...] = ()
    #: Column the payload started at, to re-indent its continuation lines where it moves.
    payload_column: int = 0


@dataclass(frozen=True, slots=True)
class FileRewrite:
    code: bytes
    #: Site id -> why it was not rewritten.
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Located:
    __slots__ = ("call", "facts", "parent_with", "statement")

    def __init__(
        self,
        call: cst.Call,
        statement: cst.SimpleStatementLine,
        facts: CallFacts,
    ) -> None:
        self.call = call
        self.statement = statement
        self.facts = facts
        self.parent_with: cst.With | None = None


class _Calls(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, positions: Mapping[cst.CSTNode, object]) -> None:
        self.positions = positions
        self.calls: list[tuple[int, int, int, int, cst.Call]] = []

    def visit_Call(self, node: cst.Call) -> None:
        pos = self.positions[node]
        start, end = pos.start, pos.end  # type: ignore[attr-defined]
        self.calls.append((start.line, end.line, start.column, -end.column, node))


class ParsedSource:
    """A file's libcst tree with the positions, parents and calls both the planner's
    :func:`inspect_calls` and :func:`rewrite_source` read: parse once, use for both."""

    __slots__ = ("calls", "parents", "positions", "source", "wrapper")

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        finder = _Calls(self.positions)
        self.wrapper.module.visit(finder)
        self.calls = finder.calls


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
        call = matches[0][4]
        statement, why = _statement_of(call, parents)
        if statement is None:
            problems[spec.site_id] = why
            continue
        in_async = _in_async_def(statement, parents)
        try:
            payload, notes, payload_node = _payload_source(wrapper.module, call, spec)
        except _NotRewritable as exc:
            problems[spec.site_id] = str(exc)
            continue
        headers, header_notes = _trace_headers(wrapper.module, call)
        column = positions[payload_node].start.column if payload_node is not None else 0
        facts = CallFacts(spec.site_id, in_async, payload, headers, (*notes, *header_notes), column)
        located = _Located(call, statement, facts)
        parent = parents.get(parents.get(statement))  # type: ignore[arg-type]
        if isinstance(parent, cst.With):
            located.parent_with = parent
        found[spec.site_id] = located
    return found, problems


def _statement_of(
    call: cst.Call, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> tuple[cst.SimpleStatementLine | None, str]:
    node: cst.CSTNode = call
    parent = parents.get(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, parents.get(parent)
    if isinstance(parent, cst.Expr) or (
        isinstance(parent, cst.Assign)
        and all(isinstance(t.target, cst.Name) and t.target.value == "_" for t in parent.targets)
    ):
        pass
    else:
        return None, "the call is part of a larger expression, not a statement of its own"
    line = parents.get(parent)
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None, "the call shares its line with other statements"
    return line, ""


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
    module: cst.Module, call: cst.Call, spec: SendSpec
) -> tuple[str | None, tuple[str, ...], cst.CSTNode | None]:
    """The payload's source, notes about it, and its node when it is taken from the call."""
    hint = spec.payload_hint
    if spec.is_grpc:
        positional = [a for a in call.args if a.keyword is None and a.star == ""]
        request = positional[0] if positional else _keyword(call, "request")
        if request is None:
            return None, (), None
        return module.code_for_node(request.value), (), request.value
    if hint is None:
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
        text = expression.strip()
        missing = _free_names(text) - names_in([module]) - _BUILTINS
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


class _NotRewritable(Exception):
    pass


_BUILTINS = frozenset(dir(builtins))


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


def _trace_headers(
    module: cst.Module, call: cst.Call
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    arg = _keyword(call, "headers")
    if arg is None:
        return (), ()
    if not isinstance(arg.value, cst.Dict):
        return (), (
            f"`headers={module.code_for_node(arg.value)}` is not carried: name the trace "
            "headers to keep in the send's `headers=`",
        )
    kept = []
    for element in arg.value.elements:
        if not isinstance(element, cst.DictElement):
            continue
        key = element.key
        if isinstance(key, cst.SimpleString) and key.evaluated_value.lower() in TRACE_HEADERS:
            kept.append((key.value, module.code_for_node(element.value)))
    return tuple(kept), ()


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
    """``source`` with every site in ``sites`` rewritten into a send."""
    parsed = parse(source)
    wrapper, module, positions = parsed.wrapper, parsed.wrapper.module, parsed.positions
    found, problems = _locate(parsed, sites)
    if not found:
        return FileRewrite(source, problems)
    specs = {s.site_id: s for s in sites}
    removed: set[str] = set()
    lines = module.code.splitlines()
    by_statement: dict[int, tuple[SendSpec, _Located]] = {}
    with_blocks: dict[int, cst.With] = {}
    for ident, located in found.items():
        by_statement[id(located.statement)] = (specs[ident], located)
        parent = located.parent_with
        if parent is not None and _only_opens_clients(parent):
            with_blocks[id(parent)] = parent
    # A with-block is unwrapped only when every statement in it is rewritten.
    unwrapped = {
        key
        for key, block in with_blocks.items()
        if isinstance(block.body, cst.IndentedBlock)
        and all(id(stmt) in by_statement for stmt in block.body.body)
    }

    def indent_of(node: cst.CSTNode) -> str:
        line = lines[positions[node].start.line - 1]
        return line[: len(line) - len(line.lstrip())]

    transformer = _Rewriter(module, by_statement, unwrapped, indent_of, removed, line_width)
    new_module = wrapper.module.visit(transformer)
    needs_async = any(located.facts.in_async_def for _, located in by_statement.values())
    needs_sync = any(not located.facts.in_async_def for _, located in by_statement.values())
    first = next(iter(specs.values()))
    names = [
        n for n, wanted in (("send_event", needs_sync), ("send_event_async", needs_async)) if wanted
    ]
    new_module = drop_unused(new_module, removed)
    if first.relative:
        target = "." * first.relative + first.producer_module.rsplit(".", 1)[-1]
    else:
        target = first.producer_module
    own = first.producer_module.split(".")[0] if "." in first.producer_module else None
    new_module = add_import(new_module, f"from {target} import {', '.join(names)}", own_package=own)
    if any(specs[i].is_grpc for i in found):
        new_module = add_import(new_module, "from google.protobuf import json_format")
    new_module = separate_docstring(new_module)
    leftovers = _left_over_globals(new_module, removed)
    notes: dict[str, tuple[str, ...]] = {}
    for ident, located in found.items():
        mine = [name for name in leftovers if name in transformer.removed_by_site.get(ident, ())]
        extra = tuple(
            f"`{name}` is no longer used in this file; remove it unless other modules import it"
            for name in mine
        )
        leftovers = [name for name in leftovers if name not in mine]
        if located.facts.notes or extra:
            notes[ident] = (*located.facts.notes, *extra)
    return FileRewrite(new_module.bytes, problems, notes)


def _left_over_globals(module: cst.Module, removed: set[str]) -> list[str]:
    """Module-level names assigned once that only the removed calls read."""
    assigned: dict[str, cst.BaseStatement] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            continue
        small = statement.body[0]
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
        ):
            name = small.targets[0].target.value
            if name in removed:
                assigned[name] = statement
    out = []
    for name, assignment in assigned.items():
        others = [s for s in module.body if s is not assignment]
        exported = "__all__" in module.code and (
            f"'{name}'" in module.code or f'"{name}"' in module.code
        )
        if name not in names_in(others) and not exported:
            out.append(name)
    return sorted(out)


def _only_opens_clients(block: cst.With) -> bool:
    for item in block.items:
        call = item.item
        if not isinstance(call, cst.Call):
            return False
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


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        module: cst.Module,
        statements: dict[int, tuple[SendSpec, _Located]],
        unwrapped: set[int],
        indent_of: object,
        removed: set[str],
        line_width: int,
    ) -> None:
        self.line_width = line_width
        self.module = module
        self.statements = statements
        self.unwrapped = unwrapped
        self.indent_of = indent_of
        self.removed = removed
        self.removed_by_site: dict[str, set[str]] = {}

    def _send(self, spec: SendSpec, located: _Located, indent: str) -> cst.SimpleStatementLine:
        facts = located.facts
        name = "send_event_async" if facts.in_async_def else "send_event"
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
        args = [f'"{spec.topic}"', data]
        if spec.key:
            args.append(f"key={spec.key}")
        if facts.headers:
            pairs = ", ".join(f"{k}: {v}" for k, v in facts.headers)
            args.append(f"headers={{{pairs}}}")
        if spec.path_params:
            pairs = ", ".join(f'"{k}": {v}' for k, v in spec.path_params)
            args.append(f"path_params={{{pairs}}}")
        prefix = "await " if facts.in_async_def else ""
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
        marker = f"# decouple: migrated {spec.site_id} to {spec.topic} ({spec.callee}"
        marker += f" {spec.endpoint})" if spec.endpoint else ")"
        leading = [
            *located.statement.leading_lines,
            cst.EmptyLine(indent=True, comment=cst.Comment(marker)),
        ]
        used = names_in([located.statement])
        self.removed.update(used)
        self.removed_by_site[spec.site_id] = used
        return statement.with_changes(
            leading_lines=leading, trailing_whitespace=located.statement.trailing_whitespace
        )

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        entry = self.statements.get(id(original_node))
        if entry is None:
            return updated_node
        spec, located = entry
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
        if id(original_node) not in self.unwrapped:
            return updated_node
        body = updated_node.body
        assert isinstance(body, cst.IndentedBlock)
        for item in original_node.items:
            self.removed.update(names_in([item]))
        statements = list(body.body)
        if statements:
            first = statements[0]
            assert isinstance(first, cst.SimpleStatementLine)
            statements[0] = first.with_changes(
                leading_lines=[*updated_node.leading_lines, *first.leading_lines]
            )
        return cst.FlattenSentinel(statements)


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
        match = MARKER.search(line)
        if match:
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            out.append((number, fields))
    return out
