"""Marker files that make a directory look like a deployable service, and Dockerfile facts.

When no compose file or manifest names a service, a directory holding a Dockerfile,
pyproject.toml, setup.py, requirements.txt or manage.py is the next best evidence.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from collections.abc import Iterable

from decouple_services.core.model import EnvValue
from decouple_services.core.records import record
from decouple_services.discover._ports import parse_port_spec, ports_in_command
from decouple_services.discover.dotenv import interpolate

# Files that say "this directory is deployed and run": enough on their own even when
# compose or k8s already described other services.
_STRONG = ("Dockerfile", "manage.py", "Procfile")
# Files that say "this directory is a Python project": a service only when nothing better
# is known, since libraries shared between services carry them too.
_WEAK = ("pyproject.toml", "setup.py", "setup.cfg")
#: A distributable package's metadata: with no requirements file or Dockerfile beside it,
#: a library (or an SDK) rather than something deployed.
PACKAGE_METADATA = frozenset(_WEAK)


def marker_kind(name: str) -> str | None:
    """``"strong"``, ``"weak"`` or ``None`` for a file name."""
    if name in _STRONG or is_dockerfile(name):
        return "strong"
    if name in _WEAK or fnmatch.fnmatchcase(name, "requirements*.txt"):
        return "weak"
    return None


def is_dockerfile(name: str) -> bool:
    """Whether a file name is a Dockerfile (``Dockerfile``, ``Dockerfile.prod``, ``api.Dockerfile``)."""
    return name.startswith("Dockerfile") or name.endswith((".Dockerfile", ".dockerfile"))


@record
class MarkerDir:
    """A directory holding marker files."""

    #: Repo-relative directory ("." for the repository root).
    directory: str
    #: Names of the marker files in it, sorted.
    markers: tuple[str, ...]

    @property
    def is_strong(self) -> bool:
        return any(marker_kind(m) == "strong" for m in self.markers)

    @property
    def depth(self) -> int:
        return 0 if self.directory == "." else self.directory.count("/") + 1


def find_marker_dirs(paths: Iterable[str]) -> tuple[MarkerDir, ...]:
    """Group marker files by directory, shallowest directories first."""
    by_dir: dict[str, set[str]] = {}
    for path in paths:
        name = posixpath.basename(path)
        if marker_kind(name) is not None:
            by_dir.setdefault(posixpath.dirname(path) or ".", set()).add(name)
    dirs = [MarkerDir(d, tuple(sorted(names))) for d, names in by_dir.items()]
    return tuple(sorted(dirs, key=lambda m: (m.depth, m.directory)))


@record
class DockerfileFacts:
    """What the final stage of a Dockerfile says about the running service."""

    ports: tuple[int, ...] = ()
    env: tuple[EnvValue, ...] = ()
    #: ``ENTRYPOINT`` and ``CMD`` of the final stage, as one command line.
    command: str = ""
    #: File names the final stage ships from the build: what it copies from an earlier
    #: stage (``COPY --from=build /out/server /usr/bin/server``), and the program its
    #: command runs.
    binaries: tuple[str, ...] = ()
    #: What the final stage copies from the build context (``COPY``/``ADD`` sources, not
    #: ``--from`` another stage), context-relative, with globs and trailing ``/`` dropped:
    #: ``"."`` when it copies the whole context.
    copied: tuple[str, ...] = ()
    #: What any stage copies from the build context: code a builder stage copies reaches
    #: the final one through ``COPY --from``.
    copied_by_any_stage: tuple[str, ...] = ()


_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$", re.DOTALL)


def parse_dockerfile(text: str, file: str) -> DockerfileFacts:
    """``EXPOSE`` ports, ``ENV`` values and ports named in ``CMD``/``ENTRYPOINT``.

    Multi-stage builds: only the final stage runs, and a stage built ``FROM`` an earlier
    one inherits its env and ports. ``$VAR`` references are expanded from ``ARG`` defaults
    and earlier ``ENV`` values. Unparseable instructions are skipped: a Dockerfile only
    adds detail to a service that is already known.
    """
    stages: dict[str, tuple[dict[str, EnvValue], list[int]]] = {}
    env: dict[str, EnvValue] = {}
    args: dict[str, str] = {}
    ports: list[int] = []
    run: dict[str, str] = {}
    copied: list[str] = []
    copied_by_any: list[str] = []
    shipped: list[str] = []

    def lookup(name: str) -> str | None:
        if name in env:
            return env[name].value
        return args.get(name)

    for line_no, instruction in _instructions(text):
        match = _INSTRUCTION.match(instruction)
        if match is None:
            continue
        keyword, rest = match.group(1).upper(), match.group(2).strip()
        if keyword == "FROM":
            words = rest.split()
            base = next((w for w in words if not w.startswith("--")), "")
            inherited = stages.get(base.lower())
            env = dict(inherited[0]) if inherited else {}
            ports = list(inherited[1]) if inherited else []
            run = {}
            copied = []
            shipped = []
            if len(words) >= 3 and words[-2].upper() == "AS":
                stages[words[-1].lower()] = (env, ports)
        elif keyword == "ARG":
            name, _, default = rest.partition("=")
            if default:
                args[name.strip()] = _unquote(default.strip())
        elif keyword == "ENV":
            for name, value in _env_pairs(rest):
                env[name] = EnvValue(name, interpolate(value, lookup), f"{file}:{line_no}")
        elif keyword == "EXPOSE":
            for word in rest.split():
                ports.extend(parse_port_spec(interpolate(word, lookup)))
        elif keyword in ("CMD", "ENTRYPOINT"):
            run[keyword] = interpolate(_command_text(rest), lookup)
            ports.extend(ports_in_command(run[keyword]))
        elif keyword == "COPY" and "--from=" in rest:
            words = [w for w in rest.split() if not w.startswith("--")]
            shipped += [posixpath.basename(w.rstrip("/")) for w in words[:-1]]
        elif keyword in ("COPY", "ADD"):
            sources = _copy_sources(interpolate(rest, lookup))
            copied.extend(sources)
            copied_by_any.extend(sources)
    command = " ".join(run[k] for k in ("ENTRYPOINT", "CMD") if k in run)
    program = posixpath.basename(command.split()[0]) if command.split() else ""
    binaries = tuple(dict.fromkeys(b for b in (*shipped, program) if b))
    return DockerfileFacts(
        tuple(dict.fromkeys(ports)),
        tuple(env.values()),
        command,
        binaries,
        tuple(dict.fromkeys(copied)),
        tuple(dict.fromkeys(copied_by_any)),
    )


def _copy_sources(rest: str) -> list[str]:
    """The context paths ``COPY [--chown=x] src... dest`` copies; none for ``--from``."""
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            return []
        words = [str(w) for w in parsed] if isinstance(parsed, list) else []
    else:
        try:
            words = shlex.split(rest)
        except ValueError:
            return []
    if any(w.startswith("--from") for w in words):
        return []
    paths = [w for w in words if not w.startswith("--")][:-1]
    sources = []
    for path in paths:
        if "://" in path:
            continue  # ADD of a url
        path = posixpath.normpath(path.lstrip("/") or ".")
        # `dir/*`, `dir/*.py`: the directory is what is copied
        while path != "." and any(c in posixpath.basename(path) for c in "*?["):
            path = posixpath.dirname(path) or "."
        if not path.startswith(".."):
            sources.append(path)
    return sources


def dockerfile_instructions(text: str) -> Iterable[tuple[int, str]]:
    """Logical instructions with the line they start on, continuations joined."""
    return _instructions(text)


def _instructions(text: str) -> Iterable[tuple[int, str]]:
    """Logical instructions with the line they start on, continuations joined."""
    escape = "\\"
    pending: list[str] = []
    start = 0
    for index, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and re.match(r"#\s*escape\s*=\s*`", stripped):
            escape = "`"
            continue
        if stripped.startswith("#"):
            continue
        if not pending:
            if not stripped:
                continue
            start = index
        if stripped.endswith(escape):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _env_pairs(rest: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(rest, posix=True)
    except ValueError:
        return []
    if not words:
        return []
    if "=" not in words[0]:
        # Legacy form: ``ENV NAME value with spaces``.
        name, _, value = rest.partition(" ")
        return [(name, _unquote(value.strip()))]
    pairs = []
    for word in words:
        name, equals, value = word.partition("=")
        if equals and name:
            pairs.append((name, value))
    return pairs


def _command_text(rest: str) -> str:
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            return rest
        if isinstance(parsed, list):
            return " ".join(str(part) for part in parsed)
    return rest


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


_BAZEL_BINARY = re.compile(
    r"^[ \t]*(?:cc_binary|go_binary)\(\s*(?:#[^\n]*\n\s*)*name\s*=\s*[\"']([\w.+-]+)[\"']",
    re.MULTILINE,
)


def bazel_binaries(text: str) -> list[tuple[str, int]]:
    """``cc_binary(name = "server", ...)`` and ``go_binary`` targets of a Bazel ``BUILD``
    file, with their lines: the binaries built from that folder, named as Bazel names the
    output file."""
    return [
        (match.group(1), text.count("\n", 0, match.start()) + 1)
        for match in _BAZEL_BINARY.finditer(text)
    ]
