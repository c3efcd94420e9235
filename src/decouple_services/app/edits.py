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
    from decouple_services.detect.facts import Constant, FileFacts
    from decouple_services.detect.values import Value
    from decouple_services.discover.found import ServiceDiscovery

#: A text search: of on-demand parsing over unparsed files, ``["words", groups]``,
#: ``["keys", keys]`` (application slots filled), ``["fixtures", [[name, folder]]]`` (test
#: modules under a conftest's folder naming its fixture), ``["built", classes]`` (files
#: that may build an object of one of the classes, each a list: its name, then the
#: keyword it must be given, if any) or ``["objects", [[qualname,
#: held]]]`` (files that may use a client object; held: in a variable, not a function
#: returning one); of a helper pass over every file,
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
    #: Each helper pass that learned helpers, in order: the names they are invoked by that
    #: were new, the helpers whose invocations the pass looked for (``[qualname,
    #: is_method]``, in the order it asked) and the files it re-read for them; then a
    #: digest of the last pass's helpers (the scan's). None: not recorded, or the passes
    #: stopped at their limit still learning.
    learned: list[list[Any]] | None = None
    helpers: str | None = None
    #: Of :attr:`reads`, those not made by a file's resolution of its own module's
    #: definitions (what other files and the helper passes read). None: not recorded.
    foreign: dict[str, list[Any]] | None = None
    #: Files edited neutrally since their last resolution -> the cache key of the facts
    #: that resolution was kept under (their calls are the same: ``KeptPasses``).
    resolved_as: dict[str, str] = field(default_factory=dict)

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
                learned=_optional_learned(raw.get("learned")),
                helpers=None if raw.get("helpers") is None else _text(raw["helpers"]),
                foreign=None
                if raw.get("foreign") is None
                else {_text(t): _keys(keys) for t, keys in raw["foreign"].items()},
                resolved_as={_text(p): _text(k) for p, k in raw.get("resolved_as", {}).items()},
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
                    "learned": self.learned,
                    "helpers": self.helpers,
                    "foreign": self.foreign,
                    "resolved_as": self.resolved_as,
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


def neutral_facts(
    old: FileFacts,
    new: FileFacts,
    record: EditRecord,
    objects: list[Constant] | None = None,
) -> bool:
    """Whether a parsed file's ``new`` facts change nothing the recorded scan read: only
    functions and constants differ (a function appended, and what it returns), none
    looked up; no method (classes are looked up by their names); no constant holding an
    object or naming a definition (client objects and constructions are found among all
    constants), an application slot, a fixture or a Django setting. With ``objects``,
    constants holding an object are added to it instead, unless their type's
    constructions were looked up: the caller tells whether they hold a client."""
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
        built = record.read_keys("constructions")
        for c in constants:
            if c.qualname in looked_up or c.qualname.startswith("@"):
                return False
            if _holds_objects(c.value):
                if objects is None or _constructed(c.value, built):
                    return False
                objects.append(c)
    return True


def _constructed(value: Value, looked_up: set[Any]) -> bool:
    """Whether the constructions of ``value``'s type (a table keyed by every dotted tail of
    it: ``resolve.index.ProjectIndex.constructions_of``) were looked up."""
    from decouple_services.detect.values import Obj

    if not isinstance(value, Obj):
        return False
    parts = value.type.split(".")
    return any(".".join(parts[i:]) in looked_up for i in range(len(parts)))


