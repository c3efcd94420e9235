"""Which names a place in a file can read, and which names a file reads that nothing binds.

Both answer with the compiler's own scoping (:mod:`symtable`): a name a rewrite puts at a
call site must be bound where the call is, not somewhere in the file (``pload``, the
parameter of the helper the call invoked, is not a name its caller has). And a rewritten
file must not read a name the original bound (an assignment the rewrite took out), the
check ``pyflakes``/ruff make as F821.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from functools import lru_cache

_BUILTINS = frozenset(dir(builtins))
#: Names every module has without binding them.
_MODULE_NAMES = frozenset(
    {"__file__", "__name__", "__doc__", "__package__", "__spec__", "__loader__", "__path__"}
    | {"__builtins__", "__cached__", "__annotations__", "__dict__", "__module__", "__qualname__"}
)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@lru_cache(maxsize=16)
def _tables(text: str) -> tuple[ast.Module, symtable.SymbolTable] | None:
    """The file's tree and symbol tables, once per text (every site of a file asks), or
    ``None`` when it does not parse or a ``from x import *`` makes its names unknowable."""
    try:
        tree = ast.parse(text)
        top = symtable.symtable(text, "<module>", "exec")
    except (SyntaxError, ValueError):
        return None
    return None if _star_import(tree) else (tree, top)


def _star_import(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
        for node in ast.walk(tree)
    )


def _module_bound(top: symtable.SymbolTable) -> set[str]:
    """Names bound at module level, including those functions assign after ``global``."""
    bound = {
        s.get_name()
        for s in top.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    stack = list(top.get_children())
    while stack:
        table = stack.pop()
        stack.extend(table.get_children())
        bound.update(
            s.get_name()
            for s in table.get_symbols()
            if s.is_declared_global() and (s.is_assigned() or s.is_imported())
        )
    return bound


def undefined_names(source: str | bytes) -> set[str] | None:
    """Names the file reads where no scope binds them (and no builtin is so named);
    ``None`` when the file cannot be read or a ``from x import *`` makes it unknowable."""
    tables = _tables(source.decode("utf-8", "replace") if isinstance(source, bytes) else source)
    if tables is None:
        return None
    _, top = tables
    known = _module_bound(top) | _BUILTINS | _MODULE_NAMES
    out: set[str] = set()
    stack = [top]
    while stack:
        table = stack.pop()
        stack.extend(table.get_children())
        for symbol in table.get_symbols():
            if not symbol.is_referenced() or symbol.get_name() in known:
                continue
            if table is top or symbol.is_global():
                out.add(symbol.get_name())
    return out


def bound_at(source: str | bytes, line: int) -> set[str] | None:
    """The names code at ``line`` can read: module-level names, then those of each
    enclosing function (a class body's only when the line is directly in it). ``None``
    when this cannot be told (unparsable file, ``import *``)."""
    tables = _tables(source.decode("utf-8", "replace") if isinstance(source, bytes) else source)
    if tables is None:
        return None
    tree, top = tables
    chain = sorted(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, _SCOPES) and node.lineno <= line <= (node.end_lineno or node.lineno)
        ),
        key=lambda node: (node.lineno, -(node.end_lineno or 0), node.col_offset),
    )
    names = _module_bound(top) | _BUILTINS | _MODULE_NAMES
    table = top
    for index, node in enumerate(chain):
        name = "lambda" if isinstance(node, ast.Lambda) else node.name
        child = next(
            (
                c
                for c in table.get_children()
                if c.get_name() == name and c.get_lineno() == node.lineno
            ),
            None,
        )
        if child is None:
            return None
        table = child
        if isinstance(node, ast.ClassDef):
            if index == len(chain) - 1:
                names |= {s.get_name() for s in child.get_symbols() if s.is_assigned()}
            continue
        names |= {s.get_name() for s in child.get_symbols() if s.is_local() or s.is_parameter()}
    return names
