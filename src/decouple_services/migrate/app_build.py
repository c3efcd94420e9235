"""How a service's entrypoint builds the application a factory makes.

A consumer that hands events to an application made by ``create_app()`` calls the factory
itself. When the module the server serves calls it with arguments (``application =
create_app(script=NO_SYSLOG)`` in ``wsgi.py``), the defaults would build another
application than the one requests reach: one that connects to syslog, loads another
configuration. This module finds that call so the consumer can build the application the
same way: by importing the entrypoint's object where importing it starts no server, else by
repeating the call where its arguments can be repeated outside the entrypoint.
"""

from __future__ import annotations

import ast
import copy
import json
import posixpath
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Name of the function a consumer defines when it repeats the entrypoint's call.
BUILD_FUNCTION = "build_app"

#: Calls that, made at a module's top level, start a server or block: importing such a
#: module would serve (or hang) instead of giving the application.
_SERVES = frozenset(
    {
        "run",
        "run_app",
        "run_simple",
        "run_forever",
        "run_until_complete",
        "serve",
        "serve_forever",
        "start",
        "wait_for_termination",
        "main",
    }
)

#: Reads of the environment whose value an argument may be made of.
_ENV_CALLS = frozenset({"os.getenv", "os.environ.get", "getenv", "environ.get"})
_ENV_MAPPINGS = frozenset({"os.environ", "environ"})
#: Builtins a value read from the environment may be converted with.
_CONVERSIONS = frozenset({"bool", "int", "float", "str"})


@dataclass(frozen=True, slots=True)
class EntryBuild:
    """A module-level ``NAME = factory(args)`` in a service's entrypoint."""

    #: Repo-relative file holding the call, and the call's line.
    path: str
    line: int
    #: The entrypoint as a module, ``None`` when the consumer cannot import it by name (it
    #: is outside the service's import root).
    module: str | None
    #: Module attribute the application is bound to (``application``).
    name: str
    #: The call as written (``create_app(script=NO_SYSLOG)``).
    call: str
    #: Why importing the entrypoint would not just give the application (``app.run()`` at
    #: line 12), ``None`` when it is safe to import.
    unsafe: str | None
    #: The body of a function that repeats the call (its imports, the module-level names
    #: its arguments read, then ``return <call>``), ``None`` when an argument cannot be
    #: repeated outside the entrypoint.
    rebuilt: tuple[str, ...] | None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _source(node: ast.AST) -> str:
    """``node`` as source, its strings in double quotes as ruff formats them."""
    tree = copy.deepcopy(node)
    for child in ast.walk(tree):
        for name, value in ast.iter_fields(child):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                setattr(child, name, ast.Name(json.dumps(value.value)))
            elif isinstance(value, list):
                value[:] = [
                    ast.Name(json.dumps(v.value))
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                    else v
                    for v in value
                ]
    return ast.unparse(tree)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _top_level(tree: ast.Module) -> Iterable[ast.stmt]:
    """The statements a module runs when imported: its body, and the bodies of ``if`` and
    ``try`` at top level, less ``if __name__ == "__main__":``, which an import skips."""
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.If):
            test = node.test
            if (
                isinstance(test, ast.Compare)
                and isinstance(test.left, ast.Name)
                and test.left.id == "__name__"
            ):
                pending.extend(node.orelse)
                continue
            pending.extend([*node.body, *node.orelse])
            continue
        if isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            continue
        yield node


def _serves(statements: Iterable[ast.stmt]) -> str | None:
    """The first top-level statement that starts a server or never returns, as
    ``app.run() at line 12``."""
    for node in statements:
        if isinstance(node, ast.While):
            return f"a `while` loop at line {node.lineno}"
        calls = [node.value] if isinstance(node, ast.Expr) else []
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Await):
            calls = [node.value.value]
        for call in calls:
            if isinstance(call, ast.Call):
                name = _dotted(call.func) or ""
                if name.rpartition(".")[2] in _SERVES:
                    return f"`{ast.unparse(call)}` at line {node.lineno}"
    return None


