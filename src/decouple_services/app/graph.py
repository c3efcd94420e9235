"""What ``decouple graph`` and ``decouple hotspots`` do, as functions tests can call.

The typer layer (``decouple_services.cli.graph``) only turns options into these dataclasses.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from decouple_services.app.scan import (
    EXIT_OK,
    EXIT_USAGE,
    read_scan_file,
    scan_shown,
    write_output_noting_links,
)
from decouple_services.app.terminal import Terminal
from decouple_services.core.errors import DecoupleError
from decouple_services.core.model import ScanResult
from decouple_services.core.text import printable
from decouple_services.graph.history import DEFAULT_WINDOW, change_counts, parse_window
from decouple_services.graph.merge import merge_scans
from decouple_services.graph.score import Hotspot, rank_hotspots
from decouple_services.graph.view import ViewOptions, build_view


@dataclass(frozen=True)
class Source:
    """Where the scan comes from: a directory to scan, or ``scan --format json`` files."""

    path: Path | None = None
    from_files: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    config: Path | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    #: Change-frequency window (``90d`` or a date); ``None`` turns git history off.
    since: str | None = DEFAULT_WINDOW


def load(
    source: Source, terminal: Terminal | None = None
) -> tuple[ScanResult, dict[str, int] | None]:
    """The scan (merged when several files are given) and the change counts, if any."""
    term = terminal or Terminal()
    window = parse_window(source.since) if source.since is not None else None
    if source.path is not None and source.from_files:
        raise DecoupleError("give either PATH or --from files, not both")
    if source.from_files:
        # Scans read from files have no work tree to read history from.
        return merge_scans([read_scan_file(path) for path in source.from_files]), None
    if source.path is None:
        raise DecoupleError("give a PATH to scan or --from scan.json files")
    from decouple_services.app.pipeline import ScanOptions

    result = scan_shown(
        term,
        source.path,
        ScanOptions(
            exclude=source.exclude,
            config_path=source.config,
            use_cache=source.use_cache,
            cache_dir=source.cache_dir,
        ),
    )
    if window is None:
        return result, None
    with term.phase("change frequency from git"):
        changes = change_counts(result, source.path, window)
    return result, changes


@dataclass(frozen=True)
class GraphCommand:
    source: Source
    svg: Path | None = None
    dot: Path | None = None
    mermaid: Path | None = None
    json: Path | None = None
    html: Path | None = None
    view: ViewOptions = field(default_factory=ViewOptions)


def run_graph_command(
    command: GraphCommand, *, stdout: TextIO | None = None, terminal: Terminal | None = None
) -> int:
    """Write every requested output; with none requested, DOT goes to stdout."""
    from decouple_services.graph.render_dot import render_dot
    from decouple_services.graph.render_html import render_html
    from decouple_services.graph.render_json import render_graph_json
    from decouple_services.graph.render_mermaid import render_mermaid
    from decouple_services.graph.render_svg import render_svg, without_links

    out = stdout or sys.stdout
    err = sys.stderr
    term = terminal or Terminal()
    try:
        result, changes = load(command.source, term)
        view = build_view(result, rank_hotspots(result, changes=changes), command.view)
        texts: list[tuple[Path, str]] = []
        if command.dot:
            texts.append((command.dot, render_dot(view)))
        if command.mermaid:
            texts.append((command.mermaid, render_mermaid(view)))
        if command.json:
            texts.append((command.json, render_graph_json(view)))
        # In the page, services link to their hotspot rows; a standalone SVG is the same
        # layout without those links, so asking for both lays the graph out once.
        with term.phase("layout"):
            linked = render_svg(view, links=True) if command.html else None
            if command.svg:
                svg = render_svg(view) if linked is None else without_links(linked)
                texts.append((command.svg, svg.decode("utf-8")))
        if command.html:
            texts.append((command.html, render_html(view, linked)))
    except DecoupleError as exc:
        print(printable(f"decouple: error: {exc}"), file=err)
        return EXIT_USAGE
    if not texts:
        out.write(render_dot(view))
        out.flush()
    for path, text in texts:
        try:
            write_output_noting_links(path, text, err)
        except OSError as exc:
            print(
                printable(f"decouple: error: cannot write {path}: {exc.strerror or exc}"), file=err
            )
            return EXIT_USAGE
        term.detail(f"wrote {path}", file=err)
    for line in view.hidden:
        term.info(printable(f"decouple: not shown: {line}"), file=err)
    return EXIT_OK


@dataclass(frozen=True)
class HotspotsCommand:
    source: Source
    top: int | None = None
    format: str = "table"


def hotspots_json(hotspots: list[Hotspot]) -> str:
    from decouple_services.graph.render_json import hotspot_dict

    items = []
    for h in hotspots:
        item = hotspot_dict(h)
        item["call_sites"] = [
            {
                "id": a.site.id,
                "callee": a.site.callee,
                "endpoint": a.site.endpoint,
                "file": a.site.file,
                "line": a.site.line,
                "migratability": a.migratability.label,
                "blockers": [f.code for f in a.migratability.blockers],
                "cautions": [f.code for f in a.migratability.cautions],
            }
            for a in h.sites
        ]
        items.append(item)
    return json.dumps({"hotspots": items}, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def hotspots_table(hotspots: list[Hotspot], *, width: int = 100, color: bool = False) -> str:
    """The ranking as a table of counts, then per service the sum behind its score, its
    longest chain and its easy wins (ids to hand to ``decouple migrate --select``)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="Hotspots (score formula: docs/graph.md)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in ("#", "service", "score", "fan-out", "fan-in", "sites", "chain", "cycle calls"):
        table.add_column(name, justify="left" if name == "service" else "right")
    table.add_column("changes", justify="right")
    table.add_column("easy/review/blocked", justify="right")
    for h in hotspots:
        c = h.components
        labels = [a.migratability.label for a in h.sites]
        # Text, not str: names from scanned code must not be read as rich markup.
        table.add_row(
            str(h.rank),
            Text(printable(h.service)),
            f"{h.score:g}",
            str(c.fan_out),
            str(c.fan_in),
            str(c.call_sites),
            str(c.chain_depth),
            str(c.cycle_calls),
            "-" if c.changes is None else str(c.changes),
            f"{labels.count('easy')}/{labels.count('review')}/{labels.count('blocked')}",
        )
    # Decided by the caller alone: rich's own reading of the environment stays out of it.
    console = Console(
        width=width,
        color_system="standard" if color else None,
        no_color=not color,
        force_terminal=color,
        force_jupyter=False,
        force_interactive=False,
    )

    def say(text: str) -> None:
        console.print(printable(text), highlight=False, markup=False, soft_wrap=True)

    with console.capture() as capture:
        console.print(table)
        for h in hotspots:
            say(f"{h.rank}. {h.service}: {h.components.explain()}")
            if h.metrics.chain:
                say(f"   longest chain: {' → '.join(h.metrics.chain)}")
            for a in h.sites:
                if a.is_easy_win:
                    s = a.site
                    say(f"   easy win {s.id}  {s.file}:{s.line} → {s.callee} {s.endpoint or ''}")
    return capture.get()


def run_hotspots_command(
    command: HotspotsCommand, *, stdout: TextIO | None = None, terminal: Terminal | None = None
) -> int:
    out = stdout or sys.stdout
    term = terminal or Terminal()
    try:
        result, changes = load(command.source, term)
    except DecoupleError as exc:
        print(printable(f"decouple: error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    hotspots = rank_hotspots(result, changes=changes, top=command.top)
    if command.format == "json":
        out.write(hotspots_json(hotspots))
    else:
        out.write(hotspots_table(hotspots, color=term.color_stdout))
    out.flush()
    return EXIT_OK
