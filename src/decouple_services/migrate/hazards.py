"""What the code around a call site, and the handler behind it, says about losing or
repeating its event. Everything here reads source text with :mod:`ast`; nothing is run.

* **A failure path** (:func:`failure_path`): the call runs where its caller handles a failure,
  so it is a compensation, an undo, a notice of the failure. Such a call runs once, when
  something went wrong, and nothing retries it: lost, the failure is never repaired; applied
  twice, it is repaired twice. The rule, from the call outward:

  1. the call is in the body of an ``except`` clause of its function;
  2. the call is in the branch of an ``if`` that handles a failed answer: the body of
     ``if resp.status_code != 200:``, ``if resp.status_code >= 400:``, ``if not resp.ok:``,
     ``if charge.status != CHARGE_STATUS_SUCCEEDED:``, ``if result.state == "declined":``,
     ``if resp.failed:``, or the ``else`` of ``if resp.ok:`` / ``if resp.status_code == 200:``
     (a status field compared with a 2xx or 4xx/5xx code, or with a value whose words say
     it succeeded or failed);
  3. its function is named as an undo: a word of its name (``snake_case`` or ``camelCase``)
     is ``rollback``, ``compensate``, ``compensation``, ``undo`` or ``revert``, or two of
     them read ``roll back``;
  4. its function is called, in the same module, from a place of rule 1 or 2.

  A ``try`` body, a ``finally`` or a ``try``'s ``else`` is not a failure path; neither is a
  function named ``cancel_order`` (cancelling is a request of its own, not an undo).

* **A failure the caller tolerated** (:func:`failure_tolerated`): the call is in the body of
  a ``try`` of its function whose ``except`` catches what a failed call raises (a catch-all,
  ``OSError``, or an exception of a client library: ``RequestException``, ``HTTPError``,
  ``ConnectionError``, ``Timeout``, ``ClientError``, ``RpcError``...), or inside
  ``contextlib.suppress`` of one. Otherwise the call's failure reached its caller, and a
  send that is lost where the call would have raised changes what the caller relied on.

* **Increments** (:func:`handler_hazards`): the handler changes stored state relative to
  what it holds (``item.stock += amount``, ``STOCK[item] -= n``, ``db.incr(key)``,
  ``F("stock") + n``, ``{"$inc": ...}``, ``SET stock = stock + %s``), so an event handled
  twice applies it twice. An augmented assignment to a plain local name, or to an item of a
  collection the function builds itself, is not stored state.
* **Transient faults answered as 4xx** (:func:`handler_hazards`): an ``except`` for a
  database or cache error (``RedisError``, ``OperationalError``, ``SQLAlchemyError``...), or
  a catch-all around a call on a database or cache object, answers a 4xx status the
  consumer dead-letters at once (every 4xx but 401, 403, 408, 425 and 429): a passing outage
  sends the event to the dead-letter topic instead of being retried.

Both look at the handler and the functions of its module it calls directly.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from decouple_services.core.model import CallSite, Endpoint
from decouple_services.detect.context import top_level_values
from decouple_services.graph.migratability import Finding
from decouple_services.migrate.codemod import CREDENTIAL_HEADERS, CallFacts, SendSpec
from decouple_services.migrate.payload import payload_fields
from decouple_services.migrate.scope import bound_at
from decouple_services.migrate.syntax import Function, enclosing, reaching_value
from decouple_services.migrate.syntax import function_at as _function_at
from decouple_services.migrate.syntax import own_nodes as _own_nodes
from decouple_services.migrate.syntax import parse_module as _parse
from decouple_services.migrate.syntax import span as _span

__all__ = [
    "Hazard",
    "atomic_requests",
    "callee_cautions",
    "compensation_caution",
    "failure_answered",
    "failure_path",
    "failure_tolerated",
    "handler_hazards",
    "handler_writes",
    "idempotency",
    "non_atomic_request",
]


#: Words of a function's name that say it undoes something.
_UNDO_WORDS = frozenset({"rollback", "compensate", "compensation", "undo", "revert"})
#: The 4xx answers the generated consumer retries instead of dead-lettering.
RETRIED_4XX = frozenset({401, 403, 408, 425, 429})
#: Methods that change a stored counter by an amount (Redis, memcached, Django's cache).
_INCREMENT_METHODS = frozenset(
    {
        "incr",
        "incrby",
        "incrbyfloat",
        "decr",
        "decrby",
        "hincrby",
        "hincrbyfloat",
        "zincrby",
        "increment",
        "decrement",
    }
)
_SQL_INCREMENT = re.compile(r"\bset\s+(\w+)\s*=\s*\1\s*[-+]", re.IGNORECASE)
#: Last names of exceptions a database or cache raises for a fault that passes (lost
#: connection, timeout, failover): not an answer about the request.
_TRANSIENT_ERRORS = re.compile(
    r"^(?:\w*RedisError|ConnectionError|TimeoutError|OperationalError|DatabaseError"
    r"|InterfaceError|SQLAlchemyError|DBAPIError|PyMongoError|AutoReconnect"
    r"|ServerSelectionTimeoutError|NetworkTimeout|ConnectionFailure|CacheError"
    r"|ClusterDownError|BusyLoadingError)$"
)
_CATCH_ALL = frozenset({"Exception", "BaseException"})
#: What a failed call of a client library raises, by the last part of its name.
_CALL_ERRORS = re.compile(
    r"^(?:Exception|BaseException|OSError|IOError|EnvironmentError|Timeout|TimeoutError"
    r"|\w*(?:Request|Connection|Connect|Connector|Timeout|HTTP|Http|Transport|Rpc|Client"
    r"|URL|Url|Network|Protocol|Proxy|SSL|Status|Response|Server|Service|Api|API|Grpc|GRPC)"
    r"\w*(?:Error|Exception)|\w*Timeout)$"
)
#: Names of the objects a service talks to its database or cache through.
_STORE_NAMES = frozenset(
    {"db", "database", "redis", "cache", "session", "conn", "connection", "cursor", "cur"}
    | {"collection", "mongo", "pool", "engine", "objects"}
)
#: Framework classes and helpers that answer one 4xx status.
_STATUS_NAMES = {
    "HttpResponseBadRequest": 400,
    "HTTPBadRequest": 400,
    "BadRequest": 400,
    "HttpResponseNotFound": 404,
    "HTTPNotFound": 404,
    "NotFound": 404,
    "Http404": 404,
    "HTTPConflict": 409,
    "Conflict": 409,
    "HTTPUnprocessableEntity": 422,
    "UnprocessableEntity": 422,
}
_STATUS_ATTR = re.compile(r"_(\d{3})(?:_|$)")
_STATUS_KEYWORDS = frozenset({"status", "status_code", "code"})


@dataclass(frozen=True, slots=True)
class Hazard:
    #: ``increment``, ``transient-4xx`` or ``conflict``.
    kind: str
    line: int
    #: The code that shows it, as written (one line).
    code: str
    #: The function it is in (the handler or a function of its module it calls).
    function: str


def _first_line(node: ast.AST) -> str:
    text = ast.unparse(node).strip()
    return text.splitlines()[0] if text else ""


def _inside(line: int, nodes: list[ast.stmt]) -> bool:
    return any(_span(n)[0] <= line <= _span(n)[1] for n in nodes)


# --- failure paths ------------------------------------------------------------------------


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in spaced.lower().split("_") if w]


def undoes(name: str) -> bool:
    """Whether a function's name says it undoes something (``rollback_stock``,
    ``compensatePayment``, ``roll_back_order``, ``undo_reservation``)."""
    words = _words(name)
    if any(w in _UNDO_WORDS for w in words):
        return True
    return any(pair == ("roll", "back") for pair in itertools.pairwise(words))


#: Words of a status value (``CHARGE_STATUS_SUCCEEDED``, ``"declined"``) that say how the
#: answer went.
_GOOD_WORDS = frozenset({"ok", "success", "succeeded", "successful", "approved", "accepted"})
_BAD_WORDS = frozenset({"fail", "failed", "failure", "declined", "error", "rejected", "denied"})
#: Attributes of an answer that are true when it went well, or when it did not.
_GOOD_FLAGS = frozenset({"ok", "success", "succeeded", "successful", "is_success"})
_BAD_FLAGS = frozenset({"failed", "is_error", "has_error", "is_failure"})
_STATUS_FIELDS = frozenset({"status_code", "status", "code", "state", "outcome", "result"})


def _outcome(node: ast.expr) -> str | None:
    """``good`` or ``bad`` for a status value a test compares with, else ``None``."""
    values = _ints(node)
    if values:
        if all(200 <= v < 300 for v in values):
            return "good"
        return "bad" if all(v >= 400 for v in values) else None
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    kinds = set()
    for item in items:
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            words = set(_words(item.value))
        else:
            words = set(_words(_last_name(item)))
        kinds.add("good" if words & _GOOD_WORDS else "bad" if words & _BAD_WORDS else None)
    return kinds.pop() if len(kinds) == 1 else None


def _status_test(test: ast.expr) -> str | None:
    """``failure`` when the test is true on a failed answer, ``success`` when it is true on
    a successful one, ``None`` when it is no test of an answer."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _status_test(test.operand)
        return {"failure": "success", "success": "failure"}.get(inner or "")
    if isinstance(test, ast.Attribute):
        if test.attr in _GOOD_FLAGS:
            return "success"
        return "failure" if test.attr in _BAD_FLAGS else None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, test.ops[0], test.comparators[0]
    if not (isinstance(left, ast.Attribute) and left.attr in _STATUS_FIELDS):
        return None
    if isinstance(op, ast.GtE | ast.Gt | ast.Lt | ast.LtE):
        values = _ints(right)
        if not values or values[0] < 299:
            return None
        return "failure" if isinstance(op, ast.GtE | ast.Gt) else "success"
    outcome = _outcome(right)
    if outcome is None or not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
        return None
    same = isinstance(op, ast.Eq | ast.In)
    return "success" if (outcome == "good") == same else "failure"


