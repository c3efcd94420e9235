"""What a caller does with a response: nothing, a success check, or more.

``none``: the response is dropped (``requests.post(url, json=event)``). ``status``: it is only
checked for success, and a failure aborts or diverts the caller: ``resp.raise_for_status()``,
the check chained on the call, ``if resp.status_code != 202: raise ...``, ``if not resp.ok:``,
``assert resp.ok``, or a ``try``/``except`` around the call. ``body``: anything else reads it
(``resp.json()``, ``return resp``, ``ok = resp.ok``, a success branch that reads the body).

Scanning uses the verdict (``response_use`` on every call site); the codemod uses the details
too: which statements are success checks, which branch of each runs on success, and which
``except`` clauses catch the call's failures. Both work on :mod:`ast`, so the scan and the
rewrite never disagree about a site.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import ResponseUse
from decouple_services.core.records import record

#: Attributes of a response that say whether it succeeded, and what true means: success
#: (``True``), failure (``False``), or a status code to compare (``None``).
STATUS_ATTRIBUTES: dict[str, bool | None] = {
    "ok": True,
    "is_success": True,
    "is_error": False,
    "is_client_error": False,
    "is_server_error": False,
    "status_code": None,
    "status": None,
}
#: Exceptions of HTTP and gRPC client libraries (by their last dotted part): an ``except`` that
#: catches only these stops firing once the call is a send.
CLIENT_EXCEPTIONS = frozenset(
    {
        "RequestException",
        "HTTPError",
        "HTTPStatusError",
        "RequestError",
        "TransportError",
        "ConnectError",
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "TimeoutException",
        "TooManyRedirects",
        "ClientError",
        "ClientResponseError",
        "ClientConnectionError",
        "ClientConnectorError",
        "ServerTimeoutError",
        "URLError",
        "MaxRetryError",
        "NewConnectionError",
        "ProtocolError",
        "RpcError",
        "AioRpcError",
        "HTTPException",
    }
)


#: More reads than this is not a success check: the value is a client, or used for real
#: (and looking at each read would cost a walk of the whole file per call).
MAX_STATUS_READS = 32


@record
class StatusCheck:
    """A statement that only checks the response's success (lines 1-based)."""

    line: int
    end_line: int
    #: ``raise_for_status``, ``if`` or ``assert``.
    kind: str
    #: For ``if``: the branch that runs on success (``body`` or ``orelse``); the other one
    #: handled the failure.
    success_branch: str = ""
    #: For ``if``: the first and last line of the failure branch (0 when it has none).
    failure_lines: tuple[int, int] = (0, 0)
    #: The check is chained on the call itself (``if not requests.post(...).ok:``).
    chained: bool = False


@record
class Handler:
    """An ``except`` clause around the call."""

    line: int
    #: The exception names as written (``requests.RequestException``), empty for ``except:``.
    caught: tuple[str, ...]
    #: Attributes of the caught exception the clause reads that a plain ``Exception`` has not
    #: (``e.response``, ``e.code()``), in order of first use.
    reads: tuple[str, ...] = ()

    @property
    def client_only(self) -> bool:
        """Catches only HTTP/gRPC client exceptions: no longer fires for a send's failure."""
        return bool(self.caught) and all(
            name.rpartition(".")[2] in CLIENT_EXCEPTIONS for name in self.caught
        )


@record
class ResponseReading:
    use: ResponseUse
    #: The success checks; for ``body`` too, where they say the response's failure aborts
    #: the code around the call (``raise_for_status()`` before ``return resp.json()``).
    checks: tuple[StatusCheck, ...] = ()
    handlers: tuple[Handler, ...] = ()
    #: The name the response is bound to (``resp = ...``), if any.
    name: str | None = None
    #: For ``body``: where and how the response is read, for messages.
    why: str = ""


Parent = Callable[[ast.AST], "ast.AST | None"]


