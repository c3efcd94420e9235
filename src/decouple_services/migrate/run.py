"""``migrate_scanned``: plan, rewrite and generate, as file changes nobody has written yet.

Nothing here writes to the repository: :func:`migrate_scanned` returns the changes (old and
new bytes per file) and :mod:`decouple_services.migrate.changes` turns them into a diff, a write, a patch
or a git branch.
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from decouple_services.core.errors import DecoupleError
from decouple_services.core.fs import ReadRefused, read_in_root
from decouple_services.core.model import CallSite, ScanResult, Service
from decouple_services.discover.k8s import WORKLOAD_KINDS
from decouple_services.migrate import deploy
from decouple_services.migrate.changes import FileChange
from decouple_services.migrate.codemod import ParsedSource, rewrite_source
from decouple_services.migrate.deps import DEPENDENCY_FILES, add_requirement
from decouple_services.migrate.naming import WorkloadNameError, dns_label
from decouple_services.migrate.outbox import add_installed_app
from decouple_services.migrate.plan import (
    DJANGO_SETTINGS,
    OLD_PYTHON,
    MigrationPlan,
    PlannedSite,
    PlanOptions,
    plan_migration,
)
from decouple_services.migrate.select import Selection
from decouple_services.migrate.spec import ConsumerSpec

if TYPE_CHECKING:
    from decouple_services.migrate.generate import OutboxRelaySpec

#: The diff shows what a reviewer reads first: rewritten call sites, then dependency files,
#: then the deployment files that get the Kafka settings, then the generated files.
KIND_ORDER = ("rewrite", "dependencies", "deployment", "generated")


@dataclass(frozen=True)
class MigrationResult:
    root: Path
    scan: ScanResult
    plan: MigrationPlan
    changes: tuple[FileChange, ...]
    #: ``(path, why)``: generated files left as they are (edited by someone, or not ours).
    kept: tuple[tuple[str, str], ...] = ()
    #: ``(site id, why)``: chosen sites the rewrite could not apply after all.
    failed: tuple[tuple[str, str], ...] = ()
    #: ``(service, note)``: services whose dependency file could not be updated.
    dependency_notes: tuple[tuple[str, str], ...] = ()
    #: ``(service, note)``: Kafka settings a deployment file needs and did not get, and where.
    deployment_notes: tuple[tuple[str, str], ...] = ()
    #: ``(consumer module, the deployment files that run it)``: consumers whose
    #: idempotency store is a SQLite file per pod (:data:`PER_POD_DEDUPE`).
    store_notes: tuple[tuple[str, str], ...] = ()
    #: ``(consumer module, where)``: consumers generated with one replica where their
    #: service runs more, because their idempotency store is per pod.
    replica_notes: tuple[tuple[str, str], ...] = ()
    #: What keeps the change from working once merged (a callee whose consumers no
    #: generated file runs): said before anything else in the summary and the PR body.
    blockers: tuple[str, ...] = ()

    @property
    def migrated(self) -> tuple[CallSite, ...]:
        failed = {i for i, _ in self.failed}
        return tuple(p.site for p in self.plan.rewrites if p.site.id not in failed)


def migrate_scanned(
    result: ScanResult, selection: Selection, options: PlanOptions
) -> MigrationResult:
    """The migration of ``selection`` on a scan just taken of ``result.root``."""
    root = Path(result.root)
    read = _reader(root)
    module_of = _module_namer(root, read, result.services)
    parse = cache(ParsedSource)  # each file parsed once, for the plan and the rewrite
    plan = plan_migration(result, selection, options, module_of=module_of, read=read, parse=parse)
    changes: list[FileChange] = []
    failed: list[tuple[str, str]] = []
    notes: dict[str, tuple[str, ...]] = {}
    by_file: dict[str, list[PlannedSite]] = defaultdict(list)
    for item in plan.rewrites:
        by_file[item.site.file].append(item)
    width = line_length(root)
    for path, items in sorted(by_file.items()):
        source = read(path)
        assert source is not None  # the planner refused sites in missing files
        try:
            rewrite = rewrite_source(
                source, [item.send for item in items], line_width=width, parse=parse
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the file is the unit of failure: the others go on
            why = f"the rewrite failed: {type(exc).__name__}: {exc}"
            failed.extend((item.site.id, why) for item in items)
            continue
        failed.extend(rewrite.skipped.items())
        problem = _does_not_compile(rewrite.code, source, path)
        if problem is not None:  # never hand out code that cannot run; say why instead
            failed.extend(
                (item.site.id, problem) for item in items if item.site.id not in rewrite.skipped
            )
            continue
        notes.update(rewrite.notes)
        if rewrite.code != source:
            changes.append(FileChange(path, source, rewrite.code, "rewrite"))
    event_ids = {p.site.id for p in plan.rewrites if p.event}
    if event_ids & {i for i, _ in failed}:
        # An event that lost one of its calls would stop telling that service the fact.
        files = {p.site.file for p in plan.rewrites if p.event}
        changes = [c for c in changes if c.path not in files]
        gone = {i for i, _ in failed}
        failed.extend(
            (i, "another call of the event could not be rewritten") for i in event_ids - gone
        )
    if failed:
        # Plan again without the sites the rewrite could not apply, so no topic or consumer
        # is generated for a call that still goes over HTTP.
        gone = {i for i, _ in failed}
        kept_sites = tuple(c for c in selection.chosen if c[0].id not in gone)
        plan = plan_migration(
            result,
            replace(selection, chosen=kept_sites),
            options,
            module_of=module_of,
            read=read,
            parse=parse,
        )
    if notes:
        plan = replace(
            plan,
            sites=tuple(
                replace(p, notes=tuple(dict.fromkeys((*p.notes, *notes.get(p.site.id, ())))))
                for p in plan.sites
            ),
        )
    generated, kept, store_notes, replica_notes = _generated(plan, read, result)
    changes.extend(generated)
    dep_changes, dep_notes = _dependencies(plan, read, result)
    changes.extend(dep_changes)
    changes.extend(_outbox_settings(plan, read))
    deployed = _deployment_env(plan, read, result)
    changes.extend(deployed.changes)
    chart_changes, chart_kept = _generated_changes(deployed.generated, read)
    changes.extend(chart_changes)
    kept.extend(chart_kept)
    return MigrationResult(
        root=root,
        scan=result,
        plan=plan,
        changes=tuple(sorted(changes, key=lambda c: (KIND_ORDER.index(c.kind), c.path))),
        kept=tuple(kept),
        failed=tuple(failed),
        dependency_notes=tuple(dep_notes),
        deployment_notes=tuple(deployed.notes),
        # the chart's consumer Deployments (an emptyDir each) are what goes to production:
        # named with the compose file, not left out
        store_notes=tuple(_joined(store_notes, store_cautions(plan.consumers, deployed.generated))),
        replica_notes=tuple([*replica_notes, *deployed.replica_notes]),
        blockers=tuple(
            dict.fromkeys(
                [
                    *deployed.blockers,
                    *_start_blockers(plan, read, result),
                    # generated code on an older Python fails at its first import, taking
                    # the module that imports it along: the whole service, not one call
                    *(
                        f"{c.reason}; {c.suggestion}"
                        for p in plan.rewrites
                        for c in p.cautions
                        if c.code == OLD_PYTHON
                    ),
                    # an image that installs from the lock fails to build until it is renewed
                    *(s for c in dep_changes if (s := stale_lock(c.path, read)) is not None),
                ]
            )
        ),
    )


def _outbox_settings(plan: MigrationPlan, read: Callable[[str], bytes | None]) -> list[FileChange]:
    """The Django settings modules that list the generated outbox app in
    ``INSTALLED_APPS`` (the planner refused the sites whose settings cannot)."""
    changes = []
    for path, app in plan.outbox_apps:
        source = read(path)
        if source is None:
            continue
        edited = add_installed_app(source, app)
        if isinstance(edited, bytes) and edited != source:
            changes.append(FileChange(path, source, edited, "dependencies"))
    return changes


def _does_not_compile(code: bytes, original: bytes, path: str) -> str | None:
    """Why the rewritten file does not compile, when the original did (a file in syntax newer
    than this Python is not checked)."""
    try:
        compile(code, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        try:
            compile(original, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return None
        return f"the rewritten file does not compile ({exc}); nothing was changed in it"
    return None


def line_length(root: Path) -> int:
    """The repository's configured line length (ruff, then black), else the codemod's own."""
    import tomllib

    from decouple_services.migrate.codemod import LINE_WIDTH

    for name in ("ruff.toml", ".ruff.toml", "pyproject.toml"):
        try:
            data = tomllib.loads(read_in_root(root, name).decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        tool = data.get("tool", {}) if name == "pyproject.toml" else {"ruff": data}
        for section in ("ruff", "black"):
            value = tool.get(section, {}).get("line-length")
            if isinstance(value, int) and value > 40:
                return value
    return LINE_WIDTH


def _module_namer(
    root: Path, read: Callable[[str], bytes | None], services: Sequence[Service] = ()
) -> Callable[[str], str]:
    """A file's module name as the scan gave it (``discover.files.module_name``), from the
    ``__init__.py`` files above it: asking for those few is cheaper than listing the
    repository again, which the scan has just done. The file's own imports, then the
    folder its service's image runs it from (:func:`image_root`), may root it deeper."""
    from decouple_services.discover.files import module_name

    @cache
    def is_package(folder: str) -> bool:
        return (root / folder / "__init__.py").is_file()

    @cache
    def module_of(path: str) -> str:
        folders = path.split("/")[:-1]
        inits = {
            f"{'/'.join(folders[:i])}/__init__.py"
            for i in range(1, len(folders) + 1)
            if is_package("/".join(folders[:i]))
        }
        named = module_name(path, inits)[0]
        import_root = _import_root(root, path, read)
        if import_root is None:
            # An image that copies a package's folder into the folder it runs from
            # (``COPY ./app /code``, ``WORKDIR /code``, ``uvicorn main:app``) imports its
            # files from there: ``main``, not ``app.main``, and so must what is generated
            # beside them. A root above the package's (``COPY . /code`` of a project whose
            # package is installed) says nothing against the ``__init__.py`` files.
            image = image_root(root, read, services, path)
            if (
                image is None
                or not image.settled
                or not _below(image.folder, _root_of(path, named))
            ):
                return named
            import_root = image.folder
        # The file's own absolute imports say where its code is imported from
        # (``from rpl_users.src.config import env`` run from the repository root): it is
        # imported the same way, and so is what is generated beside it.
        inside = path[len(import_root) + 1 :] if import_root else path
        parts = inside.removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        dotted = ".".join(parts)
        return dotted if dotted.replace(".", "").replace("_", "").isalnum() else named

    return module_of