def _ints(node: ast.expr) -> list[int]:
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    out = []
    for item in items:
        if isinstance(item, ast.Constant) and type(item.value) is int:
            out.append(item.value)
        elif isinstance(item, ast.Attribute) and (code := _STATUS_ATTR.search(item.attr)):
            out.append(int(code.group(1)))  # status.HTTP_400_BAD_REQUEST
        else:
            return []
    return out


def _failure_handling(function: ast.AST, line: int) -> str | None:
    """Where, inside ``function`` (not in functions nested in it), ``line`` runs because
    something failed: ``except X`` or ``if <failed status test>``, as written."""
    found: str | None = None
    for node in enclosing(function, line):
        if isinstance(node, ast.ExceptHandler) and _inside(line, node.body):
            caught = ast.unparse(node.type) if node.type is not None else ""
            found = f"`except{' ' + caught if caught else ''}`"
        elif isinstance(node, ast.If):
            kind = _status_test(node.test)
            branch = node.body if kind == "failure" else node.orelse
            if kind is not None and _inside(line, branch):
                test = _first_line(node.test)
                found = f"`if {test}`" if kind == "failure" else f"the `else` of `if {test}`"
    return found


def _functions(tree: ast.Module) -> list[Function]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in ("self", "cls")
    ):
        return func.attr
    return None


def failure_path(source: str | bytes, line: int) -> str | None:
    """Why the call at ``line`` runs on its caller's failure path (module docstring), in a
    few words; ``None`` when it does not, or the file does not parse."""
    tree = _parse(source)
    if tree is None:
        return None
    function = _function_at(tree, line)
    where = _failure_handling(function if function is not None else tree, line)
    if where is not None:
        owner = f"`{function.name}`" if function is not None else "the module"
        return f"it runs in {where} of {owner}"
    if function is None:
        return None
    if undoes(function.name):
        return f"it is in `{function.name}`, whose name says it undoes a step"
    for caller in [*_functions(tree), tree]:
        for node in ast.walk(caller):
            if not (isinstance(node, ast.Call) and _called_name(node) == function.name):
                continue
            if caller is not tree and _function_at(tree, node.lineno) is not caller:
                continue
            handling = _failure_handling(caller, node.lineno)
            if handling is not None:
                name = caller.name if isinstance(caller, Function) else "the module"
                return f"`{function.name}` is called in {handling} of `{name}` (line {node.lineno})"
    return None


def failure_tolerated(source: str | bytes, line: int) -> bool | None:
    """Whether the call at ``line`` is in a ``try`` body (or ``contextlib.suppress``) of
    its function that catches what a failed call raises (module docstring); ``None`` when
    the file does not parse."""
    tree = _parse(source)
    if tree is None:
        return None
    function = _function_at(tree, line)
    for node in enclosing(function if function is not None else tree, line):
        if isinstance(node, ast.Try | ast.TryStar) and _inside(line, node.body):
            if any(_CALL_ERRORS.match(c) for h in node.handlers for c in _caught(h)):
                return True
        elif isinstance(node, ast.With | ast.AsyncWith) and _inside(line, node.body):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and _last_name(call.func) == "suppress"
                    and any(_CALL_ERRORS.match(_last_name(a)) for a in call.args)
                ):
                    return True
    return False


def failure_answered(source: str | bytes, line: int) -> tuple[int, str] | None:
    """The ``except`` clause of the function holding ``line`` (a helper's request) that
    turns a failed call into something of its own: its line and ``except X: <first
    statement>`` (``except RequestException: abort(400, REQ_ERROR_STR)``). A clause that
    only raises again (a bare ``raise``) passes the failure on and is not one. ``None``
    when there is none, or the file does not parse."""
    tree = _parse(source)
    if tree is None:
        return None
    function = _function_at(tree, line)
    for node in enclosing(function if function is not None else tree, line):
        if not (isinstance(node, ast.Try | ast.TryStar) and _inside(line, node.body)):
            continue
        for handler in node.handlers:
            caught = _caught(handler)
            if not any(_CALL_ERRORS.match(c) for c in caught):
                continue
            if all(isinstance(s, ast.Raise) and s.exc is None for s in handler.body):
                continue
            first = _first_line(handler.body[0]) if handler.body else "pass"
            return handler.lineno, f"except {', '.join(caught)}: {first}"
    return None


# --- handlers ----------------------------------------------------------------------------


def _handler(tree: ast.Module, name: str, line: int) -> Function | None:
    """The handler function: named ``name`` and holding ``line`` (its ``def`` or a
    decorator), else the only function so named."""
    named = [f for f in _functions(tree) if f.name == name]
    for function in named:
        first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
        if first <= line <= (function.end_lineno or function.lineno):
            return function
    return named[0] if len(named) == 1 else None


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _built_locally(function: Function, name: str) -> bool:
    """Whether ``name`` is a collection the function builds itself (``counts = {}``,
    ``defaultdict(int)``), whose items are no stored state."""
    for node in _own_nodes(function):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
                continue
            value = node.value
            if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp):
                return True
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name | ast.Attribute):
                called = value.func.id if isinstance(value.func, ast.Name) else value.func.attr
                if called in ("dict", "list", "set", "defaultdict", "Counter", "OrderedDict"):
                    return True
    return False


def _increments(function: Function) -> Iterator[tuple[ast.AST, str]]:
    for node in _own_nodes(function):
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Sub):
            target = node.target
            if isinstance(target, ast.Attribute):
                yield node, _first_line(node)
            elif isinstance(target, ast.Subscript):
                root = _root(target)
                if not (isinstance(root, ast.Name) and _built_locally(function, root.id)):
                    yield node, _first_line(node)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr.lower() in _INCREMENT_METHODS:
                yield node, _first_line(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            if any(
                isinstance(side, ast.Call)
                and isinstance(side.func, ast.Name | ast.Attribute)
                and (side.func.id if isinstance(side.func, ast.Name) else side.func.attr) == "F"
                for side in (node.left, node.right)
            ):
                yield node, _first_line(node)
        elif isinstance(node, ast.Dict):
            if any(isinstance(k, ast.Constant) and k.value == "$inc" for k in node.keys):
                yield node, _first_line(node)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _SQL_INCREMENT.search(node.value)
        ):
            yield node, _first_line(node)


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _caught(handler: ast.ExceptHandler) -> list[str]:
    if handler.type is None:
        return ["BaseException"]
    items = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [_last_name(i) for i in items]


def _touches_store(body: list[ast.stmt]) -> bool:
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                chain: ast.expr = node.func
                while isinstance(chain, ast.Attribute | ast.Call):
                    chain = chain.func if isinstance(chain, ast.Call) else chain.value
                    if isinstance(chain, ast.Attribute) and chain.attr in _STORE_NAMES:
                        return True
                if isinstance(chain, ast.Name) and chain.id in _STORE_NAMES:
                    return True
    return False


