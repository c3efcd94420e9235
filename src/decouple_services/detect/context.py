"""Import tables and static evaluation of expressions for one module.

``ModuleContext`` answers two questions about a parsed module without running it: which
qualified name does a dotted expression refer to (``rq.post`` -> ``requests.post``), and what
is an expression's symbolic value (``f"{BASE}/users"`` -> ``Concat(Ref(mod.BASE), "/users")``).
Function bodies are evaluated with a :class:`Scope` that tracks local assignments in order.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import unicodedata
from collections import deque
from collections.abc import Container, Iterable, Iterator
from dataclasses import field
from typing import TypeGuard

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.records import record
from decouple_services.detect.values import (
    ANSWER,
    CALLED,
    FIELD_OF,
    FIXTURE,
    ONE_OF,
    STR_FORMAT,
    STR_METHODS,
    URL_ORIGIN,
    Concat,
    Dyn,
    Env,
    Join,
    Lit,
    Obj,
    Param,
    Ref,
    Setting,
    Value,
    answer_of,
    as_run_time,
    concat,
    dyn,
    read_at_run_time,
    show,
)

#: Functions that read an environment variable: (qualified name, index of the default arg).
ENV_READERS: dict[str, tuple[int | None, str]] = {
    "os.getenv": (1, "os.getenv"),
    "os.environ.get": (1, "os.environ"),
    "os.environ.setdefault": (1, "os.environ"),
    "decouple.config": (1, "python-decouple"),
}
#: Method names of an ``environs.Env()`` / ``environ.Env()`` instance that read a variable.
_ENVIRONS_METHODS = frozenset({"str", "url", "__call__", "get_value", "int"})
_URLJOIN = frozenset({"urllib.parse.urljoin", "urlparse.urljoin", "yarl.URL.join"})
_URLUNPARSE = frozenset({"urllib.parse.urlunparse", "urllib.parse.urlunsplit"})
#: Context managers whose ``with ... as`` target is the one object they are given:
#: ``closing(x)`` and ``aclosing(x)`` enter as ``x`` (and close it on exit),
#: ``nullcontext(x)`` enters as ``x``.
ENTERED_AS_GIVEN = frozenset(
    {"contextlib.closing", "contextlib.aclosing", "contextlib.nullcontext"}
)
#: An ``ExitStack``'s methods that enter a context manager and return what it enters as.
ENTER_METHODS = frozenset({"enter_context", "enter_async_context"})


def _origin_parts(node: ast.expr) -> ast.expr | None:
    """``(parts.scheme, parts.netloc, "", "", "", "")``: ``parts``, whose scheme and host
    make the url; None for any other tuple."""
    if not isinstance(node, ast.Tuple | ast.List) or len(node.elts) < 2:
        return None
    scheme, netloc, *rest = node.elts
    if not (
        isinstance(scheme, ast.Attribute)
        and scheme.attr == "scheme"
        and isinstance(netloc, ast.Attribute)
        and netloc.attr == "netloc"
        and ast.dump(scheme.value) == ast.dump(netloc.value)
    ):
        return None
    if any(not (isinstance(e, ast.Constant) and e.value in ("", None)) for e in rest):
        return None
    return scheme.value


_DJANGO_SETTINGS = frozenset({"django.conf.settings"})
#: django-configurations' value classes (``values.Value``, ``values.URLValue``...).
_CONFIGURATIONS_VALUES = "configurations.values."
_MAX_DEPTH = 40


def module_package(module: str, is_package: bool) -> str:
    if is_package:
        return module
    return module.rpartition(".")[0]


def build_imports(
    tree: ast.Module,
    module: str,
    is_package: bool,
    statements: Iterable[ast.AST] | None = None,
) -> dict[str, str]:
    """Local name -> qualified name for every import in the module (any nesting level).
    ``statements``: :func:`statements_breadth_first` of ``tree``, when already listed."""
    table: dict[str, str] = {}
    stars: list[str] = []
    package = module_package(module, is_package)
    for node in statements if statements is not None else statements_breadth_first(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    table[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    table[root] = root
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level > 1:
                    parts = (
                        parts[: len(parts) - (node.level - 1)]
                        if node.level - 1 <= len(parts)
                        else []
                    )
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                if alias.name == "*":
                    if base:
                        stars.append(base)
                    continue
                table[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    for local, qualname in table.items():
        table[local] = standard_name(qualname)
    if stars:
        # `from ..api.users import *`: a name defined nowhere else comes from there (from
        # one of them, unknown which, when there are several: "")
        table[STAR] = stars[0] if len(stars) == 1 else ""
    return table


#: Methods reading a response's body as data.
_BODY_READERS = frozenset({"json"})


_MAX_ANSWERS = 4


def _answers_deep(value: Value) -> int:
    """How many answers ``value`` was read through (its first argument, repeatedly)."""
    count = 0
    while isinstance(value, Obj) and value.args and count <= _MAX_ANSWERS:
        if value.type == ANSWER:
            count += 1
        value = value.args[0]
        if isinstance(value, Concat) and value.parts:
            value = value.parts[0]
    return count


def _is_call_result(value: Value) -> TypeGuard[Obj]:
    """A value a function call gave (``requests.get(url)``), not an object a method of
    another gave or a class built with nothing."""
    return isinstance(value, Obj) and "()" not in value.type and not value.type.startswith("@")


def _plain_imports(statements: Iterable[ast.AST]) -> frozenset[str]:
    """What ``import a.b`` / ``import a.b as c`` statements name (``a.b`` and ``a``), among
    a module's ``statements``."""
    found: set[str] = set()
    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(standard_name(alias.name))
                found.add(standard_name(alias.name.split(".")[0]))
    return frozenset(found)


