"""A gRPC servicer's factory made from the server's own bootstrap.

A servicer whose ``__init__`` takes its repositories and clients is built where the server
starts: ``add_InviteServiceServicer_to_server(InviteServiceImpl(repo=Repo()), server)``
inside ``serve()``. When no ``--servicer-factory`` is named, the consumer's factory is
generated from that function: the steps its construction depends on (those that bind a
name it, a mirrored step or the teardown reads, call a method on such a name, or load the
environment it reads), then the servicer's construction, with every name they read
imported as the bootstrap's module imports it. Every other step (the server's own, and
the server process's: a metrics port, migrations, a scheduler, a registration in service
discovery, which every consumer replica would repeat) is named, not run; one the
construction depends on after the server starts refuses the site. Where the function has
a ``finally:`` after the start, or is called inside ``try:`` with a ``finally:`` (in its
own module), the factory is an async context manager that runs that teardown (what acts on
the mirrored steps' objects) when the consumer stops.

Nothing is run: the bootstrap is read, and anything decouple cannot reproduce (a name bound
by the function's parameters or by a statement that also sets the server up, a ``with`` or
a loop before the construction, a teardown mixed with other work, two servers registering
the servicer differently) refuses the site with the file and line, so that a person writes
the factory (``--servicer-factory``).

The server's interceptors (``grpc.server(..., interceptors=[...])``, ``grpc.aio.server(
interceptors=[...])``) are generated beside it, as ``build_interceptors()``, under the same
rules: every name they read imported as the bootstrap's module imports it, none bound in
the function. The consumer runs each event through them as an RPC (the runtime's
``GrpcServicer``). Where they cannot be reproduced, none is generated (their order matters:
a part of the chain would be another chain), and the factory's module and the pull request
name them with the reason.
"""

from __future__ import annotations

import ast
import builtins
import os
import posixpath
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from decouple_services.core.model import Endpoint
from decouple_services.discover.entrypoints import is_main_test
from decouple_services.migrate.syntax import parse_module

__all__ = [
    "MAX_FILES",
    "Bootstrap",
    "called_name",
    "derive_servicer_factory",
    "render_factory_body",
    "service_of",
    "service_python_files",
]

ReadFile = Callable[[str], bytes | None]
ModuleOf = Callable[[str], str]

#: The function the generated module defines.
FACTORY_FUNCTION = "build_servicer"
#: The function that gives the server's interceptors, beside it.
INTERCEPTORS_FUNCTION = "build_interceptors"

#: Folders that never hold the service's own bootstrap.
_SKIPPED_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        "tests",
        "test",
        "venv",
        "env",
        "build",
        "dist",
    }
)
#: More files than a service's tree holds: a walk that reaches it stops.
MAX_FILES = 20000
#: Methods of a logger: a statement that only logs is left out of the factory.
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
)
_LOG_ROOTS = frozenset({"logging", "log", "logger", "_log", "_logger", "LOG", "LOGGER"})
#: Calls a module-level assignment may make and still be safe to import for a name of it.
_SAFE_MODULE_CALLS = frozenset({"getLogger", "getenv", "get", "Path"})
_BUILTINS = frozenset(dir(builtins))
#: How a statement a factory does not reproduce is named in a refusal.
_KINDS: dict[type[ast.stmt], str] = {
    ast.With: "a `with` block",
    ast.AsyncWith: "an `async with` block",
    ast.Try: "a `try` block",
    ast.For: "a loop",
    ast.AsyncFor: "a loop",
    ast.While: "a loop",
    ast.If: "a condition",
    ast.Return: "a `return`",
    ast.Global: "a `global` statement",
    ast.Nonlocal: "a `nonlocal` statement",
    ast.FunctionDef: "a function",
    ast.AsyncFunctionDef: "a function",
    ast.ClassDef: "a class",
}


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """The servicer's construction as the server's bootstrap does it, ready to render."""

    #: The gRPC service's short name (``InviteService``).
    service: str
    #: The bootstrap's file and the line of ``add_<X>Servicer_to_server(...)``.
    file: str
    line: int
    #: The function that builds and serves (``serve``), and the line it starts on; for an
    #: ``if __name__ == "__main__":`` block, ``None`` and the block's line.
    function: str | None
    function_line: int
    #: ``async``: ``async def`` factory; ``context``: an async context manager (teardown);
    #: ``sync``: a plain function.
    kind: str
    #: Import lines, sorted as isort sorts them (stdlib first).
    imports: tuple[str, ...]
    #: Statements run before the servicer is returned, as source text at no indentation.
    setup: tuple[str, ...]
    #: The servicer's construction, as source text (its first line not indented).
    construction: str
    #: Statements the bootstrap runs after the construction, before the server starts.
    after: tuple[str, ...]
    #: The teardown statements (``finally:`` around the call of the function), if any.
    teardown: tuple[str, ...]
    #: Where the teardown is (``file:line``), and the function holding it.
    teardown_at: str | None
    teardown_function: str | None
    #: The lines of the startup steps the factory runs (for the pull request).
    setup_lines: tuple[int, ...]
    #: The server's interceptors, ``(source text, line)``, in its order: generated into
    #: ``build_interceptors()`` unless ``interceptors_refused`` says why not.
    interceptors: tuple[tuple[str, int], ...]
    #: The lines left out because they make or run the server, or only log.
    left_out: tuple[int, ...]
    #: The bootstrap's other steps, which the construction does not depend on and the
    #: consumer does not run: ``(line, statement, may_need)``; ``may_need``: it looks like an
    #: initialisation the servicer may rely on (it reads what the servicer uses, or is
    #: named like one) though it cannot be shown to.
    not_run: tuple[tuple[int, str, bool], ...] = ()
    #: The mirrored steps that call a method (``sched.start()``, ``db.run_migrations()``),
    #: ``(line, statement)``: the construction needs the object, but the call on it may be
    #: the server process's own work, which the factory now runs in every consumer replica.
    copied_calls: tuple[tuple[int, str], ...] = ()
    #: The mirrored steps that only connect what the servicer uses
    #: (``await PostgresClient().connect()``, whose object the teardown disconnects or the
    #: construction reads), ``(line, statement)``: each consumer replica needs them too.
    connects: tuple[tuple[int, str], ...] = ()
    #: How many of the teardown's first statements are a ``finally:`` inside the function,
    #: whose ``try`` opens after the startup steps: the factory opens its ``try`` there too,
    #: so a step that fails raises its own error, not one of the teardown's on a name the
    #: step never bound.
    inner_teardown: int = 0
    #: The servicer's class, when the construction is ``Class(...)`` (for the annotation).
    servicer_class: str | None = None
    #: The bootstrap's name for the servicer (``servicer = Impl(...)``), kept for the steps
    #: after the construction that use it.
    variable: str = "servicer"
    #: Why the interceptors cannot be generated (with file:line); ``None`` when they are
    #: (or there are none).
    interceptors_refused: str | None = None
    #: The items of ``build_interceptors()``'s list, as source text (``*EXPR`` for an
    #: expression the server is given whole); ``None``: the function is not generated.
    interceptor_items: tuple[str, ...] | None = None

    @property
    def generates_interceptors(self) -> bool:
        """Whether the module defines ``build_interceptors()``."""
        return self.interceptor_items is not None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def function_label(self) -> str:
        return f"`{self.function}()`" if self.function else 'the `if __name__ == "__main__":` block'