class _Repeat:
    """The statements a function needs to repeat an expression of a module outside it."""

    def __init__(self, statements: list[ast.stmt]) -> None:
        self._imports: dict[str, ast.stmt] = {}
        self._assigns: dict[str, ast.Assign] = {}
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom) and node.level:
                    continue  # relative: means another module outside its package
                for alias in node.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    self._imports[bound] = (
                        ast.Import([alias])
                        if isinstance(node, ast.Import)
                        else ast.ImportFrom(node.module, [alias], 0)
                    )
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                self._assigns[node.targets[0].id] = node
        self.needed: list[ast.stmt] = []
        self._seen: set[str] = set()

    def takes(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether ``node`` is a literal, a read of the environment, a name imported from
        another module, or a name bound to one of those; the statements it needs are
        added to :attr:`needed`."""
        if depth > 8:
            return False
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(self.takes(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(k is not None and self.takes(k, depth + 1) for k in node.keys) and all(
                self.takes(v, depth + 1) for v in node.values
            )
        if isinstance(node, ast.UnaryOp):
            return self.takes(node.operand, depth + 1)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            parts = [node.left, *node.comparators] if isinstance(node, ast.Compare) else node.values
            return all(self.takes(p, depth + 1) for p in parts)
        if isinstance(node, ast.Subscript):
            # os.environ["NAME"]
            return _dotted(node.value) in _ENV_MAPPINGS and self._names(node, depth)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                return False
            if name in _ENV_CALLS:
                return all(isinstance(a, ast.Constant) for a in node.args) and self._names(
                    node.func, depth
                )
            if name in _CONVERSIONS and len(node.args) == 1:
                return self.takes(node.args[0], depth + 1)
            return False
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._names(node, depth)
        return False

    def _names(self, node: ast.expr, depth: int) -> bool:
        """Each name ``node`` reads is imported, or bound at top level to a value
        :meth:`takes` takes."""
        for name in (n.id for n in ast.walk(node) if isinstance(n, ast.Name)):
            if name in self._seen:
                continue
            if name in self._imports:
                self._seen.add(name)
                self.needed.append(self._imports[name])
                continue
            bound = self._assigns.get(name)
            if bound is None or not self.takes(bound.value, depth + 1):
                return False
            self._seen.add(name)
            self.needed.append(bound)
        return True


def entry_build(
    factory_module: str,
    factory: str,
    candidates: Iterable[str],
    read: Callable[[str], bytes | None],
    module_of: Callable[[str], str],
    import_root: str,
) -> EntryBuild | None:
    """The first module-level ``NAME = factory(...)`` with arguments in ``candidates``
    (repo-relative files: the ones the service's deployment runs, then the usual
    entrypoints), where ``factory`` is the function of ``factory_module``. ``None`` when
    none calls it with arguments: the consumer's call with none builds the same
    application."""
    seen: set[str] = set()
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        text = read(path)
        if not text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        module = module_of(path)
        statements = list(_top_level(tree))
        local = _factory_names(statements, factory_module, factory, module)
        for node in statements:
            if not (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and _dotted(node.value.func) in local
            ):
                continue
            call = node.value
            if not call.args and not call.keywords:
                return None  # called as the consumer calls it
            inside = import_root in (".", "") or path.startswith(import_root.rstrip("/") + "/")
            repeat = _Repeat(statements)
            taken = all(repeat.takes(a) for a in call.args) and all(
                k.arg is not None and repeat.takes(k.value) for k in call.keywords
            )
            rebuilt: tuple[str, ...] | None = None
            # the factory's own module serving on import: repeating the call imports it too
            if taken and module != factory_module:
                # the factory's own import, then what the arguments need, in module order
                head: ast.stmt = ast.ImportFrom(
                    factory_module, [ast.alias(factory, _alias(call, factory))], 0
                )
                order = {id(n): i for i, n in enumerate(statements)}
                body = sorted(repeat.needed, key=lambda n: order.get(id(n), -1))
                imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
                rest = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))]
                call_text = _source(call)
                if isinstance(call.func, ast.Attribute):
                    # `app_module.create_app(...)`: call the imported function by name
                    call_text = _source(ast.Call(ast.Name(factory), call.args, call.keywords))
                rebuilt = (
                    *_import_block([head, *imports]),
                    "",
                    *(_source(n) for n in rest),
                    f"return {call_text}",
                )
            return EntryBuild(
                path=path,
                line=node.lineno,
                module=module if inside else None,
                name=node.targets[0].id,
                call=ast.unparse(call),
                unsafe=_serves(statements) if inside else "it is outside the import root",
                rebuilt=rebuilt,
            )
    return None


def _import_block(imports: Iterable[ast.stmt]) -> list[str]:
    """The imports as isort lays them out: the standard library's, a blank line, the
    others; in each, ``import x`` before ``from x import y``, by module."""

    def key(node: ast.stmt) -> tuple[int, str]:
        if isinstance(node, ast.Import):
            return 0, node.names[0].name.lower()
        assert isinstance(node, ast.ImportFrom)
        return 1, (node.module or "").lower()

    def top(node: ast.stmt) -> str:
        name = node.names[0].name if isinstance(node, ast.Import) else node.module  # type: ignore[attr-defined]
        return str(name).split(".")[0]

    groups: list[list[str]] = [[], []]
    for node in sorted(imports, key=key):
        line = ast.unparse(node)
        group = groups[0 if top(node) in sys.stdlib_module_names else 1]
        if line not in group:
            group.append(line)
    return [*groups[0], *([""] if all(groups) else []), *groups[1]]


def _alias(call: ast.Call, factory: str) -> str | None:
    name = call.func.id if isinstance(call.func, ast.Name) else factory
    return name if name != factory else None


def _factory_names(
    statements: Iterable[ast.stmt], factory_module: str, factory: str, module: str
) -> set[str]:
    """The names a module calls ``factory_module.factory`` by: imported (``from
    thoughts_backend.app import create_app``, ``from .app import create_app as make``),
    through its module (``app.create_app``), or defined there."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = module.split(".")
                base = base[: max(len(base) - node.level, 0)]
                source = ".".join([*base, source] if source else base)
            for alias in node.names:
                bound = alias.asname or alias.name
                if source == factory_module and alias.name == factory:
                    names.add(bound)
                elif f"{source}.{alias.name}".strip(".") == factory_module:
                    names.add(f"{bound}.{factory}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == factory_module:
                    names.add(f"{alias.asname or alias.name}.{factory}")
        elif (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name == factory
            and module == factory_module
        ):
            names.add(factory)
    return names


def entry_candidates(
    entries: Iterable[str], handler_file: str, service_root: str | None, files: Iterable[str]
) -> list[str]:
    """Files that may build the served application: the ones the service's deployment
    runs (``entries``), then each of ``files`` (``wsgi.py``, ``app.py``...) in the
    handler's folder and each parent up to the service's root."""
    out = list(entries)
    folder = posixpath.dirname(handler_file)
    top = posixpath.normpath(service_root) if service_root and service_root != "." else ""
    while True:
        out.extend(posixpath.join(folder, name) if folder else name for name in files)
        if not folder or folder == top:
            break
        folder = posixpath.dirname(folder)
    return out
