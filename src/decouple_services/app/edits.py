"""Edits no part of the last result depends on: the result is reused as it is.

A scan's result depends on a Python file through four things: whether the candidate
prefilter takes it, its facts when it is parsed, the text searches of on-demand parsing
when it is not (words, application slots, helpers' names: ``app/demand.py``), and what
discovery reads of it. A cached scan records, for the whole scan (every round of asking,
endpoints, helpers; the reused resolutions' reads included): every table and key of the
index it looked up, the tables it walked, the text searches it made, the files it parsed
and the discovery it saw (:class:`EditRecord`).

When the only inputs that changed since are Python files, each of them is *neutral* when

- it was parsed as a candidate and still is one, and its facts are the same but for
  functions no lookup asked for (not methods: classes are looked up by their names), no
  helper pass re-read it, and no client is configured (their signatures read every
  function); or
- it was not parsed and still is no candidate, and none of the recorded text searches
  finds it now (its imports unchanged when a helper search followed imports);

and discovery sees what it saw: it read none of them (its other inputs, the listing, the
deployment files and every file it read, are unchanged, so it would read and decide the
same), or, run again, it finds what it found. Then every lookup, search and decision of a
scan would be the one recorded, so the result is the last one (``app/pipeline.py`` stores
it under the new inputs' key). Anything else scans as usual.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decouple_services.app.cache import (
    FORMAT,
    read_cache_json,
    root_file,
    write_cache_json,
)
from decouple_services.app.demand import is_django_settings_module
from decouple_services.core.records import record
from decouple_services.core.stamps import code_version

if TYPE_CHECKING:
    from decouple_services.app.cache import ImportsEntries
    from decouple_services.app.rereads import ImportGraph, KeptGraph, RecordedGraph
    from decouple_services.detect.facts import FileFacts
    from decouple_services.detect.values import Value

#: A text search: of on-demand parsing over unparsed files, ``["words", groups]``,
#: ``["keys", keys]`` (application slots filled), ``["fixtures", [[name, folder]]]`` (test
#: modules under a conftest's folder naming its fixture), ``["built", classes]`` (files
#: that may build an object of one of the classes) or ``["objects", [[qualname,
#: False]]]`` (files that may use a client object); of a helper pass over every file,
#: ``["helpers", [[qualname, is_method]]]``.
Query = list[Any]
#: The kinds of search that follow imports (to files connected to a module).
FOLLOWING_IMPORTS = ("helpers", "objects")


@record(frozen=False, slots=False)
class EditRecord:
    """What one cached scan read, for the scan after it (see the module docstring)."""

    #: The manifest's key of the result this record belongs to.
    result_key: str = ""
    #: Digest of the scan's inputs besides file contents (configuration, options, listing).
    base: str = ""
    #: Index table -> the keys looked up in it (JSON: tuples as lists).
    reads: dict[str, list[Any]] = field(default_factory=dict)
    #: Tables some lookup walked whole.
    walked: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    #: Files parsed (candidates and files asked for), and those a helper pass re-read.
    parsed: list[str] = field(default_factory=list)
    reread: list[str] = field(default_factory=list)
    #: Digest of what discovery found.
    discovery: str = ""
    #: The Python files whose content discovery read (``ServiceDiscovery.code_read``): an
    #: edit to none of them leaves discovery as it was. None: not recorded.
    discovery_code: list[str] | None = None
    #: With helper or client object searches (which follow imports): the tree's packages
    #: (what each file's import targets depend on) and the import graph's answers for the
    #: modules defining them (module -> its files and the files connected to it, a bit per
    #: file of the listing, base64), so that a rerun whose edits keep every file's imports
    #: needs neither (``rereads.RecordedGraph``). None: not recorded.
    packages: list[str] | None = None
    graph: dict[str, list[Any]] | None = None
    #: The files parsed on demand in each helper pass (its rounds of asking), for the next
    #: scan to parse up front in the same pass. None: not recorded.
    passes: list[list[str]] | None = None

    @classmethod
    def load(cls, directory: Path, root: Path) -> EditRecord | None:
        data = read_cache_json(root_file(directory, "edits", root))
        if not (
            isinstance(data, dict)
            and data.get("format") == FORMAT
            and data.get("version") == code_version()
            and data.get("root") == str(root)
            and isinstance(data.get("record"), dict)
        ):
            return None
        raw = data["record"]
        try:
            record = cls(
                result_key=_text(raw["result_key"]),
                base=_text(raw["base"]),
                reads={_text(t): _keys(keys) for t, keys in raw["reads"].items()},
                walked=[_text(t) for t in raw["walked"]],
                queries=[q for q in raw["queries"] if _query_ok(q)],
                parsed=[_text(p) for p in raw["parsed"]],
                reread=[_text(p) for p in raw["reread"]],
                discovery=_text(raw["discovery"]),
                discovery_code=_optional_names(raw.get("discovery_code")),
                packages=_optional_names(raw.get("packages")),
                graph=_optional_graph(raw.get("graph")),
                passes=_optional_passes(raw.get("passes")),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            return None  # a cache file may hold anything: never trusted
        if len(record.queries) != len(raw["queries"]):
            return None
        return record

    def save(self, directory: Path, root: Path) -> None:
        write_cache_json(
            root_file(directory, "edits", root),
            {
                "format": FORMAT,
                "version": code_version(),
                "root": str(root),
                "record": {
                    "result_key": self.result_key,
                    "base": self.base,
                    "reads": self.reads,
                    "walked": self.walked,
                    "queries": self.queries,
                    "parsed": self.parsed,
                    "reread": self.reread,
                    "discovery": self.discovery,
                    "discovery_code": self.discovery_code,
                    "packages": self.packages,
                    "graph": self.graph,
                    "passes": self.passes,
                },
            },
        )

    def keep_graph(
        self, graph: ImportGraph, python: Sequence[str], packages: Iterable[str]
    ) -> None:
        """Keep the packages and ``graph``'s answers for the helpers of the searches
        following imports (see :attr:`graph`)."""
        from decouple_services.app.rereads import RecordedGraph, defining_module

        known = set(graph.files_of)
        modules = {
            module
            for kind, payload in self.queries
            if kind in FOLLOWING_IMPORTS
            for qualname, _ in payload
            if (module := defining_module(qualname, known)) is not None
        }
        kept = RecordedGraph.of(graph, python, sorted(modules)).modules()
        self.packages = sorted(packages)
        self.graph = {
            m: [files, base64.b64encode(bits).decode()] for m, (files, bits) in kept.items()
        }

    def recorded_graph(self, python: Sequence[str]) -> RecordedGraph | None:
        """The import graph's answers kept by :meth:`keep_graph`, for the same listing."""
        from decouple_services.app.rereads import RecordedGraph

        if self.graph is None:
            return None
        size = (len(python) + 7) // 8
        modules = {}
        for module, (files, bits) in self.graph.items():
            try:
                data = base64.b64decode(bits, validate=True)
            except ValueError:
                return None
            if len(data) != size:
                return None
            modules[module] = (files, data)
        return RecordedGraph(python, modules)

    def kept_graph(
        self,
        python: Sequence[str],
        changed: dict[str, tuple[bytes, str, str]],
        entries: ImportsEntries,
        build: Callable[[], ImportGraph],
    ) -> tuple[KeptGraph, list[tuple[str, str, str, bool, frozenset[str]]]] | None:
        """The import graph of a rerun of the same listing whose ``changed`` files (path ->
        content, the digest its imports are kept under in ``entries``, its digest now) changed no
        import of the tree's modules (``rereads.KeptGraph``), with those files' new
        imports for ``entries``; None when the graph must be built again (an import of
        the tree changed, or the last scan kept no answers)."""
        from decouple_services.app.rereads import KeptGraph, import_targets, imports_kept
        from decouple_services.discover.files import module_name

        recorded = self.recorded_graph(python)
        if recorded is None or self.packages is None:
            return None
        files = frozenset(python)
        modules = {path: module_name(path, files)[0] for path in python}
        packages = frozenset(self.packages)
        edits = []
        fresh = []
        for path, (data, before, after) in changed.items():
            module, is_package = module_name(path, files)
            old = entries.get(path, before, module, is_package)
            if old is None:
                return None
            new = import_targets(data, module, is_package, packages)
            edits.append((old, new))
            fresh.append((path, after, module, is_package, new))
        if not imports_kept(edits, modules.values()):
            return None
        return KeptGraph(modules, recorded, build), fresh

    def discovery_code_unread(self, paths: Iterable[str]) -> bool:
        """Whether discovery read none of ``paths`` (False when that is not recorded)."""
        if self.discovery_code is None:
            return False
        read = set(self.discovery_code)
        return not any(p in read for p in paths)

    def read_keys(self, table: str) -> set[Any]:
        return {tuple(k) if isinstance(k, list) else k for k in self.reads.get(table, ())}