class _Refused(Exception):
    """Why the bootstrap cannot be mirrored (the message names file:line)."""


def service_of(endpoint: Endpoint) -> str:
    """The gRPC service's short name: ``/invite.InviteService/Create`` -> ``InviteService``."""
    return endpoint.path.strip("/").partition("/")[0].rpartition(".")[2]


def derive_servicer_factory(
    endpoint: Endpoint,
    *,
    repo_root: str,
    service_root: str,
    read: ReadFile,
    module_of: ModuleOf,
    files: Iterable[str] | None = None,
) -> Bootstrap | str | None:
    """The factory of ``endpoint``'s servicer, mirrored from where the repository adds it
    to a server; a reason (with file:line) when that cannot be done safely; ``None`` when
    no ``add_<X>Servicer_to_server`` call is found under the service's root. ``files``: the
    repo-relative Python files to look in (default: a walk of the service's root)."""
    service = service_of(endpoint)
    if not service.isidentifier():
        return None
    adder = f"add_{service}Servicer_to_server"
    token = adder.encode()
    found: list[tuple[str, ast.Module, ast.Call]] = []
    candidates = list(files) if files is not None else service_python_files(repo_root, service_root)
    for path in candidates:
        text = read(path)
        if not text or token not in text:
            continue
        tree = parse_module(text)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and called_name(node.func) == adder:
                found.append((path, tree, node))
    if not found:
        return None
    if len(found) > 1:
        where = ", ".join(f"{p}:{c.lineno}" for p, _, c in found)
        return (
            f"the servicer is added to a server at {where}, and decouple cannot tell which "
            "of them the consumer should mirror"
        )
    path, tree, call = found[0]
    try:
        return _mirror(service, path, tree, call, read, module_of, candidates)
    except _Refused as why:
        return str(why)


def service_python_files(repo_root: str, service_root: str) -> list[str]:
    """The service's Python files, repo-relative: not its tests, virtualenvs, generated
    gRPC modules (which define ``add_<X>Servicer_to_server`` themselves) or caches."""
    top = os.path.join(repo_root, service_root) if service_root not in ("", ".") else repo_root
    out: list[str] = []
    if not os.path.isdir(top):
        return out
    for folder, dirs, names in os.walk(top):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in sorted(names):
            if (
                not name.endswith(".py")
                or name.endswith(("_pb2_grpc.py", "_pb2.py", "_test.py"))
                or name.startswith("test_")
                or name == "conftest.py"
            ):
                continue
            out.append(os.path.relpath(os.path.join(folder, name), repo_root).replace(os.sep, "/"))
            if len(out) >= MAX_FILES:
                return out
    return out


def called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


# -- reading the bootstrap -----------------------------------------------------------------


