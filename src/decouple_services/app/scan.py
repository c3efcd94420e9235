"""What each CLI command does, as functions over the library API that tests can call.

The typer layer (``cli.py``) only turns options into these small dataclasses.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, overload

from decouple_services.app.terminal import Terminal
from decouple_services.core.config import Config, Gates, rule_codes
from decouple_services.core.errors import ConfigError, DecoupleError
from decouple_services.core.fs import read_regular, text_pieces, write_output
from decouple_services.core.git import git_argv, git_env
from decouple_services.core.model import ScanResult
from decouple_services.core.records import record
from decouple_services.core.text import printable

if TYPE_CHECKING:
    from decouple_services.app.pipeline import ScanOptions
    from decouple_services.app.replay import Recorder

#: A --baseline or --from file larger than this is not read.
MAX_SCAN_FILE_BYTES = 512 * 2**20

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


@record(slots=False)
class ScanCommand:
    path: Path
    format: str | None = None
    output: Path | None = None
    config: Path | None = None
    exclude: tuple[str, ...] = ()
    callee: str | None = None
    endpoint: str | None = None
    #: Gates; ``None`` (and empty selections) take the value of ``[tool.decouple]``.
    baseline: Path | None = None
    fail_on_score: float | None = None
    exit_zero: bool | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None
    #: See ScanOptions.full_parse.
    full_parse: bool = False


@record(slots=False)
class EffectiveGates:
    """The gates a scan runs under: its options over ``[tool.decouple]``."""

    baseline: Path | None
    fail_on_score: float | None
    exit_zero: bool
    select: frozenset[str]
    ignore: frozenset[str]


def effective_gates(command: ScanCommand, gates: Gates, config_dir: Path) -> EffectiveGates:
    """Options override the configuration; a configured baseline is relative to the folder of
    the configuration file. Rule codes are checked against the rules that exist."""
    problems: list[str] = []

    def codes(option: str, given: tuple[str, ...], configured: tuple[str, ...]) -> frozenset[str]:
        if not given:
            return frozenset(configured)
        split = tuple(part for value in given for part in value.split(",") if part.strip())
        return frozenset(rule_codes(split, option, problems))

    select = codes("--select", command.select, gates.select)
    ignore = codes("--ignore", command.ignore, gates.ignore)
    if select or ignore:
        # the rules' module only when codes are named: a rerun replaying its output does
        # not import the renderers
        from decouple_services.render.rules import RULES_BY_ID

        for code in sorted((select | ignore) - set(RULES_BY_ID)):
            problems.append(f"unknown rule {code} (rules: {', '.join(RULES_BY_ID)})")
    if problems:
        raise DecoupleError("; ".join(problems))
    baseline = command.baseline
    if baseline is None and gates.baseline is not None:
        baseline = config_dir / gates.baseline
    return EffectiveGates(
        baseline=baseline,
        fail_on_score=(
            command.fail_on_score if command.fail_on_score is not None else gates.fail_on_score
        ),
        exit_zero=command.exit_zero if command.exit_zero is not None else gates.exit_zero,
        select=select,
        ignore=ignore,
    )


def repository_prefix(path: Path) -> str:
    """The scanned folder's path inside its git repository (``services/``), ``""`` at the top
    level or outside git: SARIF and annotations give paths from the repository root."""
    import subprocess  # only these formats start git: a rerun reusing its result does not

    try:
        done = subprocess.run(
            git_argv(path, "rev-parse", "--show-toplevel"),
            env=git_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    top = done.stdout.strip()
    if done.returncode != 0 or not top:
        return ""
    try:
        inside = path.resolve().relative_to(Path(top).resolve())
    except ValueError:
        return ""
    text = inside.as_posix()
    return "" if text == "." else text + "/"


def apply_contracts(result: ScanResult, config: Config) -> ScanResult:
    """The scan with the contract violations of ``config.contracts``; a contract naming a
    service the scan does not know is a :class:`ConfigError` naming the known ones."""
    if not config.contracts:
        return result
    from decouple_services.graph.contracts import check_contracts, unknown_services

    problems = unknown_services(config.contracts, result.services)
    if problems:
        source = config.source or "configuration"
        raise ConfigError([f"{source}: {problem}" for problem in problems], config.source)
    return replace(result, contract_violations=check_contracts(result, config.contracts))


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


def write_output_noting_links(path: Path, data: str | bytes | list[str], err: IO[str]) -> None:
    """:func:`write_output`, saying so on ``err`` when ``path`` is a symlink whose target
    was replaced."""
    target = write_output(path, data)
    if target is not None:
        print(printable(f"decouple: note: {path} is a symlink; wrote {target}"), file=err)


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


@overload
def scan_shown(
    term: Terminal,
    path: Path,
    options: ScanOptions,
    *,
    file: IO[str] | None = None,
    known: Literal[False] = False,
) -> ScanResult: ...


@overload
def scan_shown(
    term: Terminal, path: Path, options: ScanOptions, *, file: IO[str] | None = None, known: bool
) -> ScanResult | None: ...


def scan_shown(
    term: Terminal,
    path: Path,
    options: ScanOptions,
    *,
    file: IO[str] | None = None,
    known: bool = False,
) -> ScanResult | None:
    """Scan as every command does on a terminal: a timed phase and a progress bar, and the
    pipeline's notes with ``-v``. With ``known``, None when ``options.known`` accepted the
    kept result the scan returns (``pipeline.scan_or_known``)."""
    from decouple_services.app.pipeline import scan, scan_or_known

    notes = (lambda line: term.detail(line, file=file)) if term.verbose else None
    with term.phase("scan", file=file), term.progress_bar() as progress:
        shown = replace(options, progress=progress, notes=notes)
        return scan_or_known(path, shown) if known else scan(path, shown)


def replayable(command: ScanCommand, gates: EffectiveGates, term: Terminal) -> bool:
    """Whether a run's output depends only on what ``app/replay.py`` stamps: JSON to
    stdout or a file (not a link), no baseline file, no timings."""
    output = command.output
    return (
        (command.format or ("table" if output is None else "json")) == "json"
        and (output is None or (str(output) != "-" and not output.is_symlink()))
        and gates.baseline is None
        and command.use_cache
        and not term.verbose
    )


def run_scan_command(
    command: ScanCommand, *, terminal: Terminal | None = None, replay: Recorder | None = None
) -> int:
    """Scan, render, write and gate; the exit status. ``terminal`` says whether to colour
    the table, draw a progress bar and how much to say (plain output when ``None``).
    ``replay`` is told what the result depends on when the run can be replayed (see
    ``app/replay.py``)."""
    from decouple_services.app.pipeline import GC_THRESHOLDS

    # The scan's thresholds of the cycle collector for the whole command: rendering a
    # large result allocates a dict per call site and field while the scan's facts and
    # records are still alive, and with the default thresholds the collector walked them
    # all again and again (a rerun of polar after one edit: 8% of its time).
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return _scan_command(command, terminal, replay)
    finally:
        gc.set_threshold(*thresholds)


def _scan_command(command: ScanCommand, terminal: Terminal | None, replay: Recorder | None) -> int:
    from decouple_services.app.pipeline import ScanOptions, load_configuration

    err = sys.stderr
    term = terminal or Terminal()
    try:
        root = command.path.resolve()
        # The scan reports a broken pyproject.toml as a diagnostic; the gates are then unset.
        config, _ = load_configuration(root, command.config)
        config_dir = command.config.resolve().parent if command.config else root
        gates = effective_gates(command, config.gates, config_dir)
        # Read the baseline first: a wrong path should not cost a whole scan.
        baseline = None
        if gates.baseline is not None:
            baseline = read_scan_file(gates.baseline, what="baseline")
        recording = replay is not None and replayable(command, gates, term)
        scanned = scan_shown(
            term,
            command.path,
            ScanOptions(
                exclude=command.exclude,
                config_path=command.config,
                jobs=command.jobs,
                use_cache=command.use_cache,
                cache_dir=command.cache_dir,
                full_parse=command.full_parse,
                vouch=replay.vouch if replay is not None and recording else None,
                known=replay.known if replay is not None and recording else None,
            ),
            known=recording,
        )
        if scanned is None:
            # the result the last run of this command rendered: its output, as it wrote it
            assert replay is not None
            try:
                return replay.repeat()
            except OSError as exc:
                print(
                    f"decouple: error: cannot write {command.output}: {exc.strerror or exc}",
                    file=err,
                )
                return EXIT_USAGE
        result = apply_contracts(scanned, config)
    except DecoupleError as exc:
        print(printable(f"decouple: error: {exc}"), file=err)
        return EXIT_USAGE
    # imported once there is a result to render (a replayed output needs none of them)
    from decouple_services.render import RENDERERS
    from decouple_services.render.options import RenderOptions
    from decouple_services.render.rules import CONTRACT, RuleSelection, find

    term.detail(
        f"{result.files_scanned} Python files, {len(result.services)} services, "
        f"{len(result.endpoints)} endpoints, {len(result.call_sites)} call sites, "
        f"{len(result.diagnostics)} diagnostics"
    )
    shown = filter_sites(result, command.callee, command.endpoint)
    for note in unmatched_filters(result, command.callee, command.endpoint):
        print(printable(f"decouple: warning: {note}"), file=err)
    fmt = command.format or ("table" if command.output is None else "json")
    selection = RuleSelection(gates.select, gates.ignore)
    options = RenderOptions(
        selection=selection,
        uri_prefix=repository_prefix(root) if fmt in ("sarif", "github") else "",
    )
    text: str | list[str]
    if fmt == "table":
        from decouple_services.render.table import render_table

        text = render_table(shown, options, color=term.color_stdout and command.output is None)
    elif fmt == "json":
        from decouple_services.render.json import render_json_pieces

        # written a piece at a time: a large result's text is not also held whole
        text = render_json_pieces(shown, options)
    else:
        text = RENDERERS[fmt](shown, options)
    if command.output is not None:
        try:
            write_output_noting_links(command.output, text, err)
        except OSError as exc:
            print(
                f"decouple: error: cannot write {command.output}: {exc.strerror or exc}", file=err
            )
            return EXIT_USAGE
        if replay is not None:
            replay.wrote(text)
        term.info(f"decouple: wrote {command.output}")
    else:
        for piece in text_pieces(text):
            sys.stdout.write(piece)
        sys.stdout.flush()
    failed = False
    if baseline is not None:
        problems = new_coupling(result, baseline)
        for problem in problems:
            print(printable(f"decouple: {problem}"), file=err)
        failed |= bool(problems)
    if gates.fail_on_score is not None:
        from decouple_services.graph.gate import hotspot_scores

        limit = gates.fail_on_score
        over = [(name, score) for name, score in hotspot_scores(result).items() if score > limit]
        for name, score in sorted(over, key=lambda item: -item[1]):
            print(
                printable(f"decouple: service {name} has hotspot score {score:.1f} > {limit:g}"),
                file=err,
            )
        failed |= bool(over)
    broken = [f for f in find(result, selection) if f.rule is CONTRACT and not f.suppressed]
    for finding in broken:
        site = finding.site
        print(
            printable(
                f"decouple: contract {finding.contract} broken by {site.caller} -> "
                f"{site.callee} at {site.file}:{site.line} ({site.id})"
            ),
            file=err,
        )
    failed |= bool(broken)
    if failed and gates.exit_zero:
        print("decouple: gate failed; exit status 0 because of exit-zero", file=err)
        return EXIT_OK
    return EXIT_GATE if failed else EXIT_OK
