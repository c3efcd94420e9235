"""What the route extractors share: walking a module with scopes, naming handlers and owners,
reading ``methods=[...]``, deciding which framework an object belongs to, and the example
format each extractor documents itself with.

Every extractor has the shape :data:`ServerExtractor`: it receives the parsed module and its
:class:`ModuleContext` and returns the routes, mounts and gRPC methods it found. Owners (the
app, blueprint or router a route is registered on) are kept symbolic: a module-level name
becomes ``Ref("<module>.<name>")`` so that registration in another module can be joined during
resolution; an object created inside a function (an application factory) is kept as the
``Obj`` it evaluates to, which identifies it within its file.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import field
from typing import TypeAlias

from decouple_services.core.records import record
from decouple_services.detect.context import (
    ModuleContext,
    Scope,
    child_bodies,
    dotted,
    iter_nodes,
    source_text,
)
from decouple_services.detect.facts import GrpcMethod, RawMount, RawRoute
from decouple_services.detect.values import Concat, Dyn, Lit, Obj, Param, Ref, Value, leading, show

Extracted: TypeAlias = tuple[list[RawRoute], list[RawMount], list[GrpcMethod]]
#: A route extractor: called once per parsed file.
ServerExtractor: TypeAlias = Callable[[ast.Module, ModuleContext], Extracted]

#: Prefix of a mount that was given none (Flask then keeps the blueprint's own ``url_prefix``).
NO_PREFIX = Dyn("None")

#: What :func:`framework_of` says of an object that cannot own routes.
NOT_AN_OWNER = "-"
_LITERALS = (
    ast.Constant,
    ast.Dict,
    ast.List,
    ast.Set,
    ast.Tuple,
    ast.JoinedStr,
    ast.DictComp,
    ast.ListComp,
    ast.SetComp,
)

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")

#: Top-level packages whose objects own routes, and the framework each one means.
_FRAMEWORK_PACKAGES = {
    "flask": "flask",
    "fastapi": "fastapi",
    "starlette": "starlette",
    "aiohttp": "aiohttp",
}
#: When the owner's type is unknown, the framework the module imports decides, in this order
#: (FastAPI apps import from starlette; aiohttp counts only through its server package).
_IMPORT_PRIORITY = (
    ("fastapi", "fastapi"),
    ("flask", "flask"),
    ("starlette", "starlette"),
    ("aiohttp.web", "aiohttp"),
)


# --- walking -----------------------------------------------------------------------------


@record(frozen=False, slots=False)
class Frame:
    """Where a node sits: the enclosing module, class or function, with its local bindings."""

    ctx: ModuleContext
    kind: str  # "module" | "class" | "function"
    qualname: str
    parent: Frame | None = None
    node: ast.AST | None = None
    #: Names of functions and classes defined directly in this body -> qualified names.
    defs: dict[str, str] = field(default_factory=dict)
    _scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        """The evaluation scope, built on first use (most frames never need one)."""
        if self._scope is None:
            self._scope = self._build_scope()
        return self._scope

    def _build_scope(self) -> Scope:
        ctx = self.ctx
        if self.kind == "module" or self.parent is None:
            return ctx.module_scope
        parent = self.parent.scope
        if self.kind == "class":
            return Scope("class", self.qualname, parent=parent, owner_class=self.qualname)
        assert isinstance(self.node, ast.FunctionDef | ast.AsyncFunctionDef)
        args = self.node.args
        params = tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
        params += tuple(a.arg for a in (args.vararg, args.kwarg) if a is not None)
        assigned = frozenset(
            n.id
            for n in ast.walk(self.node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        )
        owner = parent.qualname if parent.kind == "class" else parent.owner_class
        scope = Scope(
            "function",
            self.qualname,
            parent=parent,
            params=params,
            owner_class=owner,
            assigned=assigned,
        )
        # Locals in source order, last assignment wins: enough for `app = Flask(__name__)`.
        for stmt in _body_statements(self.node.body):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                name, value = stmt.targets[0].id, stmt.value
            elif (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.value is not None
            ):
                name, value = stmt.target.id, stmt.value
            else:
                continue
            scope.locals[name] = ctx.evaluate(value, scope)
        return scope

    def local_def(self, name: str) -> str | None:
        """Qualified name of a function or class ``name`` visible from here, if nested."""
        frame: Frame | None = self
        while frame is not None and frame.kind != "module":
            if name in frame.defs:
                return frame.defs[name]
            frame = frame.parent
        return None


# The last module walked, its definitions and its framework: every extractor walks the
# same file in turn. Each is one tuple, replaced whole: a thread reading it sees one
# file's, and another thread's file fails the identity test (its tree and context,
# kept alive by the tuple, are no other file's). Not thread-local: ``threading`` was
# imported for it alone by a rerun after an edit.
_last_walk: tuple[ast.Module, ModuleContext, list[tuple[ast.AST, Frame]]] | None = None
_last_definitions: tuple[ast.Module, ModuleContext, list[tuple[Definition, Frame]]] | None = None
_last_framework: tuple[ModuleContext, str | None] | None = None


def walk(tree: ast.Module, ctx: ModuleContext) -> list[tuple[ast.AST, Frame]]:
    """Every function and class definition and every call, in source order, with its frame.

    Decorators, default values and base classes belong to the enclosing frame.
    """
    global _last_walk
    cached = _last_walk
    if cached is not None and cached[0] is tree and cached[1] is ctx:
        return cached[2]
    out: list[tuple[ast.AST, Frame]] = []
    root = Frame(ctx, "module", ctx.module, node=tree)
    _walk_body(tree.body, root, out)
    _last_walk = (tree, ctx, out)
    return out


def _walk_body(body: list[ast.stmt], frame: Frame, out: list[tuple[ast.AST, Frame]]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qualname = f"{frame.qualname}.{stmt.name}"
            frame.defs[stmt.name] = qualname
            outer: list[ast.expr] = list(stmt.decorator_list)
            if isinstance(stmt, ast.ClassDef):
                outer += [*stmt.bases, *(k.value for k in stmt.keywords)]
            else:
                outer += [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]
            for expr in outer:
                _calls(expr, frame, out)
            out.append((stmt, frame))
            kind = "class" if isinstance(stmt, ast.ClassDef) else "function"
            _walk_body(stmt.body, Frame(frame.ctx, kind, qualname, parent=frame, node=stmt), out)
            continue
        for name, value in ast.iter_fields(stmt):
            if name in ("body", "orelse", "finalbody", "handlers", "cases"):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.AST):
                    _calls(item, frame, out)
        for child in child_bodies(stmt):
            _walk_body(child, frame, out)


def _calls(node: ast.AST, frame: Frame, out: list[tuple[ast.AST, Frame]]) -> None:
    found = [n for n in iter_nodes(node) if type(n) is ast.Call]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    out.extend((n, frame) for n in found)


def _body_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of one function body, looking into blocks but not nested definitions."""
    for stmt in body:
        yield stmt
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for child in child_bodies(stmt):
                yield from _body_statements(child)