def classify(
    call: ast.AST,
    parent_of: Parent,
    body: Sequence[ast.stmt],
    *,
    passes_through: Callable[[ast.AST, ast.AST], bool] | None = None,
    index: Callable[[], Mapping[str, Sequence[ast.Name]]] | None = None,
) -> ResponseReading:
    """How the response of ``call`` is used. ``parent_of`` gives each node's parent;
    ``body`` is the enclosing function's body (the module's at module level), where a name
    the response is bound to is read; ``passes_through(parent, node)`` says whether a parent
    hands the value on unchanged (``executor.submit(...)``). ``index()`` gives :func:`name_loads`
    of ``body``, for callers that classify many calls of one body (asked only when the
    response is bound to a name)."""
    node: ast.AST = call
    parent = parent_of(node)
    while isinstance(parent, ast.Await) or (
        parent is not None and passes_through is not None and passes_through(parent, node)
    ):
        node, parent = parent, parent_of(parent)
    reading = _direct(node, parent, parent_of, body, index)
    if reading.use is ResponseUse.BODY:
        return reading
    handlers = _handlers(node, parent_of)
    if handlers:
        use = ResponseUse.STATUS
        return ResponseReading(use, reading.checks, handlers, reading.name)
    return reading


def _direct(
    node: ast.AST,
    parent: ast.AST | None,
    parent_of: Parent,
    body: Sequence[ast.stmt],
    index: Callable[[], Mapping[str, Sequence[ast.Name]]] | None,
) -> ResponseReading:
    if parent is None or isinstance(parent, ast.Expr):
        return ResponseReading(ResponseUse.NONE)
    if isinstance(parent, ast.Attribute):
        return _chained(parent, parent_of)
    if isinstance(parent, ast.Assign | ast.AnnAssign):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            return _body("the response is unpacked or stored")
        name = targets[0].id
        if name == "_":
            return ResponseReading(ResponseUse.NONE)
        loads = (index() if index is not None else name_loads(body)).get(name, ())
        return _reads(name, _after(loads, parent), parent_of)
    if isinstance(parent, ast.withitem):
        var = parent.optional_vars
        if var is None:
            return ResponseReading(ResponseUse.NONE)
        statement = parent_of(parent)
        if not isinstance(var, ast.Name) or not isinstance(statement, ast.With | ast.AsyncWith):
            return _body("the response is unpacked")
        first = statement.body[0].lineno
        last = statement.body[-1].end_lineno or first
        loads = (index() if index is not None else name_loads(body)).get(var.id, ())
        return _reads(var.id, [n for n in loads if first <= n.lineno <= last], parent_of)
    return _body(f"the response is used in {_describe(parent)}")


def _after(loads: Sequence[ast.Name], statement: ast.AST) -> list[ast.Name]:
    """The reads in ``loads`` from ``statement``'s first line on that are not part of it
    (``r = f(r)`` reads the old ``r``). Only a read within its lines can be part of it:
    the statement is walked for those alone, most bind a name read on later lines only."""
    first = getattr(statement, "lineno", 0)
    last = getattr(statement, "end_lineno", None) or first
    own: set[int] | None = None
    out: list[ast.Name] = []
    for load in loads:
        line = load.lineno
        if line < first:
            continue
        if line <= last:
            if own is None:
                own = {id(n) for n in ast.walk(statement)}
            if id(load) in own:
                continue
        out.append(load)
    return out


def _body(why: str) -> ResponseReading:
    return ResponseReading(ResponseUse.BODY, why=why)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Return: "a return",
        ast.Call: "a call",
        ast.Subscript: "a subscript",
        ast.keyword: "a call",
        ast.Compare: "a comparison",
        ast.If: "a condition",
    }
    for kind, text in names.items():
        if isinstance(node, kind):
            return f"{text} (line {getattr(node, 'lineno', '?')})"
    return f"an expression (line {getattr(node, 'lineno', '?')})"


