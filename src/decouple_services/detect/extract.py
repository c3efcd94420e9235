"""Extraction: one file's source in, its :class:`FileFacts` out.

One pass over the standard library's ``ast`` (about ten times cheaper than libcst), walking
statements in order so local assignments are known when a call is reached. Records the calls
that may be requests, the constants and client objects other files may import, settings
classes, listening ports, and (through ``detect/servers``) the routes a service serves.
Files whose syntax the running Python cannot parse fall back to libcst's parser, which knows
newer grammar, and are converted to ``ast`` through their source positions.
"""

from __future__ import annotations

import ast
import bisect
import io
import posixpath
import re
import sys
import tokenize
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import field, replace
from typing import Any

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import Diagnostic, ResponseUse, Severity
from decouple_services.core.records import record
from decouple_services.detect.base import HTTP_VERBS
from decouple_services.detect.context import (
    GETATTR,
    SESSION_PARAMS,
    STAR,
    ModuleContext,
    Scope,
    child_bodies,
    dotted,
    entered,
    is_local,
    module_level_statements,
    top_level_values,
)
from decouple_services.detect.events import TOKEN as EVENT_TOKEN
from decouple_services.detect.events import find_event_sends
from decouple_services.detect.facts import (
    BASES,
    CALL_PARAM,
    REQUEST_FUNCTION_PARAMS,
    Constant,
    FileFacts,
    FunctionInfo,
    GrpcMethod,
    Port,
    RawCall,
    RawMount,
    RawRoute,
)
from decouple_services.detect.library_helper import looks_like_a_request
from decouple_services.detect.response import classify, parent_map, parents_and_loads
from decouple_services.detect.servers import SERVER_EXTRACTORS, may_serve
from decouple_services.detect.values import (
    ANSWER,
    ANY_KEY,
    FIELD_OF,
    FIXTURE,
    INIT_DEFAULT,
    ONE_OF,
    SUPER_INIT,
    TABLE_KEYS,
    Dyn,
    Lit,
    Obj,
    Param,
    Ref,
    Value,
    answer_of,
    dyn,
    named_answer,
    shown_as,
)


def _dependency(
    default: ast.expr | None, annotation: ast.expr | None, ctx: ModuleContext, scope: Scope
) -> str | None:
    """The function a FastAPI ``Depends(...)`` names, in a default or an ``Annotated``."""
    candidates: list[ast.expr] = [default] if default is not None else []
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple):
        candidates.extend(annotation.slice.elts[1:])
    for node in candidates:
        if (
            isinstance(node, ast.Call)
            and node.args
            and (dotted(node.func) or [""])[-1] == "Depends"
        ):
            return ctx.qualname(node.args[0], scope)
    return None


def _opaque(value: Value) -> bool:
    """A value with nothing to follow: run-time only, a parameter, or a DI marker."""
    return isinstance(value, Dyn | Param) or (
        isinstance(value, Obj)
        and (
            value.type in (ONE_OF, FIELD_OF)
            or value.type.rpartition(".")[2] in ("Depends", "Provide")
        )
    )


#: ``# decouple: ignore`` (drop the call), ``# decouple: ignore[DCP004, DCP005]`` (keep the
#: call, suppress those rules' findings at it) and ``# decouple: target=<service>``.
_DIRECTIVE = lazy_pattern(
    r"#\s*decouple:\s*(?:(ignore)\b(?:\s*\[([^\]]*)\])?|target\s*=\s*([A-Za-z0-9_.:\-]+))"
)
#: Last names of context managers and decorators that open a database transaction: Django's
#: ``transaction.atomic``, SQLAlchemy's ``session.begin()``/``begin_nested()``, asyncpg's and
#: peewee's ``conn.transaction()``.
_TRANSACTION_NAMES = frozenset({"atomic", "begin", "begin_nested", "transaction"})


#: ``unittest.mock.patch`` and the ``mock`` backport: ``patch("pkg.mod.name")``.
_PATCHERS = frozenset({"unittest.mock.patch", "mock.patch"})
#: ``patch.object(module, "name")``.
_OBJECT_PATCHERS = frozenset({"unittest.mock.patch.object", "mock.patch.object"})
#: What ``unittest.mock`` builds stand-ins with.
_MOCK_CLASSES = frozenset(
    {"Mock", "MagicMock", "AsyncMock", "NonCallableMock", "NonCallableMagicMock", "create_autospec"}
)


def _is_transaction(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr in _TRANSACTION_NAMES
    return isinstance(expr, ast.Name) and expr.id in _TRANSACTION_NAMES


#: Elements of a module-level list or tuple recorded one by one; longer ones are data.
_MAX_ELEMENTS = 64

_LOOPS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_SUBMITTERS = {
    "submit": 0,
    "to_thread": 0,
    "run_in_executor": 1,
    "apply_async": 0,
    "spawn": 0,
    "start_soon": 0,
    # `executor.map(stub.PutObservations, requests)`, `pool.imap(fetch, urls)`: the
    # function runs once per element (what it is given is an element, unknown here)
    "map": 0,
    "imap": 0,
    "imap_unordered": 0,
}
#: Submitters taking the function's arguments packed (multiprocessing's
#: ``pool.apply_async(func, args=(), kwds={})``) rather than spread after it.
_PACKED_SUBMITTERS = frozenset({"apply_async"})
_SETTINGS_BASES = frozenset(
    {"pydantic.BaseSettings", "pydantic_settings.BaseSettings", "pydantic.v1.BaseSettings"}
)
_SERVE_FUNCS = frozenset(
    {"uvicorn.run", "aiohttp.web.run_app", "web.run_app", "hypercorn.run", "waitress.serve"}
)
_MAX_SRC = 200

ServerExtractor = Callable[
    [ast.Module, ModuleContext], tuple[Sequence[RawRoute], Sequence[RawMount], Sequence[GrpcMethod]]
]


@record(slots=False)
class ExtractOptions:
    """What decides which calls are worth recording (part of the cache key)."""

    #: Top-level modules of client libraries (``requests``, ``httpx``...).
    client_modules: frozenset[str] = frozenset()
    #: Method names that may be requests when called on objects of unknown type.
    method_names: frozenset[str] = frozenset()
    #: Qualified names of configured custom clients.
    custom_clients: frozenset[str] = frozenset()
    #: Short names of the project's wrapper helpers, learned from a first pass.
    wrapper_names: frozenset[str] = frozenset()
    #: Route extractors: ``(tree, context) -> (routes, mounts, grpc_methods)``.
    server_extractors: tuple[ServerExtractor, ...] = field(default=())


def parse_source(source: bytes, path: str) -> tuple[ast.Module | None, str, Diagnostic | None]:
    """Parse with ``ast``; on a syntax error retry with libcst's newer grammar.

    Returns the tree, the text its positions refer to (the decoded source, or its lowered
    form after the libcst fallback), and the problem when there is no tree.
    """
    try:
        with warnings.catch_warnings():
            # `"\d"` and friends in the scanned code are its owners' business, not noise
            # for every scan to print.
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
        return tree, decode_source(source), None
    except SyntaxError as exc:
        if "codec" in (exc.msg or "") or "decode" in (exc.msg or ""):
            return _skipped(
                path, exc.lineno, "undecodable", f"cannot decode: {exc.msg}; file skipped"
            )
        if "null bytes" in (exc.msg or ""):
            return _skipped(
                path, exc.lineno, "null-bytes", "file contains NUL bytes (binary?); skipped"
            )
        # the traceback would hold this frame (source, text) in a cycle until collected
        first_error = exc.with_traceback(None)
    except (ValueError, RecursionError, MemoryError) as exc:
        code = "too-deep" if isinstance(exc, RecursionError | MemoryError) else "null-bytes"
        return _skipped(path, 1, code, f"cannot parse: {type(exc).__name__}: {exc}")
    # Most newer syntax (PEP 695 generics and aliases, PEP 758 except lists) is rewritten
    # in the text, keeping every line, and read by ast; libcst is the slow last resort.
    # Imported for the files that need it: a rerun extracting its edited files seldom does.
    from decouple_services.detect.lowering import lower_fstrings, lower_new_syntax

    text = decode_source(source)
    lowered_text = lower_new_syntax(text)
    if lowered_text is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(lowered_text, filename=path), lowered_text, None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    # PEP 701 f-strings with fields over several lines or reusing their quote, in triple
    # quotes: importing and running libcst for one such file cost polar's scan 0.4 s
    widened = lower_fstrings(lowered_text if lowered_text is not None else text)
    if widened is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(widened, filename=path), widened, None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    if "too many nested" in (first_error.msg or "") or _bracket_depth(source) > _MAX_FALLBACK_DEPTH:
        # libcst's native parser overflows its stack on such input instead of raising
        return _skipped(
            path, first_error.lineno, "too-deep", "nesting too deep to analyse; file skipped"
        )
    message = first_error.msg or "invalid syntax"
    if len(source) > MAX_FALLBACK_BYTES:
        # libcst's parser takes about 600 times a file's size in memory
        return _skipped(
            path,
            first_error.lineno,
            "parse-error",
            f"syntax error: {message}; over {MAX_FALLBACK_BYTES // 1024} KiB, too large "
            "for the newer-syntax parser; file skipped",
        )
    lowered = _parse_with_libcst(source)
    if lowered is not None:
        return lowered[0], lowered[1], None
    hint = " (Python 2 syntax?)" if _looks_like_python2(source) else ""
    return _skipped(
        path, first_error.lineno, "parse-error", f"syntax error: {message}{hint}; file skipped"
    )


def _skipped(path: str, line: int | None, code: str, message: str) -> tuple[None, str, Diagnostic]:
    """What :func:`parse_source` returns for a file it cannot read: no tree, the reason."""
    return None, "", Diagnostic(path, line or 1, Severity.WARNING, code, message)


_MAX_FALLBACK_DEPTH = 100
#: Candidate calls recorded per file at most. Each costs resolution work later; a file
#: holding thousands (a 100k-line function of requests) is generated or hostile.
MAX_CALLS_PER_FILE = 2000
#: Larger files with a syntax error are not handed to libcst: its parser needs about 600
#: times the file's size in memory, per worker (2.9 GB for a 4.9 MB file).
MAX_FALLBACK_BYTES = 512 * 1024


def _bracket_depth(source: bytes) -> int:
    """Deepest bracket nesting, ignoring strings roughly: a cheap guard before libcst."""
    depth = deepest = 0
    for byte in source:
        if byte in b"([{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b")]}":
            depth = max(0, depth - 1)
    return deepest


def _looks_like_python2(source: bytes) -> bool:
    return bool(
        re.search(rb"^\s*print\s+[\"'\w]", source, re.M)
        or re.search(rb"except\s+\w+\s*,\s*\w+\s*:", source)
    )