def _mirror(
    service: str,
    path: str,
    tree: ast.Module,
    call: ast.Call,
    read: ReadFile,
    module_of: ModuleOf,
    files: Sequence[str] = (),
) -> Bootstrap:
    lines = (read(path) or b"").decode("utf-8", "replace").splitlines()
    at = f"{path}:{call.lineno}"
    scope, body, index = _scope(tree, call, at)
    servicer_arg = call.args[0] if call.args else _keyword(call, "servicer")
    server_arg = call.args[1] if len(call.args) > 1 else _keyword(call, "server")
    if servicer_arg is None or server_arg is None:
        raise _Refused(f"the call at {at} does not name both the servicer and the server")
    if not isinstance(server_arg, ast.Name):
        raise _Refused(
            f"the server the servicer is added to at {at} is `{ast.unparse(server_arg)}`, not "
            "a name of the function, so decouple cannot tell its statements apart"
        )
    server = server_arg.id
    function = scope if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else None
    label = (
        f"`{function.name}()` ({path}:{function.lineno})"
        if function
        else (f'the `if __name__ == "__main__":` block ({path}:{scope.lineno})')
    )

    # the statements after the registration, up to the server's start
    end = len(body)
    for position in range(index + 1, len(body)):
        if _starts(body[position], server):
            end = position
            break
    left_out: list[int] = []
    interceptors: list[tuple[str, int]] = []
    given: list[ast.expr] = []  # each ``interceptors=`` value
    kept: list[tuple[int, ast.stmt]] = []  # (position, statement)
    skipped: list[ast.stmt] = []
    for position, statement in enumerate(body[:end]):
        if position == index:
            continue
        if _touches(statement, server):
            skipped.append(statement)
            left_out.append(statement.lineno)
            interceptors.extend(_interceptors(statement))
            given.extend(_interceptor_values(statement))
            continue
        if _is_docstring(statement) or isinstance(statement, ast.Pass):
            continue
        if _only_logs(statement):
            left_out.append(statement.lineno)
            continue
        problem = _unreproducible(statement, server)
        if problem is not None:
            raise _Refused(
                f"{label} runs {problem} at {path}:{statement.lineno}, "
                f"{'before' if position < index else 'after'} it builds the servicer "
                f"({at}), which decouple does not reproduce in a factory"
            )
        kept.append((position, statement))
    for statement in body[end:]:
        # after the start: only what serves (never part of the servicer)
        if _touches(statement, server):
            interceptors.extend(_interceptors(statement))
            given.extend(_interceptor_values(statement))

    # A binding only the server's statements read is the server's (its port, its options).
    construction_expr = servicer_arg
    servicer_name: str | None = None
    if isinstance(servicer_arg, ast.Name):
        servicer_name = servicer_arg.id
    server_reads: set[str] = set()
    for statement in skipped:
        server_reads |= _reads(statement)
    others: set[str] = set()
    for _, statement in kept:
        others |= _reads(statement)
    others |= _reads(construction_expr)
    candidates: list[tuple[int, ast.stmt]] = []
    for position, statement in kept:
        bound = _binds(statement)
        if bound and _only_binds(statement) and bound & server_reads and not bound & others:
            left_out.append(statement.lineno)
            continue
        candidates.append((position, statement))

    # a servicer built into a name before the call: that statement is its construction
    maker_position: int | None = None
    if servicer_name is not None:
        maker = next(
            (
                (p, s)
                for p, s in reversed(candidates)
                if p < index
                and isinstance(s, ast.Assign)
                and len(s.targets) == 1
                and isinstance(s.targets[0], ast.Name)
                and s.targets[0].id == servicer_name
            ),
            None,
        )
        if maker is None:
            raise _Refused(
                f"the servicer added at {at} is `{servicer_name}`, which {label} does not "
                "build with one assignment before that call"
            )
        maker_position = maker[0]
        assert isinstance(maker[1], ast.Assign)
        construction_expr = maker[1].value
        candidates.remove(maker)
    # what the bootstrap does between building it and adding it runs after it here too
    pivot = maker_position if maker_position is not None else index

    outer, outer_at, outer_function = _teardown(tree, function, path)
    modules = _module_names(tree, scope)
    # The slice of the bootstrap the construction depends on: a step is mirrored when it
    # binds a name the construction (or a mirrored step, or the teardown) reads, or calls a
    # method on such a name (``await PostgresClient().connect()`` when the teardown calls
    # ``PostgresClient().disconnect()``, ``await pool.open()`` when the servicer is given
    # ``pool``). Anything else is the server process's own (its scheduled jobs, its
    # registration in service discovery, its migrations, its metrics port), which every
    # consumer replica would otherwise repeat. The process environment is read and written
    # through a module (``os.environ``, ``dotenv.load_dotenv()``): a step that loads it is
    # mirrored when what is mirrored reads it.
    used = _uses(construction_expr) | ({servicer_name} if servicer_name else set())
    for statement in outer:
        used |= _uses(statement)
    # What the modules the construction's names come from use themselves (the servicer's
    # class and its repositories): a step left out that calls one of those may be an
    # initialisation the servicer relies on (a singleton's first construction), which the
    # docstring and the pull request ask a person to check.
    depends = _used_by_sources(_reads(construction_expr), tree, scope, path, read, module_of, files)
    mirrored: set[int] = set()
    changed = True
    while changed:
        changed = False
        for position, statement in candidates:
            if position in mirrored:
                continue
            if _feeds(statement, used, modules):
                mirrored.add(position)
                used |= _uses(statement)
                changed = True
    not_run: list[tuple[int, str, bool]] = []
    setup: list[ast.stmt] = []
    after: list[ast.stmt] = []
    for position, statement in candidates:
        if position not in mirrored:
            not_run.append(_not_run(statement, (used - modules) | depends))
            continue
        (setup if position < pivot else after).append(statement)

    # From the start on, the function serves: a step there is not mirrored, and one the
    # construction depends on (by the rule above) refuses the site, as the servicer would
    # be built without it. A ``finally:`` there closes what the mirrored steps opened.
    opened = set(used)
    for statement in [*setup, *after]:
        opened |= _binds(statement) | _receivers(statement)
    opened -= modules
    inner: list[ast.stmt] = []
    for statement, final in _serving_steps(body[end:]):
        if _touches(statement, server):
            left_out.append(statement.lineno)
            continue
        if _is_docstring(statement) or isinstance(statement, ast.Pass):
            continue
        if _only_logs(statement):
            left_out.append(statement.lineno)
            continue
        if final and (_receivers(statement) | _reads(statement)) & opened:
            problem = _unreproducible(statement, "\0")
            if problem is not None:
                raise _Refused(
                    f"the teardown at {path}:{statement.lineno} in {label} runs {problem}, "
                    "which decouple does not reproduce in a factory"
                )
            inner.append(statement)
            continue
        if not final and _feeds(statement, used, modules):
            raise _Refused(
                f"{label} runs `{_short(statement)}` at {path}:{statement.lineno}, after "
                f"the server starts, on what the servicer's construction ({at}) uses: the "
                "consumer's factory would build the servicer without it"
            )
        not_run.append(_not_run(statement, (used - modules) | depends))
    teardown = [*inner, *outer]
    places = [f"{path}:{inner[0].lineno}"] if inner else []
    if outer_at:
        places.append(outer_at)
    teardown_at = ", ".join(places) or None
    teardown_function = (function.name if function else None) if inner else outer_function

    # the steps after the construction may use the servicer by the bootstrap's name for it
    bound_locally: set[str] = {servicer_name} if servicer_name else set()
    reads: set[str] = _reads(construction_expr)
    for statement in [*setup, *after, *teardown]:
        bound_locally |= _binds(statement)
        reads |= _reads(statement)

    def imports_of(names: set[str], what: str = "the servicer's construction") -> list[str]:
        return _imports_for(
            sorted(names),
            tree=tree,
            scope=scope,
            function=function,
            skipped=skipped,
            path=path,
            label=label,
            module_of=module_of,
            what=what,
        )

    imports = imports_of(reads - bound_locally - _BUILTINS)
    items: tuple[str, ...] | None = None
    refused: str | None = None
    if given:
        try:
            names, items = _interceptor_items(given, body, lines, path, label)
            imports_of(names, "their list")
            # one import line per module for the servicer's names and theirs together
            imports = imports_of(
                (reads | names) - bound_locally - _BUILTINS, "the servicer's construction"
            )
        except _Refused as why:
            items, refused = None, str(why)
    awaits = any(
        isinstance(n, ast.Await | ast.AsyncFor | ast.AsyncWith)
        for s in [construction_expr, *setup, *after]
        for n in ast.walk(s)
    )
    kind = "context" if teardown else "async" if awaits else "sync"
    if kind != "sync":
        # an async factory runs on the servicer's loop, where no loop can be run again
        for statement in [*setup, *after, *teardown]:
            runner = _runs_a_loop(statement)
            if runner is not None:
                raise _Refused(
                    f"the factory would be async (it awaits, or closes what it opened), and "
                    f"{path}:{statement.lineno} runs an event loop (`{runner}`), which cannot "
                    "run inside the consumer's"
                )
    # what a step connects is the servicer's when its construction reads it or its
    # teardown calls it (``PostgresClient().disconnect()``)
    users = _reads(construction_expr) | {r for t in teardown for r in _receivers(t)}
    servicer_class = None
    if isinstance(construction_expr, ast.Call) and isinstance(construction_expr.func, ast.Name):
        servicer_class = construction_expr.func.id
    if kind == "context":
        imports = _sorted_imports(
            [*imports, "import contextlib", "from collections.abc import AsyncIterator"]
        )
    return Bootstrap(
        service=service,
        file=path,
        line=call.lineno,
        function=function.name if function else None,
        function_line=function.lineno if function else scope.lineno,
        kind=kind,
        imports=tuple(imports),
        setup=tuple(_source(s, lines) for s in setup),
        construction=_expression_source(construction_expr, lines),
        after=tuple(_source(s, lines) for s in after),
        teardown=tuple(_source(s, lines) for s in teardown),
        teardown_at=teardown_at,
        teardown_function=teardown_function,
        setup_lines=tuple(s.lineno for s in [*setup, *after]),
        interceptors=tuple(interceptors),
        left_out=tuple(sorted(set(left_out))),
        not_run=tuple(sorted(not_run)),
        inner_teardown=len(inner),
        copied_calls=tuple(
            (s.lineno, _short(s))
            for s in [*setup, *after]
            if _calls_a_method(s, modules) and not _connects(s, modules, users)
        ),
        connects=tuple(
            (s.lineno, _short(s))
            for s in [*setup, *after]
            if _calls_a_method(s, modules) and _connects(s, modules, users)
        ),
        servicer_class=servicer_class,
        variable=servicer_name or "servicer",
        interceptors_refused=refused,
        interceptor_items=items,
    )


_Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.If


def _scope(tree: ast.Module, call: ast.Call, at: str) -> tuple[_Scope, list[ast.stmt], int]:
    """The function (or ``__main__`` block) whose body holds the call as a statement of its
    own, that body, and the statement's position in it."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
            isinstance(node, ast.If) and node in tree.body and is_main_test(node.test)
        ):
            continue
        body = node.body
        for position, statement in enumerate(body):
            if isinstance(statement, ast.Expr) and statement.value is call:
                return node, body, position
    holder = _enclosing_statement(tree, call)
    if holder is None:
        where = "at the top level of its module"
    else:
        kind = _KINDS.get(type(holder), f"a `{type(holder).__name__}` statement")
        where = f"inside {kind} ({at.rpartition(':')[0]}:{holder.lineno})"
    raise _Refused(
        f"the servicer is added to the server at {at} {where}, and decouple mirrors only a "
        'function (or `if __name__ == "__main__":` block) that adds it as a statement of '
        "its own"
    )


def _enclosing_statement(tree: ast.Module, call: ast.Call) -> ast.stmt | None:
    """The innermost statement holding the call's statement, None at the top level."""
    found: ast.stmt | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.Expr):
            continue
        first, last = node.lineno, node.end_lineno or node.lineno
        if first <= call.lineno <= last and (found is None or node.lineno >= found.lineno):
            found = node
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _touches(statement: ast.stmt, server: str) -> bool:
    return server in _names(statement)


def _starts(statement: ast.stmt, server: str) -> bool:
    """``server.start()`` (awaited or not): what follows serves."""
    for node in ast.walk(statement):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("start", "wait_for_termination")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == server
        ):
            return True
    return False


