"""Add a requirement to a service's dependency file, in that file's own style.

``requirements.txt``: pinned with ``==`` when the file pins, ``>=`` when it uses lower bounds,
bare otherwise; in alphabetical place when the file is sorted, else at the end.
``pyproject.toml``: a new entry in ``[project] dependencies`` (one per line or inline, as the
array is written, same quotes), or ``name = "^x.y"`` under ``[tool.poetry.dependencies]``.
``setup.cfg``: a new line under ``[options] install_requires``.
A requirement already listed (any version, any extras) is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The versions the generated code is tested with.
VERSIONS = {
    "kafka-python": "3.0.12",
    "confluent-kafka": "2.16.1",
    "aiokafka": "0.14.0",
    "protobuf": "5.28.3",
}
DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml", "setup.cfg")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def add_requirement(filename: str, text: str, name: str) -> str | None:
    """``text`` with ``name`` added, or ``None`` when it is listed already or the file has no
    place for dependencies."""
    base = filename.rsplit("/", 1)[-1]
    if base.endswith(".txt"):
        return _requirements_txt(text, name)
    if base == "pyproject.toml":
        return _pyproject(text, name)
    if base == "setup.cfg":
        return _setup_cfg(text, name)
    return None


def _listed(lines: Sequence[str], name: str) -> bool:
    for line in lines:
        match = _NAME.match(line.split("#", 1)[0].strip().strip("\"',"))
        if match and normalise(match.group(1)) == normalise(name):
            return True
    return False


def _spec(name: str, style: str) -> str:
    version = VERSIONS.get(name)
    if version is None or style == "bare":
        return name
    return f"{name}{style}{version}"


def _style(entries: Sequence[str]) -> str:
    pinned = sum("==" in e for e in entries)
    bounded = sum(">=" in e or "~=" in e for e in entries)
    if not entries:
        return "=="
    if pinned >= bounded and pinned:
        return "=="
    if bounded:
        return ">="
    return "bare"


def _requirements_txt(text: str, name: str) -> str | None:
    nl = _newline(text)
    lines = text.splitlines()
    entries = [line for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))]
    if _listed(entries, name):
        return None
    new = _spec(name, _style(entries))
    names = [normalise(_NAME.match(e).group(1)) for e in entries if _NAME.match(e)]  # type: ignore[union-attr]
    index = len(lines)
    while index > 0 and not lines[index - 1].strip():
        index -= 1
    if names and names == sorted(names):
        for i, line in enumerate(lines):
            match = _NAME.match(line)
            if (
                match
                and not line.lstrip().startswith(("#", "-"))
                and normalise(match.group(1)) > normalise(name)
            ):
                index = i
                break
    lines.insert(index, new)
    return nl.join(lines) + (nl if text.endswith(("\n", "\r")) or not text else "")


def _pyproject(text: str, name: str) -> str | None:
    nl = _newline(text)
    project = re.search(r"^\[project\]\s*$", text, re.MULTILINE)
    if project:
        section_end = _section_end(text, project.end())
        deps = re.compile(r"^dependencies\s*=\s*\[", re.MULTILINE).search(
            text, project.end(), section_end
        )
        if deps:
            close = _closing_bracket(text, deps.end())
            body = text[deps.end() : close]
            # the array's own text, its comments blanked: a quote, a bracket or a comma
            # inside a comment is not the array's
            code = _without_comments(body)
            items = re.findall(r"([\"'])(.*?)\1", code)
            if _listed([item for _, item in items], name):
                return None
            quote = items[0][0] if items else '"'
            new = f"{quote}{_spec(name, _style([i for _, i in items]))}{quote}"
            if "\n" in body:
                lines = body.rstrip().splitlines()
                indent = re.match(r"\s*", lines[-1]).group(0) if lines[-1].strip() else "    "  # type: ignore[union-attr]
                stripped = body.rstrip(" \t\r\n")
                # the comma after the last entry, before the comment that may follow it
                last = len(code.rstrip(" \t\r\n"))
                if code[:last].strip() and not code[:last].endswith((",", "[")):
                    stripped = f"{stripped[:last]},{stripped[last:]}"
                insert = f"{stripped}{nl}{indent}{new},{nl}"
                return text[: deps.end()] + insert + text[close:]
            inner = body.strip()
            joined = f"{inner.rstrip(',')}, {new}" if inner else new
            return text[: deps.end()] + joined + text[close:]
    poetry = re.search(r"^\[tool\.poetry\.dependencies\]\s*$", text, re.MULTILINE)
    if poetry:
        end = _section_end(text, poetry.end())
        section = text[poetry.end() : end]
        if _listed([line.split("=", 1)[0] for line in section.splitlines()], name):
            return None
        version = VERSIONS.get(name)
        value = f'"^{version}"' if version else '"*"'
        body = section.rstrip()
        rest = text[end:]
        return f"{text[: poetry.end()]}{body}{nl}{name} = {value}{nl}{nl if rest else ''}{rest}"
    return None


def _section_end(text: str, start: int) -> int:
    following = re.compile(r"^\[", re.MULTILINE).search(text, start)
    return following.start() if following else len(text)


def _without_comments(text: str) -> str:
    """``text`` (TOML) with each comment's characters turned to spaces, so positions in it
    are positions in ``text``."""
    out = list(text)
    quote: str | None = None
    comment = False
    for i, ch in enumerate(text):
        if comment:
            if ch in "\r\n":
                comment = False
            else:
                out[i] = " "
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
            out[i] = " "
    return "".join(out)


def _closing_bracket(text: str, start: int) -> int:
    depth = 1
    quote: str | None = None
    comment = False
    for i in range(start, len(text)):
        ch = text[i]
        if comment:
            comment = ch not in "\r\n"
        elif quote:
            if ch == quote:
                quote = None
        elif ch == "#":
            comment = True
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _setup_cfg(text: str, name: str) -> str | None:
    nl = _newline(text)
    lines = text.splitlines()
    in_options = False
    for i, line in enumerate(lines):
        if line.startswith("["):
            in_options = line.strip() == "[options]"
            continue
        if in_options and re.match(r"install_requires\s*=", line):
            j = i + 1
            entries = []
            indent = "    "
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                if lines[j].strip():
                    entries.append(lines[j].strip())
                    indent = lines[j][: len(lines[j]) - len(lines[j].lstrip())]
                j += 1
            inline = line.split("=", 1)[1].strip()
            if inline:
                entries.append(inline)
            if _listed(entries, name):
                return None
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            lines.insert(j, f"{indent}{_spec(name, _style(entries))}")
            return nl.join(lines) + (nl if text.endswith(("\n", "\r")) else "")
    return None
