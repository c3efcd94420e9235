"""The ``decouple`` command line: parse options, call one library function, render, exit.

Exit status: 0 ok; 1 a gate failed (``--fail-on-score``, ``--baseline`` saw a new
synchronous inter-service call, or a call breaks a declared contract), unless
``--exit-zero``; 2 usage, path or configuration error; 3 an internal error (a bug: one
line naming the file being read, never a traceback).
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
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    sarif = "sarif"
    github = "github"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"decouple {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
    quiet: Annotated[bool, options.QUIET] = False,
    verbose: Annotated[bool, options.VERBOSE] = False,
) -> None:
    """decouple: untangle services that call each other directly."""
    # -q/-v work before the command (`decouple -q scan .`) and after it (`decouple scan . -q`):
    # the commands read what was given here from ctx.obj.
    ctx.obj = {"quiet": quiet, "verbose": verbose}


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")],
) -> None:
    """Print the shell completion script for SHELL, to save where your shell loads it.

    Examples:

      decouple completion bash > ~/.local/share/bash-completion/completions/decouple

      decouple completion zsh > "${fpath[1]}/_decouple"

      decouple completion fish > ~/.config/fish/completions/decouple.fish

    `decouple --install-completion` does this for the shell you are in.
    """
    # The text --show-completion prints, for a shell named rather than detected. typer
    # keeps the function in a private module; tests/test_cli_face.py holds it to its output.
    from typer._completion_shared import get_completion_script

    # The variable the scripts set when they ask decouple for candidates: typer derives it
    # from the program's name, as --show-completion does.
    typer.echo(
        get_completion_script(
            prog_name="decouple", complete_var="_DECOUPLE_COMPLETE", shell=shell.value
        )
    )


@app.command()
def scan(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository (or folder) to scan.", metavar="PATH")],
    format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table (default), json (schema_version 1; the default with --output), "
            "sarif (2.1.0, for code scanning) or github (Actions annotations).",
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
            "services appeared that it does not have (a CI ratchet). Default: "
            "[tool.decouple] baseline.",
        ),
    ] = None,
    fail_on_score: Annotated[
        float | None,
        typer.Option(
            "--fail-on-score",
            metavar="X",
            help="Exit 1 if a service's hotspot score is above X (formula: docs/outputs.md). "
            "Default: [tool.decouple] fail-on-score.",
        ),
    ] = None,
    exit_zero: Annotated[
        bool | None,
        typer.Option(
            "--exit-zero/--no-exit-zero",
            help="Report what the gates find, but exit 0 (errors still exit 2). "
            "Default: [tool.decouple] exit-zero.",
            show_default=False,
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="CODE",
            help="Report only these rules (DCP001...; repeat or comma-separate). "
            "Default: [tool.decouple] select, else all.",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            metavar="CODE",
            help="Never report these rules (DCP002...; repeat or comma-separate). "
            "Default: [tool.decouple] ignore.",
        ),
    ] = None,
    no_cache: Annotated[bool, options.NO_CACHE] = False,
    cache_dir: Annotated[Path | None, options.CACHE_DIR] = None,
    quiet: Annotated[bool, options.QUIET] = False,
    verbose: Annotated[bool, options.VERBOSE] = False,
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
    full_parse: Annotated[
        bool,
        typer.Option(
            "--full-parse",
            help="Parse every file that mentions a client, a framework or a setting, not "
            "only the files calls are in and what they use (slower; same call sites).",
        ),
    ] = False,
) -> None:
    """Find every inter-service call in PATH and resolve it to its callee.

    Examples:

      decouple scan ./repo

      decouple scan ./repo --format json -o scan.json

      decouple scan ./repo --callee payments --endpoint "POST /charges"

      decouple scan ./repo --baseline main-scan.json   # CI ratchet

      decouple scan . --format sarif -o decouple.sarif --exit-zero

      decouple scan . --format github --select DCP001,DCP007

    Exit status: 0 ok; 1 a gate failed (--baseline, --fail-on-score, a contract of
    [tool.decouple.contracts]) unless --exit-zero; 2 usage, path or configuration
    error; 3 internal error (a bug: please report it). An unresolved callee comes with
    the annotation (# decouple: target=<service>) or config entry that would fix it;
    # decouple: ignore[DCP004] on a call suppresses that rule there.
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
        exit_zero=exit_zero,
        select=tuple(select or ()),
        ignore=tuple(ignore or ()),
        use_cache=not no_cache,
        cache_dir=cache_dir,
        jobs=jobs,
        full_parse=full_parse,
    )
    raise typer.Exit(run_scan_command(command, terminal=options.terminal(ctx, quiet, verbose)))


cli_graph.register(app)
cli_migrate.register(app)
app.command()(completion)  # last in --help: the commands that do the work come first


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status instead of raising ``SystemExit``.

    Usage errors (unknown option, missing argument) exit 2, as documented.
    """
    from decouple_services.cli.entry import guarded

    def run() -> int:
        try:
            app(args=argv, prog_name="decouple")
        except SystemExit as exc:
            if exc.code is None:
                return EXIT_OK
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        return EXIT_OK

    return guarded(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