def _interceptors(statement: ast.stmt) -> list[tuple[str, int]]:
    """``interceptors=[...]`` given to a server made in ``statement``."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(statement):
        if isinstance(node, ast.Call) and called_name(node.func) == "server":
            value = _keyword(node, "interceptors")
            if value is None:
                continue
            items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            out.extend((ast.unparse(item), item.lineno) for item in items)
    return out


def _interceptor_values(statement: ast.stmt) -> list[ast.expr]:
    """Each ``interceptors=`` value given to a server made in ``statement``."""
    return [
        value
        for node in ast.walk(statement)
        if isinstance(node, ast.Call) and called_name(node.func) == "server"
        for value in [_keyword(node, "interceptors")]
        if value is not None
    ]


def _interceptor_items(
    given: Sequence[ast.expr],
    body: Sequence[ast.stmt],
    lines: Sequence[str],
    path: str,
    label: str,
) -> tuple[set[str], tuple[str, ...]]:
    """The free names the server's interceptors read, and the items of their list as
    source text; raises :class:`_Refused` where they are not built from importable names
    alone (a name the function binds, an ``await``), or given to more than one server."""
    if len(given) > 1:
        where = ", ".join(f"{path}:{value.lineno}" for value in given)
        raise _Refused(
            f"they are given to more than one server ({where}), and decouple cannot tell "
            "which chain an event should go through"
        )
    (value,) = given
    text = _expression_source(value, lines)
    if any(isinstance(n, ast.Await | ast.Yield | ast.YieldFrom) for n in ast.walk(value)):
        raise _Refused(
            f"they await ({path}:{value.lineno}), and the consumer builds them once, "
            "with no event loop, as grpc.server() takes them"
        )
    names = _reads(value) - _binds(value) - _BUILTINS
    bound: dict[str, int] = {}
    for statement in body:
        for name in _binds(statement):
            bound.setdefault(name, statement.lineno)
    for name in sorted(names):
        if name in bound:
            raise _Refused(
                f"they read `{name}`, which {label} binds at {path}:{bound[name]}, and "
                "decouple generates interceptors built from imported names only"
            )
    if isinstance(value, ast.List | ast.Tuple):
        items = tuple(_expression_source(item, lines) for item in value.elts)
    else:
        items = (f"*{text}" if "\n" not in text else f"*({text})",)
    return names, items


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _only_logs(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute) or func.attr not in _LOG_METHODS:
        return False
    root = func.value
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id in _LOG_ROOTS


def _unreproducible(statement: ast.stmt, server: str) -> str | None:
    """What in ``statement`` a factory cannot run as the bootstrap does; None when it can."""
    if isinstance(statement, ast.Expr | ast.Import | ast.ImportFrom):
        return None
    if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if all(_plain_target(t) for t in targets):
            return None
        return f"an assignment to `{ast.unparse(targets[0])}`"
    if isinstance(statement, ast.If):
        for inner in [*statement.body, *statement.orelse]:
            if _touches(inner, server):
                return "a condition that also sets up the server"
            problem = _unreproducible(inner, server)
            if problem is not None:
                return problem
        return None
    return _KINDS.get(type(statement), f"a `{type(statement).__name__}` statement")


def _plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Tuple | ast.List):
        return all(_plain_target(t) for t in target.elts)
    return False


def _only_binds(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Assign | ast.AnnAssign)


def _binds(statement: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                out.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _teardown(
    tree: ast.Module, function: ast.FunctionDef | ast.AsyncFunctionDef | None, path: str
) -> tuple[list[ast.stmt], str | None, str | None]:
    """The ``finally:`` statements around the call of ``function`` in its own module, when
    every such call has the same, and the ``try`` holds nothing but the call."""
    if function is None:
        return [], None, None
    found: list[tuple[ast.Try, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try) or not node.finalbody:
            continue
        calls = [s for s in node.body if _calls(s, function.name)]
        if not calls:
            continue
        others = [s for s in node.body if s not in calls and not _only_logs(s)]
        if others:
            raise _Refused(
                f"`{function.name}()` is called at {path}:{calls[0].lineno} inside a `try` "
                f"whose `finally:` ({path}:{node.finalbody[0].lineno}) also closes what other "
                f"statements there ({path}:{others[0].lineno}) open, so decouple cannot tell "
                "which part of it belongs to the servicer"
            )
        holder = next(
            (
                f.name
                for f in ast.walk(tree)
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and node in f.body
            ),
            "",
        )
        found.append((node, holder))
    if not found:
        return [], None, None
    texts = {tuple(ast.dump(s) for s in t.finalbody) for t, _ in found}
    first, holder = found[0]
    if len(texts) > 1:
        raise _Refused(
            f"`{function.name}()` is called in several `try` blocks with different `finally:` "
            f"({', '.join(f'{path}:{t.finalbody[0].lineno}' for t, _ in found)}), so decouple "
            "cannot tell which teardown the consumer should run"
        )
    statements = [s for s in first.finalbody if not _only_logs(s) and not _is_docstring(s)]
    for statement in statements:
        problem = _unreproducible(statement, "\0")
        if problem is not None:
            raise _Refused(
                f"the teardown around `{function.name}()` ({path}:{statement.lineno}) runs "
                f"{problem}, which decouple does not reproduce in a factory"
            )
    if not statements:
        return [], None, None
    return statements, f"{path}:{statements[0].lineno}", holder or None


#: Words in a call's name that make a step look like an initialisation the servicer may need.
_INIT_WORDS = ("init", "setup", "set_up", "connect", "open", "configure", "load", "prepare")


#: What stands for the process environment among the names a step reads or sets.
_ENVIRONMENT = "<environment>"
#: Calls that load the process environment from a file (python-dotenv, environs).
_ENV_LOADERS = frozenset({"load_dotenv", "read_env", "load_env"})


def _uses(node: ast.AST) -> set[str]:
    """The names ``node`` reads, and the environment when it reads it."""
    out = _reads(node)
    for n in ast.walk(node):
        if (isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv")) or (
            isinstance(n, ast.Name) and n.id in ("environ", "getenv")
        ):
            out.add(_ENVIRONMENT)
    return out


def _sets_environment(statement: ast.stmt) -> bool:
    """``load_dotenv()``, ``os.environ.update(...)``, ``os.putenv(...)`` in the step."""
    for n in ast.walk(statement):
        if not isinstance(n, ast.Call):
            continue
        name = called_name(n.func)
        if name in _ENV_LOADERS or name == "putenv":
            return True
        if (
            isinstance(n.func, ast.Attribute)
            and name in ("update", "setdefault")
            and _ENVIRONMENT in _uses(n.func.value)
        ):
            return True
    return False


def _feeds(statement: ast.stmt, used: set[str], modules: set[str]) -> bool:
    """Whether what is mirrored depends on ``statement``: it binds a name that is read,
    calls a method on one, or loads the environment that is read."""
    return bool(
        _binds(statement) & used
        or (_receivers(statement) - modules) & used
        or (_ENVIRONMENT in used and _sets_environment(statement))
    )


def _receivers(node: ast.AST) -> set[str]:
    """The names methods are called on in ``node``: ``PostgresClient`` in
    ``PostgresClient().connect()``, ``pool`` in ``await pool.open()``."""
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            root: ast.expr = n.func.value
            while isinstance(root, ast.Attribute | ast.Call | ast.Subscript | ast.Await):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name):
                out.add(root.id)
    return out


def _module_names(tree: ast.Module, scope: _Scope) -> set[str]:
    """Names bound by ``import x``: a call on a module (``os.makedirs``) is not a call on
    an object the servicer uses."""
    imported, _ = _module_bindings(tree, scope)
    out = {name for name, (statement, _) in imported.items() if isinstance(statement, ast.Import)}
    for node in ast.walk(scope):
        if isinstance(node, ast.Import):
            out |= {a.asname or a.name.partition(".")[0] for a in node.names}
    return out


def _short(statement: ast.stmt) -> str:
    """The statement on one line, cut to a length a docstring and a caution can hold."""
    text = " ".join(ast.unparse(statement).split())
    return text if len(text) <= 60 else text[:57].rstrip() + "..."


def _not_run(statement: ast.stmt, used: set[str]) -> tuple[int, str, bool]:
    """A step the factory does not run, and whether it looks like one the servicer needs:
    named like an initialisation, or reading what the servicer (or its modules) use."""
    names = {
        (called_name(n.func) or "").lower() for n in ast.walk(statement) if isinstance(n, ast.Call)
    }
    looks = any(word in name for name in names for word in _INIT_WORDS)
    return statement.lineno, _short(statement), looks or bool(_reads(statement) & used)


#: Methods that connect or open a client (``db.connect()``, ``await pool.open()``).
_CONNECTING = re.compile(r"^(?:a?connect\w*|open|init_pool|start_pool)$")


def _connects(statement: ast.stmt, modules: set[str], users: set[str]) -> bool:
    """Whether every method the statement calls connects or opens an object of ``users``
    (the names the servicer's construction reads, or its teardown calls methods on):
    the servicer needs that connection in every replica, so it is expected, not the
    server's own work."""
    calls = [
        n
        for n in ast.walk(statement)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and _receivers(n) - modules
        and not (isinstance(n.func.value, ast.Name) and n.func.value.id in modules)
    ]
    # the outermost method call of each chain: ``PostgresClient().connect()`` is the call
    # of ``connect``, whose receiver ``PostgresClient()`` is no method call
    methods = [
        c
        for c in calls
        if not any(isinstance(o.func, ast.Attribute) and c is o.func.value for o in calls)
    ]
    return bool(methods) and all(
        isinstance(c.func, ast.Attribute)
        and _CONNECTING.match(c.func.attr) is not None
        and _receivers(c) <= users
        for c in methods
    )


def _calls_a_method(statement: ast.stmt, modules: set[str]) -> bool:
    """Whether the statement is a method call on an object (``sched.start()``, ``await
    db.run_migrations()``), not a binding or a call of a module's function: work the
    construction does not need to be built, which the factory repeats in every replica."""
    if isinstance(statement, ast.If):
        # a step kept with its ``if`` (``if os.environ.get("JOBS"): sched.start()``)
        return any(_calls_a_method(s, modules) for s in [*statement.body, *statement.orelse])
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return False
    return bool(_receivers(value) - modules)


def _used_by_sources(
    names: set[str],
    tree: ast.Module,
    scope: _Scope,
    path: str,
    read: ReadFile,
    module_of: ModuleOf,
    files: Sequence[str],
) -> set[str]:
    """The names read by the modules ``names`` are imported from (one level: the
    servicer's class's module, its repositories')."""
    if not files:
        return set()
    by_module = {module_of(f): f for f in files}
    module = module_of(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    imported, _ = _module_bindings(tree, scope)
    out: set[str] = set()
    for name in names:
        entry = imported.get(name)
        if entry is None or not isinstance(entry[0], ast.ImportFrom):
            continue
        source = _absolute(entry[0], package)
        if source is None:
            continue
        where = by_module.get(f"{source}.{entry[1].name}") or by_module.get(source)
        text = read(where) if where else None
        parsed = parse_module(text) if text else None
        if parsed is not None:
            out |= _reads(parsed)
    return out - _BUILTINS


def _serving_steps(statements: Sequence[ast.stmt]) -> list[tuple[ast.stmt, bool]]:
    """The statements from the server's start on, a ``try`` opened into its parts:
    ``(statement, in a finally:)``."""
    out: list[tuple[ast.stmt, bool]] = []
    for statement in statements:
        if isinstance(statement, ast.Try | ast.TryStar):
            out.extend(_serving_steps(statement.body))
            for handler in statement.handlers:
                out.extend(_serving_steps(handler.body))
            out.extend(_serving_steps(statement.orelse))
            out.extend((s, True) for s in statement.finalbody)
        else:
            out.append((statement, False))
    return out


def _runs_a_loop(statement: ast.stmt) -> str | None:
    """``asyncio.run(...)`` or ``loop.run_until_complete(...)`` in the statement."""
    for node in ast.walk(statement):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name == "run_until_complete" or (
                name == "run"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "asyncio"
            ):
                return ast.unparse(node.func)
    return None


def _calls(statement: ast.stmt, name: str) -> bool:
    """``name()``, ``await name()``, ``asyncio.run(name())`` as the statement."""
    if not isinstance(statement, ast.Expr):
        return False
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
        for n in ast.walk(statement)
    )


# -- names and imports ---------------------------------------------------------------------


def _imports_for(
    names: Sequence[str],
    *,
    tree: ast.Module,
    scope: _Scope,
    function: ast.FunctionDef | ast.AsyncFunctionDef | None,
    skipped: Sequence[ast.stmt],
    path: str,
    label: str,
    module_of: ModuleOf,
    what: str = "the servicer's construction",
) -> list[str]:
    """An import line for each free name of the factory, from the bootstrap module's own
    imports or definitions; raises :class:`_Refused` for a name it cannot bring in.
    ``what``: what reads the names, for the reason."""
    module = module_of(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    imported, defined = _module_bindings(tree, scope)
    lines: list[str] = []
    from_module: dict[str, list[str]] = {}
    parameters: dict[str, int] = {}
    if function is not None:
        arguments = function.args
        for arg in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *([arguments.vararg] if arguments.vararg else []),
            *([arguments.kwarg] if arguments.kwarg else []),
        ]:
            parameters[arg.arg] = function.lineno
    local: dict[str, int] = {}
    for statement in skipped:
        for name in _binds(statement):
            local.setdefault(name, statement.lineno)
    unsafe = _unsafe_top_level(tree)
    for name in names:
        if name in parameters:
            raise _Refused(
                f"{what} reads `{name}`, a parameter of {label}, whose value only its caller knows"
            )
        if name in local:
            raise _Refused(
                f"{what} reads `{name}`, which {label} binds at "
                f"{path}:{local[name]} in a statement that also sets up the server"
            )
        if name in imported:
            statement, alias = imported[name]
            if isinstance(statement, ast.Import):
                line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                lines.append(line)
            else:
                source = _absolute(statement, package)
                if source is None:
                    raise _Refused(
                        f"`{name}` is imported relatively at {path}:{statement.lineno} beyond "
                        "the top of its package"
                    )
                entry = alias.name + (f" as {alias.asname}" if alias.asname else "")
                from_module.setdefault(source, []).append(entry)
            continue
        if name in defined:
            if unsafe is not None:
                raise _Refused(
                    f"{what} needs `{name}` from {path}, and importing "
                    f"that module would run its top-level statement at {path}:{unsafe}"
                )
            from_module.setdefault(module, []).append(name)
            continue
        raise _Refused(
            f"{what} reads `{name}`, which {label} neither imports nor "
            f"defines at the top of {path}, so the factory cannot bring it in"
        )
    lines.extend(_from_line(m, names_) for m, names_ in from_module.items())
    return _sorted_imports(lines)


def _module_bindings(
    tree: ast.Module, scope: _Scope
) -> tuple[dict[str, tuple[ast.Import | ast.ImportFrom, ast.alias]], set[str]]:
    imported: dict[str, tuple[ast.Import | ast.ImportFrom, ast.alias]] = {}
    defined: set[str] = set()
    for statement in tree.body:
        if statement is scope:
            continue
        if isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    continue
                imported[alias.asname or alias.name.partition(".")[0]] = (statement, alias)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            defined |= _binds(statement)
    if isinstance(scope, ast.If):
        # the __main__ block's own imports are the script's, made before the servicer
        for statement in scope.body:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                for alias in statement.names:
                    imported[alias.asname or alias.name.partition(".")[0]] = (statement, alias)
    return imported, defined


def _unsafe_top_level(tree: ast.Module) -> int | None:
    """The line of a top-level statement that does more than define (a call, a server
    started at import), which importing the module for a name of it would run."""
    for statement in tree.body:
        if isinstance(
            statement,
            ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        ) or _is_docstring(statement):
            continue
        if isinstance(statement, ast.If) and (
            is_main_test(statement.test)
            or (isinstance(statement.test, ast.Name) and statement.test.id == "TYPE_CHECKING")
        ):
            continue
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            calls = [n for n in ast.walk(statement) if isinstance(n, ast.Call)]
            if all(called_name(c.func) in _SAFE_MODULE_CALLS for c in calls):
                continue
        return statement.lineno
    return None


def _absolute(statement: ast.ImportFrom, package: str) -> str | None:
    if not statement.level:
        return statement.module or ""
    parts = package.split(".") if package else []
    if statement.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (statement.level - 1)]
    if statement.module:
        base.append(statement.module)
    return ".".join(base) or None