#: Compatibility layers re-exporting the standard library under another name (``from
#: six.moves import urllib``): the standard module they stand for, longest prefix first.
_MOVES = (
    ("six.moves.urllib_parse", "urllib.parse"),
    ("six.moves.urllib_request", "urllib.request"),
    ("six.moves.http_client", "http.client"),
    ("six.moves.urllib", "urllib"),
    ("future.moves.", ""),
    ("future.backports.", ""),
)


def moved_names() -> tuple[tuple[str, str], ...]:
    """The names a compatibility layer gives a standard module (``urllib_request`` for
    ``urllib.request``), with that module: what text binds it besides its own name."""
    return tuple((moved.rpartition(".")[2], standard) for moved, standard in _MOVES if standard)


def standard_name(qualname: str) -> str:
    """``six.moves.urllib.request`` -> ``urllib.request``: a name a compatibility layer
    re-exports, as the standard library names it; any other name as it is."""
    for moved, standard in _MOVES:
        if moved.endswith("."):
            if qualname.startswith(moved):
                return standard + qualname[len(moved) :]
        elif qualname == moved or qualname.startswith(moved + "."):
            return standard + qualname[len(moved) :]
    return qualname


_BODY_FIELDS = frozenset({"body", "handlers", "orelse", "finalbody", "cases"})
#: The key of the import table holding the one module a ``from x import *`` names.
STAR = "*"
_BUILTINS = frozenset(dir(builtins))


def statements_breadth_first(tree: ast.Module) -> Iterator[ast.AST]:
    """The nodes ``ast.walk`` would give, in its order, restricted to statements (and the
    handlers and match cases that hold them): imports are statements, so the expressions,
    most of a tree, need not be visited."""
    queue: deque[ast.AST] = deque([tree])
    pop, extend, AST = queue.popleft, queue.extend, ast.AST
    while queue:
        node = pop()
        yield node
        kind = type(node)
        names = _BODIES_OF.get(kind)
        if names is None:
            names = _BODIES_OF[kind] = tuple(n for n in kind._fields if n in _BODY_FIELDS)
        for name in names:
            value = getattr(node, name, None)
            if type(value) is list:
                extend(v for v in value if isinstance(v, AST))


#: Per node type: its fields among ``_BODY_FIELDS``, in field order.
_BODIES_OF: dict[type, tuple[str, ...]] = {}


