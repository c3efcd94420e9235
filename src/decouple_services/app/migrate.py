"""``decouple migrate`` as a function tests can call: options in, exit status out.

Data (the diff) goes to stdout, the summary (what migrates, cautions, refusals with reasons,
files left alone) to stderr. Exit status: 0 done (refusals of sites picked by ``--edge``,
``--service`` or ``--top`` are reported, not failures); 1 a site named with ``--select`` was
refused; 2 usage, path, configuration, selection, git or write error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from decouple_services.app.scan import scan_shown, write_output_noting_links
from decouple_services.app.terminal import Terminal
from decouple_services.core.errors import DecoupleError
from decouple_services.core.text import printable

if TYPE_CHECKING:
    from decouple_services.core.model import ScanResult
    from decouple_services.migrate.changes import FileChange
    from decouple_services.migrate.plan import PlanOptions, SubscribeRequest
    from decouple_services.migrate.run import MigrationResult
    from decouple_services.migrate.select import Selection

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class MigrateCommand:
    path: Path
    select: tuple[str, ...] = ()
    edges: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    top: int | None = None
    #: ``None``: ``[tool.decouple.migrate]`` client, else kafka-python.
    client: str | None = None
    #: ``None``: ``[tool.decouple.migrate]`` topic-template, else ``{callee}.{endpoint}``.
    topic_template: str | None = None
    write: bool = False
    patch: Path | None = None
    branch: str | None = None
    pr_body: Path | None = None
    split_by_edge: bool = False
    allow_dirty: bool = False
    config: Path | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    #: ``--event``: the ``select``-ed sites become one domain event of this name.
    event: str | None = None
    #: ``--subscribe``: add ``services[0]`` as a subscriber of this existing domain event.
    subscribe: str | None = None
    #: ``--endpoint`` (with ``subscribe``): the subscriber's endpoint taking the events.
    endpoint: str | None = None
    #: ``--field`` (with ``subscribe``): the fields of the data its handler takes.
    fields: tuple[str, ...] = ()
    #: ``--outbox``: fire-and-forget sites write their events into the caller's outbox table.
    outbox: bool = False
    #: ``--fire-and-forget``: see :attr:`PlanOptions.fire_and_forget`.
    fire_and_forget: bool = False
    #: ``--servicer-factory NAME=MODULE:FUNCTION``, as given (checked by :func:`_factories`).
    servicer_factories: tuple[str, ...] = ()
    #: ``--servicer-interceptors NAME=MODULE:FUNCTION``, as given (checked by
    #: :func:`_factories`).
    servicer_interceptors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """One reviewable unit: the whole migration, or one caller -> callee edge of it."""

    label: str
    slug: str
    result: MigrationResult
    changes: tuple[FileChange, ...]


def run_migrate_command(
    command: MigrateCommand,
    *,
    stdout: IO[bytes] | None = None,
    stderr: IO[str] | None = None,
    terminal: Terminal | None = None,
) -> int:
    """Run a migration; the exit status. ``terminal`` says whether the diff on stdout is
    coloured and how much goes to stderr (plain output when ``None``)."""
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr
    try:
        if (command.write or command.branch) and command.path.is_dir():
            from decouple_services.migrate.changes import repository_lock

            with repository_lock(command.path):
                return _run(command, out, err, terminal or Terminal())
        return _run(command, out, err, terminal or Terminal())
    except DecoupleError as exc:
        print(printable(f"decouple: error: {exc}"), file=err)
        return EXIT_USAGE


def _run(command: MigrateCommand, out: IO[bytes], err: IO[str], term: Terminal) -> int:
    from decouple_services.app.pipeline import ScanOptions
    from decouple_services.core.config import load_config
    from decouple_services.migrate.changes import (
        check_new_branch,
        colourise,
        dirty_paths,
        render_diff,
        write_changes,
    )
    from decouple_services.migrate.naming import DEFAULT_TOPIC_TEMPLATE, check_template
    from decouple_services.migrate.plan import PlanOptions
    from decouple_services.migrate.report import render_summary
    from decouple_services.migrate.run import migrate_scanned
    from decouple_services.migrate.select import Criteria, Selection, parse_edge, select_sites

    root = command.path
    config = load_config(root, command.config) if root.is_dir() else None
    template = (
        command.topic_template
        or (config.migrate_topic_template if config else None)
        or DEFAULT_TOPIC_TEMPLATE
    )
    client = command.client or (config.migrate_client if config else None) or "kafka-python"
    check_template(template)
    _check_event_options(command)
    factories = _factories(
        command.servicer_factories,
        config.migrate_servicer_factories if config else (),
        "--servicer-factory",
    )
    interceptors = _factories(
        command.servicer_interceptors,
        config.migrate_servicer_interceptors if config else (),
        "--servicer-interceptors",
    )
    criteria = Criteria(
        ids=command.select,
        edges=tuple(parse_edge(e) for e in command.edges),
        services=command.services,
        top=command.top,
    )
    if command.branch is not None and not command.split_by_edge and root.is_dir():
        check_new_branch(root, command.branch)  # before the scan: a typo costs nothing
    if (command.write or command.branch) and not command.allow_dirty:
        dirty = dirty_paths(root) if root.is_dir() else None
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise DecoupleError(
                f"the work tree has uncommitted changes ({shown}); commit or stash them, "
                "or pass --allow-dirty"
            )
    result = scan_shown(
        term,
        root,
        ScanOptions(
            config_path=command.config,
            use_cache=command.use_cache,
            cache_dir=command.cache_dir,
            # a dry run writes nothing into the scanned tree: it reads a cache a scan made
            # there, and makes none (a --cache-dir the user names is written as asked)
            write_cache=command.write
            or command.branch is not None
            or command.cache_dir is not None,
        ),
        file=err,
    )
    with term.phase("plan, rewrite and generate", file=err):
        if command.subscribe is not None:
            selection = Selection((), ())
        else:
            selection = select_sites(result, criteria)
        options = PlanOptions(
            client=client,
            topic_template=template,
            event=command.event,
            subscribe=_subscription(command),
            outbox=command.outbox,
            fire_and_forget=command.fire_and_forget,
            servicer_factories=factories,
            servicer_interceptors=interceptors,
        )
        whole = migrate_scanned(result, selection, options)
        parts = [Part("", "", whole, whole.changes)]
        if command.split_by_edge:
            parts = _split(result, selection, options, whole)
    refused_named = {r.site_id for r in whole.plan.refused} & set(command.select)
    failed_named = {i for i, _ in whole.failed} & set(command.select)
    if term.quiet:
        # The summary is informational, but a named site that was refused is why the exit
        # status is 1: say which, in one line each.
        for ident in sorted(refused_named | failed_named):
            print(f"decouple: refused {ident} (run without -q for the reason)", file=err)
    else:
        err.write(
            render_summary(
                whole,
                dry_run=not command.write,
                path=str(command.path),
                branch=(
                    f"{command.branch}-<edge>"
                    if command.branch and command.split_by_edge
                    else command.branch
                ),
            )
        )
    diff = render_diff(whole.changes)
    # A PR description is written beside the diff, not instead of it.
    if not (command.write or command.patch or command.branch):
        out.write(colourise(diff) if term.color_stdout else diff)
        out.flush()
    if command.patch is not None:
        for part in parts:
            target = _numbered(command.patch, part, len(parts))
            with _writing(target):
                write_output_noting_links(target, render_diff(part.changes), err)
            term.info(printable(f"decouple: wrote {target}"), file=err)
    if command.pr_body is not None:
        from decouple_services.migrate.report import render_pr_body

        for part in parts:
            target = _numbered(command.pr_body, part, len(parts))
            if not part.changes:
                # every selected site refused: a description of no change would read as a
                # pull request to open; the summary above already says why each was refused
                print(
                    printable(f"decouple: no call site migrates: no PR body written to {target}"),
                    file=err,
                )
                continue
            with _writing(target):
                body = render_pr_body(part.result, title=part.label or None)
                write_output_noting_links(target, body, err)
            term.info(printable(f"decouple: wrote {target}"), file=err)
    if command.branch is not None:
        from decouple_services.migrate.changes import commit_to_branch
        from decouple_services.migrate.report import commit_message

        names = [
            (command.branch if not part.slug else f"{command.branch}-{part.slug}", part)
            for part in parts
            if part.changes
        ]
        if command.split_by_edge:  # every name checked before the first branch is made
            for name, _ in names:
                check_new_branch(root, name)
        parent = "HEAD"
        for name, part in names:
            parent = commit_to_branch(
                root.resolve(),
                name,
                part.changes,
                commit_message(part.result, part.label),
                parent=parent,
            )
            term.info(
                printable(f"decouple: branch {name} at {parent[:12]} (git switch {name})"), file=err
            )
    if command.write and whole.changes:
        with _writing():
            write_changes(root, whole.changes)
        term.info(printable(f"decouple: wrote {len(whole.changes)} files"), file=err)
    return EXIT_REFUSED if refused_named or failed_named else EXIT_OK


def _subscription(command: MigrateCommand) -> SubscribeRequest | None:
    from decouple_services.migrate.plan import SubscribeRequest

    if command.subscribe is None:
        return None
    return SubscribeRequest(
        command.subscribe, command.services[0], command.endpoint, command.fields or None
    )


def _factories(
    given: tuple[str, ...], configured: tuple[tuple[str, str], ...], option: str
) -> tuple[tuple[str, str], ...]:
    """The servicer factories (or interceptors' functions): the configuration's, with the
    command line's ``option`` on top (an option naming the same servicer wins)."""
    from decouple_services.core.config import FACTORY_TARGET
    from decouple_services.core.errors import SelectionError

    factories = dict(configured)
    for one in given:
        name, _, target = one.partition("=")
        name, target = name.strip(), target.strip()
        if not name or not FACTORY_TARGET().fullmatch(target):
            raise SelectionError(
                f"{option} {one}: expected NAME=MODULE:FUNCTION "
                "(InviteService=app.wiring:make_invite_servicer)"
            )
        factories[name] = target
    return tuple(sorted(factories.items()))


def _check_event_options(command: MigrateCommand) -> None:
    """``--event`` names the calls of one function: only ``--select`` picks them.
    ``--subscribe`` names one service, and nothing to rewrite."""
    from decouple_services.core.errors import SelectionError

    if command.subscribe is None and (command.endpoint or command.fields):
        raise SelectionError("--endpoint and --field go with --subscribe EVENT --service NAME")
    if command.subscribe is not None:
        from decouple_services.migrate.events import parse_event_name

        parse_event_name(command.subscribe, "--subscribe")
        given = [
            option
            for option, value in (
                ("--select", command.select),
                ("--edge", command.edges),
                ("--top", command.top),
                ("--event", command.event),
                ("--split-by", command.split_by_edge),
            )
            if value
        ]
        if given:
            raise SelectionError(
                f"--subscribe adds a consumer and rewrites no call: not with {given[0]}"
            )
        if len(command.services) != 1:
            raise SelectionError("--subscribe needs the subscribing service: --service NAME, once")
    if command.event is None:
        return
    from decouple_services.migrate.events import parse_event_name

    parse_event_name(command.event)
    others = [
        option
        for option, given in (
            ("--edge", command.edges),
            ("--service", command.services),
            ("--top", command.top),
            ("--split-by", command.split_by_edge),
        )
        if given
    ]
    if others:
        raise SelectionError(
            f"--event takes the calls of one function with --select ID, not {others[0]}: "
            "pick their ids from `decouple scan` (the summary offers them)"
        )
    if not command.select:
        raise SelectionError(
            "--event needs the calls it replaces: --select ID for each (the summary of a "
            "migration offers them for functions that tell several services one fact)"
        )


@contextmanager
def _writing(target: Path | None = None) -> Iterator[None]:
    """A refused write as a message naming the file (``target``, else the one the system
    names) and the reason, not a traceback."""
    try:
        yield
    except OSError as exc:
        where = target or exc.filename
        raise DecoupleError(f"cannot write {where}: {exc.strerror or exc}") from exc


def _numbered(path: Path, part: Part, count: int) -> Path:
    if count == 1 or not part.slug:
        return path
    return path.with_name(f"{path.stem}-{part.slug}{path.suffix}")


def _split(
    result: ScanResult, selection: Selection, options: PlanOptions, whole: MigrationResult
) -> list[Part]:
    """One part per caller -> callee edge, each on top of the previous ones: part k's changes
    are what migrating edge k adds to edges 1..k-1, so the patches apply (and the branches
    stack) in order."""
    from decouple_services.migrate.changes import FileChange
    from decouple_services.migrate.report import as_migrated
    from decouple_services.migrate.run import migrate_scanned
    from decouple_services.migrate.select import Selection

    edges: list[tuple[str, str]] = []
    for site, _ in selection.chosen:
        if (site.caller, site.callee) not in edges:
            edges.append((site.caller, site.callee))
    parts: list[Part] = []
    previous: dict[str, bytes] = {}
    originals: dict[str, bytes | None] = {}
    for index, (caller, callee) in enumerate(edges, start=1):
        upto = set(edges[:index])
        chosen = tuple(c for c in selection.chosen if (c[0].caller, c[0].callee) in upto)
        refused = tuple(
            r
            for r in selection.refused
            if r.site is not None and (r.site.caller, r.site.callee) == (caller, callee)
        )
        step = migrate_scanned(result, Selection(chosen, refused), options)
        current: dict[str, bytes] = {}
        for change in step.changes:
            current[change.path] = change.after
            originals.setdefault(change.path, change.before)
        changes = []
        for path in sorted(current):
            before = previous.get(path, originals[path])
            if before != current[path]:
                executable = next(c.executable for c in step.changes if c.path == path)
                changes.append(FileChange(path, before, current[path], "edge", executable))
        mine = tuple(
            p for p in step.plan.rewrites if (p.site.caller, p.site.callee) == (caller, callee)
        )
        earlier = [p for p in step.plan.rewrites if p not in mine]
        # This part's "before" is the tree with the earlier parts applied.
        shown = replace(
            step,
            scan=as_migrated(result, earlier),
            plan=replace(step.plan, sites=mine),
            changes=tuple(changes),
        )
        parts.append(
            Part(
                f"{caller} → {callee}",
                f"{index:02d}-{caller}-to-{callee}",
                shown,
                tuple(changes),
            )
        )
        previous = {**previous, **current}
    return parts
