"""What discovery found (``ServiceDiscovery``), and which service owns a file.

Apart from discovery (``discover/services.py``), whose readers of deployment formats a
scan imports only when it runs it: a rerun taking the last scan's discovery
(``app/edits.py``'s ``kept_discovery``) still names each file's service.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import field
from typing import TYPE_CHECKING

from decouple_services.core.model import Diagnostic, EnvValue, Service
from decouple_services.core.records import record

if TYPE_CHECKING:
    from decouple_services.discover.grpc_servers import GrpcServicer
    from decouple_services.discover.nginx import GatewayRoute
    from decouple_services.discover.protos import ProtoService


@record
class ServiceDiscovery:
    """The services of a repository and what else discovery learned on the way."""

    #: Services sorted by name.
    services: tuple[Service, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Host names of infrastructure and of services whose code is elsewhere -> image
    #: (or ExternalName target; ``""`` when unknown).
    infra_hosts: dict[str, str] = field(default_factory=dict, hash=False)
    #: Values from ``.env`` files at the repository root, ``.env`` first.
    global_env: tuple[EnvValue, ...] = ()
    #: Every repo-relative file discovery tried to read (the scan cache's inputs).
    files_read: tuple[str, ...] = field(default=(), compare=False)
    #: Host name of a gateway -> the paths it forwards to other hosts (nginx, HAProxy).
    gateway_routes: dict[str, tuple[GatewayRoute, ...]] = field(default_factory=dict, hash=False)
    #: Infrastructure service name -> the ports compose publishes it on (``localhost:N``).
    infra_ports: dict[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    #: gRPC servicers registered by code in other languages, with the service of each.
    grpc_servicers: tuple[GrpcServicer, ...] = ()
    #: The services the ``.proto`` files declare, with their packages and RPCs.
    proto_services: tuple[ProtoService, ...] = ()
    #: Programs of their own inside a service's folder (a script beside a server program
    #: that neither starts a server nor is imported by it): no part of that service.
    apart: frozenset[str] = frozenset()
    #: Top-level folders of Python code that no service rooted at the whole repository
    #: copies into its image (a linter's plugins beside a Dockerfile copying ``src/``).
    unshipped: frozenset[str] = frozenset()
    #: The listed Python files whose text discovery read or asked about (``Programs``):
    #: discovery depends on no other Python file's content, so an edit to another finds
    #: what it found (``app/pipeline.py`` then does not run it again).
    code_read: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


#: Names a request-serving process usually has, among processes built from one tree.
_SERVER_NAMES = frozenset({"web", "app", "api", "server", "backend", "django", "flask"})


def service_for_path(services: Sequence[Service], path: str) -> str | None:
    """The service owning a repo-relative path: the longest root that contains it.

    Root ``"."`` contains every path; root ``""`` (code kept elsewhere) contains none.
    A file a service's command runs is that service's. Services sharing a root (compose
    ``web`` and ``worker`` built from one directory) are told apart by preferring the one
    named like the directory, then one that listens on a port, then one named as servers
    are (``web``, ``app``, ``api``...), then one whose name another's extends (``loader``
    beside ``ingest-loader``, a variant of it), then the first in ``services``. A service
    known only by the files it runs (``entries_only``) owns those and nothing else of its
    root. For many paths of the same services, :class:`ServiceOwners` answers the same.
    """
    return ServiceOwners(services).owner(path)


class ServiceOwners:
    """:func:`service_for_path` for any number of paths of one sequence of services: the
    services that may own a path are found by its folders, where trying every service for
    every file made a scan of a tree of many services grow with their product (500
    services of 51,000 files: a third of the scan)."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = services
        #: file -> the services running it, and root -> the services it holds (in order)
        self._running: dict[str, list[Service]] = {}
        self._rooted: dict[str, list[int]] = {}
        self._sharing: dict[str, list[Service]] = {}
        for number, service in enumerate(services):
            for entry in service.entries:
                running = self._running.setdefault(entry, [])
                if not running or running[-1] is not service:
                    running.append(service)
            self._sharing.setdefault(service.root, []).append(service)
            if service.root != "" and not service.entries_only:
                self._rooted.setdefault(service.root, []).append(number)

    def owner(self, path: str) -> str | None:
        running = self._running.get(path, [])
        if len(running) == 1:
            return running[0].name
        # several services running one file (one Dockerfile, two compose services) are
        # told apart as services sharing a root are
        if running:
            candidates = [(0, service, running) for service in running]
        else:
            numbers = list(self._rooted.get(".", ()))
            folder, above = path, posixpath.dirname(path)
            while folder:
                numbers.extend(self._rooted.get(folder, ()))
                if above == folder:
                    break  # "/" is its own folder
                folder, above = above, posixpath.dirname(above)
            candidates = []
            for number in sorted(set(numbers)):  # the first in ``services`` wins a tie
                service = self.services[number]
                root = service.root
                if root == ".":
                    candidates.append((0, service, self._sharing[root]))
                elif path == root or path.startswith(root + "/"):  # not "/" for "/a"
                    candidates.append((len(root), service, self._sharing[root]))
        best: Service | None = None
        best_key: tuple[int, bool, bool, bool, bool] | None = None
        for length, service, others in candidates:
            key = (
                length,
                service.name == posixpath.basename(service.root),
                bool(service.ports),
                service.name in _SERVER_NAMES,
                any(_extends_name(other.name, service.name) for other in others),
            )
            if best_key is None or key > best_key:
                best, best_key = service, key
        return best.name if best is not None else None


def _extends_name(name: str, base: str) -> bool:
    """``ingest-loader`` extends ``loader``, and ``loader-slow`` does too."""
    return name != base and (name.endswith("-" + base) or name.startswith(base + "-"))
