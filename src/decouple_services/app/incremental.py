"""Resolution file by file, reused while what it read is unchanged.

Resolving a file's calls (``CallResolver._first_pass``: each call's receiver followed to the
object it names, matched against the detectors, and a matched call rendered into a call
site) reads three kinds of input:

- the file's own calls, the lines ``# decouple: ignore`` skips, its suppressions and
  whether it is load generation (its *key*, a digest of those facts);
- the definitions it looked up in the index, each a table and a key (``constants``
  ``shop.config.USERS_URL``, ``functions`` ``shop.api.get_stub``, ``settings``
  ``("django", "USERS_URL")``...), misses included: recorded as they are made, through the
  same index that records what resolution asks for (``app/demand.py``);
- the scan's global inputs: configuration, services (which service owns a file, every
  lookup prefers its definitions), the configured clients' signatures (*matching*); for a
  file with a call site also the endpoints, host aliases, gateway routes, ports,
  environment values, gRPC servers of other languages and the functions that check their
  request's status (*sites*). Any change there invalidates every file that depends on it.

A file's result is reused when its key, the global inputs it depends on and the value at
every table and key it read are unchanged; then what its lookups asked for is noted again,
so the files parsed on demand are those of a fresh resolution. A file where a helper was
found keeps its helpers with it (``resolve.calls.wrapper_to_json``, checked to come back
equal; a helper that would not is never kept, and its file is resolved again): the
invocations of helpers, which depend on every file's, are found afresh from the first
passes. Looking up helpers when none is known finds none, but asks for definitions too:
those lookups are recorded and replayed the same way (the *idle* part of an entry).

Entries live in memory for the rounds of one scan and in ``sites-<root>.json`` of the cache
between scans (a line per file: a rerun decodes the entries of the files it resolves, and
writes those of the files whose entries it did not change as it read them), a few per file (a file is resolved in several rounds of asking, each with
more definitions parsed). Values are compared through a digest of their ``repr``: frozen
dataclasses of tuples, the same in every process; within a scan a digest is kept with the
value it was made of, while the index keeps that value (``resolve.index.IndexTables``);
between scans a table's list of definitions whose files' facts have the cache keys they
had is the value it was, and takes the digest the last scan made of it (``_origin``).

The text searches of on-demand parsing are reused the same way, file by file
(:class:`SearchMemo`, ``searches-<root>.json``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decouple_services.app.cache import (
    FORMAT,
    read_cache_bytes,
    read_cache_json,
    root_file,
    write_cache_chunks,
    write_cache_json,
)
from decouple_services.app.demand import ANY_TERM, WATCHED_TABLES, Ask, Asked, ask
from decouple_services.core.model import CallSite
from decouple_services.core.records import record
from decouple_services.core.stamps import code_version

if TYPE_CHECKING:
    from decouple_services.detect.facts import FileFacts
    from decouple_services.resolve.calls import FilePass
    from decouple_services.resolve.index import ProjectIndex

#: Entries kept per file: one per round of asking whose definitions differ.
MAX_VARIANTS = 4

Read = tuple[str, Any]


def digest(parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@record(frozen=False, slots=False)
class _Bucket:
    """What one file's resolution read and asked for."""

    reads: set[Read] = field(default_factory=set)
    asks: set[Ask] = field(default_factory=set)
    walked: bool = False
    #: The file's module: what it reads of its own definitions is no other file's input.
    module: str = ""
    #: The clients it asked whether they check their requests' success, and the answers.
    checked: dict[str, bool] = field(default_factory=dict)