Definition: TypeAlias = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def definitions(tree: ast.Module, ctx: ModuleContext) -> list[tuple[Definition, Frame]]:
    """Every function and class definition, in source order, with its frame: what
    :func:`walk` gives without the calls, from the statements alone (no expression is
    visited, so it costs a small part of a walk)."""
    global _last_definitions
    cached = _last_definitions
    if cached is not None and cached[0] is tree and cached[1] is ctx:
        return cached[2]
    out: list[tuple[Definition, Frame]] = []
    _definitions(tree.body, Frame(ctx, "module", ctx.module, node=tree), out)
    _last_definitions = (tree, ctx, out)
    return out


def _definitions(body: list[ast.stmt], frame: Frame, out: list[tuple[Definition, Frame]]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qualname = f"{frame.qualname}.{stmt.name}"
            frame.defs[stmt.name] = qualname
            out.append((stmt, frame))
            kind = "class" if isinstance(stmt, ast.ClassDef) else "function"
            inner = Frame(frame.ctx, kind, qualname, parent=frame, node=stmt)
            _definitions(stmt.body, inner, out)
            continue
        for child in child_bodies(stmt):
            _definitions(child, frame, out)


def decorated(tree: ast.Module, ctx: ModuleContext) -> Iterator[tuple[ast.Call, Definition, Frame]]:
    """Each decorator call (``@x.route("/a")``) with the definition it decorates."""
    for node, frame in definitions(tree, ctx):
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call):
                yield deco, node, frame


def calls(
    tree: ast.Module, ctx: ModuleContext, methods: frozenset[str]
) -> Iterator[tuple[ast.Call, tuple[ast.expr, str], Frame]]:
    """Each method call ``receiver.name(...)`` whose name is one of ``methods``, with its
    receiver and name. A module whose text never names one of them is not walked."""
    if not ctx.mentions(*sorted(methods)):
        return
    for node, frame in walk(tree, ctx):
        if isinstance(node, ast.Call):
            found = method_call(node)
            if found is not None and found[1] in methods:
                yield node, found, frame


# --- names and values --------------------------------------------------------------------


def method_call(call: ast.Call) -> tuple[ast.expr, str] | None:
    """``receiver.name(...)`` -> (receiver, name)."""
    if isinstance(call.func, ast.Attribute):
        return call.func.value, call.func.attr
    return None