def _chained(attribute: ast.Attribute, parent_of: Parent) -> ResponseReading:
    """``requests.post(...).raise_for_status()`` or ``if not requests.post(...).ok:``."""
    grand = parent_of(attribute)
    if attribute.attr == "raise_for_status":
        statement = parent_of(grand) if isinstance(grand, ast.Call) else None
        if (
            isinstance(grand, ast.Call)
            and grand.func is attribute
            and isinstance(statement, ast.Expr)
        ):
            check = StatusCheck(
                statement.lineno,
                statement.end_lineno or statement.lineno,
                "raise_for_status",
                chained=True,
            )
            return ResponseReading(ResponseUse.STATUS, (check,))
        return _body("the value of raise_for_status() is used")
    if attribute.attr in STATUS_ATTRIBUTES:
        tested = _test_check(attribute, parent_of, chained=True)
        if tested is not None:
            return ResponseReading(ResponseUse.STATUS, (tested,))
    return _body(f"`.{attribute.attr}` of the response is read (line {attribute.lineno})")


def _test_check(
    start: ast.AST, parent_of: Parent, *, chained: bool = False, name: str | None = None
) -> StatusCheck | None:
    """The ``if``/``assert`` whose test ``start`` is part of, when that test only asks whether
    the response succeeded (and which branch runs then)."""
    node = start
    parent = parent_of(node)
    while isinstance(parent, ast.UnaryOp | ast.BoolOp | ast.Compare):
        node, parent = parent, parent_of(parent)
    if isinstance(parent, ast.If) and parent.test is node:
        polarity = _polarity(node, name)
        if polarity is None:
            return None
        failure = parent.orelse if polarity else parent.body
        lines = (
            (failure[0].lineno, failure[-1].end_lineno or failure[-1].lineno) if failure else (0, 0)
        )
        return StatusCheck(
            parent.lineno,
            parent.end_lineno or parent.lineno,
            "if",
            "body" if polarity else "orelse",
            lines,
            chained,
        )
    if isinstance(parent, ast.Assert) and parent.test is node and _polarity(node, name) is True:
        return StatusCheck(
            parent.lineno, parent.end_lineno or parent.lineno, "assert", "", (0, 0), chained
        )
    return None


def _polarity(test: ast.AST, name: str | None = None) -> bool | None:
    """Whether ``test`` being true means the response succeeded (``True``), failed
    (``False``), or neither is known (``None``: it tests something else too). The response
    itself (``name``) tests true on success: a requests ``Response`` is true when ``ok``, and
    other clients' responses are always true, so their success branch ran anyway."""
    if name is not None and isinstance(test, ast.Name) and test.id == name:
        return True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _polarity(test.operand, name)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = {_polarity(v, name) for v in test.values}
        return values.pop() if len(values) == 1 else None
    if isinstance(test, ast.Attribute):
        return STATUS_ATTRIBUTES.get(test.attr) if _is_response_attr(test) else None
    if isinstance(test, ast.Compare):
        return _compare_polarity(test)
    return None