class KeptPasses:
    """The helper passes of the last scan, taken as they were by a rerun after edits that
    change calls and nothing else any lookup read: each pass before the last learns the
    helpers it learned, and the rerun resolves once, in the last pass.

    A helper pass resolves the whole tree to learn the helpers its next pass re-reads the
    tree for (polar: three resolutions, homeassistant four). What a pass learns depends on
    every file's facts, the index built from them and the files parsed on demand in it.
    When the edited files were candidates then and now, no helper pass re-read them, and
    their facts differ only in calls and in functions and constants no lookup of the last
    scan asked for (:func:`neutral_facts`), every other file resolves in each pass as it
    did (the same facts, the same values at every key it reads). The edited files' calls
    then change nothing a pass learns when (checked after the last pass, from the kept
    resolutions of the files before and after: ``app/incremental.py``):

    - the file found no helper, before or after (no request whose host is a parameter);
    - its calls whose host a helper may give (those without a call site of their own),
      are the same, wherever they are in the file;
    - each call it added or removed is no request or a call site of its own, whose host
      is not a mapping's value read at run time (no lookup after it);
    - its resolution asked for nothing the last one did not (no file parsed on demand
      earlier than in the last scan);

    and the rerun parsed no file beyond those the last scan parsed in each pass (but files
    holding nothing resolution reads), and its last pass found the helpers the last
    scan's did.

    An edited file the last scan never parsed (no candidate, asked for by no lookup: it
    gave no pass anything) and that is a candidate now is taken as one whose facts were
    empty: what it defines must be nothing another file's lookups read. Its resolutions
    of the last scan, which the conditions above compare with, are none: instead, in each
    pass before the last, with the files the last scan had parsed by the end of that pass
    (the rerun parses them up front), it is resolved alone
    (``resolve.calls.CallResolver.alone``) and must find no helper of its own, have no
    call without a site of its own that one of that pass's helpers may take, and ask
    for no file the last scan had not parsed by then (but files with no text); in the
    last pass, resolved with the others, it must find no helper of its own. Then each
    pass learns what it learned.

    Otherwise the scan runs again pass by pass (``app/pipeline.py``).
    """

    def __init__(
        self,
        record: EditRecord,
        edited: dict[str, tuple[FileFacts, str]],
        objects: list[Constant],
    ) -> None:
        """``edited``: each edited file's facts in the last scan, and their cache key;
        ``objects``: their constants holding objects added or removed (no client's)."""
        assert record.learned is not None
        self.record = record
        self.learned: list[list[Any]] = record.learned
        self.edited = edited
        self.objects = objects
        #: Of ``edited``, the files the last scan never parsed, which ``app/pipeline.py``
        #: resolves alone in each pass before the last (see the class docstring).
        self.unparsed = {path for path, (_, key) in edited.items() if not key}

    @classmethod
    def of(
        cls,
        record: EditRecord,
        now: dict[str, FileFacts],
        before: Callable[[str], tuple[FileFacts, str, bool] | None],
    ) -> KeptPasses | None:
        """For the edited files' facts ``now`` (path -> facts; each parsed as a candidate),
        given ``before(path)``: the facts of the last scan, their cache key and whether the
        file was a candidate (not asked for a file the last scan never parsed); None when a
        pass may learn otherwise."""
        if (
            record.learned is None
            or record.helpers is None
            or record.foreign is None
            or not record.passes
        ):
            return None
        parsed, reread = set(record.parsed), set(record.reread)
        # a definition the edited file alone read changes its own resolution only, which
        # the check after the last pass compares
        others = replace(record, reads=record.foreign)
        edited = {}
        objects: list[Constant] = []
        for path, new in now.items():
            if path in reread:
                return None
            if path not in parsed:
                from decouple_services.detect.facts import FileFacts as Facts

                # no fact of it was in any pass: taken as a file with none (its key empty)
                old = Facts(path, new.module)
                if not neutral_facts(old, replace(new, calls=()), others, objects):
                    return None
                edited[path] = (old, "")
                continue
            found = before(path)
            if found is None:
                return None
            old, key, candidate = found
            if not candidate or not neutral_facts(
                old, replace(new, calls=old.calls), others, objects
            ):
                return None
            edited[path] = (old, key)
        return cls(record, edited, objects)

    def helpers_of(
        self, number: int
    ) -> tuple[set[str], list[tuple[str, bool]], list[str] | None] | None:
        """What helper pass ``number`` learned (the new names, the helpers to look for, the
        files it re-read for them when kept), or None for the last pass, which is
        resolved."""
        if number >= len(self.learned):
            return None
        names, helpers, *again = self.learned[number]
        return set(names), [(q, m) for q, m in helpers], again[0] if again else None

    def replay(
        self, reads: set[Any], foreign: set[Any], walked: set[str], queries: list[Query]
    ) -> None:
        """Add what the passes taken as they were read and searched (the last scan's, which
        those passes made the same) to this scan's record of it."""
        for table in self.record.reads:
            reads.update((table, key) for key in self.record.read_keys(table))
        assert self.record.foreign is not None
        for table, keys in self.record.foreign.items():
            foreign.update((table, tuple(k) if isinstance(k, list) else k) for k in keys)
        walked.update(self.record.walked)
        for query in self.record.queries:
            if query not in queries:
                queries.append(query)

    def check(
        self,
        wrappers: object,
        parsed_in_rounds: bool,
        entries: Callable[[str], list[dict[str, Any]]],
        current: Callable[[str], tuple[dict[str, Any], Any] | None],
        facts: Callable[[str], FileFacts],
        clients: Callable[[], set[str]],
    ) -> bool:
        """Whether the passes taken as they were are those the rerun would have made (see
        the class docstring): ``wrappers`` the last pass's helpers, ``parsed_in_rounds``
        whether its rounds of asking parsed any file holding something resolution reads,
        ``entries(path)`` the kept resolutions of a file, ``current(path)`` its resolution
        in the last pass (the entry and its decoded result), ``facts(path)`` its facts
        now, ``clients()`` the definitions holding a client object among the scan's facts
        (``app.demand.client_names``)."""
        from decouple_services.app.incremental import SITE_ONE_OF, digest

        if parsed_in_rounds or digest(wrappers_key(wrappers)) != self.record.helpers:
            return False
        if self.objects:
            # an object added or removed that is a client's (found among all constants
            # by the search for its users, which no lookup records): those of the last
            # scan are the objects it searched users of (none searched: no file was left
            # to parse, and none is in the rerun either)
            holding = clients() | {
                qualname
                for kind, payload in self.record.queries
                if kind == "objects"
                for qualname, _ in payload
            }
            if any(c.qualname in holding or c.qualname[:-2] in holding for c in self.objects):
                return False
        for path, (old, key) in self.edited.items():
            new = facts(path)
            # resolved last with the same calls (a neutral edit since keeps the calls)
            key = self.record.resolved_as.get(path, key)
            olds = [e for e in entries(path) if e["key"] == key] if old.calls else []
            if old.calls and not olds:
                return False
            found = current(path) if new.calls else None
            if new.calls and found is None:
                return False
            entry, result = found if found is not None else ({"asks": [], "idle": None}, None)
            for e in (*olds, *([entry] if found is not None else [])):
                if e.get("handed") or any(o is not None and len(o) > 2 for o in e["outcomes"]):
                    return False  # a helper of its own
            if path in self.unparsed:
                # resolved alone in each pass before (``unparsed``); in this one, with
                # the others: what it asked for was parsed in its rounds, its calls
                # without a site gave no helper (the helpers are the last scan's)
                continue
            asks = {tuple(a) for e in olds for a in e["asks"]}
            if not {tuple(a) for a in entry["asks"]} <= asks:
                return False
            if entry.get("idle") is not None:
                idle = {tuple(a) for e in olds if e.get("idle") for a in e["idle"]["asks"]}
                if not {tuple(a) for a in entry["idle"]["asks"]} <= idle:
                    return False
            before = _calls(old.calls, olds[0]["outcomes"] if olds else [])
            after = _calls(new.calls, entry.get("outcomes", []))
            if before is None or after is None or _pending(before) != _pending(after):
                return False
            removed = list(before)
            for i, (call, outcome) in enumerate(after):
                same = next((j for j, (c, _) in enumerate(removed) if c == call), None)
                if same is not None:
                    del removed[same]
                    continue
                if outcome is None:
                    continue  # no request
                # an added request: a call site of its own, with no lookup after it
                site = None if result is None else result.outcomes[i].site
                if site is None or site.one_of is not None:
                    return False
            for _, outcome in removed:
                # a removed request: a call site of its own, looked nothing up after it
                if outcome is not None and not (
                    isinstance(outcome[1], list) and outcome[1][SITE_ONE_OF] is None
                ):
                    return False
        return True


