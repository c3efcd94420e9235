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