def decode_source(source: bytes) -> str:
    """The text of the Python ``source``, as ``ast`` parses it: decoded with the file's
    coding cookie (PEP 263) or BOM (left out), else as UTF-8 with what does not decode
    replaced. The scan and the migration's search of the repository's tests read through
    it, so a file in another encoding reads the same in both."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return source.decode("utf-8", "replace")


def _parse_with_libcst(source: bytes) -> tuple[ast.Module, str] | None:
    """Newer syntax (PEP 695, 701, 758) than this Python knows: parse with libcst, which
    accepts it, then lower the parts ``ast`` cannot express so the rest is still analysed."""
    try:
        import libcst as cst
    except ImportError:  # pragma: no cover - libcst is a dependency
        return None
    try:
        module = cst.parse_module(source)
    except Exception:  # libcst raises ParserSyntaxError and, on odd input, others
        return None
    try:
        text = _lower_new_syntax(_lower_fstrings(module).code)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text), text
    except (SyntaxError, ValueError, RecursionError):
        return None


def _lower_fstrings(module: Any) -> Any:
    """PEP 701 f-strings (``f"{d["key"]}"``, backslashes in replacement fields) rewritten for
    older parsers: an inner string takes the other quote, and a field that still cannot be
    expressed becomes a placeholder name, so the rest of the file is analysed. Only quote
    characters and field contents change, so line numbers stay the same."""
    import libcst as cst

    class Lower(cst.CSTTransformer):
        def __init__(self) -> None:
            self.quotes: list[str] = []

        def visit_FormattedString(self, node: cst.FormattedString) -> None:
            self.quotes.append(node.quote)

        def leave_FormattedString(
            self, original: cst.FormattedString, updated: cst.FormattedString
        ) -> cst.BaseExpression:
            self.quotes.pop()
            if self.quotes and self.quotes[-1][0] in updated.quote:
                # a nested f-string with the enclosing quote: give it the other one
                other = "'" if updated.quote[0] == '"' else '"'
                return updated.with_changes(
                    start=updated.start.replace(updated.quote, other), end=other
                )
            return updated

        def leave_SimpleString(
            self, original: cst.SimpleString, updated: cst.SimpleString
        ) -> cst.BaseExpression:
            if not self.quotes:
                return updated
            outer = self.quotes[-1][0]
            quote = updated.quote
            if outer not in quote or len(quote) != 1:
                return updated
            other = "'" if quote == '"' else '"'
            body = updated.value[updated.value.index(quote) + 1 : -1]
            if other in body:
                return updated
            prefix = updated.prefix
            return updated.with_changes(value=f"{prefix}{other}{body}{other}")

        def leave_FormattedStringExpression(
            self, original: cst.FormattedStringExpression, updated: cst.FormattedStringExpression
        ) -> cst.FormattedStringExpression:
            code = cst.Module(body=[]).code_for_node(updated.expression)
            outer = self.quotes[-1][0] if self.quotes else '"'
            if "\\" in code or outer in code or "#" in code or "\n" in code:
                return updated.with_changes(expression=cst.Name("_"))
            return updated

    return module.visit(Lower())


def _lower_new_syntax(text: str) -> str:
    # PEP 695 type aliases and 3.14 `except A, B:` are the common cases; rewrite each line in
    # place so line numbers stay the same.
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if re.match(r"type\s+\w+(\[.*\])?\s*=", stripped):
            out.append(indent + "pass")
            continue
        m = re.match(r"except\s+([^():]+,[^():]+):(.*)$", stripped)
        if m and " as " not in m.group(1):
            out.append(f"{indent}except ({m.group(1)}):{m.group(2)}")
            continue
        out.append(re.sub(r"^(\s*)(def|class)\s+(\w+)\[[^\]]*\]", r"\1\2 \3", line))
    return "\n".join(out)


def extract_facts(
    source: bytes,
    path: str,
    module: str,
    options: ExtractOptions,
    *,
    is_package: bool = False,
) -> FileFacts:
    """All facts of one file. Never raises for bad input: problems become diagnostics."""
    tree, text, problem = parse_source(source, path)
    if tree is None:
        return FileFacts(path=path, module=module, diagnostics=(problem,) if problem else ())
    try:
        facts = _Extractor(tree, source, text, path, module, options, is_package).run()
        if EVENT_TOKEN in source:
            facts = replace(facts, events=find_event_sends(tree, text))
        return facts
    except RecursionError:
        return FileFacts(
            path=path,
            module=module,
            diagnostics=(
                Diagnostic(
                    path,
                    1,
                    Severity.WARNING,
                    "too-deep",
                    "nesting too deep to analyse; file skipped",
                ),
            ),
        )


class _BodyParents:
    """``parent_of`` for the nodes of one body (a function's, or the module's), built one
    statement at a time: a node is looked for in the statement its line falls in, and in
    every statement only when it is not there (a decorator sits above its ``def`` line).
    The same walk of a statement finds its reads of names (:meth:`loads`)."""

    def __init__(self, owner: ast.AST, body: Sequence[ast.stmt]) -> None:
        self._body = body
        self._starts = [stmt.lineno for stmt in body]
        self._walked: set[int] = set()
        self._parents: dict[int, ast.AST] = {id(stmt): owner for stmt in body}
        #: Per statement walked (by index): its reads of each name.
        self._loads: dict[int, dict[str, list[ast.Name]]] = {}
        #: Per name asked: its reads in the body.
        self._by_name: dict[str, list[ast.Name]] = {}

    def _walk(self, index: int) -> None:
        if index not in self._walked:
            self._walked.add(index)
            parents, loads = parents_and_loads(self._body[index])
            self._parents.update(parents)
            self._loads[index] = loads

    def get(self, node: ast.AST) -> ast.AST | None:
        found = self._parents.get(id(node))
        if found is not None:
            return found
        line = getattr(node, "lineno", None)
        if isinstance(line, int):
            index = bisect.bisect_right(self._starts, line) - 1
            if index >= 0:
                self._walk(index)
                found = self._parents.get(id(node))
                if found is not None:
                    return found
        if len(self._walked) < len(self._body):
            for index in range(len(self._body)):
                self._walk(index)
        return self._parents.get(id(node))

    def loads(self, name: str, may_read: Callable[[str, int, int], bool]) -> list[ast.Name]:
        """The reads of ``name`` in the body, in the order of :func:`name_loads`. A
        statement whose lines ``may_read`` says do not hold the word is not walked."""
        found = self._by_name.get(name)
        if found is None:
            found = self._by_name[name] = []
            for index, stmt in enumerate(self._body):
                last = stmt.end_lineno
                if last is not None and not may_read(name, _first_line(stmt), last):
                    continue
                self._walk(index)
                found.extend(self._loads[index].get(name, ()))
        return found

    def names(self) -> set[str]:
        """Every name read in the body."""
        for index in range(len(self._body)):
            self._walk(index)
        return {name for loads in self._loads.values() for name in loads}


class _NameLoads(Mapping[str, Sequence[ast.Name]]):
    """:func:`name_loads` of a body, each name's reads found when asked: ``classify`` asks
    for the one name a response is bound to."""

    def __init__(self, parents: _BodyParents, may_read: Callable[[str, int, int], bool]) -> None:
        self._parents = parents
        self._may_read = may_read

    def __getitem__(self, name: str) -> Sequence[ast.Name]:
        found = self._parents.loads(name, self._may_read)
        if not found:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._parents.names()))

    def __len__(self) -> int:
        return len(self._parents.names())


def _first_line(stmt: ast.stmt) -> int:
    """A statement's first line, its decorators included."""
    decorators: list[ast.expr] | None = getattr(stmt, "decorator_list", None)
    if decorators:
        return min(stmt.lineno, *(d.lineno for d in decorators))
    return stmt.lineno