def _from_line(module: str, names: Sequence[str]) -> str:
    ordered = sorted(dict.fromkeys(names), key=_member_key)
    flat = f"from {module} import {', '.join(ordered)}"
    if len(flat) <= 88:
        return flat
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in ordered) + ")"


def _member_key(entry: str) -> tuple[int, str]:
    """isort's order by type: constants, classes, then the rest."""
    name = entry.partition(" ")[0]
    if name.isupper() and len(name) > 1:
        return 0, name
    if name[:1].isupper():
        return 1, name
    return 2, name


def _sorted_imports(lines: Iterable[str]) -> list[str]:
    """Standard library first, then the rest; ``import x`` before ``from x import y`` in
    each, by module name, as isort (ruff's ``I001``) sorts them."""
    unique = list(dict.fromkeys(lines))

    def module(line: str) -> str:
        return line.split()[1]

    def key(line: str) -> tuple[int, int, str]:
        top = module(line).partition(".")[0]
        section = 0 if top in sys.stdlib_module_names else 1
        return section, 0 if line.startswith("import ") else 1, module(line).lower()

    return sorted(unique, key=key)


# -- source text -----------------------------------------------------------------------------


def _source(statement: ast.stmt, lines: Sequence[str]) -> str:
    """The statement as written (its comments kept), at no indentation; as ``ast``
    unparses it where its lines hold other code or cannot be shifted."""
    first, last = statement.lineno, statement.end_lineno or statement.lineno
    chunk = list(lines[first - 1 : last])
    indent = statement.col_offset
    if (
        not chunk
        or chunk[0][:indent].strip()
        or chunk[-1][statement.end_col_offset or 0 :].strip()
        or any(line.strip() and line[:indent].strip() for line in chunk)
    ):
        return ast.unparse(statement)
    return "\n".join(line[indent:] for line in chunk)