def argument(call: ast.Call, index: int | None, name: str | None = None) -> ast.expr | None:
    """A call's argument by keyword ``name`` or position ``index``."""
    if name is not None:
        for kw in call.keywords:
            if kw.arg == name:
                return kw.value
    if (
        index is not None
        and 0 <= index < len(call.args)
        and not isinstance(call.args[index], ast.Starred)
    ):
        return call.args[index]
    return None


def evaluate(expr: ast.expr, frame: Frame) -> Value:
    return frame.ctx.evaluate(expr, frame.scope)


def prefix_value(expr: ast.expr | None, frame: Frame) -> Value:
    """A mount's prefix; :data:`NO_PREFIX` when none was given (or ``None`` was)."""
    if expr is None:
        return NO_PREFIX
    return evaluate(expr, frame)


def owner_value(expr: ast.expr, frame: Frame) -> Value:
    """The symbolic identity of an app, blueprint, router or route list.

    Module-level names give ``Ref("<module>.<name>")``; locals give what they evaluate to (an
    ``Obj`` for ``app = Flask(__name__)``) or, when that says nothing, a ``Ref`` named after
    the function so the same local is recognised at each use.
    """
    value = evaluate(expr, frame)
    if isinstance(value, Dyn) and isinstance(expr, ast.Name) and frame.kind == "function":
        return Ref(f"{frame.qualname}.{expr.id}")
    return value


def owner_type(expr: ast.expr, frame: Frame) -> str | None:
    """The type an owner was created with, when this module shows it (``flask.Flask``), or
    :data:`NOT_AN_OWNER` for a module global holding a literal (a dict, a list, a string)."""
    value: Value = evaluate(expr, frame)
    ctx = frame.ctx
    for _ in range(4):
        if isinstance(value, Obj):
            return value.type
        if not isinstance(value, Ref):
            return None
        module, _, name = value.qualname.rpartition(".")
        if module != ctx.module or name not in ctx.globals:
            return None
        if isinstance(ctx.globals[name], _LITERALS):
            return NOT_AN_OWNER
        value = ctx.evaluate(ctx.globals[name])
    return None


def framework_of(owner: ast.expr, frame: Frame) -> str | None:
    """The web framework an owner expression belongs to, ``None`` when nothing tells, or
    :data:`NOT_AN_OWNER`.

    The owner's type decides when this module creates it; otherwise the framework the module
    imports (a views module importing a blueprint created elsewhere still imports ``flask``).
    """
    kind = owner_type(owner, frame)
    if kind == NOT_AN_OWNER:
        return kind
    if kind is not None:
        found = _FRAMEWORK_PACKAGES.get(kind.split(".", 1)[0])
        if found is not None:
            return found
    return imported_framework(frame.ctx)


def imported_framework(ctx: ModuleContext) -> str | None:
    """The web framework the module imports, if any (remembered for the last module asked)."""
    global _last_framework
    cached = _last_framework
    if cached is not None and cached[0] is ctx:
        return cached[1]
    found: str | None = None
    imported = set(ctx.imports.values())
    for package, framework in _IMPORT_PRIORITY:
        if any(q == package or q.startswith(package + ".") for q in imported):
            found = framework
            break
    _last_framework = (ctx, found)
    return found


def looks_like_path(value: Value) -> bool:
    """What a route decorator takes: a path starting with a literal ``/`` or with a constant
    (``API_PREFIX + "/users"``)."""
    head = leading(value)
    return (isinstance(head, Lit) and head.text.startswith("/")) or isinstance(head, Ref)


def handler_name(expr: ast.expr, frame: Frame) -> str:
    """Qualified name of a view: ``<module>.<func>``, ``<module>.<Class>``, an imported
    ``pkg.views.func``, ``<Class>.<method>`` for a bound method of a known instance."""
    ctx = frame.ctx
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "as_view"
    ):
        return handler_name(expr.func.value, frame)
    if isinstance(expr, ast.Name):
        nested = frame.local_def(expr.id)
        if nested is not None:
            return nested
    qual = ctx.qualname(expr, frame.scope)
    if qual is not None:
        return qual
    value = evaluate(expr, frame)
    if isinstance(value, Ref):
        return value.qualname
    if isinstance(expr, ast.Attribute):
        base = evaluate(expr.value, frame)
        if isinstance(base, Obj):
            return f"{base.type}.{expr.attr}"
        if isinstance(base, Ref):
            return f"{base.qualname}.{expr.attr}"
    parts = dotted(expr)
    if parts:
        return ".".join(parts)
    return source_text(expr)


def def_qualname(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, frame: Frame) -> str:
    return f"{frame.qualname}.{node.name}"