def neutral_facts(old: FileFacts, new: FileFacts, record: EditRecord) -> bool:
    """Whether a parsed file's ``new`` facts change nothing the recorded scan read: only
    functions and constants differ (a function appended, and what it returns), none
    looked up; no method (classes are looked up by their names); no constant holding an
    object or naming a definition (client objects and constructions are found among all
    constants), an application slot, a fixture or a Django setting."""
    if replace(old, functions=(), constants=()) != replace(new, functions=(), constants=()):
        return False
    functions = set(old.functions) ^ set(new.functions)
    if functions:
        if "functions" in record.walked or "classes" in record.walked:
            return False
        looked_up = record.read_keys("functions")
        if any(fn.is_method or fn.qualname in looked_up for fn in functions):
            return False
    constants = set(old.constants) ^ set(new.constants)
    if constants:
        if {"constants", "constructions", "settings"} & set(record.walked):
            return False
        if is_django_settings_module(new.module):
            return False
        looked_up = record.read_keys("constants")
        if any(
            c.qualname in looked_up or c.qualname.startswith("@") or _holds_objects(c.value)
            for c in constants
        ):
            return False
    return True


def _holds_objects(value: Value) -> bool:
    """Whether ``value`` holds an object or names a definition, at any depth."""
    from decouple_services.detect.values import encode

    def walk(data: Any) -> bool:
        if isinstance(data, list):
            if data and data[0] in ("O", "R"):
                return True
            return any(walk(item) for item in data)
        return False

    return walk(encode(value))


