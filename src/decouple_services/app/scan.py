"""What each CLI command does, as functions over the library API that tests can call.

The typer layer (``cli.py``) only turns options into these small dataclasses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from decouple_services.core.errors import DecoupleError
from decouple_services.core.fs import read_regular, write_output
from decouple_services.core.model import ScanResult
from decouple_services.core.text import printable

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2
#: A --baseline or --from file larger than this is not read.
MAX_SCAN_FILE_BYTES = 512 * 2**20


@dataclass(frozen=True)
class ScanCommand:
    path: Path
    format: str | None = None
    output: Path | None = None
    config: Path | None = None
    exclude: tuple[str, ...] = ()
    callee: str | None = None
    endpoint: str | None = None
    baseline: Path | None = None
    fail_on_score: float | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None


def filter_sites(result: ScanResult, callee: str | None, endpoint: str | None) -> ScanResult:
    """Keep the call sites to one callee and/or one endpoint (``"POST /orders"``)."""
    sites = result.call_sites
    if callee:
        sites = tuple(s for s in sites if s.callee == callee)
    if endpoint:
        wanted = " ".join(endpoint.split()).upper()
        method, _, path = wanted.partition(" ")
        sites = tuple(
            s
            for s in sites
            if s.endpoint is not None
            and (
                s.endpoint.upper() == wanted
                or (not path and s.endpoint.upper().split(" ", 1)[-1] == method)
            )
        )
    return replace(result, call_sites=sites)


def unmatched_filters(result: ScanResult, callee: str | None, endpoint: str | None) -> list[str]:
    """Filters that select no call site of ``result`` on their own: most often a typo, which
    would otherwise look like a clean report."""
    notes = []
    if callee and not filter_sites(result, callee, None).call_sites:
        known = sorted({s.callee for s in result.call_sites})
        shown = ", ".join(known[:10]) + (f" (+{len(known) - 10} more)" if len(known) > 10 else "")
        notes.append(f"--callee {callee} matches no call site (callees: {shown or 'none'})")
    if endpoint and not filter_sites(result, None, endpoint).call_sites:
        notes.append(f'--endpoint "{endpoint}" matches no call site')
    return notes


def new_coupling(current: ScanResult, baseline: ScanResult) -> list[str]:
    """Synchronous production calls between services that the baseline did not have."""

    def keyed(result: ScanResult) -> tuple[set[tuple[str, str]], set[str]]:
        edges = set()
        ids = set()
        for site in result.call_sites:
            if site.is_production_coupling:
                edges.add((site.caller, site.callee))
                ids.add(site.id)
        return edges, ids

    base_edges, base_ids = keyed(baseline)
    problems = []
    for site in current.call_sites:
        if not site.is_production_coupling:
            continue
        if (site.caller, site.callee) not in base_edges:
            problems.append(
                f"new edge {site.caller} -> {site.callee} at {site.file}:{site.line} ({site.id})"
            )
        elif site.id not in base_ids:
            problems.append(
                f"new call site {site.caller} -> {site.callee} at {site.file}:{site.line} ({site.id})"
            )
    return problems


def write_output_noting_links(path: Path, data: str | bytes, err: IO[str]) -> None:
    """:func:`write_output`, saying so on ``err`` when ``path`` is a symlink whose target
    was replaced."""
    target = write_output(path, data)
    if target is not None:
        print(printable(f"decouple: note: {path} is a symlink; wrote {target}"), file=err)


def _progress_bar() -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    task = bar.add_task("scan", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def read_scan_file(path: Path, *, what: str = "scan file") -> ScanResult:
    """A ``scan --format json`` file (a ``--baseline``, a ``--from``) read back; a file that
    cannot be read or is not a scan is a :class:`DecoupleError` naming it."""
    from decouple_services.render.json import load_scan_json

    try:
        text = read_regular(path, MAX_SCAN_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DecoupleError(
            f"{path}: cannot read {what}: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    try:
        return load_scan_json(text, source=str(path))
    except RecursionError:
        raise DecoupleError(f"{path}: not a {what}: JSON nested too deeply") from None


def run_scan_command(command: ScanCommand, *, stdout_is_tty: bool | None = None) -> int:
    from decouple_services.app.pipeline import ScanOptions, scan
    from decouple_services.render import RENDERERS

    err = sys.stderr
    try:
        # Read the baseline first: a wrong path should not cost a whole scan.
        baseline = None
        if command.baseline is not None:
            baseline = read_scan_file(command.baseline, what="baseline")
        progress, stop = _progress_bar()
        try:
            result = scan(
                command.path,
                ScanOptions(
                    exclude=command.exclude,
                    config_path=command.config,
                    jobs=command.jobs,
                    use_cache=command.use_cache,
                    cache_dir=command.cache_dir,
                    progress=progress,
                ),
            )
        finally:
            stop()
    except DecoupleError as exc:
        print(printable(f"decouple: error: {exc}"), file=err)
        return EXIT_USAGE
    shown = filter_sites(result, command.callee, command.endpoint)
    for note in unmatched_filters(result, command.callee, command.endpoint):
        print(printable(f"decouple: warning: {note}"), file=err)
    tty = sys.stdout.isatty() if stdout_is_tty is None else stdout_is_tty
    fmt = command.format or ("table" if tty or command.output is None else "json")
    if fmt == "table":
        from decouple_services.render.table import render_table

        text = render_table(shown, color=tty and command.output is None)
    else:
        text = RENDERERS[fmt](shown)
    if command.output is not None:
        try:
            write_output_noting_links(command.output, text, err)
        except OSError as exc:
            print(
                f"decouple: error: cannot write {command.output}: {exc.strerror or exc}", file=err
            )
            return EXIT_USAGE
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    status = EXIT_OK
    if baseline is not None:
        problems = new_coupling(result, baseline)
        for problem in problems:
            print(printable(f"decouple: {problem}"), file=err)
        if problems:
            status = EXIT_GATE
    if command.fail_on_score is not None:
        from decouple_services.graph.gate import hotspot_scores

        over = [
            (name, score)
            for name, score in hotspot_scores(result).items()
            if score > command.fail_on_score
        ]
        for name, score in sorted(over, key=lambda item: -item[1]):
            print(
                f"decouple: service {name} has hotspot score {score:.1f} > {command.fail_on_score}",
                file=err,
            )
        if over:
            status = EXIT_GATE
    return status
