"""The ``decouple`` console entry point: ``decouple scan`` without typer when it can be.

Importing typer and letting it coerce each option costs more than a rerun whose inputs did
not change (the scan then returns its previous result). A ``scan`` command line written in
the plain forms (``--option value``, ``--option=value``, ``-o value``, one PATH) is read here
into the same :class:`~decouple_services.app.scan.ScanCommand` typer would build, and run the
same way. Anything else (help, completion, another command, an option before ``scan``, a
value typer would refuse, an option given twice) goes to the typer application, which then
parses, validates and reports as it always has: the fast path never answers what it is not
sure of.

Only the standard library at module level: this runs before anything else.
"""

from __future__ import annotations

import gc
import os
import sys

#: ``typing.TYPE_CHECKING`` without importing ``typing``: a rerun answered from its record
#: (``app/replay.py``) imports only what answering needs (see docs/performance.md)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from decouple_services.app.scan import ScanCommand
    from decouple_services.app.terminal import Verbosity

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 3

_FORMATS = frozenset({"table", "json", "sarif", "github"})
#: Options taking a value, by every spelling, and the field each fills.
_VALUED = {
    "--format": "format",
    "-f": "format",
    "--output": "output",
    "-o": "output",
    "--config": "config",
    "--exclude": "exclude",
    "-x": "exclude",
    "--callee": "callee",
    "--endpoint": "endpoint",
    "--baseline": "baseline",
    "--fail-on-score": "fail_on_score",
    "--select": "select",
    "--ignore": "ignore",
    "--cache-dir": "cache_dir",
    "--jobs": "jobs",
    "-j": "jobs",
}
#: Options that may be repeated (typer collects them into a list).
_REPEATABLE = frozenset({"exclude", "select", "ignore"})
_FLAGS = {
    "--exit-zero": ("exit_zero", True),
    "--no-exit-zero": ("exit_zero", False),
    "--no-cache": ("no_cache", True),
    "--quiet": ("quiet", True),
    "-q": ("quiet", True),
    "--verbose": ("verbose", True),
    "-v": ("verbose", True),
    "--full-parse": ("full_parse", True),
}


_Parsed = tuple[str, dict[str, str], dict[str, list[str]], dict[str, bool]]


def plain_scan(argv: list[str]) -> tuple[ScanCommand, Verbosity] | None:
    """The command and verbosity of ``decouple scan ...`` as typer would read ``argv``, or
    ``None`` when typer must read it (see the module's docstring)."""
    parsed = _parse(argv)
    return None if parsed is None else _command(*parsed)


def _parse(argv: list[str]) -> _Parsed | None:
    """``argv``'s PATH, valued options, repeated options and flags, when all are plain."""
    if not argv or argv[0] != "scan" or "_DECOUPLE_COMPLETE" in os.environ:
        return None
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    flags: dict[str, bool] = {}
    paths: list[str] = []
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-":
            return None
        if not arg.startswith("-"):
            paths.append(arg)
            continue
        name, eq, given = arg.partition("=")
        if name in _FLAGS and not eq:
            flag, value = _FLAGS[name]
            if flag in flags:
                return None
            flags[flag] = value
            continue
        found = _VALUED.get(name)
        # a value that looks like an option, or none at all, is typer's to report
        if found is None or (eq and not name.startswith("--")):
            return None
        field = found
        if not eq:
            if i >= len(args) or args[i].startswith("-"):
                return None
            given = args[i]
            i += 1
        if field in _REPEATABLE:
            lists.setdefault(field, []).append(given)
        elif field in values:
            return None
        else:
            values[field] = given
    if len(paths) != 1 or not paths[0]:
        return None
    return paths[0], values, lists, flags


def _replay_key(parsed: _Parsed) -> tuple[str, list[object]] | None:
    """Where a replayable run of ``parsed`` is recorded and its key (``app/replay.py``), or
    None when the run cannot be replayed or typer must read the command line."""
    from decouple_services.app.replay import command_key, record_path

    path, values, lists, flags = parsed
    output = values.get("output")
    if (
        values.get("format", "table" if output is None else "json") != "json"
        or output == "-"
        or "baseline" in values
        or flags.get("no_cache")
        or flags.get("verbose")
        or sys.stdout.isatty()
        or sys.stderr.isatty()
    ):
        return None
    try:
        if "jobs" in values and int(values["jobs"]) < 1:
            return None
        score = float(values["fail_on_score"]) if "fail_on_score" in values else None
    except ValueError:
        return None
    cache_dir = values.get("cache_dir")
    if cache_dir is not None and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        return None
    root = os.path.realpath(path)
    key = command_key(
        root,
        format="json",
        output=output,
        config=values.get("config"),
        exclude=lists.get("exclude", ()),
        callee=values.get("callee"),
        endpoint=values.get("endpoint"),
        fail_on_score=score,
        exit_zero=flags.get("exit_zero"),
        select=lists.get("select", ()),
        ignore=lists.get("ignore", ()),
        full_parse=flags.get("full_parse", False),
        quiet=flags.get("quiet", False),
    )
    return record_path(root, cache_dir), key


