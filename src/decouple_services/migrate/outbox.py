"""``migrate --outbox``: which database transaction a call site's event joins.

A site migrated with ``--outbox`` writes its event into an outbox table of the caller's own
database, in the caller's transaction, and a relay sends the rows to Kafka later: the event
exists exactly when the caller's data does, and a broker that is down only delays it.

* **Django**: ``send_via_outbox(topic, data)`` writes through Django's connection, so it
  joins the transaction the view is in (``transaction.atomic()``, ``ATOMIC_REQUESTS``); the
  table comes from a small generated app (:func:`add_installed_app` lists it in the
  settings). An ``async def`` is refused: Django's connection is synchronous.
* **SQLAlchemy**: ``send_via_outbox(session, topic, data)`` executes the insert on the
  session the function uses (:func:`find_session`); a function with none, or several, is
  refused, and so is one that commits the session before the call and never after it (the
  row would be written after the data committed, in a transaction nothing commits).
* Anything else is refused: there is no transaction to write the event in.

Everything here reads source text; nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = [
    "DJANGO",
    "NO_OUTBOX",
    "SQLALCHEMY",
    "OutboxWrite",
    "add_installed_app",
    "find_session",
    "outbox_write",
    "uses_django",
    "uses_sqlalchemy",
]

DJANGO = "django"
SQLALCHEMY = "sqlalchemy"
#: The refusal code of a site ``--outbox`` cannot write in a transaction.
NO_OUTBOX = "no-outbox"

#: Methods of a SQLAlchemy ``Session`` that no HTTP client session has (``requests`` and
#: ``aiohttp`` sessions have ``get`` and ``delete`` too, so those do not count).
_SESSION_METHODS = frozenset(
    {
        "add",
        "add_all",
        "begin",
        "begin_nested",
        "commit",
        "execute",
        "flush",
        "merge",
        "query",
        "refresh",
        "rollback",
        "scalar",
        "scalars",
    }
)
_SQLALCHEMY_MODULES = ("sqlalchemy", "flask_sqlalchemy", "sqlmodel")
_HTTP_SESSIONS = frozenset({"ClientSession", "AsyncClient", "Client"})

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class OutboxWrite:
    """How one site writes its event into the outbox."""

    #: :data:`DJANGO` or :data:`SQLALCHEMY`.
    kind: str
    #: The session expression the insert runs on (SQLAlchemy), as written (``db.session``).
    session: str | None = None
    #: What a reviewer should know (who commits the row).
    notes: tuple[str, ...] = ()


def uses_django(source: bytes) -> bool:
    """Whether a module imports Django."""
    return re.search(rb"^\s*(?:from|import)\s+django\b", source, re.MULTILINE) is not None


def uses_sqlalchemy(source: bytes) -> bool:
    """Whether a module imports SQLAlchemy (or Flask-SQLAlchemy, SQLModel)."""
    try:
        return _imports_sqlalchemy(ast.parse(source))
    except (SyntaxError, ValueError):
        return False


def _imports_sqlalchemy(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n.split(".")[0] in _SQLALCHEMY_MODULES for n in names):
            return True
    return False


def _function_at(tree: ast.Module, line: int) -> Function | None:
    found: Function | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and (found is None or node.lineno > found.lineno):
                found = node
    return found


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # Optional[Session], Annotated[Session, ...]
        return _last_name(node.slice) if not isinstance(node.slice, ast.Tuple) else None
    if isinstance(node, ast.BinOp):  # Session | None
        return _last_name(node.left)
    return None


def _is_session_type(annotation: ast.expr | None) -> bool:
    name = _last_name(annotation) if annotation is not None else None
    if name is None:
        return False
    return (name.endswith("Session") and name not in _HTTP_SESSIONS) or name == "scoped_session"


def _own_nodes(function: Function) -> list[ast.AST]:
    """The nodes of ``function``, not of functions or classes nested in it."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _session_uses(function: Function) -> dict[str, list[tuple[int, str]]]:
    """``expression source -> [(line, method)]`` for each receiver of a session method."""
    uses: dict[str, list[tuple[int, str]]] = {}
    for node in _own_nodes(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _SESSION_METHODS:
            continue
        receiver = node.func.value
        if isinstance(receiver, ast.Name) or (
            isinstance(receiver, ast.Attribute) and receiver.attr == "session"
        ):
            uses.setdefault(ast.unparse(receiver), []).append((node.lineno, node.func.attr))
    return uses


def _bound_before(function: Function, name: str, line: int) -> bool:
    """Whether ``name`` is a parameter of ``function`` or bound in it before ``line`` (an
    assignment, or a ``with ... as name`` whose body holds ``line``)."""
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    if any(a.arg == name for a in every):
        return True
    for node in _own_nodes(function):
        if isinstance(node, ast.With | ast.AsyncWith):
            inside = node.body[0].lineno <= line <= (node.end_lineno or node.lineno)
            for item in node.items:
                target = item.optional_vars
                if inside and isinstance(target, ast.Name) and target.id == name:
                    return True
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.lineno < line:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def _in_scope(function: Function, expression: str, line: int, module: ast.Module) -> bool:
    root = expression.split(".")[0]
    if root == "self" or _bound_before(function, root, line):
        return True
    # A module-level session (``db = SQLAlchemy(app)``, ``session = scoped_session(...)``)
    # or one imported from the service's own modules.
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == root for t in node.targets
        ):
            return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            (a.asname or a.name.split(".")[0]) == root for a in node.names
        ):
            return True
    return False


