"""Imports after a rewrite: the producer's added once where isort (and ruff) put it, and the
ones the removed calls were the last users of taken out.

Sections follow isort's defaults, as ruff applies them without configuration: ``__future__``,
standard library, third party, the file's own top-level package (first party), then relative
imports. Within a section, ``import x`` lines come first, then ``from x import y``, each sorted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import libcst as cst

FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL = range(5)


def names_in(nodes: Iterable[cst.CSTNode], skip: frozenset[int] = frozenset()) -> set[str]:
    """Every name the nodes read (not attribute names, not keyword argument names), outside
    the nodes (statement lines, blocks) whose ``id`` is in ``skip``."""
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        #: Inside an annotation, a string is code too (``client: "httpx.Client"``): ruff and
        #: type checkers read the names in it, so an import they need stays.
        annotations = 0

        def on_visit(self, node: cst.CSTNode) -> bool:
            return id(node) not in skip and super().on_visit(node)

        def visit_Annotation(self, node: cst.Annotation) -> None:
            self.annotations += 1

        def leave_Annotation(self, original_node: cst.Annotation) -> None:
            self.annotations -= 1

        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            if not self.annotations:
                return
            text = node.evaluated_value
            if not isinstance(text, str):
                return
            try:
                written = cst.parse_expression(text.strip())
            except cst.ParserSyntaxError:
                return  # a string that is no expression names nothing
            written.visit(self)

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            found.add(node.value)

    for node in nodes:
        node.visit(_Names())
    return found


def _dotted(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    return cst.Module([]).code_for_node(node)


def _bound(alias: cst.ImportAlias, is_from: bool) -> str:
    if alias.asname is not None:
        target = alias.asname.name
        assert isinstance(target, cst.Name)
        return target.value
    name = _dotted(alias.name)
    return name if is_from else name.split(".")[0]


def _import_of(statement: cst.CSTNode) -> cst.Import | cst.ImportFrom | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return small
    return None


def drop_unused(module: cst.Module, candidates: set[str]) -> cst.Module:
    """Take out top-level imports of ``candidates`` that nothing in ``module`` reads any more."""
    if not candidates:
        return module
    code = module.code
    body = [s for s in module.body if _import_of(s) is None]
    used = names_in(body)
    # Names exported through __all__ stay imported.
    keep = {n for n in candidates if "__all__" in code and (f'"{n}"' in code or f"'{n}'" in code)}
    out: list[cst.BaseStatement] = []
    carried: list[cst.EmptyLine] = []

    def with_carried(statement: cst.BaseStatement) -> cst.BaseStatement:
        nonlocal carried
        if not carried or not isinstance(
            statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)
        ):
            return statement
        own = list(statement.leading_lines)
        comments = [line for line in carried if line.comment is not None]
        blank = [cst.EmptyLine()] if carried[0].comment is None and not own else []
        carried = []
        return statement.with_changes(leading_lines=[*blank, *comments, *own])

    for statement in module.body:
        node = _import_of(statement)
        if node is None or (
            isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar)
        ):
            out.append(with_carried(statement))
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        is_from = isinstance(node, cst.ImportFrom)
        names = node.names
        assert not isinstance(names, cst.ImportStar)
        kept = [
            a
            for a in names
            if not (_bound(a, is_from) in candidates and _bound(a, is_from) not in used | keep)
        ]
        if len(kept) == len(names):
            out.append(with_carried(statement))
        elif kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            new_node = node.with_changes(names=kept)
            if is_from and isinstance(new_node, cst.ImportFrom) and len(kept) == 1:
                new_node = new_node.with_changes(lpar=None, rpar=None)
            out.append(with_carried(statement.with_changes(body=[new_node])))
        else:
            # The statement goes; its blank lines and comments stay for what follows.
            carried = [*carried, *statement.leading_lines]
    if out and module.body and out[0] is not module.body[0]:
        # The file's first statement went: what is first now starts at the top.
        first = out[0]
        if isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            lines = list(first.leading_lines)
            while lines and lines[0].comment is None:
                lines.pop(0)
            out[0] = first.with_changes(leading_lines=lines)
    return module.with_changes(body=out)


def _kind(node: cst.Import | cst.ImportFrom, own: str | None = None) -> int:
    if isinstance(node, cst.ImportFrom):
        if node.relative:
            return LOCAL
        top = _dotted(node.module).split(".")[0]
    else:
        top = _dotted(node.names[0].name).split(".")[0]
    if top == "__future__":
        return FUTURE
    if own is not None and top == own:
        return FIRST_PARTY
    return STDLIB if top in sys.stdlib_module_names else THIRD_PARTY


def _sort_key(node: cst.Import | cst.ImportFrom) -> tuple[int, int, str]:
    if isinstance(node, cst.ImportFrom):
        return (1, -len(node.relative), _dotted(node.module).lower())
    return (0, 0, _dotted(node.names[0].name).lower())


_Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def _insert(body: list[_Statement], place: int, first: int, new: _Statement) -> None:
    """Put ``new`` at ``place`` in a block starting at ``first``: first in its block, it
    takes over the lines above the block (a comment, the blank line below the docstring)."""
    if place == first:
        statement = body[first]
        assert isinstance(statement, cst.SimpleStatementLine)
        new = new.with_changes(leading_lines=statement.leading_lines)
        body[first] = statement.with_changes(leading_lines=[])
    body.insert(place, new)


def add_import(module: cst.Module, text: str, *, own_package: str | None = None) -> cst.Module:
    """``module`` with the import statement ``text`` (``from x import a, b``) in its section,
    merged into an existing ``from x import`` of the same module. ``own_package`` is the
    file's top-level package, whose absolute imports are first party."""
    new = cst.parse_statement(text.rstrip("\n") + "\n")
    node = _import_of(new)
    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    body = list(module.body)
    wanted = [_dotted(a.name) for a in node.names]
    # The import region: the docstring, then imports (and guards among them).
    start = 0
    if body and _is_docstring(body[0]):
        start = 1
    end = start
    while end < len(body) and (_import_of(body[end]) is not None):
        end += 1
    for index in range(start, end):
        existing = _import_of(body[index])
        if (
            isinstance(existing, cst.ImportFrom)
            and not isinstance(existing.names, cst.ImportStar)
            and len(existing.relative) == len(node.relative)
            and _dotted(existing.module) == _dotted(node.module)
        ):
            have = {_dotted(a.name) for a in existing.names}
            missing = [n for n in wanted if n not in have]
            if not missing:
                return module
            names = sorted({*have, *missing})
            merged = cst.parse_statement(
                f"from {'.' * len(existing.relative)}{_dotted(existing.module)} import "
                f"{', '.join(names)}\n"
            )
            statement = body[index]
            assert isinstance(statement, cst.SimpleStatementLine)
            body[index] = merged.with_changes(
                leading_lines=statement.leading_lines,
                trailing_whitespace=statement.trailing_whitespace,
            )
            return module.with_changes(body=body)
    kind = _kind(node, own_package)
    key = _sort_key(node)
    # Blocks of imports separated by blank lines, each of one section.
    blocks: list[tuple[int, int]] = []
    for index in range(start, end):
        statement = body[index]
        if not blocks or (
            isinstance(statement, cst.SimpleStatementLine) and statement.leading_lines
        ):
            blocks.append((index, index + 1))
        else:
            blocks[-1] = (blocks[-1][0], index + 1)
    for first, last in reversed(blocks):
        kinds = {
            _kind(n, own_package) for n in (_import_of(body[i]) for i in range(first, last)) if n
        }
        if kinds == {kind}:
            place = last
            for index in range(first, last):
                existing = _import_of(body[index])
                if existing is not None and _sort_key(existing) > key:
                    place = index
                    break
            _insert(body, place, first, new)
            return module.with_changes(body=body)
    # Imports not sorted into sections (``import requests`` above ``import http.client``
    # in one block): isort's place would mean sorting the whole block, a diff of lines
    # the migration did not change. The import goes among those of its own section in
    # the last block holding some: before the first that sorts after it, else after the
    # last of them, with no blank line the block does not have.
    for first, last in reversed(blocks):
        ours = [
            i
            for i in range(first, last)
            if (existing := _import_of(body[i])) is not None
            and _kind(existing, own_package) == kind
        ]
        if not ours:
            continue
        place = next(
            (i for i in ours if _sort_key(_import_of(body[i]) or node) > key), ours[-1] + 1
        )
        _insert(body, place, first, new)
        return module.with_changes(body=body)
    # A section of its own, after the sections that come before it.
    place = start
    for first, last in blocks:
        kinds = {
            _kind(n, own_package) for n in (_import_of(body[i]) for i in range(first, last)) if n
        }
        if kinds and max(kinds) < kind:
            place = last
    blank = [cst.EmptyLine()]
    if place < len(body) and place < end:
        # Sections after ours keep a blank line between them and us.
        following = body[place]
        assert isinstance(following, cst.SimpleStatementLine)
        own = list(following.leading_lines)
        if place == 0:
            own = [line for line in own if line.comment is not None]
        new = new.with_changes(leading_lines=own if place == 0 else own or blank)
        body[place] = following.with_changes(leading_lines=blank)
        body.insert(place, new)
        return module.with_changes(body=body)
    if place > 0:
        new = new.with_changes(leading_lines=blank)
    body.insert(place, new)
    after = place + 1
    if after < len(body) and place == end:
        following = body[after]
        lines = getattr(following, "leading_lines", None)
        if lines is not None and not any(line.comment is None for line in lines):
            gap = 2 if isinstance(following, cst.BaseCompoundStatement) else 1
            body[after] = following.with_changes(leading_lines=[*(blank * gap), *lines])
    return module.with_changes(body=body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def separate_docstring(module: cst.Module, original: cst.Module) -> cst.Module:
    """The imports below the module docstring as far from it as in ``original``: an import
    added or taken out at the top of the block changes no line but its own (a docstring
    right above ``from datetime import datetime`` stays so)."""
    body, before = list(module.body), list(original.body)
    if len(body) < 2 or len(before) < 2 or not _is_docstring(body[0]):
        return module
    if not _is_docstring(before[0]) or _import_of(before[1]) is None:
        return module  # no import below the docstring before: the added one's own spacing
    following = body[1]
    if _import_of(following) is None:
        return module
    assert isinstance(following, cst.SimpleStatementLine)
    lines, old = list(following.leading_lines), list(before[1].leading_lines)

    def blanks(lines: list[cst.EmptyLine]) -> int:
        return next((i for i, line in enumerate(lines) if line.comment is not None), len(lines))

    own, now = blanks(old), blanks(lines)
    if own == now:
        return module
    # the blank lines above the first import are the docstring's spacing; comments stay
    kept = [*([cst.EmptyLine()] * own), *lines[now:]]
    body[1] = following.with_changes(leading_lines=kept)
    return module.with_changes(body=body)
