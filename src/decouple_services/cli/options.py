"""Options every command that scans shares, so they read and behave the same everywhere.

Only typer at module level: this is imported when ``decouple --help`` runs.
"""

from __future__ import annotations

import typer

from decouple_services.app.terminal import Terminal, Verbosity

CONFIG = typer.Option(
    "--config",
    metavar="FILE",
    help="A decouple.toml or pyproject.toml to use instead of the repository's.",
)
EXCLUDE = typer.Option(
    "--exclude", "-x", metavar="GLOB", help="Paths to skip (gitignore syntax); repeatable."
)
NO_CACHE = typer.Option("--no-cache", help="Ignore and do not write the cache.")
CACHE_DIR = typer.Option(
    "--cache-dir",
    metavar="DIR",
    # an existing file is refused up front; an unwritable directory only costs speed
    file_okay=False,
    help="A folder of its own where to keep per-file results between runs (default: "
    "PATH/.decouple-cache). Safe to delete; shared safely by concurrent runs.",
)
#: ``migrate``'s: a dry run writes nothing into the scanned tree, the cache included.
MIGRATE_CACHE_DIR = typer.Option(
    "--cache-dir",
    metavar="DIR",
    file_okay=False,
    help="A folder of its own where to keep per-file results between runs (default: "
    "PATH/.decouple-cache, which a dry run reads if a scan made it but never creates or "
    "writes: only --write and --branch do). Safe to delete; shared safely by concurrent "
    "runs.",
)
QUIET = typer.Option(
    "--quiet",
    "-q",
    help="Say less: no progress bar and no informational lines on stderr (errors, warnings "
    "and gate failures still print).",
)
VERBOSE = typer.Option(
    "--verbose", "-v", help="Say more: what each phase did and how long it took, on stderr."
)


def terminal(ctx: typer.Context, quiet: bool, verbose: bool) -> Terminal:
    """The run's :class:`Terminal`: ``-q``/``-v`` given before the command (kept by the
    callback in ``ctx.obj``) or after it, with the environment's colour conventions."""
    from decouple_services.cli.console import terminal as from_environment

    given = ctx.obj if isinstance(ctx.obj, dict) else {}
    quiet = quiet or bool(given.get("quiet"))
    verbose = verbose or bool(given.get("verbose"))
    if quiet and verbose:
        raise typer.BadParameter("give --quiet or --verbose, not both", ctx=ctx)
    level = Verbosity.QUIET if quiet else Verbosity.VERBOSE if verbose else Verbosity.NORMAL
    return from_environment(level)