def _command(
    path: str, values: dict[str, str], lists: dict[str, list[str]], flags: dict[str, bool]
) -> tuple[ScanCommand, Verbosity] | None:
    from pathlib import Path

    from decouple_services.app.scan import ScanCommand
    from decouple_services.app.terminal import Verbosity

    fmt = values.get("format")
    if fmt is not None and fmt not in _FORMATS:
        return None
    jobs: int | None = None
    fail_on_score: float | None = None
    try:
        if "jobs" in values:
            jobs = int(values["jobs"])
        if "fail_on_score" in values:
            fail_on_score = float(values["fail_on_score"])
    except ValueError:
        return None
    if jobs is not None and jobs < 1:
        return None
    cache_dir = values.get("cache_dir")
    # typer refuses an existing file there (and checks nothing else)
    if cache_dir is not None and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        return None
    quiet, verbose = flags.get("quiet", False), flags.get("verbose", False)
    if quiet and verbose:
        return None
    optional = {k: Path(values[k]) for k in ("output", "config", "baseline") if k in values}
    command = ScanCommand(
        path=Path(path),
        format=fmt,
        output=optional.get("output"),
        config=optional.get("config"),
        exclude=tuple(lists.get("exclude", ())),
        callee=values.get("callee"),
        endpoint=values.get("endpoint"),
        baseline=optional.get("baseline"),
        fail_on_score=fail_on_score,
        exit_zero=flags.get("exit_zero"),
        select=tuple(lists.get("select", ())),
        ignore=tuple(lists.get("ignore", ())),
        use_cache=not flags.get("no_cache", False),
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        jobs=jobs,
        full_parse=flags.get("full_parse", False),
    )
    level = Verbosity.QUIET if quiet else Verbosity.VERBOSE if verbose else Verbosity.NORMAL
    return command, level


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status instead of raising ``SystemExit``.

    Usage errors (unknown option, missing argument) exit 2, as documented.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    replay = None
    try:
        parsed = _parse(args)
        replay = None if parsed is None else _replay_key(parsed)
    except Exception:  # reading the command line is never worth a failure: typer reads it
        parsed = None
    if replay is not None:
        from decouple_services.app.replay import answer

        answered = answer(*replay)
        if answered is not None:  # nothing it depends on changed: the last run's output
            stdout, stderr, status = answered
            sys.stdout.write(stdout)
            sys.stdout.flush()
            sys.stderr.write(stderr)
            return status
    try:
        plain = None if parsed is None else _command(*parsed)
    except Exception:
        plain = None
    if plain is None:
        from decouple_services.cli.commands import main as typer_main

        return typer_main(argv)
    status = run_plain_scan(*plain, replay=replay)
    if argv is None:
        # The console script, whose process ends now: its objects (a large tree's facts,
        # resolutions and result) moved out of the collector's sight, so that the
        # collections of the interpreter's shutdown do not walk them all again (polar,
        # a rerun after one edit: 0.1 to 0.3 s of 1.6). Nothing is left uncollected
        # that the exit would not free anyway.
        gc.freeze()
    return status


def run_plain_scan(
    command: ScanCommand, level: Verbosity, replay: tuple[str, list[object]] | None = None
) -> int:
    """Run a scan read by :func:`plain_scan`, with the exit statuses of the typer path;
    with ``replay`` (where and under which key), answered from or recorded for a rerun."""
    from decouple_services.app.replay import Recorder, config_paths

    recorder = None
    if replay is not None:
        path, key = replay
        config = None if command.config is None else str(command.config)
        recorder = Recorder(path, key, config_paths(str(key[3]), config))

    def run() -> int:
        from decouple_services.app.scan import run_scan_command
        from decouple_services.cli.console import terminal

        return run_scan_command(command, terminal=terminal(level), replay=recorder)

    if recorder is None:
        return guarded(run)
    from decouple_services.app.cache import collector_paused
    from decouple_services.app.pipeline import GC_THRESHOLDS

    # the scan's thresholds of the cycle collector (``run_scan_command``) until the record
    # is written too: the scan's objects are alive until then
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        with recorder.capture():
            status = guarded(run)
        # the collector off, as for the scan's other writes to the cache
        with collector_paused():
            recorder.save(status)
    finally:
        gc.set_threshold(*thresholds)
    return status


def guarded(run: Callable[[], int]) -> int:
    """``run()``'s exit status, or the one an error it let through ends the command with:
    the same on the fast path and through typer."""
    from decouple_services.core.errors import DecoupleError
    from decouple_services.core.text import printable

    try:
        return run()
    except DecoupleError as exc:  # one the command did not report itself
        print(printable(f"decouple: error: {one_line(str(exc))}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("decouple: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug; status 1 would read as a failed gate
        print(internal_error(exc), file=sys.stderr)
        return EXIT_INTERNAL


def internal_error(exc: BaseException) -> str:
    """The one line an unexpected error ends the command with: what, where, what to do."""
    from decouple_services.core import fs
    from decouple_services.core.text import printable

    where = f" while reading {fs.last_read}" if fs.last_read else ""
    what = one_line(f"{type(exc).__name__}: {exc}")
    return printable(
        f"decouple: internal error{where}: {what} -- this is a bug in decouple; "
        "please report it with this line and the command that ran"
    )


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