def wrappers_key(wrappers: object) -> object:
    """What :attr:`EditRecord.helpers` is a digest of: the helpers by name."""
    assert isinstance(wrappers, dict)
    return sorted(wrappers.items())


def _unplaced(call: Any) -> Any:
    return replace(call, line=0, end_line=0, col=0)


def _calls(calls: Sequence[Any], outcomes: Sequence[Any]) -> list[tuple[Any, Any]] | None:
    """Each call without its place in the file, with its kept outcome (None: no request;
    else ``[receiver, site, ...]``); None when they do not pair up."""
    if len(outcomes) != len(calls):
        return None
    return [(_unplaced(c), o) for c, o in zip(calls, outcomes, strict=True)]


def _pending(calls: list[tuple[Any, Any]]) -> list[str]:
    """The calls without a call site of their own (a helper's invocation, or nothing),
    with their receivers, in a comparable order."""
    return sorted(repr((c, o[0])) for c, o in calls if o is not None and o[1] is None)


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
            found = building([path], [tuple(c) for c in payload], read)
        else:
            from decouple_services.app.rereads import Helper
            from decouple_services.app.rereads import select as select_rereads

            # a file naming none of a helper's words is never selected for it (a use names
            # them, a held object's too): only the others are asked about, and none of them
            # left needs no import graph, which costs reading every file's imports
            data = read(path) or b""
            # a helper's flag: whether it is a method; a client object's: whether it is held
            # in a variable (`ClientNames.held`), all of them are looked for as functions
            objects = kind == "objects"
            helpers = [
                helper
                for helper in (Helper(q, m and not objects) for q, m in payload)
                if any(w.encode() in data for w in helper.words)
            ]
            if not helpers:
                continue
            held = {q for q, m in payload if m} if objects else frozenset()
            found = select_rereads([path], helpers, graph(), read, objects=held)
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