class SiteMemo:
    """The resolutions of each file, reused while what they read is unchanged (see the
    module docstring). One per scan; :meth:`context` before each resolution, then the
    resolver drives it (``resolve.calls.ResolutionMemo``), and the index reports its
    lookups to it (``app.demand.Tap``)."""

    def __init__(
        self,
        asked: Asked,
        entries: dict[str, list[dict[str, Any]]] | None = None,
        raw: dict[str, bytes] | None = None,
        origins: dict[str, str] | None = None,
    ):
        self.asked = asked
        #: The last scan's digests of the values its reads found, by their origins (see
        #: :meth:`_origin`), and this scan's.
        self._last_origins: dict[str, str] = origins or {}
        self._origins: dict[str, str] = {}
        #: Path -> its entries, decoded: those given, and those of ``raw`` once asked for.
        self.entries: dict[str, list[dict[str, Any]]] = entries or {}
        #: Path -> its entries as the last scan wrote them (JSON), decoded when the file is
        #: resolved, and written back as they are unless a resolution changed them: a
        #: rerun after one edit changes the entries of a few files of thousands.
        self._raw: dict[str, bytes] = raw or {}
        #: Paths whose entries this scan changed (encoded again when saved).
        self._changed: set[str] = set(self.entries)
        self.matching = ""
        self.sites = ""
        #: The functions checking their requests' success (``start``).
        self._checking: frozenset[str] = frozenset()
        self.sites_base: object = None
        self.index: ProjectIndex | None = None
        self._bucket: _Bucket | None = None
        self._values: dict[Read, str] = {}
        #: The tables of this round's index by name, as its reads found them.
        self._tables: dict[str, dict[Any, Any]] = {}
        #: read -> the value its digest was made of, held (compared by identity), and the
        #: digest: kept between rounds, for values the tables kept
        self._kept: dict[Read, tuple[Any, str]] = {}
        self._keys: dict[int, tuple[FileFacts, str]] = {}
        #: id of an entry -> (the entry, its result decoded)
        self._decoded: dict[int, tuple[dict[str, Any], FilePass]] = {}
        #: id of an entry this scan made -> (the entry, its reads, and the value each
        #: found, held: compared by identity, as ``_kept``)
        self._made: dict[int, tuple[dict[str, Any], list[Read], tuple[Any, ...]]] = {}
        #: Path -> the cache key of the facts the scan holds for it (``extract_all``).
        self.facts_keys: dict[str, str] = {}
        #: Path -> the entry this round's resolution of the file used or made.
        self._current: dict[str, dict[str, Any]] = {}
        self.dirty = False
        #: Every table and key the scan's lookups read, those of reused resolutions
        #: included, and the tables walked whole (``app/edits.py``).
        self.scan_reads: set[Read] = set()
        self.scan_walked: set[str] = set()
        #: Those of the reads not made by a file's resolution of its own module's
        #: definitions (``app/edits.py``'s ``KeptPasses``).
        self.scan_foreign: set[Read] = set()
        #: Files resolved afresh and reused, over the scan (for ``-v``).
        self.fresh = 0
        self.reused = 0

    # -- the scan's global inputs ---------------------------------------------------------

    def context(self, matching: object, sites: object) -> None:
        """The global inputs of the next resolution: what matching depends on, and what
        call sites depend on besides."""
        self.matching = digest([code_version(), matching])
        self.sites_base = sites

    # -- ResolutionMemo -------------------------------------------------------------------

    def start(self, index: ProjectIndex, checking: frozenset[str]) -> None:
        self.index = index
        # which functions check their requests' success is read client by client
        # (``checked``): a round of asking or an edit adding one changes the sites
        # through it alone (polar's rounds found some in each, and resolved every file with
        # a call site again)
        self.sites = digest([self.matching, self.sites_base])
        self._checking = checking
        self._values.clear()
        self._tables.clear()
        self._current.clear()

    def recall(self, facts: FileFacts) -> FilePass | None:
        key = self._key(facts)
        # the newest entry first, decoded alone: it is the one a rerun after an edit
        # elsewhere uses (decoding every kept entry of every file was a tenth of polar's)
        first = self._first(facts.path)
        if first is not None:
            found = self._recall(facts, key, [first])
            if found is not None:
                return found
        return self._recall(facts, key, self.variants(facts.path))

    def _first(self, path: str) -> dict[str, Any] | None:
        """The first of the entries of ``path`` as the last scan wrote them, decoded alone
        (None when the entries are decoded already or it is not well formed)."""
        raw = self._raw.get(path)
        if raw is None or path in self.entries:
            return None
        try:
            entry, _ = _DECODER.raw_decode(raw.decode(), 1)
        except (ValueError, RecursionError, UnicodeDecodeError):
            return None
        return entry if raw[:1] == b"[" and _well_formed(entry) else None

    def _recall(
        self, facts: FileFacts, key: str, variants: Iterable[dict[str, Any]]
    ) -> FilePass | None:
        checking = self._checking
        for entry in variants:
            if (
                entry["key"] != key
                or entry["context"] != self._context(entry["sites"])
                or any((client in checking) is not found for client, found in entry["checked"])
            ):
                continue
            made = self._made.get(id(entry))
            if made is not None and made[0] is entry:
                # made by this scan: its asks are in ``asked`` and its reads among the
                # scan's already, as they were made (a cold scan reuses most files'
                # resolutions from one round of asking to the next: homeassistant 4,400)
                if not self._same(made[1], made[2]) and (
                    self._signature(entry["reads"]) != entry["signature"]
                ):
                    continue
                found = self._decode(entry)
            else:
                if self._signature(entry["reads"]) != entry["signature"]:
                    continue
                try:
                    found = self._decode(entry)
                except Exception:  # a cache file may hold anything: resolved afresh
                    continue
                for item in entry["asks"]:
                    ask(self.asked, tuple(item))
                self._replayed(entry["reads"], facts.module)
            self._current[facts.path] = entry
            self.reused += 1
            return found
        return None

    def enter(self, facts: FileFacts) -> None:
        self._bucket = _Bucket(module=facts.module)

    def keep(self, facts: FileFacts, result: FilePass) -> None:
        bucket, self._bucket = self._bucket, None
        self.fresh += 1
        self._current.pop(facts.path, None)
        if bucket is None or bucket.walked:
            return
        helpers = _helpers_json(result)
        if helpers is None:
            return
        reads = sorted(bucket.reads, key=repr)
        sites = any(o is not None and o.site is not None for o in result.outcomes)
        entry: dict[str, Any] = {
            "key": self._key(facts),
            "sites": sites,
            "context": self._context(sites),
            "reads": [[table, _to_json(key)] for table, key in reads],
            "signature": self._signature_of(reads),
            "asks": sorted(list(item) for item in bucket.asks),
            "checked": sorted([client, found] for client, found in bucket.checked.items()),
            "outcomes": [
                None
                if o is None
                else [
                    None if o.receiver is None else _encode_value(o.receiver),
                    None if o.site is None else encode_site(o.site),
                    *([] if o.wrapper is None else [helpers.pop(0)]),
                ]
                for o in result.outcomes
            ],
            "handed": helpers,
            "idle": None,
        }
        self._decoded[id(entry)] = (entry, result)
        self._made[id(entry)] = (entry, reads, self._found(reads))
        variants = [
            e
            for e in self.variants(facts.path)
            if (e["key"], e["context"], e["signature"])
            != (entry["key"], entry["context"], entry["signature"])
        ]
        self.entries[facts.path] = [entry, *variants][:MAX_VARIANTS]
        self._changed.add(facts.path)
        self._current[facts.path] = entry
        self.dirty = True

    def recall_idle(self, facts: FileFacts) -> bool:
        entry = self._current.get(facts.path)
        idle = entry.get("idle") if entry is not None else None
        if idle is None or self._signature(idle["reads"]) != idle["signature"]:
            return False
        for item in idle["asks"]:
            ask(self.asked, tuple(item))
        self._replayed(idle["reads"], facts.module)
        return True

    def enter_idle(self, facts: FileFacts) -> None:
        self._bucket = _Bucket(module=facts.module)

    def keep_idle(self, facts: FileFacts) -> None:
        bucket, self._bucket = self._bucket, None
        entry = self._current.get(facts.path)
        if bucket is None or entry is None:
            return
        if facts.path not in self.entries:
            # the entry was decoded alone (``_first``): the others with it, to be saved
            variants = self.variants(facts.path)
            self.entries[facts.path] = [entry, *variants[1:]]
        self._changed.add(facts.path)
        if bucket.walked:
            entry["idle"] = None
            return
        reads = sorted(bucket.reads, key=repr)
        entry["idle"] = {
            "reads": [[table, _to_json(key)] for table, key in reads],
            "signature": self._signature_of(reads),
            "asks": sorted(list(item) for item in bucket.asks),
        }
        self.dirty = True

    def current_pass(self, path: str) -> tuple[dict[str, Any], FilePass] | None:
        """The entry the last resolution of ``path`` used or made, with its result."""
        entry = self._current.get(path)
        if entry is None:
            return None
        try:
            return entry, self._decode(entry)
        except Exception:  # a cache file may hold anything
            return None

    def variants(self, path: str) -> list[dict[str, Any]]:
        """The entries kept for ``path``, decoded on first use and checked for shape (a
        cache file may hold anything: a damaged entry is dropped, never trusted)."""
        found = self.entries.get(path)
        if found is None:
            raw = self._raw.get(path)
            found = [] if raw is None else _decoded(raw)
            if not found:
                self._raw.pop(path, None)
                return []
            self.entries[path] = found
        return found

    # -- Tap ------------------------------------------------------------------------------

    def read(self, table: str, key: Any) -> None:
        bucket = self._bucket
        if key == "*":
            self.scan_walked.add(table)
            if bucket is not None:
                bucket.walked = True
            return
        # one tuple for the three sets: every lookup of the scan passes here
        read = (table, key)
        self.scan_reads.add(read)
        if bucket is None or not _own(key, bucket.module):
            self.scan_foreign.add(read)
        if bucket is not None:
            bucket.reads.add(read)

    def asks(self, item: Ask) -> None:
        if self._bucket is not None:
            self._bucket.asks.add(item)

    def checked(self, client: str) -> None:
        if self._bucket is not None:
            self._bucket.checked[client] = client in self._checking

    def _replayed(self, reads: list[list[Any]], module: str) -> None:
        """A reused resolution's reads, as if made again."""
        # a key's tuple from its JSON list, and ``_own``, inlined: every reused
        # resolution's reads pass here (a rerun's tens of thousands), and JSON gives lists
        # and strings of these types only
        found = [(table, tuple(key) if type(key) is list else key) for table, key in reads]
        self.scan_reads.update(found)
        if not module:
            self.scan_foreign.update(found)
            return
        prefix = module + "."
        self.scan_foreign.update(
            read for read in found if not (type(read[1]) is str and read[1].startswith(prefix))
        )

    # -- comparing ------------------------------------------------------------------------

    def _context(self, sites: bool) -> str:
        return self.sites if sites else self.matching

    def _key(self, facts: FileFacts) -> str:
        extracted = self.facts_keys.get(facts.path)
        if extracted is not None:
            # the facts' cache key: their file's content, module and the detection options
            return extracted
        known = self._keys.get(id(facts))
        if known is not None and known[0] is facts:
            return known[1]
        key = digest(
            [
                facts.path,
                facts.module,
                facts.is_loadgen,
                facts.ignored_lines,
                facts.suppressions,
                facts.calls,
            ]
        )
        self._keys[id(facts)] = (facts, key)
        return key

    def _value(self, read: Read) -> str:
        found = self._values.get(read)
        if found is None:
            table, key = read
            data = self._tables.get(table)
            if data is None:
                data = self._table(table)
            # dict.get: the raw table, without reporting the lookup
            value = dict.get(data, key)
            if value is None:
                # most reads are misses (netbox: 1,936 of 2,353)
                found = _NONE_DIGEST
            else:
                # the index's tables keep a definition's list from one round to the next
                # while no file of it changed (``resolve.index.IndexTables``): its digest too
                kept = self._kept.get(read)
                if kept is not None and kept[0] is value:
                    found = kept[1]
                else:
                    origin = self._origin(read, value)
                    if origin is None:
                        found = digest(value)
                    else:
                        found = self._last_origins.get(origin) or digest(value)
                        self._origins[origin] = found
                    self._kept[read] = (value, found)
            self._values[read] = found
        return found

    def _origin(self, read: Read, value: Any) -> str | None:
        """What a table's list of definitions is made of: the read's table and key, and
        the path and facts' cache key of each definition's file, in order (None for any
        other value, or a file whose facts have no key). The definitions of a key in a
        file are those of its facts, which their cache key decides (content, module,
        detection options, decouple's code), so a value of the same origin is the same:
        its digest is the last scan's, without the ``repr`` of every definition (most of
        checking what a kept resolution read: polar 700 values, homeassistant 2,000)."""
        if type(value) is not list:
            return None
        keys = self.facts_keys
        made: list[Any] = [read[0], read[1]]
        for entry in value:
            if type(entry) is not tuple or len(entry) != 2:
                return None
            key = keys.get(entry[0])
            if key is None:
                return None
            made.append(entry[0])
            made.append(key)
        return digest(made)

    def _table(self, name: str) -> dict[Any, Any]:
        """This round's index's table ``name``, as its reads find it."""
        data = self._tables.get(name)
        if data is None:
            assert self.index is not None
            data = self._tables[name] = self.index.table(name)
        return data

    def _found(self, reads: Sequence[Read]) -> tuple[Any, ...]:
        """The value each of ``reads`` finds in this round's index (one tuple: the
        collector tracks fewer objects than a pair for each read)."""
        # dict.get: the raw table, without reporting the lookup
        return tuple([dict.get(self._table(table), key) for table, key in reads])

    def _same(self, reads: Sequence[Read], values: tuple[Any, ...]) -> bool:
        """Whether each of ``reads`` finds the very value it found (then each digest is
        the one it had: a value of the index's tables is never changed in place, a
        definition's list kept from round to round while no file of it changed, as
        ``_kept`` holds)."""
        tables = self._tables
        for (table, key), value in zip(reads, values, strict=True):
            data = tables.get(table)
            if data is None:
                data = self._table(table)
            if dict.get(data, key) is not value:
                return False
        return True

    def _signature_of(self, reads: Sequence[Read]) -> str:
        return digest([self._value(read) for read in reads])

    def _signature(self, stored: list[list[Any]]) -> str:
        """:meth:`_signature_of` the reads an entry stored (as JSON), "" when one is not
        of a watched table. In one loop, each read's digest taken as this round made it
        when it did: every reused resolution's reads pass here (a rerun's thousands)."""
        values = self._values
        digests: list[str] = []
        for table, key in stored:
            read = (table, tuple(key) if type(key) is list else key)
            found = values.get(read)
            if found is None:
                # a read this round made is of a watched table: only those are digested
                if table not in WATCHED_TABLES:
                    return ""
                found = self._value(read)
            digests.append(found)
        return digest(digests)

    def _decode(self, entry: dict[str, Any]) -> FilePass:
        from decouple_services.resolve.calls import CallOutcome, FilePass, wrapper_from_json

        known = self._decoded.get(id(entry))
        if known is not None and known[0] is entry:
            return known[1]
        outcomes: list[CallOutcome | None] = []
        for item in entry["outcomes"]:
            if item is None:
                outcomes.append(None)
                continue
            site = None if item[1] is None else decode_site(item[1])
            wrapper = wrapper_from_json(item[2]) if len(item) > 2 else None
            # receivers are decoded when a helper lookup needs one
            outcomes.append(CallOutcome(None, site, wrapper, item[0]))
        handed = tuple(wrapper_from_json(w) for w in entry.get("handed", ()))
        found = FilePass(tuple(outcomes), handed)
        self._decoded[id(entry)] = (entry, found)
        return found

    # -- the cache ------------------------------------------------------------------------

    @classmethod
    def load(cls, asked: Asked, directory: Path | None, root: Path) -> SiteMemo:
        """The entries the last scan of ``root`` kept, checked for shape (a cache file may
        hold anything: a damaged one is dropped, never trusted)."""
        if directory is None:
            return cls(asked)
        data = read_cache_bytes(root_file(directory, "sites", root))
        if data is None:
            return cls(asked)
        head, _, body = data.partition(b"\n")
        # the header, then the digests of values by their origins (see ``save``)
        head, _, origins_json = head.partition(b"\t")
        try:
            header = json.loads(head)
        except (ValueError, RecursionError):  # a cache file may hold anything
            return cls(asked)
        if header != _header(root):
            return cls(asked)
        raw: dict[str, bytes] = {}
        for line in body.split(b"\n"):
            name, tab, variants = line.partition(b"\t")
            if not tab:
                continue
            try:
                path = json.loads(name)
            except (ValueError, RecursionError):
                continue
            if isinstance(path, str):
                raw[path] = variants
        return cls(asked, raw=raw, origins=_origins_of(origins_json))

    def save(self, directory: Path, root: Path, live: Sequence[str]) -> None:
        """Write the entries of the files in ``live`` (this scan's), if any changed: a
        line per file (its path and its entries, as JSON), after a line naming the format,
        decouple's version and the root, with (after a tab) the digests of the values this
        scan's reads found by their origins (:meth:`_origin`). The entries of a file this
        scan did not resolve afresh are written as they were read."""
        if not self.dirty:
            return

        def lines() -> Iterable[bytes]:
            # the header, and on its line the digests of the values this scan's reads
            # found, by their origins
            yield json.dumps(_header(root)).encode()
            yield b"\t" + json.dumps(self._origins, separators=(",", ":")).encode()
            for path in live:
                if path in self._changed and path in self.entries:
                    body = json.dumps(self.entries[path], separators=(",", ":")).encode()
                elif path in self._raw:
                    body = self._raw[path]
                elif path in self.entries:
                    body = json.dumps(self.entries[path], separators=(",", ":")).encode()
                else:
                    continue
                yield b"\n" + json.dumps(path).encode() + b"\t" + body

        write_cache_chunks(root_file(directory, "sites", root), lines())
        self.dirty = False


