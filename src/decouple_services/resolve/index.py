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
from functools import lru_cache
from typing import Any

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import EnvValue, Service
from decouple_services.detect.facts import BASES, Constant, FileFacts, FunctionInfo, GrpcMethod
from decouple_services.detect.values import Obj, Ref, Value

#: A url whose host is an IPv4 address literal.
_ADDRESS_HOST = lazy_pattern(
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
    #: The tables of an earlier index of the same scan, brought up to date with ``facts``
    #: instead of being built again from every file (:class:`IndexTables`).
    prebuilt: IndexTables | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.prebuilt is not None:
            tables = self.prebuilt.update(self.facts)
            # copies of the tables (their lists shared: nothing changes a list in place)
            self.constants = defaultdict(list, tables["constants"])
            self.functions = defaultdict(list, tables["functions"])
            self.settings = defaultdict(list, tables["settings"])
            self.constructions = defaultdict(list, tables["constructions"])
            self.grpc_methods = dict(tables["grpc_methods"])
            self.settings_classes = dict(tables["settings_classes"])
            #: the table this index's functions were copied from (see ``table``)
            self._functions: dict[Any, Any] = tables["functions"]
        else:
            self._fill()
        self.services_by_name = {s.name: s for s in self.services}
        self._classes_filled = False

    def _fill(self) -> None:
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

    def table(self, name: str) -> dict[Any, Any]:
        """One of the index's tables by name, filled if it is filled on first use."""
        if name == "classes" and not self._classes_filled:
            self._classes_filled = True
            classes = (
                _classes_of(self.facts)
                if self.prebuilt is None
                else self.prebuilt.classes(self._functions, self.facts)
            )
            dict.update(self.classes, classes)
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

    def constructions_of(
        self, qualname: str, keyword: str | None = None
    ) -> list[tuple[str, Constant]]:
        """The objects of the class ``qualname`` the tree builds, under the name it is
        imported by or, when the import has more package in front than the scan gives the
        module (``pkg.app.commands.Cmd`` for ``commands.py`` scanned as ``commands``), the
        longest tail of it the scan knows. ``keyword``: the field the caller reads of them,
        only ever given by keyword (an index parsing on demand looks for the objects in the
        files passing it)."""
        parts = qualname.split(".")
        for start in range(len(parts) - 1):
            found: list[tuple[str, Constant]] = self.constructions.get(".".join(parts[start:]), [])
            if found:
                return found
        return []

    def objects_of(self, qualname: str) -> list[tuple[str, Constant]]:
        """The objects the tree builds of the class ``qualname`` as the scan names it."""
        return self.constructions.get(qualname, [])

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
            named = [e for e in declared if _ADDRESS_HOST().search(e.value) is None]
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


#: The index's tables made of lists of ``(path, definition)``, and those of one value.
_LISTS = ("constants", "functions", "settings", "constructions")
_SINGLES = ("grpc_methods", "settings_classes")


class IndexTables:
    """The index's tables, kept between the indexes of one scan: on-demand parsing and the
    helper passes build an index for every round of resolution (eight on a large tree),
    each over a few more files than the last. :meth:`update` brings them up to date with
    the files whose facts changed since (compared by identity) and gives the tables a
    :class:`ProjectIndex` built from every file would hold, in the same order: a table's
    lists and keys in the order of the files, and within a file in the order of its
    definitions."""

    def __init__(self) -> None:
        self._facts: list[FileFacts] | None = None
        self._rank: dict[str, int] = {}
        #: path -> the facts and what they add to each table of lists, (key, entry) in
        #: order: made when an update first needs them (:meth:`_parts_for`)
        self._parts: dict[str, tuple[FileFacts, dict[str, list[tuple[Any, tuple[str, Any]]]]]] = {}
        self._tables: dict[str, dict[Any, Any]] = {}
        #: the ``classes`` table, and the functions table it was made with
        self._classes: tuple[dict[Any, Any], dict[str, tuple[str, ...]]] | None = None

    def update(self, facts: Sequence[FileFacts]) -> dict[str, dict[Any, Any]]:
        previous = self._facts
        self._facts = list(facts)
        if previous is None or [f.path for f in previous] != [f.path for f in facts]:
            self._build()
            return self._tables
        changed = [
            i for i, (old, new) in enumerate(zip(previous, facts, strict=True)) if old is not new
        ]
        if not changed:
            return self._tables
        paths = {facts[i].path for i in changed}
        singles = any(
            previous[i].grpc_methods
            or previous[i].settings_classes
            or facts[i].grpc_methods
            or facts[i].settings_classes
            for i in changed
        )
        touched: dict[str, set[Any]] = {name: set() for name in _LISTS}
        for i in changed:
            for name, part in self._parts_for(previous[i]).items():
                touched[name].update(key for key, _ in part)
        #: table -> key -> the changed files' entries, in the files' order
        added: dict[str, dict[Any, list[tuple[str, Any]]]] = {name: {} for name in _LISTS}
        for i in changed:
            for name, part in self._parts_for(facts[i]).items():
                into = added[name]
                for key, entry in part:
                    into.setdefault(key, []).append(entry)
        for name in _LISTS:
            new_entries = added[name]
            if not touched[name] and not new_entries:
                continue  # the same table (what :meth:`classes` and digests of it rely on)
            table = self._tables[name] = dict(self._tables[name])
            keys_changed = False
            for key in touched[name] | new_entries.keys():
                kept = [e for e in table.get(key, []) if e[0] not in paths]
                kept.extend(new_entries.get(key, ()))
                kept.sort(key=lambda entry: self._rank[entry[0]])
                if kept:
                    # a key is inserted where its first definition is: reordered when that
                    # is new
                    before = table.get(key)
                    keys_changed = keys_changed or before is None or before[0] is not kept[0]
                    table[key] = kept
                elif key in table:
                    keys_changed = True
                    del table[key]
            if keys_changed:
                # keys in the order a full build inserts them: of the files, then their own
                order = dict.fromkeys(
                    key for f in facts for key, _ in self._parts_for(f).get(name, ())
                )
                self._tables[name] = {key: table[key] for key in order}
        if singles:
            self._singles()
        return self._tables

    def classes(
        self, functions: dict[Any, Any], facts: Sequence[FileFacts]
    ) -> dict[str, tuple[str, ...]]:
        """The ``classes`` table of ``facts``, whose functions table :meth:`update` gave
        as ``functions``: made again only when a file's functions changed (the functions
        table is then another)."""
        if self._classes is None or self._classes[0] is not functions:
            self._classes = (functions, _classes_of(facts))
        return self._classes[1]

    def _parts_for(self, facts: FileFacts) -> dict[str, list[tuple[Any, tuple[str, Any]]]]:
        """What ``facts`` add to the tables of lists (:func:`_parts_of`), kept while the
        file's facts are the same object."""
        known = self._parts.get(facts.path)
        if known is not None and known[0] is facts:
            return known[1]
        parts = _parts_of(facts)
        self._parts[facts.path] = (facts, parts)
        return parts

    def _build(self) -> None:
        """The tables from every file, filled as ``ProjectIndex._fill`` fills them: without
        each file's parts (:meth:`_parts_for`), which only an update needs. A rerun after
        an edit resolves once, and building the parts first was half of its index's
        construction (netbox, homeassistant: 2 to 4% of the rerun)."""
        assert self._facts is not None
        self._rank = {f.path: i for i, f in enumerate(self._facts)}
        self._parts = {}
        constants: dict[Any, list[Any]] = {}
        functions: dict[Any, list[Any]] = {}
        settings: dict[Any, list[Any]] = {}
        constructions: dict[Any, list[Any]] = {}
        for f in self._facts:
            path = f.path
            if f.constants:
                django_settings = _is_django_settings_module(f.module)
                for const in f.constants:
                    entry = (path, const)
                    qualname = const.qualname
                    found = constants.get(qualname)
                    if found is None:
                        constants[qualname] = [entry]
                    else:
                        found.append(entry)
                    value = const.value
                    if isinstance(value, Obj) and (value.args or value.kwargs):
                        found = constructions.get(value.type)
                        if found is None:
                            constructions[value.type] = [entry]
                        else:
                            found.append(entry)
                    key: tuple[str, str] | None = None
                    if qualname.startswith("@flask."):
                        key = ("flask", qualname[len("@flask.") :])
                    elif django_settings and qualname.count(".") >= 1:
                        name = qualname.rpartition(".")[2]
                        if name.isupper():
                            key = ("django", name)
                    if key is not None:
                        found = settings.get(key)
                        if found is None:
                            settings[key] = [entry]
                        else:
                            found.append(entry)
            for fn in f.functions:
                found = functions.get(fn.qualname)
                if found is None:
                    functions[fn.qualname] = [(path, fn)]
                else:
                    found.append((path, fn))
        self._tables = {
            "constants": constants,
            "functions": functions,
            "settings": settings,
            "constructions": constructions,
        }
        self._singles()

    def _singles(self) -> None:
        assert self._facts is not None
        grpc: dict[tuple[str, str], GrpcMethod] = {}
        classes: dict[str, str] = {}
        for f in self._facts:
            for g in f.grpc_methods:
                grpc[(g.stub, g.method)] = g
                grpc[(g.servicer, g.method)] = g
            for qualname, prefix in f.settings_classes:
                classes[qualname] = prefix
        self._tables["grpc_methods"] = grpc
        self._tables["settings_classes"] = classes


def _classes_of(facts: Sequence[FileFacts]) -> dict[str, tuple[str, ...]]:
    """The project's classes with a method, by their name in snake case."""
    named: dict[str, set[str]] = defaultdict(set)
    for f in facts:
        for fn in f.functions:
            if fn.is_method:
                cls = fn.qualname.rpartition(".")[0]
                named[snake_case(cls.rpartition(".")[2])].add(cls)
    return {k: tuple(sorted(v)) for k, v in named.items()}


def _parts_of(facts: FileFacts) -> dict[str, list[tuple[Any, tuple[str, Any]]]]:
    """What one file adds to the index's tables of lists, as ``ProjectIndex._fill`` adds
    it."""
    parts: dict[str, list[tuple[Any, tuple[str, Any]]]] = {}
    path = facts.path
    if facts.constants:
        django_settings = _is_django_settings_module(facts.module)
        constants = parts["constants"] = []
        for const in facts.constants:
            entry = (path, const)
            constants.append((const.qualname, entry))
            if isinstance(const.value, Obj) and (const.value.args or const.value.kwargs):
                parts.setdefault("constructions", []).append((const.value.type, entry))
            if const.qualname.startswith("@flask."):
                parts.setdefault("settings", []).append(
                    (("flask", const.qualname[len("@flask.") :]), entry)
                )
            elif django_settings and const.qualname.count(".") >= 1:
                key = const.qualname.rpartition(".")[2]
                if key.isupper():
                    parts.setdefault("settings", []).append((("django", key), entry))
    if facts.functions:
        parts["functions"] = [(fn.qualname, (path, fn)) for fn in facts.functions]
    return parts


def _is_django_settings_module(module: str) -> bool:
    parts = module.split(".")
    return "settings" in parts or parts[-1].endswith("settings")


# remembered: each round's classes table asks again for every class of the tree
@lru_cache(maxsize=65536)
def snake_case(name: str) -> str:
    """``UsersClient`` -> ``users_client``, ``HTTPFetcher`` -> ``http_fetcher``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