def _root_of(path: str, module: str) -> str:
    """The folder ``module`` (the module of the file at ``path``) is imported from."""
    folders = path.split("/")[:-1]
    depth = len(module.split(".")) - (0 if path.rsplit("/", 1)[-1] == "__init__.py" else 1)
    return "/".join(folders[: len(folders) - depth])


def _below(folder: str, above: str) -> bool:
    """Whether the repository folder ``folder`` is inside ``above`` (``""``: the root)."""
    above = "" if above in ("", ".") else above
    return folder != above and (not above or folder.startswith(above + "/"))


def image_root(
    root: Path, read: Callable[[str], bytes | None], services: Sequence[Service], path: str
) -> deploy.ImageRoot | None:
    """The folder the image of the service holding ``path`` copies into the folder it
    runs from, when ``path`` is inside it (:func:`deploy.image_roots`): the deepest."""
    holders = [
        s for s in services if s.root in ("", ".") or path.startswith(s.root.rstrip("/") + "/")
    ]
    if not holders:
        return None
    service = max(holders, key=lambda s: len(s.root))
    for dockerfile in deploy.service_dockerfiles(service):
        found = _image_roots(root, read(dockerfile), dockerfile)
        if found is None:
            continue
        inside = [r for r in found if not r.folder or path.startswith(r.folder + "/")]
        return max(inside, key=lambda r: len(r.folder), default=None)
    return None


@lru_cache(maxsize=64)
def _image_roots(root: Path, text: bytes | None, path: str) -> tuple[deploy.ImageRoot, ...] | None:
    """:func:`deploy.image_roots` of one Dockerfile, read once; None when there is none."""
    if text is None:
        return None
    return tuple(
        deploy.image_roots(
            text.decode("utf-8", "replace"),
            path,
            lambda folder: (root / folder).is_dir(),
            lambda file: (root / file).is_file(),
        )
    )


def _import_root(root: Path, path: str, read: Callable[[str], bytes | None]) -> str | None:
    """The folder the file's first-party absolute imports resolve from (``""`` for the
    repository's root): the deepest folder above the file where one of them names a module
    or package of the repository. ``None`` when none does."""
    try:
        tree = ast.parse(read(path) or b"")
    except (SyntaxError, ValueError, ReadRefused):
        return None
    modules = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    modules = [m for m in modules if m.split(".")[0] not in sys.stdlib_module_names]
    folders = path.split("/")[:-1]
    for depth in range(len(folders), -1, -1):
        base = root.joinpath(*folders[:depth])
        for module in modules:
            target = base.joinpath(*module.split("."))
            if (
                target.with_suffix(".py").is_file()
                or (target / "__init__.py").is_file()
                or ("." in module and target.is_dir())  # a namespace package's module
            ):
                return "/".join(folders[:depth])
    return None


