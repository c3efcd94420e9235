"""The ``decouple`` command line: parse options, call one library function, render, exit.

Exit status: 0 ok; 1 a gate failed (``--fail-on-score``, or ``--baseline`` saw a new
synchronous inter-service call); 2 usage, path or configuration error; 3 an internal
error (a bug: one line naming the file being read, never a traceback).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from decouple_services import __version__
from decouple_services.cli import graph as cli_graph
from decouple_services.cli import migrate as cli_migrate
from decouple_services.cli import options

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

app = typer.Typer(
    name="decouple",
    help=(
        "Find the synchronous calls between your Python services, see the coupling, and "
        "migrate chosen calls to Kafka events.\n\n"
        "Start with: decouple scan ./repo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    sarif = "sarif"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"decouple {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """decouple: untangle services that call each other directly."""


@app.command()
def scan(
    path: Annotated[Path, typer.Argument(help="Repository (or folder) to scan.", metavar="PATH")],
    format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table (default), json (schema_version 1; the default with --output) or sarif (2.1.0).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
    config: Annotated[Path | None, options.CONFIG] = None,
    exclude: Annotated[list[str] | None, options.EXCLUDE] = None,
    callee: Annotated[
        str | None,
        typer.Option(
            "--callee",
            metavar="SERVICE",
            help="Only call sites whose callee is SERVICE (or external:<host>, unknown).",
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="ENDPOINT",
            help='Only call sites that hit ENDPOINT, e.g. "POST /orders".',
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="A previous `scan --format json`: exit 1 if a synchronous call between "
            "services appeared that it does not have (a CI ratchet).",
        ),
    ] = None,
    fail_on_score: Annotated[
        float | None,
        typer.Option(
            "--fail-on-score",
            metavar="X",
            help="Exit 1 if a service's hotspot score is above X (formula: docs/outputs.md).",
        ),
    ] = None,
    no_cache: Annotated[bool, options.NO_CACHE] = False,
    cache_dir: Annotated[Path | None, options.CACHE_DIR] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Worker processes for parsing (default: CPU count, at most 8; never more than the CPU count).",
        ),
    ] = None,
) -> None:
    """Find every inter-service call in PATH and resolve it to its callee.

    Examples:

      decouple scan ./repo

      decouple scan ./repo --format json -o scan.json

      decouple scan ./repo --callee payments --endpoint "POST /charges"

      decouple scan ./repo --baseline main-scan.json   # CI ratchet

    Exit status: 0 ok; 1 a gate failed (--baseline, --fail-on-score); 2 usage,
    path or configuration error; 3 internal error (a bug: please report it). An unresolved callee comes with the annotation
    (# decouple: target=<service>) or config entry that would fix it.
    """
    from decouple_services.app.scan import ScanCommand, run_scan_command

    command = ScanCommand(
        path=path,
        format=format.value if format else None,
        output=output,
        config=config,
        exclude=tuple(exclude or ()),
        callee=callee,
        endpoint=endpoint,
        baseline=baseline,
        fail_on_score=fail_on_score,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        jobs=jobs,
    )
    raise typer.Exit(run_scan_command(command))


cli_graph.register(app)
cli_migrate.register(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status instead of raising ``SystemExit``.

    Usage errors (unknown option, missing argument) exit 2, as documented.
    """
    from decouple_services.core.errors import DecoupleError
    from decouple_services.core.text import printable

    try:
        app(args=argv, prog_name="decouple")
    except SystemExit as exc:
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except DecoupleError as exc:  # one a command did not report itself
        print(printable(f"decouple: error: {_one_line(str(exc))}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("decouple: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug; status 1 would read as a failed gate
        print(internal_error(exc), file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


def internal_error(exc: BaseException) -> str:
    """The one line an unexpected error ends the command with: what, where, what to do."""
    from decouple_services.core import fs
    from decouple_services.core.text import printable

    where = f" while reading {fs.last_read}" if fs.last_read else ""
    what = _one_line(f"{type(exc).__name__}: {exc}")
    return printable(
        f"decouple: internal error{where}: {what} -- this is a bug in decouple; "
        "please report it with this line and the command that ran"
    )


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