def _optional_learned(value: Any) -> list[list[Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(step, list)
        and len(step) in (2, 3)
        and _optional_names(step[0]) is not None
        and (len(step) == 2 or _optional_names(step[2]) is not None)
        and isinstance(step[1], list)
        and all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) and isinstance(h[1], bool)
            for h in step[1]
        )
        for step in value
    ):
        raise TypeError("not a list of helper passes")
    return value


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
    if kind in ("words", "built"):
        return all(isinstance(g, list) and all(isinstance(w, str) for w in g) for g in payload)
    if kind == "keys":
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


# --- the last scan's discovery, for a rerun whose edits it read none of ---------------------


def save_discovery(directory: Path, root: Path, discovery: ServiceDiscovery, digest: str) -> None:
    """``discovery`` (found by a scan whose discovery digest is ``digest``) for the reruns
    :func:`kept_discovery` gives it to. Only what the model's records hold is kept: when
    discovery found gateway routes, gRPC servicers or ``.proto`` services, a file naming
    no digest is written instead (discovery then runs again)."""
    from decouple_services.app.cache import encode_model

    path = root_file(directory, "discovery", root)
    if discovery.gateway_routes or discovery.grpc_servicers or discovery.proto_services:
        # written, not removed: every write of the cache asks whether it may (read_only)
        write_cache_json(path, {"format": FORMAT, "digest": None})
        return
    write_cache_json(
        path,
        {
            "format": FORMAT,
            "version": code_version(),
            "root": str(root),
            "digest": digest,
            "services": encode_model(discovery.services),
            "diagnostics": encode_model(discovery.diagnostics),
            "infra_hosts": sorted(discovery.infra_hosts.items()),
            "global_env": encode_model(discovery.global_env),
            "files_read": list(discovery.files_read),
            "infra_ports": sorted([k, list(v)] for k, v in discovery.infra_ports.items()),
            "apart": sorted(discovery.apart),
            "unshipped": sorted(discovery.unshipped),
        },
    )


def kept_discovery(
    directory: Path,
    root: Path,
    record: EditRecord,
    check: Callable[[ServiceDiscovery], str],
) -> ServiceDiscovery | None:
    """The discovery :func:`save_discovery` kept, when it was found by a scan whose
    discovery digest is the ``record``'s and, decoded, gives that digest again
    (``check``), with the Python files the record says discovery read: a
    rerun whose edits discovery read none of, every other input of it unchanged (the
    listing, the deployment files, the files it read), would find it again (polar: its run
    and its modules' imports were a tenth of a rerun after an edit adding a call). None
    otherwise: discovery runs."""
    from decouple_services.app.cache import decode_model
    from decouple_services.core.model import Diagnostic, EnvValue, Service
    from decouple_services.discover.found import ServiceDiscovery

    digest = record.discovery
    if not digest or record.discovery_code is None:
        return None
    data = read_cache_json(root_file(directory, "discovery", root))
    if not isinstance(data, dict) or data.get("digest") != digest:
        return None
    if data.get("format") != FORMAT or data.get("version") != code_version():
        return None
    if data.get("root") != str(root):
        return None
    try:
        services = decode_model(data["services"])
        diagnostics = decode_model(data["diagnostics"])
        global_env = decode_model(data["global_env"])
        if not (
            all(type(s) is Service for s in services)
            and all(type(d) is Diagnostic for d in diagnostics)
            and all(type(e) is EnvValue for e in global_env)
        ):
            return None
        found = ServiceDiscovery(
            services=services,
            diagnostics=diagnostics,
            infra_hosts={str(k): str(v) for k, v in data["infra_hosts"]},
            global_env=global_env,
            files_read=tuple(str(p) for p in data["files_read"]),
            infra_ports={str(k): tuple(int(p) for p in v) for k, v in data["infra_ports"]},
            apart=frozenset(str(p) for p in data["apart"]),
            unshipped=frozenset(str(p) for p in data["unshipped"]),
            # the record's: a rerun that ran discovery again found its digest again, and
            # the files it read then
            code_read=frozenset(record.discovery_code),
        )
    except Exception:  # a cache file may hold anything: discovery runs
        return None
    # everything discovery found but the Python files it read is in the digest
    return found if check(found) == digest else None