def _reader(root: Path) -> Callable[[str], bytes | None]:
    """Bytes of a repo-relative file, None when there is none. A file that leads out of the
    tree or is not a regular file stops the migration before anything is shown: its
    content would otherwise reach the diff, the patch or a commit."""

    def read(path: str) -> bytes | None:
        try:
            return read_in_root(root, path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except ReadRefused as exc:
            raise DecoupleError(f"{path}: {exc.strerror}; nothing was written") from exc
        except OSError as exc:
            raise DecoupleError(f"{path}: cannot read: {exc.strerror or exc}") from exc

    return read


#: What a consumer deployed without a shared idempotency store means.
PER_POD_DEDUPE = (
    "their idempotency store is a SQLite file in the pod (no Django or SQLAlchemy database "
    "of the service was found): dedupe is per pod and lost on restart; handlers must be "
    "idempotent. Attempt counts go with the file, so an event that crashes the process is "
    "retried for as long as the file does not survive the restart, and a restart or a "
    "rebalance while a key is parked reads the partition again from that key's failing "
    "event: whatever was handled after it is handled again, up to "
    "`DECOUPLE_MAX_PARKED_SPAN` (10000) events per partition, past which the partition "
    "waits for that event. Set "
    "`DECOUPLE_IDEMPOTENCY_URL` to a database every replica reaches"
)
#: What :data:`PER_POD_DEDUPE` adds where one of those consumers hands on a delete.
PER_POD_DELETES = (
    "A delete redelivered once the file is lost (a restart, a rebalance to another pod) "
    "counts as a first attempt, so its 404 (gRPC `NOT_FOUND`) is not taken as done "
    "(`ok_statuses`) and it goes to the dead-letter topic, though its earlier attempt may "
    "have deleted the thing: check that the thing is gone before redriving such a dead letter"
)


def store_cautions(
    consumers: Sequence[ConsumerSpec], deployments: Sequence[tuple[str, str, bool]]
) -> list[tuple[str, str]]:
    """``(consumer module, where)`` for each consumer that ``deployments`` (``(path, text,
    _)`` of the generated compose and Kubernetes files) run while its idempotency store is a
    SQLite file in the pod: a store nobody else sees, gone with the container."""
    from decouple_services.migrate import generate

    out = []
    for consumer in consumers:
        if consumer.idempotency != "file":
            continue
        where = []
        for path, text, _ in deployments:
            replicas = _replicas_running(text, generate.workload_module(consumer))
            if replicas is not None:
                where.append(path + (f", {replicas} replicas" if replicas > 1 else ""))
        if where:
            out.append((consumer.module, "; ".join(where)))
    return out


def _joined(
    first: Sequence[tuple[str, str]], second: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``(consumer module, where)`` of both, one entry per module, its places joined."""
    where: dict[str, list[str]] = {}
    for module, place in (*first, *second):
        where.setdefault(module, []).append(place)
    return [(module, "; ".join(places)) for module, places in where.items()]


def _replicas_running(text: str, module: str) -> int | None:
    """How many replicas of ``python -m <module>`` a generated compose or Kubernetes file
    runs (1 where it does not say), ``None`` when it does not run it."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # compose's `!reset` and the like: their values do not matter here
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    try:
        documents = list(yaml.load_all(text, Loader=Loader))  # a SafeLoader
    except yaml.YAMLError:
        if "{{" not in text:
            return None
        # A Helm template is YAML once its actions are out of the way: the Deployment it
        # renders is what goes to production, so it counts like a plain manifest.
        try:
            documents = list(yaml.load_all(_untemplated(text), Loader=Loader))
        except yaml.YAMLError:
            return None
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "Deployment":
            spec = document.get("spec") or {}
            pod = (spec.get("template") or {}).get("spec") or {}
            commands = [c.get("command") or [] for c in pod.get("containers") or []]
            if any(module in command for command in commands):
                return _count(spec.get("replicas"))
        for service in (document.get("services") or {}).values():
            if isinstance(service, dict) and module in (service.get("command") or []):
                deploy_ = service.get("deploy") or {}
                return _count(deploy_.get("replicas") or service.get("scale"))
    return None


#: A line of a Helm template that is only actions (``{{- $name := "x" }}``).
_ACTION_LINE = re.compile(r"^[ \t]*\{\{.*\}\}[ \t]*$\n?", re.MULTILINE)
_ACTION = re.compile(r"\{\{.*?\}\}")


def _untemplated(text: str) -> str:
    """A Helm template as YAML: lines of actions dropped, an action in a value read as
    ``x`` (a value, not what it renders)."""
    return _ACTION.sub("x", _ACTION_LINE.sub("", text))


def _count(value: object) -> int:
    """A replica count as written, 1 where it is not a number (a templated count)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else 1


def _generated(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> tuple[list[FileChange], list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    from decouple_services.migrate import generate

    wanted: list[tuple[str, str, bool]] = []
    # One runtime per service package, shared by its producer and consumers.
    runtimes = {generate.runtime_location(p.module, p.path, 1)[0] for p in plan.producers}
    runtimes |= {generate.consumer_runtime(c)[0] for c in plan.consumers}
    runtime = generate.render_runtime() if runtimes else ""
    for path in sorted(runtimes):
        wanted.append((path, runtime, False))
    for producer in plan.producers:
        wanted.append((producer.path, generate.render_producer(producer), False))
        if producer.outbox == "django":
            wanted.extend(
                (path, text, False) for path, text in generate.render_django_outbox(producer)
            )
    packages: set[str] = set()
    # one entry point per consumers package, running every consumer module in it
    mains: dict[str, ConsumerSpec] = {}
    factories: set[str] = set()
    for consumer in plan.consumers:
        wanted.append((consumer.path, generate.render_consumer(consumer), False))
        bootstrap, factory_path = consumer.servicer_bootstrap, consumer.servicer_factory_path
        if bootstrap is not None and factory_path and factory_path not in factories:
            # one per servicer: the consumers of its methods share what it builds
            factories.add(factory_path)
            module = (consumer.servicer_factory or "").partition(":")[0]
            text = generate.render_servicer_factory(bootstrap, factory_path, module)
            wanted.append((factory_path, text, False))
        wanted.append((consumer.test_path, generate.render_consumer_test(consumer), False))
        packages.add(consumer.path.rsplit("/", 1)[0])
        if generate.consumers_package(consumer):
            mains.setdefault(consumer.path.rsplit("/", 1)[0], consumer)
    for folder in sorted(packages):
        wanted.append(
            (
                f"{folder}/__init__.py",
                '"""Kafka consumers generated by decouple migrate: one module per topic, each '
                'run with ``python -m``, or all of them with ``python -m`` on this package."""\n',
                False,
            )
        )
    for folder, consumer in sorted(mains.items()):
        wanted.append((f"{folder}/__main__.py", generate.render_consumers_main(consumer), False))
    if plan.topics:
        wanted.append((plan.asyncapi_path, generate.render_asyncapi(plan.topics), False))
        for application in generate.asyncapi_applications(plan.topics):
            wanted.append(
                (
                    plan.asyncapi_application_path(application),
                    generate.render_asyncapi(plan.topics, application=application),
                    False,
                )
            )
        # the services' runtime speaks confluent-kafka, the one client their requirements get
        wanted.append(
            (
                plan.topic_script_path,
                generate.render_topic_script(plan.topics, client="confluent-kafka"),
                True,
            )
        )
    store_notes: list[tuple[str, str]] = []
    replica_notes: list[tuple[str, str]] = []
    if plan.topics:
        compose, compose_held = _compose_override(plan, read, result)
        manifests, k8s_held = _k8s_consumers(plan, read, result)
        deployments = [*compose, *manifests]
        wanted.extend(deployments)
        store_notes = store_cautions(plan.consumers, deployments)
        replica_notes = [*compose_held, *k8s_held]
    changes, kept = _generated_changes(wanted, read)
    return changes, kept, store_notes, replica_notes


