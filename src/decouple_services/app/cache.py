"""The scan cache: per-file facts keyed by content, and a manifest that makes reruns cheap.

Layout of the cache directory (``.decouple-cache/`` or ``--cache-dir``)::

    packs/pack-<random>.jsonl   facts of the files one scan parsed, a line each:
                                key TAB facts TAB calls' heads TAB calls' rest (each a
                                JSON text; the calls decoded when first used:
                                decouple_services.detect.facts.cache_text), key =
                                sha256(content digest, module name, decouple version
                                and the detection options)
    manifest-<root>.json        per scanned root: path -> (size, mtime_ns, content digest),
                                the digests the byte prefilter rejected, and the last result
    imports-<root>.json         per scanned root: each file's import targets, by digest
                                (read only by scans that learn a helper)
    sites-<root>.json           per scanned root: each file's resolution, with the
                                definitions it read, a line per file after a header
                                line (decouple_services.app.incremental)
    listing-<root>.json         per scanned root, walk mode: the last listing and the stamps
                                of the directories it depends on (decouple_services.discover.files)

The manifest lets a rerun skip reading and hashing files whose size and modification time
are unchanged; when every input of the scan (Python files, deployment files, configuration,
options, version) is unchanged, the previous result is returned without any analysis.
Files modified within :data:`RACY_NS` of the manifest being written are not trusted by their
timestamps next time (an edit in the same clock tick keeps size and mtime): they are read
and hashed again, as git does for its index.

Everything here is an optimisation: a missing, corrupt or foreign file is ignored and
rebuilt (a facts entry whose calls do not decode when first used: dropped, and the scan run
again), writes go to a temporary file renamed into place (concurrent runs never read half a
file; the last manifest written wins), and an unwritable directory only costs speed. Nothing
in the cache is executed or unpickled: it is JSON, decoded into decouple's own types.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import json
import operator
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from decouple_services.core import model
from decouple_services.core.fs import kind_of, read_regular, temporary_file, text_chunks
from decouple_services.core.git import GitAnswers
from decouple_services.core.model import Diagnostic
from decouple_services.core.stamps import code_version, is_racy, stamp_of

if TYPE_CHECKING:
    from decouple_services.detect.facts import FileFacts
    from decouple_services.discover.files import FileListing

#: Bumped when the layout or the meaning of an entry changes.
FORMAT = 4


class Stamp(NamedTuple):
    """What a file's stat tells of its content: kept for every file of a tree, where an
    ``os.stat_result`` (twenty fields) took 33 MiB for 51,000 files."""

    st_size: int
    st_mtime_ns: int


def root_file(directory: Path, kind: str, root: Path) -> Path:
    """The cache file of one kind (``manifest``, ``imports``, ``listing``) for a scanned root."""
    return directory / f"{kind}-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"


def content_digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def facts_key(digest: str, module: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{digest}\0{module}\0{fingerprint}".encode()).hexdigest()


def read_facts(folder: str, key: str, path: str) -> FileFacts | None:
    """Cached facts of ``path``, or None when missing, corrupt or someone else's."""
    from decouple_services.detect.facts import FileFacts

    body = _packs(folder).find(key)
    if body is None:
        return None
    try:
        # the calls left encoded: a damaged entry may show only when they are first used
        # (``UndecodableFacts``, for which the scan drops it and runs again: ``drop_facts``)
        facts = FileFacts.from_cache(body, key)
    except Exception:  # any content at all: corrupt or foreign
        return None  # rebuilt by the caller
    return facts if facts.path == path else None


def drop_facts(key: str) -> None:
    """Forget the facts cached under ``key`` (they did not decode), in every cache folder
    this process read: it reads them no more, and the next facts it writes for the key
    replace them on disk."""
    for packs in _PACKS.values():
        packs.drop(key)


PACKS = "packs"
#: More pack files than this are merged into one by the next scan that writes.
MAX_PACKS = 16
#: Keys looked up by searching the packs' bytes before a process loads them all.
MAX_PACK_SEARCHES = 4