def _expression_source(expr: ast.expr, lines: Sequence[str]) -> str:
    """The expression as written, its later lines shifted as if it began its own line."""
    first, last = expr.lineno, expr.end_lineno or expr.lineno
    chunk = list(lines[first - 1 : last])
    if not chunk:
        return ast.unparse(expr)
    if first == last:
        return chunk[0][expr.col_offset : expr.end_col_offset]
    indent = len(chunk[0]) - len(chunk[0].lstrip())
    rest = chunk[1:]
    rest[-1] = rest[-1][: expr.end_col_offset]
    if any(line.strip() and line[:indent].strip() for line in rest):
        return ast.unparse(expr)
    head = chunk[0][expr.col_offset :]
    return "\n".join([head, *(line[indent:] for line in rest)])


# -- the module ----------------------------------------------------------------------------


def render_factory_body(bootstrap: Bootstrap, module: str = "") -> str:
    """The generated module's text (without its provenance header). ``module``: its own
    name, whose top package's imports isort puts in a section of their own (first party:
    the package the module is in)."""
    origin = f"{bootstrap.file}:{bootstrap.function_line}"
    doc = [
        f'"""Builds the {bootstrap.service} servicer for its Kafka consumers, as the server does.',
        "",
        f"Mirrors {_plain(bootstrap.function_label)} in {origin}, which adds the servicer to the",
        f"server at line {bootstrap.line}: keep this function in step with it (decouple",
        "regenerates it while it is unchanged).",
    ]
    if bootstrap.left_out:
        doc.append(
            "Left out, as they make or run the server or only log: line"
            + ("s " if len(bootstrap.left_out) > 1 else " ")
            + ", ".join(str(n) for n in bootstrap.left_out)
            + "."
        )
    if bootstrap.not_run:
        doc.append(
            "Not run by the consumer, as the servicer's construction does not depend on them "
            "(they are the server process's own: every consumer replica would repeat them): "
            + _steps(bootstrap.not_run)
            + "."
        )
        needed = [step for step in bootstrap.not_run if step[2]]
        if needed:
            doc.append(
                "Check "
                + _steps(needed)
                + ": the servicer may rely on "
                + ("them" if len(needed) > 1 else "it")
                + "; if it does, run "
                + ("them" if len(needed) > 1 else "it")
                + " where the consumer starts."
            )
    if bootstrap.copied_calls:
        doc.append(
            "Runs in every consumer replica: check "
            + _steps([(line, text, False) for line, text in bootstrap.copied_calls])
            + ": it is copied as the servicer (or its teardown) needs the object it calls, "
            "but the call may be the server process's own work (a scheduler, migrations), "
            "which each replica would repeat; if it is, run it once elsewhere and remove it "
            "here."
        )
    if bootstrap.connects:
        doc.append(
            "Runs in every consumer replica, as expected: "
            + _steps([(line, text, False) for line, text in bootstrap.connects])
            + ", which connects what the servicer uses (its construction or teardown "
            "names it)."
        )
    if bootstrap.teardown_at:
        around = f" of {bootstrap.teardown_function}()" if bootstrap.teardown_function else ""
        doc.append(
            f"When the consumer stops, it runs the teardown{around} ({bootstrap.teardown_at})."
        )
    if bootstrap.interceptors:
        names = ", ".join(f"{text} (line {line})" for text, line in bootstrap.interceptors)
        if bootstrap.generates_interceptors:
            doc.append(
                f"``{INTERCEPTORS_FUNCTION}()`` gives the server's interceptors, in its order: "
                f"{names}; each event goes through them as an RPC does."
            )
        else:
            doc.append(
                f"The server's interceptors do not run on the event path: {names}, as "
                f"{bootstrap.interceptors_refused}."
            )
    doc.append('"""')
    out: list[str] = [_wrap_doc(doc), ""]
    own = module.partition(".")[0] if "." in module else None
    if bootstrap.imports:
        sections: list[list[str]] = [[], [], []]
        for line in bootstrap.imports:
            top = line.split()[1].partition(".")[0]
            sections[0 if top in sys.stdlib_module_names else 2 if top == own else 1].append(line)
        for section in sections:
            if section:
                out.extend(section)
                out.append("")
        out.append("")
    else:
        out.append("")
    returned = bootstrap.servicer_class
    name = bootstrap.variable
    body: list[str] = []
    if bootstrap.kind == "context":
        out.append("@contextlib.asynccontextmanager")
        annotation = f" -> AsyncIterator[{returned}]" if returned else " -> AsyncIterator[object]"
        out.append(f"async def {FACTORY_FUNCTION}(){annotation}:")
        # the steps before the construction's yield, and its ``try``, laid out as the
        # source has them: a ``finally:`` inside the function opens after the startup
        # steps, one around its call (``outer``) before them
        start: list[str] = [*bootstrap.setup]
        if bootstrap.after:
            start.append(f"{name} = {bootstrap.construction}")
            start.extend(bootstrap.after)
            yielded = f"yield {name}"
        else:
            yielded = f"yield {bootstrap.construction}"
        inside = bootstrap.teardown[: bootstrap.inner_teardown]
        outer = bootstrap.teardown[bootstrap.inner_teardown :]
        block: list[str] = [*start]
        if inside:
            block.append("try:")
            block.append(_indent(yielded, 4))
            block.append("finally:")
            block.extend(_indent(s, 4) for s in inside)
        else:
            block.append(yielded)
        if outer:
            body.append("try:")
            body.extend(_indent(s, 4) for s in block)
            body.append("finally:")
            body.extend(_indent(s, 4) for s in outer)
        else:
            body.extend(block)
    else:
        prefix = "async def" if bootstrap.kind == "async" else "def"
        annotation = f" -> {returned}" if returned else ""
        out.append(f"{prefix} {FACTORY_FUNCTION}(){annotation}:")
        body.extend(bootstrap.setup)
        if bootstrap.after:
            body.append(f"{name} = {bootstrap.construction}")
            body.extend(bootstrap.after)
            body.append(f"return {name}")
        else:
            body.append(f"return {bootstrap.construction}")
    out.extend(_indent(s, 4) for s in body)
    if bootstrap.interceptor_items is not None:
        out.extend(["", "", f"def {INTERCEPTORS_FUNCTION}() -> list[object]:"])
        out.append(_indent(_return_list(bootstrap.interceptor_items), 4))
    return "\n".join(out) + "\n"