def literal_methods(
    expr: ast.expr | None, frame: Frame, default: tuple[str, ...]
) -> tuple[str, ...]:
    """``methods=["GET", "POST"]`` -> ("GET", "POST"); ``*`` when not literal."""
    if expr is None:
        return default
    if (
        isinstance(expr, ast.Name)
        and expr.id in frame.ctx.globals
        and frame.ctx.globals[expr.id] is not expr
    ):
        expr = frame.ctx.globals[expr.id]
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return (expr.value.upper(),)
    if isinstance(expr, ast.List | ast.Tuple | ast.Set):
        methods: list[str] = []
        for item in expr.elts:
            if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                return ("*",)
            if item.value.upper() not in methods:
                methods.append(item.value.upper())
        return tuple(methods) or default
    return ("*",)


def given_methods(call: ast.Call, frame: Frame) -> tuple[str, ...] | None:
    """The ``methods=`` a call passes, or ``None`` when it passes none."""
    expr = argument(call, None, "methods")
    return None if expr is None else literal_methods(expr, frame, ("*",))


def class_methods(
    cls: ast.ClassDef, names: tuple[str, ...] = HTTP_METHODS
) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The methods of a class-based view that answer HTTP methods, in source order."""
    return [
        stmt
        for stmt in cls.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in names
    ]


def local_class(expr: ast.expr, frame: Frame) -> tuple[ast.ClassDef, str] | None:
    """The class definition ``expr`` (or ``expr.as_view()``) names, when it is in this module."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "as_view"
    ):
        expr = expr.func.value
    if not isinstance(expr, ast.Name):
        return None
    wanted = frame.local_def(expr.id)
    if wanted is None:
        cls = frame.ctx.classes.get(expr.id)
        return (cls, f"{frame.ctx.module}.{expr.id}") if cls is not None else None
    for node, outer in definitions(frame.ctx.tree, frame.ctx):
        if isinstance(node, ast.ClassDef) and f"{outer.qualname}.{node.name}" == wanted:
            return node, wanted
    return None


def view_routes(
    framework: str,
    owner: Value,
    path: Value,
    view: ast.expr,
    frame: Frame,
    line: int,
    methods: tuple[str, ...] | None,
    default: tuple[str, ...],
) -> list[RawRoute]:
    """Routes for a view given by reference: a function, or a class-based view whose HTTP
    methods are its ``get``/``post``/... methods (one route each, handled by that method)."""
    found = local_class(view, frame)
    if found is not None and methods is None:
        cls, qual = found
        handlers = class_methods(cls)
        if handlers:
            return [
                RawRoute(framework, owner, (m.name.upper(),), path, f"{qual}.{m.name}", line)
                for m in handlers
            ]
    return [RawRoute(framework, owner, methods or default, path, handler_name(view, frame), line)]


# --- examples ----------------------------------------------------------------------------


@record
class Route:
    """An expected route: methods joined by spaces, the path as :func:`describe` shows it."""

    methods: str
    path: str
    handler: str
    line: int
    #: The owner as :func:`describe` shows it; ``None`` leaves it unchecked.
    owner: str | None = None

    def __str__(self) -> str:
        return f"{self.methods} {self.path} -> {self.handler} (line {self.line})"


@record
class Mount:
    """An expected mount: ``child`` registered on ``parent`` under ``prefix``."""

    parent: str
    child: str
    prefix: str
    line: int

    def __str__(self) -> str:
        return f"{self.child} mounted on {self.parent} at {self.prefix!r} (line {self.line})"


@record
class ServerExample:
    """Code an extractor must read, with everything it must report (and nothing more)."""

    code: str
    routes: tuple[Route, ...] = ()
    mounts: tuple[Mount, ...] = ()
    grpc: tuple[GrpcMethod, ...] = ()
    #: Module name the code is scanned as; handlers are qualified with it.
    module: str = "example"


def describe(value: Value) -> str:
    """A stable text for owners and paths in examples: a reference by its qualified name,
    an object by its type, and a concatenation as :func:`show` renders it."""
    if isinstance(value, Ref):
        return value.qualname
    if isinstance(value, Obj):
        return f"{value.type}()"
    if isinstance(value, Param):
        return f"{value.function}.{value.name}"
    if isinstance(value, Dyn) and value == NO_PREFIX:
        return "<none>"
    if isinstance(value, Concat | Lit):
        return show(value)
    return show(value)


def route_of(route: RawRoute) -> Route:
    return Route(
        " ".join(route.methods),
        describe(route.path),
        route.handler,
        route.line,
        describe(route.owner),
    )


def mount_of(mount: RawMount) -> Mount:
    return Mount(describe(mount.parent), describe(mount.child), describe(mount.prefix), mount.line)