def iter_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` in the same (breadth-first) order, about twice as fast: fields are read
    directly instead of through ``ast.iter_child_nodes``."""
    queue: deque[ast.AST] = deque([node])
    pop, push, AST = queue.popleft, queue.append, ast.AST
    while queue:
        node = pop()
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, AST):
                push(value)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        push(item)


def dotted(expr: ast.expr) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None for anything that is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return parts[::-1]
    return None


@record(frozen=False, slots=False)
class Scope:
    """Bindings visible at one point of a function (or class/module) body."""

    kind: str  # "module" | "class" | "function"
    qualname: str
    parent: Scope | None = None
    locals: dict[str, Value] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    #: Qualified name of the class whose method this is (for ``self.x``).
    owner_class: str | None = None
    #: Names assigned anywhere in this function: a read before the assignment is still local.
    #: Only ever asked ``in``: it may be found when first asked.
    assigned: Container[str] = frozenset()
    #: Parameters annotated with a client type (``session: aiohttp.ClientSession``): the
    #: object they hold, whatever the caller passes.
    param_types: dict[str, str] = field(default_factory=dict)
    #: Parameters annotated with another class (``command: ApiRequestCommand``): their
    #: attributes are the fields its objects are built with.
    param_models: dict[str, str] = field(default_factory=dict)
    #: Defaults of the parameters of an ``__init__`` (what ``self.x = x`` holds when the
    #: class is built without ``x``).
    param_defaults: dict[str, Value] = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _words(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b")


class ModuleContext:
    """Static knowledge about one module: imports, module-level bindings, classes."""

    def __init__(
        self, tree: ast.Module, module: str, *, is_package: bool = False, text: str | None = None
    ) -> None:
        self.tree = tree
        self._text = text
        #: ``text`` folded to NFKC, when it is not ASCII and ``mentions`` was asked
        self._folded: str | None = None
        #: Source lines as UTF-8 (``ast`` positions count UTF-8 bytes), for "as written" text.
        self._lines = (
            [line.encode("utf-8") for line in text.splitlines(keepends=True)] if text else []
        )
        self.module = module
        # both tables read the imports among the statements, listed once
        statements = list(statements_breadth_first(tree))
        self.imports = build_imports(tree, module, is_package, statements)
        #: What ``import a.b`` / ``import a.b as c`` statements name: modules for certain.
        self.imported_modules = _plain_imports(statements)
        self._stub: str | None = None
        #: Module-level assignments: name -> expression (the last one wins).
        self.globals: dict[str, ast.expr] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        #: Class qualname -> qualified names of its bases.
        self.class_bases: dict[str, tuple[str, ...]] = {}
        for stmt in module_level_statements(tree.body):
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.globals[target.id] = stmt.value
            elif (
                isinstance(stmt, ast.AnnAssign)
                and stmt.value is not None
                and isinstance(stmt.target, ast.Name)
            ):
                self.globals[stmt.target.id] = stmt.value
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[stmt.name] = stmt
            elif isinstance(stmt, ast.ClassDef):
                self.classes[stmt.name] = stmt
        self.module_scope = Scope("module", module)
        self._evaluating: set[int] = set()

    def mentions(self, *names: str) -> bool:
        """Whether any of ``names`` may occur as an identifier in the module (an attribute
        ``app.add_url_rule`` needs the word ``add_url_rule`` in the text): a cheap test that
        lets a reader skip a walk of the whole tree. True when the text is unknown; in a text
        that is not ASCII, the names are looked for in the text folded to NFKC (as ``ast``
        folds identifiers: the written word can differ)."""
        text = self._text
        if not text:
            return True
        if not text.isascii():
            # an identifier is its written form folded to NFKC: in the folded text it is
            # there as written (a substring is enough: this only has to never say no
            # wrongly)
            if self._folded is None:
                self._folded = unicodedata.normalize("NFKC", text)
            folded = self._folded
            return not all(n.isascii() for n in names) or any(n in folded for n in names)
        # a whole word is a substring first: the fast scan for each name leaves the
        # regular expression (slow over a whole module) the few modules holding one
        present = tuple(n for n in names if n in text)
        return bool(present) and _words(present).search(text) is not None

    def source_text(self, node: ast.AST) -> str:
        """An expression exactly as written (lines joined with one space); ``ast.unparse``
        when positions are missing. Unparsing would differ between Python versions."""
        lineno: int | None = getattr(node, "lineno", None)
        end_lineno: int | None = getattr(node, "end_lineno", None)
        col: int | None = getattr(node, "col_offset", None)
        end_col: int | None = getattr(node, "end_col_offset", None)
        if (
            lineno is None
            or end_lineno is None
            or col is None
            or end_col is None
            or end_lineno > len(self._lines)
        ):
            return source_text(node)
        if lineno == end_lineno:
            raw = self._lines[lineno - 1][col:end_col]
            return raw.decode("utf-8", "replace")
        pieces = [self._lines[lineno - 1][col:]]
        pieces.extend(self._lines[lineno : end_lineno - 1])
        pieces.append(self._lines[end_lineno - 1][:end_col])
        return " ".join(p.decode("utf-8", "replace").strip() for p in pieces if p.strip())

    # --- names ------------------------------------------------------------------------------

    def qualname(self, expr: ast.expr, scope: Scope | None = None) -> str | None:
        """The qualified name a dotted expression refers to, through imports and module defs."""
        parts = dotted(expr)
        if parts is None:
            return None
        head = parts[0]
        if scope is not None and is_local(scope, head):
            return None
        if head in self.imports:
            return ".".join([self.imports[head], *parts[1:]])
        if head in self.functions or head in self.classes:
            return ".".join([self.module, *parts])
        star = self.imports.get(STAR)
        if star and head not in self.globals and head not in _BUILTINS:
            return ".".join([star, *parts])
        return None

    def client_type(self, annotation: ast.expr | None, scope: Scope | None = None) -> str | None:
        """The client class an annotation names (``aiohttp.ClientSession``,
        ``Optional[httpx.AsyncClient]``, ``Annotated[FooStub, Depends(...)]``,
        ``"UsersClient"``), or None for anything else: only types that make requests count,
        so an annotated ``url: HttpUrl`` stays a parameter."""
        for _ in range(4):
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                try:
                    annotation = ast.parse(annotation.value, mode="eval").body
                except SyntaxError:
                    return None
            elif isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
                left, right = annotation.left, annotation.right
                if _is_str(left) or _is_str(right):
                    return None  # `url: httpx.URL | str`: a value the caller gives
                annotation = right if _is_none(left) else left
            elif isinstance(annotation, ast.Subscript):
                annotation = _optional_inner(annotation)
                if annotation is None:
                    return None
            else:
                break
        if annotation is None:
            return None
        qual = self.qualname(annotation, scope)
        if qual is None:
            return None
        top, cls = qual.split(".", 1)[0], qual.rpartition(".")[2]
        if top in _CLIENT_MODULES and cls in _REQUEST_VALUES:
            return None
        if top in _CLIENT_MODULES or cls.endswith(("Stub", "Client", "Session")):
            return qual
        if _HOLDS_CLIENTS().fullmatch(cls):
            # `clients: GrpcClientParams`, `deps: ServiceClients`: an object holding clients,
            # read through what its class's `__init__` sets
            return qual
        return None

    def stub_type(self) -> str | None:
        """What an unannotated ``stub`` (``grpc_stub``, ``users_stub``) parameter holds in
        this module: the one gRPC stub class of a generated ``*_pb2_grpc`` module it uses,
        or None when it uses none or several."""
        if self._stub is None:
            stubs: set[str] = set()
            generated = {
                local: qual
                for local, qual in self.imports.items()
                if qual.rpartition(".")[2].endswith("_pb2_grpc")
                or qual.rpartition(".")[0].endswith("_pb2_grpc")
            }
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Attribute) and node.attr.endswith("Stub"):
                    if isinstance(node.value, ast.Name) and node.value.id in generated:
                        stubs.add(f"{generated[node.value.id]}.{node.attr}")
                elif isinstance(node, ast.Name) and node.id.endswith("Stub"):
                    qual = generated.get(node.id)
                    if qual is not None:
                        stubs.add(qual)
            self._stub = next(iter(stubs)) if len(stubs) == 1 else ""
        return self._stub or None

    def session_type(self, is_async: bool) -> str | None:
        """What an unannotated ``session`` parameter holds in this module: the session of
        the one HTTP client library it imports (helpers take the caller's session), or None
        when it imports none or several, or a database library whose sessions look alike."""
        tops = {q.split(".", 1)[0] for q in self.imports.values()}
        if tops & _DB_SESSION_MODULES:
            return None
        libraries = tops & set(_SESSION_TYPES)
        if len(libraries) != 1:
            return None
        (library,) = libraries
        sync, asynchronous = _SESSION_TYPES[library]
        return asynchronous if is_async else sync

    def base_qualnames(self, cls: ast.ClassDef) -> tuple[str, ...]:
        names = []
        for base in cls.bases:
            q = self.qualname(base)
            if q is None:
                parts = dotted(base)
                q = ".".join(parts) if parts else None
            if q:
                names.append(q)
        return tuple(names)

    # --- evaluation -------------------------------------------------------------------------

    def evaluate(self, expr: ast.expr | None, scope: Scope | None = None, depth: int = 0) -> Value:
        """The symbolic value of ``expr`` in ``scope`` (module scope when omitted)."""
        if expr is None:
            return Dyn("None")
        scope = scope or self.module_scope
        if depth > _MAX_DEPTH:
            return dyn(self.source_text(expr))
        return self._eval(expr, scope, depth + 1)

    def _eval(self, expr: ast.expr, scope: Scope, depth: int) -> Value:
        ev = self.evaluate
        if isinstance(expr, ast.Constant):
            if isinstance(expr.value, str):
                return Lit(expr.value)
            if isinstance(expr.value, bytes):
                return Lit(expr.value.decode("latin-1"))
            if expr.value is None:
                return Dyn("None")
            if isinstance(expr.value, bool):
                return Lit(str(expr.value))
            if isinstance(expr.value, int | float):
                return Lit(str(expr.value))
            return dyn(self.source_text(expr))
        if isinstance(expr, ast.JoinedStr):
            parts: list[Value] = []
            for part in expr.values:
                if isinstance(part, ast.FormattedValue):
                    parts.append(ev(part.value, scope, depth))
                else:
                    parts.append(ev(part, scope, depth))
            return concat(*parts)
        if isinstance(expr, ast.BinOp):
            if isinstance(expr.op, ast.Add):
                return concat(ev(expr.left, scope, depth), ev(expr.right, scope, depth))
            if (
                isinstance(expr.op, ast.Mod)
                and isinstance(expr.left, ast.Constant)
                and isinstance(expr.left.value, str)
            ):
                return self._percent(expr.left.value, expr.right, scope, depth)
            return dyn(self.source_text(expr))
        if isinstance(expr, ast.Name):
            return self._name(expr.id, scope, depth)
        if isinstance(expr, ast.Attribute):
            return self._attribute(expr, scope, depth)
        if isinstance(expr, ast.Subscript):
            return self._subscript(expr, scope, depth)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            # `os.getenv("X") or "http://default"`: the env var, with the rest as default.
            first = ev(expr.values[0], scope, depth)
            if isinstance(first, Env) and first.default is None and len(expr.values) == 2:
                return Env(first.name, ev(expr.values[1], scope, depth), first.reader)
            if isinstance(first, Param):
                # `self.base_url = base_url or Config.USERS_URL`: an optional override, and
                # the default every caller that passes nothing gets.
                fallback = ev(expr.values[-1], scope, depth)
                return first if isinstance(fallback, Dyn | Param) else fallback
            if read_at_run_time(first):
                return ev(expr.values[-1], scope, depth)
            return first
        if isinstance(expr, ast.IfExp):
            return ev(expr.body, scope, depth)
        if isinstance(expr, ast.Await):
            return ev(expr.value, scope, depth)
        if isinstance(expr, ast.NamedExpr):
            return ev(expr.value, scope, depth)
        return dyn(self.source_text(expr))

    def _percent(self, template: str, right: ast.expr, scope: Scope, depth: int) -> Value:
        items = right.elts if isinstance(right, ast.Tuple) else [right]
        values = [self.evaluate(item, scope, depth) for item in items]
        pieces = template.split("%")
        parts: list[Value] = [Lit(pieces[0])]
        index = 0
        for piece in pieces[1:]:
            if piece.startswith("%"):
                parts.append(Lit("%" + piece[1:]))
                continue
            # skip the conversion spec (flags, width, type letter)
            j = 0
            while j < len(piece) and piece[j] in "0123456789.-+ #":
                j += 1
            j += 1
            parts.append(values[index] if index < len(values) else Dyn("?"))
            index += 1
            parts.append(Lit(piece[j:]))
        return concat(*parts)

    def _format(self, template: str, call: ast.Call, scope: Scope, depth: int) -> Value:
        parts: list[Value] = []
        auto = 0
        text = template
        out = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "{" and text.startswith("{{", i):
                out += "{"
                i += 2
                continue
            if ch == "}" and text.startswith("}}", i):
                out += "}"
                i += 2
                continue
            if ch == "{":
                end = text.find("}", i)
                if end < 0:
                    return dyn(self.source_text(call))
                field_name = text[i + 1 : end].split("!")[0].split(":")[0]
                parts.append(Lit(out))
                out = ""
                value: Value
                if field_name == "":
                    value = (
                        self.evaluate(call.args[auto], scope, depth)
                        if auto < len(call.args)
                        else Dyn("?")
                    )
                    auto += 1
                elif field_name.isdigit():
                    idx = int(field_name)
                    value = (
                        self.evaluate(call.args[idx], scope, depth)
                        if idx < len(call.args)
                        else Dyn("?")
                    )
                else:
                    kw = next((k.value for k in call.keywords if k.arg == field_name), None)
                    value = self.evaluate(kw, scope, depth) if kw is not None else Dyn(field_name)
                parts.append(value)
                i = end + 1
                continue
            out += ch
            i += 1
        parts.append(Lit(out))
        return concat(*parts)

    def _param_model(self, name: str, scope: Scope) -> str | None:
        current: Scope | None = scope
        while current is not None:
            if current.kind == "function" or current is scope:
                if name in current.locals:
                    return None
                if name in current.params:
                    return current.param_models.get(name)
            current = current.parent
        return None

    def model_type(self, annotation: ast.expr, scope: Scope | None = None) -> str | None:
        """The class a parameter's annotation names, when it is a class of the project or
        of a library other than the standard types (``command: ApiRequestCommand``,
        ``Optional[Order]``), for reading the fields its objects are built with."""
        for _ in range(4):
            if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
                left, right = annotation.left, annotation.right
                if not (_is_none(left) or _is_none(right)):
                    return None
                annotation = right if _is_none(left) else left
            elif isinstance(annotation, ast.Subscript):
                inner = _optional_inner(annotation)
                if inner is None:
                    return None
                annotation = inner
            else:
                break
        if not isinstance(annotation, ast.Name | ast.Attribute):
            return None
        qual = self.qualname(annotation, scope)
        if qual is None or qual.split(".", 1)[0] in _TYPE_MODULES or "." not in qual:
            return None
        return qual if _is_class_name(qual) else None

    def _name(self, name: str, scope: Scope, depth: int) -> Value:
        current: Scope | None = scope
        while current is not None:
            if current.kind == "function" or current is scope:
                if name in current.locals:
                    return current.locals[name]
                if name in current.params:
                    typed = current.param_types.get(name)
                    return Obj(typed) if typed else Param(name, current.qualname)
                if current.kind == "function" and name in current.assigned:
                    return Dyn(name)
            current = current.parent
        if name in self.globals:
            return Ref(f"{self.module}.{name}")
        if name in self.imports:
            return Ref(self.imports[name])
        if name in self.functions or name in self.classes:
            return Ref(f"{self.module}.{name}")
        star = self.imports.get(STAR)
        if star and name not in _BUILTINS:
            # `from . import *`: a name bound nowhere here comes from there (`URL`)
            return Ref(f"{star}.{name}")
        return Dyn(name)

    def _attribute(self, expr: ast.Attribute, scope: Scope, depth: int) -> Value:
        base = expr.value
        if isinstance(base, ast.Name) and base.id in ("self", "cls") and scope.owner_class:
            owner = scope.owner_class
            if expr.attr == "client" and self._is_locust_user(owner):
                return Obj("locust.client", kwargs=(("host", Ref(f"{owner}.host")),))
            return Ref(f"{owner}.{expr.attr}")
        if (
            expr.attr == "client"
            and isinstance(base, ast.Name)
            and self._imports_locust()
            and isinstance(self._name(base.id, scope, depth), Param)
        ):
            # `def signup(l): l.client.post(...)`: load-test helpers take the user or TaskSet.
            return Obj("locust.client")
        if expr.attr == "state":
            # app.state / request.app.state / request.state: one shared namespace per service,
            # filled by `app.state.x = ...` and by a lifespan's `yield {"x": ...}`.
            return Ref("@state")
        qual = self.qualname(expr, scope)
        if qual is not None:
            if qual.rpartition(".")[0] in _DJANGO_SETTINGS:
                return Setting("django", expr.attr)
            return Ref(qual)
        inner = self.evaluate(base, scope, depth)
        if isinstance(inner, Ref):
            return Ref(f"{inner.qualname}.{expr.attr}")
        if isinstance(inner, Param) and isinstance(base, ast.Name):
            model = self._param_model(base.id, scope)
            if model is not None:
                # `command.service_url` of `command: ApiRequestCommand`: the field its
                # objects are built with
                return Obj(FIELD_OF, (Lit(model), Lit(expr.attr), dyn(self.source_text(expr))))
        if isinstance(inner, Obj) and not inner.args and _is_class_name(inner.type):
            # `clients.users` on a parameter typed `clients: Clients`: the attribute its
            # class sets
            return Ref(f"{inner.type}.{expr.attr}")
        return dyn(self.source_text(expr))

    def _subscript(self, expr: ast.Subscript, scope: Scope, depth: int) -> Value:
        key = self.evaluate(expr.slice, scope, depth)
        container = self.qualname(expr.value, scope)
        if container == "os.environ":
            return Env(key, None, "os.environ")
        parts = dotted(expr.value)
        if parts and parts[-1] == "config" and isinstance(key, Lit):
            # Flask: app.config["X"], current_app.config["X"]
            return Setting("flask", key.text)
        if parts and parts[-1] in _AIOHTTP_APP_NAMES and isinstance(key, Lit | Ref):
            # aiohttp's per-application storage: one namespace per service, like app.state
            # (keys are strings or web.AppKey constants).
            return Ref(f"@app[{key.text if isinstance(key, Lit) else key.qualname}]")
        inner = self.evaluate(expr.value, scope, depth)
        if isinstance(inner, Ref) and isinstance(key, Lit):
            return Ref(f"{inner.qualname}[{key.text}]")
        read = answer_of(inner, key, self.source_text(expr))
        if read is not None:
            # `content["submissions_url"]` of `content = response.json()`
            return read
        shown = dyn(self.source_text(expr))
        if (
            isinstance(inner, Ref)
            and isinstance(expr.slice, _RUN_TIME_KEYS)
            and not isinstance(key, Lit)
            and inner.qualname.split(".", 1)[0] not in _TYPE_MODULES
        ):
            # `SERVICES[name]`: one of the mapping's values, which one the running program
            # decides (resolution reads the mapping's table of keys, when it has one)
            return Obj(ONE_OF, (inner, shown))
        return shown

    def _call(self, call: ast.Call, scope: Scope, depth: int) -> Value:
        func = call.func
        if isinstance(func, ast.Subscript):
            # `GrpcClient[UsersStub](...)`: a generic class is built as the class is
            func = func.value
        qual = self.qualname(func, scope)
        if (
            isinstance(func, ast.Name)
            and func.id in ("str", "int")
            and call.args
            and not is_local(scope, func.id)
            and func.id not in self.globals
            and func.id not in self.imports
        ):
            return self.evaluate(call.args[0], scope, depth)
        if (
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(call.args) == 2
            and not is_local(scope, func.id)
            and func.id not in self.globals
            and func.id not in self.imports
        ):
            # `getattr(session, method)`: a bound method picked at run time, kept so that
            # calling it reads as `session.request(method, ...)`
            return Obj(
                GETATTR,
                (
                    self.evaluate(call.args[0], scope, depth),
                    self.evaluate(call.args[1], scope, depth),
                ),
            )
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ENTER_METHODS
            and len(call.args) == 1
            and not call.keywords
            and not isinstance(call.args[0], ast.Starred)
        ):
            # `s = stack.enter_context(requests.Session())`: what the stack enters is what
            # a `with` would bind (the session itself). Any object of the method's name is
            # taken for a stack, but an object known to be of another class.
            stack = self.evaluate(func.value, scope, depth)
            if not isinstance(stack, Obj) or stack.type.endswith("ExitStack"):
                inside = entered(self.evaluate(call.args[0], scope, depth))
                if isinstance(inside, Obj | Ref | Param):
                    return inside
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and not isinstance(func.value, ast.Constant)
        ):
            template = self.evaluate(func.value, scope, depth)
            if isinstance(template, Ref | Setting | Env):
                # `URLS["user"].format(user_id)`, `settings.URL_TEMPLATE.format(path=p)`: a
                # template defined elsewhere
                return Obj(
                    STR_FORMAT,
                    (template, *self._args(call, scope, depth)),
                    self._kwargs(call, scope, depth),
                )
        if qual is None and isinstance(func, ast.Name):
            local = self._name(func.id, scope, depth)
            if isinstance(local, Ref):
                qual = local.qualname
            elif isinstance(local, Param) or (
                isinstance(local, Obj) and local.type.startswith(FIXTURE)
            ):
                # `self._stub = stub(channel)`: whatever the caller passes, called; known
                # once the parameter is bound (an object built with `stub=UsersStub`).
                # `make_client(realm)` of a fixture handing out a factory: known once
                # the fixture's value is looked up.
                return Obj(
                    CALLED,
                    (local, *self._args(call, scope, depth)),
                    self._kwargs(call, scope, depth),
                )
        if qual is not None:
            reader = ENV_READERS.get(qual)
            if reader is not None and call.args:
                default_index, how = reader
                default = _arg(call, default_index, "default")
                return Env(
                    self.evaluate(call.args[0], scope, depth),
                    self.evaluate(default, scope, depth) if default is not None else None,
                    how,
                )
            if qual in _URLUNPARSE and len(call.args) == 1:
                parts = _origin_parts(call.args[0])
                if parts is not None:
                    return Obj(URL_ORIGIN, (self.evaluate(parts, scope, depth),))
            if qual in _URLJOIN and len(call.args) >= 2:
                return Join(
                    self.evaluate(call.args[0], scope, depth),
                    self.evaluate(call.args[1], scope, depth),
                )
            if qual in ("str", "builtins.str") and call.args:
                return self.evaluate(call.args[0], scope, depth)
            return self._obj(qual, call, scope, depth)
        if isinstance(func, ast.Attribute):
            # "...".format(...)
            if (
                func.attr == "format"
                and isinstance(func.value, ast.Constant)
                and isinstance(func.value.value, str)
            ):
                return self._format(func.value.value, call, scope, depth)
            if func.attr in ("rstrip", "lstrip", "strip") and call.args:
                # BASE.rstrip("/"): the joined url reads the same for matching purposes
                return self.evaluate(func.value, scope, depth)
            if (
                isinstance(func.value, ast.Name)
                and func.value.id in ("self", "cls")
                and scope.owner_class
            ):
                # `self.url_for(path)`: known once the method's return is looked up
                return Obj(
                    f"{scope.owner_class}.{func.attr}()",
                    self._args(call, scope, depth),
                    self._kwargs(call, scope, depth),
                )
            # a method of a field or mapping read (`command.url.strip()`): run time only
            receiver = as_run_time(self.evaluate(func.value, scope, depth))
            if (
                func.attr in _BODY_READERS
                and not call.args
                and _is_call_result(receiver)
                and _answers_deep(receiver) < _MAX_ANSWERS
            ):
                # `response.json()`: the answer of the call `response` holds (a chain of
                # answers read from answers is followed a few links deep)
                shown = show(Obj(f"{receiver.type}.{func.attr}()"))
                return Obj(ANSWER, (receiver,), (("src", Lit(shown)),))
            if func.attr == "get" and call.args and answer_of(receiver) is not None:
                key = self.evaluate(call.args[0], scope, depth)
                return answer_of(receiver, key, self.source_text(call)) or receiver
            if func.attr in STR_METHODS and not call.args:
                if isinstance(receiver, Lit):
                    return Lit(STR_METHODS[func.attr](receiver.text))
                if isinstance(receiver, Param | Ref):
                    # kept symbolic: a helper's `name.upper()` is known once `name` is bound
                    return Obj(f"str.{func.attr}", (receiver,))
            if (
                isinstance(receiver, Obj)
                and receiver.type in ("environs.Env", "environ.Env")
                and call.args
            ):
                default = _arg(call, 1, "default")
                return Env(
                    self.evaluate(call.args[0], scope, depth),
                    self.evaluate(default, scope, depth) if default is not None else None,
                    "environs" if receiver.type == "environs.Env" else "django-environ",
                )
            if isinstance(receiver, Ref) and func.attr in _ENVIRONS_METHODS and call.args:
                # an Env() instance defined in another module: keep as a deferred read
                return Obj(
                    f"{receiver.qualname}.{func.attr}()",
                    self._args(call, scope, depth),
                    self._kwargs(call, scope, depth),
                )
            if (
                isinstance(receiver, Ref)
                and func.attr == "get"
                and call.args
                and receiver.qualname.endswith(".config")
            ):
                return Setting("flask", _lit_text(self.evaluate(call.args[0], scope, depth)))
            if isinstance(receiver, Ref) and func.attr == "get" and len(call.args) == 1:
                key = self.evaluate(call.args[0], scope, depth)
                if isinstance(key, Lit):
                    # `URLS.get("get_user")` on a module-level dict: its item
                    return Ref(f"{receiver.qualname}[{key.text}]")
            if isinstance(receiver, Obj):
                return Obj(
                    f"{receiver.type}.{func.attr}()",
                    self._args(call, scope, depth),
                    self._kwargs(call, scope, depth),
                )
            if isinstance(receiver, Ref):
                return Obj(
                    f"{receiver.qualname}.{func.attr}()",
                    self._args(call, scope, depth),
                    self._kwargs(call, scope, depth),
                )
        if isinstance(func, ast.Name) and func.id in ("Env",) and not call.args:
            return Obj("environs.Env")
        return dyn(self.source_text(call))

    def _obj(self, qual: str, call: ast.Call, scope: Scope, depth: int) -> Value:
        if qual in ("environs.Env",):
            return Obj("environs.Env")
        if qual.startswith(_CONFIGURATIONS_VALUES) and qual.endswith("Value"):
            return self._configurations_value(call, None, scope, depth) or Obj(
                qual, self._args(call, scope, depth), self._kwargs(call, scope, depth)
            )
        return Obj(qual, self._args(call, scope, depth), self._kwargs(call, scope, depth))

    def _configurations_value(
        self, call: ast.Call, attribute: str | None, scope: Scope, depth: int
    ) -> Value | None:
        """django-configurations' ``values.Value(default, environ_name=..., environ_prefix=...)``:
        the environment variable ``{prefix}_{name}`` (``DJANGO_`` and the setting's own name
        unless told otherwise), with the default. ``attribute`` is the setting's name, None
        when the call is not seen assigned to one."""
        kwargs = {k.arg: k.value for k in call.keywords if k.arg is not None}
        default = call.args[0] if call.args else kwargs.get("default")
        environ = kwargs.get("environ", ast.Constant(True))
        if isinstance(environ, ast.Constant) and environ.value is False:
            # read from no variable: the default is the value
            return self.evaluate(default, scope, depth) if default is not None else None
        name_expr = kwargs.get("environ_name")
        if isinstance(name_expr, ast.Constant) and isinstance(name_expr.value, str):
            name = name_expr.value
        elif name_expr is None and attribute is not None:
            name = attribute
        else:
            return None
        prefix_expr = kwargs.get("environ_prefix", ast.Constant("DJANGO"))
        if not isinstance(prefix_expr, ast.Constant) or not isinstance(
            prefix_expr.value, str | type(None)
        ):
            return None
        prefix = f"{prefix_expr.value}_" if prefix_expr.value else ""
        return Env(
            Lit(prefix + name),
            self.evaluate(default, scope, depth) if default is not None else None,
            "django-configurations",
        )

    def configurations_setting(self, expr: ast.expr, attribute: str, scope: Scope) -> Value | None:
        """``URL = values.Value(...)`` in a configuration class: the variable it reads."""
        if not isinstance(expr, ast.Call):
            return None
        qual = self.qualname(expr.func, scope)
        if qual is None or not qual.startswith(_CONFIGURATIONS_VALUES):
            return None
        return self._configurations_value(expr, attribute, scope, 0)

    def _args(self, call: ast.Call, scope: Scope, depth: int) -> tuple[Value, ...]:
        return tuple(
            self.evaluate(a, scope, depth)
            if not isinstance(a, ast.Starred)
            else dyn(self.source_text(a))
            for a in call.args[:6]
        )

    def _kwargs(self, call: ast.Call, scope: Scope, depth: int) -> tuple[tuple[str, Value], ...]:
        return tuple(
            (k.arg, self.evaluate(k.value, scope, depth))
            for k in call.keywords
            if k.arg is not None
        )

    def _is_locust_user(self, class_qualname: str) -> bool:
        name = class_qualname.rpartition(".")[2]
        cls = self.classes.get(name)
        if cls is None:
            return False
        # A TaskSet's self.client is its user's client.
        return any(
            b.startswith("locust.") and b.endswith(("User", "TaskSet"))
            for b in self.base_qualnames(cls)
        )

    def _imports_locust(self) -> bool:
        return any(q == "locust" or q.startswith("locust.") for q in self.imports.values())


#: Names of an aiohttp application where handlers and startup hooks reach it:
#: ``app[...]``, ``request.app[...]``, ``request.config_dict[...]``.
_AIOHTTP_APP_NAMES = frozenset({"app", "config_dict"})


def _is_class_name(qualname: str) -> bool:
    """``pkg.mod.Clients``: a dotted name ending in a class's CapWords name (not a call's
    result ``pkg.f()``, nor a library's lowercase factory)."""
    last = qualname.rpartition(".")[2]
    return "." in qualname and last[:1].isupper() and last.isidentifier()


#: The value of ``getattr(obj, name)``: ``Obj(GETATTR, (obj, name))``.
GETATTR = "builtins.getattr"

#: Parameter names that hold an HTTP session by convention, and what each library's is.
SESSION_PARAMS = frozenset({"session", "http_session", "http_client", "http"})
_SESSION_TYPES = {
    "aiohttp": ("aiohttp.ClientSession", "aiohttp.ClientSession"),
    "httpx": ("httpx.Client", "httpx.AsyncClient"),
    "requests": ("requests.Session", "requests.Session"),
}
_DB_SESSION_MODULES = frozenset(
    {"sqlalchemy", "sqlmodel", "django", "pymongo", "boto3", "cassandra"}
)

#: Keys a mapping is read with that the running program computes: a name, an attribute, a
#: call, an f-string or an expression (`SERVICES[name]`, `ROUTES[path.split("/")[0]]`);
#: not a tuple or a slice (`Dict[str, Any]`, `rows[1:]`).
_RUN_TIME_KEYS = (ast.Name, ast.Attribute, ast.Call, ast.JoinedStr, ast.BinOp, ast.Subscript)
#: Modules whose subscripted names are types (`Optional[User]`, `list[int]`), not mappings.
_TYPE_MODULES = frozenset({"typing", "typing_extensions", "collections", "builtins"})

#: Libraries whose annotated objects make requests.
_CLIENT_MODULES = frozenset({"aiohttp", "httpx", "requests", "urllib3", "grpc"})


#: Classes of those libraries that are what a request is made of, not what makes one: an
#: annotated ``url: httpx.URL`` or ``request: httpx.Request`` stays a parameter, so a helper
#: sending what its caller built takes the address from its caller.
_REQUEST_VALUES = frozenset({"URL", "Request", "PreparedRequest"})


#: Class names of objects that hold clients: `Clients`, `GrpcClientParams`, `ApiClients`.
_HOLDS_CLIENTS = lazy_pattern(r"[A-Z]\w*Clients?(?:Params|Container|Registry|Set|Pool)?|Clients")


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("str", "bytes")


def _lit_text(value: Value) -> str:
    return value.text if isinstance(value, Lit) else "?"


def _arg(call: ast.Call, index: int | None, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if index is not None and index < len(call.args):
        return call.args[index]
    return None


def is_local(scope: Scope, name: str) -> bool:
    current: Scope | None = scope
    while current is not None:
        if current.kind == "function" and (
            name in current.locals or name in current.params or name in current.assigned
        ):
            return True
        current = current.parent
    return False


def entered(value: Value) -> Value:
    """What ``with <value> as name`` binds ``name`` to: the object itself (a session or
    client enters as itself), or the one object ``contextlib.closing(...)``,
    ``aclosing(...)`` or ``nullcontext(...)`` is given (``with closing(requests.Session())
    as s`` makes ``s`` the session)."""
    if (
        isinstance(value, Obj)
        and value.type in ENTERED_AS_GIVEN
        and len(value.args) == 1
        and not value.kwargs
    ):
        return value.args[0]
    return value


def module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time, looking into if/try/with blocks (including
    ``if __name__ == "__main__":``, where scripts often create their clients)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from module_level_statements(stmt.body)
            yield from module_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from module_level_statements(stmt.body)
            for handler in stmt.handlers:
                yield from module_level_statements(handler.body)
            yield from module_level_statements(stmt.orelse)
            yield from module_level_statements(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from module_level_statements(stmt.body)


def top_level_values(tree: ast.Module, name: str) -> list[ast.expr]:
    """The values the module's own top-level statements bind ``name`` to, by ``=`` or an
    annotated ``=``, in order (not looking into blocks: one bound there may not run)."""
    found: list[ast.expr] = []
    for stmt in tree.body:
        targets = (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        value = getattr(stmt, "value", None)
        if value is not None and any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found.append(value)
    return found


def source_text(node: ast.AST) -> str:
    """An expression as written, on one line (for urls and payloads shown to users)."""
    try:
        return " ".join(ast.unparse(node).split())
    except Exception:  # unparse has failed on exotic trees; a label is enough here
        return type(node).__name__


#: Statements holding no statement lists (most of any module): nothing to look for.
_SIMPLE_STATEMENTS = frozenset(
    {
        ast.Expr,
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
        ast.Return,
        ast.Import,
        ast.ImportFrom,
        ast.Pass,
        ast.Raise,
        ast.Delete,
        ast.Global,
        ast.Nonlocal,
        ast.Break,
        ast.Continue,
        ast.Assert,
    }
)


def child_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement (if/for/while/try/with/match)."""
    if type(stmt) in _SIMPLE_STATEMENTS:
        return []
    bodies: list[list[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            bodies.append(value)
    bodies.extend(h.body for h in getattr(stmt, "handlers", []) or [])
    bodies.extend(c.body for c in getattr(stmt, "cases", []) or [])
    return bodies


__all__ = [
    "ENV_READERS",
    "ModuleContext",
    "Scope",
    "build_imports",
    "child_bodies",
    "dotted",
    "iter_nodes",
    "module_level_statements",
    "source_text",
    "statements_breadth_first",
]


def _optional_inner(annotation: ast.Subscript) -> ast.expr | None:
    """The annotation inside ``Optional[...]`` or ``Annotated[...]`` (its first argument);
    None for any other subscript."""
    wrapper = dotted(annotation.value)
    if not wrapper or wrapper[-1] not in ("Optional", "Annotated"):
        return None
    inner = annotation.slice
    return inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