def _generated_changes(
    wanted: Sequence[tuple[str, str, bool]], read: Callable[[str], bytes | None]
) -> tuple[list[FileChange], list[tuple[str, str]]]:
    """The changes writing ``wanted`` (``(path, text, executable)``), less the generated
    files someone has edited since, which are kept with the reason."""
    from decouple_services.migrate import generate

    changes: list[FileChange] = []
    kept: list[tuple[str, str]] = []
    for path, text, executable in wanted:
        new = text.encode("utf-8")
        old = read(path)
        if old == new:
            continue
        if old is not None:
            current = old.decode("utf-8", errors="replace")
            if generate.is_user_edited(current):
                why = (
                    "edited since decouple generated it"
                    if generate.provenance_of(current)
                    else "not written by decouple"
                )
                ours, theirs = (
                    generate.runtime_version_of(text),
                    generate.runtime_version_of(current),
                )
                if ours is not None and ours != theirs:
                    why += f"; runtime {ours} is available, this one is {theirs or 'unversioned'}"
                kept.append((path, f"{why}; left as it is (delete it to regenerate)"))
                continue
        changes.append(FileChange(path, old, new, "generated", executable=executable))
    return changes, kept


_COMPOSE_EVIDENCE = re.compile(r"^(\S*(?:docker-)?compose[^/:]*\.ya?ml):\d+ ")


def _compose_names(
    services: Sequence[Service], compose_file: str, declared: Mapping[str, object]
) -> dict[str, str]:
    """Decouple's service name -> its service in ``compose_file``: found by name or alias,
    the services the scan found in that file first. Copies of one program in several folders,
    each with its compose file, share aliases (``server``); a copy found in another file
    takes a name only no service of this file has taken, so its consumer is not put in this
    file beside this file's own."""
    names: dict[str, str] = {}
    own = [s for s in services if any(e.startswith(compose_file + ":") for e in s.evidence)]
    for service in [*own, *(s for s in services if s not in own)]:
        for candidate in (service.name, *service.aliases):
            if candidate in declared:
                if service not in own and candidate in names.values():
                    break
                names[service.name] = candidate
                break
    return names


