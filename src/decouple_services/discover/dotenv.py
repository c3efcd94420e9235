"""``.env`` files and ``${VAR}`` interpolation, as docker compose and python-dotenv read them.

Pure functions over text: the caller reads the file. A line that cannot be understood
becomes a diagnostic and parsing goes on with the next line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from decouple_services.core.model import Diagnostic, EnvValue, Severity
from decouple_services.core.records import record

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}

#: Looks a variable up; ``None`` when it is not set.
Lookup = Callable[[str], "str | None"]

#: Budgets of one expansion. A value that doubles the previous one on each of 40 lines is
#: a 600-byte file asking for terabytes; defaults nested thousands deep recurse as deep.
MAX_EXPANDED_CHARS = 65_536
MAX_NESTING = 32


class InterpolationLimit(ValueError):
    """An expansion beyond :data:`MAX_EXPANDED_CHARS` or :data:`MAX_NESTING`."""


@record
class DotenvFile:
    """The variables of one ``.env`` file, in file order, each with its ``file:line``."""

    values: tuple[EnvValue, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def as_dict(self) -> dict[str, str]:
        """Name to value; a later declaration of a name wins, as when the file is loaded."""
        return {value.name: value.value for value in self.values}


def parse_dotenv(text: str, file: str, environ: Mapping[str, str] | None = None) -> DotenvFile:
    """Parse ``.env`` text: ``KEY=VALUE``, ``export KEY=...``, quotes, comments, interpolation.

    ``${VAR}``, ``${VAR:-default}`` and ``$VAR`` are replaced from keys declared earlier in
    the file, then from ``environ``. A reference to a variable that is set nowhere is kept
    as written, so later stages see that part as unknown rather than as an empty string.
    Single-quoted values are literal; double-quoted ones may span lines and use escapes.
    """
    outer = environ or {}
    values: list[EnvValue] = []
    known: dict[str, str] = {}
    diagnostics: list[Diagnostic] = []
    lines = text.splitlines()
    index = 0

    def lookup(name: str) -> str | None:
        return known[name] if name in known else outer.get(name)

    while index < len(lines):
        line_no = index + 1
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export") :].lstrip()
        key_match = _KEY.match(stripped)
        if key_match is None:
            diagnostics.append(_bad(file, line_no, f"expected KEY=VALUE, got {_clip(raw)!r}"))
            continue
        key = key_match.group(0)
        rest = stripped[key_match.end() :].lstrip()
        if not rest or rest.startswith("#"):
            # A bare KEY means "pass it through from the environment": no value to record.
            continue
        if not rest.startswith("="):
            diagnostics.append(
                _bad(file, line_no, f"expected '=' after {key!r}, got {_clip(raw)!r}")
            )
            continue
        rest = rest[1:].lstrip()
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body, consumed, closed = _quoted(rest[1:], quote, lines, index)
            if not closed:
                diagnostics.append(
                    _bad(file, line_no, f"unterminated {quote} quote in value of {key!r}")
                )
                continue
            index += consumed
            # Single quotes are literal, as in the shell.
            written = _unescape(body) if quote == '"' else None
            value = body
        else:
            written = _strip_comment(rest)
            value = written
        if written is not None:
            try:
                value = expand(written, lookup)
            except InterpolationLimit as exc:
                # Kept as written: the next line referring to it cannot grow from it either.
                diagnostics.append(_bad(file, line_no, f"value of {key!r} {exc}; kept as written"))
                value = written
        known[key] = value
        values.append(EnvValue(key, value, f"{file}:{line_no}"))
    return DotenvFile(tuple(values), tuple(diagnostics))


def _quoted(rest: str, quote: str, lines: list[str], index: int) -> tuple[str, int, bool]:
    """Read a quoted value; return ``(body, extra lines consumed, closed)``."""
    pieces: list[str] = []
    text = rest
    consumed = 0
    while True:
        position = 0
        while position < len(text):
            char = text[position]
            if char == "\\" and quote == '"' and position + 1 < len(text):
                pieces.append(text[position : position + 2])
                position += 2
                continue
            if char == quote:
                return "".join(pieces), consumed, True
            pieces.append(char)
            position += 1
        if index + consumed >= len(lines):
            return "".join(pieces), consumed, False
        pieces.append("\n")
        text = lines[index + consumed]
        consumed += 1


def _unescape(body: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char == "\\" and position + 1 < len(body):
            nxt = body[position + 1]
            if nxt in _ESCAPES:
                # ``\$`` stays an escaped dollar for interpolate() to turn into a literal.
                out.append("$$" if nxt == "$" else _ESCAPES[nxt])
                position += 2
                continue
        out.append(char)
        position += 1
    return "".join(out)


def _strip_comment(value: str) -> str:
    # An inline comment needs whitespace before '#', so URL fragments (a#b) survive.
    match = re.search(r"\s#", value)
    if match is not None:
        value = value[: match.start()]
    return value.strip()


def interpolate(value: str, lookup: Lookup) -> str:
    """Expand ``$VAR``, ``${VAR}`` and the compose operators in ``value``.

    Supports ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}``,
    ``${VAR:?msg}``, ``${VAR?msg}``, nested references inside defaults, and ``$$`` for a
    literal ``$``. References that cannot be expanded are kept as written, and so is a
    value whose expansion is beyond the budgets (:func:`expand` says why).
    """
    try:
        return expand(value, lookup)
    except InterpolationLimit:
        return value


def expand(value: str, lookup: Lookup, _depth: int = 0) -> str:
    """:func:`interpolate`, raising :class:`InterpolationLimit` past the budgets."""
    if "$" not in value:
        return value
    if _depth > MAX_NESTING:
        raise InterpolationLimit(f"has references nested more than {MAX_NESTING} deep")
    out: list[str] = []
    size = 0
    position = 0
    while position < len(value):
        char = value[position]
        if char != "$":
            piece = char
            position += 1
        elif value[position + 1 : position + 2] == "$":
            piece = "$"
            position += 2
        elif value[position + 1 : position + 2] == "{":
            end = _closing_brace(value, position + 2)
            if end < 0:
                piece = value[position:]
                position = len(value)
            else:
                braced = value[position + 2 : end]
                piece = _expand_braced(braced, value[position : end + 1], lookup, _depth + 1)
                position = end + 1
        else:
            match = _NAME.match(value, position + 1)
            if match is None:
                piece = "$"
                position += 1
            else:
                found = lookup(match.group(0))
                piece = found if found is not None else "$" + match.group(0)
                position = match.end()
        size += len(piece)
        if size > MAX_EXPANDED_CHARS:
            raise InterpolationLimit(f"expands to more than {MAX_EXPANDED_CHARS} characters")
        out.append(piece)
    return "".join(out)


def _closing_brace(value: str, start: int) -> int:
    depth = 1
    position = start
    while position < len(value):
        if value.startswith("${", position):
            depth += 1
            position += 2
            continue
        if value[position] == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return -1


def _expand_braced(inner: str, written: str, lookup: Lookup, depth: int) -> str:
    match = _NAME.match(inner)
    if match is None:
        return written
    name = match.group(0)
    operator_and_word = inner[match.end() :]
    current = lookup(name)
    if not operator_and_word:
        return current if current is not None else written
    for operator in (":-", ":+", ":?", "-", "+", "?"):
        if operator_and_word.startswith(operator):
            word = operator_and_word[len(operator) :]
            break
    else:
        return written
    set_and_non_empty = bool(current)
    is_set = current is not None
    if operator in (":-", "-"):
        use_default = not set_and_non_empty if operator == ":-" else not is_set
        return expand(word, lookup, depth) if use_default else str(current)
    if operator in (":+", "+"):
        use_alt = set_and_non_empty if operator == ":+" else is_set
        return expand(word, lookup, depth) if use_alt else ""
    # ``:?``/``?`` fail the deployment when unset; statically that value is simply unknown.
    ok = set_and_non_empty if operator == ":?" else is_set
    return str(current) if ok else written


def _bad(file: str, line: int, message: str) -> Diagnostic:
    return Diagnostic(file, line, Severity.WARNING, "dotenv-invalid", message)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