class _Extractor:
    def __init__(
        self,
        tree: ast.Module,
        source: bytes,
        text: str,
        path: str,
        module: str,
        options: ExtractOptions,
        is_package: bool,
    ) -> None:
        self.tree = tree
        self.path = path
        self.is_package = is_package
        self._fixtures: frozenset[str] | None = None
        self._imports_mock: bool | None = None
        #: Function -> (line, attribute) of its assignments of a mock to an attribute.
        self._mock_assignments: dict[int, list[tuple[int, str]]] = {}
        #: Function node id -> its `obj.attr = Mock()` assignments (line, target).
        self._mock_targets: dict[int, list[tuple[int, ast.Attribute]]] = {}
        self.is_test_file = is_test_module(path)
        self.ctx = ModuleContext(tree, module, is_package=is_package, text=text)
        self.options = options
        self.calls: list[RawCall] = []
        self._calls_capped = False
        self.constants: list[Constant] = []
        self._factories: set[str] = set()
        self.functions: list[FunctionInfo] = []
        self.ports: list[Port] = []
        self.settings_classes: list[tuple[str, str]] = []
        self.diagnostics: list[Diagnostic] = []
        self.source = source
        #: The text the tree's positions refer to.
        self.text = text
        self.targets, self.ignored, self.suppressions = _directives(source)
        #: Ancestors of the node being visited, innermost last.
        self.stack: list[ast.AST] = []
        self._function_infos: dict[str, FunctionInfo] = {}
        #: Where each line of ``text`` starts (``_may_read``), found when first asked.
        self._line_starts: list[int] | None = None
        #: Whether lines of ``text`` are counted as ``ast`` counts them and its words are
        #: its identifiers as written: no ``\r`` (a line break to ``ast``) and ASCII (``ast``
        #: folds identifiers to NFKC).
        self._plain_text = text.isascii() and "\r" not in text
        #: Every node's parent (by id), built when the first candidate call is met.
        self._parents: dict[int, ast.AST] | None = None
        #: Per function (by id, the module's tree for module level): its body's parents.
        self._body_parents: dict[int, _BodyParents] = {}
        #: Per function (by id): its `=` statements, nested code included (`_assignments`).
        self._assigns: dict[int, list[ast.Assign]] = {}
        #: Per function (by id): every name it or its nested code assigns.
        self._stored: dict[int, set[str]] = {}
        #: The lines of ``text`` a comprehension or an assignment expression may be on
        #: (``_expression_binding_lines``), found when first asked.
        self._binding_lines: list[int] | None = None

    def run(self) -> FileFacts:
        ctx = self.ctx
        self._record_module_constants()
        self._walk_body(self.tree.body, ctx.module_scope)
        routes: list[RawRoute] = []
        mounts: list[RawMount] = []
        grpc: list[GrpcMethod] = []
        # The built-in route extractors find nothing in a file without a framework's tokens.
        serves = may_serve(self.source)
        for extractor in self.options.server_extractors:
            if not serves and extractor in SERVER_EXTRACTORS:
                continue
            try:
                r, m, g = extractor(self.tree, ctx)
            except (
                RecursionError,
                ValueError,
                AttributeError,
                TypeError,
                IndexError,
                KeyError,
            ) as exc:
                self.diagnostics.append(
                    Diagnostic(
                        self.path,
                        1,
                        Severity.NOTE,
                        "route-extraction",
                        f"routes not read: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            routes.extend(r)
            mounts.extend(m)
            grpc.extend(g)
        is_loadgen = any(q == "locust" or q.startswith("locust.") for q in ctx.imports.values())
        return FileFacts(
            path=self.path,
            module=ctx.module,
            constants=tuple(self.constants),
            functions=tuple(self._function_infos.values()),
            calls=tuple(self.calls),
            routes=tuple(routes),
            mounts=tuple(mounts),
            grpc_methods=tuple(grpc),
            ports=tuple(self.ports),
            settings_classes=tuple(self.settings_classes),
            is_loadgen=is_loadgen,
            diagnostics=tuple(self.diagnostics),
            ignored_lines=tuple(sorted(self.ignored)),
            suppressions=tuple(sorted(self.suppressions.items())),
            references=_references(self.tree, ctx, self.options.wrapper_names),
        )

    # --- constants ---------------------------------------------------------------------------

    def _record_module_constants(self) -> None:
        ctx = self.ctx
        for stmt in module_level_statements(self.tree.body):
            if isinstance(stmt, ast.ImportFrom) and self.is_package:
                # `from .params import Clients` in a package's __init__: `pkg.Clients`
                # names `pkg.params.Clients` for every module importing it from the package
                for alias in stmt.names:
                    local = alias.asname or alias.name
                    origin = ctx.imports.get(local)
                    if alias.name != "*" and origin and origin != f"{ctx.module}.{local}":
                        self._constant(f"{ctx.module}.{local}", Ref(origin), stmt.lineno)
                continue
            if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        self._constant(
                            f"{ctx.module}.{target.id}", ctx.evaluate(stmt.value), stmt.lineno
                        )
                        self._element_constants(f"{ctx.module}.{target.id}", stmt.value)
                    elif isinstance(target, ast.Attribute):
                        self._attribute_constant(target, stmt.value, ctx.module_scope, stmt.lineno)
                    elif isinstance(target, ast.Subscript):
                        self._config_item(target, stmt.value, ctx.module_scope, stmt.lineno)

    def _element_constants(self, qualname: str, expr: ast.expr, scope: Scope | None = None) -> None:
        """``SERVICE_URLS = ["http://users:8000", ...]``, ``PATHS = {"user": "/users/{}"}``:
        each element is known by its index or key, as ``SERVICE_URLS[0]`` reads it. A dict
        whose keys are all strings also records them (``PATHS[*]``), for a read with a key
        known only at run time."""
        if isinstance(expr, ast.List | ast.Tuple) and len(expr.elts) <= _MAX_ELEMENTS:
            for i, elt in enumerate(expr.elts):
                if not isinstance(elt, ast.Starred):
                    self._constant(f"{qualname}[{i}]", self.ctx.evaluate(elt, scope), elt.lineno)
        elif isinstance(expr, ast.Dict) and len(expr.keys) <= _MAX_ELEMENTS:
            # `URLS = {"get_user": "/users/{}/"}`, read as URLS["get_user"] or URLS.get(...)
            keys: list[Value] = []
            for key, item in zip(expr.keys, expr.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.append(Lit(key.value))
                    value = self.ctx.evaluate(item, scope)
                    self._constant(f"{qualname}[{key.value}]", value, item.lineno)
            if keys and len(keys) == len(expr.keys):
                self._constant(f"{qualname}{ANY_KEY}", Obj(TABLE_KEYS, tuple(keys)), expr.lineno)

    def _constant(self, qualname: str, value: Value, line: int) -> None:
        if isinstance(value, Dyn) or (isinstance(value, Obj) and value.type == FIELD_OF):
            return
        self.constants.append(Constant(qualname, value, line))

    def _super_init(self, call: ast.Call, scope: Scope) -> None:
        """``super().__init__(host=host, port=port)`` in a class's ``__init__``: what its
        objects hand the base class's constructor (the base's ``self.host``)."""
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr == "__init__"
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"
            and scope.kind == "function"
            and scope.owner_class is not None
            and scope.qualname == f"{scope.owner_class}.__init__"
        ):
            return
        args: list[Value] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                break  # positions after `*args` are not known
            args.append(self.ctx.evaluate(arg, scope))
        kwargs = tuple(
            (k.arg, self.ctx.evaluate(k.value, scope)) for k in call.keywords if k.arg is not None
        )
        self.constants.append(
            Constant(
                f"{scope.owner_class}.{SUPER_INIT}",
                Obj(SUPER_INIT, tuple(args), kwargs),
                call.lineno,
            )
        )

    def _attribute_constant(
        self, target: ast.Attribute, expr: ast.expr, scope: Scope, line: int
    ) -> None:
        """``self.x = ...``, ``app.state.client = ...``, ``settings.URL = ...``."""
        ref = self.ctx.evaluate(target, scope)
        if isinstance(ref, Ref):
            if isinstance(expr, ast.Dict):
                # `self.routes = {"users": USERS_URL, ...}`: read by key, as a class's table
                self._element_constants(ref.qualname, expr, scope)
            value = self.ctx.evaluate(expr, scope)
            if isinstance(value, Param) and value.function == scope.qualname:
                # `self.base_url = base_url` in `__init__(self, base_url=USERS_URL)`: the
                # default is what an instance built without it holds; the parameter is
                # kept beside it for a use on an object built with another.
                param = value
                value = scope.param_defaults.get(value.name, value)
                if value is not param:
                    self._constant(f"{ref.qualname}{INIT_DEFAULT}", param, line)
            self._constant(ref.qualname, value, line)
        elif (
            scope.kind == "module"
            and isinstance(target.value, ast.Name)
            and target.value.id in self.ctx.imports
        ):
            # `settings.API_URL = env.str(...)` on the imported settings object: modules
            # importing `settings` from this one read the attribute through it
            qualname = f"{self.ctx.module}.{target.value.id}.{target.attr}"
            self._constant(qualname, self.ctx.evaluate(expr, scope), line)
        else:
            base = self.ctx.evaluate(target.value, scope)
            if isinstance(base, Obj):
                self._constant(f"{base.type}.{target.attr}", self.ctx.evaluate(expr, scope), line)

    def _lifespan_state(self, state: ast.Dict, scope: Scope) -> None:
        """A lifespan's ``yield {"http": client}`` is what handlers read as ``request.state.http``."""
        for key, value in zip(state.keys, state.values, strict=False):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self._constant(f"@state.{key.value}", self.ctx.evaluate(value, scope), value.lineno)

    def _config_item(self, target: ast.Subscript, expr: ast.expr, scope: Scope, line: int) -> None:
        parts = dotted(target.value)
        key = self.ctx.evaluate(target.slice, scope)
        if parts and parts[-1] == "config" and isinstance(key, Lit):
            self._constant(f"@flask.{key.text}", self.ctx.evaluate(expr, scope), line)
            return
        slot = self.ctx.evaluate(target, scope)
        if isinstance(slot, Ref) and slot.qualname.startswith("@app["):
            # aiohttp: `app["session"] = ClientSession()`, read back as request.app["session"]
            self._constant(slot.qualname, self.ctx.evaluate(expr, scope), line)

    # --- walking -----------------------------------------------------------------------------

    def _walk_body(self, body: Sequence[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            self._stmt(stmt, scope)

    def _stmt(self, stmt: ast.stmt, scope: Scope) -> None:
        self.stack.append(stmt)
        # dispatched on the node's exact type (``ast`` makes no subclasses of its nodes):
        # cheaper than ``isinstance`` with a union, for every statement of the file
        kind = type(stmt)
        try:
            if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                self._function(stmt, scope)  # type: ignore[arg-type]
            elif kind is ast.ClassDef:
                self._class(stmt, scope)  # type: ignore[arg-type]
            elif kind is ast.With or kind is ast.AsyncWith:
                # Items bind in order: `with A() as s, s.get(url) as r` uses the first in
                # the second, so each is visited, then bound.
                for item in stmt.items:  # type: ignore[attr-defined]
                    self.stack.append(item)
                    self._visit_expr(item.context_expr, scope)
                    self.stack.pop()
                    if item.optional_vars is not None:
                        self._visit_expr(item.optional_vars, scope)
                    if isinstance(item.optional_vars, ast.Name):
                        value = entered(self.ctx.evaluate(item.context_expr, scope))
                        if scope.kind == "function":
                            scope.locals[item.optional_vars.id] = (
                                value if not isinstance(value, Dyn) else Dyn(item.optional_vars.id)
                            )
                for child_body in child_bodies(stmt):
                    self._walk_body(child_body, scope)
            else:
                self._visit_exprs(stmt, scope)
                if kind is ast.Assign or kind is ast.AnnAssign:
                    if stmt.value is not None:  # type: ignore[attr-defined]
                        self._bind(stmt, scope)  # type: ignore[arg-type]
                elif kind is ast.Return:
                    if stmt.value is not None:  # type: ignore[attr-defined]
                        self._factory_return(stmt.value, scope)  # type: ignore[attr-defined]
                elif kind is ast.Expr:
                    value = stmt.value  # type: ignore[attr-defined]
                    if isinstance(value, ast.Yield) and value.value is not None:
                        # a dependency or lifespan generator: what it yields is what users get
                        self._factory_return(value.value, scope)
                elif (kind is ast.For or kind is ast.AsyncFor) and scope.kind == "function":
                    target = stmt.target  # type: ignore[attr-defined]
                    iterable = stmt.iter  # type: ignore[attr-defined]
                    if not self._bind_only_element(target, iterable, scope) and isinstance(
                        target, ast.Name
                    ):
                        answered = self._item_of(iterable, scope)
                        scope.locals[target.id] = (
                            named_answer(answered, target.id)
                            if answered is not None
                            else Dyn(target.id)
                        )
                for child_body in child_bodies(stmt):
                    self._walk_body(child_body, scope)
        finally:
            self.stack.pop()

    def _bind_only_element(self, target: ast.expr, iterable: ast.expr, scope: Scope) -> bool:
        """``for name, (url, v) in CHECKS.items()`` over a module-level table of this file
        holding one entry (``CHECKS = {"users": (f"{USERS_URL}/version", "1.2")}``): the
        loop's names are that entry's parts. Whether they were bound."""
        method = None
        if (
            isinstance(iterable, ast.Call)
            and not iterable.args
            and isinstance(iterable.func, ast.Attribute)
            and iterable.func.attr in ("items", "values", "keys")
        ):
            method = iterable.func.attr
            iterable = iterable.func.value
        if not isinstance(iterable, ast.Name) or is_local(scope, iterable.id):
            return False
        table = self._module_literal(iterable.id)
        element: ast.expr | None = None
        if isinstance(table, ast.Dict) and method is not None and len(table.keys) == 1:
            key, value = table.keys[0], table.values[0]
            if key is None:
                return False
            element = (
                ast.Tuple(elts=[key, value], ctx=ast.Load())
                if method == "items"
                else value
                if method == "values"
                else key
            )
        elif isinstance(table, ast.List | ast.Tuple) and method is None and len(table.elts) == 1:
            element = table.elts[0]
        if element is None:
            return False
        return self._destructure(target, element, scope)

    def _destructure(self, target: ast.expr, value: ast.expr, scope: Scope) -> bool:
        if isinstance(target, ast.Name):
            scope.locals[target.id] = self.ctx.evaluate(value, self.ctx.module_scope)
            return True
        if (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(value, ast.Tuple | ast.List)
            and len(target.elts) == len(value.elts)
        ):
            return all(
                self._destructure(t, v, scope) for t, v in zip(target.elts, value.elts, strict=True)
            )
        return False

    def _module_literal(self, name: str) -> ast.expr | None:
        """The dict, list or tuple literal a module-level name of this file is bound to
        once."""
        found = top_level_values(self.tree, name)
        if len(found) == 1 and isinstance(found[0], ast.Dict | ast.List | ast.Tuple):
            return found[0]
        return None

    def _item_of(self, iterable: ast.expr, scope: Scope) -> Value | None:
        """An item of what a call answered (``for project in get_all_docs(url)``, ``for
        row in resp.json()["results"]``): that answer; None for anything else."""
        value = self.ctx.evaluate(iterable, scope)
        if answer_of(value) is not None:
            return value
        if (
            isinstance(value, Obj)
            and value.args
            and "()" not in value.type
            and not value.type.startswith(("@", "builtins."))
            and "." in value.type
        ):
            return Obj(ANSWER, (value,))
        return None

    def _factory_return(self, expr: ast.expr, scope: Scope) -> None:
        """What a function returns first (``def get_stub(): return FooStub(channel)``,
        ``def kernel_url(): return settings.KERNEL_URL``), recorded as the constant
        ``<function>()`` so a call of it is known to give that value."""
        if scope.kind != "function":
            return
        value = self.ctx.evaluate(expr, scope)
        if (
            not isinstance(value, Dyn | Param)
            and not (isinstance(value, Obj) and value.type == FIELD_OF)
            and scope.qualname not in self._factories
        ):
            self._factories.add(scope.qualname)
            self._constant(f"{scope.qualname}()", value, expr.lineno)

    def _bind(self, stmt: ast.Assign | ast.AnnAssign, scope: Scope) -> None:
        assert stmt.value is not None
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        expr: ast.expr | None = stmt.value
        if scope.kind == "class" and isinstance(stmt, ast.AnnAssign):
            # an annotated field (dataclass, pydantic settings): its default is the value
            expr = _field_default(stmt.value)
            if expr is None:
                return
        value = self.ctx.evaluate(expr, scope)
        if (
            scope.kind == "class"
            and expr is not None
            and len(targets) == 1
            and isinstance(targets[0], ast.Name)
        ):
            # a django-configurations setting named after its attribute: `URL = values.Value()`
            value = self.ctx.configurations_setting(expr, targets[0].id, scope) or value
        if isinstance(stmt, ast.AnnAssign) and _opaque(value):
            # `client: httpx.AsyncClient = Depends(get_client)`: the annotation says what the
            # name holds when its value cannot be followed (a Ref may still resolve: kept).
            typed = self.ctx.client_type(stmt.annotation, scope)
            if typed is not None:
                value = Obj(typed)
        for target in targets:
            if isinstance(target, ast.Name):
                if scope.kind == "function":
                    value = shown_as(value, target.id)
                    scope.locals[target.id] = (
                        named_answer(value, target.id)
                        if not isinstance(value, Dyn)
                        else Dyn(target.id)
                    )
                elif scope.kind == "class":
                    self._constant(f"{scope.qualname}.{target.id}", value, stmt.lineno)
                    if isinstance(expr, ast.Dict):
                        self._element_constants(f"{scope.qualname}.{target.id}", expr, scope)
            elif isinstance(target, ast.Attribute) and scope.kind != "module":
                self._attribute_constant(target, stmt.value, scope, stmt.lineno)
            elif isinstance(target, ast.Subscript) and scope.kind != "module":
                self._config_item(target, stmt.value, scope, stmt.lineno)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> None:
        for deco in node.decorator_list:
            self._visit_expr(deco, scope)
        qualname = f"{scope.qualname}.{node.name}"
        if scope.kind == "function":
            # a closure: `return inner` hands the function out (a fixture's request helper)
            scope.locals[node.name] = Ref(qualname)
        elif scope.kind == "class" and any(
            (dotted(d) or [""])[-1] in _PROPERTIES for d in node.decorator_list
        ):
            # `@property def url(self): return ...`: `self.url` is what the method returns
            self._constant(qualname, Ref(f"{qualname}()"), node.lineno)
        args = node.args
        params = tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
        if args.vararg:
            params += (args.vararg.arg,)
        if args.kwarg:
            params += (args.kwarg.arg,)
        # A staticmethod binds no self/cls: its first parameter is a real argument.
        is_method = scope.kind == "class" and not any(
            (dotted(d) or [""])[-1] == "staticmethod" for d in node.decorator_list
        )
        owner = scope.qualname if is_method else scope.owner_class
        positional = [*args.posonlyargs, *args.args]
        defaults: dict[str, ast.expr] = dict(
            zip(
                [a.arg for a in positional[len(positional) - len(args.defaults) :]],
                args.defaults,
                strict=True,
            )
        )
        defaults.update(
            (a.arg, d)
            for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if d is not None
        )
        typed: dict[str, str] = {}
        models: dict[str, str] = {}
        fixture = _fixture_name(node, self.ctx)
        if fixture is not None:
            # `@pytest.fixture def grpc_stub(): yield UsersStub(channel)`: what tests naming
            # it get
            self._constant(f"{FIXTURE}{fixture}()", Ref(f"{qualname}()"), node.lineno)
        # a fixture's own parameters are fixtures wherever it is defined (a package's
        # `__init__.py` that tests star-import)
        fixtures_here = fixture is not None or (self.is_test_file and node.name.startswith("test"))
        parametrized = _parametrized(node) if fixtures_here else frozenset()
        for a in [*positional, *args.kwonlyargs]:
            # `client = Depends(get_client)` / `Annotated[X, Depends(get_client)]`: what the
            # dependency returns or yields; else the annotated client type.
            provider = _dependency(defaults.get(a.arg), a.annotation, self.ctx, scope)
            own_fixture = (
                fixtures_here
                and a.arg not in parametrized
                and a.arg != fixture
                and a.arg in self._module_fixtures()
            )
            # pytest hands a test what the module's own fixture gives, whatever the
            # annotation says (`client: ClientSession` filled by a fixture yielding
            # `aiohttp_client(app)`, a client of an in-process application); without an
            # annotation the fixture found by name says as much, factories included
            kind = provider or (
                self._own_fixture_kind(a.arg)
                if own_fixture and a.annotation is not None
                else self.ctx.client_type(a.annotation, scope)
            )
            if kind is None and a.annotation is None and a.arg in SESSION_PARAMS:
                # `async def post_status(session, url): await session.post(url)`
                kind = self.ctx.session_type(isinstance(node, ast.AsyncFunctionDef))
            if kind is None and a.annotation is None and _stub_param(a.arg):
                # `def insert(stub, obs): stub.PutObservations(...)` in a module using
                # one generated stub class
                kind = self.ctx.stub_type()
            if (
                kind is None
                and a.annotation is None
                and fixtures_here
                and a.arg not in parametrized
                and a.arg not in ("self", "cls")
            ):
                # a test (or fixture) asks for a pytest fixture by naming it
                kind = f"{FIXTURE}{a.arg}"
            if kind:
                typed[a.arg] = kind
            elif a.annotation is not None:
                cls = self.ctx.model_type(a.annotation, scope)
                if cls is not None:
                    models[a.arg] = cls
        inner = Scope(
            "function",
            qualname,
            parent=scope,
            params=params,
            owner_class=owner,
            assigned=_Stores(self, node),
            param_types=typed,
            param_models=models,
            param_defaults=self._init_defaults(node.name, defaults, scope),
        )
        self._function_infos[qualname] = FunctionInfo(
            qualname,
            params,
            isinstance(node, ast.AsyncFunctionDef),
            node.lineno,
            is_method,
            tuple(self._followed_defaults(defaults, scope).items()),
        )
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self._visit_expr(default, scope)
        self.stack.append(node)
        try:
            self._walk_body(node.body, inner)
        finally:
            self.stack.pop()

    def _own_fixture_kind(self, name: str) -> str:
        """What a parameter naming a fixture of this module holds: what the module-level
        function defining it returns (a ``conftest.py`` fixture of the same name is the one
        it overrides), else the fixture looked up by name."""
        for node in self.tree.body:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and _fixture_name(node, self.ctx) == name
            ):
                return f"{self.ctx.module}.{node.name}()"
        return f"{FIXTURE}{name}"

    def _module_fixtures(self) -> frozenset[str]:
        """Names of the pytest fixtures this module defines."""
        if self._fixtures is None and b"fixture" not in self.source:
            # a decorator resolving to `pytest.fixture` names it somewhere in the text
            self._fixtures = frozenset()
        if self._fixtures is None:
            self._fixtures = frozenset(
                name
                for node in _statements(self.tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and (name := _fixture_name(node, self.ctx)) is not None
            )
        return self._fixtures

    def _init_defaults(
        self, name: str, defaults: dict[str, ast.expr], scope: Scope
    ) -> dict[str, Value]:
        if name != "__init__" or scope.kind != "class":
            return {}
        return self._followed_defaults(defaults, scope)

    def _followed_defaults(self, defaults: dict[str, ast.expr], scope: Scope) -> dict[str, Value]:
        """The defaults worth following: not computed at run time, not an empty string."""
        known: dict[str, Value] = {}
        for param, expr in defaults.items():
            value = self.ctx.evaluate(expr, scope)
            if not isinstance(value, Dyn) and not (isinstance(value, Lit) and not value.text):
                known[param] = value
        return known

    def _assigned_names(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        """Names stored anywhere in ``func`` (nested code included): found when first asked
        (most functions' never are), with those of the functions nested in it, so nested
        code is walked once."""
        found = self._stored.get(id(func))
        if found is None:
            if self._binds_in_statements_only(func):
                _statement_stores(func, self._stored)
            elif self._binding_lines is _EVERY_LINE:
                _function_stores(func, self._stored)
            else:
                assert self._binding_lines is not None  # found by the test above
                _line_stores(func, self._binding_lines, self._stored)
            found = self._stored[id(func)]
        return found

    def _binds_in_statements_only(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Whether ``func``'s lines, decorators included, hold no word ``for`` and no
        ``:=``: then no comprehension and no assignment expression is in it, and only its
        statements' targets store names (``_statement_stores``)."""
        lines = self._binding_lines
        if lines is None:
            lines = self._binding_lines = _expression_binding_lines(self.text)
        if lines is _EVERY_LINE:
            return False
        first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
        last = func.end_lineno
        if last is None:
            return False
        at = bisect.bisect_left(lines, first)
        return at == len(lines) or lines[at] > last

    def _class(self, node: ast.ClassDef, scope: Scope) -> None:
        qualname = f"{scope.qualname}.{node.name}"
        bases = self.ctx.base_qualnames(node)
        if any(b in _SETTINGS_BASES or b.endswith(".BaseSettings") for b in bases):
            self.settings_classes.append((qualname, _env_prefix(node)))
        project_bases = [
            b for b in bases if "." in b and not b.startswith(("builtins.", "typing."))
        ]
        if project_bases:
            # `class AuthClient(BaseClient)`: its methods may call helpers defined on the base
            self._constant(
                f"{qualname}.{BASES}", Obj(BASES, tuple(Ref(b) for b in project_bases)), node.lineno
            )
        inner = Scope("class", qualname, parent=scope, owner_class=qualname)
        self.stack.append(node)
        try:
            self._walk_body(node.body, inner)
        finally:
            self.stack.pop()

    # --- expressions -------------------------------------------------------------------------

    def _visit_exprs(self, stmt: ast.stmt, scope: Scope) -> None:
        """The expressions of a statement outside its bodies, in field order: a ``with``
        item's context expression with the item on the stack, a keyword's value without."""
        for name in _statement_fields(type(stmt)):
            value = getattr(stmt, name, None)
            if isinstance(value, ast.expr):
                if type(value) not in _LEAVES:
                    self._visit_expr(value, scope)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, ast.expr):
                        if type(item) not in _LEAVES:
                            self._visit_expr(item, scope)
                    elif isinstance(item, ast.withitem):
                        self.stack.append(item)
                        if type(item.context_expr) not in _LEAVES:
                            self._visit_expr(item.context_expr, scope)
                        self.stack.pop()
                    elif isinstance(item, ast.keyword) and type(item.value) not in _LEAVES:
                        self._visit_expr(item.value, scope)

    def _visit_expr(self, expr: ast.expr, scope: Scope) -> None:
        # recursive through the stack of ancestors the flags read; names and constants
        # (most nodes) hold no call and are never entered
        kind = type(expr)
        if kind in _LEAVES:
            return
        stack = self.stack
        stack.append(expr)
        try:
            if kind is ast.Call:
                self._call(expr, scope)  # type: ignore[arg-type]
            elif kind is ast.Yield and isinstance(expr.value, ast.Dict):  # type: ignore[attr-defined]
                self._lifespan_state(expr.value, scope)  # type: ignore[attr-defined]
            for name in _expression_fields(kind):
                value = getattr(expr, name, None)
                children: list[Any] | tuple[Any] = value if type(value) is list else (value,)
                for child in children:
                    child_kind = type(child)
                    if child_kind in _LEAVES:
                        continue
                    if child_kind is ast.keyword or child_kind is ast.comprehension:
                        stack.append(child)
                        for grand in _children(child):
                            if isinstance(grand, ast.expr) and type(grand) not in _LEAVES:
                                self._visit_expr(grand, scope)
                        stack.pop()
                    elif isinstance(child, ast.expr):
                        self._visit_expr(child, scope)
        finally:
            stack.pop()

    def _call(self, call: ast.Call, scope: Scope) -> None:
        if len(self.calls) >= MAX_CALLS_PER_FILE:
            if not self._calls_capped:
                self._calls_capped = True
                self.diagnostics.append(
                    Diagnostic(
                        self.path,
                        call.lineno,
                        Severity.WARNING,
                        "too-many-calls",
                        f"more than {MAX_CALLS_PER_FILE} candidate calls (generated?); "
                        "calls from this line on are not analysed",
                    )
                )
            return
        func = call.func
        name = _call_name(func)
        self._maybe_port(call, name, scope)
        self._super_init(call, scope)
        if name in _SUBMITTERS and len(call.args) > _SUBMITTERS[name]:
            index = _SUBMITTERS[name]
            args, keywords = call.args[index + 1 :], call.keywords
            if name in _PACKED_SUBMITTERS:
                args, keywords = _unpacked(args, keywords)
            self._candidate(call, call.args[index], args, keywords, scope, submitted=True)
            return
        self._candidate(call, func, call.args, call.keywords, scope, submitted=False)

    def _candidate(
        self,
        call: ast.Call,
        func: ast.expr,
        args: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        scope: Scope,
        *,
        submitted: bool,
    ) -> None:
        if isinstance(func, ast.Name):
            self._named_candidate(call, func, args, keywords, scope, submitted)
            return
        ctx = self.ctx
        if isinstance(func, ast.Call):
            picked = ctx.evaluate(func, scope)
            if isinstance(picked, Obj) and picked.type == GETATTR and len(picked.args) == 2:
                self._getattr_call(call, picked.args[0], picked.args[1], args, keywords, scope)
                return
        qual = ctx.qualname(func, scope)
        receiver: Value | None = None
        name = _call_name(func)
        if qual is None and isinstance(func, ast.Attribute):
            receiver = ctx.evaluate(func.value, scope)
        if not self._worth_recording(qual, receiver, name) and not (
            qual is not None and _requests_shaped(qual, args, keywords)
        ):
            if qual is None or not isinstance(func, ast.Attribute):
                self._operation_call(call, func, args, keywords, scope, submitted)
                return
            if isinstance(func.value, ast.Name) and not self._method_may_record(name):
                # `json.dumps(x)`, `pytest.raises(E)`: a name with a qualified name is bound
                # in no function around, so it reads as a `Ref`, which only the method's name
                # can make worth recording; and a bare name holds no operation
                # (`_operation_call` wants `a.b.c()`). Most calls of a file are these.
                return
            # `from .clients import search_client; search_client.get(...)`: the imported name
            # may be an object rather than a module, so try it as a method call too.
            qual, receiver = None, ctx.evaluate(func.value, scope)
            if not self._worth_recording(None, receiver, name):
                self._operation_call(call, func, args, keywords, scope, submitted)
                return
        if qual is not None:
            name = qual.rpartition(".")[2]
        self.calls.append(
            self._raw_call(call, qual, receiver, name, args, keywords, scope, submitted)
        )

    def _named_candidate(
        self,
        call: ast.Call,
        func: ast.Name,
        args: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        scope: Scope,
        submitted: bool,
    ) -> None:
        """A call of a bare name (``len(x)``, ``select(Model)``, ``get(url)``), the most
        common kind. A name with a qualified name is bound in no function around it: its
        value is a ``Ref`` (never a method ``getattr`` picked), so it is evaluated only when
        it has none; and a bare name is never an operation (``_operation_call``)."""
        ctx = self.ctx
        qual = ctx.qualname(func, scope)
        if qual is None:
            value = ctx.evaluate(func, scope)
            if isinstance(value, Obj) and value.type == GETATTR and len(value.args) == 2:
                self._getattr_call(call, value.args[0], value.args[1], args, keywords, scope)
                return
            if isinstance(value, Ref):
                qual = self._wrapped_function(func.id, value) or value.qualname
            elif isinstance(value, Obj) and value.type.startswith(FIXTURE):
                # `make_get_request("/films")`: a fixture handing out a request helper
                self.calls.append(
                    self._raw_call(call, None, value, CALL_PARAM, args, keywords, scope, submitted)
                )
                return
            elif (
                isinstance(value, Param)
                and value.function == scope.qualname
                and value.name in REQUEST_FUNCTION_PARAMS
            ):
                # `def _request(self, method, url): method(url)`: the request function is
                # the caller's (`self._request(requests.post, url)`), known at each call
                self.calls.append(
                    self._raw_call(call, None, value, CALL_PARAM, args, keywords, scope, submitted)
                )
                return
        if (
            qual is None
            and ctx.imports.get(STAR) == ""
            and func.id in self.options.wrapper_names
            and func.id not in ctx.globals
        ):
            # a helper from one of several `import *`: named bare, found by its name
            qual = func.id
        if qual is None:
            return  # no receiver: nothing makes it worth recording
        if not self._worth_recording(qual, None, func.id) and not _requests_shaped(
            qual, args, keywords
        ):
            return
        self.calls.append(
            self._raw_call(
                call, qual, None, qual.rpartition(".")[2], args, keywords, scope, submitted
            )
        )

    def _method_may_record(self, name: str) -> bool:
        """Whether a method of this name called on a ``Ref`` is recorded (the tests of
        ``_worth_recording`` that read only the name)."""
        options = self.options
        return (
            name in options.method_names
            or (name[:1].isupper() and name[1:2].islower())
            or name in options.wrapper_names
        )

    def _operation_call(
        self,
        call: ast.Call,
        func: ast.expr,
        args: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        scope: Scope,
        submitted: bool,
    ) -> None:
        """``client.pet.getPetById(petId=42)``: an operation of one of the resources of a
        client generated from an API description at run time (bravado's ``SwaggerClient``),
        recorded as the method ``"pet.getPetById"`` called on the client, whose type is
        known only once the receiver is resolved across files."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)):
            return
        resource, operation = func.value.attr, func.attr
        if resource.startswith("_") or operation.startswith("_"):
            return
        holder = func.value.value
        if isinstance(holder, ast.Name) and holder.id in ("self", "cls"):
            return
        owner = self.ctx.evaluate(holder, scope)
        if isinstance(owner, Obj):
            if "()" in owner.type:
                return
        elif not isinstance(owner, Ref) or not _may_be_an_object(owner.qualname, holder, self.ctx):
            return
        self.calls.append(
            self._raw_call(
                call, None, owner, f"{resource}.{operation}", args, keywords, scope, submitted
            )
        )

    def _wrapped_function(self, name: str, ref: Ref) -> str | None:
        """The library function a module-level ``name`` wraps: ``get = retry(requests.get)``,
        ``post = partial(requests.post, timeout=5)``. A decorator applied to a request
        function calls it as it is called; its one positional argument must be a function
        of a client library (not a class, and not applied by one of the library's own)."""
        expr = self.ctx.globals.get(name)
        if not isinstance(expr, ast.Call) or ref.qualname != f"{self.ctx.module}.{name}":
            return None
        value = self.ctx.evaluate(expr)
        if not isinstance(value, Obj) or len(value.args) != 1:
            return None
        if not isinstance(value.args[0], Ref):
            return None
        wrapped = value.args[0].qualname
        top, _, short = wrapped.partition(".")
        modules = self.options.client_modules
        if top not in modules or not short or value.type.split(".", 1)[0] in modules:
            return None
        if wrapped.rpartition(".")[2][:1].isupper():
            return None
        return wrapped

    def _getattr_call(
        self,
        call: ast.Call,
        receiver: Value,
        method: Value,
        args: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        scope: Scope,
    ) -> None:
        """``getattr(session, "post")(url)`` is ``session.post(url)``, and
        ``getattr(session, method)(url)`` is ``session.request(method, url)`` (also with
        the verb's case changed: ``getattr(session, method.lower())``)."""
        if (
            isinstance(method, Obj)
            and method.type in ("str.lower", "str.upper")
            and len(method.args) == 1
            and isinstance(method.args[0], Param)
        ):
            method = method.args[0]
        if isinstance(method, Lit):
            name = method.text
        elif isinstance(method, Param):
            name = "request"
            args = [ast.Name(id=method.name, ctx=ast.Load()), *args]
        else:
            return
        if self._worth_recording(None, receiver, name):
            self.calls.append(
                self._raw_call(call, None, receiver, name, args, keywords, scope, False)
            )

    def _worth_recording(self, qual: str | None, receiver: Value | None, name: str) -> bool:
        options = self.options
        if qual is not None:
            top = qual.split(".", 1)[0]
            if top in options.client_modules or qual in options.custom_clients:
                return True
            short = qual.rpartition(".")[2]
            return short in options.wrapper_names
        if receiver is None:
            return False
        if isinstance(receiver, Obj):
            top = receiver.type.split(".", 1)[0]
            if top in _RESPONSE_LIBRARIES and _a_response(receiver.type):
                # `resp.json()`, `client.get(url).raise_for_status()`: a method of what a
                # request returned (polar: 667 of the 5,510 calls recorded, none a request)
                return False
            if (
                top in options.client_modules
                or receiver.type.endswith("Stub")
                or receiver.type in options.custom_clients
            ):
                return True
            if any(c.startswith(receiver.type + ".") for c in options.custom_clients):
                return True
        if isinstance(receiver, Obj) and receiver.type.endswith("()") and _is_rpc_name(name):
            # `holder.users.request().get_user(req)`: what the method returns is known only
            # across files (a stub a generic client keeps)
            return True
        if isinstance(receiver, Ref | Param | Obj):
            if name in options.method_names:
                return True
            if name[:1].isupper() and name[1:2].islower() and isinstance(receiver, Ref | Obj):
                return True
            if isinstance(receiver, Ref | Param | Obj) and name in options.wrapper_names:
                return True
        return False

    def _raw_call(
        self,
        call: ast.Call,
        qual: str | None,
        receiver: Value | None,
        name: str,
        args: Sequence[ast.expr],
        keywords: Sequence[ast.keyword],
        scope: Scope,
        submitted: bool,
    ) -> RawCall:
        ctx = self.ctx
        line = call.lineno
        end_line = call.end_lineno or line
        use, status_checked = self._response_use(call)
        function = (
            scope.qualname
            if scope.kind == "function"
            else f"{scope.qualname}.<body>"
            if scope.kind == "class"
            else "<module>"
        )
        arg_values = tuple(
            ctx.evaluate(a, scope) if not isinstance(a, ast.Starred) else self._starred(a, scope)
            for a in args
        )
        # `helper(**options)` stays as a `**` keyword: it may pass any parameter
        kw_values = tuple(
            (k.arg, ctx.evaluate(k.value, scope))
            if k.arg is not None
            else ("**", dyn(self.ctx.source_text(k.value)))
            for k in keywords
        )
        return RawCall(
            line=line,
            end_line=end_line,
            col=call.col_offset,
            function=function,
            name=name,
            func=qual,
            receiver=receiver,
            args=arg_values,
            kwargs=kw_values,
            arg_src=tuple(self.ctx.source_text(a)[:_MAX_SRC] for a in args),
            kwarg_src=tuple(
                (k.arg or "**", self.ctx.source_text(k.value)[:_MAX_SRC]) for k in keywords
            ),
            result_used=use is not ResponseUse.NONE,
            response_use=use.value,
            status_checked=status_checked,
            in_loop=self._in_loop(),
            in_transaction=self._in_transaction(),
            patched=self._patched(line) + self._mocked_object_attributes(call, scope),
            is_async=self._awaited(call),
            target_override=self._override(line, end_line),
            submitted=submitted,
            handed_in=(
                isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id not in ("self", "cls")
                and call.func.value.id in scope.params
            ),
        )

    def _starred(self, arg: ast.Starred, scope: Scope) -> Value:
        """``method(*args)`` in ``def _request(self, method, *args)``: the arguments the
        helper was handed, of which the first (the url, for a request function) is bound
        at each use; any other ``*x`` is unknown."""
        value = self.ctx.evaluate(arg.value, scope) if isinstance(arg.value, ast.Name) else None
        if isinstance(value, Param) and value.function == scope.qualname:
            return value
        return dyn(self.ctx.source_text(arg))

    # --- flags -------------------------------------------------------------------------------

    def _enclosing_function(self) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for node in reversed(self.stack):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    def _in_async(self) -> bool:
        return isinstance(self._enclosing_function(), ast.AsyncFunctionDef)

    def _awaited(self, call: ast.Call) -> bool:
        parent = self._parent_of(call)
        return isinstance(parent, ast.Await)

    def _parent_of(self, node: ast.AST) -> ast.AST | None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i] is node:
                return self.stack[i - 1]
        return None

    def _in_loop(self) -> bool:
        for node in reversed(self.stack):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                return False
            if isinstance(node, _LOOPS):
                return True
        return False

    def _patched(self, line: int) -> tuple[str, ...]:
        """What ``mock.patch`` replaces where the call runs: the decorators of the enclosing
        functions and classes, and the ``with patch(...)`` blocks around it; and, as
        ``.<attribute>``, the attributes the enclosing function set to a mock before the
        call (``request.app.state.http = MagicMock(return_value=client)``)."""
        if self._imports_mock is None:
            self._imports_mock = any(
                q == "mock" or q.startswith(("mock.", "unittest.mock"))
                for q in self.ctx.imports.values()
            )
        if not self._imports_mock:
            return ()
        found: list[str] = []
        for node in self.stack:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                exprs: list[ast.expr] = list(node.decorator_list)
            elif isinstance(node, ast.With | ast.AsyncWith):
                exprs = [item.context_expr for item in node.items]
            else:
                continue
            found += [t for e in exprs if (t := self._patch_target(e)) is not None]
        enclosing = self._enclosing_function()
        if enclosing is not None:
            found += [f".{attr}" for attr in self._mocked_attributes(enclosing, line)]
        return tuple(dict.fromkeys(found))

    def _mocked_attributes(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, line: int
    ) -> list[str]:
        """Attributes ``function`` assigns a mock object to before ``line``."""
        found = self._mock_assignments.get(id(function))
        if found is None:
            found = self._mock_assignments[id(function)] = [
                (node.lineno, target.attr)
                for node in self._assignments(function)
                if self._is_mock(node.value)
                for target in node.targets
                if isinstance(target, ast.Attribute)
            ]
        return [attr for at, attr in found if at < line]

    def _assignments(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Assign]:
        """The ``=`` statements of ``function`` (nested code included), in the order of
        ``ast.walk``; found once for both mock searches."""
        found = self._assigns.get(id(function))
        if found is None:
            found = self._assigns[id(function)] = [
                node for node in _walk_statements(function) if isinstance(node, ast.Assign)
            ]
        return found

    def _mocked_object_attributes(self, call: ast.Call, scope: Scope) -> tuple[str, ...]:
        """Attributes of objects the enclosing function set to a mock before the call
        (``requester._session = mock.Mock()``, also through a name bound to one): the
        attribute of the object's class (``pkg.Requester._session``), for resolution to
        tell a request made through it."""
        if not self._imports_mock or scope.kind != "function":
            return ()
        function = self._enclosing_function()
        if function is None:
            return ()
        assigned = self._mock_targets.get(id(function))
        if assigned is None:
            assigned = self._mock_targets[id(function)] = _mock_assignments(
                self._assignments(function), self._is_mock
            )
        found: list[str] = []
        for line, target in assigned:
            if line >= call.lineno:
                continue
            owner = self.ctx.evaluate(target.value, scope)
            if isinstance(owner, Obj):
                found.append(f"{owner.type}.{target.attr}")
            elif isinstance(owner, Ref):
                found.append(f"{owner.qualname}.{target.attr}")
        return tuple(found)

    def _is_mock(self, expr: ast.expr) -> bool:
        if not isinstance(expr, ast.Call):
            return False
        qual = self.ctx.qualname(expr.func) or ""
        return qual.removeprefix("unittest.").startswith("mock.") and (
            qual.rpartition(".")[2] in _MOCK_CLASSES
        )

    def _patch_target(self, expr: ast.expr) -> str | None:
        """``patch("pkg.mod.fetch")`` -> ``pkg.mod.fetch``; ``patch.object(mod, "fetch")``
        -> ``<mod's qualified name>.fetch``."""
        if not isinstance(expr, ast.Call) or not expr.args:
            return None
        qual = self.ctx.qualname(expr.func)
        if qual is None:
            return None
        first = expr.args[0]
        if qual in _PATCHERS:
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            return None
        if qual in _OBJECT_PATCHERS and len(expr.args) > 1:
            owner = self.ctx.qualname(first)
            attr = expr.args[1]
            if owner and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                return f"{owner}.{attr.value}"
        return None

    def _in_transaction(self) -> bool:
        for node in reversed(self.stack):
            if isinstance(node, ast.With | ast.AsyncWith) and any(
                _is_transaction(item.context_expr) for item in node.items
            ):
                return True
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return any(_is_transaction(d) for d in node.decorator_list)
            if isinstance(node, ast.Lambda | ast.ClassDef):
                return False
        return False

    def _response_use(self, call: ast.Call) -> tuple[ResponseUse, bool]:
        """What the caller does with the response (:mod:`decouple_services.detect.response`),
        and whether it checks the response's success.

        The call's ancestors come from the walk's stack; the parents of other nodes, and the
        reads of names, only when the response is bound to a name: most calls are statements
        of their own, and a file of them must not pay for a walk of its whole tree each."""
        stack = self.stack
        ancestors = {id(stack[i]): stack[i - 1] for i in range(1, len(stack))}
        enclosing = self._enclosing_function()
        body = enclosing.body if enclosing is not None else self.tree.body
        # The nodes asked about are the call's ancestors and the reads of a name in the
        # enclosing body: the statements of that body holding them answer, each walked the
        # first time; the whole tree only if something outside it is asked for.
        owner: ast.AST = enclosing if enclosing is not None else self.tree
        local = self._body_parents.get(id(owner))
        if local is None:
            local = self._body_parents[id(owner)] = _BodyParents(owner, body)

        def parent_of(node: ast.AST) -> ast.AST | None:
            if node is self.tree:
                return None
            found = ancestors.get(id(node)) or local.get(node)
            if found is not None:
                return found
            if self._parents is None:
                self._parents = parent_map(self.tree)
            return self._parents.get(id(node))

        def index() -> Mapping[str, Sequence[ast.Name]]:
            return _NameLoads(local, self._may_read)

        reading = classify(
            call,
            parent_of,
            body,
            passes_through=lambda parent, node: (
                isinstance(parent, ast.Call)
                and parent.func is not node
                and self._is_submitter(parent)
            ),
            index=index,
        )
        checked = reading.use is ResponseUse.STATUS or bool(reading.checks)
        if reading.use is ResponseUse.NONE and self._response_read_later(call):
            return ResponseUse.BODY, checked
        return reading.use, checked

    def _may_read(self, name: str, first: int, last: int) -> bool:
        """Whether ``name`` is written on lines ``first`` to ``last`` (from 1): a read of it
        there can be nowhere else. True when lines or words may not be ``ast``'s."""
        if not self._plain_text:
            return True
        starts = self._line_starts
        if starts is None:
            text = self.text
            starts = self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
            starts.append(len(text))
        end = starts[last] if last < len(starts) else starts[-1]
        return self.text.find(name, starts[first - 1] if first <= len(starts) else end, end) != -1

    def _response_read_later(self, call: ast.Call) -> bool:
        """http.client's ``conn.request(...)`` returns nothing: the response is read by a
        later ``conn.getresponse()`` on the same connection."""
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in ("request", "putrequest", "endheaders")
            and isinstance(func.value, ast.Name)
        ):
            return False
        conn = func.value.id
        enclosing = self._enclosing_function()
        body: Iterable[ast.AST] = enclosing.body if enclosing is not None else self.tree.body
        return any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "getresponse"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == conn
            for stmt in body
            for node in ast.walk(stmt)
        )

    def _is_submitter(self, call: ast.Call) -> bool:
        func = call.func
        return isinstance(func, ast.Attribute) and func.attr in _SUBMITTERS

    def _override(self, line: int, end_line: int) -> str | None:
        for candidate in (line, line - 1, *range(line + 1, end_line + 1)):
            if candidate in self.targets:
                return self.targets[candidate]
        return None

    def _maybe_port(self, call: ast.Call, name: str, scope: Scope) -> None:
        if name not in ("run", "run_app", "serve"):
            return
        for kw in call.keywords:
            if kw.arg != "port":
                continue
            port = self._port_number(kw.value, scope)
            if port is not None:
                qual = self.ctx.qualname(call.func, scope) or name
                self.ports.append(Port(port, call.lineno, f"{qual}(port={port})"))

    def _port_number(self, expr: ast.expr, scope: Scope) -> int | None:
        """``port=8000``, or a module-level name bound to a number (``port = 8000``, also
        under ``if __name__ == "__main__":``; the last binding, as for every global)."""
        if isinstance(expr, ast.Constant):
            value = expr.value
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        if not isinstance(expr, ast.Name) or is_local(scope, expr.id):
            return None
        bound = self.ctx.globals.get(expr.id)
        return self._port_number(bound, scope) if isinstance(bound, ast.Constant) else None


def _mock_assignments(
    assignments: Sequence[ast.Assign], is_mock: Callable[[ast.expr], bool]
) -> list[tuple[int, ast.Attribute]]:
    """``obj.attr = Mock()`` (or a name bound to a mock) among a function's ``assignments``:
    line and target."""
    assigns = [n for n in assignments if len(n.targets) == 1]
    mocks = {
        target.id
        for n in assigns
        if isinstance(target := n.targets[0], ast.Name) and is_mock(n.value)
    }
    return [
        (n.lineno, target)
        for n in assigns
        if isinstance(target := n.targets[0], ast.Attribute)
        and (is_mock(n.value) or (isinstance(n.value, ast.Name) and n.value.id in mocks))
    ]


def _unpacked(
    args: Sequence[ast.expr], keywords: Sequence[ast.keyword]
) -> tuple[list[ast.expr], list[ast.keyword]]:
    """The arguments a packed submitter hands its function: ``apply_async(f, (a, b),
    {"c": c})`` and ``apply_async(f, args=(a, b), kwds={"c": c})`` call ``f(a, b, c=c)``.
    A tuple or dict not written out stays as it is: its elements are unknown here."""
    packed: ast.expr | None = args[0] if args else None
    named: ast.expr | None = args[1] if len(args) > 1 else None
    rest: list[ast.keyword] = []
    for keyword in keywords:
        if keyword.arg == "args" and packed is None:
            packed = keyword.value
        elif keyword.arg == "kwds" and named is None:
            named = keyword.value
        else:
            rest.append(keyword)
    spread: list[ast.expr] = []
    if isinstance(packed, ast.Tuple | ast.List):
        spread = list(packed.elts)
    elif packed is not None:
        spread = [ast.Starred(value=packed, ctx=ast.Load())]
    if isinstance(named, ast.Dict) and all(isinstance(k, ast.Constant) for k in named.keys):
        rest += [
            ast.keyword(arg=str(k.value), value=v)
            for k, v in zip(named.keys, named.values, strict=True)
            if isinstance(k, ast.Constant)
        ]
    elif named is not None:
        rest.append(ast.keyword(arg=None, value=named))
    return spread, rest


def _requests_shaped(qual: str, args: Sequence[ast.expr], keywords: Sequence[ast.keyword]) -> bool:
    """A helper of another package called like ``requests.request`` (see
    :mod:`decouple_services.detect.library_helper`)."""
    first = args[0] if args else None
    verb = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    named = frozenset(k.arg for k in keywords if k.arg is not None)
    return looks_like_a_request(qual.rpartition(".")[2], named, verb)


#: Decorators making a method read as an attribute.
_PROPERTIES = frozenset({"property", "cached_property"})

#: Folders whose modules pytest is pointed at (``tests/test.py`` collected by its path).
_TEST_FOLDERS = frozenset({"tests", "test", "testing"})


def is_test_module(path: str) -> bool:
    """Whether the module at ``path`` holds tests that ask for pytest fixtures by naming
    them: ``test_*.py``, ``*_test.py``, ``conftest.py``, or a module in a test folder."""
    folder, name = posixpath.split(path)
    return (
        name == "conftest.py"
        or name.startswith("test_")
        or name.endswith("_test.py")
        or any(part in _TEST_FOLDERS for part in folder.split("/"))
    )


_FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest_asyncio.fixture"})


def _fixture_name(node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> str | None:
    """The name tests ask for a pytest fixture by (``name=`` or the function's own)."""
    for deco in node.decorator_list:
        call = deco if isinstance(deco, ast.Call) else None
        qual = ctx.qualname(call.func if call is not None else deco)
        if qual not in _FIXTURE_DECORATORS:
            continue
        for kw in call.keywords if call is not None else ():
            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                return str(kw.value.value)
        return node.name
    return None


def _parametrized(node: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """Argument names ``@pytest.mark.parametrize("url, status", ...)`` fills."""
    names: set[str] = set()
    for deco in node.decorator_list:
        if (
            isinstance(deco, ast.Call)
            and (dotted(deco.func) or [""])[-1] == "parametrize"
            and deco.args
            and isinstance(deco.args[0], ast.Constant)
            and isinstance(deco.args[0].value, str)
        ):
            names.update(n.strip() for n in deco.args[0].value.split(","))
    return frozenset(names)


def _may_be_an_object(qualname: str, holder: ast.expr, ctx: ModuleContext) -> bool:
    """Whether a name holding an operation call (``petstore.pet.getPetById()``) may be an
    object rather than a module or a class: not a module imported as such (``os.path.join``,
    ``from six.moves import urllib``), and not a class (``Order.objects.filter``)."""
    last = qualname.rpartition(".")[2]
    if not last or last[:1].isupper() or last in sys.stdlib_module_names:
        return False
    if isinstance(holder, ast.Name) and holder.id in ctx.imports:
        return ctx.imports[holder.id] not in ctx.imported_modules
    return True


def _stub_param(name: str) -> bool:
    return name == "stub" or name.endswith("_stub")


#: Libraries whose request methods return a response (or a context manager giving one),
#: none of whose methods makes a request.
_RESPONSE_LIBRARIES = frozenset({"requests", "httpx", "aiohttp", "urllib3"})
_REQUEST_METHODS = HTTP_VERBS | {"request"}


def _a_response(kind: str) -> bool:
    """Whether an object of type ``kind`` is what a request returned: a request
    function's (``requests.get``, as a class's object is of the class) or a client's
    request method's (``httpx.AsyncClient.get()``)."""
    return kind.removesuffix("()").rpartition(".")[2] in _REQUEST_METHODS


def _is_rpc_name(name: str) -> bool:
    """A method name an RPC may have: public, and not one of the string, container or
    response methods a chained call usually is."""
    return not name.startswith("_") and name not in _NOT_RPC


#: Methods chained on a call's result that are never requests.
_NOT_RPC = frozenset(
    {
        "json",
        "text",
        "read",
        "decode",
        "encode",
        "strip",
        "split",
        "lower",
        "upper",
        "format",
        "replace",
        "join",
        "items",
        "keys",
        "values",
        "get",
        "copy",
        "append",
        "raise_for_status",
        "close",
        "result",
        "isoformat",
        "all",
        "first",
        "filter",
        "exists",
        "count",
        "order_by",
        "save",
        "delete",
        "update",
    }
)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Every statement of the module, nested ones included: the nodes of ``ast.walk`` a
    ``def`` can be (no expression holds a statement), without walking the expressions."""
    todo: list[ast.stmt] = list(reversed(tree.body))
    while todo:
        stmt = todo.pop()
        yield stmt
        for body in reversed(child_bodies(stmt)):
            todo.extend(reversed(body))


class _Stores:
    """A function's assigned names (``Scope.assigned``), found when first asked ``in``."""

    __slots__ = ("_extractor", "_func", "_names")

    def __init__(self, extractor: _Extractor, func: ast.FunctionDef | ast.AsyncFunctionDef):
        self._extractor = extractor
        self._func = func
        self._names: set[str] | None = None

    def __contains__(self, name: object) -> bool:
        if self._names is None:
            self._names = self._extractor._assigned_names(self._func)
        return name in self._names


def _function_stores(func: ast.AST, out: dict[int, set[str]]) -> None:
    """The names stored in ``func`` and in each function nested in it (what ``ast.walk``
    of each would find), into ``out`` by id, with one walk of ``func``."""
    own: set[str] = set()
    out[id(func)] = own
    # (node, the sets of the functions enclosing it, innermost last)
    stack: list[tuple[ast.AST, tuple[set[str], ...]]] = [(func, (own,))]
    Name, Store, AST = ast.Name, ast.Store, ast.AST
    while stack:
        node, sets = stack.pop()
        for field_name in node._fields:
            value = getattr(node, field_name, None)
            children = value if type(value) is list else (value,)
            for child in children:
                kind = type(child)
                if kind is Name:
                    if type(child.ctx) is Store:  # type: ignore[union-attr]
                        for names in sets:
                            names.add(child.id)  # type: ignore[union-attr]
                elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                    inner: set[str] = set()
                    out[id(child)] = inner
                    stack.append((child, (*sets, inner)))  # type: ignore[arg-type]
                elif isinstance(child, AST) and kind is not ast.Constant:
                    stack.append((child, sets))


#: ``_expression_binding_lines`` of a text whose lines are not counted at ``\n`` alone.
_EVERY_LINE: list[int] = [0]


def _expression_binding_lines(text: str) -> list[int]:
    """The lines (from 1, in order, possibly repeated) holding ``for`` not followed by a
    word character (``format``, ``before``: nothing before it is looked at, ``[1for x in
    y]`` being a comprehension too) or ``:=``: where a comprehension or an assignment
    expression can be. :data:`_EVERY_LINE` for a text holding ``\r``, whose lines ``ast``
    may count otherwise than at ``\n``."""
    if "\r" in text:
        return _EVERY_LINE
    found: list[int] = []
    for word in ("for", ":="):
        line, counted = 1, 0
        at = text.find(word)
        while at != -1:
            end = at + len(word)
            if word == ":=" or end == len(text) or not _is_word_char(text[end]):
                line += text.count("\n", counted, at)
                counted = at
                found.append(line)
            at = text.find(word, end)
    found.sort()
    return found


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _statement_stores(
    func: ast.FunctionDef | ast.AsyncFunctionDef, out: dict[int, set[str]]
) -> None:
    """What :func:`_function_stores` finds, for a function holding no comprehension and no
    assignment expression: a name is then stored only as a target of an assignment, a
    ``for`` loop or a ``with`` item (an ``except``, an import, a pattern and a parameter
    store names that are not ``ast.Name`` nodes), so the statements are walked and not
    their expressions (most of the nodes)."""
    own: set[str] = set()
    out[id(func)] = own
    _body_stores(func.body, (own,), out)


def _body_stores(
    body: Sequence[ast.stmt], sets: tuple[set[str], ...], out: dict[int, set[str]]
) -> None:
    for stmt in body:
        kind = type(stmt)
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            inner: set[str] = set()
            out[id(stmt)] = inner
            _body_stores(stmt.body, (*sets, inner), out)  # type: ignore[attr-defined]
            continue
        if kind is ast.Assign:
            for target in stmt.targets:  # type: ignore[attr-defined]
                _target_stores(target, sets)
        elif kind in _ONE_TARGET:
            _target_stores(stmt.target, sets)  # type: ignore[attr-defined]
        elif kind is ast.With or kind is ast.AsyncWith:
            for item in stmt.items:  # type: ignore[attr-defined]
                if item.optional_vars is not None:
                    _target_stores(item.optional_vars, sets)
        for child in child_bodies(stmt):
            _body_stores(child, sets, out)


def _line_stores(
    func: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[int], out: dict[int, set[str]]
) -> None:
    """What :func:`_function_stores` finds, walking whole only the parts of ``func`` on
    ``lines`` (``_expression_binding_lines``: where a comprehension or an assignment
    expression may be): a statement whose lines hold neither stores names only as the
    targets of its statements (``_statement_stores``), and a compound statement holding
    one on some line has its own expressions walked whole and its bodies read the same way,
    statement by statement. Most of a function holding one loop is read from statements."""
    own: set[str] = set()
    out[id(func)] = own
    _heading_stores(func, (own,))
    _lines_body_stores(func.body, (own,), lines, out)


def _lines_body_stores(
    body: Sequence[ast.stmt], sets: tuple[set[str], ...], lines: list[int], out: dict[int, set[str]]
) -> None:
    for stmt in body:
        kind = type(stmt)
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            decorators: list[ast.expr] = stmt.decorator_list  # type: ignore[attr-defined]
            first = min([stmt.lineno, *(d.lineno for d in decorators)])
        else:
            first = stmt.lineno
        last = stmt.end_lineno
        at = bisect.bisect_left(lines, first)
        if last is not None and (at == len(lines) or lines[at] > last):
            _body_stores([stmt], sets, out)  # no comprehension, no `:=` in it
            continue
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            inner: set[str] = set()
            out[id(stmt)] = inner
            _heading_stores(stmt, (*sets, inner))
            _lines_body_stores(stmt.body, (*sets, inner), lines, out)  # type: ignore[attr-defined]
            continue
        _heading_stores(stmt, sets)
        for handler in getattr(stmt, "handlers", None) or ():
            _heading_stores(handler, sets)
            _lines_body_stores(handler.body, sets, lines, out)
        for case in getattr(stmt, "cases", None) or ():
            _heading_stores(case, sets)
            _lines_body_stores(case.body, sets, lines, out)
        for name in ("body", "orelse", "finalbody"):
            value = getattr(stmt, name, None)
            if type(value) is list and value and isinstance(value[0], ast.stmt):
                _lines_body_stores(value, sets, lines, out)


def _heading_stores(node: ast.AST, sets: tuple[set[str], ...]) -> None:
    """The names stored in the fields of ``node`` outside its bodies (a ``def``'s
    decorators and defaults, a loop's target and iterable, a test, an ``except``'s type, a
    ``case``'s pattern and guard), walked whole: no statement is among them."""
    todo: list[ast.AST] = []
    for name in node._fields:
        if name in _BODIES:
            continue
        value = getattr(node, name, None)
        if type(value) is list:
            todo.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            todo.append(value)
    Name, Store, AST = ast.Name, ast.Store, ast.AST
    while todo:
        current = todo.pop()
        if type(current) is Name:
            if type(current.ctx) is Store:
                for names in sets:
                    names.add(current.id)
            continue
        for name in current._fields:
            value = getattr(current, name, None)
            if type(value) is list:
                todo.extend(item for item in value if isinstance(item, AST))
            elif isinstance(value, AST):
                todo.append(value)


#: Statements with one ``target``.
_ONE_TARGET = frozenset({ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor})


def _target_stores(target: ast.expr, sets: tuple[set[str], ...]) -> None:
    """The names an assignment target stores (``a``, ``a, *b``; not ``x`` of ``x.y`` or
    ``x[i]``, which are read)."""
    kind = type(target)
    if kind is ast.Name:
        if type(target.ctx) is ast.Store:  # type: ignore[attr-defined]
            for names in sets:
                names.add(target.id)  # type: ignore[attr-defined]
    elif kind is ast.Tuple or kind is ast.List:
        for element in target.elts:  # type: ignore[attr-defined]
            _target_stores(element, sets)
    elif kind is ast.Starred:
        _target_stores(target.value, sets)  # type: ignore[attr-defined]


#: The nodes that may hold statements: no expression does (a lambda's body is one).
_HOLDS_STATEMENTS = (ast.stmt, ast.excepthandler, ast.match_case)


def _walk_statements(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and the statements under it (with the ``except`` clauses and ``case``
    blocks between), in the order ``ast.walk`` gives them: its breadth-first walk with the
    subtrees that hold no statement left out, which keeps the order of the rest."""
    todo: deque[ast.AST] = deque((node,))
    pop, push = todo.popleft, todo.append
    holds = _HOLDS_STATEMENTS
    while todo:
        current = pop()
        yield current
        for name in current._fields:
            value = getattr(current, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, holds):
                        push(item)
            elif isinstance(value, holds):
                push(value)


#: Expression nodes without children worth visiting.
_LEAVES = frozenset({ast.Name, ast.Constant})

#: Fields of an expression or statement that never hold an expression (operators, contexts,
#: names and flags), left unread by the walk.
_NOT_EXPRESSIONS = frozenset(
    {"ctx", "op", "ops", "attr", "conversion", "kind", "is_async", "type_comment", "names"}
)
#: Fields of a statement holding its bodies, walked as statements.
_BODIES = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_EXPRESSION_FIELDS: dict[type, tuple[str, ...]] = {}
_STATEMENT_FIELDS: dict[type, tuple[str, ...]] = {}


def _expression_fields(kind: type) -> tuple[str, ...]:
    """The fields of an expression node of ``kind`` that may hold one, in field order."""
    found = _EXPRESSION_FIELDS.get(kind)
    if found is None:
        fields: tuple[str, ...] = getattr(kind, "_fields", ())
        found = _EXPRESSION_FIELDS[kind] = tuple(f for f in fields if f not in _NOT_EXPRESSIONS)
    return found


def _statement_fields(kind: type) -> tuple[str, ...]:
    """The fields of a statement of ``kind`` outside its bodies that may hold an
    expression, in field order."""
    found = _STATEMENT_FIELDS.get(kind)
    if found is None:
        fields: tuple[str, ...] = getattr(kind, "_fields", ())
        found = _STATEMENT_FIELDS[kind] = tuple(
            f for f in fields if f not in _NOT_EXPRESSIONS and f not in _BODIES
        )
    return found


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.iter_child_nodes`` without its per-field generator (same nodes, same order)."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            yield value
        elif type(value) is list:
            for item in value:
                if isinstance(item, ast.AST):
                    yield item


def _env_prefix(cls: ast.ClassDef) -> str:
    for node in ast.walk(cls):
        if (
            isinstance(node, ast.keyword)
            and node.arg == "env_prefix"
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Name)
                    and target.id == "env_prefix"
                    and isinstance(node.value, ast.Constant)
                ):
                    return str(node.value.value)
    return ""


def _field_default(expr: ast.expr) -> ast.expr | None:
    """A pydantic field's default: the value itself, or ``Field(default)``'s."""
    if isinstance(expr, ast.Call):
        parts = dotted(expr.func)
        if parts and parts[-1] == "Field":
            for kw in expr.keywords:
                if kw.arg == "default":
                    return kw.value
            return expr.args[0] if expr.args else None
    return expr


def _directives(
    source: bytes,
) -> tuple[dict[int, str], set[int], dict[int, tuple[str, ...]]]:
    """Per line: the ``target=`` service, the ``ignore`` marker, the ``ignore[...]`` codes."""
    targets: dict[int, str] = {}
    ignored: set[int] = set()
    suppressions: dict[int, tuple[str, ...]] = {}
    if b"decouple:" not in source:
        return targets, ignored, suppressions
    for number, raw in enumerate(source.splitlines(), start=1):
        if b"decouple:" not in raw:
            continue
        match = _DIRECTIVE().search(raw.decode("utf-8", "replace"))
        if match is None:
            continue
        if match.group(1) is None:
            targets[number] = match.group(3)
        elif match.group(2) is None:
            ignored.add(number)
        else:
            codes = (code.strip().upper() for code in match.group(2).split(","))
            suppressions[number] = tuple(sorted({code for code in codes if code}))
    return targets, ignored, suppressions


__all__ = ["ExtractOptions", "extract_facts", "parse_source"]


def _references(tree: ast.Module, ctx: ModuleContext, names: frozenset[str]) -> tuple[str, ...]:
    """The learned helpers ``tree`` names other than by calling them: a function handed on
    (``app.add_command(upgrade)``, ``register(callback=notify)``) is called by whoever
    receives it."""
    if not names or not ctx.mentions(*sorted(names)):
        return ()
    # one walk written out (a parent is reached before its children, so a call's function
    # is known as called when reached): ast.walk over a helper pass's files was 2% of
    # polar's scan
    Name, Attribute, Call, Load, AST = ast.Name, ast.Attribute, ast.Call, ast.Load, ast.AST
    called: set[int] = set()
    found: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        kind = type(node)
        if kind is Name:
            if node.id in names and type(node.ctx) is Load and id(node) not in called:  # type: ignore[attr-defined]
                found.add(node.id)  # type: ignore[attr-defined]
            continue  # a name's only child is its context
        if kind is Call:
            called.add(id(node.func))  # type: ignore[attr-defined]
        elif (
            kind is Attribute
            and node.attr in names  # type: ignore[attr-defined]
            and type(node.ctx) is Load  # type: ignore[attr-defined]
            and id(node) not in called
        ):
            found.add(node.attr)  # type: ignore[attr-defined]
        for attribute in node._fields:
            value = getattr(node, attribute, None)
            if isinstance(value, AST):
                todo.append(value)
            elif type(value) is list:
                todo.extend(item for item in value if isinstance(item, AST))
    return tuple(sorted(found))