def _client_errors(body: list[ast.stmt]) -> Iterator[tuple[ast.AST, int]]:
    """Each 4xx the statements answer (``abort(400)``, ``return body, 400``,
    ``Response(status=400)``, ``raise HTTPException(status_code=400)``,
    ``HttpResponseBadRequest()``), but for those the consumer retries."""
    for statement in body:
        for node in ast.walk(statement):
            status: int | None = None
            if isinstance(node, ast.Call):
                name = _last_name(node.func)
                if name in _STATUS_NAMES:
                    status = _STATUS_NAMES[name]
                elif name in ("abort", "HTTPException", "make_response") and node.args:
                    values = _ints(node.args[-1] if name == "make_response" else node.args[0])
                    status = values[0] if values else None
                for keyword in node.keywords:
                    if keyword.arg in _STATUS_KEYWORDS:
                        values = _ints(keyword.value)
                        status = values[0] if values else status
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                values = _ints(node.value.elts[1]) if len(node.value.elts) > 1 else []
                status = values[0] if values else None
            if status is not None and 400 <= status < 500 and status not in RETRIED_4XX:
                yield node, status


def _transient_4xx(function: Function) -> Iterator[tuple[ast.AST, str]]:
    for node in _own_nodes(function):
        if not isinstance(node, ast.Try):
            continue
        for handler in node.handlers:
            caught = _caught(handler)
            transient = [c for c in caught if _TRANSIENT_ERRORS.match(c)]
            if not transient and not (set(caught) & _CATCH_ALL and _touches_store(node.body)):
                continue
            for answer, _ in _client_errors(handler.body):
                yield answer, f"except {', '.join(caught)}: {_first_line(answer)}"
                break


def _conflicts(function: Function) -> Iterator[tuple[ast.AST, str]]:
    """Each 409 the function answers: dead-lettered by the consumer unless its
    subscription counts 409 as done."""
    for node, status in _client_errors(function.body):
        if status == 409:
            yield node, _first_line(node)


def _with_callees(tree: ast.Module, handler: Function) -> list[Function]:
    """The handler and the module-level functions of its module it calls by name: what a
    handler does is often in a helper beside it."""
    functions = {f.name: f for f in _functions(tree) if f.col_offset == 0}
    seen = [handler]
    for node in _own_nodes(handler):
        if isinstance(node, ast.Call):
            called = functions.get(_called_name(node) or "")
            if called is not None and called not in seen:
                seen.append(called)
    return seen


def handler_hazards(source: str | bytes, name: str, line: int) -> tuple[Hazard, ...]:
    """The increments, the transient faults answered as 4xx and the 409 answers of the
    handler ``name`` defined at ``line`` (its ``def`` or a decorator), and of the functions
    of its module it calls by name; ``()`` when it cannot be found."""
    tree = _parse(source)
    if tree is None:
        return ()
    handler = _handler(tree, name, line)
    if handler is None:
        return ()
    seen = _with_callees(tree, handler)
    found: list[Hazard] = []
    for function in seen:
        for node, code in _increments(function):
            found.append(Hazard("increment", _span(node)[0], code, function.name))
        for node, code in _transient_4xx(function):
            found.append(Hazard("transient-4xx", _span(node)[0], code, function.name))
        for node, code in _conflicts(function):
            found.append(Hazard("conflict", _span(node)[0], code, function.name))
    return tuple(sorted(set(found), key=lambda h: (h.kind, h.line, h.code)))


#: Methods of a model that persist or reload it as a whole: every handler calls them, and
#: they say nothing of which state it changes.
_PERSISTENCE_METHODS = frozenset(
    {"save", "delete", "update", "create", "refresh_from_db", "full_clean", "clean", "commit"}
)


@dataclass(frozen=True, slots=True)
class StateWrite:
    """State a handler changes: a model method it calls that sets fields of its object
    (``order.update_status(...)``, whose body sets ``self.status``), or a field it sets on
    an object it then saves (``order.status = "paid"`` before ``order.save()``)."""

    #: What two handlers must share to write the same state: ``method:Order.update_status``,
    #: ``field:order.status``.
    key: str
    #: As the caution names it, after "both": ``call `Order.update_status`
    #: (orders/models.py:66), which sets `status```; ``set `order.status```.
    shown: str
    #: ``file:line`` of the write in the handler (or the function of its module it calls).
    at: str


def _self_fields(method: Function) -> list[str]:
    """The fields of ``self`` a method sets (``self.status = ...``), in order."""
    out: list[str] = []
    for node in _own_nodes(method):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and not target.attr.startswith("_")
                    and target.attr not in out
                ):
                    out.append(target.attr)
    return out


def _model_methods(
    tree: ast.Module, file: str, skip: ast.ClassDef | None, find: FindModule | None
) -> dict[str, tuple[str, str, Function, list[str]]]:
    """Method name -> ``(class, file, method, fields)`` of each method that sets fields of
    its object, of the classes the handler's module defines (but the handler's own) or
    imports from the repository (``from .models import Order``)."""
    classes: list[tuple[ast.ClassDef, str]] = [
        (n, file) for n in tree.body if isinstance(n, ast.ClassDef) and n is not skip
    ]
    if find is not None:
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom):
                continue
            wanted = {a.name for a in node.names if a.name[:1].isupper()}
            located = find(node.module or "", node.level) if wanted else None
            other = _parse(located[1]) if located is not None else None
            if located is None or other is None:
                continue
            classes.extend(
                (n, located[0])
                for n in other.body
                if isinstance(n, ast.ClassDef) and n.name in wanted
            )
    out: dict[str, tuple[str, str, Function, list[str]]] = {}
    for cls, where in classes:
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if method.name in _PERSISTENCE_METHODS or method.name.startswith("_"):
                continue
            fields = _self_fields(method)
            if fields:
                out.setdefault(method.name, (cls.name, where, method, fields))
    return out


#: Calls that load a stored object (``session.query(Order).get(id)``, ``db.get_or_404``).
_LOADS = frozenset(
    {"query", "get", "first", "one", "one_or_none", "scalar", "scalar_one", "get_or_404"}
    | {"first_or_404", "filter", "filter_by"}
)


