"""The project index: every file's facts, looked up by qualified name, per calling service.

Two services often have modules of the same name (``app.config`` in each), so a lookup from a
call in service A prefers A's definition; a definition from elsewhere is used only when A has
none, and the evidence says where it came from.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from decouple_services.core.model import EnvValue, Service
from decouple_services.detect.facts import BASES, Constant, FileFacts, FunctionInfo, GrpcMethod
from decouple_services.detect.values import Obj, Ref, Value

#: A url whose host is an IPv4 address literal.
_ADDRESS_HOST = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/|$)", re.I
)

#: Base classes searched for an inherited attribute.
_MAX_BASES = 16


@dataclass
class ProjectIndex:
    facts: Sequence[FileFacts]
    services: Sequence[Service]
    service_of: Callable[[str], str | None]
    global_env: Sequence[EnvValue] = ()
    infra_hosts: dict[str, str] = field(default_factory=dict)
    #: Whether a file is a test's (tests/, test_*.py, conftest.py).
    is_test: Callable[[str], bool] = lambda path: False
    constants: dict[str, list[tuple[str, Constant]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    functions: dict[str, list[tuple[str, FunctionInfo]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    grpc_methods: dict[tuple[str, str], GrpcMethod] = field(default_factory=dict)
    settings_classes: dict[str, str] = field(default_factory=dict)
    #: Django settings keys and Flask config keys: (framework, key) -> definitions.
    settings: dict[tuple[str, str], list[tuple[str, Constant]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    #: Class -> the objects of it built where a constant or attribute holds them.
    constructions: dict[str, list[tuple[str, Constant]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: The project's classes (those with a method) by their name in snake case
    #: (``UsersClient`` -> ``users_client``): what a parameter of that name may hold.
    #: Filled on first use (:meth:`table`), in place: an asking index watches it.
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for facts in self.facts:
            django_settings = bool(facts.constants) and _is_django_settings_module(facts.module)
            for const in facts.constants:
                self.constants[const.qualname].append((facts.path, const))
                if isinstance(const.value, Obj) and (const.value.args or const.value.kwargs):
                    self.constructions[const.value.type].append((facts.path, const))
                if const.qualname.startswith("@flask."):
                    self.settings[("flask", const.qualname[len("@flask.") :])].append(
                        (facts.path, const)
                    )
                elif django_settings and const.qualname.count(".") >= 1:
                    key = const.qualname.rpartition(".")[2]
                    if key.isupper():
                        self.settings[("django", key)].append((facts.path, const))
            for fn in facts.functions:
                self.functions[fn.qualname].append((facts.path, fn))
            for g in facts.grpc_methods:
                self.grpc_methods[(g.stub, g.method)] = g
                self.grpc_methods[(g.servicer, g.method)] = g
            for qualname, prefix in facts.settings_classes:
                self.settings_classes[qualname] = prefix
        self.services_by_name = {s.name: s for s in self.services}
        self._classes_filled = False

    def table(self, name: str) -> dict[Any, Any]:
        """One of the index's tables by name, filled if it is filled on first use."""
        if name == "classes" and not self._classes_filled:
            self._classes_filled = True
            named: dict[str, set[str]] = defaultdict(set)
            for facts in self.facts:
                for fn in facts.functions:
                    if fn.is_method:
                        cls = fn.qualname.rpartition(".")[0]
                        named[snake_case(cls.rpartition(".")[2])].add(cls)
            dict.update(self.classes, {k: tuple(sorted(v)) for k, v in named.items()})
        found: dict[Any, Any] = getattr(self, name)
        return found

    def classes_named(self, snake_name: str) -> tuple[str, ...]:
        """The project classes named ``snake_name`` in snake case."""
        found: tuple[str, ...] = self.table("classes").get(snake_name, ())
        return found

    def _defines(self, qualname: str) -> bool:
        """Whether a constant ``qualname`` is defined (an asking index notes it asked)."""
        return qualname in self.constants

    def _pick(
        self, entries: list[tuple[str, Constant]], service: str | None
    ) -> tuple[str, Constant] | None:
        if not entries:
            return None
        if service is not None:
            for path, const in entries:
                if self.service_of(path) == service:
                    return path, const
        return entries[0]

    def constant(self, qualname: str, service: str | None) -> tuple[str, Constant] | None:
        found = self._pick(self.constants.get(qualname, []), service)
        if found is None and "." in qualname and not qualname.endswith(BASES):
            inherited = self._inherited(qualname)
            if inherited is not None:
                found = self._pick(self.constants[inherited], service)
        return found

    def _inherited(self, qualname: str) -> str | None:
        """``Child.base_url`` (or ``Child.url_for()``) defined on a project base class: set
        by ``self.base_url = ...`` in ``BaseTestCase.setUp``, a class attribute of
        ``BaseClient``, returned by its method. The nearest base's, breadth first."""
        owner, _, attr = qualname.rpartition(".")
        queue, seen = [owner], {owner}
        while queue and len(seen) < _MAX_BASES:
            for _, const in self.constants.get(f"{queue.pop(0)}.{BASES}", [])[:1]:
                if not isinstance(const.value, Obj):
                    continue
                for base in const.value.args:
                    if not isinstance(base, Ref):
                        continue
                    for name in self._class_names(base.qualname):
                        if name in seen:
                            continue
                        # asked, not only looked at: the base's module may be unparsed yet
                        if self._defines(f"{name}.{attr}"):
                            return f"{name}.{attr}"
                        seen.add(name)
                        queue.append(name)
        return None

    def _class_names(self, qualname: str) -> list[str]:
        """A base class as imported, and as the scan names its module when the import
        has more package in front (``from app.clients.base import Base`` for
        ``clients/base.py`` in a folder without ``__init__.py``: ``base.Base``)."""
        names = [qualname]
        parts = qualname.split(".")
        for start in range(1, len(parts) - 1):
            tail = ".".join(parts[start:])
            if self._defines(f"{tail}.{BASES}") or f"{tail}.__init__" in self.functions:
                names.append(tail)
                break
        return names

    def imported_name(self, qualname: str) -> str:
        """``qualname`` as the scan names it: itself when defined, else the longest tail
        of it that is (``pkg.app.deps.get_url()`` for ``deps.py`` scanned as the module
        ``deps``: ``deps.get_url()``), for a name imported with more package in front."""
        if self._defines(qualname):
            return qualname
        parts = qualname.split(".")
        for start in range(1, len(parts) - 1):
            tail = ".".join(parts[start:])
            if self._defines(tail):
                return tail
        return qualname

    def constructions_of(self, qualname: str) -> list[tuple[str, Constant]]:
        """The objects of the class ``qualname`` the tree builds, under the name it is
        imported by or, when the import has more package in front than the scan gives the
        module (``pkg.app.commands.Cmd`` for ``commands.py`` scanned as ``commands``), the
        longest tail of it the scan knows."""
        parts = qualname.split(".")
        for start in range(len(parts) - 1):
            found: list[tuple[str, Constant]] = self.constructions.get(".".join(parts[start:]), [])
            if found:
                return found
        return []

    def setting(self, framework: str, key: str, service: str | None) -> tuple[str, Constant] | None:
        return self._pick(self.settings.get((framework, key), []), service)

    def function(self, qualname: str, service: str | None) -> FunctionInfo | None:
        entries = self.functions.get(qualname, [])
        if not entries:
            return None
        if service is not None:
            for path, fn in entries:
                if self.service_of(path) == service:
                    return fn
        return entries[0][1]

    def lookup(self, service: str | None) -> Callable[[str], Value | None]:
        def find(qualname: str) -> Value | None:
            found = self.constant(qualname, service)
            return found[1].value if found else None

        return find

    def env(self, name: str, service: str | None) -> EnvValue | None:
        """A deployment-declared value: the caller's own env first, then the repo's .env."""
        if service is not None and service in self.services_by_name:
            declared = [e for e in self.services_by_name[service].env if e.name == name]
            # compose's `USERS_URL=http://10.0.10.5:8001` (the author's machine) beside a
            # manifest's `http://users-service`: the name is what the deployment calls
            named = [e for e in declared if _ADDRESS_HOST.search(e.value) is None]
            if declared:
                return named[0] if named else declared[0]
            deployed = self._deployed_by(self.services_by_name[service], name)
            if deployed is not None:
                return deployed
        for item in self.global_env:
            if item.name == name:
                return item
        return None

    def _deployed_by(self, service: Service, name: str) -> EnvValue | None:
        """A service no deployment file declares anything for (found by its `manage.py`)
        inside the build context of the services that deploy it (compose's `context: .`):
        their value, when those nearest it agree on one."""
        if service.env or service.root in ("", "."):
            return None
        around = [
            s
            for s in self.services
            if s.env and (s.root == "." or service.root.startswith(s.root + "/"))
        ]
        if not around:
            return None
        nearest = max(len(s.root) if s.root != "." else 0 for s in around)
        values = [
            e
            for s in around
            if (len(s.root) if s.root != "." else 0) == nearest
            for e in s.env
            if e.name == name
        ]
        return values[0] if len({e.value for e in values}) == 1 else None

    def env_everywhere(self, name: str) -> list[EnvValue]:
        """Every value ``name`` is declared with, in any service's deployment files or the
        repository's .env files."""
        found = [e for s in self.services for e in s.env if e.name == name]
        return found + [e for e in self.global_env if e.name == name]


def _is_django_settings_module(module: str) -> bool:
    parts = module.split(".")
    return "settings" in parts or parts[-1].endswith("settings")


def snake_case(name: str) -> str:
    """``UsersClient`` -> ``users_client``, ``HTTPFetcher`` -> ``http_fetcher``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