def _steps(steps: Sequence[tuple[int, str, bool]]) -> str:
    """``line 11 ``run_migrations()``, line 12 ...`` for a docstring (its backslashes
    doubled: the docstring is not raw)."""
    return ", ".join(
        f"line {line} ``{text.replace(chr(92), chr(92) * 2)}``" for line, text, _ in steps
    )


def _return_list(items: Sequence[str]) -> str:
    """``return [...]`` as ruff formats it: on one line when it fits (at 4 columns of
    indentation), else an item a line with a trailing comma."""
    flat = f"return [{', '.join(items)}]"
    if "\n" not in flat and len(flat) <= 84:
        return flat
    return "return [\n" + "".join(_indent(f"{item},", 4) + "\n" for item in items) + "]"


def _plain(label: str) -> str:
    return label.replace("`", "``")


def _indent(text: str, by: int) -> str:
    pad = " " * by
    return "\n".join(pad + line if line.strip() else line for line in text.split("\n"))


def _wrap_doc(lines: Sequence[str]) -> str:
    """The docstring's sentences, each paragraph wrapped at 88 columns."""
    import textwrap

    head, *rest = lines
    closing = rest.pop()
    paragraphs: list[list[str]] = [[]]
    for line in rest:
        if line == "":
            paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    text = [head]
    for paragraph in paragraphs:
        if not paragraph:
            continue
        text.append("")
        text.extend(textwrap.wrap(" ".join(paragraph), 88, break_on_hyphens=False))
    text.append(closing)
    return "\n".join(text)


def factory_module_name(service: str) -> str:
    """The generated module's name: ``InviteService`` -> ``servicer_invite_service``."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in service).strip("_")
    return "servicer_" + posixpath.basename(snake.replace("__", "_"))
