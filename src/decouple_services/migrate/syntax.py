"""The few readings of Python source the migration's checks share: parse without raising,
a node's lines, the function holding a line, and a function's own nodes (not those of the
functions or classes nested in it)."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator

Function = ast.FunctionDef | ast.AsyncFunctionDef
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@functools.lru_cache(maxsize=16)
def parse_module(source: str | bytes | None) -> ast.Module | None:
    """``source`` parsed, or None when there is none or it does not parse. Kept for the
    last few sources: each site's checks read the same caller and callee files again (the
    trees are only read, never changed)."""
    if source is None:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def span(node: ast.AST) -> tuple[int, int]:
    start = getattr(node, "lineno", 0)
    return start, getattr(node, "end_lineno", None) or start


def function_at(tree: ast.Module, line: int) -> Function | None:
    """The innermost function whose lines hold ``line``."""
    found: Function | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first, last = span(node)
            if first <= line <= last and (found is None or node.lineno > found.lineno):
                found = node
    return found


def own_nodes(function: Function) -> Iterator[ast.AST]:
    stack: list[ast.AST] = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, _NESTED):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def enclosing(root: ast.AST, line: int) -> Iterator[ast.AST]:
    """The nodes of ``root`` (not of the functions or classes nested in it) whose lines
    hold ``line``, each before the nodes inside it."""
    stack: list[ast.AST] = [root]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _NESTED):
                continue
            first, last = span(child)
            if first <= line <= last:
                yield child
                stack.append(child)


#: Methods that change a dict or list in place: a value they are called on is not the
#: literal it was bound to any more.
_MUTATORS = frozenset(
    {"update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove"}
)


def reaching_value(tree: ast.Module, line: int, name: str) -> ast.expr | None:
    """The value of ``name = <value>`` when that assignment is the only binding of ``name``
    in the function holding ``line``, stands before ``line`` in the block holding it or in
    a block around it, and nothing changes the value in place (``name[k] = v``,
    ``name.update(...)``): what ``name`` is at ``line``, whichever way the function ran.
    ``None`` when a parameter, another branch, a loop target, ``+=``, a second assignment
    or a change could make it something else."""
    function = function_at(tree, line)
    if function is None:
        return None
    args = function.args
    parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    if any(p is not None and p.arg == name for p in parameters):
        return None
    bindings: list[ast.Name] = []
    for node in own_nodes(function):
        if isinstance(node, ast.Name) and node.id == name:
            if not isinstance(node.ctx, ast.Load):
                bindings.append(node)
        elif _binds_otherwise(node, name) or _changes_in_place(node, name):
            return None
    if len(bindings) != 1:
        return None
    for block in _blocks(function):
        for index, statement in enumerate(block):
            if not (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and statement.targets[0] is bindings[0]
            ):
                continue
            # the statement of the same block that holds ``line`` comes after it
            later = block[index + 1 :]
            if any(span(s)[0] <= line <= span(s)[1] for s in later):
                return statement.value
            return None
    return None


def _binds_otherwise(node: ast.AST, name: str) -> bool:
    """``global``/``nonlocal``, ``except ... as``, a ``match`` capture or an import of
    ``name``: bindings that are not a ``Name`` node."""
    if isinstance(node, ast.Global | ast.Nonlocal):
        return name in node.names
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return node.name == name
    if isinstance(node, ast.alias):
        return (node.asname or node.name).split(".")[0] == name
    return False


def _changes_in_place(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.Subscript | ast.Attribute) and not isinstance(node.ctx, ast.Load):
        return isinstance(node.value, ast.Name) and node.value.id == name
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return isinstance(owner, ast.Name) and owner.id == name and node.func.attr in _MUTATORS
    return False


def _blocks(function: Function) -> Iterator[list[ast.stmt]]:
    """The statement lists of ``function`` (its body, each ``if``/``for``/``with``/``try``
    body, ``else`` and handler), not of the functions or classes nested in it."""
    for node in (function, *own_nodes(function)):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value
