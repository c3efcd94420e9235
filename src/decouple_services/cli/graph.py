"""The ``graph`` and ``hotspots`` commands. Only typer and the standard library are imported
here; networkx, rich and the renderers load when a command runs, so ``--help`` stays fast."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from decouple_services.cli import options

if TYPE_CHECKING:
    from decouple_services.app.graph import Source

_PATH = typer.Argument(
    help="Repository (or folder) to scan; or give --from scan files instead.",
    metavar="PATH",
    show_default=False,
)
_FROM = typer.Option(
    "--from",
    metavar="FILE",
    help="A `scan --format json` file; repeat to merge the scans of several repositories "
    "(calls between them are resolved by service aliases).",
)
_SINCE = typer.Option(
    "--since",
    metavar="WHEN",
    help="Change-frequency window: days before the newest commit (90d) or a date "
    "(2026-01-31). Read from git; skipped without history.",
)
_NO_HISTORY = typer.Option("--no-history", help="Leave change frequency out of the score.")


class HotspotFormat(str, Enum):
    table = "table"
    json = "json"


def _source(
    path: Path | None,
    from_files: list[Path] | None,
    exclude: list[str] | None,
    config: Path | None,
    no_cache: bool,
    cache_dir: Path | None,
    since: str,
    no_history: bool,
) -> Source:
    from decouple_services.app.graph import Source

    return Source(
        path=path,
        from_files=tuple(from_files or ()),
        exclude=tuple(exclude or ()),
        config=config,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        since=None if no_history else since,
    )


def graph(
    ctx: typer.Context,
    path: Annotated[Path | None, _PATH] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", metavar="FILE", help="SVG (no system Graphviz needed).")
    ] = None,
    dot: Annotated[Path | None, typer.Option("--dot", metavar="FILE", help="Graphviz DOT.")] = None,
    mermaid: Annotated[
        Path | None,
        typer.Option("--mermaid", metavar="FILE", help="Mermaid flowchart (renders on GitHub)."),
    ] = None,
    json: Annotated[
        Path | None,
        typer.Option("--json", metavar="FILE", help="Node-link JSON with scores and sites."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="One self-contained page: the SVG, hotspot and call-site tables.",
        ),
    ] = None,
    focus: Annotated[
        str | None,
        typer.Option("--focus", metavar="SERVICE", help="Only what lies near SERVICE."),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", min=0, metavar="N", help="Hops around --focus.")
    ] = 1,
    min_calls: Annotated[
        int,
        typer.Option("--min-calls", min=1, metavar="N", help="Hide edges with fewer call sites."),
    ] = 1,
    no_external: Annotated[
        bool, typer.Option("--no-external", help="Hide external hosts and unresolved callees.")
    ] = False,
    expand: Annotated[
        str | None,
        typer.Option(
            "--expand", metavar="SERVICE", help="Draw SERVICE as its endpoints and call sites."
        ),
    ] = None,
    from_files: Annotated[list[Path] | None, _FROM] = None,
    since: Annotated[str, _SINCE] = "90d",
    no_history: Annotated[bool, _NO_HISTORY] = False,
    exclude: Annotated[list[str] | None, options.EXCLUDE] = None,
    config: Annotated[Path | None, options.CONFIG] = None,
    no_cache: Annotated[bool, options.NO_CACHE] = False,
    cache_dir: Annotated[Path | None, options.CACHE_DIR] = None,
    quiet: Annotated[bool, options.QUIET] = False,
    verbose: Annotated[bool, options.VERBOSE] = False,
) -> None:
    """Draw the coupling graph of PATH, hotspots coloured.

    Service level by default; --expand shows one service's endpoints and call sites.
    What a filter hides is listed in the legend of every output (and on stderr).
    Without any output option the DOT is written to stdout.

    Examples:

      decouple graph ./repo --svg coupling.svg --html coupling.html

      decouple graph ./repo --mermaid coupling.mmd --focus orders --depth 2

      decouple graph --from users.json --from orders.json --svg org.svg

    Exit status: 0 ok; 2 usage, path or configuration error, or no layout engine.
    """
    from decouple_services.app.graph import GraphCommand, run_graph_command
    from decouple_services.graph.view import ViewOptions

    command = GraphCommand(
        source=_source(path, from_files, exclude, config, no_cache, cache_dir, since, no_history),
        svg=svg,
        dot=dot,
        mermaid=mermaid,
        json=json,
        html=html,
        view=ViewOptions(
            focus=focus,
            depth=depth,
            min_calls=min_calls,
            external=not no_external,
            expand=expand,
        ),
    )
    raise typer.Exit(run_graph_command(command, terminal=options.terminal(ctx, quiet, verbose)))


def hotspots(
    ctx: typer.Context,
    path: Annotated[Path | None, _PATH] = None,
    top: Annotated[
        int | None, typer.Option("--top", min=1, metavar="N", help="Only the first N.")
    ] = None,
    format: Annotated[
        HotspotFormat,
        typer.Option("--format", "-f", metavar="FORMAT", help="table (default) or json."),
    ] = HotspotFormat.table,
    from_files: Annotated[list[Path] | None, _FROM] = None,
    since: Annotated[str, _SINCE] = "90d",
    no_history: Annotated[bool, _NO_HISTORY] = False,
    exclude: Annotated[list[str] | None, options.EXCLUDE] = None,
    config: Annotated[Path | None, options.CONFIG] = None,
    no_cache: Annotated[bool, options.NO_CACHE] = False,
    cache_dir: Annotated[Path | None, options.CACHE_DIR] = None,
    quiet: Annotated[bool, options.QUIET] = False,
    verbose: Annotated[bool, options.VERBOSE] = False,
) -> None:
    """Rank the services of PATH by hotspot score, with the components of each score.

    Each service's easy wins (fire-and-forget calls with nothing to watch) follow the
    table: their ids go straight to `decouple migrate --select`.

    Examples:

      decouple hotspots ./repo --top 5

      decouple hotspots ./repo --format json --since 2026-01-01

    Exit status: 0 ok; 2 usage, path or configuration error.
    """
    from decouple_services.app.graph import HotspotsCommand, run_hotspots_command

    command = HotspotsCommand(
        source=_source(path, from_files, exclude, config, no_cache, cache_dir, since, no_history),
        top=top,
        format=format.value,
    )
    raise typer.Exit(run_hotspots_command(command, terminal=options.terminal(ctx, quiet, verbose)))


def register(app: typer.Typer) -> None:
    """Add ``graph`` and ``hotspots`` to the ``decouple`` command line."""
    app.command()(graph)
    app.command()(hotspots)
