"""Which services a repository holds, and the evidence for each.

Sources are consulted in the order an engineer new to the repository would trust them:

1. ``[tool.decouple.services]`` in the configuration — the team said so;
2. docker-compose files — services with a ``build:`` context;
3. Kubernetes manifests and Helm values — Deployments, the Services in front of them, env;
4. marker files (Dockerfile, manage.py, Procfile, pyproject.toml, setup.py,
   requirements.txt) in subdirectories;
5. fallback: the repository is one service.

A later source never creates a second service under a name an earlier one found: it adds
aliases, ports, env and evidence to it. Two exceptions, both about one name meaning two
programs: copies of one system in top-level folders side by side are discovered apart and
merged (``discover_services``), and standalone compose files of sibling folders naming
their own code alike (``server`` in ``frontend/`` and in ``users/``) make two services. Names that are reachable but built elsewhere
(a postgres image, a k8s Deployment of an external image) are returned as
``infra_hosts`` so that calls to them are recognised rather than reported unknown.

This module is the I/O edge of discovery: it reads files through a small caching reader
and hands their text to the pure parsers in :mod:`~decouple_services.discover.compose`,
:mod:`~decouple_services.discover.k8s`, :mod:`~decouple_services.discover.dotenv` and
:mod:`~decouple_services.discover.markers`.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from decouple_services.core.config import Config, ServiceConfig
from decouple_services.core.fs import ReadRefused, read_in_root, read_regular
from decouple_services.core.model import Category, Diagnostic, EnvValue, Service, Severity
from decouple_services.core.provenance import is_generated
from decouple_services.discover import caddy, haproxy
from decouple_services.discover.dotenv import parse_dotenv
from decouple_services.discover.entrypoints import (
    console_scripts,
    entry_file,
    foreign_script_folder,
    imported_files,
    runs_as_program,
    script_in_tree,
    served_module,
    served_paths,
    shell_scripts,
    starts_server,
)
from decouple_services.discover.files import (
    FileListing,
    categorize,
    is_compose_file,
    looks_like_manifest,
)
from decouple_services.discover.found import _SERVER_NAMES, ServiceDiscovery, service_for_path
from decouple_services.discover.markers import (
    PACKAGE_METADATA,
    DockerfileFacts,
    bazel_binaries,
    find_marker_dirs,
    is_dockerfile,
    parse_dockerfile,
)
from decouple_services.discover.nginx import GatewayRoute, parse_routes
from decouple_services.discover.protos import is_proto_file, read_proto_services
from decouple_services.discover.workflows import image_contexts, image_name, is_workflow

if TYPE_CHECKING:
    # The readers of deployment formats (and the YAML parser under them) are imported
    # where a file of their kind is read: a tree without one, and a rerun that finds the
    # last result still good, never load them.
    from decouple_services.discover.compose import ComposeFile
    from decouple_services.discover.grpc_servers import GrpcServicer
    from decouple_services.discover.k8s import ConfigMap, KubeService, Manifests, Workload

#: Deployment files larger than this are generated dumps, not something a team maintains.
MAX_DEPLOY_FILE_BYTES = 5 * 1024 * 1024
#: Sources in other languages larger than this are bundles or generated code, not a server.
MAX_OTHER_FILE_BYTES = 1024 * 1024

# Directories whose marker files describe documentation builds or examples, not services.
_NOT_SERVICE_DIRS = frozenset({"docs", "doc", "examples", "example", "fixtures"})
_TEST_DATA_DIRS = frozenset({"fixtures", "testdata", "test_data"})

_T = TypeVar("_T")

#: Modules followed from one process's entry files, at most: enough for the code a worker
#: imports, bounded on a large package.
_MAX_IMPORTED = 2000


_COMPOSE_SERVICES = re.compile(r"^services:[ \t]*(?:#.*)?$", re.MULTILINE)
_COMPOSE_BUILD = re.compile(r"^[ \t]+(?:build|image):", re.MULTILINE)
_MANIFEST_KEYS = re.compile(r"^(?:apiVersion|kind|on|jobs):", re.MULTILINE)


class Programs(Protocol):
    """What earlier scans learned of Python files run as programs (``app/pipeline.py``
    keeps it by content digest): the files known not to start a server need not be read."""

    def plain(self, path: str) -> bool:
        """Whether ``path``, as it is now, is known not to start a server."""

    def seen(self, path: str, data: bytes, starts: bool) -> None:
        """``path`` was read as ``data``, which starts a server or not."""


def discover_services(
    root: Path, listing: FileListing, config: Config, programs: Programs | None = None
) -> ServiceDiscovery:
    """Find the services of the repository at ``root`` from the files in ``listing``.

    Never raises for a bad file: unreadable or malformed files become diagnostics.
    """
    whole = _Discovery(root, listing, config, programs=programs)
    copies = [] if config.services else whole.copies()
    if len(copies) < 2:
        return whole.run()
    parts = [
        (c, _Discovery(root, _within(listing, c), config, among_others=True, programs=programs))
        for c in copies
    ]
    parts.append(
        (
            "",
            _Discovery(
                root, _outside(listing, copies), config, among_others=True, programs=programs
            ),
        )
    )
    return _merge([(prefix, part.run()) for prefix, part in parts])


def _within(listing: FileListing, folder: str) -> FileListing:
    """The files under ``folder``, with the repository's own ``.env`` files (compose reads
    them for every project)."""
    inside = folder + "/"
    return FileListing(
        python=tuple(p for p in listing.python if p.startswith(inside)),
        deploy=tuple(
            p for p in listing.deploy if p.startswith(inside) or ("/" not in p and _is_env_file(p))
        ),
        other=tuple(p for p in listing.other if p.startswith(inside)),
    )


def _outside(listing: FileListing, folders: Sequence[str]) -> FileListing:
    tops = set(folders)
    return FileListing(
        python=tuple(p for p in listing.python if p.split("/", 1)[0] not in tops),
        deploy=tuple(p for p in listing.deploy if p.split("/", 1)[0] not in tops),
        other=tuple(p for p in listing.other if p.split("/", 1)[0] not in tops),
    )


def _merge(parts: Sequence[tuple[str, ServiceDiscovery]]) -> ServiceDiscovery:
    """The discoveries of a repository's copies of one system as one: a name several copies
    use is qualified by its copy's folder (``chapter10-frontend``), its plain name kept as
    the host it answers to inside its copy."""
    uses = Counter(s.name for _, found in parts for s in found.services)
    services: list[Service] = []
    servicers: list[GrpcServicer] = []
    infra: dict[str, str] = {}
    infra_ports: dict[str, tuple[int, ...]] = {}
    routes: dict[str, tuple[GatewayRoute, ...]] = {}
    for prefix, found in parts:
        names = {
            s.name: f"{prefix}-{s.name}" if prefix and uses[s.name] > 1 else s.name
            for s in found.services
        }
        for service in found.services:
            name = names[service.name]
            aliases = service.aliases if name == service.name else (name, *service.aliases)
            services.append(replace(service, name=name, aliases=aliases))
        for servicer in found.grpc_servicers:
            owner = servicer.service
            servicers.append(replace(servicer, service=names.get(owner, owner) if owner else None))
        for host, image in found.infra_hosts.items():
            infra.setdefault(host, image)
        for host, ports in found.infra_ports.items():
            infra_ports.setdefault(host, ports)
        for host, forwarded in found.gateway_routes.items():
            routes.setdefault(host, forwarded)
    taken = {alias for service in services for alias in service.aliases}
    return ServiceDiscovery(
        services=tuple(sorted(services, key=lambda s: s.name)),
        diagnostics=tuple(
            sorted({d for _, found in parts for d in found.diagnostics}, key=Diagnostic.sort_key)
        ),
        infra_hosts={h: i for h, i in sorted(infra.items()) if h not in taken},
        global_env=parts[-1][1].global_env,
        files_read=tuple(sorted({f for _, found in parts for f in found.files_read})),
        gateway_routes=routes,
        infra_ports={h: p for h, p in sorted(infra_ports.items()) if h in infra and h not in taken},
        grpc_servicers=tuple(servicers),
        proto_services=tuple(p for _, found in parts for p in found.proto_services),
        code_read=frozenset().union(*(found.code_read for _, found in parts)),
    )


#: A compose variable: ``${NAME}``, ``${NAME:-default}``, ``$NAME``.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


class _Builder:
    """A service while sources are still adding to it."""

    def __init__(self, name: str, root: str) -> None:
        self.name = name
        self.root = root
        self.aliases: list[str] = [name]
        self.evidence: list[str] = []
        self.ports: list[int] = []
        self.env: list[EnvValue] = []
        self.dockerfiles: list[str] = []
        #: The compose ``entrypoint``/``command``, when it sets one.
        self.command = ""
        self.entries: list[str] = []
        #: Owns its entries and the modules only it reaches, not its root's other files.
        self.entries_only = False
        #: Found from its code (a module that starts a server), not from a deployment file.
        self.from_code = False

    def add(
        self,
        *,
        aliases: Iterable[str] = (),
        evidence: Iterable[str] = (),
        ports: Iterable[int] = (),
        env: Iterable[EnvValue] = (),
    ) -> None:
        _extend_unique(self.aliases, aliases)
        _extend_unique(self.evidence, evidence)
        _extend_unique(self.ports, ports)
        # The same name may carry different values per deployment (compose vs k8s); both
        # are kept, the first source's first, so resolution can show every candidate.
        seen = {(e.name, e.value) for e in self.env}
        for value in env:
            if (value.name, value.value) not in seen:
                seen.add((value.name, value.value))
                self.env.append(value)

    def build(self) -> Service:
        return Service(
            name=self.name,
            root=self.root,
            aliases=tuple(self.aliases),
            evidence=tuple(self.evidence),
            ports=tuple(sorted(self.ports)),
            env=tuple(self.env),
            entries=tuple(self.entries),
            entries_only=self.entries_only,
            dockerfiles=tuple(self.dockerfiles),
        )


def _extend_unique(target: list[_T], items: Iterable[_T]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


class _Discovery:
    def __init__(
        self,
        root: Path,
        listing: FileListing,
        config: Config,
        *,
        among_others: bool = False,
        programs: Programs | None = None,
    ) -> None:
        self.root = root
        self.programs = programs
        #: One part of a repository holding copies of one system: the other parts found
        #: services, so no fallback applies here, and weak markers say nothing.
        self.among_others = among_others
        self.listing = listing
        self.config = config
        self.diagnostics: list[Diagnostic] = []
        self.builders: dict[str, _Builder] = {}
        self.infra_hosts: dict[str, str] = {}
        self.gateway_routes: dict[str, tuple[GatewayRoute, ...]] = {}
        self.infra_ports: dict[str, tuple[int, ...]] = {}
        self.apart: set[str] = set()
        self._texts: dict[str, str | None] = {}
        #: Python files whose content was read or asked about (``code_read``).
        self._code_read: set[str] = set()
        #: Files that exist but were not read (reported once, on the file).
        self._not_read: set[str] = set()
        self._root_real = os.path.realpath(root)
        # Compose files and manifests under tests/ or fixtures/ describe test setups (or
        # sample repositories), not how this repository's services are deployed.
        # A migration's own compose override and manifests (the consumer containers, the
        # broker, the relays) run decouple's machinery, not services of the repository.
        self._deploy = {
            p for p in listing.deploy if not _is_test_path(p, config) and not self._generated(p)
        }
        self._all_paths = sorted(set(listing.python) | self._deploy)
        self._code_dirs = _directories_with_code(listing.python)
        #: Folders holding code in any language: a Dockerfile kept with a Node server's
        #: sources is that server's as much as one kept with Python code.
        self._source_dirs = self._code_dirs | _directories_with_code(
            [p for p in listing.other if not is_proto_file(p)]
        )
        # .env files already accounted for (compose interpolation or env_file:).
        self._used_env_files: set[str] = set()
        self._go_mains: dict[str, str] | None = None
        #: image name -> (the folder a CI workflow builds it from, the workflow)
        self._image_contexts: dict[str, tuple[str, str]] | None = None
        #: Names given to compose services only to tell namesakes apart.
        self._made_up: set[str] = set()
        #: compose service -> the compose files declaring it
        self._declared_in: dict[str, set[str]] = {}
        #: Source files in other languages read (kept only while discovery runs).
        self._other_bytes: dict[str, bytes | None] = {}

    # -- I/O ------------------------------------------------------------------------------

    def _generated(self, rel: str) -> bool:
        """Whether a YAML file carries the provenance header of ``decouple migrate``."""
        if not rel.endswith((".yml", ".yaml")):
            return False
        if rel not in self._texts:
            # Quietly: a file that cannot be read is reported when discovery reads it.
            try:
                data = read_in_root(self._root_real, rel, MAX_DEPLOY_FILE_BYTES)
                self._texts[rel] = data.decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                return False
        text = self._texts[rel]
        return text is not None and is_generated(text.encode("utf-8"))

    def read(self, rel: str) -> str | None:
        """Text of a repo-relative file, or ``None`` with a diagnostic (cached)."""
        if rel in self._texts:
            return self._texts[rel]
        text: str | None = None
        try:
            # Listed files were checked already; env_file paths named by compose were not.
            text = read_in_root(self._root_real, rel, MAX_DEPLOY_FILE_BYTES).decode("utf-8-sig")
        except FileNotFoundError:
            text = None
        except ReadRefused as exc:
            code = "symlink-outside" if exc.code == "outside" else exc.code
            self._diag(rel, code, str(exc.strerror))
            self._not_read.add(rel)
        except UnicodeDecodeError as exc:
            self._diag(rel, "undecodable", f"not UTF-8: {exc.reason} at byte {exc.start}")
            self._not_read.add(rel)
        except OSError as exc:
            self._diag(rel, "unreadable", f"cannot read: {exc.strerror or exc}")
            self._not_read.add(rel)
        self._texts[rel] = text
        return text

    def _read_code(self, rel: str) -> str | None:
        """A Python file's text, not kept: the scan reads every Python file anyway, so
        discovery neither holds their texts nor lists them among its own inputs."""
        self._code_read.add(rel)
        try:
            data = read_in_root(self._root_real, rel, MAX_DEPLOY_FILE_BYTES)
        except OSError:  # ReadRefused too: reported where the scan reads the file
            return None
        return data.decode("utf-8", "replace")

    def _starts_server(self, rel: str) -> bool:
        """Whether the Python file ``rel`` starts a server when run (``starts_server``)."""
        self._code_read.add(rel)
        if self.programs is not None and self.programs.plain(rel):
            return False
        try:
            data = read_in_root(self._root_real, rel, MAX_DEPLOY_FILE_BYTES)
        except OSError:  # ReadRefused too: reported where the scan reads the file
            return False
        # the bytes first: a program without a `__main__` block is most of any tree
        starts = b"__main__" in data and starts_server(data.decode("utf-8", "replace"))
        if self.programs is not None:
            self.programs.seen(rel, data, starts)
        return starts

    def _read_existing(self, rel: str) -> str | None:
        """An ``env_file:`` named by compose: None when missing; ReadRefused when it exists
        but is not read (the reason is reported once, on the file, not per service)."""
        # compose reads env_file paths even when git ignores them (a local .env), so they
        # are read whether listed or not -- but never from outside the tree.
        if rel == ".." or rel.startswith("../") or posixpath.isabs(rel):
            if rel not in self._texts:
                self._texts[rel] = None
                self._not_read.add(rel)
                self._diag(rel, "symlink-outside", "env_file outside the scanned tree; not read")
            raise ReadRefused("outside", "outside the scanned tree")
        text = self.read(rel)
        if rel in self._not_read:
            raise ReadRefused("not-read", "not read")
        return text

    def _diag(self, file: str, code: str, message: str, line: int = 0) -> None:
        self.diagnostics.append(Diagnostic(file, line, Severity.WARNING, code, message))

    # -- the stages -------------------------------------------------------------------------

    def run(self) -> ServiceDiscovery:
        global_env = self._global_env()
        self._from_config()
        self._from_compose(global_env)
        self._fold_tasks()
        self._narrow_shared_roots()
        self._server_modules_beside()
        self._drop_whole_tree_test_runs()
        self._claim_imports()
        self._claim_task_modules()
        self._from_kubernetes()
        self._from_helm()
        self._from_bazel_binaries()
        self._from_markers()
        self._root_at_imported_code()
        self._from_server_programs()
        self._fallback()
        self._dockerfiles()
        self._service_env_files()
        services = tuple(sorted((b.build() for b in self.builders.values()), key=lambda s: s.name))
        servicers = self._grpc_servicers(services)
        # read before ``files_read`` is taken: an edited proto is a changed input
        protos = tuple(
            read_proto_services(
                [p for p in self.listing.other if not _is_test_path(p, self.config)],
                self._read_other_bytes,
            )
        )
        taken = {alias for service in services for alias in service.aliases}
        infra = {
            host: image for host, image in sorted(self.infra_hosts.items()) if host not in taken
        }
        return ServiceDiscovery(
            services=services,
            diagnostics=tuple(sorted(set(self.diagnostics), key=Diagnostic.sort_key)),
            infra_hosts=infra,
            global_env=global_env,
            files_read=tuple(sorted({*self._texts, *self._other_bytes})),
            gateway_routes=self.gateway_routes,
            infra_ports={h: p for h, p in sorted(self.infra_ports.items()) if h in infra},
            grpc_servicers=tuple(servicers),
            proto_services=protos,
            apart=frozenset(self.apart),
            unshipped=frozenset(self._unshipped()),
            # a listed Python file read as a deployment file counts too
            code_read=frozenset(self._code_read | (self._texts.keys() & set(self.listing.python))),
        )

    def _builds_with_tree_mounted(self, rel: str) -> bool:
        """Whether a service the compose file builds mounts the whole repository
        (``volumes: [".:/app"]``), so its container holds every folder whatever its image
        copies."""
        text = self.read(rel)
        if text is None or "volumes" not in text:
            return False
        from decouple_services.discover import _yaml

        documents, _ = _yaml.compose_documents(text, rel, "compose-invalid")
        here = posixpath.dirname(rel)
        for document in documents:
            for _, _, spec in _yaml.items(_yaml.get(document, "services")):
                if _yaml.get(spec, "build") is None:
                    continue
                for node in _yaml.sequence(_yaml.get(spec, "volumes")):
                    mount = _yaml.scalar(node) or _yaml.scalar(_yaml.get(node, "source")) or ""
                    source = mount.partition(":")[0]
                    if (
                        source.startswith(".")
                        and posixpath.normpath(posixpath.join(here, source)) == "."
                    ):
                        return True
        return False

    def _unshipped(self) -> set[str]:
        """Top-level code folders that the images of the services built from the whole
        repository leave out: every such service has Dockerfiles of the tree, none copies
        the whole context, and none copies anything of that folder (in any stage)."""
        whole = [b for b in self.builders.values() if b.root == "."]
        if any(self._builds_with_tree_mounted(rel) for rel in self._deploy if is_compose_file(rel)):
            return set()  # the whole tree is mounted into a built container: it holds everything
        shipped: set[str] = set()
        for builder in whole:
            if not builder.dockerfiles:
                return set()
            for rel in builder.dockerfiles:
                text = self.read(rel) if rel in self._deploy else None
                if text is None:
                    return set()
                sources = parse_dockerfile(text, rel).copied_by_any_stage
                if "." in sources:
                    return set()
                shipped.update(source.split("/", 1)[0] for source in sources)
        if not shipped:
            return set()
        return {p.split("/", 1)[0] for p in self.listing.python if "/" in p} - shipped

    def _grpc_servicers(self, services: Sequence[Service]) -> list[GrpcServicer]:
        from decouple_services.discover.grpc_servers import assign_services, find_registrations

        paths = [p for p in self.listing.other if not _is_test_path(p, self.config)]
        found = find_registrations(paths, self._read_other_bytes)
        if not found:
            return []
        return assign_services(
            found,
            services,
            lambda path: service_for_path(services, path),
            self.listing.other,
            self.read_other,
        )

    def _global_env(self) -> tuple[EnvValue, ...]:
        root_env_files = sorted(
            (p for p in self._deploy if "/" not in p and _is_env_file(p)),
            key=lambda p: (p != ".env", p),
        )
        values: list[EnvValue] = []
        for rel in root_env_files:
            self._used_env_files.add(rel)
            text = self.read(rel)
            if text is None:
                continue
            parsed = parse_dotenv(text, rel)
            self.diagnostics.extend(parsed.diagnostics)
            values.extend(parsed.values)
        return tuple(values)

    def _from_config(self) -> None:
        source = self.config.source or "pyproject.toml"
        table = "tool.decouple.services" if source.endswith("pyproject.toml") else "services"
        for spec in self.config.services:
            root = self._config_root(spec, source)
            builder = self._builder(spec.name, root)
            builder.add(
                aliases=spec.aliases,
                evidence=[f"{source} [{table}.{spec.name}]"],
                ports=spec.ports,
            )

    def _config_root(self, spec: ServiceConfig, source: str) -> str:
        if spec.root is None:
            return self._guess_root([spec.name]) or ""
        root = posixpath.normpath(spec.root.replace("\\", "/").strip("/") or ".")
        if root.startswith("../") or root == ".." or not (self.root / root).is_dir():
            self._diag(
                source,
                "config-root-missing",
                f"services.{spec.name}.root {spec.root!r} is not a directory of the repository",
            )
        return root

    def _compose_files(self) -> list[str]:
        return sorted(
            (p for p in self._deploy if is_compose_file(p) or self._compose_by_content(p)),
            # docker-compose.yml before docker-compose.override.yml: the override adds to it.
            key=lambda p: (posixpath.dirname(p), "override" in p, p),
        )

    def copies(self) -> list[str]:
        """Top-level folders holding copies of one system (a course's chapters, versions
        side by side): each builds, from code inside it, a compose service of a name
        another such folder builds too, and most of their modules are the same files
        (``mythoughts/thoughts/login.py`` in both). Each copy is deployed on its own;
        sibling services that only name their compose service alike (``server`` in
        ``frontend/`` and in ``users/``) are not copies."""
        builders: dict[str, set[str]] = {}
        for rel in self._compose_files():
            top, slash, _ = rel.partition("/")
            text = self.read(rel) if slash else None
            if text is None:
                continue
            from decouple_services.discover.compose import parse_compose

            parsed = parse_compose(text, rel, is_code_dir=self._source_dirs.__contains__)
            for service in parsed.services:
                if service.root == top or service.root.startswith(top + "/"):
                    builders.setdefault(service.name, set()).add(top)
        tops = sorted({top for tops in builders.values() if len(tops) > 1 for top in tops})
        modules: dict[str, set[str]] = {top: set() for top in tops}
        for path in self.listing.python:
            top = path.partition("/")[0]
            if top in modules and not path.endswith("__init__.py"):
                modules[top].add("/".join(path.split("/")[-2:]))
        copies: set[str] = set()
        for tops_of_name in builders.values():
            for a, b in itertools.combinations(sorted(tops_of_name), 2):
                smaller = min(len(modules[a]), len(modules[b]))
                if smaller and 2 * len(modules[a] & modules[b]) >= smaller:
                    copies |= {a, b}
        return sorted(copies)

    def _from_compose(self, global_env: tuple[EnvValue, ...]) -> None:
        global_values = {v.name: v.value for v in global_env}
        parsed_files: list[ComposeFile] = []
        #: builder name -> the folder of the compose file that declared it first
        compose_dir: dict[str, str] = {}
        #: builder name -> the compose files building it
        declared_in: dict[str, set[str]] = {}
        split: set[str] = set()
        for rel in self._compose_files():
            text = self.read(rel)
            if text is None:
                continue
            directory = posixpath.dirname(rel)
            environ = global_values
            local_env = f"{directory}/.env" if directory else ".env"
            if directory and local_env in self._deploy:
                # compose reads the .env of the project directory, the compose file's own.
                self._used_env_files.add(local_env)
                local_text = self.read(local_env)
                if local_text is not None:
                    local = parse_dotenv(local_text, local_env)
                    self.diagnostics.extend(local.diagnostics)
                    environ = local.as_dict()
            from decouple_services.discover.compose import parse_compose

            parsed = parse_compose(
                text,
                rel,
                environ=environ,
                read_text=self._read_existing,
                is_code_dir=self._source_dirs.__contains__,
            )
            parsed_files.append(parsed)
            self.diagnostics.extend(parsed.diagnostics)
            self._used_env_files.update(parsed.env_files)
            folder = posixpath.dirname(rel)
            for service in parsed.services:
                root = self._context_root(service.root, parsed.dockerfiles.get(service.name))
                name = service.name
                known = self.builders.get(name)
                if (
                    known is not None
                    and compose_dir.get(name, folder) != folder
                    and _apart(known.root, root)
                ):
                    # standalone compose files of sibling folders (`frontend/` and
                    # `users_backend/` each running its code as `server`) name different
                    # services alike
                    split.add(name)
                    name = self._qualified(folder, name)
                builder = self._builder(name, root)
                compose_dir.setdefault(name, folder)
                declared_in.setdefault(name, set()).add(rel)
                builder.add(
                    aliases=service.aliases,
                    evidence=service.evidence,
                    ports=service.ports,
                    env=service.env,
                )
                dockerfile = parsed.dockerfiles.get(service.name)
                if dockerfile:
                    _extend_unique(builder.dockerfiles, [dockerfile])
                builder.command = builder.command or parsed.commands.get(service.name, "")
        self._inherit_builds(parsed_files)
        self._join_test_runs(parsed_files)
        self._join_development_twins(declared_in)
        self._declared_in = declared_in
        for name in sorted(split):
            first = self.builders.get(name)
            if first is not None:
                self._rename(first, self._qualified(compose_dir[name], name))
        for parsed in parsed_files:
            configs = [(n, c, parse_routes) for n, c in parsed.nginx_configs.items()]
            configs += [(n, c, haproxy.parse_routes) for n, c in parsed.haproxy_configs.items()]
            configs += [(n, c, caddy.parse_routes) for n, c in parsed.caddy_configs.items()]
            for name, conf, parse in configs:
                text = self.read(conf)
                routes = tuple(parse(text, conf)) if text is not None else ()
                if routes:
                    # every file's names of the gateway (an override adding a network alias)
                    for alias in _gateway_aliases(parsed_files, name):
                        self.gateway_routes[alias] = routes
        self._expand_templates(parsed_files)
        # Image-only entries extend a service built in another compose file (an override
        # file adding env); only the rest are infrastructure.
        for parsed in parsed_files:
            for service in parsed.image_services:
                built = self.builders.get(service.name)
                if built is not None and built.root != "":
                    built.add(
                        aliases=service.aliases,
                        evidence=service.evidence,
                        ports=service.ports,
                        env=service.env,
                    )
                elif self._adopt_go_command(
                    service.name, parsed.infra_hosts.get(service.name, ""), service
                ):
                    continue
                else:
                    for alias in service.aliases:
                        self.infra_hosts.setdefault(alias, parsed.infra_hosts.get(alias, ""))
                    published = parsed.published_ports.get(service.name)
                    if published:
                        self.infra_ports.setdefault(service.name, published)

    def _expand_templates(self, parsed_files: list[ComposeFile]) -> None:
        """One compose service started once per folder with a variable naming it
        (``python -m uvicorn shop.services.${SERVICE_DIR_NAME}.main:app``, each run given
        its own ``--env-file``): a service per folder the program exists in, named by the
        folder, in place of the template."""
        for parsed in parsed_files:
            for name, command in parsed.commands.items():
                found = self._template_instances(command)
                if len(found) < 2:
                    continue
                template = self.builders.get(name)
                dockerfiles: list[str] = []
                if template is not None and (
                    # a context compose fills from the shell (`${PWD}`) is no folder here
                    "$" in template.root
                    or all(
                        template.root in (".", "") or folder.startswith(template.root + "/")
                        for folder, _ in found
                    )
                ):
                    dockerfiles = list(template.dockerfiles)
                    del self.builders[name]
                for folder, value in found:
                    if value in self.builders:
                        continue
                    builder = self._builder(value, folder)
                    _extend_unique(builder.dockerfiles, dockerfiles)
                    builder.add(
                        aliases=(value,),
                        evidence=(f"{parsed.file}: {name} runs {folder} (one run per folder)",),
                        ports=(),
                        env=(),
                    )
                    builder.command = builder.command or command

    def _template_instances(self, command: str) -> list[tuple[str, str]]:
        """``(folder, value)`` for each folder a program named with one unset variable
        (``pkg.services.${NAME}.main:app``, ``services/${NAME}/main.py``) exists in."""
        out: list[tuple[str, str]] = []
        for token in command.split():
            if "${" not in token and "$" not in token:
                continue
            program = token.partition(":")[0] if not token.endswith(".py") else token
            parts = _PLACEHOLDER.split(program)
            if len(parts) != 2:
                continue  # one variable only: the folder it names
            head, tail = parts
            wanted: tuple[str, ...]
            if token.endswith(".py"):
                prefix, suffix = head, tail
                wanted = (suffix,)
            else:
                prefix, suffix = head.replace(".", "/"), tail.replace(".", "/")
                wanted = (f"{suffix}.py", f"{suffix}/__init__.py")
            if not prefix.endswith("/") or not suffix.startswith("/") or "$" in prefix + suffix:
                continue
            for path in self.listing.python:
                if not path.startswith(prefix):
                    continue
                value, sep, rest = path[len(prefix) :].partition("/")
                if sep and value and f"/{rest}" in wanted:
                    out.append((prefix + value, value))
            if out:
                break
        return sorted(set(out))

    def _qualified(self, folder: str, name: str) -> str:
        """``server`` of ``shop/frontend/docker-compose.yml``: ``frontend-server``, or
        ``shop-frontend-server`` when that is taken."""
        short = f"{posixpath.basename(folder) or 'root'}-{name}"
        made_up = short if short not in self.builders else f"{folder.replace('/', '-')}-{name}"
        self._made_up.add(made_up)
        return made_up

    def _go_commands(self) -> dict[str, str]:
        """Normalised name -> ``cmd/<name>`` folder holding a Go main package; a test
        server's command (``pkg/test/echo/cmd/server``) is never what is deployed."""
        if self._go_mains is None:
            from decouple_services.discover.grpc_servers import go_main_dirs

            found = go_main_dirs(self.listing.other, self.read_other, self._may_be_service_dir)
            self._go_mains = {_squash(name): folder for name, folder in found.items()}
        return self._go_mains

    def _go_command_root(self, names: Iterable[str], image: str) -> str | None:
        """The ``cmd/<name>`` folder of the Go binary a deployed image runs, when the image
        is not an official library image (``postgres``, ``redis``) and the service is named
        like the folder."""
        if not image or _is_library_image(image):
            return None
        mains = self._go_commands()
        return next((mains[n] for n in map(_squash, names) if n in mains), None)

    def _adopt_go_command(self, name: str, image: str, service: Service) -> bool:
        """An image-only compose service running a Go command of the repository
        (``cmd/<name>``) is that command's service; whether it was."""
        builder = self._go_builder(name, [name], image)
        if builder is None:
            return False
        builder.add(
            aliases=service.aliases, evidence=service.evidence, ports=service.ports, env=service.env
        )
        return True

    def _go_builder(self, name: str, names: Iterable[str], image: str | None) -> _Builder | None:
        """The service of a deployed image named like a Go command of the repository: the
        one already rooted at its folder (deployed under another name elsewhere), or a new
        one."""
        root = self._go_command_root(names, image or "")
        if root is None:
            return None
        builder = next((b for b in self.builders.values() if b.root == root), None)
        if builder is None:
            builder = self._builder(name, root)
        else:
            builder.add(aliases=[name])
        builder.add(evidence=[f"{root} holds the Go main package of {name} (image {image})"])
        return builder

    def read_other(self, rel: str) -> str | None:
        """Text of a listed source file in another language (None if unreadable), quietly:
        it is read for what it serves, not scanned."""
        data = self._read_other_bytes(rel)
        return None if data is None else data.decode("utf-8", "replace")

    def _read_other_bytes(self, rel: str) -> bytes | None:
        if rel in self._other_bytes:
            return self._other_bytes[rel]
        data: bytes | None = None
        try:
            # listed files only: the listing never holds a link out of the tree
            data = read_regular(os.path.join(self._root_real, rel), MAX_OTHER_FILE_BYTES)
        except (OSError, ReadRefused):
            data = None
        self._other_bytes[rel] = data
        return data

    def _context_root(self, context: str, dockerfile: str | None) -> str:
        """A build context that is not in the tree (a folder renamed since the compose file
        was written) whose Dockerfile is: the Dockerfile's folder stands for it."""
        if context in ("", ".") or (self.root / context).is_dir():
            return context
        if dockerfile is not None and dockerfile in self._deploy:
            return posixpath.dirname(dockerfile) or "."
        return context

    def _compose_by_content(self, rel: str) -> bool:
        """A compose file by another name (``docker_compose/app.yaml``): YAML whose top level
        has ``services:`` with a ``build:`` or ``image:`` under it, and no manifest keys."""
        if not rel.endswith((".yml", ".yaml")):
            return False
        text = self.read(rel)
        return (
            text is not None
            and _COMPOSE_SERVICES.search(text) is not None
            and _COMPOSE_BUILD.search(text) is not None
            and _MANIFEST_KEYS.search(text) is None
        )

    def _join_test_runs(self, parsed_files: list[ComposeFile]) -> None:
        """A service only a test profile starts (``profiles: [test]``) built from the
        context of a service that runs anyway (``api-unit`` beside ``api``, both from
        ``./api``) is that service run for its tests: one more of its names."""
        test_only = {name for parsed in parsed_files for name in parsed.test_profile}
        for name in sorted(test_only):
            runner = self.builders.get(name)
            if runner is None or not runner.root:
                continue
            others = [
                b
                for b in self.builders.values()
                if b.root == runner.root and b.name not in test_only
            ]
            if len(others) != 1:
                continue
            del self.builders[name]
            others[0].add(aliases=runner.aliases, evidence=runner.evidence)

    def _join_development_twins(self, declared_in: dict[str, set[str]]) -> None:
        """``frontend-dev`` built from the Dockerfile ``frontend`` is built from (another
        target, the sources mounted), in the same compose file or with one of them in a
        test compose file, is ``frontend`` run for development: one more of its names, not
        a second service."""
        for name in sorted(self.builders):
            files = declared_in.get(name, set())
            base_files = declared_in.get(
                next((name.removesuffix(s) for s in _DEVELOPMENT_SUFFIXES if name.endswith(s)), ""),
                set(),
            )
            if not (files & base_files or any(map(_is_test_compose, files | base_files))):
                continue
            twin = self.builders.get(name)
            base_name = next(
                (name.removesuffix(s) for s in _DEVELOPMENT_SUFFIXES if name.endswith(s)), None
            )
            base = self.builders.get(base_name) if base_name else None
            if (
                twin is None
                or base is None
                or base.root != twin.root
                or not set(base.dockerfiles) & set(twin.dockerfiles)
            ):
                continue
            del self.builders[name]
            base.add(aliases=twin.aliases, evidence=twin.evidence, ports=twin.ports, env=twin.env)
            base.command = base.command or twin.command

    def _inherit_builds(self, parsed_files: list[ComposeFile]) -> None:
        """``kernel: extends: {file: docker-compose-base.yml, service: kernel-base}``: the
        service run is ``kernel``, built as ``kernel-base`` is. The base is a template, not a
        service of its own, once a service of another name extends it (unless it is in the
        main compose file, where it runs as well). A service of a test
        compose file (``docker-compose-test.yml``) extending the same base as a service of
        another file, or extending a base that runs in its own right, is that service run
        for tests: one of its names, not a second service."""
        built_in = {
            (parsed.file, service.name) for parsed in parsed_files for service in parsed.services
        }
        by_base: dict[str, list[tuple[ComposeFile, Service]]] = {}
        for parsed in parsed_files:
            for service in parsed.image_services:
                found = parsed.extends.get(service.name)
                if found is None or found not in built_in or found[1] == service.name:
                    continue
                base = self.builders.get(found[1])
                if base is not None and base.root:
                    by_base.setdefault(found[1], []).append((parsed, service))
        for base_name, extenders in by_base.items():
            # a base in the main compose file is a service in its own right (a consumer
            # container extending `emails`); one in a file of bases is a template
            in_main = any(
                _is_main_compose(p.file)
                for p in parsed_files
                if any(s.name == base_name for s in p.services)
            )
            base = self.builders[base_name] if in_main else self.builders.pop(base_name)
            extenders.sort(key=lambda pair: _is_test_compose(pair[0].file))
            # a base that runs in its own right is the service a test file's extender runs
            main: _Builder | None = base if in_main else None
            for parsed, service in extenders:
                is_test = _is_test_compose(parsed.file)
                if main is not None and is_test:
                    main.add(aliases=service.aliases, evidence=service.evidence)
                    continue
                builder = self._builder(service.name, base.root)
                builder.add(
                    evidence=[
                        *service.evidence,
                        f"extends {base_name} ({parsed.extends[service.name][0]})",
                    ],
                    ports=[*service.ports, *base.ports],
                    aliases=service.aliases,
                    env=[*service.env, *base.env],
                )
                _extend_unique(builder.dockerfiles, base.dockerfiles)
                builder.command = builder.command or base.command
                main = main or builder

    def _fold_tasks(self) -> None:
        """Of the services one context builds, those running a test runner or a linter
        (`entrypoint: pytest`, `flake8`) are tasks of the one that serves, one more of its
        names; those running a database server (`CMD ["postgres"]`) are infrastructure."""
        by_root: dict[str, list[_Builder]] = {}
        for builder in self.builders.values():
            if builder.root not in ("", "."):
                by_root.setdefault(builder.root, []).append(builder)
        for group in by_root.values():
            if len(group) < 2:
                continue
            kinds = {b.name: _program_kind(b.command or self._dockerfile_command(b)) for b in group}
            serving = [b for b in group if kinds[b.name] is None]
            if len(serving) != 1:
                continue
            for builder in group:
                kind = kinds[builder.name]
                if kind is None:
                    continue
                del self.builders[builder.name]
                if kind == "task":
                    serving[0].add(aliases=builder.aliases, evidence=builder.evidence)
                else:
                    for alias in builder.aliases:
                        self.infra_hosts.setdefault(alias, "")

    def _narrow_shared_roots(self) -> None:
        """Services built from one shared context own the folder of the module they run.

        ``context: .`` with a Dockerfile per service gives every service the whole tree;
        a worker whose command is ``python -m scripts.workers.submission_worker`` owns
        ``scripts/workers`` instead. A service whose command runs no Python module of the
        tree (a shell script, ``gunicorn``) keeps the context.
        """
        by_root: dict[str, list[_Builder]] = {}
        for builder in self.builders.values():
            if builder.root:
                by_root.setdefault(builder.root, []).append(builder)
        python = set(self.listing.python)
        for root, group in by_root.items():
            if len(group) < 2:
                if root == ".":
                    self._narrow_whole_tree(group[0])
                continue
            # a folder every process copies is their common code, not one process's
            copies = {b.name: self._copied_code_folders(b, root) for b in group}
            alone_by = Counter(next(iter(f)) for f in copies.values() if len(f) == 1)
            copied_by = Counter(folder for folders in copies.values() for folder in folders)
            scripts = self._console_scripts(root)
            for builder in group:
                command = builder.command or self._dockerfile_command(builder)
                entry = self._command_entry(command, root, python, scripts) if command else None
                if entry is None and command and not self._holds_python(root):
                    # A context of Dockerfiles only, whose image installs the package the
                    # repository holds (`pip install fschat`, then `python -m fastchat...`):
                    # the service is rooted at the package, and the file run is its own;
                    # the package around it may be any process's.
                    installed = entry_file(command, ".", python)
                    if installed is not None:
                        builder.root = installed.partition("/")[0] if "/" in installed else "."
                        builder.entries.append(installed)
                        builder.entries_only = True
                        builder.add(evidence=[f"runs {installed} ({command.strip()[:80]})"])
                        continue
                if entry is not None:
                    builder.entries.append(entry)
                served = served_module(command, root, python) if command else None
                if entry is None and served is not None:
                    builder.entries.append(served)
                if entry is None:
                    folder = foreign_script_folder(command, root) if command else None
                    if folder is not None and folder != root:
                        builder.root = folder
                        builder.add(evidence=[f"runs {command.strip()[:80]}"])
                        continue
                    copied = copies[builder.name]
                    if len(copied) == 1 and alone_by[next(iter(copied))] == 1:
                        builder.root = next(iter(copied))
                        builder.add(evidence=[f"its Dockerfile copies {builder.root}/ alone"])
                        continue
                    # of several, the one no other process of the context copies
                    own = sorted(f for f in copied if copied_by[f] == 1)
                    if len(copied) > 1 and len(own) == 1:
                        builder.root = own[0]
                        builder.add(
                            evidence=[f"its Dockerfile copies {own[0]}/, which no other does"]
                        )
                    continue
                folder = posixpath.dirname(entry) or "."
                if folder != root and (root == "." or folder.startswith(root + "/")):
                    builder.root = folder
                    builder.add(evidence=[f"runs {entry} ({command.strip()[:80]})"])

    def _server_modules_beside(self) -> None:
        """Processes of an installed package, each known by the module it runs
        (``python -m fastchat.serve.controller``): the other modules of those modules'
        folders that start a server when run (``fastchat/serve/gradio_web_server.py``,
        run as ``python -m fastchat.serve.gradio_web_server``) are processes of the same
        system that no deployment file names, each a service known by its file. A
        module run as a command-line tool starts no server and is none. One serving
        mostly the paths a deployed process serves (``vllm_worker.py`` beside the
        ``model_worker.py`` compose runs, both answering ``/worker_generate``) is another
        implementation of that process: one more file it runs. A module there defining an
        application with routes of its own (``app = FastAPI()`` and ``@app.get(...)``)
        that no process runs or imports is served on its own (``uvicorn
        fastchat.serve.call_monitor:app``): a process too."""
        deployed = [b for b in self.builders.values() if b.entries_only and b.entries]
        beside: dict[str, _Builder] = {}
        for builder in deployed:
            beside.setdefault(posixpath.dirname(builder.entries[0]), builder)
        if not beside:
            return
        serving: dict[str, set[str]] = {}
        for builder in deployed:
            files = {*builder.entries, *self._imported_from(builder.entries, builder.root)}
            serving[builder.name] = {
                route for path in files for route in served_paths(self._read_code(path) or "")
            }
        run = {entry for builder in self.builders.values() for entry in builder.entries}
        #: modules defining an application they do not serve when run -> its paths
        apps: dict[str, set[str]] = {}
        for path in sorted(self.listing.python):
            folder = posixpath.dirname(path)
            sibling = beside.get(folder)
            if (
                sibling is None
                or path in run
                or categorize(path, self.config) is not Category.PRODUCTION
            ):
                continue
            text = self._read_code(path)
            if text is None:
                continue
            paths = served_paths(text)
            if not starts_server(text):
                if paths:
                    apps[path] = paths
                continue
            variant_of = _implemented(paths, deployed, serving)
            if variant_of is not None:
                variant_of.entries.append(path)
                variant_of.add(evidence=[f"{path} serves the paths {variant_of.entries[0]} does"])
                continue
            self._code_process(
                path, f"{path} starts a server when run, beside {sibling.entries[0]}"
            )
        processes = [b for b in self.builders.values() if b.entries_only]
        reached = {
            path
            for builder in processes
            for path in (*builder.entries, *self._imported_from(builder.entries, builder.root))
        }
        for path, paths in apps.items():
            if path not in reached and _implemented(paths, deployed, serving) is None:
                self._code_process(
                    path, f"{path} defines an application that no process runs or imports"
                )

    def _code_process(self, path: str, evidence: str) -> None:
        """A process known from its module: a service named after it, rooted at its folder
        and owning only its file and what it alone reaches."""
        folder = posixpath.dirname(path)
        name = posixpath.splitext(posixpath.basename(path))[0].replace("_", "-")
        if self._find(name) is not None:
            name = f"{posixpath.basename(folder)}-{name}"
            if self._find(name) is not None:
                return
        builder = self._builder(name, folder or ".")
        builder.entries.append(path)
        builder.entries_only = True
        builder.from_code = True
        builder.add(evidence=[evidence])

    def _drop_whole_tree_test_runs(self) -> None:
        """A service only test compose files declare (``docker-compose.test.yml``), built
        from the whole repository to run a test runner (``tox``, also behind a wait-for
        script: ``wait-for-postgres.sh tox``) beside services rooted in folders of their
        own, runs the others' tests: it is no service, and the tree is not its code."""
        if not any(b.root not in ("", ".") for b in self.builders.values()):
            return
        for name, files in sorted(self._declared_in.items()):
            builder = self.builders.get(name)
            if (
                builder is None
                or builder.root != "."
                or not files
                or not all(_is_test_compose(f) for f in files)
            ):
                continue
            command = builder.command or self._dockerfile_command(builder)
            words = [posixpath.basename(w.strip("'\"[],")) for w in command.split()]
            if any(w in _TASK_PROGRAMS for w in words):
                del self.builders[name]

    def _narrow_whole_tree(self, builder: _Builder) -> None:
        """A service built alone from the whole repository whose Dockerfile copies one
        folder of Python code (``COPY src/backend /app``, in any stage: a builder stage's
        code reaches the final one) and no module of the top level (``manage.py``) runs
        that code: it is rooted there, and the rest of the tree (``gitlint/``, ``bin/``) is
        not in its image. Python copied from deeper (a gunicorn configuration under
        ``docker/files/``) is configuration, not code."""
        copied: set[str] = set()
        for rel in builder.dockerfiles:
            text = self.read(rel) if rel in self._deploy else None
            if text is not None:
                copied.update(parse_dockerfile(text, rel).copied_by_any_stage)
        if "." in copied or any("/" not in p and p in self.listing.python for p in copied):
            return
        folders = {p for p in copied if p in self._code_dirs}
        if len(folders) == 1:
            builder.root = folders.pop()
            builder.add(evidence=[f"its Dockerfile copies {builder.root}/ alone"])
            # a Python file copied from elsewhere (a start script, a gunicorn configuration)
            # runs in the image all the same: it is the service's
            python = set(self.listing.python)
            _extend_unique(
                builder.entries,
                sorted(p for p in copied if p in python and not _nested(p, builder.root)),
            )

    def _claim_imports(self) -> None:
        """Processes sharing a folder, each known by the file it runs: a module of the tree
        that one of them imports (directly or through other modules) and none of the
        others does is that one's (``worker_utils.py`` beside three workers, imported by
        one). Left alone when some process of the folder runs nothing known: it may use
        any module there. A module several of them reach is the one's whose file all the
        others import too (they run it as part of themselves); processes a deployment
        file names come first, before those found from their code. The processes of an
        installed package (``entries_only``) share the package, whatever their roots."""
        by_root: dict[str, list[_Builder]] = {}
        for builder in self.builders.values():
            if builder.entries_only:
                by_root.setdefault("", []).append(builder)
            elif builder.root:
                by_root.setdefault(builder.root, []).append(builder)
        groups = [g for g in by_root.values() if len(g) >= 2 and all(b.entries for b in g)]
        if not groups:
            return
        services = [b.build() for b in self.builders.values()]
        run = {entry for builder in self.builders.values() for entry in builder.entries}
        for group in groups:
            reach = {b.name: self._imported_from(b.entries, b.root) for b in group}
            runs = {b.name: set(b.entries) for b in group}
            users: dict[str, list[_Builder]] = {}
            for builder in group:
                for path in reach[builder.name]:
                    users.setdefault(path, []).append(builder)
            names = {b.name for b in group}
            for path, using in sorted(users.items()):
                if path in run:
                    continue
                claimant = _claimant(using, runs, reach)
                if claimant is None:
                    continue
                owner = service_for_path(services, path)
                if owner is None or owner in names:
                    claimant.entries.append(path)

    def _claim_task_modules(self) -> None:
        """A Celery worker (``celery -A proj worker``) sharing its folder with other
        processes runs the task modules Celery discovers there (``tasks.py`` of each
        application): the web process only queues them."""
        by_root: dict[str, list[_Builder]] = {}
        for builder in self.builders.values():
            if builder.root:
                by_root.setdefault(builder.root, []).append(builder)
        run = {entry for builder in self.builders.values() for entry in builder.entries}
        for root, group in by_root.items():
            if len(group) < 2:
                continue
            workers = [
                b
                for b in group
                if any(
                    _is_celery_worker(line)
                    for line in self._command_lines(b.command or self._dockerfile_command(b), root)
                )
            ]
            if len(workers) != 1:
                continue
            for path in self.listing.python:
                if (
                    posixpath.basename(path) == "tasks.py"
                    and (root == "." or path.startswith(root + "/"))
                    and path not in run
                ):
                    workers[0].entries.append(path)

    def _imported_from(self, entries: Iterable[str], root: str) -> set[str]:
        """The Python files of the tree reached by imports from ``entries``."""
        python = set(self.listing.python)
        bases = [root, "."] if root != "." else ["."]
        seen: set[str] = set(entries)
        todo = list(entries)
        while todo and len(seen) < _MAX_IMPORTED:
            path = todo.pop()
            text = self._read_code(path)
            if text is None:
                continue
            for found in imported_files(text, path, python, bases):
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
        return seen - set(entries)

    def _console_scripts(self, root: str) -> dict[str, str]:
        """The console scripts the package at ``root`` declares (name -> module)."""
        found: dict[str, str] = {}
        for name in ("setup.py", "setup.cfg", "pyproject.toml"):
            rel = name if root == "." else f"{root}/{name}"
            text = self.read(rel) if rel in self._deploy else None
            if text is not None:
                found.update(console_scripts(text, rel))
        return found

    def _command_entry(
        self, command: str, root: str, python: set[str], scripts: dict[str, str]
    ) -> str | None:
        """The Python file ``command`` runs: named on it (``python -m``, a console script
        of the package), else named by a shell script of the tree it runs
        (``sh /code/docker/start.sh`` whose last line is ``python -m app.worker``)."""
        for line in self._command_lines(command, root):
            entry = entry_file(line, root, python, scripts)
            if entry is not None:
                return entry
        return None

    def _command_lines(self, command: str, root: str) -> list[str]:
        """``command``, then the commands of the shell scripts of the tree it runs (lines
        continued with ``\\`` joined, comments left out)."""
        lines = [command]
        for written in shell_scripts(command):
            rel = script_in_tree(written, root, self._is_file)
            text = self.read(rel) if rel is not None else None
            joined = (text or "").replace("\\\n", " ")
            lines += [
                line.strip()
                for line in joined.splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
        return lines

    def _is_file(self, rel: str) -> bool:
        return rel in self._deploy or rel in self.listing.python or (self.root / rel).is_file()

    def _copied_code_folders(self, builder: _Builder, root: str) -> frozenset[str]:
        """The folders of Python code the service's Dockerfile copies from the shared
        context (``COPY fastapi_solution /app``, beside files such as ``pyproject.toml``):
        the image holds that code and no other (the caller checks which other processes
        of the context copy them too). None when it copies the whole context."""
        for rel in builder.dockerfiles:
            text = self.read(rel) if rel in self._deploy else None
            if text is None:
                continue
            copied = parse_dockerfile(text, rel).copied
            if "." in copied:
                return frozenset()
            return frozenset(
                path
                for source in copied
                if (path := source if root == "." else f"{root}/{source}") in self._code_dirs
            )
        return frozenset()

    def _holds_python(self, root: str) -> bool:
        if root == ".":
            return bool(self.listing.python)
        return any(p.startswith(root + "/") for p in self.listing.python)

    def _dockerfile_command(self, builder: _Builder) -> str:
        for rel in builder.dockerfiles:
            text = self.read(rel) if rel in self._deploy else None
            if text is not None:
                return parse_dockerfile(text, rel).command
        return ""

    def _from_kubernetes(self) -> None:
        charts = self._chart_dirs()
        workloads: list[Workload] = []
        kube_services: list[KubeService] = []
        config_maps: list[ConfigMap] = []
        for rel in sorted(self._deploy):
            if not rel.endswith((".yml", ".yaml")) or is_compose_file(rel):
                continue
            if _inside_chart(rel, charts):
                # Chart templates are Go templates, not YAML; values files are read below.
                continue
            text = self.read(rel)
            if text is None or not looks_like_manifest(text):
                continue
            from decouple_services.discover.k8s import parse_manifests

            manifests = parse_manifests(text, rel)
            if manifests.diagnostics and "{{" not in text:
                self.diagnostics.extend(manifests.diagnostics)
            workloads.extend(manifests.workloads)
            kube_services.extend(manifests.services)
            config_maps.extend(manifests.config_maps)
        for chart_dir in sorted(charts):
            manifests = self._chart_templates(chart_dir)
            self.diagnostics.extend(manifests.diagnostics)
            workloads.extend(manifests.workloads)
            kube_services.extend(manifests.services)
            config_maps.extend(manifests.config_maps)

        owner: list[_Builder | None] = []
        created: list[int] = []
        before = {id(b) for b in self.builders.values()}
        #: image -> the service a workload running it was found to be
        by_image: dict[str, _Builder] = {}
        for workload in workloads:
            from decouple_services.discover.k8s import resolve_config_refs

            known = self._find_workload(workload)
            # a second workload of the same image (a locust worker beside its master) runs
            # the same code: it is that service, as one named like the image would be
            same_image = next((by_image[i] for i in workload.images if i in by_image), None)
            builder = same_image if known is None else None
            builder = builder or self._match_workload(workload)
            if builder is not None:
                for image in workload.images:
                    by_image.setdefault(image, builder)
            if builder is not None and known is None and builder is not same_image:
                created.append(len(owner))
            owner.append(builder)
            if builder is None:
                image = workload.images[0] if workload.images else ""
                self.infra_hosts.setdefault(workload.name, image)
                continue
            builder.add(
                evidence=[workload.evidence],
                ports=workload.ports,
                env=(*workload.env, *resolve_config_refs(workload, config_maps)),
            )
        for kube_service in kube_services:
            selected = [i for i, w in enumerate(workloads) if kube_service.selects(w)]
            builders = [b for i in selected if (b := owner[i]) is not None]
            if not selected:
                by_name = self._find(kube_service.name)
                builders = [by_name] if by_name is not None else []
            if builders:
                for builder in dict.fromkeys(builders):
                    builder.add(
                        aliases=kube_service.host_aliases(),
                        evidence=[kube_service.evidence],
                        ports=kube_service.ports,
                    )
                continue
            target = kube_service.external_name or next(
                (img for i in selected for img in workloads[i].images), ""
            )
            for alias in kube_service.host_aliases():
                if "*" not in alias:  # a Helm name pattern names a service of code only
                    self.infra_hosts.setdefault(alias, target)
        for i in created:
            # A service first met as a Deployment goes by the name of the one Service in
            # front of it: the host other services call it by. So does a compose service
            # whose name only told it from its namesakes (`users_backend-server`).
            fronts = [k for k in kube_services if k.selects(workloads[i])]
            builder = owner[i]
            if builder is not None and id(builder) in before and builder.name not in self._made_up:
                continue
            if len(fronts) == 1 and builder is not None and fronts[0].name not in self.builders:
                self._rename(builder, fronts[0].name)

    def _chart_templates(self, chart_dir: str) -> Manifests:
        """The objects a chart's templates declare, read as :mod:`helm_templates` does."""
        from decouple_services.discover.helm_templates import ChartTemplate, parse_chart_templates
        from decouple_services.discover.k8s import Manifests

        prefix = "" if chart_dir == "." else chart_dir + "/"
        templates = [
            ChartTemplate(rel, text)
            for rel in sorted(self._deploy)
            if rel.startswith(prefix + "templates/")
            and rel.endswith((".yaml", ".yml"))
            and (text := self.read(rel)) is not None
        ]
        if not templates:
            return Manifests()
        helpers = self.read(f"{prefix}templates/_helpers.tpl")
        return parse_chart_templates(
            templates,
            values_text=self.read(f"{prefix}values.yaml"),
            helpers=[helpers] if helpers is not None else [],
        )

    def _rename(self, builder: _Builder, name: str) -> None:
        del self.builders[builder.name]
        builder.name = name
        _extend_unique(builder.aliases, [name])
        self.builders[name] = builder

    def _find_workload(self, workload: Workload) -> _Builder | None:
        names = [*workload.candidate_names(), *(image_name(i) for i in workload.images)]
        return next((b for n in names if (b := self._find(n)) is not None), None)

    def _match_workload(self, workload: Workload) -> _Builder | None:
        names = list(workload.candidate_names())
        names += [image_name(image) for image in workload.images]
        for name in names:
            builder = self._find(name)
            if builder is not None:
                if builder.root == "":
                    builder.root = self._guess_root(names) or ""
                return builder
        pushed = self._pushed_from(workload.images)
        if pushed is not None:
            return pushed
        built = self._built_from(names)
        if built is not None:
            built.add(evidence=[f"{built.root}/ holds the code of {workload.name}"])
            return built
        beside = self._dockerfile_beside(workload.file)
        code_root = beside or self._guess_root(names)
        if code_root is None:
            # its own name and its image's, not labels such as `component: server`
            image = workload.images[0] if workload.images else ""
            own = [workload.name, *(image_name(i) for i in workload.images)]
            return self._go_builder(workload.name, own, image)
        builder = self._builder(workload.name, code_root)
        if beside is not None:
            builder.add(evidence=[f"{code_root}/Dockerfile builds the image {workload.file} runs"])
        else:
            builder.add(evidence=[f"{code_root}/ holds the code of {workload.name}"])
        return builder

    def _pushed_from(self, images: Iterable[str]) -> _Builder | None:
        """The service whose folder a CI workflow builds a workload's image from
        (``context: ./payment`` with ``tags: ltroin/user:latest``)."""
        if self._image_contexts is None:
            self._image_contexts = {}
            for rel in sorted(p for p in self._deploy if is_workflow(p)):
                text = self.read(rel)
                if text is not None:
                    for image, folder in image_contexts(text, rel).items():
                        self._image_contexts.setdefault(image, (folder, rel))
        for image in images:
            folder, rel = self._image_contexts.get(image_name(image), ("", ""))
            owners = [b for b in self.builders.values() if folder and b.root == folder]
            if len(owners) == 1:
                owners[0].add(evidence=[f"{rel} builds {image_name(image)} from {folder}/"])
                return owners[0]
        return None

    def _built_from(self, names: Iterable[str]) -> _Builder | None:
        """The compose service built from the one code folder named like a workload (the
        Deployment ``frontend`` of the code compose builds from ``shop/frontend`` as
        ``server``): the same program, deployed twice."""
        wanted: set[str] = set()
        for name in names:
            wanted |= {name, name.replace("-", "_"), name.replace("_", "-")}
        folders = {
            b.root
            for b in self.builders.values()
            if b.root not in ("", ".") and posixpath.basename(b.root) in wanted
        }
        if len(folders) != 1:
            return None
        root = folders.pop()
        sharing = [b for b in self.builders.values() if b.root == root]
        return max(
            sharing, key=lambda b: (bool(b.ports), b.name.rpartition("-")[2] in _SERVER_NAMES)
        )

    def _dockerfile_beside(self, manifest: str) -> str | None:
        """The folder of the one Dockerfile kept with a manifest (``locust/k8s/master.yaml``
        beside ``locust/image/Dockerfile``): the nearest folder above the manifest, short of
        the repository itself, that holds Dockerfiles, when it holds exactly one, beside
        Python code, that no service has yet. A top-level ``k8s/`` folder deploying
        every service finds no such folder."""
        taken = [b.root for b in self.builders.values() if b.root not in ("", ".")]
        folder = posixpath.dirname(manifest)
        while folder:
            built = {
                posixpath.dirname(p)
                for p in self._deploy
                if p.startswith(folder + "/") and is_dockerfile(posixpath.basename(p))
            }
            if built:
                if len(built) > 1:
                    return None
                found = built.pop()
                if found not in self._code_dirs or any(
                    found == r or _nested(found, r) or _nested(r, found) for r in taken
                ):
                    return None
                return found
            folder = posixpath.dirname(folder)
        return None

    def _from_helm(self) -> None:
        for chart_dir in sorted(self._chart_dirs()):
            prefix = "" if chart_dir == "." else chart_dir + "/"
            chart_name = self._chart_name(chart_dir)
            values_files = sorted(
                p
                for p in self._deploy
                if p.startswith(prefix)
                and "/" not in p[len(prefix) :]
                and posixpath.basename(p).startswith("values")
                and p.endswith((".yaml", ".yml"))
            )
            for rel in values_files:
                text = self.read(rel)
                if text is None:
                    continue
                from decouple_services.discover.k8s import parse_helm_values

                values = parse_helm_values(text, rel, chart_name)
                self.diagnostics.extend(values.diagnostics)
                for workload in values.workloads:
                    names = [workload.name] + (
                        [image_name(workload.image)] if workload.image else []
                    )
                    builder = next((b for n in names if (b := self._find(n)) is not None), None)
                    if builder is None:
                        code_root = self._guess_root(names)
                        if code_root is not None:
                            builder = self._builder(workload.name, code_root)
                            builder.add(
                                evidence=[f"{code_root}/ holds the code of {workload.name}"]
                            )
                        else:
                            builder = self._go_builder(workload.name, names, workload.image)
                        if builder is None:
                            self.infra_hosts.setdefault(workload.name, workload.image or "")
                            continue
                    builder.add(
                        evidence=[workload.evidence], env=workload.env, ports=workload.ports
                    )

    def _chart_dirs(self) -> set[str]:
        return {
            posixpath.dirname(p) or "."
            for p in self._deploy
            if posixpath.basename(p) == "Chart.yaml"
        }

    def _chart_name(self, chart_dir: str) -> str:
        rel = "Chart.yaml" if chart_dir == "." else f"{chart_dir}/Chart.yaml"
        text = self.read(rel)
        if text is not None:
            from decouple_services.discover import _yaml

            documents, error = _yaml.compose_documents(text, rel, "helm-chart-invalid")
            if error is not None:
                self.diagnostics.append(error)
            name = _yaml.scalar(_yaml.get(documents[0], "name")) if documents else None
            if name:
                return name
        return posixpath.basename(chart_dir) if chart_dir != "." else self.root.resolve().name

    def _from_bazel_binaries(self) -> None:
        """A Bazel ``cc_binary``/``go_binary`` that a Dockerfile ships (copies from its
        build stage, or runs) is a service named after the target, rooted at its ``BUILD``
        folder, with the Dockerfile's ports."""
        targets: dict[str, tuple[str, int]] = {}
        for rel in self.listing.other:
            if rel.rpartition("/")[2] not in ("BUILD", "BUILD.bazel"):
                continue
            data = self._read_other_bytes(rel)
            if data is None or b"_binary(" not in data:
                continue
            for name, line in bazel_binaries(data.decode("utf-8", "replace")):
                targets.setdefault(name, (rel, line))
        if not targets:
            return
        claimed = {d for b in self.builders.values() for d in b.dockerfiles}
        for rel in sorted(self._deploy):
            if not is_dockerfile(posixpath.basename(rel)) or rel in claimed:
                continue
            text = self.read(rel)
            if text is None:
                continue
            for binary in parse_dockerfile(text, rel).binaries:
                if binary not in targets:
                    continue
                build, line = targets[binary]
                root = posixpath.dirname(build) or "."
                builder = self._find(binary) or next(
                    (b for b in self.builders.values() if b.root == root), None
                )
                if builder is None:
                    builder = self._builder(binary, root)
                elif builder.root == "":
                    builder.root = root
                builder.add(evidence=[f"{build}:{line} builds {binary}, shipped by {rel}"])
                _extend_unique(builder.dockerfiles, [rel])

    def _from_markers(self) -> None:
        found_before = self.among_others or any(b.root != "" for b in self.builders.values())
        # A Dockerfile that a compose build names belongs to that service, wherever it is.
        built_with = {posixpath.dirname(d) for b in self.builders.values() for d in b.dockerfiles}
        marker_dirs = find_marker_dirs(self._all_paths)
        # a package's metadata alone (`setup.py`, `pyproject.toml`) beside deployed folders
        # (a Dockerfile's) is a library they share or an SDK for their users
        deployed = any(
            m.is_strong and m.directory != "." and self._may_be_service_dir(m.directory)
            for m in marker_dirs
        )
        for marker_dir in marker_dirs:
            directory = marker_dir.directory
            if deployed and all(m in PACKAGE_METADATA for m in marker_dir.markers):
                continue
            if directory == "." or not self._may_be_service_dir(directory):
                continue
            if directory in built_with and all(is_dockerfile(m) for m in marker_dir.markers):
                continue
            roots = [b.root for b in self.builders.values() if b.root not in ("", ".")]
            # A marker inside a known service is part of it; a directory holding known
            # services groups them rather than being one.
            if any(directory == r or _nested(directory, r) or _nested(r, directory) for r in roots):
                continue
            if found_before and not marker_dir.is_strong:
                continue
            if all(is_dockerfile(m) for m in marker_dir.markers) and self._programs_built_in(
                directory, marker_dir.markers
            ):
                continue
            name = posixpath.basename(directory)
            if name in self.builders:
                name = directory.replace("/", "-")
            builder = self._builder(name, directory)
            builder.add(evidence=[f"{directory}/{m} marker file" for m in marker_dir.markers])

    def _programs_built_in(self, directory: str, dockerfiles: Sequence[str]) -> bool:
        """A folder of Dockerfiles and no code (``docker/Dockerfile``,
        ``docker/Dockerfile.sidecar``) builds images from the repository: each is the
        program its command runs out of what it copies (``COPY src/ src/`` with the
        package's console script, ``COPY scripts/downloader.py .`` with ``uvicorn
        downloader:app``), the service already holding that file or one rooted at its
        folder and named after the Dockerfile (``sidecar``) or that folder. False, and
        nothing added, when the folder holds code or a Dockerfile runs nothing of the
        tree."""
        if directory in self._code_dirs or self._holds_python(directory):
            return False
        programs: list[tuple[str, str, DockerfileFacts]] = []
        for name in dockerfiles:
            rel = f"{directory}/{name}"
            text = self.read(rel) if rel in self._deploy else None
            facts = parse_dockerfile(text, rel) if text is not None else None
            entry = self._program_copied(facts) if facts is not None else None
            if facts is None or entry is None:
                return False
            programs.append((rel, entry, facts))
        for rel, entry, facts in programs:
            holders = [
                b
                for b in self.builders.values()
                if b.root != "" and (b.root == "." or entry.startswith(b.root + "/"))
            ]
            if holders:
                builder = max(holders, key=lambda b: len(b.root))
            else:
                own = _dockerfile_suffix(posixpath.basename(rel))
                folder = posixpath.dirname(entry)
                name = own or posixpath.basename(folder) or posixpath.splitext(entry)[0]
                if name in self.builders:
                    name = f"{posixpath.basename(directory)}-{name}"
                builder = self._builder(name, folder or ".")
            _extend_unique(builder.entries, [entry])
            builder.add(evidence=[f"{rel} runs {entry}"], ports=facts.ports, env=facts.env)
        return True

    def _program_copied(self, facts: DockerfileFacts) -> str | None:
        """The Python file of the tree an image runs, among what it copies from the
        repository: a module or console script its command names (``src/`` copied, the
        package found there), or a file it copies alone and names (``COPY
        scripts/downloader.py .`` run as ``downloader:app``)."""
        copied = [c for c in facts.copied if c != "." and not c.startswith(".")]
        if not copied or "." in facts.copied:
            return None
        try:
            command = " ".join(shlex.split(facts.command))  # `sh -c "..."` read as words
        except ValueError:
            return None
        python = set(self.listing.python)
        scripts = self._console_scripts(".")
        for context in (".", *(c for c in copied if c in self._code_dirs or c == "src")):
            entry = entry_file(command, context, python, scripts) or served_module(
                command, context, python
            )
            if entry is not None and any(entry == c or entry.startswith(c + "/") for c in copied):
                return entry
        for source in copied:
            stem = posixpath.splitext(posixpath.basename(source))[0]
            if source in python and re.search(
                rf"(?<![\w/.-]){re.escape(stem)}(?:\.py\b|:\w|\s|$)", command
            ):
                return source
        return None

    def _root_at_imported_code(self) -> None:
        """A service whose folder holds one Python file, the program its image runs
        (``cmd/suggestion/hyperopt/main.py`` beside its Dockerfile), and whose Dockerfile
        copies code of the rest of the repository (``ADD ./pkg/ /opt/app/pkg/``): the
        folder of the modules that program alone imports (``pkg/suggestion/hyperopt``,
        where its servicer is), outside every other service, is its code and its root; the
        program stays its own."""
        roots = [b.root for b in self.builders.values() if b.root not in ("", ".")]
        thin: dict[str, tuple[_Builder, str]] = {}
        for builder in self.builders.values():
            # a Dockerfile no compose file builds is built from the repository's root (`docker
            # build -f cmd/ranker/Dockerfile .`): the paths it copies are the repository's
            if builder.root in ("", ".") or builder.dockerfiles:
                continue
            inside = [p for p in self.listing.python if _nested(p, builder.root)]
            if len(inside) == 1:
                thin[builder.name] = (builder, inside[0])
        reach = {
            name: {
                p
                for p in self._imported_from([entry], ".")
                if not any(_nested(p, r) for r in roots)
            }
            for name, (_, entry) in thin.items()
        }
        for name, (builder, entry) in thin.items():
            others = {p for n, files in reach.items() if n != name for p in files}
            own = reach[name] - others
            if not own:
                continue
            folder = posixpath.commonpath([posixpath.dirname(p) for p in own])
            if (
                not folder
                or any(_nested(p, folder) for p in others)
                or any(r == folder or _nested(r, folder) or _nested(folder, r) for r in roots)
            ):
                continue
            dockerfiles = sorted(
                p
                for p in self._deploy
                if posixpath.dirname(p) == builder.root and is_dockerfile(posixpath.basename(p))
            )
            copied = {
                source
                for rel in dockerfiles
                if (text := self.read(rel)) is not None
                for source in parse_dockerfile(text, rel).copied_by_any_stage
            }
            if not any(folder == c or _nested(folder, c) for c in copied if c != "."):
                continue
            builder.dockerfiles = dockerfiles
            builder.entries.append(entry)
            builder.root = folder
            builder.add(evidence=[f"{entry} runs the code of {folder}/, which its image copies"])

    def _may_be_service_dir(self, directory: str) -> bool:
        parts = directory.split("/")
        if any(p.startswith(".") or p in _NOT_SERVICE_DIRS for p in parts):
            return False
        category = categorize(f"{directory}/__main__.py", self.config)
        return category in (Category.PRODUCTION, Category.LOADGEN)

    def _from_server_programs(self) -> None:
        """Without any deployment file or marker naming a service, the programs that start a
        server (``if __name__ == "__main__": web.run_app(app, port=9001)``) are the
        processes the repository runs, examples included (a library's example services are
        the only services it has). Each owns its file; its root is the file's folder."""
        if self.among_others or any(b.root != "" for b in self.builders.values()):
            return
        found: list[str] = []
        for path in self.listing.python:
            parts = path.split("/")
            if any(p.startswith(".") for p in parts) or categorize(path, self.config) in (
                Category.TEST,
                Category.LOADGEN,
            ):
                continue
            if self._starts_server(path):
                found.append(path)
        stems = Counter(posixpath.splitext(posixpath.basename(p))[0] for p in found)
        for path in found:
            stem = posixpath.splitext(posixpath.basename(path))[0]
            directory = posixpath.dirname(path) or "."
            name = stem
            if stems[stem] > 1 or name in self.builders:
                name = posixpath.splitext(path)[0].replace("/", "-")
            builder = self._builder(name, directory)
            builder.entries.append(path)
            builder.add(evidence=[f"{path} starts a server when run"])
        self._programs_apart(found)

    def _programs_apart(self, servers: Sequence[str]) -> None:
        """The other programs of a server program's folder (``minimal.py`` beside
        ``aiohttp_example.py``, each with its own ``__main__`` block) that no server of the
        folder imports: processes of their own, run by hand, not the server's code."""
        by_folder: dict[str, list[str]] = {}
        for path in servers:
            by_folder.setdefault(posixpath.dirname(path) or ".", []).append(path)
        for directory, entries in by_folder.items():
            reached = self._imported_from(entries, directory)
            for path in self.listing.python:
                if (
                    (posixpath.dirname(path) or ".") != directory
                    or path in entries
                    or path in reached
                    or categorize(path, self.config) in (Category.TEST, Category.LOADGEN)
                ):
                    continue
                text = self._read_code(path)
                if text is not None and runs_as_program(text):
                    self.apart.add(path)

    def _fallback(self) -> None:
        if self.among_others or any(b.root != "" for b in self.builders.values()):
            return
        name = self.root.resolve().name or "repository"
        markers = next(
            (m.markers for m in find_marker_dirs(self._all_paths) if m.directory == "."), ()
        )
        evidence = [f"{m} marker file" for m in markers] or [
            "fallback: no service markers found; the repository is one service"
        ]
        existing = self.builders.get(name)
        if existing is not None:
            existing.root = "."
            existing.add(evidence=evidence)
            return
        self._builder(name, ".").add(evidence=evidence)

    def _dockerfiles(self) -> None:
        for builder in self.builders.values():
            if builder.root == "":
                continue
            in_root = [
                p
                for p in self._deploy
                if (posixpath.dirname(p) or ".") == builder.root
                and is_dockerfile(posixpath.basename(p))
            ]
            declared = builder.dockerfiles or sorted(in_root)
            for rel in declared:
                if rel not in self._deploy:
                    continue
                text = self.read(rel)
                if text is None:
                    continue
                facts = parse_dockerfile(text, rel)
                builder.add(ports=facts.ports, env=facts.env)

    def _service_env_files(self) -> None:
        services = [b.build() for b in self.builders.values()]
        for rel in sorted(self._deploy):
            if not _is_env_file(rel) or rel in self._used_env_files or "/" not in rel:
                continue
            owner = service_for_path(services, rel)
            if owner is None:
                continue
            text = self.read(rel)
            if text is None:
                continue
            parsed = parse_dotenv(text, rel)
            self.diagnostics.extend(parsed.diagnostics)
            self.builders[owner].add(env=parsed.values)

    # -- helpers ------------------------------------------------------------------------------

    def _builder(self, name: str, root: str) -> _Builder:
        builder = self.builders.get(name)
        if builder is None:
            builder = self.builders[name] = _Builder(name, root)
        elif builder.root == "" and root != "":
            # A configured service without a root learns it from compose or a manifest.
            builder.root = root
        return builder

    def _find(self, name: str) -> _Builder | None:
        """A known service by name, else by alias."""
        if name in self.builders:
            return self.builders[name]
        for builder in self.builders.values():
            if name in builder.aliases:
                return builder
        return None

    def _guess_root(self, names: Iterable[str]) -> str | None:
        """A code directory named like the service (``src/frontend`` for ``frontend``)."""
        wanted: set[str] = set()
        for name in names:
            wanted |= {name, name.replace("-", "_"), name.replace("_", "-")}
        taken = [b.root for b in self.builders.values() if b.root not in ("", ".")]
        candidates = [
            d
            for d in self._code_dirs
            if posixpath.basename(d) in wanted
            and self._may_be_service_dir(d)
            and not any(_nested(d, r) or d == r for r in taken)
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda d: (d.count("/"), d))


def _dockerfile_suffix(name: str) -> str | None:
    """``sidecar`` of ``Dockerfile.sidecar`` and ``sidecar.Dockerfile``."""
    if name.startswith("Dockerfile."):
        return name.removeprefix("Dockerfile.") or None
    for end in (".Dockerfile", ".dockerfile"):
        if name.endswith(end):
            return name.removesuffix(end) or None
    return None


def _implemented(
    paths: set[str], deployed: Sequence[_Builder], serving: dict[str, set[str]]
) -> _Builder | None:
    """The one deployed process serving most of ``paths`` (two at least): the server
    answering them is another implementation of it."""
    best: list[_Builder] = []
    best_shared = 1
    for builder in deployed:
        shared = len(paths & serving[builder.name])
        if 2 * shared <= len(paths) or shared < best_shared:
            continue
        if shared > best_shared:
            best, best_shared = [], shared
        best.append(builder)
    return best[0] if len(best) == 1 else None


def _claimant(
    using: Sequence[_Builder], runs: dict[str, set[str]], reach: dict[str, set[str]]
) -> _Builder | None:
    """Of the processes reaching a module, the one it is part of: the only one, else the one
    whose files every other one reaches too; deployed processes before those found from
    their code."""
    candidates = [b for b in using if not b.from_code] or list(using)
    if len(candidates) == 1:
        return candidates[0]
    for builder in candidates:
        if all(
            runs[builder.name] <= reach[other.name] for other in candidates if other is not builder
        ):
            return builder
    return None


def _is_celery_worker(command: str) -> bool:
    """``celery -A proj worker ...`` (also ``python -m celery``)."""
    words = command.split()
    return any(
        posixpath.basename(word) == "celery" and "worker" in words[index + 1 :]
        for index, word in enumerate(words)
    )


def _is_main_compose(rel: str) -> bool:
    """``docker-compose.yml``, ``compose.yaml``: the file ``docker compose up`` reads."""
    return posixpath.basename(rel) in {
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yml",
        "compose.yaml",
    }


def _is_test_compose(rel: str) -> bool:
    """``docker-compose-test.yml``, ``compose.tests.yaml``: a setup to run the tests in."""
    name = posixpath.basename(rel).lower()
    return any(
        word in ("test", "tests", "testing", "ci", "e2e") for word in re.split(r"[-_.]", name)
    )


def _is_test_path(rel: str, config: Config) -> bool:
    directories = rel.split("/")[:-1]
    if any(d in _TEST_DATA_DIRS for d in directories):
        return True
    return categorize(rel, config) is Category.TEST


def _directories_with_code(python_files: Iterable[str]) -> set[str]:
    dirs: set[str] = set()
    for path in python_files:
        directory = posixpath.dirname(path)
        while directory and directory not in dirs:
            dirs.add(directory)
            directory = posixpath.dirname(directory)
    return dirs


#: Name endings of a service run for development beside the one deployed.
_DEVELOPMENT_SUFFIXES = ("-development", "-dev", "_dev", "-local")

#: Programs a development task runs: tests and linters, not a deployed process.
_TASK_PROGRAMS = frozenset(
    {"pytest", "py.test", "tox", "nox", "flake8", "pylint", "mypy", "ruff", "black", "isort"}
)
#: Database servers a Dockerfile of the repository may run on a base image.
_DATABASE_PROGRAMS = frozenset(
    {"postgres", "postgresql", "mysqld", "mariadbd", "mongod", "redis-server"}
)


def _program_kind(command: str) -> str | None:
    """``task`` for a test runner or linter, ``database`` for a database server, else
    None (``python -m pytest`` is pytest)."""
    words = [w.strip("'\"[],") for w in command.split()]
    words = [w for w in words if w]
    if len(words) >= 3 and posixpath.basename(words[0]).startswith("python") and words[1] == "-m":
        words = words[2:]
    program = posixpath.basename(words[0]) if words else ""
    if program in _TASK_PROGRAMS:
        return "task"
    if program in _DATABASE_PROGRAMS:
        return "database"
    return None


def _apart(root: str, other: str) -> bool:
    """Two code roots neither of which holds the other."""
    if root in ("", ".") or other in ("", "."):
        return False
    return root != other and not _nested(root, other) and not _nested(other, root)


def _nested(path: str, root: str) -> bool:
    """Whether ``path`` lies strictly inside ``root``."""
    return path.startswith(root + "/")


def _inside_chart(rel: str, charts: set[str]) -> bool:
    for chart in charts:
        prefix = "" if chart == "." else chart + "/"
        if rel.startswith(prefix):
            rest = rel[len(prefix) :]
            if (
                rest.startswith(("templates/", "charts/"))
                or rest == "Chart.yaml"
                or ("/" not in rest and posixpath.basename(rest).startswith("values"))
            ):
                return True
    return False


def _is_env_file(rel: str) -> bool:
    name = posixpath.basename(rel)
    return name == ".env" or name.endswith(".env") or name.startswith(".env.")


def _squash(name: str) -> str:
    """``event-ingester`` and ``eventingester`` are one name."""
    return name.lower().replace("-", "").replace("_", "")


def _is_library_image(image: str) -> bool:
    """``postgres:16``, ``docker.io/library/redis``: an official image, never this
    repository's code."""
    name = image.split("@", 1)[0]
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        name = head
    name = name.removeprefix("docker.io/").removeprefix("library/")
    return "/" not in name


def _gateway_aliases(parsed_files: list[ComposeFile], name: str) -> list[str]:
    """The host names a compose service answers to in every compose file declaring it."""
    aliases: list[str] = []
    for parsed in parsed_files:
        for service in parsed.image_services:
            if service.name == name:
                _extend_unique(aliases, service.aliases)
    return aliases