def find_session(source: bytes, line: int) -> tuple[str, tuple[int, ...]] | str:
    """The SQLAlchemy session the function around ``line`` uses, and the lines where it
    commits it; or why none can be named.

    A session is a parameter annotated as one (``db: Session``, ``AsyncSession``), or an
    expression the function calls session methods on (``add``, ``commit``, ``execute``,
    ``query``...: ``session``, ``db.session``, ``self.session``) that is in scope at the
    call."""
    tree = ast.parse(source)
    function = _function_at(tree, line)
    if function is None:
        return "the call is not inside a function, so no session of the caller can be named"
    uses = _session_uses(function)
    candidates: dict[str, None] = {}
    arguments = function.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if _is_session_type(argument.annotation):
            candidates[argument.arg] = None
    for expression in uses:
        if _in_scope(function, expression, line, tree):
            candidates[expression] = None
    if not candidates:
        return (
            f"`{function.name}` uses no SQLAlchemy session this rewrite can name (a parameter "
            "annotated `Session`, or a session it calls `add`/`commit`/`execute` on), so the "
            "outbox row cannot join its transaction"
        )
    if len(candidates) > 1:
        names = ", ".join(f"`{c}`" for c in candidates)
        return f"`{function.name}` uses several sessions ({names}): which transaction the event joins is not clear"
    (session,) = candidates
    commits = tuple(n for n, method in uses.get(session, []) if method == "commit")
    return session, commits


def outbox_write(source: bytes, line: int, *, django: bool) -> OutboxWrite | str:
    """How the site at ``line`` writes its event into the outbox, or why it cannot.

    ``django``: the caller is a Django service (its endpoints, its ``manage.py``, or the
    module's own imports say so)."""
    tree = ast.parse(source)
    function = _function_at(tree, line)
    if django or uses_django(source):
        if isinstance(function, ast.AsyncFunctionDef):
            return (
                f"`{function.name}` is `async def` in a Django service: Django's database "
                "connection is synchronous there, so the outbox row cannot join the view's "
                "transaction"
            )
        return OutboxWrite(DJANGO)
    found = find_session(source, line)
    if isinstance(found, str):
        if not _imports_sqlalchemy(tree) and "SQLAlchemy session" in found:
            return (
                "the caller is neither a Django nor a SQLAlchemy service: there is no "
                "database transaction to write the event in"
            )
        return found
    session, commits = found
    assert function is not None
    before = [n for n in commits if n < line]
    after = [n for n in commits if n > line]
    if before and not after:
        return (
            f"`{function.name}` commits `{session}` (line {before[-1]}) before this call and "
            "not after it: the outbox row would be written after the data committed, in a "
            "transaction nothing commits"
        )
    notes: tuple[str, ...] = ()
    if not after:
        notes = (
            f"the outbox row is written on `{session}` and commits when the code that owns "
            "the session commits it (this function does not)",
        )
    return OutboxWrite(SQLALCHEMY, session, notes)


def add_installed_app(source: bytes, app: str) -> bytes | str:
    """The settings module with ``app`` added to its ``INSTALLED_APPS`` literal (unchanged
    when some string in it already names ``app``), or why it cannot be added."""
    text = source.decode("utf-8")
    tree = ast.parse(text)
    if any(isinstance(n, ast.Constant) and n.value == app for n in ast.walk(tree)):
        return source
    found: ast.List | ast.Tuple | None = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "INSTALLED_APPS" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            found = node.value
    if found is None or found.end_lineno is None or found.end_col_offset is None:
        return "the settings define no `INSTALLED_APPS` list or tuple this rewrite can extend"
    lines = text.splitlines(keepends=True)
    quote = '"' if "'" not in app else "'"
    entry = f"{quote}{app}{quote}"
    close_line, close_col = found.end_lineno - 1, found.end_col_offset - 1
    if not found.elts:
        inner = entry + ("," if isinstance(found, ast.Tuple) else "")
        lines[close_line] = lines[close_line][:close_col] + inner + lines[close_line][close_col:]
        return "".join(lines).encode("utf-8")
    last = found.elts[-1]
    assert last.end_lineno is not None and last.end_col_offset is not None
    if last.end_lineno - 1 == close_line:  # the bracket closes on the last element's line
        head = lines[close_line][:close_col].rstrip()
        separator = " " if head.endswith(",") else ", "
        lines[close_line] = head + separator + entry + lines[close_line][close_col:]
        return "".join(lines).encode("utf-8")
    tail_line = lines[last.end_lineno - 1]
    after_last = tail_line[last.end_col_offset :]
    if not after_last.lstrip().startswith(","):
        lines[last.end_lineno - 1] = tail_line[: last.end_col_offset] + "," + after_last
    element_line = lines[last.lineno - 1]
    indent = element_line[: len(element_line) - len(element_line.lstrip())]
    lines.insert(last.end_lineno, f"{indent}{entry},\n")
    return "".join(lines).encode("utf-8")