def _compose_override(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    """``<compose>.decouple.yml`` next to the compose file the services were found in,
    when there is one: the broker and the consumer processes, without editing it; and
    ``(consumer module, where)`` of those held to one container."""

    from decouple_services.migrate import generate

    files = Counter(
        found.group(1)
        for service in result.services
        for evidence in service.evidence
        if (found := _COMPOSE_EVIDENCE.match(evidence)) and not _ours(found.group(1))
    )
    if not files:
        return [], []
    compose_file = files.most_common(1)[0][0]
    compose = _compose_yaml(read(compose_file) or b"")
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        return [], []
    names = _compose_names(result.services, compose_file, compose["services"])
    text = generate.render_compose_override(
        compose_file,
        compose,
        plan.consumers,
        [p.service for p in plan.producers],
        names,
        plan.topic_script_path,
        _relays(plan, read),
        {
            str(name): start
            for name in compose["services"]
            if (start := _compose_start(compose_file, str(name), read)) is not None
        },
    )
    if text is None:
        return [], []
    path = generate.compose_override_path(compose_file)
    held = []
    for workload in generate.consumer_workloads(plan.consumers):
        base = compose["services"].get(names.get(workload.service, ""))
        if isinstance(base, dict) and generate.compose_one_replica(base, workload):
            scale = (base.get("deploy") or {}).get("replicas") or base.get("scale")
            held.append((workload.module, f"{path}: 1 container, not the {scale} of its service"))
    return [(path, text, False)], held


def _relays(plan: MigrationPlan, read: Callable[[str], bytes | None]) -> list[OutboxRelaySpec]:
    """The outbox relay each ``--outbox`` producer needs beside its service."""
    from decouple_services.migrate import generate

    relays = []
    for producer in plan.producers:
        if producer.outbox is None:
            continue
        runtime = generate.runtime_location(producer.module, producer.path, 1)[1]
        # The producer's import root: its path less the folders of its dotted module.
        depth = len(producer.module.split("."))
        root = "/".join(producer.path.split("/")[:-depth]) or "."
        settings = None
        if producer.outbox == "django":
            found = DJANGO_SETTINGS.search(read(posixpath.join(root, "manage.py")) or b"")
            settings = found.group(1).decode() if found else None
        relays.append(
            generate.OutboxRelaySpec(producer.service, runtime, producer.outbox, settings)
        )
    return relays


def _ours(path: str) -> bool:
    """A deployment file a migration wrote: never the source of another."""
    return ".decouple." in path.rsplit("/", 1)[-1]


_DEPLOYMENT_EVIDENCE = re.compile(r"^(\S+\.ya?ml):\d+ Deployment (\S+)$")


def _k8s_consumers(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    """A manifest of consumer Deployments next to each callee's own Deployment, and one of
    the outbox relay next to each ``--outbox`` caller's; and ``(consumer module, where)``
    of the consumers held to one replica. Two generated Deployments of one name (or one
    of a name the repository's Deployments have) are an error."""
    import yaml

    from decouple_services.migrate import generate

    by_service: dict[str, list[ConsumerSpec]] = defaultdict(list)
    for consumer in plan.consumers:
        by_service[consumer.service].append(consumer)
    relays = {relay.service: relay for relay in _relays(plan, read)}
    out: list[tuple[str, str, bool]] = []
    #: Generated manifest -> the repository's Deployment it was made beside.
    sources: dict[str, str] = {}
    held: list[tuple[str, str]] = []
    for service in result.services:
        if service.name not in by_service and service.name not in relays:
            continue
        found = _own_deployment(service.evidence, read)
        if found is None:
            continue
        manifest, deployment, documents = found
        start = _deployment_start(service, manifest, deployment, documents, read)
        if service.name in by_service:
            text = generate.render_k8s_consumers(
                manifest, documents, deployment, by_service[service.name], start
            )
            if text is not None:
                path = generate.k8s_consumers_path(manifest, deployment)
                out.append((path, text, False))
                sources[path] = deployment
                source = generate.own_deployment(documents, deployment) or {}
                replicas = (source.get("spec") or {}).get("replicas")
                container = source["spec"]["template"]["spec"]["containers"][0]
                env = {e.get("name") for e in container.get("env") or [] if isinstance(e, dict)}
                held += [
                    (w.module, f"{path}: 1 replica, not the {replicas} of {deployment}")
                    for w in generate.consumer_workloads(by_service[service.name])
                    if generate.one_replica_only(w, replicas, env)
                ]
        if service.name in relays:
            text = generate.render_k8s_relay(
                manifest, documents, deployment, relays[service.name], start
            )
            if text is not None:
                out.append((generate.k8s_relay_path(manifest, deployment), text, False))
                sources[generate.k8s_relay_path(manifest, deployment)] = deployment
    declared: dict[str, set[str]] = defaultdict(set)
    for service in result.services:
        for line in service.evidence:
            if (match := _DEPLOYMENT_EVIDENCE.match(line)) and not _ours(match.group(1)):
                declared[match.group(2)].add(match.group(1))
    theirs = {name: min(paths) for name, paths in declared.items()}
    # Deployments of one name in several files of the repository (copies of one system,
    # chapter by chapter) are never applied together: the copies made from them are not
    # either, and share their names as their sources do.
    apart = {name for name, paths in declared.items() if len(paths) > 1}
    owners: dict[str, str] = {name: f"{path} (the repository's)" for name, path in theirs.items()}
    made: dict[str, str] = {}
    for path, text, _ in out:
        for document in yaml.safe_load_all(text):
            name = str(((document or {}).get("metadata") or {}).get("name"))
            origin = sources.get(path)
            if name in made and origin is not None and origin in apart and made[name] == origin:
                continue
            if origin is not None:
                made[name] = origin
            if name in owners:
                raise WorkloadNameError(
                    f"two Deployments would be named {name!r}: in {owners[name]} and in "
                    f"{path}; rename a topic (--topic-template) or the service's Deployment"
                )
            owners[name] = path
    return out, held


def _own_deployment(
    evidence: Sequence[str], read: Callable[[str], bytes | None]
) -> tuple[str, str, list[Any]] | None:
    """``(manifest, Deployment name, its parsed documents)`` of the first Deployment the
    scan found a service in, leaving out the files a migration wrote."""
    import yaml

    for line in evidence:
        found = _DEPLOYMENT_EVIDENCE.match(line)
        if found is None:
            continue
        manifest, deployment = found.groups()
        if _ours(manifest):
            continue
        try:
            return manifest, deployment, list(yaml.safe_load_all(read(manifest) or b""))
        except yaml.YAMLError:
            continue
    return None


_WORKLOAD_EVIDENCE = re.compile(r"^(\S+\.ya?ml):\d+ (\w+) (\S+)$")
_HELM_EVIDENCE = re.compile(r"^(\S+\.ya?ml):\d+ Helm values (\S+)$")


@dataclass(frozen=True)
class _Deployed:
    """What a migration does to the deployment files it does not generate."""

    changes: list[FileChange]
    #: ``(service, note)``: what could not be edited, and what to add by hand.
    notes: list[tuple[str, str]]
    #: ``(path, text, executable)``: the consumer templates generated into Helm charts.
    generated: list[tuple[str, str, bool]]
    replica_notes: list[tuple[str, str]]
    blockers: list[str]


def _deployment_env(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> _Deployed:
    """The Kafka settings in the deployment files of every service a migration gives a
    producer or consumers: the callers' Kubernetes workloads (their consumers' Deployments
    are generated with them), and the Helm charts of both; the consumers' Deployments in
    the charts of the callees, made from the charts' own templates."""
    if not plan.topics:
        return _Deployed([], [], [], [], [])
    callers = {p.service for p in plan.producers}
    callees = {c.service for c in plan.consumers}
    edited: dict[str, str] = {}
    originals: dict[str, bytes] = {}
    notes: list[tuple[str, str]] = []

    def text_of(path: str) -> str | None:
        if path in edited:
            return edited[path]
        data = read(path)
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not edited: its bytes would not come back as they were
        originals[path] = data
        return text

    charts = _charts(Path(result.root), read)
    for service in sorted(result.services, key=lambda s: s.name):
        if service.name not in callers | callees:
            continue
        helm_done: set[str] = set()
        for evidence in service.evidence:
            workload = _WORKLOAD_EVIDENCE.match(evidence)
            if (
                workload is not None
                and workload.group(2) in WORKLOAD_KINDS
                and service.name in callers
                and not _ours(workload.group(1))
            ):
                manifest, kind, name = workload.groups()
                text = text_of(manifest)
                if text is None or "{{" in text:
                    continue  # a Helm template: its chart is edited below
                edit = _guarded(partial(deploy.add_workload_env, text, kind, name), deploy.Edit)
                if edit.problem is not None:
                    notes.append((service.name, f"{manifest}: {edit.problem}"))
                elif edit.text is not None:
                    edited[manifest] = edit.text
            helm = _HELM_EVIDENCE.match(evidence)
            if helm is not None:
                values_path, key = helm.groups()
                chart_dir = posixpath.dirname(values_path)
                if chart_dir in helm_done or posixpath.basename(values_path) != "values.yaml":
                    continue
                helm_done.add(chart_dir)
                chart_name = charts.get(chart_dir, posixpath.basename(chart_dir))
                workload_key = None if key == chart_name else key
                _helm(
                    Path(result.root),
                    chart_dir,
                    chart_name,
                    workload_key,
                    service.name,
                    text_of,
                    edited,
                    notes,
                )
        for chart_dir, chart_name in sorted(charts.items()):
            if chart_dir in helm_done or chart_name not in {service.name, *service.aliases}:
                continue
            _helm(
                Path(result.root),
                chart_dir,
                chart_name,
                None,
                service.name,
                text_of,
                edited,
                notes,
            )
    generated, replica_notes, blockers = _helm_consumers(plan, result, charts, text_of)
    changes = [
        FileChange(path, originals[path], text.encode("utf-8"), "deployment")
        for path, text in sorted(edited.items())
        if text.encode("utf-8") != originals[path]
    ]
    return _Deployed(
        changes, list(dict.fromkeys(notes)), generated, replica_notes, list(dict.fromkeys(blockers))
    )


def _helm_consumers(
    plan: MigrationPlan,
    result: ScanResult,
    charts: dict[str, str],
    text_of: Callable[[str], str | None],
) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]], list[str]]:
    """``templates/<service>-consumers.decouple.yaml`` in the chart of each callee a Helm
    chart deploys, made from the service's Deployment template there (as the migration
    has edited it); ``(consumer module, where)`` of those held to one replica; and a merge
    blocker for each callee whose template could not be found or copied."""
    from decouple_services.migrate import generate, helm

    by_service: dict[str, list[ConsumerSpec]] = defaultdict(list)
    for consumer in plan.consumers:
        by_service[consumer.service].append(consumer)
    settings = helm.PodSettings(
        liveness_file=generate.LIVENESS_FILE,
        liveness_test=generate.liveness_test(),
        grace_seconds=generate.HANDLER_TIMEOUT_S + 30,
        state_volume=generate.STATE_VOLUME,
        state_file=generate.STATE_FILE,
        env=deploy.KAFKA_ENV,
    )
    out: list[tuple[str, str, bool]] = []
    held: list[tuple[str, str]] = []
    blockers: list[str] = []
    for service in sorted(result.services, key=lambda s: s.name):
        consumers = by_service.get(service.name)
        if not consumers:
            continue
        keys = [m.group(2) for e in service.evidence if (m := _HELM_EVIDENCE.match(e)) is not None]
        names = list(dict.fromkeys([service.name, *service.aliases, *keys]))
        for chart_dir, chart_name in sorted(charts.items()):
            values_path = posixpath.join(chart_dir, "values.yaml") if chart_dir else "values.yaml"
            if chart_name not in names and not any(
                (m := _HELM_EVIDENCE.match(e)) and m.group(1) == values_path
                for e in service.evidence
            ):
                continue
            paths = [p for p in _template_files(Path(result.root), chart_dir) if not _ours(p)]
            texts = {path: text for path in paths if (text := text_of(path)) is not None}
            chart_text = "\n".join([text_of(values_path) or "", *texts.values()])
            # the chart's image is the service's: its Dockerfile tells how it runs Python
            start = deploy.start_command(
                lambda p: None if (t := text_of(p)) is None else t.encode("utf-8"),
                deploy.service_dockerfiles(service),
            )
            # through an ENTRYPOINT that runs its arguments: the template's ``command``
            # replaces it
            python = (*start.through, *start.python) if start is not None else ("python",)
            made = {
                path: helm.consumers_template(
                    path,
                    text,
                    names,
                    consumers,
                    replace(settings, python=python),
                    chart_text=chart_text,
                )
                for path, text in texts.items()
                if re.search(r"^kind:\s*[\"']?Deployment", text, re.M)
            }
            good = {path: m for path, m in made.items() if m.text is not None}
            if len(good) > 1:
                named = {p: m for p, m in good.items() if any(n in p for n in names)}
                good = named if len(named) == 1 else good
            where = f"the {chart_name} chart ({chart_dir or '.'})"
            if len(good) != 1:
                why = "; ".join(m.problem for m in made.values() if m.problem) or (
                    "no Deployment template" if not good else f"{len(good)} Deployment templates"
                )
                blockers.append(
                    f"no consumer deployment generated for {service.name}: {where} runs none "
                    f"({why}); add a Deployment like the service's running "
                    + ", ".join(
                        f"`python -m {w.module}`" for w in generate.consumer_workloads(consumers)
                    )
                    + f" (from `{consumers[0].import_root}`), with no ports and no Service"
                )
                continue
            ((template_path, made_one),) = good.items()
            assert made_one.text is not None
            folder = posixpath.dirname(template_path)
            path = posixpath.join(folder, f"{dns_label(service.name)}-consumers.decouple.yaml")
            text = generate.with_header(
                made_one.text,
                f"Kafka consumers of {service.name}, made from {posixpath.basename(template_path)}",
            )
            out.append((path, text, False))
            held += [
                (module, f"{path}: 1 replica, not `{replicas}` as {service.name}")
                for module, replicas in made_one.one_replica
            ]
    return out, held, blockers