class SearchMemo:
    """The text searches of on-demand parsing (``app/demand.py``: files naming words,
    assigning an application slot, building a class's objects), answered for the files that
    did not change since the last scan from what that scan found.

    Each search is a test of one file's text against its terms, file by file. A search
    made with the same terms as one of the last scan's is given, for each of its files
    that the last one tested and whose content digest is the same, the last answer; only
    the others are read. A search of a kind that finds the files any one term finds
    (``demand.ANY_TERM``) is answered too from the last scan's sharing terms with it: a
    file found by one that searched for none but its terms is found, and a file they
    tested for every term and did not find is not (netbox: a rerun after an edit asked in
    one search for the words the last scan asked for in two rounds, and read a thousand
    files again). Kept in
    ``searches-<root>.json``: per search (kind and terms), the files tested and found, as
    positions in the listing, with each tested file's digest. A file whose facts hold a
    diagnostic (unreadable, too large) is read again.
    """

    def __init__(
        self,
        python: Sequence[str],
        current: Callable[[str], str | None],
        last: dict[str, Any] | None = None,
    ) -> None:
        #: the scan's Python files, and the digest of each file's content as the scan read it
        self.python = python
        self.current = current
        self._last_paths: list[str] = []
        self._last_digests: list[str | None] = []
        self._last: dict[str, tuple[bytes, list[int]]] = {}
        if last is not None:
            self._last_paths = last["paths"]
            self._last_digests = last["digests"]
            self._last = {k: (base64.b64decode(t), f) for k, (t, f) in last["searches"].items()}
        self._last_at: dict[str, int] | None = None
        #: File -> its position in the last scan's listing when its content is the one that
        #: scan tested, else -1: asked once per file, not once per search (homeassistant's
        #: rerun: 34 searches, 36,631 files; :meth:`forget` when the scan parses it)
        self._same: dict[str, int] = {}
        #: the last scan's searches by kind: their terms, tested bits and found positions
        self._by_kind: dict[str, list[tuple[frozenset[str], bytes, frozenset[int]]]] | None
        self._by_kind = None
        #: search -> the files it tested and found, this scan
        self.made: dict[str, tuple[set[str], set[str]]] = {}
        #: files the searches answered from the last scan, and files they read (for ``-v``)
        self.recalled = 0
        self.read = 0

    def search(
        self,
        kind: str,
        terms: Iterable[object],
        paths: Sequence[str],
        run: Callable[[list[str]], Iterable[str]],
    ) -> list[str]:
        """``run(paths)`` (a search of ``kind`` for ``terms``), answered from the last scan
        for the files it tested unchanged; those of ``paths`` found, in their order."""
        wanted = frozenset(json.dumps(_to_json(t)) for t in terms)
        key = json.dumps([kind, sorted(wanted)])
        known: set[str] = set()
        found_before: set[str] = set()
        sources = self._sources(kind, key, wanted) if paths else []
        same = self._same
        if len(sources) == 1:
            # one search of the last scan to answer from (most): a file it tested and did
            # not find is known when it searched for every term wanted
            asked_too, within, tested, found = sources[0]
            complete = len(asked_too) == len(wanted)
            for path in paths:
                i = same.get(path)
                if i is None:
                    i = self._same_at(path)
                if i < 0 or not tested[i >> 3] >> (i & 7) & 1:
                    continue
                if i in found:
                    if within:
                        known.add(path)
                        found_before.add(path)
                elif complete:
                    known.add(path)
        elif sources:
            for path in paths:
                i = same.get(path)
                if i is None:
                    i = self._same_at(path)
                if i < 0:
                    continue
                covered: set[str] = set()
                for asked_too, within, tested, found in sources:
                    if not tested[i >> 3] >> (i & 7) & 1:
                        continue
                    if i in found:
                        if within:  # found for one of the terms: found for them all
                            known.add(path)
                            found_before.add(path)
                            break
                        continue  # maybe for a term not asked now: tells nothing
                    covered |= asked_too
                    if len(covered) == len(wanted):  # tested for every term: not found
                        known.add(path)
                        break
        unknown = [p for p in paths if p not in known]
        self.recalled += len(known)
        self.read += len(unknown)
        fresh = set(run(unknown)) if unknown else set()
        out = [p for p in paths if p in fresh or p in found_before]
        made = self.made.setdefault(key, (set(), set()))
        made[0].update(paths)
        made[1].update(out)
        return out

    def _same_at(self, path: str) -> int:
        """``path``'s position in the last scan's listing if its content is the one that
        scan tested, else -1 (kept in ``_same``)."""
        if self._last_at is None:
            self._last_at = {p: i for i, p in enumerate(self._last_paths)}
        i = self._last_at.get(path)
        if (
            i is None
            or self._last_digests[i] is None
            or self._last_digests[i] != self.current(path)
        ):
            i = -1
        self._same[path] = i
        return i

    def forget(self, paths: Iterable[str]) -> None:
        """``paths`` were parsed again: what ``current`` says of them may have changed (their
        facts may hold a diagnostic now)."""
        for path in paths:
            self._same.pop(path, None)

    def _sources(
        self, kind: str, key: str, wanted: frozenset[str]
    ) -> list[tuple[frozenset[str], bool, bytes, frozenset[int]]]:
        """The last scan's searches a search of ``kind`` for the terms ``wanted`` (``key``)
        is answered from, each with the terms of ``wanted`` it searched for and whether it
        searched for no other: the one with its key, and for a kind of ``demand.ANY_TERM``
        every one sharing a term with it. A file such a search found is found only when it
        searched for none but ``wanted``'s terms; a file it tested and did not find has none
        of the terms they share (homeassistant: a rerun asked for seven keys, six of them
        among the nine the last scan asked for at once, and read 7,000 files again). Those
        that can tell a file found first, then the most terms shared."""
        if kind not in ANY_TERM:
            last = self._last.get(key)
            return [] if last is None else [(wanted, True, last[0], frozenset(last[1]))]
        if self._by_kind is None:
            self._by_kind = {}
            for made, (tested, found) in self._last.items():
                made_kind, made_terms = json.loads(made)
                self._by_kind.setdefault(made_kind, []).append(
                    (frozenset(made_terms), tested, frozenset(found))
                )
        sources = [
            (terms & wanted, terms <= wanted, tested, found)
            for terms, tested, found in self._by_kind.get(kind, ())
            if not terms.isdisjoint(wanted)
        ]
        return sorted(sources, key=lambda s: (not s[1], -len(s[0])))

    @classmethod
    def load(
        cls,
        directory: Path,
        root: Path,
        python: Sequence[str],
        current: Callable[[str], str | None],
    ) -> SearchMemo:
        """The last scan's searches of ``root``, checked for shape (a damaged file is
        dropped)."""
        data = read_cache_json(root_file(directory, "searches", root))
        try:
            if (
                isinstance(data, dict)
                and data.get("format") == FORMAT
                and data.get("version") == code_version()
                and data.get("root") == str(root)
            ):
                paths, digests, searches = data["paths"], data["digests"], data["searches"]
                if (
                    isinstance(paths, list)
                    and isinstance(digests, list)
                    and len(paths) == len(digests)
                    and all(isinstance(p, str) for p in paths)
                    and all(d is None or isinstance(d, str) for d in digests)
                    and isinstance(searches, dict)
                    and all(_search_ok(v, len(paths)) for v in searches.values())
                    and all(_search_key_ok(k) for k in searches)
                ):
                    return cls(
                        python,
                        current,
                        {"paths": paths, "digests": digests, "searches": searches},
                    )
        except (KeyError, TypeError, ValueError):
            pass
        return cls(python, current)

    def save(self, directory: Path, root: Path) -> None:
        """This scan's searches, with the digest of every file they tested."""
        at = {p: i for i, p in enumerate(self.python)}
        digests: list[str | None] = [None] * len(self.python)
        searches: dict[str, list[Any]] = {}
        # each file's digest asked once, not once per search that tested it
        # (homeassistant: 42 searches, 50,000 files tested, 8,000 of them different)
        made = [
            (key, [i for p in tested if (i := at.get(p)) is not None], found)
            for key, (tested, found) in self.made.items()
        ]
        now = {
            i: self.current(self.python[i])
            for i in {i for _, positions, _ in made for i in positions}
        }
        for key, positions, found in made:
            bits = bytearray((len(self.python) + 7) // 8)
            for i in positions:
                digest_now = now[i]
                if digest_now is None:
                    continue  # answered again next time
                digests[i] = digest_now
                bits[i >> 3] |= 1 << (i & 7)
            # what a search found it tested: its digest known by now, if it has one
            searches[key] = [
                base64.b64encode(bytes(bits)).decode(),
                sorted(at[p] for p in found if p in at and now.get(at[p]) is not None),
            ]
        if self._last_paths == list(self.python):
            # the last scan's searches this one did not make (a rerun taking its helper
            # passes as they were), for the files unchanged since: the same answers. Each
            # file they tested checked once, not once per search (a rerun keeps hundreds of
            # fixture searches over the same test modules), and their tested files narrowed
            # to those at once, as numbers of a bit per file
            kept = [
                (key, int.from_bytes(tested_bits, "little"), len(tested_bits), found_at)
                for key, (tested_bits, found_at) in self._last.items()
                if key not in searches
            ]
            tested_any = 0
            for _, tested_at, _, _ in kept:
                tested_any |= tested_at
            unchanged = bytearray((tested_any.bit_length() + 7) // 8)
            for i in _set_bits(tested_any.to_bytes(len(unchanged), "little")):
                last = self._last_digests[i]
                if last is not None and last == self.current(self.python[i]):
                    digests[i] = last
                    unchanged[i >> 3] |= 1 << (i & 7)
            mask = int.from_bytes(unchanged, "little")
            for key, tested_at, size, found_at in kept:
                still = tested_at & mask
                searches[key] = [
                    base64.b64encode(still.to_bytes(size, "little")).decode(),
                    sorted(i for i in found_at if still >> i & 1),
                ]
        write_cache_json(
            root_file(directory, "searches", root),
            {
                "format": FORMAT,
                "version": code_version(),
                "root": str(root),
                "paths": list(self.python),
                "digests": digests,
                "searches": searches,
            },
        )


def _set_bits(bits: bytes) -> Iterable[int]:
    """The positions of the bits set in ``bits`` (bit ``i & 7`` of byte ``i >> 3``)."""
    for at, byte in enumerate(bits):
        if byte:
            for bit in range(8):
                if byte >> bit & 1:
                    yield at * 8 + bit


_DECODER = json.JSONDecoder()
#: The digest of a read that found nothing.
_NONE_DIGEST = digest(None)


def _header(root: Path) -> dict[str, Any]:
    return {"format": FORMAT, "version": code_version(), "root": str(root)}


def _decoded(raw: bytes) -> list[dict[str, Any]]:
    """A file's entries from their JSON, those of the right shape (at most
    ``MAX_VARIANTS``); none when it is not JSON."""
    try:
        variants = json.loads(raw)
    except (ValueError, RecursionError):  # a line nested too deep to decode
        return []
    if not isinstance(variants, list):
        return []
    return [v for v in variants if _well_formed(v)][:MAX_VARIANTS]


def _origins_of(raw: bytes) -> dict[str, str] | None:
    """The digests of values by their origins, as :meth:`SiteMemo.save` wrote them; None
    when they are not (a cache file may hold anything)."""
    if not raw:
        return None
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(found, dict) or not all(
        type(k) is str and type(v) is str for k, v in found.items()
    ):
        return None
    return found


def _search_key_ok(key: str) -> bool:
    """A search's key as ``SearchMemo.search`` writes it: its kind and its terms' JSON."""
    kind_terms = json.loads(key)
    return (
        isinstance(kind_terms, list)
        and len(kind_terms) == 2
        and isinstance(kind_terms[0], str)
        and isinstance(kind_terms[1], list)
        and all(isinstance(t, str) for t in kind_terms[1])
    )


def _search_ok(value: object, count: int) -> bool:
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
        return False
    bits = base64.b64decode(value[0], validate=True)
    return (
        len(bits) == (count + 7) // 8
        and isinstance(value[1], list)
        and all(type(i) is int and 0 <= i < count and bits[i >> 3] >> (i & 7) & 1 for i in value[1])
    )


def _well_formed(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    try:
        return (
            isinstance(entry["key"], str)
            and isinstance(entry["sites"], bool)
            and isinstance(entry["context"], str)
            and isinstance(entry["signature"], str)
            and _reads_ok(entry["reads"])
            and _asks_ok(entry["asks"])
            and isinstance(entry["checked"], list)
            and all(
                isinstance(c, list)
                and len(c) == 2
                and isinstance(c[0], str)
                and isinstance(c[1], bool)
                for c in entry["checked"]
            )
            and isinstance(entry["outcomes"], list)
            and all(
                o is None or (isinstance(o, list) and len(o) in (2, 3)) for o in entry["outcomes"]
            )
            and isinstance(entry.get("handed", []), list)
            and (
                entry["idle"] is None
                or (
                    isinstance(entry["idle"], dict)
                    and _reads_ok(entry["idle"]["reads"])
                    and isinstance(entry["idle"]["signature"], str)
                    and _asks_ok(entry["idle"]["asks"])
                )
            )
        )
    except (KeyError, TypeError):
        return False


def _reads_ok(reads: object) -> bool:
    return isinstance(reads, list) and all(
        isinstance(r, list) and len(r) == 2 and r[0] in WATCHED_TABLES for r in reads
    )


def _asks_ok(asks: object) -> bool:
    """Each ask of ``app.demand.Ask``'s forms: a qualified name, a setting, words, a class
    whose objects were looked for."""
    return isinstance(asks, list) and all(
        isinstance(a, list)
        and len(a) >= 2
        and (a[0] in ("w", "q", "b") or (a[0] == "s" and len(a) == 3))
        and (a[0] == "w" or len(a) <= 3)
        and all(isinstance(x, str) for x in a)
        for a in asks
    )


def _helpers_json(result: FilePass) -> list[Any] | None:
    """The JSON form of the helpers a file's first pass found (those of its outcomes, in
    order, then those handed a request function), or None when one does not come back
    equal from it: that file is then resolved again every time, as none is kept."""
    from decouple_services.resolve.calls import wrapper_from_json, wrapper_to_json

    found = [o.wrapper for o in result.outcomes if o is not None and o.wrapper is not None]
    out = []
    for wrapper in (*found, *result.handed):
        encoded = wrapper_to_json(wrapper)
        try:
            if wrapper_from_json(json.loads(json.dumps(encoded))) != wrapper:
                return None
        except (ValueError, TypeError, IndexError, KeyError):
            return None
        out.append(encoded)
    return out


#: The fields of a call site, in order: a kept site is the list of their values.
_SITE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CallSite))
#: Where ``one_of`` is in a kept site (``app/edits.py`` reads it without decoding).
SITE_ONE_OF = _SITE_FIELDS.index("one_of")


def _site_kinds() -> tuple[tuple[int, ...], tuple[tuple[int, dict[Any, Any]], ...]]:
    """Where a kept site holds a tuple of strings (a list), and where an enum (its value,
    with the members by value). Every other field of a call site is a string, a number, a
    flag or None, written as it is (``tests/test_scan_incremental.py`` holds them to it)."""
    tuples: list[int] = []
    enums: list[tuple[int, dict[Any, Any]]] = []
    for at, f in enumerate(dataclasses.fields(CallSite)):
        annotation = str(f.type)
        if annotation.startswith("tuple["):
            tuples.append(at)
        elif isinstance(f.default, Enum):
            enums.append((at, dict(type(f.default)._value2member_map_)))
    return tuple(tuples), tuple(enums)


_SITE_TUPLES, _SITE_ENUMS = _site_kinds()


def encode_site(site: CallSite) -> list[Any]:
    """A call site kept in an entry: its fields' values in order, an enum as its value and
    a tuple as a list. Without the fields' names or the enums' classes: the sites are most
    of the entries (polar: 2.3 of the 2.9 MB a rerun decodes), their names were a third of
    that, and an enum written as an object (``{"@enum": ..., "v": ...}``, four per site)
    was half of the time the JSON of a rerun's kept entries took to decode."""
    values: list[Any] = [getattr(site, name) for name in _SITE_FIELDS]
    for at in _SITE_TUPLES:
        values[at] = list(values[at])
    for at, _ in _SITE_ENUMS:
        values[at] = values[at].value
    return values


def decode_site(item: Any) -> CallSite:
    """The call site :func:`encode_site` wrote (ValueError when it is not one)."""
    if type(item) is not list or len(item) != len(_SITE_FIELDS):
        raise ValueError("not a call site")
    values = item.copy()
    for at in _SITE_TUPLES:
        found = values[at]
        if type(found) is not list:
            raise ValueError("not a call site")
        values[at] = tuple(found)
    for at, members in _SITE_ENUMS:
        found = values[at]
        if type(found) is not str or found not in members:
            raise ValueError("not a call site")
        values[at] = members[found]
    return CallSite(*values)


def _own(key: Any, module: str) -> bool:
    """Whether ``key`` names a definition of ``module`` (read by a file of it)."""
    return bool(module) and isinstance(key, str) and key.startswith(module + ".")


def _to_json(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _encode_value(value: Any) -> Any:
    from decouple_services.detect.values import encode

    return encode(value)


__all__ = ["SITE_ONE_OF", "SearchMemo", "SiteMemo", "decode_site", "digest", "encode_site"]
