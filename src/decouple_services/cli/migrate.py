"""The ``decouple migrate`` command: options -> :class:`MigrateCommand` -> exit status.

Only typer and the standard library at module level, so ``decouple --help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from decouple_services.cli import options


class SyncClient(str, Enum):
    kafka_python = "kafka-python"
    confluent_kafka = "confluent-kafka"


class SplitBy(str, Enum):
    edge = "edge"


def register(app: typer.Typer) -> None:
    app.command(name="migrate")(migrate)


def migrate(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository to migrate.", metavar="PATH")],
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            metavar="ID",
            help="A call-site id from `decouple scan`; repeatable, or several separated by commas.",
        ),
    ] = None,
    edge: Annotated[
        list[str] | None,
        typer.Option(
            "--edge", metavar="CALLER:CALLEE", help="Every call from CALLER to CALLEE; repeatable."
        ),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service", metavar="NAME", help="Every call NAME makes to other services; repeatable."
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top", min=1, metavar="N", help="The calls of the N highest-ranked hotspots."
        ),
    ] = None,
    client: Annotated[
        SyncClient | None,
        typer.Option(
            "--client",
            help="Accepted for compatibility: generated code sends and consumes with "
            "confluent-kafka whatever it says.",
        ),
    ] = None,
    topic_template: Annotated[
        str | None,
        typer.Option(
            "--topic-template",
            metavar="T",
            help="Topic names, from {callee}, {endpoint}, {caller}, {method} (default "
            "{callee}.{endpoint}, or [tool.decouple.migrate] topic-template).",
        ),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Apply the changes to the files (all or none).")
    ] = False,
    patch: Annotated[
        Path | None, typer.Option("--patch", metavar="FILE", help="Write the diff to FILE.")
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            metavar="NAME",
            help="Create git branch NAME with the changes committed (work tree untouched).",
        ),
    ] = None,
    pr_body: Annotated[
        Path | None,
        typer.Option(
            "--pr-body",
            metavar="FILE",
            help="Write a pull-request description (Markdown) to FILE; the diff still goes "
            "to stdout.",
        ),
    ] = None,
    split_by: Annotated[
        SplitBy | None,
        typer.Option(
            "--split-by",
            help="edge: one patch, branch and PR body per caller -> callee edge, stacked in order.",
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            metavar="DOMAIN.FACT",
            help="Make the --select-ed calls of one function one domain event "
            "(users.user-registered): one send, one consumer group per service.",
        ),
    ] = None,
    subscribe: Annotated[
        str | None,
        typer.Option(
            "--subscribe",
            metavar="DOMAIN.FACT",
            help="Add --service NAME as a subscriber of this domain event, made earlier with "
            "--event; no producer changes.",
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="'METHOD /path'",
            help="With --subscribe: the service's endpoint whose handler takes the events "
            "(needed when it has more than one).",
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="NAME|KEY=FIELD",
            help="With --subscribe: a field of the event's data the handler takes as its "
            "body, or KEY=FIELD for a body key the handler names otherwise (to=email); "
            "repeatable (default: all of them, by name).",
        ),
    ] = None,
    outbox: Annotated[
        bool,
        typer.Option(
            "--outbox",
            help="Django and SQLAlchemy callers: write each fire-and-forget event into an "
            "outbox table in the caller's own database transaction (it commits or rolls back "
            "with the caller's data); `python -m <package>.decouple_runtime relay` sends the "
            "rows. Other callers' sites are refused.",
        ),
    ] = False,
    fire_and_forget: Annotated[
        bool,
        typer.Option(
            "--fire-and-forget",
            help="Let a call whose failure nothing caught become a send that does not wait "
            "for Kafka (`send_event`): faster, but an event Kafka never takes is lost with "
            "only a log line, where the call raised. By default such a send waits, bounded "
            "by the call's timeout, and raises.",
        ),
    ] = False,
    servicer_factory: Annotated[
        list[str] | None,
        typer.Option(
            "--servicer-factory",
            metavar="NAME=MODULE:FUNCTION",
            help="A function that builds the gRPC servicer of service (or servicer class) "
            "NAME, called with no arguments when its consumer starts: for a servicer whose "
            "__init__ takes arguments (repositories, clients). Without one, the factory is "
            "generated from the code that adds the servicer to its server, or the site is "
            "refused where that cannot be mirrored safely. It may be async (awaited once, on the loop the servicer's methods run "
            "on) or give an async context manager (exited when the consumer stops). "
            "Repeatable; adds to [tool.decouple.migrate.servicer-factories].",
        ),
    ] = None,
    servicer_interceptors: Annotated[
        list[str] | None,
        typer.Option(
            "--servicer-interceptors",
            metavar="NAME=MODULE:FUNCTION",
            help="A function that gives the interceptors of the gRPC server of service (or "
            "servicer class) NAME, as its grpc.server(interceptors=...) list, called once "
            "when its consumer starts: each event then goes through them as an RPC does "
            "(auth hooks, exceptions turned into statuses). Without one, they are generated "
            "from the server's bootstrap with its servicer's factory, where they can be. "
            "Repeatable; adds to [tool.decouple.migrate.servicer-interceptors].",
        ),
    ] = None,
    allow_dirty: Annotated[
        bool,
        typer.Option(
            "--allow-dirty", help="Let --write and --branch run with uncommitted changes."
        ),
    ] = False,
    config: Annotated[Path | None, options.CONFIG] = None,
    no_cache: Annotated[bool, options.NO_CACHE] = False,
    cache_dir: Annotated[Path | None, options.MIGRATE_CACHE_DIR] = None,
    quiet: Annotated[bool, options.QUIET] = False,
    verbose: Annotated[bool, options.VERBOSE] = False,
) -> None:
    """Rewrite chosen fire-and-forget calls into Kafka sends and generate the consumers.

    Without --write, --patch, --branch or --pr-body this is a dry run: the unified diff goes
    to stdout (`git apply` takes it) and a summary of what migrates, what is refused and why
    goes to stderr.

    Examples:

      decouple migrate ./repo --select cs-3f9a1c2e

      decouple migrate ./repo --edge orders:emails --write

      decouple migrate ./repo --service orders --branch events/orders --pr-body pr.md

      decouple migrate ./repo --top 3 --split-by edge --patch migration.patch

      decouple migrate ./repo --event users.user-registered -s cs-1 -s cs-2 -s cs-3

      decouple migrate ./repo --subscribe users.user-registered --service audit

      decouple migrate ./repo --service orders --outbox --write

      decouple migrate ./repo --edge api:invites --servicer-factory InviteService=src.wiring:make_invite_servicer

    Exit status: 0 done; 1 a site named with --select was refused; 2 usage, path,
    configuration, selection, git or write error. See docs/migrate.md.
    """
    from decouple_services.app.migrate import MigrateCommand, run_migrate_command

    command = MigrateCommand(
        path=path,
        # `-s a,b,c` names three sites (ids have no commas), as `-s a -s b -s c` does.
        select=tuple(i.strip() for s in select or () for i in s.split(",") if i.strip()),
        edges=tuple(edge or ()),
        services=tuple(service or ()),
        top=top,
        client=client.value if client else None,
        topic_template=topic_template,
        write=write,
        patch=patch,
        branch=branch,
        pr_body=pr_body,
        split_by_edge=split_by is SplitBy.edge,
        allow_dirty=allow_dirty,
        event=event,
        subscribe=subscribe,
        endpoint=endpoint,
        fields=tuple(field or ()),
        outbox=outbox,
        fire_and_forget=fire_and_forget,
        servicer_factories=tuple(servicer_factory or ()),
        servicer_interceptors=tuple(servicer_interceptors or ()),
        config=config,
        use_cache=not no_cache,
        cache_dir=cache_dir,
    )
    raise typer.Exit(run_migrate_command(command, terminal=options.terminal(ctx, quiet, verbose)))