class _Packs:
    """The facts of one cache folder's pack files, as raw JSON by key.

    One pack file per scan that parsed anything: writing a few thousand small files cost a
    cold scan seconds; one file is one write and one rename. Packs are never changed once
    written, so concurrent scans only ever add whole files (or merge them, below); a pack
    that vanishes between listing and reading (merged by another scan) is skipped, and its
    facts are rebuilt if no other pack has them. Loaded lazily, once per process, and again
    for packs that appeared since (:meth:`refresh`); a process that asks for a few keys
    only (a rerun checking its edited files) searches the packs for them instead.
    """

    def __init__(self, folder: str) -> None:
        self.folder = os.path.join(folder, PACKS)
        self.entries: dict[str, bytes] = {}
        self.seen: set[str] = set()
        self.loaded = False
        self.searches = 0
        #: Keys whose entries did not decode, until facts for them are written again.
        self.dropped: set[str] = set()
        #: Whether this process wrote a pack since it last read them (its entries are
        #: not kept: :meth:`write`).
        self.unread = False

    def names(self) -> list[str]:
        try:
            return sorted(
                n for n in os.listdir(self.folder) if n.startswith("pack-") and n.endswith(".jsonl")
            )
        except OSError:
            return []

    def refresh(self) -> None:
        self.loaded = True
        self.unread = False
        for name in self.names():
            if name in self.seen:
                continue
            self.seen.add(name)
            try:
                data = read_regular(os.path.join(self.folder, name), MAX_CACHE_FILE_BYTES)
            except OSError:
                continue  # merged away meanwhile, or not a regular file: ignored
            self._add(data)

    def _add(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            key, tab, body = line.partition(b"\t")
            if tab:
                self._put(key, body)

    def _put(self, key: bytes, body: bytes) -> None:
        if len(key) == 64:
            name = key.decode("ascii", "replace")
            if name not in self.dropped:
                self.entries.setdefault(name, body)

    def drop(self, key: str) -> None:
        self.dropped.add(key)
        self.entries.pop(key, None)

    def get(self, key: str) -> bytes | None:
        if not self.loaded or (self.unread and key not in self.entries):
            self.refresh()
        return self.entries.get(key)

    def find(self, key: str) -> bytes | None:
        """:meth:`get`, searching each pack's bytes for the first few keys asked instead of
        loading every pack (a rerun checking one edited file asks for one); the first line
        for ``key`` in the packs by name, the one loading them keeps."""
        if key in self.dropped:
            return self.entries.get(key)
        if self.loaded:
            return self.get(key)
        if key in self.entries:
            return self.entries[key]
        self.searches += 1
        if self.searches > MAX_PACK_SEARCHES:
            return self.get(key)
        needle = b"\n" + key.encode() + b"\t"
        for name in self.names():
            try:
                data = read_regular(os.path.join(self.folder, name), MAX_CACHE_FILE_BYTES)
            except OSError:
                continue  # merged away meanwhile: as refresh() skips it
            if data.startswith(needle[1:]):
                start = len(needle) - 1
            else:
                at = data.find(needle)
                if at < 0:
                    continue
                start = at + len(needle)
            end = data.find(b"\n", start)
            return data[start:] if end < 0 else data[start:end]
        return None

    def write(self, items: Sequence[tuple[str, str]]) -> None:
        """One new pack with ``items`` (key, facts JSON); packs merged past :data:`MAX_PACKS`."""
        if not items:
            return
        # Line by line, never the pack as one text: a cold scan of a large tree writes tens
        # of megabytes of facts, and a text of them (and its encoding) was the scan's peak.
        # Nor kept here once written: the next refresh reads the new pack like any other
        # (its name is not among those seen), and what this scan computed it holds as facts.
        replaced = False
        for key, body in items:
            if key in self.dropped and "\t" not in key and "\n" not in body:
                # an entry that did not decode, written again: it replaces the old one in
                # every pack (merged below), which the first pack would keep
                self.dropped.discard(key)
                self.entries[key] = body.encode()
                replaced = True
        names = self.names()
        if len(names) + 1 > MAX_PACKS or replaced:
            for key, body in items:
                if "\n" not in body and "\t" not in key:
                    self._put(key.encode(), body.encode())
            self._merge(names)
            return
        _write_lines(
            self._new_name(),
            ((key.encode(), body.encode()) for key, body in items if "\n" not in body),
        )
        self.unread = True

    def write_pack(self, pack: FactsPack) -> None:
        """:meth:`write` of the items ``pack`` wrote into its temporary file: that file
        renamed into place, or read back to be merged as :meth:`write` merges."""
        tmp = pack.close()
        if tmp is None:
            return
        try:
            replaced = False
            for key, body in pack.replaced.items():
                if key in self.dropped:
                    self.dropped.discard(key)
                    self.entries[key] = body
                    replaced = True
            names = self.names()
            if len(names) + 1 > MAX_PACKS or replaced:
                try:
                    self._add(read_regular(tmp, MAX_CACHE_FILE_BYTES))
                except OSError:
                    return
                self._merge(names)
                return
            with contextlib.suppress(OSError):
                os.replace(tmp, self._new_name())
                self.unread = True
        finally:
            with contextlib.suppress(OSError):
                if os.path.exists(tmp):
                    os.unlink(tmp)

    def _merge(self, names: list[str]) -> None:
        """One new pack of what this process has read (every listed pack after a refresh)
        and added, then the packs ``names`` merged into it removed."""
        self.refresh()
        merged = ((k.encode(), v) for k, v in self.entries.items())
        if _write_lines(self._new_name(), merged):
            for name in names:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.folder, name))

    def _new_name(self) -> str:
        return os.path.join(self.folder, f"pack-{time.time_ns():x}-{os.urandom(4).hex()}.jsonl")


_PACKS: dict[str, _Packs] = {}