def _saved(function: Function) -> set[str]:
    """The names of the objects a function saves: ``order.save()``, and when it commits a
    session, those it adds to it (``session.add(order)``) or loaded from it (``order =
    session.query(Order).get(order_id)``). A response or a local object it sets a field
    of is not stored state."""
    saved: set[str] = set()
    added: set[str] = set()
    loaded: set[str] = set()
    commits = False
    for node in _own_nodes(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "save" and isinstance(node.func.value, ast.Name):
                saved.add(node.func.value.id)
            elif node.func.attr == "commit":
                commits = True
            elif node.func.attr in ("add", "merge"):
                added.update(a.id for a in node.args if isinstance(a, ast.Name))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            chain = [
                n.func.attr
                for n in ast.walk(node.value)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            ]
            if set(chain) & _LOADS:
                loaded.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return saved | (added | loaded if commits else set())


def handler_writes(
    source: str | bytes,
    name: str,
    line: int,
    *,
    file: str,
    find_module: FindModule | None = None,
) -> tuple[StateWrite, ...]:
    """The state the handler ``name`` defined at ``line`` (and the functions of its module
    it calls by name) changes (:class:`StateWrite`), for ``entity-across-topics``: two
    topics whose handlers change the same state race when their events come out of
    order."""
    tree = _parse(source)
    if tree is None:
        return ()
    handler = _handler(tree, name, line)
    if handler is None:
        return ()
    own_class = next(
        (c for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and handler in c.body), None
    )
    seen = _with_callees(tree, handler)
    methods = _model_methods(tree, file, own_class, find_module)
    found: dict[str, StateWrite] = {}
    for function in seen:
        saved = _saved(function)
        for node in _own_nodes(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                method = methods.get(node.func.attr)
                if method is None:
                    continue
                cls, where, defined, fields = method
                shown = (
                    f"call `{cls}.{defined.name}` ({where}:{defined.lineno}), which sets "
                    + ", ".join(f"`{f}`" for f in fields)
                )
                key = f"method:{cls}.{defined.name}"
                found.setdefault(key, StateWrite(key, shown, f"{file}:{node.lineno}"))
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if not (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id not in ("self", "cls")
                        and target.value.id in saved
                    ):
                        continue
                    field = f"{target.value.id}.{target.attr}"
                    key = f"field:{field}"
                    found.setdefault(
                        key, StateWrite(key, f"set `{field}`", f"{file}:{node.lineno}")
                    )
    return tuple(found.values())


# --- Django transactions -----------------------------------------------------------------


def atomic_requests(settings: str | bytes) -> bool | None:
    """Whether a Django settings module turns ``ATOMIC_REQUESTS`` on for a database:
    ``True`` set literally, ``False`` when it is absent or ``False``, ``None`` when some
    value is computed (an environment lookup) and cannot be told."""
    tree = _parse(settings)
    if tree is None:
        return None
    unknown = False
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.Dict):
            values = [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "ATOMIC_REQUESTS"
            ]
        elif isinstance(node, ast.Assign):
            values = [
                node.value
                for t in node.targets
                if isinstance(t, ast.Subscript)
                and isinstance(t.slice, ast.Constant)
                and t.slice.value == "ATOMIC_REQUESTS"
            ]
        elif isinstance(node, ast.keyword) and node.arg == "ATOMIC_REQUESTS":
            values = [node.value]
        for value in values:
            if isinstance(value, ast.Constant):
                if value.value is True:
                    return True
            else:
                unknown = True
    return None if unknown else False


def non_atomic_request(source: str | bytes, line: int) -> bool:
    """Whether the view around ``line`` opts out of ``ATOMIC_REQUESTS``
    (``@transaction.non_atomic_requests``)."""
    tree = _parse(source)
    function = _function_at(tree, line) if tree is not None else None
    if function is None:
        return False
    return any(
        _last_name(d.func if isinstance(d, ast.Call) else d) == "non_atomic_requests"
        for d in function.decorator_list
    )


# --- what a migration says of them -------------------------------------------------------

#: Names a caller gives the id of the request or operation it repeats on a retry, first
#: found first: a send that waits passes the one in scope as its ``idempotency_key=``.
KEY_NAMES = (
    "idempotency_key",
    "request_id",
    "operation_id",
    "saga_id",
    "dedup_key",
    "dedupe_key",
    "deduplication_id",
)
#: The headers whose value the producer makes the event id from (the runtime's list).
KEY_HEADERS = frozenset({"idempotency-key", "x-idempotency-key", "x-request-id", "request-id"})


def compensation_caution(why: str, send: SendSpec, tests: Sequence[str] = ()) -> Finding:
    """The caution of a send on its caller's failure path (``why``: :func:`failure_path`).
    ``tests``: ``file:line`` of the repository's tests that read the callee's state right
    after calling the caller (:func:`~decouple_services.migrate.patched_calls.reading_tests`),
    which read the undo before the consumer has done it."""
    if send.outbox is not None:
        how = "the outbox writes it in the caller's transaction and relays it at least once"
    elif send.compensation:
        how = (
            "the send waits for Kafka's acknowledgement instead of firing and forgetting, "
            "and raises `EventNotAccepted` when Kafka does not take it, as the call raised "
            "when the callee was unreachable (`--outbox` makes it durable where Django or "
            "SQLAlchemy manage the caller's data)"
        )
    else:
        how = "the send waits for Kafka's acknowledgement"
    if send.idempotency_key is not None:
        keyed = (
            f"{how}; it passes `idempotency_key={send.idempotency_key}`, so a repeat "
            "with the same data is skipped; make its handler idempotent too"
        )
    else:
        keyed = (
            f"{how}; pass `idempotency_key=` naming the operation it undoes (the order id, "
            "the payment id) so that a repeat is skipped, and make its handler idempotent"
        )
    # The call undid the step before the caller answered; the event undoes it when its
    # consumer gets to it, after the consumer's lag: whatever reads the callee's state in
    # between (the next request, the client's own check) sees the step not yet undone.
    shown = ", ".join(tests[:3]) + (f" and {len(tests) - 3} more" if len(tests) > 3 else "")
    read_by = (
        f"; the repository's tests that call this caller and then read {send.callee}'s "
        f"state expect it at once ({shown})"
        if tests
        else ""
    )
    return Finding(
        "compensation",
        f"the call runs on its caller's failure path ({why}): a compensation must not be "
        f"lost or applied twice, and it is now done only once {send.callee}'s consumer "
        "handles the event, after the consumer's lag, not before the caller answers: what "
        f"reads {send.callee}'s state in between sees the step not yet undone{read_by}",
        f"{keyed}; where a reader needs the undo done (a test reading the state at once), "
        "have it wait until the state is undone, or keep the call synchronous",
    )


def idempotency(
    send: SendSpec, facts: CallFacts, source: bytes | None
) -> tuple[SendSpec, tuple[str, ...]]:
    """A send that waits with the idempotency key it can have, and what the reviewer is
    told: after ``EventOutcomeUnknown`` the event may still reach the topic, so a caller
    that retries sends a second one the consumer skips only by its key."""
    if not send.wait or send.outbox is not None or send.event:
        return send, ()
    headers = {_header(name) for name, _ in facts.headers}
    if headers & KEY_HEADERS:
        return send, ()
    names = bound_at(source, send.line) if source is not None else None
    found = next((n for n in KEY_NAMES if names and n in names), None)
    if found is not None:
        return replace(send, idempotency_key=found), (
            f"the send passes `idempotency_key={found}`: a retry of the same operation, "
            "after `EventOutcomeUnknown` too, gets the same event id and is skipped",
        )
    entity = key_entity(send)
    operation = send.topic.rsplit(".", 1)[-1]
    once = once_per_entity(send) if only_the_id(send, facts.payload) else None
    key = _key_source(send.key, operation) if entity is not None and once else None
    if key is not None and entity is not None and once is not None:
        return replace(send, idempotency_key=key), (
            f"the send passes `idempotency_key={key}` by default: {once}, so a retry after "
            f"`EventOutcomeUnknown`, or another send of it for the same {entity}, gets the "
            "same event id and the consumer skips it (the id is made from the topic, the key "
            "and the data: different data stays a different event)",
        )
    if entity is not None:
        return send, (
            f"no idempotency key: the event key `{send.key}` names the {entity}, not the "
            f"operation, and a second `{operation}` of one {entity} with the same data would "
            "be skipped as a copy; after `EventOutcomeUnknown` the event may still appear on "
            "the topic, so a caller that retries sends a second event the consumer handles "
            "again: pass `idempotency_key=` naming this operation (a request id the client "
            "repeats on its retries)",
        )
    return send, (
        "no idempotency key: after `EventOutcomeUnknown` the event may still appear on the "
        "topic, so a caller that retries sends a second event the consumer handles again; "
        "pass `idempotency_key=` naming the operation (an order id, a request id)",
    )


#: Words of a topic's operation (its last part: ``stock-release``, ``cancel-order``) that
#: name a step done once to one entity: a second one of the same entity, with the same
#: data, is the same step again. ``update``, ``remove``, ``deactivate``, ``refund`` are
#: not: an entity is updated, deactivated after a reactivation, refunded in parts, many
#: times.
ONCE_WORDS = frozenset({"release", "cancel", "void", "revoke", "delete", "destroy"})
_ORIGIN_FIELD = re.compile(
    r"^(?:path parameter |the payload's |the event's entity, )(?:\w+\.)?(\w+)"
)


def key_entity(send: SendSpec) -> str | None:
    """What the send's event key names, when it is an entity's id (``path parameter
    order_id`` -> ``order``, ``the payload's invite.id`` -> ``invite``, ``the payload's
    data.user_id`` -> ``user``, a domain event's ``the event's entity, user_id`` ->
    ``user``); ``None`` when it
    has no key or the key is not named as an id."""
    if send.key is None or send.key_origin is None:
        return None
    if _ORIGIN_FIELD.match(send.key_origin) is None:
        return None
    path = (
        send.key_origin.removeprefix("path parameter ")
        .removeprefix("the payload's ")
        .removeprefix("the event's entity, ")
    )
    parts = path.split()[0].split(".")
    if len(parts) > 1 and parts[-1] == "id":
        return parts[-2]  # the payload's invite.id, order.id of a nested dict
    field = parts[-1]
    if field.endswith("_id") and len(field) > 3:
        return field[:-3]  # order_id, also the payload's data.order_id
    return None


def only_the_id(send: SendSpec, payload: str | None) -> bool:
    """Whether the send's data is the entity id its key comes from and nothing else
    (``{"reservation_id": order.reservation_id}``, or no payload and that one path
    parameter): the operation is then all said by the entity, and a second one with the
    same data is the same one. Data with more (an amount, a quantity) may repeat by chance
    for a different operation (two orders giving back the same quantity of one item)."""
    match = _ORIGIN_FIELD.match(send.key_origin or "")
    if match is None or "." in (send.key_origin or "").removeprefix("the payload's "):
        return False
    fields = payload_fields(payload) if payload is not None else []
    if payload is not None and not fields:
        return False  # a value the code computes: what it holds cannot be told
    names = {name for name, _ in fields} | {name for name, _ in send.path_params}
    return names == {match.group(1)}


def once_per_entity(send: SendSpec) -> str | None:
    """Why two sends of this operation for one entity are the same operation, or ``None``:
    it repairs a failure (a compensation undoes one step of one entity), or its topic's
    operation is one of :data:`ONCE_WORDS`."""
    entity = key_entity(send) or "entity"
    operation = send.topic.rsplit(".", 1)[-1]
    if send.compensation:
        return f"it undoes one step of one {entity} (a compensation): done twice, it is done once"
    said = [w for w in _words(operation.replace("-", "_")) if w in ONCE_WORDS]
    if said:
        return f"a `{operation}` of one {entity} happens once (`{said[0]}`)"
    return None


def _key_source(key: str | None, operation: str) -> str | None:
    """``f"{key}:operation"`` as source, or ``None`` when the key cannot sit in an f-string
    of any Python version (a quote of both kinds, a brace, a backslash)."""
    if key is None or any(c in key for c in "{}\\\n!") or not re.fullmatch(r"[\w-]+", operation):
        return None
    for quote in ('"', "'"):
        if quote not in key:
            return f"f{quote}{{{key}}}:{operation}{quote}"
    return None


def _header(source: str) -> str:
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return ""
    return value.lower() if isinstance(value, str) else ""


#: ``Hazard.kind`` -> the caution's code, what it says of the handler and what to do.
_HANDLER_FINDINGS = {
    "increment": (
        "non-idempotent-handler",
        "changes stored state by an amount ({shown}): an event handled twice applies it twice",
        "make the handler idempotent (record the event id or idempotency key with its write, "
        "in one transaction, or write absolute values), or give the consumer an idempotency "
        "store in the service's own database",
    ),
    "transient-4xx": (
        "transient-as-4xx",
        "answers a 4xx when its database or cache fails ({shown}): the consumer dead-letters "
        "a 4xx at once, so a passing outage sends events to the dead-letter topic instead of "
        "retrying them",
        "answer 503 (or let the error raise) for a database or cache fault, so the consumer "
        "retries it; until then, redrive the dead-letter topic after an outage",
    ),
    "conflict": (
        "conflict-answer",
        "answers 409 Conflict ({shown}): the consumer dead-letters a 409, so an event whose "
        "work was done but not marked (a crash between the two, a store lost with its pod) "
        "goes to the dead-letter topic when it comes again",
        "where 409 means the work is done already (the resource exists), add "
        "`done_statuses=(409,)` to the consumer module's `Subscription` (or set "
        "`DECOUPLE_DONE_STATUSES=409` for the service) so such an event counts as handled; "
        "a 409 for a real conflict (a stale version, a refused change of state) should stay "
        "dead-lettered",
    ),
}


def callee_cautions(
    site: CallSite, endpoint: Endpoint | None, read: Callable[[str], bytes | None]
) -> tuple[Finding, ...]:
    """What the callee's handler does that an event handled twice, or during an outage,
    makes visible (:func:`handler_hazards`)."""
    if endpoint is None or endpoint.protocol != "http":
        return ()
    source = read(endpoint.file)
    if source is None:
        return ()
    name = endpoint.handler.rsplit(".", 1)[-1]
    found = handler_hazards(source, name, endpoint.line)
    out = []
    for kind, (code, what, suggestion) in _HANDLER_FINDINGS.items():
        hits = [h for h in found if h.kind == kind]
        if hits:
            shown = "; ".join(f"`{h.code}` ({endpoint.file}:{h.line})" for h in hits[:3])
            reason = f"{site.callee}'s handler `{name}` {what.format(shown=shown)}"
            out.append(Finding(code, reason, suggestion))
    return tuple(out)


# --- who asks, in the event ---------------------------------------------------------------

#: Names of a payload field that carries who makes the request, for the callee to check
#: what they may do. ``user`` and ``caller`` also name the entity a request is about, so
#: they count only with a value read from the request's authentication (:data:`_AUTH_VALUES`).
IDENTITY_FIELDS = frozenset(
    {
        "requesting_user",
        "requester",
        "request_user",
        "current_user",
        "acting_user",
        "auth_user",
        "actor",
        "principal",
        "auth",
        "auth_context",
        "auth_info",
        "security_context",
        "identity",
        "claims",
        "credentials",
    }
)
_AUTH_VALUES = re.compile(
    r"^(?:(?:self\.)?request\.user|g\.user|current_user|info\.context\.user|request\.auth"
    r"|\w*(?:auth|principal|claims)\w*)$"
)


def identity_field(name: str, value: ast.expr | None = None) -> bool:
    """Whether a payload field carries the caller's identity: one of
    :data:`IDENTITY_FIELDS`, or ``user``/``caller`` set from the request's authentication
    (``request.user``, ``current_user``, ``auth_user``)."""
    if name.lower() in IDENTITY_FIELDS:
        return True
    if name.lower() in ("user", "caller") and value is not None:
        return bool(_AUTH_VALUES.match(ast.unparse(value)))
    return False


def identity_caution(fields: list[tuple[str, ast.expr]], topic: str) -> Finding | None:
    """``identity-in-payload`` when the sent data names who asks (:func:`identity_field`):
    the callee checked a caller's identity it got over an authenticated connection; from a
    topic, it takes the identity any producer writes."""
    found = [(name, value) for name, value in fields if identity_field(name, value)]
    if not found:
        return None
    shown = ", ".join(f"`{n}`" for n, _ in found)
    # a whole user (``requesting_user=grpc_user``), not its id: its personal data (an
    # email, a name) is stored with the event
    whole = [(n, ast.unparse(v)) for n, v in found if not _an_id(v)]
    kept = ""
    trim = ""
    if whole:
        named = ", ".join(f"`{n}={v}`" for n, v in whole)
        kept = (
            f". {named} carries the user as a whole, so their personal data (an email, a "
            f"name) is stored in `{topic}` for its retention and in its dead-letter topic "
            "until someone deletes it (the topic script keeps dead letters for ever unless "
            "`KAFKA_DEAD_LETTER_RETENTION_MS` says otherwise): an account deleted later "
            "stays there"
        )
        trim = (
            "; send only the user's id (and what the handler checks, such as a role) "
            "instead of the whole user, or set `KAFKA_DEAD_LETTER_RETENTION_MS` when "
            "creating the topics (it applies to every dead-letter topic the script makes)"
        )
    return Finding(
        "identity-in-payload",
        f"the event's data carries who asks ({shown}), which the callee may check before it "
        f"acts: on `{topic}`, anyone allowed to produce to the topic can act as any user"
        f"{kept}. Where the callee refuses that user (permission denied, 403), the client "
        "no longer hears it: its request succeeds, and the event goes to the dead-letter "
        "topic at once",
        "check the user's permission in the caller before sending, as the callee does; "
        f"allow only the caller's service to write to `{topic}` (Kafka producer ACLs: "
        "`kafka-acls --add --allow-principal User:<caller> --producer --topic "
        f"{topic}`), or sign the identity and have the handler verify it{trim}",
    )


def _an_id(value: ast.expr) -> bool:
    """Whether a value is an id rather than a whole object: a literal, ``user.id``,
    ``user_id``, ``str(user.pk)``."""
    if isinstance(value, ast.Constant):
        return True
    if (
        isinstance(value, ast.Call)
        and len(value.args) == 1
        and not value.keywords
        and isinstance(value.func, ast.Name)
        and value.func.id in ("str", "int", "UUID")
    ):
        return _an_id(value.args[0])
    name = (
        value.attr
        if isinstance(value, ast.Attribute)
        else value.id
        if isinstance(value, ast.Name)
        else ""
    ).lower()
    return name in ("id", "pk", "uuid", "sub") or name.endswith(("_id", "_pk", "_uuid"))


#: What reads the end user's request: its cookies, headers or session (Django, Flask,
#: FastAPI/Starlette, aiohttp), ``flask.session``.
_FROM_USER = re.compile(
    r"\b(?:request|req|self\.request)\s*\.\s*(?:COOKIES|cookies|headers|META|session)\b"
    r"|\bsession\s*(?:\[|\.get\b)|\bget_cookie\b"
)


def user_credential_caution(
    headers: Sequence[tuple[str, str]], source: str | bytes | None, line: int
) -> Finding | None:
    """``user-credential`` when a header the send carries is a credential (``Authorization``,
    ``Cookie``) taken from the end user's request (``request.COOKIES.get("session")``, the
    incoming ``Authorization``, Flask's ``g.token``, a FastAPI handler's ``Header()`` or
    security-scheme parameter), directly or through a local bound to it above the call:
    the consumer calls the callee with it later, when it may have expired, and a forwarded
    credential's 401/403 is final, while the user was already answered with a success."""
    tree = _parse(source) if source is not None else None
    found: list[tuple[str, str]] = []
    for name_source, value_source in headers:
        try:
            name = ast.literal_eval(name_source)
        except (ValueError, SyntaxError):
            continue
        if not isinstance(name, str) or name.lower() not in CREDENTIAL_HEADERS:
            continue
        value = value_source
        if tree is not None and value_source.isidentifier():
            bound = reaching_value(tree, line, value_source)
            value = ast.unparse(bound) if bound is not None else value_source
        if _FROM_USER.search(value) or _from_flask_g(value, tree):
            found.append((name, value))
            continue
        parameter = _request_parameter(tree, line, value) if tree is not None else None
        if parameter is not None:
            found.append((name, f"{value}`, the handler's `{parameter}"))
    if not found:
        return None
    shown = ", ".join(f"`{n}` (`{v}`)" for n, v in found)
    return Finding(
        "user-credential",
        f"the send carries the end user's own credential, taken from their request: {shown}. "
        "The consumer calls the callee with it later, when it may have expired or the "
        "session ended; a forwarded credential's 401/403 is final, so that event is "
        "dead-lettered at once, while the user was already answered as if it succeeded "
        "(a failure branch of the call, one that sent them to log in again, no longer runs)",
        "have the callee trust the caller's service (a service credential through "
        "`DECOUPLE_REQUEST_HEADERS`) and send the user's id in the data, or keep the call "
        "where the user must see the refusal",
    )


#: Flask's request-bound ``g``: what a handler's ``before_request`` read from the request
#: (``g.token``, ``g.user_token``) is the user's, not the service's.
_FLASK_G = re.compile(r"(?<![\w.])(?:flask\s*\.\s*)?g\s*\.\s*[A-Za-z_]\w*")
#: FastAPI's parameter markers that read the user's request: a header, a cookie, or a
#: security dependency (``Security(oauth2_scheme)``).
_REQUEST_MARKERS = frozenset({"Header", "Cookie", "Security"})
#: FastAPI's security schemes: ``Depends(scheme)`` of one returns the token the user's
#: request carries.
_SECURITY_SCHEMES = re.compile(
    r"(?:^|\.)(?:OAuth2\w*|HTTP(?:Bearer|Basic|Digest)|APIKey(?:Header|Cookie|Query)"
    r"|OpenIdConnect)$"
)
#: FastAPI's types of the credential the user's request carries (``.credentials``,
#: ``.password``).
_CREDENTIAL_TYPES = re.compile(r"(?:^|\.)HTTP(?:Authorization|Basic)Credentials$")


def _from_flask_g(value: str, tree: ast.Module | None) -> bool:
    """Whether ``value`` reads Flask's ``g`` (``g.token``): set per request, from it. A
    module that names some other ``g`` (not imported from ``flask``) does not count."""
    if not _FLASK_G.search(value):
        return False
    if tree is None or re.search(r"(?<![\w.])flask\s*\.\s*g\s*\.", value):
        return True
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "flask"
        and any(alias.name == "g" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )


def _request_parameter(tree: ast.Module, line: int, value: str) -> str | None:
    """The FastAPI marker (``Header()``, ``Security(...)``, ``Depends(oauth2_scheme)``,
    ``HTTPAuthorizationCredentials``) of a parameter of the handler holding ``line`` that
    ``value`` reads (``authorization``, ``"Bearer " + token``, ``creds.credentials``):
    such a parameter is read from the user's request. A parameter the handler binds again
    is not followed. ``None`` when ``value`` reads none."""
    function = _function_at(tree, line)
    if function is None:
        return None
    try:
        expression = ast.parse(value, mode="eval").body
    except SyntaxError:
        return None
    read = {node.id for node in ast.walk(expression) if isinstance(node, ast.Name)}
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    declared = [
        *zip(positional, [*defaults, *args.defaults], strict=True),
        *zip(args.kwonlyargs, args.kw_defaults, strict=True),
    ]
    rebound = {
        node.id
        for node in _own_nodes(function)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    for parameter, default in declared:
        if parameter.arg not in read or parameter.arg in rebound:
            continue
        marker = _request_marker(tree, parameter.annotation, default)
        if marker is not None:
            return marker
    return None


def _request_marker(
    tree: ast.Module, annotation: ast.expr | None, default: ast.expr | None
) -> str | None:
    """What declares a parameter read from the user's request: its default or its
    ``Annotated[...]`` metadata (``Header()``, ``Security(...)``, ``Depends`` of a security
    scheme), or its type (``HTTPAuthorizationCredentials``)."""
    kind = annotation
    markers = [default] if default is not None else []
    if (
        isinstance(annotation, ast.Subscript)
        and _dotted_name(annotation.value).endswith("Annotated")
        and isinstance(annotation.slice, ast.Tuple)
        and annotation.slice.elts
    ):
        kind = annotation.slice.elts[0]
        markers.extend(annotation.slice.elts[1:])
    for marker in markers:
        if not isinstance(marker, ast.Call):
            continue
        called = _dotted_name(marker.func).rpartition(".")[2]
        if called in _REQUEST_MARKERS:
            return f"{called}()"
        if called == "Depends" and marker.args and _security_scheme(tree, marker.args[0]):
            return ast.unparse(marker)
    if kind is not None and _CREDENTIAL_TYPES.search(_dotted_name(kind)):
        return _dotted_name(kind)
    return None


def _security_scheme(tree: ast.Module, dependency: ast.expr) -> bool:
    """Whether ``dependency`` names a module-level FastAPI security scheme
    (``oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")``)."""
    if not isinstance(dependency, ast.Name):
        return False
    return any(
        isinstance(value, ast.Call) and _SECURITY_SCHEMES.search(_dotted_name(value.func))
        for value in top_level_values(tree, dependency.id)
    )


def _dotted_name(node: ast.expr) -> str:
    """``fastapi.Header`` for that attribute chain; ``""`` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


# --- effects before the send --------------------------------------------------------------

#: Words of a called name that say it moves money: done, it is not undone by an exception.
_PAYMENT_WORDS = frozenset(
    {"charge", "pay", "payment", "payments", "refund", "capture", "payout", "transfer"}
    | {"debit", "credit", "withdraw", "withdrawal", "invoice", "bill", "purchase"}
)
#: First words of a store method that writes (``db.insert_order``, ``db.set_status``).
_WRITE_WORDS = frozenset(
    {"insert", "update", "set", "delete", "create", "save", "upsert", "write", "record"}
    | {"mark", "bulk", "replace"}
)
#: ORM calls that write at once under autocommit (``Order.objects.create``, ``obj.save()``).
_ORM_WRITES = frozenset(
    {"save", "commit", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
)
_HTTP_WRITES = frozenset({"post", "put", "patch", "delete"})
_SQL_WRITE = re.compile(r"^\s*(?:insert|update|delete)\b", re.IGNORECASE)


#: Calls that run the function they are given (``run_in_threadpool(refund, ...)``).
_RUNNERS = frozenset({"run_in_threadpool", "to_thread", "run_in_executor", "run_sync"})
#: Last words of a class a request builds its message or data from, not an action.
_DATA_WORDS = frozenset({"request", "response", "message", "params", "input", "data", "dto"})


#: First words of a called name that only read.
_READ_WORDS = frozenset(
    {"get", "list", "find", "fetch", "read", "check", "retrieve", "search", "lookup", "load"}
)


def _called_words(call: ast.Call) -> list[str]:
    """The words of the called name and of the attributes it is reached through
    (``stripe.Charge.create`` -> ``stripe charge create``); none for a class of data
    (``ChargeRequest``) or a name that only reads (``payments.get_status``)."""
    func: ast.expr = call.func
    if _last_name(func) in _RUNNERS:
        runs = [a for a in call.args if isinstance(a, ast.Name | ast.Attribute)]
        if not runs:
            return []
        func = runs[0]
    name = _last_name(func)
    words = _words(name)
    if not words or words[0] in _READ_WORDS:
        return []
    if name[:1].isupper() and words[-1] in _DATA_WORDS:
        return []
    chain: list[str] = []
    while isinstance(func, ast.Attribute):
        chain = [*_words(func.attr), *chain]
        func = func.value
    if isinstance(func, ast.Name):
        chain = [*_words(func.id), *chain]
    return chain


def _store_call(call: ast.Call) -> bool:
    """A method called on a database object (``db.x``, ``session.x``, ``Model.objects.x``)."""
    chain: ast.expr = call.func
    while isinstance(chain, ast.Attribute | ast.Call):
        chain = chain.func if isinstance(chain, ast.Call) else chain.value
        if isinstance(chain, ast.Attribute) and chain.attr in _STORE_NAMES:
            return True
    return isinstance(chain, ast.Name) and chain.id in _STORE_NAMES


def _effect(call: ast.Call, outbound: set[int]) -> str | None:
    """What a call done before the send changed for good, in a few words, or ``None``."""
    words = _words(_last_name(call.func))
    name = _last_name(call.func)
    store = _store_call(call)
    if isinstance(call.func, ast.Attribute) and (
        name in _ORM_WRITES or (name in ("create", "update", "delete") and _objects(call))
    ):
        return "a database write"
    if not store and set(_called_words(call)) & _PAYMENT_WORDS:
        return "a payment call"
    if call.lineno in outbound:
        return "an outbound call"
    if isinstance(call.func, ast.Attribute) and store:
        if words and words[0] in _WRITE_WORDS:
            return "a database write"
        if name in ("execute", "executemany") and call.args:
            first = call.args[0]
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _SQL_WRITE.match(first.value)
            ):
                return "a database write"
    return None


def _objects(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "objects"
    )


@dataclass(frozen=True, slots=True)
class Effect:
    """Something done for good before a send: ``what`` (``a database write``) at ``line``,
    ``code`` its first line."""

    line: int
    what: str
    code: str
    #: The file it is in, when not the send's (a helper of another module).
    file: str | None = None
    #: The function of the repository the send's function called, and the line of that
    #: call, when the effect is in that function's body.
    helper: str | None = None
    called_at: int | None = None
    #: A send, migrated in the same change or before it: what it is (``the send of cs-…
    #: to `topic`, migrated in this change``).
    send: str | None = None


#: ``(module, level)`` of an import (``from .store import x``: ``store``, 1) -> the path and
#: bytes of the module's file in the repository, or ``None``.
FindModule = Callable[[str, int], tuple[str, bytes] | None]
#: ``(file, line)`` of a call site that changes something in the service it calls -> ``""``
#: when it stays a call, else what its send is: a call migrated in the same change, or a
#: send an earlier migration wrote.
Calls = Mapping[tuple[str, int], str]

_NO_CALLS: dict[tuple[str, int], str] = {}


def effects_before(
    source: str | bytes,
    line: int,
    outbound: Sequence[int] = (),
    *,
    file: str = "",
    calls: Calls = _NO_CALLS,
    find_module: FindModule | None = None,
) -> list[Effect]:
    """The effects its function made for good before the call at ``line``, that an
    exception raised at the call does not undo: a payment call, a database write that
    commits by itself (an ORM ``save``/``create``, a ``commit``, a write method of a store
    object), or another outbound call (``outbound``: the lines of the function's other
    call sites that change something; ``calls``: those of the repository, by ``(file,
    line)``, with the send of each one migrated in the same change). In order; a call in a
    branch that cannot have run before the send (the other arm of an ``if``, a handler of
    a ``try`` the send's body is in) is left out, and so is a call the caller's failure
    path repeats (on a failure path the step failed).

    A function of the repository called before the send (``save_user(user)``, defined in
    the module, a method reached through ``self``, or imported from a module
    ``find_module`` finds) is looked into, one level down: its effects are the caller's,
    whichever branch of it they are in."""
    tree = _parse(source)
    if tree is None:
        return []
    function = _function_at(tree, line)
    if function is None:
        return []
    enclosing_ifs = [
        n for n in enclosing(function, line) if isinstance(n, ast.If | ast.Try | ast.TryStar)
    ]
    failed = _failed_names(function, line)
    mine = {**{(file, n): "" for n in outbound}, **calls} if outbound else calls
    lines: dict[str, set[int]] = {}
    for where, number in mine:
        lines.setdefault(where, set()).add(number)
    found: list[Effect] = []
    calls_in = [n for n in _own_nodes(function) if isinstance(n, ast.Call)]
    assigned = _assigned_calls(function)
    helpers = _Helpers(tree, function, file, find_module)
    for call in sorted(calls_in, key=lambda c: (c.lineno, c.col_offset)):
        if call.lineno >= line or _elsewhere(call, line, enclosing_ifs):
            continue
        if assigned.get(id(call), "") in failed:
            continue  # the step whose failure the send's branch handles
        if any(f.line == call.lineno and f.helper is None for f in found):
            continue
        own = _effect_of(call, file, mine, lines)
        if own is not None:
            found.append(own)
            continue
        helper = helpers.of(call)
        if helper is None:
            continue
        name, where, body = helper
        seen: set[int] = set()
        for inner in sorted(
            (n for n in _own_nodes(body) if isinstance(n, ast.Call)),
            key=lambda c: (c.lineno, c.col_offset),
        ):
            effect = _effect_of(inner, where, mine, lines)
            if effect is not None and inner.lineno not in seen:
                seen.add(inner.lineno)
                found.append(
                    replace(
                        effect,
                        file=where if where != file else None,
                        helper=name,
                        called_at=call.lineno,
                    )
                )
    return found


def _effect_of(
    call: ast.Call, file: str, calls: Calls, lines: Mapping[str, set[int]]
) -> Effect | None:
    send = calls.get((file, call.lineno))
    if send:
        return Effect(call.lineno, "a send", _first_line(call), send=send)
    what = _effect(call, lines.get(file, set()))
    return Effect(call.lineno, what, _first_line(call)) if what is not None else None


class _Helpers:
    """The functions of the repository a function calls by name: defined in its module
    (``save_user(...)``), methods of its class (``self.save(...)``), or imported from a
    module of the repository (``from .store import save_user``, ``store.save_user(...)``
    after ``from . import store``)."""

    def __init__(
        self, tree: ast.Module, function: Function, file: str, find: FindModule | None
    ) -> None:
        self.function = function
        self.file = file
        self.find = find
        self.defined = {
            n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.imported: dict[str, tuple[str, int, str | None]] = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    # ``from pkg import mod`` or ``from mod import f``: which, the file says
                    self.imported[alias.asname or alias.name] = (
                        node.module or "",
                        node.level,
                        alias.name,
                    )
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname is not None:
                        self.imported[alias.asname] = (alias.name, 0, None)
        self.methods: dict[str, Function] = {}
        for cls in ast.walk(tree):
            if isinstance(cls, ast.ClassDef) and function in cls.body:
                self.methods = {
                    n.name: n
                    for n in cls.body
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                }

    def of(self, call: ast.Call) -> tuple[str, str, Function] | None:
        """``(name, file, function)`` of the function of the repository ``call`` runs."""
        func = call.func
        found: tuple[str, str, Function] | None = None
        if isinstance(func, ast.Name):
            if func.id in self.defined:
                found = (func.id, self.file, self.defined[func.id])
            elif func.id in self.imported:
                module, level, name = self.imported[func.id]
                found = self._imported(module, level, name)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner in ("self", "cls") and func.attr in self.methods:
                found = (func.attr, self.file, self.methods[func.attr])
            elif owner in self.imported:
                module, level, name = self.imported[owner]
                inner = f"{module}.{name}" if module and name else module or name or ""
                found = self._imported(inner, level, func.attr)
        if found is None or found[2] is self.function:
            return None
        return found

    def _imported(
        self, module: str, level: int, name: str | None
    ) -> tuple[str, str, Function] | None:
        if self.find is None or name is None:
            return None
        located = self.find(module, level)
        tree = _parse(located[1]) if located is not None else None
        if located is None or tree is None:
            return None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return name, located[0], node
        return None


def _failed_names(function: Function, line: int) -> set[str]:
    """The names read by the tests of the ``if``\\s whose failure branch holds ``line``
    (``charge`` of ``if charge.status != SUCCEEDED:``)."""
    names: set[str] = set()
    for node in enclosing(function, line):
        if isinstance(node, ast.If):
            kind = _status_test(node.test)
            branch = node.body if kind == "failure" else node.orelse
            if kind is not None and _inside(line, branch):
                names |= {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
    return names


def _assigned_calls(function: Function) -> dict[int, str]:
    """``id(call)`` -> the name its result is assigned to (``charge = await x.Charge(...)``)."""
    out: dict[int, str] = {}
    for node in _own_nodes(function):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            if isinstance(value, ast.Call) and len(targets) == 1:
                target = targets[0]
                if isinstance(target, ast.Name):
                    out[id(value)] = target.id
    return out


def _elsewhere(call: ast.Call, line: int, around: Sequence[ast.AST]) -> bool:
    """Whether ``call`` sits in a branch the code reaching ``line`` did not take."""
    for node in around:
        arms: tuple[list[ast.stmt], ...]
        if isinstance(node, ast.If):
            arms = (node.body, node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            arms = (node.body, *(h.body for h in node.handlers))
        else:
            continue
        for arm in arms:
            if arm and _inside(call.lineno, arm) and not _inside(line, arm):
                return True
    return False


#: Statements that fail by design or leave the block: the code after them may not run.
_LEAVING: dict[type[ast.stmt], str] = {
    ast.Raise: "a raise",
    ast.Assert: "an assert",
    ast.Return: "a return",
    ast.Break: "a break",
    ast.Continue: "a continue",
    ast.Delete: "a del",
}


def fallible_between(
    source: str | bytes,
    first: int,
    last: int,
    skip: Collection[int] = (),
    reads: Collection[str] = (),
) -> list[Effect]:
    """The statements of the function holding line ``first`` that start after ``first``
    and before ``last`` (none starting on a line of ``skip``) and can fail or change
    something: a call (``what`` says what it changes when :func:`effects_before` knows:
    a payment call, a database write), an await, a yield, a raise or an assert, or a
    return, break or continue (the code after it may not run); or that bind one of
    ``reads`` (a name the send moved ahead of them would read before it is set). One per
    statement, in order; a compound statement (``if``, ``for``, ``with``) is judged by its
    header, its body by its own statements.

    What is left out only binds other names and reads names, attributes and constants
    (compared, or in literals): a send moved ahead of it tells nothing the caller had not
    already decided. An item read, arithmetic or a write to an attribute or an item counts
    (:func:`_fallible_expression`). Moved ahead
    of anything else, the send would tell a fact before the work that makes it true."""
    tree = _parse(source)
    function = _function_at(tree, first) if tree is not None else None
    if function is None:
        return []
    found = []
    for node in sorted(
        (n for n in _own_nodes(function) if isinstance(n, ast.stmt)),
        key=lambda n: (n.lineno, n.col_offset),
    ):
        if not first < node.lineno < last or node.lineno in skip:
            continue
        what = _hazard_of(node) or _binds(node, reads)
        if what is not None:
            found.append(Effect(node.lineno, what, _first_line(node)))
    return found


def _binds(statement: ast.stmt, reads: Collection[str]) -> str | None:
    """``binds `x``` when the statement (its header, for a compound one) sets one of
    ``reads``."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        bound = {(a.asname or a.name).split(".")[0] for a in statement.names}
    else:
        own = _own_parts(statement)
        bound = {
            n.id
            for part in own
            for n in ast.walk(part)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
        }
    hit = sorted(bound & set(reads))
    return f"binds `{hit[0]}`, which the send would read before it is set" if hit else None


def _own_parts(statement: ast.stmt) -> list[ast.AST]:
    """What a statement itself runs: a compound statement's header, not its body."""
    if isinstance(statement, ast.If | ast.While):
        return [statement.test]
    if isinstance(statement, ast.For | ast.AsyncFor):
        return [statement.target, statement.iter]
    if isinstance(statement, ast.With | ast.AsyncWith):
        return list(statement.items)
    if isinstance(statement, ast.Match):
        return [statement.subject]
    if isinstance(statement, ast.Try | ast.TryStar):
        return []
    return [statement]


def _hazard_of(statement: ast.stmt) -> str | None:
    """What makes one statement fail or act, by its own expressions (not its body's)."""
    for kind, what in _LEAVING.items():
        if isinstance(statement, kind):
            return what
    if isinstance(statement, ast.AsyncFor | ast.AsyncWith):
        return "an await"
    own = _own_parts(statement)
    calls: list[ast.Call] = []
    other: str | None = None
    stack = own
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            continue  # its body runs when it is called, not here
        if isinstance(node, ast.Call):
            calls.append(node)
        elif isinstance(node, ast.Await) and other is None:
            other = "an await"
        elif isinstance(node, ast.Yield | ast.YieldFrom):
            other = "a yield"
        elif other is None:
            other = _fallible_expression(node)
        stack.extend(ast.iter_child_nodes(node))
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        acts = _effect(call, set())
        if acts is not None:
            return acts
    if calls:
        return "a call"
    return other


def _fallible_expression(node: ast.AST) -> str | None:
    """What, besides a call, makes an expression fail or change something: an item read
    (``m[k]``: a missing key raises), arithmetic (``a // b``, ``total + 1`` on a ``None``),
    or a write to an attribute or an item, which changes an object the caller may share.
    Reading names, attributes and constants, comparing them and building literals is left
    out: those are what code between two calls decides a fact with."""
    if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
        node.ctx, ast.Store | ast.Del
    ):
        return "a write to an attribute or an item"
    if isinstance(node, ast.Subscript):
        return "an item read, which can raise"
    if isinstance(node, ast.BinOp):
        return "arithmetic, which can raise"
    return None


def effect_caution(effects: Sequence[Effect], file: str, send: SendSpec) -> Finding | None:
    """``effect-before-send`` for a send that waits, and so raises when Kafka does not
    take its event, after its caller did something an exception does not undo.

    A call migrated in the same change (or a send migrated before) is such a thing still,
    in another way: its event, queued or accepted, goes out whatever this send does, so the
    client's retry sends it again. It is named as the send it is, with what fixes that."""
    if not effects or not send.wait or send.outbox is not None:
        return None
    done = [e for e in effects if e.send is None]
    sent = [e for e in effects if e.send is not None]
    parts = []
    if done:
        shown = "; ".join(_effect_text(e, file) for e in done[-2:])
        parts.append(
            f"the send comes after {shown}: when Kafka does not take the event the send "
            "raises after that effect happened, so the client gets an error for work that "
            "was done, and its retry does it again"
        )
    if sent:
        shown = "; ".join(
            f"{e.send} ({e.file or file}:{e.line}"
            + (f", in `{e.helper}` called at line {e.called_at}" if e.helper else "")
            + ")"
            for e in sent[-2:]
        )
        lead = "it also comes" if done else "the send comes"
        that = "that event goes" if len(sent[-2:]) == 1 else "those events go"
        parts.append(
            f"{lead} after {shown}: {that} out (queued, or accepted by Kafka) whatever this "
            "send does, so when this send raises, the "
            "client hears of a failure while the other service still gets its event, and "
            "the client's retry sends that event again"
        )
    fixes = []
    if done:
        fixes.append(
            "with Django or SQLAlchemy managing the caller's data, `--outbox` writes the "
            "event in the same transaction as the write; otherwise have the client send an "
            "idempotency key the earlier effect is done under (a payment provider's "
            "idempotency key, a unique request id), or catch the send's failure and answer "
            "what was done"
        )
    if sent:
        fixes.append(
            "give the earlier send an `idempotency_key=` the client's retry repeats (its "
            "request id), so its consumer skips the copy; where both calls tell one fact, "
            "make them one domain event (`--event`), one send that Kafka takes or refuses "
            "whole, once nothing between them can fail or change something"
        )
    return Finding("effect-before-send", "; ".join(parts), "; ".join(fixes))


def _effect_text(effect: Effect, file: str) -> str:
    where = f"{effect.file or file}:{effect.line}"
    if effect.helper is None:
        return f"{effect.what} `{effect.code}` ({where})"
    return f"{effect.what} `{effect.code}` ({where}) in `{effect.helper}`, called at line {effect.called_at}"
