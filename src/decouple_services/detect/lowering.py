"""Newer syntax rewritten, as text, into what this Python's ``ast`` reads, keeping every line.

Most files that Python 3.11 rejects use only PEP 695 (``def f[T](...)``, ``class C[T]:``,
``type Alias = ...``) or PEP 758 (``except A, B:``). Rewriting those few spots in the text
and parsing with ``ast`` costs a fraction of libcst's parse and lowering (measured: about
50 times less on the homeassistant corpus). Type parameters become blanks of the same
width, so every other token keeps its line and column; a ``type`` statement becomes
``pass`` followed by the newlines it spanned. When the result still does not parse (PEP 701
f-strings the reading of :func:`lower_fstrings` is unsure of, odd layouts), the caller
falls back to libcst.
"""

from __future__ import annotations

import re

# A definition with type parameters, or a `type` statement, at the start of a line.
_GENERIC_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*(?=\[)", re.M)
_TYPE_ALIAS = re.compile(r"^([ \t]*)type[ \t]+\w+[ \t]*(?=[\[=])", re.M)
_EXCEPT_GROUP = re.compile(r"^([ \t]*)except[ \t]+([^():\n]+,[^():\n]+):", re.M)
_OPEN = {"[": "]", "(": ")", "{": "}"}


def lower_new_syntax(text: str) -> str | None:
    """``text`` with PEP 695 and PEP 758 syntax rewritten, or None if nothing applies."""
    if "[" not in text and "type" not in text and "except" not in text:
        return None
    chars: list[str] | None = None
    for match in _GENERIC_DEF.finditer(text):
        end = _bracket_end(text, match.end())
        if end is None:
            return None
        chars = chars if chars is not None else list(text)
        lines = text.count("\n", match.end(), end)
        if not lines:
            for i in range(match.end(), end):
                chars[i] = " "
            continue
        # Parameters over several lines: the rest of the line after `]` moves up, and the
        # newlines follow it (blank lines, or inside the argument list's parentheses).
        eol = text.find("\n", end)
        eol = len(text) if eol < 0 else eol
        chars[match.end()] = text[end:eol] + "\n" * lines
        for i in range(match.end() + 1, eol):
            chars[i] = ""
    for match in _TYPE_ALIAS.finditer(text):
        end = _statement_end(text, match.end())
        if end is None:
            return None
        chars = chars if chars is not None else list(text)
        start = match.start() + len(match.group(1))
        # one list item per original character keeps the other matches' offsets valid
        chars[start] = "pass" + "\n" * text.count("\n", start, end)
        for i in range(start + 1, end):
            chars[i] = ""
    lowered = "".join(chars) if chars is not None else text
    if "except" in lowered:
        lowered = _EXCEPT_GROUP.sub(_parenthesise, lowered)
    return lowered if lowered != text else None


def _parenthesise(match: re.Match[str]) -> str:
    names = match.group(2)
    if " as " in names:
        return match.group(0)
    return f"{match.group(1)}except ({names}):"


def _bracket_end(text: str, start: int) -> int | None:
    """Index just past the bracket opened at ``start``, skipping simple string literals."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c in "\"'":
            close = text.find(c, i + 1)
            if close < 0 or "\n" in text[i:close]:
                return None
            i = close
        elif c == "#":
            newline = text.find("\n", i)
            if newline < 0:
                return None
            i = newline
        i += 1
    return None


def _statement_end(text: str, start: int) -> int | None:
    """Index of the newline ending the statement that continues at ``start``."""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            end = _bracket_end(text, i)
            if end is None:
                return None
            i = end
            continue
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            continue
        if c in "\"'":
            close = text.find(c, i + 1)
            if close < 0 or "\n" in text[i:close]:
                return None
            i = close + 1
            continue
        if c == "\n" or c == "#":
            return i
        i += 1
    return n


# --- PEP 701 f-strings -----------------------------------------------------------------

_PREFIXES = frozenset({"r", "u", "b", "f", "br", "rb", "fr", "rf"})


class _Unsure(Exception):
    """Text the f-string lowering does not read with certainty: left to libcst."""


def lower_fstrings(text: str) -> str | None:
    """``text`` with each single-quoted f-string whose replacement fields span lines or
    reuse its quote (PEP 701: ``f"-{\n  fmt(x)\n}"``, ``f"{d["k"]}"``) written with
    triple quotes, which Python 3.11 reads with the same fields; None when there is none,
    or when the text holds anything this reading is unsure of (a backslash or a comment in
    a field, a field holding the triple quote): those files go to libcst as before.
    Lines stay where they are; only the two quotes of each such string widen."""
    if "f" not in text and "F" not in text:
        return None
    edits: list[tuple[int, int, str]] = []
    try:
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "#":
                newline = text.find("\n", i)
                i = n if newline < 0 else newline
            elif c in "\"'":
                i = _string(text, i, edits, nested=False)
            else:
                i += 1
    except (_Unsure, RecursionError):  # fields nested past the stack: libcst's guard
        return None
    if not edits:
        return None
    out = text
    for start, end, quote in sorted(edits, reverse=True):
        out = out[:start] + quote * 3 + out[start + 1 : end] + quote * 3 + out[end + 1 :]
    return out


def _prefix(text: str, quote_at: int) -> str:
    start = quote_at
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    word = text[start:quote_at].lower()
    if not word:
        return ""
    if word not in _PREFIXES:
        raise _Unsure
    return word


def _string(text: str, i: int, edits: list[tuple[int, int, str]], *, nested: bool) -> int:
    """Index past the string literal whose quote is at ``i``; an f-string needing triple
    quotes is added to ``edits`` as (opening quote, closing quote, quote character)."""
    prefix = _prefix(text, i)
    q = text[i]
    triple = text.startswith(q * 3, i)
    width = 3 if triple else 1
    j = i + width
    n = len(text)
    is_f = "f" in prefix
    widen = False
    while j < n:
        c = text[j]
        if text.startswith(q * width, j):
            if widen:
                if nested:
                    raise _Unsure  # a nested string that would need lowering too
                edits.append((i, j, q))
            return j + width
        if c == "\\":
            j += 2
            continue
        if c == "\n" and not triple:
            raise _Unsure  # unterminated: not this reading's business
        if is_f and c == "{":
            if text.startswith("{{", j):
                j += 2
                continue
            j, spans, reuses = _field(text, j + 1, q, triple)
            widen = widen or ((spans or reuses) and not triple)
            continue
        j += 1
    raise _Unsure


def _field(text: str, j: int, q: str, triple: bool) -> tuple[int, bool, bool]:
    """Index past the replacement field starting at ``j`` (after its ``{``); whether it
    spans lines, whether a string in it uses the quote ``q``."""
    depth = 0
    spans = reuses = False
    n = len(text)
    while j < n:
        c = text[j]
        if c in "\\#":
            raise _Unsure  # neither is allowed in a field before Python 3.12
        if c == "\n":
            spans = True
        elif c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return j + 1, spans, reuses
            depth -= 1
        elif c in "\"'":
            if text.startswith(q * 3, j):
                raise _Unsure
            reuses = reuses or c == q
            j = _string(text, j, [], nested=True)
            continue
        elif c == ":" and depth == 0:
            # the format spec: text with fields of its own, up to the field's `}`
            j += 1
            while j < n and text[j] != "}":
                if text[j] == "{":
                    j, inner_spans, inner_reuses = _field(text, j + 1, q, triple)
                    spans, reuses = spans or inner_spans, reuses or inner_reuses
                    continue
                if text[j] in "\n\\\"'":
                    raise _Unsure
                j += 1
            if j >= n:
                raise _Unsure
            return j + 1, spans, reuses
        j += 1
    raise _Unsure


__all__ = ["lower_fstrings", "lower_new_syntax"]