def found_by_queries(
    path: str,
    queries: Sequence[Query],
    read: Callable[[str], bytes | None],
    graph: Callable[[], ImportGraph | RecordedGraph],
) -> bool:
    """Whether one of the recorded text searches would find the unparsed file ``path``."""
    from decouple_services.app.demand import assigning, building, naming
    from decouple_services.detect.extract import is_test_module

    for kind, payload in queries:
        found: object
        if kind == "words":
            found = naming([path], [tuple(g) for g in payload], read)
        elif kind == "fixtures":
            # a fixture is looked for in the test modules of its conftest's folder only
            found = is_test_module(path) and any(
                (not folder or path.startswith(folder + "/")) and naming([path], [name], read)
                for name, folder in payload
            )
        elif kind == "keys":
            found = assigning([path], payload, read)
        elif kind == "built":
            found = building([path], payload, read)
        else:
            from decouple_services.app.rereads import Helper
            from decouple_services.app.rereads import select as select_rereads

            # a file naming none of a helper's words is never selected for it (a use names
            # them, a held object's too): only the others are asked about, and none of them
            # left needs no import graph, which costs reading every file's imports
            data = read(path) or b""
            helpers = [
                helper
                for helper in (Helper(q, m) for q, m in payload)
                if any(w.encode() in data for w in helper.words)
            ]
            if not helpers:
                continue
            found = select_rereads([path], helpers, graph(), read)
        if found:
            return True
    return False


def words_query(groups: Iterable[str | tuple[str, ...]]) -> Query:
    return ["words", sorted([g] if isinstance(g, str) else list(g) for g in groups)]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _keys(keys: Any) -> list[Any]:
    """Keys of one table as stored: names, or lists of names (tuples)."""
    if not isinstance(keys, list) or not all(
        isinstance(k, str) or (isinstance(k, list) and all(isinstance(p, str) for p in k))
        for k in keys
    ):
        raise TypeError("not a list of keys")
    return keys


def _optional_names(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of names")
    return value


def _optional_passes(value: Any) -> list[list[str]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError("not a list of passes")
    return [names for names in map(_optional_names, value) if names is not None]


def _optional_graph(value: Any) -> dict[str, list[Any]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], list)
        and all(isinstance(p, str) for p in entry[0])
        and isinstance(entry[1], str)
        for entry in value.values()
    ):
        raise TypeError("not a graph")
    return value


def _query_ok(query: Any) -> bool:
    if not (isinstance(query, list) and len(query) == 2 and isinstance(query[1], list)):
        return False
    kind, payload = query
    if kind == "words":
        return all(isinstance(g, list) and all(isinstance(w, str) for w in g) for g in payload)
    if kind in ("keys", "built"):
        return all(isinstance(k, str) for k in payload)
    if kind == "fixtures":
        return all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(p, str) for p in f)
            for f in payload
        )
    if kind in ("helpers", "objects"):
        return all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) and isinstance(h[1], bool)
            for h in payload
        )
    return False