class FactsPack:
    """The facts (key, facts JSON) one scan computes, written as they come into a
    temporary file of the cache folder's packs, which :func:`write_facts` renames into
    place when the scan is done (or merges, as it would merge the items given as a list):
    a cold scan of a large tree computes tens of MB of facts, held as text until then
    through extraction and resolution (a 51,000-file tree: 14 MB). The temporary file is
    never read as a pack (its name is no pack's); :meth:`discard` removes it when the
    scan does not finish."""

    def __init__(self, folder: str) -> None:
        self.packs = _packs(folder)
        self.count = 0
        #: Items whose keys did not decode when read (``drop_facts``): they replace the
        #: old entries, as in :meth:`_Packs.write`.
        self.replaced: dict[str, bytes] = {}
        self._tmp: str | None = None
        self._handle: Any = None
        self._broken = False

    def __len__(self) -> int:
        return self.count

    def append(self, item: tuple[str, str]) -> None:
        key, body = item
        if "\n" in body or self._broken:
            return  # as _Packs.write leaves it out
        if self._handle is None and not self._open():
            return
        line = body.encode()
        if key in self.packs.dropped and "\t" not in key:
            self.replaced[key] = line
        try:
            self._handle.write(b"".join((key.encode(), b"\t", line, b"\n")))
        except OSError:
            self.discard()
            self._broken = True
            return
        self.count += 1

    def _open(self) -> bool:
        folder = self.packs.folder
        try:
            if (_READ_ONLY and _is_read_only(folder)) or os.path.islink(folder):
                raise OSError("not written")  # as _write_chunks refuses
            os.makedirs(folder, exist_ok=True)
            _sweep_abandoned(folder)
            fd, self._tmp = temporary_file(folder)
            self._handle = os.fdopen(fd, "wb", buffering=2**16)
        except OSError:
            self._broken = True
            return False
        return True

    def close(self) -> str | None:
        """The temporary file, complete (None: nothing was written, or it failed)."""
        if self._handle is None or self._broken:
            self.discard()
            return None
        try:
            self._handle.close()
        except OSError:
            self.discard()
            return None
        self._handle = None
        return self._tmp

    def discard(self) -> None:
        """Remove the temporary file (the scan ends without writing it)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None


#: A pack's temporary file untouched this long (seconds) was left by a scan that was killed
#: (a scan writes its facts into it as it extracts, and removes it when it fails).
ABANDONED_AFTER = 6 * 3600


def _sweep_abandoned(folder: str) -> None:
    """Remove the temporary files of ``folder`` (a cache's packs) that no scan wrote to
    for :data:`ABANDONED_AFTER`: a scan killed mid-way (SIGKILL, out of memory) leaves its
    facts there, tens of MB on a large tree, which no later scan would read or remove.
    A running scan's file is younger: it is written as files are extracted."""
    limit = time.time() - ABANDONED_AFTER
    try:
        with os.scandir(folder) as found:
            old = [
                entry.path
                for entry in found
                if entry.name.endswith(".tmp")
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < limit
            ]
    except OSError:
        return
    for path in old:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _packs(folder: str) -> _Packs:
    found = _PACKS.get(folder)
    if found is None:
        found = _PACKS[folder] = _Packs(folder)
    return found


def refresh_facts(folder: str) -> None:
    """See the packs other scans wrote since this process last looked."""
    _packs(folder).refresh()


def write_facts(folder: str, items: Sequence[tuple[str, str]] | FactsPack) -> None:
    """Store facts (key, JSON text) computed by one pass of a scan, as one pack file."""
    if isinstance(items, FactsPack):
        _packs(folder).write_pack(items)
    else:
        _packs(folder).write(items)


#: A cache file larger than this is not read (a manifest with its last result is the largest).
MAX_CACHE_FILE_BYTES = 256 * 2**20


def _read_json(path: str) -> Any:
    """A cache file's JSON; raises on anything that is not a regular file holding JSON."""
    return json.loads(read_regular(path, MAX_CACHE_FILE_BYTES))


def read_cache_json(path: Path) -> Any:
    """A cache file's JSON, or None when it is missing or holds anything else."""
    try:
        return _read_json(str(path))
    except Exception:  # a cache file may hold anything; it is rebuilt
        return None


def read_cache_bytes(path: Path) -> bytes | None:
    """A cache file's content, or None when it is missing or no regular file."""
    try:
        return read_regular(str(path), MAX_CACHE_FILE_BYTES)
    except OSError:
        return None


def write_cache_chunks(path: Path, chunks: Iterable[bytes]) -> bool:
    """``chunks`` into the cache file ``path`` (temporary file and rename); False if not
    written."""
    return _write_chunks(str(path), chunks)


def write_cache_json(path: Path, data: object) -> None:
    """``data`` as JSON into the cache file ``path`` (temporary file and rename)."""
    _write_json(str(path), data)


def write_cache_text(path: Path, data: bytes) -> bool:
    """``data`` into the cache file ``path`` (temporary file and rename); False if not
    written."""
    return _write_text(str(path), data)


def _write_json(target: str, data: object) -> None:
    _write_chunks(target, json_chunks(data))


#: Items of a dict or list encoded together (:func:`json_chunks`).
JSON_BATCH = 4096
#: Records of a tuple encoded together (:func:`model_json_chunks`): a call site's text is
#: near a kilobyte.
MODEL_BATCH = 256


def json_chunks(data: object, batch: int = JSON_BATCH) -> Iterator[bytes]:
    """``json.dumps(data, separators=(",", ":")).encode()``, byte for byte, in pieces: a
    dict or list of more than ``batch`` items, or holding one, is encoded ``batch`` items
    at a time, and those of its items that are such, a piece at a time. The manifest of a
    51,000-file tree is 9 MB of JSON, and its text and bytes were both held at once at the
    end of a scan, its peak. Each batch goes through ``json.dumps`` (``json.dump`` would
    stream through the pure-Python encoder, much slower)."""
    for text in _json_texts(data, batch, _compact, ",", ":", sort=False):
        yield text.encode()


def _json_texts(
    data: object,
    batch: int,
    dumps: Callable[[object], str],
    item_sep: str,
    key_sep: str,
    *,
    sort: bool,
) -> Iterator[str]:
    """The text ``dumps(data)`` gives, in pieces (see :func:`json_chunks`); ``dumps``
    writes with ``item_sep`` and ``key_sep``, and sorts the keys if ``sort``."""
    if isinstance(data, dict) and _streamed(data, batch):
        items = sorted(data.items()) if sort else list(data.items())
        # the key as dumps writes it (a number as a string...): through a dict of it alone
        key_end = -(len(key_sep) + len("null}"))
        yield "{"
        for start in range(0, len(items), batch):
            part = items[start : start + batch]
            if start:
                yield item_sep
            if any(_large(v, batch) for _, v in part):
                for n, (key, value) in enumerate(part):
                    yield (item_sep if n else "") + dumps({key: None})[1:key_end] + key_sep
                    yield from _json_texts(value, batch, dumps, item_sep, key_sep, sort=sort)
            else:
                yield dumps(dict(part))[1:-1]
        yield "}"
    elif isinstance(data, list) and _streamed(data, batch):
        yield "["
        for start in range(0, len(data), batch):
            part = data[start : start + batch]
            if start:
                yield item_sep
            if any(_large(v, batch) for v in part):
                for n, value in enumerate(part):
                    if n:
                        yield item_sep
                    yield from _json_texts(value, batch, dumps, item_sep, key_sep, sort=sort)
            else:
                yield dumps(part)[1:-1]
        yield "]"
    else:
        yield dumps(data)


def _streamed(data: dict[Any, Any] | list[Any], batch: int) -> bool:
    """Whether ``data`` is encoded a piece at a time: it is large, or holds a large item
    (the manifest's few keys, one of them every file's entry)."""
    if type(data) is not dict and type(data) is not list:
        return False  # a subclass: as json.dumps writes it, whole
    return len(data) > batch or any(
        _large(v, batch) for v in (data.values() if isinstance(data, dict) else data)
    )


def _large(value: object, batch: int) -> bool:
    """A dict or list (exactly: as ``json.dumps`` takes them) of more than ``batch`` items."""
    kind = type(value)
    return (kind is dict or kind is list) and len(value) > batch  # type: ignore[arg-type]


def _write_lines(target: str, lines: Iterable[tuple[bytes, bytes]]) -> bool:
    """A pack of ``key\\tbody`` lines into ``target``, as :func:`_write_text` writes."""
    return _write_chunks(target, (part for k, v in lines for part in (k, b"\t", v, b"\n")))


def _write_text(target: str, data: bytes) -> bool:
    """``data`` into ``target`` through a temporary file and a rename; False if not written."""
    return _write_chunks(target, (data,))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off within the block, for decoding the cache: JSON decoded
    into lists, dicts and decouple's records makes no reference cycles, so nothing the
    collector could free is left to it. The objects decoded are still the youngest
    generation's when the block ends (the next collection walks them) unless the block
    ends with ``gc.freeze``. A collector already off is left off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: Cache folders this process reads and never writes (:func:`read_only`).
_READ_ONLY: set[str] = set()


@contextlib.contextmanager
def read_only(folder: Path | None) -> Iterator[None]:
    """Within the block, the cache ``folder`` (None: none) is read as usual, and nothing
    is written into it, nor is it made: a migration's dry run leaves the scanned tree as
    it found it, yet reads the cache a scan of it made. Every write of the cache goes
    through :func:`_write_chunks` and :func:`prepare`, which both ask."""
    if folder is None:
        yield
        return
    key = os.path.abspath(folder)
    added = key not in _READ_ONLY
    _READ_ONLY.add(key)
    try:
        yield
    finally:
        if added:
            _READ_ONLY.discard(key)


def _is_read_only(path: str) -> bool:
    path = os.path.abspath(path)
    return any(path == f or path.startswith(f + os.sep) for f in _READ_ONLY)


def _write_chunks(target: str, chunks: Iterable[bytes]) -> bool:
    folder = os.path.dirname(target)
    if _READ_ONLY and _is_read_only(folder):
        return False
    try:
        if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
            return False  # never renamed over a FIFO, a device or a link someone put there
        if os.path.islink(folder):
            return False  # a subfolder linked elsewhere (a cache shipped in the tree) is not used
        os.makedirs(folder, exist_ok=True)
        # temp file + rename: a concurrent run never reads half a file
        fd, tmp = temporary_file(folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError:
        return False  # a read-only tree scans fine without a cache
    return True


def prepare(path: Path, *, follow_link: bool = False) -> str | None:
    """Make the cache folder ready; returns why it cannot be used (None: it can).

    The default folder lives in the scanned tree, which may come from anyone: a
    ``.decouple-cache`` that is a symlink would have decouple write wherever it points, so
    it is refused unless ``follow_link`` (a ``--cache-dir`` the user named).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"cannot use the cache folder {path}: {exc.strerror or exc}"
    else:
        if stat.S_ISLNK(st.st_mode) and not follow_link:
            return f"the cache folder {path} is a symlink; not followed"
        try:
            st = os.stat(path)
        except OSError as exc:
            return f"cannot use the cache folder {path}: {exc.strerror or exc}"
        if not stat.S_ISDIR(st.st_mode):
            return f"the cache folder {path} is {kind_of(st.st_mode)}, not a directory"
    if _READ_ONLY and _is_read_only(str(path)):
        return None if os.path.isdir(path) else f"no cache folder {path} to read"
    try:
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            # A folder holding anything already is not the cache's alone (`--cache-dir .`
            # names the repository itself): a `.gitignore` of `*` there would hide all of it
            # from git, and from the next scan's listing.
            with os.scandir(path) as entries:
                if next(entries, None) is not None:
                    return None
        # O_EXCL | O_NOFOLLOW: an existing .gitignore, or a link planted there, is left alone
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path / ".gitignore", flags, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# decouple's per-file cache; safe to delete\n*\n")
    except OSError:
        pass  # exists already, or a read-only tree: it scans fine without a cache
    return None


class Manifest:
    """What the last scan of one root saw: file stats and digests, and its result.

    The result's encoding is a file of its own (``result-<root>.json``), named in the
    manifest by an id: a rerun whose result is the last one (edits that change nothing)
    keeps it under a new key by writing the manifest alone, and a rerun replaying the
    last output never reads it (polar: 1.5 MB, whose decoding and encoding again were a
    tenth of such a rerun).
    """

    def __init__(self, directory: Path, root: Path) -> None:
        self.path = root_file(directory, "manifest", root)
        self.result_path = root_file(directory, "result", root)
        self.root = str(root)
        self.files: dict[str, list[Any]] = {}
        self.rejected: dict[str, set[str]] = {}
        self.result_key: str | None = None
        #: Which encoding of a result the result file must hold for ``result_key``.
        self.result_id: str | None = None
        #: Files outside the listing that the stored result's discovery read.
        self.result_extra: list[str] | None = None
        self.dirty = False
        self._result: Any = None
        #: A new result, once stored (encoded when written: :func:`model_json_chunks`).
        self._result_value: model.ScanResult | None = None
        #: Whether a new result was stored since the manifest was read (its file is
        #: written by the next save that finds it unwritten), else whether ``_result``
        #: was read from its file yet.
        self._result_new = False
        self._result_written = False
        self._result_read = False
        #: Path -> its size and mtime, as :meth:`stat` took them.
        self.stats: dict[str, Stamp] = {}
        self._load(str(root))

    def _load(self, root: str) -> None:
        try:
            data = _read_json(str(self.path))
            if data.get("format") != FORMAT or data.get("version") != code_version():
                return
            if data.get("root") != root:
                return
            files = data["files"]
            rejected = {
                fp: {d for d in digests if isinstance(d, str)}
                for fp, digests in data["rejected"].items()
            }
            if not isinstance(files, dict):
                return
            # a foreign or damaged entry is dropped, not trusted: [size, mtime_ns, digest]
            self.files = {
                path: entry
                for path, entry in files.items()
                if isinstance(entry, list)
                and len(entry) == 3
                and type(entry[0]) is int
                and type(entry[1]) is int
                and isinstance(entry[2], str)
            }
            self.rejected = rejected
            result = data.get("result")
            if (
                isinstance(result, dict)
                and isinstance(result.get("key"), str)
                and isinstance(result.get("id"), str)
            ):
                extra = result.get("extra")
                if isinstance(extra, list) and all(isinstance(p, str) for p in extra):
                    self.result_key = result["key"]
                    self.result_id = result["id"]
                    self.result_extra = extra
        except Exception:  # a cache file may hold anything; it is rebuilt
            self.files, self.rejected = {}, {}

    # -- files ---------------------------------------------------------------------------

    def stat(self, path: str) -> Stamp:
        """``os.stat`` of the root's ``path``, taken once while this manifest is read: a
        rerun asks for every file's in turn whether the last result holds, which files
        changed, and which facts the cache has (homeassistant: 7,978 files, three times);
        one moment's stats serve all three. Raises ``OSError`` as ``os.stat`` does (not
        kept)."""
        found = self.stats.get(path)
        if found is None:
            taken = os.stat(os.path.join(self.root, path))
            found = self.stats[path] = Stamp(taken.st_size, taken.st_mtime_ns)
        return found

    def digest(self, path: str, stat: Stamp | os.stat_result) -> str | None:
        """The content digest recorded for ``path`` if its size and mtime are unchanged."""
        entry = self.files.get(path)  # well-formed: _load drops any other
        if entry is not None and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            digest: str = entry[2]
            return digest
        return None

    def record_stat(self, path: str, size: int, mtime_ns: int, digest: str) -> None:
        entry = [size, mtime_ns, digest]
        if self.files.get(path) != entry:
            self.files[path] = entry
            self.dirty = True

    def is_rejected(self, fingerprint: str, digest: str) -> bool:
        return digest in self.rejected.get(fingerprint, ())

    def reject(self, fingerprint: str, digest: str) -> None:
        found = self.rejected.setdefault(fingerprint, set())
        if digest not in found:
            found.add(digest)
            self.dirty = True

    # -- whole result --------------------------------------------------------------------

    @property
    def result(self) -> Any:
        """The stored result's encoding (read from its file on first use), or None."""
        if self._result_new:
            if self._result is None:
                self._result = json.loads(model_json(self._result_value))
            return self._result
        if not self._result_read:
            self._result_read = True
            data = read_cache_json(self.result_path)
            if (
                self.result_id is not None
                and isinstance(data, dict)
                and data.get("format") == FORMAT
                and data.get("version") == code_version()
                and data.get("root") == self.root
                and data.get("id") == self.result_id
            ):
                self._result = data.get("value")
        return self._result

    def cached_result(self, key: str) -> model.ScanResult | None:
        if key != self.result_key or self.result is None:
            return None
        try:
            value = decode_model(self.result)
        except Exception:  # a stored result may hold anything; the scan runs instead
            return None
        return value if isinstance(value, model.ScanResult) else None

    def store_result(self, key: str, result: model.ScanResult, extra: list[str]) -> None:
        """Keep ``result`` under ``key`` (written again under the key it has: the stored
        one was found unreadable, or the scan would not have run)."""
        self.result_key = key
        self.result_id = key
        # encoded as it is written, a piece at a time: read back only by a later scan
        self._result_value = result
        self._result = None  # its encoding, made if asked for
        self._result_new = True
        self._result_written = False
        self.result_extra = extra
        self.dirty = True

    def keep_result(self, key: str, extra: list[str]) -> None:
        """Keep the stored result, as it is, under ``key`` as well (the result of new
        inputs that change nothing of it: its file is not read or written again)."""
        assert self.result_id is not None
        if key == self.result_key:
            return
        self.result_key = key
        self.result_extra = extra
        self.dirty = True

    def save(self, root: Path, live: set[str]) -> None:
        """Write the manifest (only the files of this scan), if anything changed."""
        if not self.dirty:
            return
        now = time.time_ns()
        files: dict[str, list[Any]] = {}
        for path in live:
            entry = self.files.get(path)
            if entry is None:
                continue
            if is_racy(entry[1], now):
                # size and mtime cannot prove this file unchanged next time: keep the digest
                # for the result key, but make the stat comparison fail
                entry = [-1, -1, entry[2]]
            files[path] = entry
        digests = {e[2] for e in files.values()}
        data = {
            "format": FORMAT,
            "version": code_version(),
            "root": str(root),
            "files": files,
            "rejected": {fp: sorted(d & digests) for fp, d in self.rejected.items()},
            "result": {"key": self.result_key, "id": self.result_id, "extra": self.result_extra}
            if self.result_key
            else None,
        }
        if self._result_new and not self._result_written:
            # before the manifest naming it: a manifest is never read with an older one
            head = {
                "format": FORMAT,
                "version": code_version(),
                "root": self.root,
                "id": self.result_id,
            }
            _write_chunks(
                str(self.result_path),
                itertools.chain(
                    (json.dumps(head, separators=(",", ":"))[:-1].encode(), b',"value":'),
                    model_json_chunks(self._result_value),
                    (b"}",),
                ),
            )
            self._result_written = True
        _write_json(str(self.path), data)


def _imports_entry(entry: Any, digest: str, module: str, is_package: bool) -> frozenset[str] | None:
    """The targets an imports-cache entry ``[digest, module, is_package, targets]`` holds,
    when it is one and describes this content of this module; ``None`` otherwise."""
    if (
        isinstance(entry, list)
        and len(entry) == 4
        and entry[0] == digest
        and entry[1] == module
        and entry[2] is is_package
        and isinstance(entry[3], list)
        and all(isinstance(t, str) for t in entry[3])
    ):
        return frozenset(entry[3])
    return None


class ImportsCache:
    """Each file's import targets (for the helper passes), per scanned root.

    An entry is reused only for the same path, content digest, module name and package flag,
    under the same set of packages (import targets depend on which names are packages) and
    the same decouple code: everything :func:`decouple_services.app.rereads.import_targets` reads. Kept
    apart from the manifest, which an unchanged rerun loads: only scans that learn a helper
    read this one.
    """

    def __init__(self, directory: Path, root: Path, packages: Iterable[str]) -> None:
        self.path = root_file(directory, "imports", root)
        self.root = str(root)
        self.stamp = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()
        self.files: dict[str, list[Any]] = {}
        self.dirty = False
        try:
            data = _read_json(str(self.path))
            if (
                data.get("format") == FORMAT
                and data.get("version") == code_version()
                and data.get("root") == self.root
                and data.get("packages") == self.stamp
                and isinstance(data.get("files"), dict)
            ):
                self.files = data["files"]
        except Exception:  # a cache file may hold anything; it is rebuilt
            self.files = {}

    def get(self, path: str, digest: str, module: str, is_package: bool) -> frozenset[str] | None:
        try:
            return _imports_entry(self.files.get(path), digest, module, is_package)
        except TypeError:
            return None

    def put(
        self, path: str, digest: str, module: str, is_package: bool, targets: frozenset[str]
    ) -> None:
        self.files[path] = [digest, module, is_package, sorted(targets)]
        self.dirty = True

    def save(self, live: Iterable[str]) -> None:
        """Write the entries of the files in ``live`` (this scan's), if anything changed."""
        if not self.dirty:
            return
        files = {p: self.files[p] for p in live if p in self.files}
        data = {
            "format": FORMAT,
            "version": code_version(),
            "root": self.root,
            "packages": self.stamp,
            "files": files,
        }
        _write_json(str(self.path), data)
        self.dirty = False


class ImportsEntries:
    """Entries of the imports cache (:class:`ImportsCache`) read and replaced one at a
    time, without decoding the whole file: a rerun after one edit asks for the edited
    file's entry only (homeassistant: 6.8 MB, whose decoding and encoding again cost a
    fifth of that rerun). The file is written by ``json.dumps`` in a known order, so its
    header is known text, and an entry is the JSON value after its path as a key of
    ``files`` (a quote inside a string is escaped, so ``,"path":`` is never inside one)."""

    def __init__(self, directory: Path, root: Path, packages: Iterable[str]) -> None:
        self.path = root_file(directory, "imports", root)
        stamp = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()
        header = {"format": FORMAT, "version": code_version(), "root": str(root), "packages": stamp}
        prefix = json.dumps(header, separators=(",", ":"))[:-1] + ',"files":{'
        self.text: str | None = None
        self.start = len(prefix)
        self.dirty = False
        try:
            text = read_regular(str(self.path), MAX_CACHE_FILE_BYTES).decode()
        except (OSError, UnicodeDecodeError):
            return
        if text.startswith(prefix) and text.endswith("}}"):
            self.text = text

    def _span(self, path: str) -> tuple[int, int, Any] | None:
        """Where the entry of ``path`` is in the text, and its value."""
        if self.text is None:
            return None
        key = json.dumps(path) + ":"
        at = self.text.find(key, self.start - 1)
        while at != -1 and self.text[at - 1] not in "{,":
            at = self.text.find(key, at + 1)  # not a key: cannot happen in a file it wrote
        if at == -1:
            return None
        begin = at + len(key)
        try:
            value, end = _DECODER.raw_decode(self.text, begin)
        except ValueError:
            return None
        return begin, end, value

    def get(self, path: str, digest: str, module: str, is_package: bool) -> frozenset[str] | None:
        """As :meth:`ImportsCache.get`."""
        span = self._span(path)
        if span is None:
            return None
        return _imports_entry(span[2], digest, module, is_package)

    def put(
        self, path: str, digest: str, module: str, is_package: bool, targets: frozenset[str]
    ) -> bool:
        """Replace the entry of ``path`` (False: it has none, nothing replaced)."""
        span = self._span(path)
        if span is None or self.text is None:
            return False
        begin, end, _ = span
        entry = json.dumps([digest, module, is_package, sorted(targets)], separators=(",", ":"))
        self.text = self.text[:begin] + entry + self.text[end:]
        self.dirty = True
        return True

    def save(self) -> None:
        if self.dirty and self.text is not None:
            _write_chunks(str(self.path), text_chunks(self.text))
            self.dirty = False


_DECODER = json.JSONDecoder()


def result_key(parts: object) -> str:
    """The digest of ``json.dumps(parts, sort_keys=True, default=repr)``, its text hashed
    a piece at a time (every file's digest is among the parts: 5 MB for 51,000 files)."""
    hashed = hashlib.sha256()
    for text in _json_texts(parts, JSON_BATCH, _sorted_json, ", ", ": ", sort=True):
        hashed.update(text.encode())
    return hashed.hexdigest()


def _sorted_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


# --- ScanResult <-> JSON, generically (new model fields need no change here) ---------------

_CLASSES: dict[str, type] = {
    name: obj
    for name, obj in vars(model).items()
    if isinstance(obj, type) and obj.__module__ == model.__name__
}


#: Exact types encoded as they are, and each model class's compared fields, in order: a
#: result of 1,500 call sites is 60,000 values, and asking every one whether it is an enum
#: or a dataclass, and each call site for its fields, was most of its encoding.
PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}