def _helm(
    root: Path,
    chart_dir: str,
    chart_name: str,
    workload: str | None,
    service: str,
    text_of: Callable[[str], str | None],
    edited: dict[str, str],
    notes: list[tuple[str, str]],
) -> None:
    prefix = "" if chart_dir in ("", ".") else chart_dir + "/"
    values_path = prefix + "values.yaml"
    values = text_of(values_path)
    if values is None:
        notes.append(
            (
                service,
                f"the {chart_name} chart has no values.yaml: set "
                "KAFKA_BOOTSTRAP_SERVERS in its workload's env",
            )
        )
        return
    templates = [
        (path, text)
        for path in _template_files(root, chart_dir)
        if (text := text_of(path)) is not None
    ]
    edit = _guarded(
        partial(deploy.add_helm_env, chart_name, values_path, values, templates, workload),
        deploy.HelmEdit,
    )
    if edit.problem is not None:
        notes.append((service, edit.problem))
    for path, text in edit.files:
        edited[path] = text


_T = TypeVar("_T")


def _guarded(edit: Callable[[], _T], failed: Callable[..., _T]) -> _T:
    """An edit of a user's deployment file; one that fails on a shape it did not foresee
    becomes a note, and the migration goes on."""
    try:
        return edit()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        return failed(
            problem=f"could not be edited ({type(exc).__name__}: {exc}); add "
            f"{', '.join(f'{k}={v}' for k, v in deploy.KAFKA_ENV)} by hand"
        )


_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})


def _charts(root: Path, read: Callable[[str], bytes | None]) -> dict[str, str]:
    """``{chart folder: chart name}`` of every Helm chart in the repository (a folder with a
    ``Chart.yaml``; its ``name``, else the folder's)."""
    import os

    import yaml

    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        if "Chart.yaml" not in files:
            continue
        rel = Path(folder).relative_to(root).as_posix()
        rel = "" if rel == "." else rel
        try:
            meta = yaml.safe_load(read(f"{rel}/Chart.yaml" if rel else "Chart.yaml") or b"")
        except yaml.YAMLError:
            meta = None
        name = meta.get("name") if isinstance(meta, dict) else None
        found[rel] = str(name) if name else (posixpath.basename(rel) or root.resolve().name)
    return found


def _template_files(root: Path, chart_dir: str) -> list[str]:
    """The YAML templates of a chart, repo-relative, less those a migration generated."""
    prefix = f"{chart_dir}/templates" if chart_dir else "templates"
    folder = root / prefix
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(
        f"{prefix}/{p.relative_to(folder).as_posix()}"
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not p.is_symlink()
        and not _ours(p.name)  # the consumers' templates a migration generated
    )


