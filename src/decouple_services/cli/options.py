"""Options every command that scans shares, so they read and behave the same everywhere.

Only typer at module level: this is imported when ``decouple --help`` runs.
"""

from __future__ import annotations

import typer

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
    help="Where to keep per-file results between runs (default: PATH/.decouple-cache). "
    "Safe to delete; shared safely by concurrent runs.",
)