def _is_response_attr(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in STATUS_ATTRIBUTES


def _is_code(node: ast.AST) -> bool:
    """A status code as written: ``202``, ``(200, 201)``, ``HTTPStatus.OK``, ``codes.ok``."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_is_code(e) for e in node.elts)
    return isinstance(node, ast.Attribute | ast.Name)


def _compare_polarity(test: ast.Compare) -> bool | None:
    operands = [test.left, *test.comparators]
    codes = [o for o in operands if _is_response_attr(o)]
    if len(codes) != 1 or STATUS_ATTRIBUTES[codes[0].attr] is not None:  # type: ignore[attr-defined]
        return None
    verdicts = set()
    for op, left, right in zip(test.ops, operands, operands[1:], strict=False):
        if _is_response_attr(left) and _is_code(right):
            verdicts.add(_op_polarity(op, right))
        elif _is_response_attr(right) and _is_code(left):
            verdicts.add(_op_polarity(_flipped(op), left))
        else:
            return None
    return verdicts.pop() if len(verdicts) == 1 else None


#: Names of success codes (``HTTPStatus.ACCEPTED``, ``status.HTTP_201_CREATED``, ``codes.ok``).
_SUCCESS_NAME = lazy_pattern(r"(^|_)(ok|created|accepted|no_content|2\d\d)(_|$)", re.IGNORECASE)


def _is_success_code(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and 200 <= node.value < 300
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts) and all(_is_success_code(e) for e in node.elts)
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return bool(_SUCCESS_NAME().search(name))


def _flipped(op: ast.cmpop) -> ast.cmpop:
    pairs: dict[type[ast.cmpop], ast.cmpop] = {
        ast.Lt: ast.Gt(),
        ast.Gt: ast.Lt(),
        ast.LtE: ast.GtE(),
        ast.GtE: ast.LtE(),
    }
    return pairs.get(type(op), op)


def _op_polarity(op: ast.cmpop, value: ast.AST) -> bool | None:
    """``status_code <op> value``: true on success, on failure, or unknown. Equality with a
    code that is not a success (``== 404``) tells outcomes apart: unknown."""
    if isinstance(op, ast.Eq | ast.In | ast.NotEq | ast.NotIn):
        if not _is_success_code(value):
            return None
        return isinstance(op, ast.Eq | ast.In)
    if not (isinstance(value, ast.Constant) and isinstance(value.value, int)):
        return None
    number = value.value
    if isinstance(op, ast.Gt | ast.GtE):
        # ``>= 400``, ``> 299``: a failure; ``>= 200`` goes with a ``< 300`` (success)
        return False if number >= 299 else (True if number in (199, 200) else None)
    if isinstance(op, ast.Lt | ast.LtE):
        return True if 299 <= number <= 400 else None
    return None


def name_loads(body: Sequence[ast.stmt]) -> dict[str, list[ast.Name]]:
    """Every read of a name in ``body``, by name, in the order of ``ast.walk`` of each
    statement (the walk written out: this runs over every body a response is bound in)."""
    out: dict[str, list[ast.Name]] = {}
    Name, Load, AST = ast.Name, ast.Load, ast.AST
    for statement in body:
        todo: deque[ast.AST] = deque((statement,))
        pop, push = todo.popleft, todo.append
        while todo:
            node = pop()
            if isinstance(node, Name):
                if isinstance(node.ctx, Load):
                    out.setdefault(node.id, []).append(node)
                continue  # a name's only child is its context
            for field in node._fields:
                value = getattr(node, field, None)
                if isinstance(value, AST):
                    push(value)
                elif isinstance(value, list):
                    for item in value:
                        if isinstance(item, AST):
                            push(item)
    return out


def _reads(name: str, loads: Sequence[ast.Name], parent_of: Parent) -> ResponseReading:
    """``status`` when every read in ``loads`` (of ``name``) is part of a success check (or
    of the branch that handles a failure), ``none`` when there is none, else ``body``."""
    if not loads:
        return ResponseReading(ResponseUse.NONE, name=name)
    if len(loads) > MAX_STATUS_READS:
        return ResponseReading(
            ResponseUse.BODY, name=name, why=f"`{name}` is read {len(loads)} times"
        )
    checks: dict[int, StatusCheck] = {}
    for load in loads:
        attribute = parent_of(load)
        if not isinstance(attribute, ast.Attribute) or attribute.value is not load:
            check = _test_check(load, parent_of, name=name)  # ``if resp:``
            if check is not None:
                checks[check.line] = check
            continue
        if attribute.attr == "raise_for_status":
            call = parent_of(attribute)
            statement = parent_of(call) if isinstance(call, ast.Call) else None
            if (
                isinstance(call, ast.Call)
                and call.func is attribute
                and isinstance(statement, ast.Expr)
            ):
                checks[statement.lineno] = StatusCheck(
                    statement.lineno, statement.end_lineno or statement.lineno, "raise_for_status"
                )
        elif attribute.attr in STATUS_ATTRIBUTES:
            check = _test_check(attribute, parent_of, name=name)
            if check is not None:
                checks[check.line] = check
    found = tuple(sorted(checks.values(), key=lambda c: c.line))
    for load in loads:
        if any(_covered(load, check) for check in checks.values()):
            continue
        # the checks stay known: a helper that checks and returns the response still
        # aborts a caller that ignores what it returns
        return ResponseReading(
            ResponseUse.BODY, found, name=name, why=f"`{name}` is read at line {load.lineno}"
        )
    return ResponseReading(ResponseUse.STATUS, found, name=name)


def _covered(load: ast.Name, check: StatusCheck) -> bool:
    """Whether a read belongs to a check: its test, its raise_for_status, or its failure
    branch (which no longer runs)."""
    line = load.lineno
    if check.kind != "if":
        return check.line <= line <= check.end_line
    first, last = check.failure_lines
    if first and first <= line <= last:
        return True
    # the test itself: the ``if`` line up to the first line of its branches
    return line == check.line


def _handlers(node: ast.AST, parent_of: Parent) -> tuple[Handler, ...]:
    """The ``except`` clauses of every ``try`` whose body holds ``node``, innermost first, up
    to the enclosing function."""
    out: list[Handler] = []
    child = node
    current = parent_of(node)
    while current is not None and not isinstance(
        current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
    ):
        if isinstance(current, ast.Try | ast.TryStar) and any(child is s for s in current.body):
            for handler in current.handlers:
                out.append(Handler(handler.lineno, _caught(handler.type), _error_reads(handler)))
        child, current = current, parent_of(current)
    return tuple(out)


#: What every exception has: reading these works whatever the clause catches.
_EXCEPTION_ATTRIBUTES = frozenset(dir(Exception()))


def _error_reads(handler: ast.ExceptHandler) -> tuple[str, ...]:
    """``response`` for ``except HTTPError as e: ... e.response.text``."""
    if handler.name is None:
        return ()
    found: dict[str, None] = {}
    for statement in handler.body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == handler.name
                and node.attr not in _EXCEPTION_ATTRIBUTES
            ):
                found.setdefault(node.attr)
    return tuple(found)


def _caught(node: ast.expr | None) -> tuple[str, ...]:
    if node is None:
        return ()
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    return tuple(ast.unparse(item) for item in items)


def parents_and_loads(
    statement: ast.AST,
) -> tuple[dict[int, ast.AST], dict[str, list[ast.Name]]]:
    """:func:`parent_map` of ``statement`` and :func:`name_loads` of ``[statement]``, from
    one walk: the extraction asks both of the statements holding the reads of a response."""
    out: dict[int, ast.AST] = {}
    loads: dict[str, list[ast.Name]] = {}
    Name, Load, AST = ast.Name, ast.Load, ast.AST
    todo: deque[ast.AST] = deque((statement,))
    pop, push = todo.popleft, todo.append
    while todo:
        node = pop()
        if isinstance(node, Name):
            # its fields are its identifier and its context, which holds nothing
            out[id(node.ctx)] = node
            if isinstance(node.ctx, Load):
                loads.setdefault(node.id, []).append(node)
            continue
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                out[id(value)] = node
                push(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, AST):
                        out[id(item)] = node
                        push(item)
    return out, loads


def parent_map(tree: ast.AST) -> dict[int, ast.AST]:
    """``id(child) -> parent`` for every node of ``tree``, in the order of ``ast.walk``
    and ``ast.iter_child_nodes`` (written out: a node's children, a list of them included,
    are the nodes among its fields)."""
    out: dict[int, ast.AST] = {}
    AST = ast.AST
    todo: deque[ast.AST] = deque((tree,))
    pop, push = todo.popleft, todo.append
    while todo:
        node = pop()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                out[id(value)] = node
                push(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, AST):
                        out[id(item)] = node
                        push(item)
    return out