def _dependencies(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> tuple[list[FileChange], list[tuple[str, str]]]:
    wanted: dict[str, list[str]] = defaultdict(list)
    for root, requirement in plan.requirements:
        wanted[root].append(requirement)
    by_root = {s.root: s.name for s in result.services}
    changes: list[FileChange] = []
    notes: list[tuple[str, str]] = []
    for root, requirements in sorted(wanted.items()):
        for path in dependency_files(root, read):
            data = read(path)
            if data is None:
                continue
            text = data.decode("utf-8")
            changed = text
            handled = True
            for requirement in requirements:
                updated = add_requirement(path, changed, requirement)
                if updated is None:
                    handled = handled and _lists(path, changed, requirement)
                    continue
                changed = updated
            if not handled and changed == text:
                continue  # no dependency list in this file: try the next kind
            if changed != text:
                changes.append(FileChange(path, data, changed.encode("utf-8"), "dependencies"))
                stale = stale_lock(path, read)
                if stale is not None:
                    notes.append((by_root.get(root, root), stale))
            break
        else:
            notes.append(
                (
                    by_root.get(root, root),
                    f"no requirements.txt, pyproject.toml or setup.cfg in {root}: "
                    f"add {', '.join(requirements)} to its dependencies",
                )
            )
    return changes, notes


#: Lock files that pin what a ``pyproject.toml`` lists, and the command that renews each.
LOCK_FILES = (
    ("poetry.lock", "poetry lock"),
    ("uv.lock", "uv lock"),
    ("pdm.lock", "pdm lock"),
    ("Pipfile.lock", "pipenv lock"),
)


def stale_lock(path: str, read: Callable[[str], bytes | None]) -> str | None:
    """What to tell about the lock file beside an edited ``pyproject.toml``: an image that
    installs from the lock (``poetry install``) fails until it is renewed."""
    if posixpath.basename(path) != "pyproject.toml":
        return None
    folder = posixpath.dirname(path)
    for name, command in LOCK_FILES:
        lock = posixpath.join(folder, name) if folder else name
        if read(lock) is not None:
            return (
                f"{lock} no longer matches {path}, which lists the Kafka client now: run "
                f"`{command}` in {folder or 'the repository root'} before building the image"
            )
    return None


def dependency_files(root: str, read: Callable[[str], bytes | None]) -> list[str]:
    """Where a service's dependencies may be listed, in the order to try them: the
    dependency files in its folder, then those its Dockerfile installs. A folder with neither
    (code in ``frontend/mythoughts``, built by ``frontend/Dockerfile``) defers to the folder
    above it, up to two levels."""
    folder = "" if root in ("", ".") else root
    for _ in range(3):
        prefix = folder + "/" if folder else ""
        listed = [prefix + name for name in DEPENDENCY_FILES]
        installed = installed_requirements(folder, read)
        if installed or any(read(p) is not None for p in [*listed, prefix + "Dockerfile"]):
            return [*listed, *(p for p in installed if p not in listed)]
        if not folder:
            break
        folder = posixpath.dirname(folder)
    prefix = "" if root in ("", ".") else root + "/"
    return [prefix + name for name in DEPENDENCY_FILES]


_COPY = re.compile(r"^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_PIP_R = re.compile(r"(?:-r|--requirement)[\s=]+(\S+\.txt)")


def installed_requirements(root: str, read: Callable[[str], bytes | None]) -> list[str]:
    """The requirements files the service's Dockerfile installs (``pip install -r
    /code/conf/pip/requirements.txt``), as repository paths: each ``-r`` path is traced back
    through the ``COPY`` that put it there, from the service's folder or a folder above it
    (the build context). Files inside the service's folder come first: a file shared with
    other services (``base_requirements.txt``) is the last resort."""
    prefix = "" if root in ("", ".") else root + "/"
    dockerfile = (read(f"{prefix}Dockerfile") or b"").decode("utf-8", "replace")
    if not dockerfile:
        return []
    copies: list[tuple[str, str]] = []
    for match in _COPY.finditer(dockerfile.replace("\\\n", " ")):
        words = match.group(1).split()
        if len(words) >= 2 and not words[0].startswith("["):
            copies.extend((source, words[-1]) for source in words[:-1])
    contexts = [prefix.rstrip("/")]
    while contexts[-1]:
        contexts.append(posixpath.dirname(contexts[-1]))
    found: list[str] = []
    for wanted in _PIP_R.findall(dockerfile):
        for source, target in copies:
            target = target.rstrip("/")
            if wanted == target or posixpath.basename(wanted) == posixpath.basename(source):
                rest = ""
            elif wanted.startswith(target + "/"):
                rest = wanted[len(target) + 1 :]
            else:
                continue
            for context in contexts:
                path = posixpath.normpath(posixpath.join(context, source, rest))
                if not path.startswith("..") and read(path) is not None and path not in found:
                    found.append(path)
                    break
    return sorted(found, key=lambda path: not path.startswith(prefix))


def _lists(path: str, text: str, requirement: str) -> bool:
    """Whether ``text`` already lists ``requirement`` (``add_requirement`` returned None)."""
    from decouple_services.migrate.deps import normalise

    return normalise(requirement) in {
        normalise(word)
        for word in text.replace('"', " ").replace("'", " ").replace("=", " ").split()
    }


# -- how each service's image starts it ----------------------------------------------------


def _words(value: Any) -> list[str] | None:
    """A compose ``command``/``entrypoint`` (or a container's ``command``/``args``) as words."""
    import shlex

    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError:
            return value.split()
    return None


def _compose_start(
    compose_file: str, name: str, read: Callable[[str], bytes | None]
) -> deploy.StartCommand | None:
    """How the compose service ``name`` of ``compose_file`` starts: its ``entrypoint`` and
    ``command`` (its own, else those of the services it ``extends``) over the Dockerfile
    it is built from."""
    entrypoint = command = None
    file, current = compose_file, name
    for _ in range(4):
        service = _compose_service(file, current, read)
        if service is None:
            break
        entrypoint = entrypoint if entrypoint is not None else _words(service.get("entrypoint"))
        command = command if command is not None else _words(service.get("command"))
        extends = service.get("extends")
        if not isinstance(extends, dict):
            break
        if extends.get("file"):
            file = posixpath.normpath(posixpath.join(posixpath.dirname(file), extends["file"]))
        current = str(extends.get("service"))
    where = f"{compose_file} (service {name})"
    dockerfiles = _compose_dockerfile(compose_file, name, read)
    return deploy.start_command(read, dockerfiles, entrypoint, command, where)


@lru_cache(maxsize=8)
def _compose_yaml(text: bytes) -> Any:
    """A compose file's YAML, ``None`` when it does not parse: read once for every
    service's start command and the override, not once per lookup (never mutated)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _compose_service(
    compose_file: str, name: str, read: Callable[[str], bytes | None]
) -> dict[str, Any] | None:
    loaded = _compose_yaml(read(compose_file) or b"")
    services = loaded.get("services") if isinstance(loaded, dict) else None
    service = services.get(name) if isinstance(services, dict) else None
    return service if isinstance(service, dict) else None


def _compose_dockerfile(
    compose_file: str, name: str, read: Callable[[str], bytes | None], hops: int = 0
) -> list[str]:
    """The Dockerfile the compose service ``name`` is built from, through ``extends``."""
    service = _compose_service(compose_file, name, read)
    if service is None:
        return []
    folder = posixpath.dirname(compose_file)
    build = service.get("build")
    if isinstance(build, str | dict):
        context = build if isinstance(build, str) else str(build.get("context") or ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        return [
            posixpath.normpath(posixpath.join(folder, context, str(dockerfile or "Dockerfile")))
        ]
    extends = service.get("extends")
    if isinstance(extends, dict) and hops < 3:
        file = extends.get("file")
        parent = posixpath.normpath(posixpath.join(folder, str(file))) if file else compose_file
        return _compose_dockerfile(parent, str(extends.get("service")), read, hops + 1)
    return []


def _deployment_start(
    service: Service,
    manifest: str,
    deployment: str,
    documents: Sequence[Any],
    read: Callable[[str], bytes | None],
) -> deploy.StartCommand | None:
    """How the service's own Deployment starts it (:func:`_k8s_start`)."""
    from decouple_services.migrate import generate

    source = generate.own_deployment(documents, deployment)
    if source is None:
        return None
    container = source["spec"]["template"]["spec"]["containers"][0]
    if not isinstance(container, Mapping):
        return None
    return _k8s_start(service, container, f"{manifest} (Deployment {deployment})", read)


def _k8s_start(
    service: Service, container: Mapping[str, Any], where: str, read: Callable[[str], bytes | None]
) -> deploy.StartCommand | None:
    """How the Deployment's ``container`` starts ``service``: its ``command``/``args`` over
    the image's Dockerfile (Kubernetes' ``command`` replaces the ENTRYPOINT, ``args`` the CMD)."""
    return deploy.start_command(
        read,
        deploy.service_dockerfiles(service),
        _words(container.get("command")),
        _words(container.get("args")),
        where,
    )


def _start_blockers(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> list[str]:
    """For each service whose consumers (or outbox relay) a generated workload runs: that
    the Python its image starts the service with could not be told, naming the command."""

    wanted = {c.service for c in plan.consumers} | {r.service for r in _relays(plan, read)}
    if not plan.topics or not wanted:
        return []
    compose_starts: dict[str, deploy.StartCommand | None] = {}
    files = Counter(
        found.group(1)
        for service in result.services
        for evidence in service.evidence
        if (found := _COMPOSE_EVIDENCE.match(evidence)) and not _ours(found.group(1))
    )
    if files:
        compose_file = files.most_common(1)[0][0]
        compose = _compose_yaml(read(compose_file) or b"")
        if isinstance(compose, dict) and isinstance(compose.get("services"), dict):
            names = _compose_names(result.services, compose_file, compose["services"])
            compose_starts = {
                service: _compose_start(compose_file, name, read)
                for service, name in names.items()
                if service in wanted and name in compose["services"]
            }
    out = []
    for service in sorted(result.services, key=lambda s: s.name):
        if service.name not in wanted:
            continue
        starts = [compose_starts.get(service.name)]
        own = _own_deployment(service.evidence, read)
        if own is not None:
            starts.append(_deployment_start(service, *own, read))
        if not any(starts):
            starts.append(deploy.start_command(read, deploy.service_dockerfiles(service)))
        for start in starts:
            if start is not None and start.problem is not None:
                out.append(f"the consumers of {service.name}: {start.problem}")
    out.extend(_root_blockers(plan, read, result))
    return out


def _root_blockers(
    plan: MigrationPlan, read: Callable[[str], bytes | None], result: ScanResult
) -> list[str]:
    """Consumers generated in a package whose folder the service's image does not hold
    where it runs from: ``app/`` copied to ``/code`` leaves no ``app`` package there, so
    ``python -m app.decouple_consumers`` would exit at once, after the deploy. The module
    names follow the image (:func:`_module_namer`) unless the file's own imports or the
    image's start command say otherwise; what is left is named, with the ``COPY``.
    Where no ``COPY`` settles the folder, the start command still tells it: one that
    imports ``main`` found in ``app/`` runs from inside ``app`` (:func:`_start_blocker`)."""
    root = Path(result.root)
    out = []
    for consumer in plan.consumers:
        image = image_root(root, read, result.services, consumer.path)
        if image is None or (not image.settled and not _below(image.folder, consumer.import_root)):
            found = _start_blocker(consumer, read, result)
            out.extend([found] if found else [])
            continue
        if not _below(image.folder, consumer.import_root):
            continue
        package = consumer.module.rpartition(".")[0] or consumer.module
        starts = f", and its start command imports `{image.module}` from it" if image.module else ""
        unsettled = (
            f" (`{image.module}` is not in `{image.folder or '.'}`: which folder the image "
            "imports from could not be settled)"
            if not image.settled
            else ""
        )
        out.append(
            f"the consumers of {consumer.service}: {image.where} copies "
            f"`{image.folder or '.'}` into {image.workdir}, the folder the image runs from"
            f"{starts}{unsettled}; the consumers are imported from `{consumer.import_root}` "
            f"as `{package}`, which the image does not hold there: check where it imports "
            f"the service's code from, and that `python -m {package}` runs in it"
        )
    return list(dict.fromkeys(out))


def _start_blocker(
    consumer: ConsumerSpec, read: Callable[[str], bytes | None], result: ScanResult
) -> str | None:
    """The consumers' package contradicted by the module the service's image starts
    (:func:`deploy.start_module`): ``uvicorn main:app`` with ``main`` found in ``app/``,
    not in the folder the consumers are imported from as ``app.decouple_consumers``,
    runs from inside ``app``, where there is no ``app`` package. An image that takes its
    code where this does not read (another image, a path only its build knows) says no
    more than its start command does, so that is named."""
    service = next((s for s in result.services if s.name == consumer.service), None)
    if service is None:
        return None
    dockerfile = next((p for p in deploy.service_dockerfiles(service) if read(p) is not None), None)
    if dockerfile is None:
        return None
    text = (read(dockerfile) or b"").decode("utf-8", "replace")
    entry, cmd, _, where = deploy.dockerfile_start(text, dockerfile)
    module = deploy.start_module([*entry, *cmd], deploy.final_workdir(text))
    base = "" if consumer.import_root in ("", ".") else consumer.import_root
    if module is None or _found(read, base, module):
        return None
    # the folders between the consumers' root and their package, the deepest first
    folders = posixpath.dirname(posixpath.dirname(consumer.path)).split("/")
    depth = len([f for f in base.split("/") if f])
    inside = ["/".join(folders[:i]) for i in range(len(folders), depth, -1)]
    holder = next((f for f in inside if _found(read, f, module)), None)
    if holder is None:
        return None
    package = consumer.module.rpartition(".")[0] or consumer.module
    return (
        f"the consumers of {consumer.service}: {where} starts the service importing "
        f"`{module}`, which is in `{holder}`, so the image runs from a copy of that folder "
        f"(where it takes the code from is not read); the consumers are imported from "
        f"`{base or '.'}` as `{package}`, which the image does not hold there: check where "
        f"it imports the service's code from, and that `python -m {package}` runs in it"
    )


def _found(read: Callable[[str], bytes | None], folder: str, module: str) -> bool:
    """Whether ``module`` is imported from the repository's ``folder``."""
    stem = posixpath.join(folder, module.replace(".", "/"))
    return any(read(stem + end) is not None for end in (".py", "/__init__.py", "/__main__.py"))