def encode_model(value: Any) -> Any:
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    names = _FIELDS.get(kind)
    if names is not None:
        # plain values (most of a call site's fields) kept as they are without a call each
        out: dict[str, Any] = {"@": kind.__name__}
        for name in names:
            item = getattr(value, name)
            out[name] = item if type(item) in PLAIN_TYPES else encode_model(item)
        return out
    if kind is tuple or kind is list:
        return [v if type(v) in PLAIN_TYPES else encode_model(v) for v in value]
    if isinstance(value, Enum):
        return {"@enum": type(value).__name__, "v": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value) if f.compare)
        return encode_model(value)
    if isinstance(value, tuple | list):
        return [encode_model(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


#: Each model class -> its compared fields' getter (a tuple of their values) and the ``%``
#: template of its encoding's text with a slot for each value (:func:`model_json`).
_TEXTS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], str]] = {}
#: The text of each enum member's encoding, and the enums whose members it holds.
_ENUM_TEXTS: dict[Enum, str] = {}
_ENUM_TYPES: set[type] = set()
_CONSTANT_TEXTS = {None: "null", True: "true", False: "false"}


def model_json(value: Any) -> str:
    """``json.dumps(encode_model(value), separators=(",", ":"))``, written without the
    encoding in between: a result's encoding was built of a dict per record and then
    walked by ``json.dumps`` (polar's 1,500 call sites: 45 ms each rerun that changes
    the result). Each class's fields are written through a template of its keys, made
    once, and each enum member's text is made once; a value of a type the encoding does
    not write plainly (a float, a subclass) is written by ``json.dumps`` of its encoding,
    the text it has anywhere in compact JSON."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if value is None or value is True or value is False:
        return _CONSTANT_TEXTS[value]
    if kind is int:
        return int.__repr__(value)
    if kind in _ENUM_TYPES:
        return _ENUM_TEXTS[value]
    layout = _TEXTS.get(kind)
    if layout is None and kind is not tuple and kind is not list:
        layout = _text_layout(value)
        if layout is None:
            if isinstance(value, Enum) and type(value) not in _ENUM_TYPES:
                for member in type(value):
                    _ENUM_TEXTS[member] = _compact(encode_model(member))
                _ENUM_TYPES.add(type(value))
                return _ENUM_TEXTS[value]
            return _compact(encode_model(value))
    texts: list[str] = []
    for item in value if layout is None else layout[0](value):
        item_kind = type(item)
        # the commonest values inline: a call per value was most of the time
        if item_kind is str:
            texts.append(_json_string(item))
        elif item is None or item is True or item is False:
            texts.append(_CONSTANT_TEXTS[item])
        elif item_kind in _ENUM_TYPES:
            texts.append(_ENUM_TEXTS[item])
        else:
            texts.append(model_json(item))
    if layout is None:
        return "[" + ",".join(texts) + "]"
    return layout[1] % tuple(texts)


def model_json_chunks(value: Any, batch: int = MODEL_BATCH) -> Iterator[bytes]:
    """``model_json(value).encode()``, byte for byte, in pieces: a record's fields one at
    a time, and a tuple or list of more than ``batch`` items ``batch`` items at a time (a
    51,000-file tree's result is 11 MB of JSON, and its text, with the texts it was joined
    from, was held at the end of a scan, its peak)."""
    for text in _model_texts(value, batch):
        yield text.encode()


def _model_texts(value: Any, batch: int) -> Iterator[str]:
    kind = type(value)
    if (kind is tuple or kind is list) and len(value) > batch:
        yield "["
        for start in range(0, len(value), batch):
            # model_json of the items alone: the same text as that of their tuple's, which
            # writes each item as model_json does (a string, a constant, an enum inline)
            texts = [model_json(item) for item in value[start : start + batch]]
            yield ("," if start else "") + ",".join(texts)
        yield "]"
        return
    layout = _TEXTS.get(kind) if kind not in PLAIN_TYPES else None
    if layout is None and kind not in PLAIN_TYPES and kind is not tuple and kind is not list:
        layout = _text_layout(value)
    if layout is None or "%%" in layout[1]:
        yield model_json(value)
        return
    parts = layout[1].split("%s")
    for text, item in zip(parts, layout[0](value), strict=False):
        yield text
        yield from _model_texts(item, batch)
    yield parts[-1]


def _text_layout(value: Any) -> tuple[Callable[[Any], tuple[Any, ...]], str] | None:
    """The getter and template of a dataclass's encoding (None: not a dataclass)."""
    kind = type(value)
    if isinstance(value, Enum) or not dataclasses.is_dataclass(value) or isinstance(value, type):
        return None
    names = tuple(f.name for f in dataclasses.fields(value) if f.compare)
    _FIELDS.setdefault(kind, names)
    template = "".join(
        [
            '{"@":' + _json_string(kind.__name__).replace("%", "%%"),
            *(f",{_json_string(name).replace('%', '%%')}:%s" for name in names),
            "}",
        ]
    )
    if len(names) == 1:
        name = names[0]
        getter: Callable[[Any], tuple[Any, ...]] = lambda v: (getattr(v, name),)  # noqa: E731
    elif names:
        getter = operator.attrgetter(*names)
    else:
        getter = lambda v: ()  # noqa: E731
    found = _TEXTS[kind] = (getter, template)
    return found


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def decode_model(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        # plain values (most of a call site's fields) kept as they are without a call each
        return tuple(v if type(v) in PLAIN_TYPES else decode_model(v) for v in value)
    if kind is dict:
        if "@enum" in value:
            return _CLASSES[value["@enum"]](value["v"])
        cls = _CLASSES[value["@"]]
        return cls(
            **{
                k: v if type(v) in PLAIN_TYPES else decode_model(v)
                for k, v in value.items()
                if k != "@"
            }
        )
    if isinstance(value, list):
        return tuple(decode_model(v) for v in value)
    if isinstance(value, dict):
        return decode_model(dict(value))
    return value


__all__ = [
    "FORMAT",
    "PLAIN_TYPES",
    "FactsPack",
    "ImportsCache",
    "ImportsEntries",
    "ListingCache",
    "Manifest",
    "content_digest",
    "decode_model",
    "drop_facts",
    "encode_model",
    "facts_key",
    "json_chunks",
    "model_json",
    "model_json_chunks",
    "prepare",
    "read_cache_bytes",
    "read_cache_json",
    "read_facts",
    "read_only",
    "refresh_facts",
    "result_key",
    "write_cache_chunks",
    "write_cache_json",
    "write_facts",
]


class ListingCache:
    """The last listing, reused while nothing it depends on changed.

    A walk's listing depends on each directory's
    entries (their names and types) in the directories walked or checked for virtualenv and
    build markers, and on the ``.gitignore`` files read: a directory's mtime changes when an
    entry is created, deleted or renamed in it, and a ``.gitignore``'s when it is edited.
    Each of those paths is stamped before it is read; the listing is reused only when every
    stamp is unchanged and the root, ``exclude`` and decouple's code are the same. A walk that
    met a symlink or an unreadable entry is not kept (a link's target can change elsewhere),
    nor one that saw a path modified within the racy window (an edit in the same timestamp
    tick would keep its mtime).

    In a git work tree, git is asked every time (which files it tracks, which untracked
    ones its ignore rules leave: the index, every ignore file and git's configuration are
    its to read), and the listing is reused when each of its commands answers as it did
    (the digests of :data:`~decouple_services.core.git.GitAnswers`) and the folders
    its paths were read from (what each path is: a file, gone; virtualenv and build
    markers), and the ignore files read to decide on asking git, are stamped as they were.
    A listing that met a link or a nested repository is not kept.
    """

    def __init__(self, directory: Path, root: Path, exclude: Sequence[str]) -> None:
        self.path = root_file(directory, "listing", root)
        self.key = [FORMAT, code_version(), str(root), list(exclude)]
        self.root = str(root)
        #: The stamps the listing of this run was vouched for by (loaded and found
        #: unchanged, or saved); None when it was not.
        self.stamps: dict[str, list[int] | None] | None = None
        #: And git's answers, for a listing git made.
        self.git: GitAnswers | None = None

    def load(self, answers: GitAnswers | None = None) -> FileListing | None:
        """The kept listing, when its stamps (and, for one git made, git's ``answers``) are
        as they were."""
        from decouple_services.discover.files import FileListing

        try:
            data = _read_json(str(self.path))
            if data.get("key") != self.key or data.get("git") != answers:
                return None
            stamps = data["stamps"]
            if not isinstance(stamps, dict) or not stamps:
                return None
            for rel, stamp in stamps.items():
                if stamp_of(os.path.join(self.root, rel) if rel else self.root) != stamp:
                    return None
            listing = decode_model(data["listing"])
            python, deploy, other, diagnostics = listing
            if not (
                all(isinstance(p, str) for p in (*python, *deploy, *other))
                and all(isinstance(d, Diagnostic) for d in diagnostics)
            ):
                return None
            self.stamps, self.git = stamps, answers
            return FileListing(python=python, deploy=deploy, other=other, diagnostics=diagnostics)
        except Exception:  # a cache file may hold anything; it is rebuilt
            return None

    def save(
        self,
        listing: FileListing,
        stamps: dict[str, list[int] | None],
        answers: GitAnswers | None = None,
    ) -> None:
        now = time.time_ns()
        if any(stamp is not None and is_racy(stamp[0], now) for stamp in stamps.values()):
            return  # too recent to vouch for: listed again next time
        data = {
            "key": self.key,
            "stamps": stamps,
            "listing": encode_model(
                [listing.python, listing.deploy, listing.other, listing.diagnostics]
            ),
        }
        if answers is not None:
            data["git"] = answers
        prepare(self.path.parent)
        _write_json(str(self.path), data)
        self.stamps, self.git = stamps, answers
