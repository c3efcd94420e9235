"""The library API: one function per stage, and ``scan`` that runs them in order.

    discover files and services -> extract per-file facts (parallel, cached)
    -> build endpoints -> resolve call sites (wrappers included) -> ScanResult

The CLI is a thin layer over these functions; tests call them directly.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

from decouple_services.app.cache import (
    FactsPack,
    ImportsCache,
    ImportsEntries,
    ListingCache,
    Manifest,
    Stamp,
    collector_paused,
    content_digest,
    drop_facts,
    facts_key,
    read_facts,
    refresh_facts,
    result_key,
    write_facts,
)
from decouple_services.app.cache import (
    prepare as prepare_cache,
)
from decouple_services.app.cache import (
    read_only as read_only_cache,
)
from decouple_services.app.replay import CACHE_DIR_NAME
from decouple_services.core.config import Config, load_config
from decouple_services.core.errors import ConfigError, PathError
from decouple_services.core.fs import read_regular
from decouple_services.core.model import (
    CallSite,
    Category,
    Diagnostic,
    Endpoint,
    ScanResult,
    Service,
    Severity,
)
from decouple_services.core.provenance import is_generated
from decouple_services.core.records import record
from decouple_services.core.stamps import code_version
from decouple_services.discover.files import module_name

if TYPE_CHECKING:
    from concurrent.futures import Future

    # Analysis modules, and those of asking and of the scan's records, are imported where
    # used: a rerun that reuses its previous result, and `decouple --help`, never load them.
    from decouple_services.app.demand import Asked, ClientNames, Prefilter, Search
    from decouple_services.app.edits import EditRecord, KeptPasses, Query
    from decouple_services.app.incremental import SiteMemo
    from decouple_services.app.rereads import ImportGraph, KeptGraph, RecordedGraph
    from decouple_services.core.git import GitAnswers
    from decouple_services.detect.base import Detector
    from decouple_services.detect.extract import ExtractOptions
    from decouple_services.detect.facts import FileFacts
    from decouple_services.discover.files import FileListing
    from decouple_services.discover.found import ServiceDiscovery
    from decouple_services.resolve.index import ProjectIndex

#: Files larger than this are reported and skipped: generated code, vendored bundles.
MAX_FILE_BYTES = 1536 * 1024
#: Below this many files to parse, worker processes cost more than they save.
PARALLEL_THRESHOLD = 48
#: Extraction passes that learn wrapper helpers (one level of helper per pass).
MAX_WRAPPER_PASSES = 4

Progress = Callable[[int, int], None]

#: The cycle collector's thresholds while a scan runs. ``ast.parse`` allocates a node per
#: token, so with the default (700 allocations) the collector ran hundreds of times per file,
#: each time over every young tree and fact: a third of a large scan. Trees and facts hold
#: no cycles; turning the collector off entirely left other garbage and tripled memory.
GC_THRESHOLDS = (10_000, 10, 10)


@record(slots=False)
class ScanOptions:
    exclude: tuple[str, ...] = ()
    config_path: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    #: False: the cache folder is read when it exists, and nothing is written into it nor is
    #: it made (a migration's dry run leaves the scanned tree as it found it).
    write_cache: bool = True
    #: Parse every file the broad prefilter passes, as versions before on-demand parsing
    #: did, instead of the candidates and what resolution asks for. Same call sites, slower.
    full_parse: bool = False
    progress: Progress | None = field(default=None, compare=False)
    #: Told what each phase did, with the time since the scan started (``-v``).
    notes: Callable[[str], None] | None = field(default=None, compare=False)
    #: Told, when the cache vouches for the returned result, what it depends on: the
    #: listing's stamps and ``[size, mtime_ns, digest]`` (None: missing) of each file read,
    #: the key the result is kept under, and git's answers for a listing git made (see
    #: ``app/replay.py``).
    vouch: (
        Callable[
            [dict[str, list[int] | None], dict[str, list[Any] | None], str, GitAnswers | None],
            None,
        ]
        | None
    ) = field(default=None, compare=False)
    #: Asked, by :func:`scan_or_known` only, with the key of a kept result that a rerun
    #: returns as it is: True when the caller holds that result's output already, so the
    #: result need not be decoded (see ``app/replay.py``).
    known: Callable[[str], bool] | None = field(default=None, compare=False)


# --- stage: configuration -----------------------------------------------------------------


def load_configuration(root: Path, explicit: Path | None) -> tuple[Config, list[Diagnostic]]:
    """An explicit ``--config`` must be valid; a broken pyproject.toml is a diagnostic."""
    if explicit is not None:
        return load_config(root, explicit), []
    try:
        return load_config(root), []
    except ConfigError as exc:
        return Config(), [
            Diagnostic(exc.file or "pyproject.toml", 1, Severity.ERROR, "config-invalid", problem)
            for problem in exc.problems
        ]


# --- stage: per-file facts ----------------------------------------------------------------


def detection_options(
    detectors: Sequence[Detector], config: Config, wrapper_names: Iterable[str] = ()
) -> ExtractOptions:
    """Extraction options for a scan: the detectors' needs, configured clients, learned
    helper names, and every route extractor."""
    from decouple_services.detect.registry import extract_options
    from decouple_services.detect.servers import SERVER_EXTRACTORS

    return extract_options(
        detectors,
        custom_clients=(c.qualname for c in config.clients),
        wrapper_names=wrapper_names,
        server_extractors=SERVER_EXTRACTORS,
    )


def prefilter_tokens(options: ExtractOptions) -> tuple[bytes, ...]:
    """Substrings the everything-parsed path looks for: clients, servers, urls, settings."""
    from decouple_services.app.demand import broad_prefilter

    return broad_prefilter(options).tokens


def worth_parsing(source: bytes, tokens: tuple[bytes, ...], path: str = "") -> bool:
    """The everything-parsed path's byte prefilter: whether ``source`` may hold anything a
    scan reads. A package's ``__init__.py`` importing names is read for what it re-exports
    (``from .clients import Clients``), through which other modules name the classes they
    use."""
    from decouple_services.app.demand import CONFIG_IMPORT, Prefilter

    return Prefilter(tokens, (CONFIG_IMPORT,)).passes(source) or reexports(path, source)


def reexports(path: str, source: bytes) -> bool:
    """A package's ``__init__.py`` importing names: read whatever else it holds."""
    return path.endswith("__init__.py") and b"import" in source


def _fingerprint(options: ExtractOptions) -> str:
    """What a file's facts depend on besides its content and module name."""
    payload = json.dumps(
        [
            code_version(),
            sorted(options.client_modules),
            sorted(options.method_names),
            sorted(options.custom_clients),
            sorted(options.wrapper_names),
            [f"{f.__module__}.{f.__qualname__}" for f in options.server_extractors],
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _reject_key(fingerprint: str, prefilter: Prefilter) -> Callable[[str], str]:
    """Key of what ``prefilter`` rejected, remembered by digest in the manifest, for a
    module. A module inside a package that may pass where the same text elsewhere does not
    (``Prefilter.packages``: a framework's own) has rejections of its own."""
    payload = json.dumps([fingerprint, prefilter.key()])
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    packages = prefilter.packages()
    return lambda module: f"{key} {module}" if packages and module.startswith(packages) else key


@record
class _Job:
    """One file to extract: one per file of the tree while extraction runs (a slot for
    each field, the root's text shared: a 51,000-file tree's were 10 MB)."""

    root: str
    path: str
    module: str
    is_package: bool


#: What extracting one file tells the manifest: (size, mtime_ns) at read time, the content
#: digest, and whether the prefilter rejected it. None when the file was not read.
_Seen = tuple[int, int, str, bool] | None


def _extract_one(
    job: _Job,
    options: ExtractOptions,
    prefilter: Prefilter,
    cache: str | None,
    fingerprint: str,
    keep: Callable[[str, bytes], None] | None = None,
) -> tuple[FileFacts, _Seen, str | None]:
    """Facts of one file; every failure is a diagnostic (the file is the unit of failure).
    The third item is the cache key of facts computed here, for the caller to store.
    ``keep`` is given the text of a file the prefilter rejected."""
    from decouple_services.detect.extract import extract_facts
    from decouple_services.detect.facts import FileFacts

    full = os.path.join(job.root, job.path)
    try:
        # stat before reading: an edit during the read leaves a newer mtime than recorded
        stat = os.stat(full)
        size = stat.st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES / 2**20
            return (
                _skipped(
                    job,
                    Severity.NOTE,
                    "too-large",
                    f"{size / 1e6:.1f} MB is over the {limit:g} MiB limit (generated?); "
                    "file skipped",
                ),
                (size, stat.st_mtime_ns, f"size:{size}", True),
                None,
            )
        source = read_regular(full, MAX_FILE_BYTES)
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        return _skipped(job, Severity.WARNING, "unreadable", message), None, None
    digest = content_digest(source) if cache is not None else ""
    seen = (stat.st_size, stat.st_mtime_ns, digest, False)
    # Generated by a migration (the runtime, producers, consumers): its calls are
    # decouple's machinery, not the service's.
    if is_generated(source) or not (
        prefilter.passes(source, job.module)
        or (prefilter.reexports and reexports(job.path, source))
    ):
        if keep is not None:
            keep(job.path, source)
        return FileFacts(job.path, job.module), (*seen[:3], True), None
    key = None
    if cache is not None:
        key = facts_key(digest, job.module, fingerprint)
        cached = read_facts(cache, key, job.path)
        if cached is not None:
            return cached, seen, None
    facts = extract_facts(source, job.path, job.module, options, is_package=job.is_package)
    return facts, seen, key


def _skipped(job: _Job, severity: Severity, code: str, message: str) -> FileFacts:
    from decouple_services.detect.facts import FileFacts

    return FileFacts(
        job.path, job.module, diagnostics=(Diagnostic(job.path, 1, severity, code, message),)
    )


_Chunk = list[tuple[dict[str, Any], _Seen, str | None]]


def _extract_chunk(args: tuple[list[_Job], ExtractOptions, Prefilter, str | None, str]) -> _Chunk:
    jobs, options, prefilter, cache, fingerprint = args
    gc.set_threshold(*GC_THRESHOLDS)  # a worker process: see GC_THRESHOLDS
    out = []
    for job in jobs:
        facts, seen, key = _extract_one(job, options, prefilter, cache, fingerprint)
        out.append((facts.to_json(), seen, key))
    return out


def _workers(jobs: int | None) -> int:
    """How many processes extract in parallel, the calling one included."""
    # More workers than CPUs only adds processes (and their memory) competing for them.
    cpus = os.cpu_count() or 1
    return min(jobs, cpus) if jobs is not None else min(cpus, 8)


def start_workers(jobs: int | None, files: int) -> ProcessPoolExecutor | None:
    """Extraction's worker processes for ``files`` to parse, started now (None when
    :func:`extract_all` would parse them in this process alone).

    A forked worker starts with the resident memory of the process it is forked from, and
    the benchmark's peak is the sum over both: forked when extraction starts, it carries
    the listing, the discovery, the prefilter and every module imported by then (a
    51,000-file tree: 82 MiB at the end of extraction); forked before those, 49.
    Extraction shuts them down; a scan failing before or during it does
    (:func:`stop_workers`)."""
    workers = _workers(jobs)
    if workers <= 1 or files < PARALLEL_THRESHOLD:
        return None
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers - 1)
    # the workers are started by the first tasks given, not by the executor
    for _ in range(workers - 1):
        pool.submit(int)
    return pool


#: At least this much text to parse in one round of on-demand parsing (the files whose
#: facts the cache holds not counted) is shared out among new worker processes (about
#: 1.5 s of parsing here): starting one costs about 0.3 s of CPU and 30 to 40 MiB, which a
#: smaller round does not win back. polar's first round of asking holds 4.1 MB, prefect's
#: 13 MB: in a cold scan, the first round's workers take it (`WARM_PARALLEL_BYTES`).
LATE_PARALLEL_BYTES = 2 * 2**20
#: The same for the workers the scan started for its first round, still running: sharing
#: out costs them only the facts sent back (decoded here). homeassistant's first round of
#: asking parses 148 files (1.1 MB): shared out, 1.3 s of wall time instead of 1.6; netbox's
#: 55 files (462 KB) took longer.
WARM_PARALLEL_BYTES = 2**20
#: And at least this many files (a chunk for the workers, the rest for this process).
WARM_PARALLEL_FILES = 24
#: The first round's workers are kept for the first round of asking only in a tree of at
#: most this many Python files. The scan's memory peaks at its first resolution, while
#: they wait idle for what it asks (each holds 40 to 60 MiB by then), and grows with the
#: tree: a synthetic tree of 51,000 files peaked there at 254 MiB, 45 of them the
#: worker's; homeassistant's 7,978 files at 190, 62 the worker's.
WARM_MAX_FILES = 20_000


def _text_reaches(root: str, paths: Sequence[str], size: int) -> bool:
    """Whether the files ``paths`` under ``root`` hold ``size`` bytes or more."""
    total = 0
    for path in paths:
        try:
            total += os.stat(os.path.join(root, path)).st_size
        except OSError:
            continue  # the extraction reports it
        if total >= size:
            return True
    return False


def late_workers(jobs: int | None, root: str, paths: Sequence[str]) -> ProcessPoolExecutor | None:
    """Worker processes for ``paths`` (under ``root``), files of a round asked for on
    demand left to parse, when they hold :data:`LATE_PARALLEL_BYTES` or more (None: parse
    them in this process), started small: new interpreters (``spawn``), not forked from
    this process, whose resident memory by then holds the facts, the index and the texts
    searched, and which a forked worker would carry as its own (the benchmark's peak
    counts both). prefect's second round asks for 632 files: parsed in this process, they
    made the on-demand scan slower than parsing everything up front."""
    workers = _workers(jobs)
    if workers <= 1 or not _main_guarded() or not _text_reaches(root, paths, LATE_PARALLEL_BYTES):
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # children of this process, ended and waited for by the pool's shutdown: their time
    # is the scan's (a fork server's workers would be another process's children)
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers - 1, mp_context=context)


def _main_guarded() -> bool:
    """Whether a new interpreter may import this program's main module, as ``spawn``
    has its workers do: the ``decouple`` command (its script calls the entry's
    ``main`` under ``if __name__ == "__main__"``), ``python -m decouple_services``, or a
    program without a main file (``python -c``, a notebook). A script of its own calling
    :func:`scan` unguarded would run again in each worker: its files are parsed here."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__file__", None) is None:
        return True
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return bool(spec.name == "decouple_services.__main__")
    entry = getattr(main, "main", None)
    return getattr(entry, "__module__", None) == "decouple_services.cli.entry"


def stop_workers(pool: ProcessPoolExecutor | None) -> None:
    """Shut down ``pool``'s workers and wait for them to end (done already: nothing), on a
    scan's failure: garbage collection or the end of the process would do it, later."""
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def extract_all(
    root: Path,
    paths: Sequence[str],
    options: ExtractOptions,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    all_files: Sequence[str] | None = None,
    manifest: Manifest | None = None,
    prefilter: Prefilter | None = None,
    rejected: set[str] | None = None,
    computed: list[tuple[str, str]] | FactsPack | None = None,
    keys: dict[str, str] | None = None,
    freeze: bool = False,
    texts: Callable[[str, bytes], None] | None = None,
    workers: ProcessPoolExecutor | None = None,
    late: bool = False,
    keep_workers: bool = False,
) -> list[FileFacts]:
    """Facts for every file in ``paths``, in the same order.

    ``all_files`` is every Python file of the tree (default: ``paths``); module names depend
    on which ``__init__.py`` files exist. With a ``manifest``, files whose size and mtime it
    knows are neither read nor hashed: their facts come straight from the cache.
    ``prefilter`` decides which files are parsed (default: the everything-parsed path's);
    the others get empty facts, and their paths are added to ``rejected``. Facts parsed
    here are stored in the cache as one pack, or added to ``computed`` (key, JSON text) for
    the caller to store with those of its other passes. ``keys`` is given the cache key
    of each file's facts (by path) when a cache is used. With ``freeze``, the facts read
    from the cache are moved out of the cycle collector's sight (``gc.freeze``: see
    :func:`scan_or_known`). ``texts`` is given the text of each rejected file read in this
    process (``_Texts.keep``: the scan's searches read them next). ``workers`` are worker
    processes started earlier (:func:`start_workers`), used instead of new ones when the
    files to parse are shared out, and shut down by this call unless ``keep_workers``
    (the caller then does). ``late``: the files are a round asked for on demand, shared
    out among ``workers`` when those to parse reach :data:`WARM_PARALLEL_FILES` and
    :data:`WARM_PARALLEL_BYTES`, without them among new ones when they are many and large
    (:func:`late_workers`), parsed in this process otherwise.
    """
    from decouple_services.app.demand import broad_prefilter
    from decouple_services.detect.facts import FileFacts, cache_text

    python_files = frozenset(all_files if all_files is not None else paths)
    root_text = str(root)
    work = [_Job(root_text, p, *module_name(p, python_files)) for p in paths]
    if prefilter is None:
        prefilter = broad_prefilter(options)
    fingerprint = _fingerprint(options)
    reject_key = _reject_key(fingerprint, prefilter)
    cache = str(cache_dir) if cache_dir is not None else None
    if cache is not None and prepare_cache(Path(cache), follow_link=True) is not None:
        cache = None
    if cache is None:
        manifest = None
    else:
        refresh_facts(cache)
    store = computed is None
    if computed is None:
        computed = []
    results: list[FileFacts | None] = [None] * len(work)
    pending: list[int] = []
    if manifest is not None and cache is not None:
        # The collector off while the cache's facts are decoded, and those facts, alive
        # until the scan ends, then out of its sight: each object it tracks is otherwise
        # walked by a collection of each of the two younger generations before it settles
        # in the oldest (a tenth of a rerun after one edit, the facts most of it). Only
        # when facts were decoded: freezing takes every object alive, and a scan that
        # parses instead (a cold one) leaves its garbage to the collector.
        with collector_paused():
            decoded = False
            for i, job in enumerate(work):
                hit, key = _known(job, manifest, cache, fingerprint, reject_key(job.module))
                if hit is None:
                    pending.append(i)
                    continue
                if hit is False or hit is True:
                    if rejected is not None:
                        rejected.add(job.path)
                    hit = FileFacts(job.path, job.module)
                else:
                    decoded = True
                    if keys is not None and key is not None:
                        keys[job.path] = key
                results[i] = hit
            if freeze and decoded:
                gc.freeze()
    else:
        pending = list(range(len(work)))
    own_workers = workers is not None and not keep_workers
    if late:
        # only the files to parse count: a rerun has most of a round's facts in the cache
        # (polar's first round, 326 files, 4.6 MB, started workers for none to parse)
        left = [work[i].path for i in pending]
        if workers is not None:
            if len(left) < WARM_PARALLEL_FILES or not _text_reaches(
                root_text, left, WARM_PARALLEL_BYTES
            ):
                jobs = 1
        elif len(left) >= PARALLEL_THRESHOLD:
            workers = late_workers(jobs, root_text, left)
            own_workers = workers is not None
        if workers is None:
            jobs = 1
    total = len(work)
    done = total - len(pending)

    def seen(
        job: _Job, facts: FileFacts, info: _Seen, key: str | None, data: dict[str, Any] | None
    ) -> FileFacts:
        if key is not None and computed is not None:
            computed.append((key, facts.to_cache() if data is None else cache_text(data)))
        if info is not None and info[3] and rejected is not None:
            rejected.add(job.path)
        if keys is not None and info is not None and not info[3] and info[2]:
            # the key the facts were computed under, made again only for facts the cache had
            keys[job.path] = key if key is not None else facts_key(info[2], job.module, fingerprint)
        if manifest is not None and info is not None:
            size, mtime_ns, digest, was_rejected = info
            manifest.record_stat(job.path, size, mtime_ns, digest)
            if was_rejected:
                manifest.reject(reject_key(job.module), digest)
        return facts

    count = _workers(jobs)  # as start_workers counted them for the same ``jobs``
    # (a round asked for on demand was decided on above)
    if count <= 1 or (not late and len(pending) < PARALLEL_THRESHOLD):
        if own_workers and workers is not None:
            workers.shutdown()
        for n, i in enumerate(pending, start=1):
            facts, info, key = _extract_one(work[i], options, prefilter, cache, fingerprint, texts)
            results[i] = seen(work[i], facts, info, key, None)
            if progress is not None and (n % 50 == 0 or n == len(pending)):
                progress(done + n, total)
    else:
        # The calling process works too: one worker process fewer. The workers end with
        # this call: the scan's later calls parse a few files each, in this process.
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        size = max(16, len(pending) // (count * 8))
        chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
        pool = workers if workers is not None else ProcessPoolExecutor(max_workers=count - 1)
        try:
            queued: dict[Future[_Chunk], list[int]] = {}
            upcoming = iter(chunks)

            def submit() -> bool:
                chunk = next(upcoming, None)
                if chunk is None:
                    return False
                args = ([work[i] for i in chunk], options, prefilter, cache, fingerprint)
                queued[pool.submit(_extract_chunk, args)] = chunk
                return True

            def collect(future: Future[_Chunk]) -> None:
                nonlocal done
                chunk = queued.pop(future)
                for i, (data, info, key) in zip(chunk, future.result(), strict=True):
                    results[i] = seen(work[i], FileFacts.from_json(data), info, key, data)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)

            for _ in range(2 * (count - 1)):
                submit()
            while True:
                for future in [f for f in queued if f.done()]:
                    collect(future)
                    submit()
                chunk = next(upcoming, None)
                if chunk is None:
                    break
                for i in chunk:  # this process's share, while the workers do theirs
                    facts, info, key = _extract_one(
                        work[i], options, prefilter, cache, fingerprint, texts
                    )
                    results[i] = seen(work[i], facts, info, key, None)
                done += len(chunk)
            for future in list(queued):
                collect(future)
        except BrokenProcessPool:
            # a worker ended before its work was done (killed for its memory, say): the
            # files not parsed yet are parsed here, as with one process
            for i in pending:
                if results[i] is None:
                    facts, info, key = _extract_one(
                        work[i], options, prefilter, cache, fingerprint, texts
                    )
                    results[i] = seen(work[i], facts, info, key, None)
        finally:
            if pool is not workers or own_workers:
                pool.shutdown()
    if cache is not None and store:
        write_facts(cache, computed)
    return [r for r in results if r is not None]


def _known(
    job: _Job, manifest: Manifest, cache: str, fingerprint: str, reject_key: str
) -> tuple[FileFacts | bool | None, str | None]:
    """Facts of a file the manifest knows unchanged, from the cache (False when the
    prefilter rejected it), with their cache key; None to read it."""
    if job.path not in manifest.files:
        # no digest to find by its stat (a cold scan: every file, a stat each for nothing)
        return None, None
    try:
        stat = manifest.stat(job.path)
    except OSError:
        return None, None
    digest = manifest.digest(job.path, stat)
    if digest is None or stat.st_size > MAX_FILE_BYTES:
        return None, None
    if manifest.is_rejected(reject_key, digest):
        return False, None
    key = facts_key(digest, job.module, fingerprint)
    return read_facts(cache, key, job.path), key


# --- the whole scan -----------------------------------------------------------------------


def scan(root: Path | str, options: ScanOptions | None = None) -> ScanResult:
    """Scan the repository at ``root``: every inter-service call, resolved to its callee."""
    result = scan_or_known(root, replace(options or ScanOptions(), known=None))
    assert result is not None  # only ``options.known`` makes it None
    return result


def scan_or_known(root: Path | str, options: ScanOptions | None = None) -> ScanResult | None:
    """:func:`scan`, or None when the result is a kept one whose key ``options.known``
    accepted: the caller has its output (a rerun after edits that change nothing, whose
    result would otherwise be decoded only to be rendered into the same text)."""
    # see GC_THRESHOLDS: from the start, the checks of a rerun and the result's storing too
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    # The facts read from the cache are moved out of the collector's sight as they are
    # read (``extract_all``'s ``freeze``) and back at the end, unless something else keeps
    # objects there already (an application freezing its heap before forking workers):
    # ``gc.unfreeze`` would take those back too.
    freeze = gc.get_freeze_count() == 0
    options = options or ScanOptions()
    folder = None
    if options.use_cache and not options.write_cache:
        folder = options.cache_dir or Path(root).resolve() / CACHE_DIR_NAME
    try:
        with read_only_cache(folder):
            passes_as_kept = True
            dropped: set[str] = set()
            while True:
                try:
                    return _scan_or_known(
                        root, options, passes_as_kept=passes_as_kept, freeze=freeze
                    )
                except _PassesDiffer:
                    passes_as_kept = False
                except Exception as exc:
                    # imported here: a rerun answered before extracting anything imports
                    # no facts
                    from decouple_services.detect.facts import UndecodableFacts

                    # a damaged cache entry, found when its calls were first used: the
                    # scan runs again without it (that file's facts extracted again)
                    if not isinstance(exc, UndecodableFacts) or exc.key in dropped:
                        raise
                    dropped.add(exc.key)
                    drop_facts(exc.key)
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


class _ReadsNoted:
    """The tap of an index resolving edited files alone (``KeptPasses``): its reads are
    the scan's (the record of what a rerun read holds every pass's), those of ``module``'s
    own definitions apart, as a file's resolution notes them (``SiteMemo.read``)."""

    def __init__(self, memo: SiteMemo, module: str) -> None:
        self.memo = memo
        self.prefix = module + "." if module else ""

    def read(self, table: str, key: Any) -> None:
        if key == "*":
            self.memo.scan_walked.add(table)
            return
        read = (table, key)
        self.memo.scan_reads.add(read)
        if not (self.prefix and isinstance(key, str) and key.startswith(self.prefix)):
            self.memo.scan_foreign.add(read)

    def asks(self, item: Any) -> None:
        pass


class _PassesDiffer(Exception):
    """The helper passes a rerun took as the last scan's were not those it would have made
    (``app/edits.py``'s ``KeptPasses``): it runs again, pass by pass."""


def _scan_or_known(
    root: Path | str,
    options: ScanOptions | None,
    passes_as_kept: bool = True,
    freeze: bool = False,
) -> ScanResult | None:
    options = options or ScanOptions()
    root = Path(root)
    if not root.exists():
        raise PathError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise PathError(f"{root}: not a directory (decouple scans a repository folder)")
    from decouple_services.discover.files import list_files

    root = root.resolve()
    started = time.perf_counter()

    def note(message: str) -> None:
        if options.notes is not None:
            options.notes(f"{time.perf_counter() - started:6.2f} s  {message}")

    config, diagnostics = load_configuration(root, options.config_path)
    cache_dir = None
    if options.use_cache:
        cache_dir = options.cache_dir or root / CACHE_DIR_NAME
        problem = None
        if options.write_cache or os.path.lexists(cache_dir):
            problem = prepare_cache(cache_dir, follow_link=options.cache_dir is not None)
        else:
            cache_dir = None  # none to read, and none to make
        if problem is not None:
            diagnostics.append(
                Diagnostic(
                    CACHE_DIR_NAME if options.cache_dir is None else str(options.cache_dir),
                    0,
                    Severity.WARNING,
                    "cache-unusable",
                    f"{problem}; scanning without a cache",
                )
            )
            cache_dir = None
    exclude = (*config.exclude, *options.exclude)
    listing_cache = ListingCache(cache_dir, root, exclude) if cache_dir is not None else None
    listing = list_files(root, exclude, listing_cache)
    note(f"listed {len(listing.python)} Python files")
    manifest = None
    inputs: _Inputs | None = None
    #: The files the last scan parsed on demand in each helper pass (its edit record, for
    #: the same base inputs).
    last_passes: Sequence[Sequence[str]] = ()
    #: The last scan's import graph, for a rerun whose edits keep every import of the tree
    #: (given the graph's build, for the modules the last scan kept no answers for).
    keep_graph: Callable[[Callable[[], ImportGraph]], tuple[KeptGraph, list[Any]] | None] | None
    keep_graph = None
    entries: ImportsEntries | None = None
    #: The last scan's record, for the same base inputs.
    same_base: EditRecord | None = None
    #: Whether the cache knows files of the tree from a last scan (which this one reads
    #: instead of parsing them).
    known_files = False
    if options.use_cache and cache_dir is not None:
        manifest = Manifest(cache_dir, root)
        known_files = bool(manifest.files)
        inputs = _Inputs(root, listing, config, diagnostics, options, manifest)
        previous = inputs.previous_result()
        if previous is not None:
            note("no input changed since the last scan: its result reused")
            _vouch(options, root, listing_cache, manifest, listing)
            return previous
        loaded: list[EditRecord] = []
        if not options.full_parse and not config.clients:
            reused = _after_neutral_edits(
                root, listing, config, inputs, manifest, options.known, loaded
            )
            if reused is not None:
                note(
                    "the files edited since the last scan change nothing it read: its result reused"
                )
                _vouch(options, root, listing_cache, manifest, listing)
                return None if reused is _KNOWN else reused
        if not options.full_parse:
            last = loaded[0] if loaded else _edit_record(cache_dir, root)
            if last is not None and last.base == inputs.base_digest():
                last_passes = last.passes or ()
                same_base = last
                changed = inputs.changed_python()
                if last.graph is not None and last.packages is not None and changed is not None:
                    entries = ImportsEntries(cache_dir, root, last.packages)
                    edited = {p: (d, inputs.before[p], a) for p, (d, _, a) in changed.items()}
                    keep_graph = functools.partial(
                        last.kept_graph, list(listing.python), edited, entries
                    )
        inputs.hash_deploy_files()
    # A scan that parses the whole tree (none of it known from a last scan) starts its
    # extraction's workers now, while this process holds little (see start_workers).
    early_workers = None if known_files else start_workers(options.jobs, len(listing.python))
    # one pack of new facts for the whole scan, written as they come and put in place when
    # it is done
    computed: list[tuple[str, str]] | FactsPack = (
        [] if cache_dir is None else FactsPack(str(cache_dir))
    )
    try:
        from decouple_services.app.rereads import Helper
        from decouple_services.app.rereads import select as select_rereads
        from decouple_services.detect.registry import build_detectors
        from decouple_services.discover.files import categorize
        from decouple_services.discover.found import ServiceOwners
        from decouple_services.resolve.calls import CallResolver, EndpointMatches
        from decouple_services.resolve.endpoints import build_endpoints, match_endpoint
        from decouple_services.resolve.hosts import HostMap
        from decouple_services.resolve.index import IndexTables, ProjectIndex

        diagnostics.extend(listing.diagnostics)
        discovery = None
        #: What discovery found, as a digest (the edit record's), once known.
        discovery_digest: str | None = None
        if same_base is not None and cache_dir is not None and inputs is not None:
            edited_now = inputs.changed_python()
            if edited_now is not None and same_base.discovery_code_unread(edited_now):
                # discovery read none of the edited files, and its other inputs are as they were
                # (as for a neutral edit): it would find what the last scan's found
                from decouple_services.app.edits import kept_discovery

                discovery = kept_discovery(cache_dir, root, same_base, _discovery_digest)
                if discovery is not None:
                    discovery_digest = same_base.discovery
                    note("discovery as the last scan's")
        if discovery is None:
            # its readers of deployment formats imported only when it runs
            from decouple_services.discover.services import discover_services

            discovery = discover_services(
                root, listing, config, None if manifest is None else _Programs(root, manifest)
            )
            if cache_dir is not None and not options.full_parse:
                from decouple_services.app.edits import save_discovery

                discovery_digest = _discovery_digest(discovery)
                save_discovery(cache_dir, root, discovery, discovery_digest)
        diagnostics.extend(discovery.diagnostics)
        detectors = build_detectors(config)

        services = list(discovery.services)
        note(f"discovered {len(services)} services")

        owners: dict[str, str | None] = {}
        roots: dict[str, str] = {}
        owners_for: list[list[Service]] = [services]
        by_folder: list[ServiceOwners] = []

        def service_of(path: str) -> str | None:
            # asked for every call, constant and route: remembered while `services` stays
            if owners_for[0] is not services:
                owners.clear()
                owners_for[0] = services
                roots.clear()
                by_folder.clear()
            if not roots:
                roots.update((s.name, s.root) for s in services)
            if not by_folder:
                by_folder.append(ServiceOwners(services))
            if path in owners:
                return owners[path]
            # Code outside every service (scripts/, loadtest/) is named after its top folder (a
            # file at the top, `.`), and so is a top-level tests/ or scripts/ folder that only a
            # service rooted at the whole repository would hold: those are not part of what that
            # service deploys.
            owner = by_folder[0].owner(path)
            top = path.split("/", 1)[0] if "/" in path else None
            if path in discovery.apart and top is not None:
                # a program of its own beside a server program: no part of that server
                owner = top
            elif owner is None:
                owner = top or "."
            elif (
                top is not None
                and roots.get(owner) == "."
                and (
                    categorize(top + "/x.py", config) is not Category.PRODUCTION
                    or top in discovery.unshipped
                )
            ):
                owner = top
            owners[path] = owner
            return owner

        def category_of(path: str) -> Category:
            return categorize(path, config)

        python = list(listing.python)
        extract_options = detection_options(detectors, config)
        demand = None if options.full_parse else _Demand(root, python, config, extract_options)
        unparsed: set[str] = set()
        if demand is not None:
            demand.texts.unparsed = unparsed
        #: path -> the cache key of its facts: what an earlier resolution of it is kept by
        facts_keys: dict[str, str] = {}
        # whether the workers stay for the first round of asking (see `warm` below)
        keep_warm = demand is not None and len(python) <= WARM_MAX_FILES
        facts = extract_all(
            root,
            python,
            extract_options,
            jobs=options.jobs,
            cache_dir=cache_dir,
            progress=options.progress,
            manifest=manifest,
            computed=computed,
            prefilter=None if demand is None else demand.candidates(extract_options),
            rejected=unparsed,
            keys=facts_keys,
            freeze=freeze,
            texts=None if demand is None else demand.texts.keep,
            workers=early_workers,
            keep_workers=keep_warm,
        )
        by_path = {f.path: f for f in facts}
        note(f"read {len(facts)} files, parsed {len(facts) - len(unparsed)}")
        # The first round's workers stay for the first round of asking, which shares out
        # what it parses when it is much (`WARM_PARALLEL_BYTES`), and end with it: a worker
        # holds some 30 MiB by then, less than a new one (polar's round of 242 files
        # started one: 45 MiB with its resource tracker), and is ready at once. The later
        # rounds parse a few files each, here, or share out much among workers started
        # small (`late_workers`): one forked now would start as large as this process.
        # Not in a tree of more than WARM_MAX_FILES files, whose first resolution is the
        # scan's peak of memory: the worker, idle then, would add its own to it.
        warm = [early_workers] if early_workers is not None and keep_warm else []
        #: The import graph's files read by those workers meanwhile, once the first
        #: resolution found helpers to follow (the helper passes build the graph).
        ahead: _ImportsAhead | None = None

        def reparse(paths: list[str], with_options: ExtractOptions, asking: bool = False) -> bool:
            """Extract ``paths`` again into the scan's facts; whether any gives something
            resolution reads. A round of ``asking`` takes the first round's workers if they
            are still there (`warm`): they end with it."""
            nonlocal facts
            inert = True
            for fresh in extract_all(
                root,
                paths,
                with_options,
                jobs=options.jobs,
                late=True,
                workers=_warm_workers(warm, ahead) if asking else None,
                cache_dir=cache_dir,
                all_files=python,
                manifest=manifest,
                computed=computed,
                keys=facts_keys,
                freeze=freeze,
            ):
                by_path[fresh.path] = fresh
                inert = inert and _inert(fresh)
            unparsed.difference_update(paths)
            if demand is not None:
                demand.texts.forget(paths)
            if searches is not None:
                searches.forget(paths)
            facts = [by_path[p] for p in python]
            return not inert

        #: The files parsed on demand in each helper pass, for the next scan (see `seed`).
        passes: list[list[str]] = [[]]

        def parse(paths: list[str], asking: bool = False) -> bool:
            """Parse what resolution asks for; whether any of it can change resolution.

            Through the everything-parsed path's prefilter: a file that path would not
            parse gives nothing here either, so results agree."""
            passes[-1].extend(paths)
            changed = reparse(paths, extract_options, asking)
            note(f"parsed {len(paths)} more files that resolution asks for")
            return changed

        from decouple_services.app.asking import asking_index
        from decouple_services.app.demand import Asked, RoundMemo, searched
        from decouple_services.app.edits import EditRecord
        from decouple_services.app.incremental import SearchMemo, SiteMemo

        asked = Asked()
        index_type: Callable[..., ProjectIndex] = ProjectIndex
        # With a cache, each file's resolution is kept with the definitions it read and
        # reused while they are unchanged (`app/incremental.py`); `--no-cache` resolves
        # everything afresh, the reference the reuse is tested against.
        memo = SiteMemo.load(asked, cache_dir, root) if cache_dir is not None else None
        if memo is not None:
            memo.facts_keys = facts_keys
        # Without one, each file's resolution is still kept from one round of asking to the
        # next while what it read is the same (`--full-parse` resolves afresh: the reference)
        rounds = RoundMemo() if memo is None and demand is not None else None
        reusing: SiteMemo | RoundMemo | None = memo if memo is not None else rounds
        if demand is not None or memo is not None:
            index_type = asking_index(asked, reusing)
        searches = None
        if demand is not None and cache_dir is not None and manifest is not None:
            files = manifest.files

            def content(path: str) -> str | None:
                """The digest of ``path`` as this scan read it; None for a file it could
                not read whole (its facts say why), which every search reads again."""
                entry = files.get(path)
                facts_of = by_path.get(path)
                if entry is None or facts_of is None or facts_of.diagnostics:
                    return None
                found: str = entry[2]
                return found

            searches = SearchMemo.load(cache_dir, root, python, content)
            demand.search = searches.search

        def seed(number: int) -> None:
            """Parse up front the files the last scan parsed on demand in helper pass
            ``number`` (an unchanged file's facts come from the cache): its rounds of
            asking found them one round at a time, and a rerun found them again the same
            way, resolving the whole tree in each round (polar: three resolutions in the
            first pass). Parsing more files than asked for gives the result asking gives
            (on-demand parsing agrees with `--full-parse`, which parses every file), and
            the rounds still run until resolution asks for nothing new: a file the edits
            ask for is parsed as in any scan. Pass by pass, so that each pass resolves
            with the files it had in the last scan and learns the helpers it learned: the
            files a helper pass extracts again, and the names it extracts them with, are
            those of the last scan, whose facts and searches are kept."""
            if demand is not None and number < len(last_passes):
                wanted = [p for p in last_passes[number] if p in unparsed]
                if wanted:
                    parse(wanted)

        if demand is not None:
            first = demand.initial(unparsed)
            if first:
                parse(first)
        # Matching a configured client's positional arguments needs the functions' signatures.
        detectors = build_detectors(config, functions=[fn for f in facts for fn in f.functions])
        if demand is not None:
            demand.detectors = detectors

        services = _with_code_ports(services, facts, service_of)
        hosts = HostMap(
            services,
            dict(discovery.infra_hosts),
            discovery.gateway_routes,
            discovery.infra_ports,
        )
        known_wrappers: set[str] = set()
        #: Files a helper pass extracted again with the helpers' names.
        reread: set[str] = set()
        graphs: list[ImportGraph] = []
        kept: list[tuple[KeptGraph, list[Any]]] = []

        def graph() -> ImportGraph:
            if not graphs:
                build = functools.partial(
                    _import_graph,
                    root,
                    python,
                    cache_dir,
                    manifest,
                    read=None if demand is None else demand.read,
                    ahead=ahead,
                )
                found = None if keep_graph is None else keep_graph(build)
                if found is not None:
                    kept.append(found)
                graphs.append(build() if found is None else found[0])
            return graphs[0]

        matches = EndpointMatches()
        # each round's index is the last one's tables brought up to date with what changed
        tables = IndexTables()
        kept_passes = None
        if passes_as_kept and same_base is not None and memo is not None and demand is not None:
            kept_passes = _kept_passes(
                same_base, inputs, by_path, unparsed, extract_options, cache_dir, demand
            )

        def resolving(
            make_index: Callable[..., ProjectIndex],
            read: Callable[[str], Any] | None,
            shared: EndpointMatches | None,
        ) -> tuple[list[Endpoint], list[Diagnostic], CallResolver]:
            """The endpoints of the files parsed so far, read through an index of them made
            by ``make_index`` (their constants' reads noted by ``read``), and a resolver
            over both."""
            index = make_index(
                facts,
                services,
                service_of,
                discovery.global_env,
                dict(discovery.infra_hosts),
                is_test=lambda path: category_of(path) is Category.TEST,
                prebuilt=tables,
            )
            found, diagnostics = build_endpoints(
                facts,
                service_of,
                index.lookup(None),
                read,
                discovery.proto_services,
                index.table("constants"),
            )
            found = _at_handler_definitions(found, index)
            resolver = CallResolver(
                index,
                detectors,
                hosts,
                found,
                category_of,
                match_endpoint,
                discovery.grpc_servicers,
                shared,
            )
            return found, diagnostics, resolver

        def alone(names: set[str]) -> bool:
            """Whether the edited files the last scan never parsed, each resolved alone with
            the files of a helper pass taken as the last scan's and that pass's helpers
            (invoked by ``names``), find no helper and ask for no file the last scan had not
            parsed by the end of that pass, but files with no text (``KeptPasses``)."""
            assert kept_passes is not None and demand is not None and memo is not None
            looked_up = Asked()
            modules = {by_path[p].module for p in kept_passes.unparsed}
            noted = _ReadsNoted(memo, next(iter(modules)) if len(modules) == 1 else "")
            # the index and the endpoints of the pass's last round, its lookups noted apart
            resolver = resolving(asking_index(looked_up, noted), None, None)[2]
            if not all(resolver.alone(by_path[p], names) for p in sorted(kept_passes.unparsed)):
                return False
            asked_for = sorted(demand.asked_for(looked_up, unparsed))
            # a file with no text gives no fact: parsed in this pass, as a scan would, it
            # changes nothing any pass reads
            texts = [demand.read(p) for p in asked_for]
            if not all(text is not None and not text.strip() for text in texts):
                return False
            if asked_for:
                parse(asked_for)
            return True

        #: Whether a round of asking parsed files that can change resolution, each helper
        #: pass learned (new names, helpers looked for), and whether the passes ended
        #: learning nothing new.
        parsed_in_rounds = False
        learned: list[list[Any]] = []
        settled = False
        # Helpers calling helpers are learned one level per pass.
        for number in range(MAX_WRAPPER_PASSES):
            if number:
                passes.append([])
            seed(number)
            taken = None if kept_passes is None else kept_passes.helpers_of(number)
            if (
                taken is not None
                and kept_passes is not None
                and kept_passes.unparsed
                and not alone(known_wrappers | taken[0])
            ):
                raise _PassesDiffer
            while taken is None:
                endpoints, endpoint_diags, resolver = resolving(
                    index_type,
                    None if memo is None else functools.partial(memo.read, "constants"),
                    matches,
                )
                if reusing is not None:
                    reusing.context(
                        [
                            repr(config),
                            repr(services),
                            sorted(discovery.apart),
                            sorted(discovery.unshipped),
                            _signatures(detectors),
                        ],
                        [
                            repr(endpoints),
                            sorted(discovery.infra_hosts.items()),
                            sorted(discovery.gateway_routes.items()),
                            sorted(discovery.infra_ports.items()),
                            repr(discovery.global_env),
                            repr(discovery.grpc_servicers),
                        ],
                    )
                resolution = resolver.resolve(reusing)
                # (the first round's workers are there in the first round of asking only)
                if warm and resolution.wrappers and len(python) >= GRAPH_AHEAD_FILES:
                    ahead = _ImportsAhead(warm[0], root, python, digests=cache_dir is not None)
                wanted = [] if demand is None else demand.wanted(asked, facts, unparsed, graph)
                # files holding nothing resolution reads (an empty `__init__.py`): the
                # resolution just made stands
                more = bool(wanted) and parse(wanted, asking=True)
                if warm:  # the first round of asking asked for nothing
                    stop_workers(_warm_workers(warm, ahead))
                parsed_in_rounds = parsed_in_rounds or more
                if not more:
                    break
            if taken is not None:
                # a pass before the last, as the last scan made it (``KeptPasses``)
                new = taken[0] - known_wrappers
                helpers = [Helper(q, m) for q, m in taken[1]]
                note(f"helper pass {number + 1} as the last scan's: {len(new)} new helper(s)")
            else:
                names = {n for w in resolution.wrappers.values() for n in w.invoked_as}
                new = names - known_wrappers
                note(
                    f"resolved {len(resolution.call_sites)} call sites"
                    + (f"; {len(new)} new wrapper helper(s) to follow" if new else "")
                )
                if not new:
                    settled = True
                    break
                helpers = [
                    Helper(q, w.is_method)
                    for q, w in resolution.wrappers.items()
                    if new.intersection(w.invoked_as)
                ]
            known_wrappers |= new
            # Next pass: files that may invoke a new helper (they name it and are connected
            # to its module by imports) are re-read for its invocations. Any other file would
            # give what it gave with the names known before.
            wrapper_options = detection_options(detectors, config, known_wrappers)

            def select(paths: list[str], helpers: list[Helper] = helpers) -> list[str]:
                return select_rereads(
                    paths,
                    helpers,
                    graph(),
                    demand.read if demand is not None else functools.partial(_read_in, str(root)),
                    demand.search if demand is not None else searched,
                )

            # the graph built or kept now, before ``kept`` says which: a first pass taken
            # as the last scan's otherwise found it empty and searched every file again
            # (homeassistant's rerun after an edit: 7,978 files for 14 helpers)
            graph()
            if taken is not None and taken[2] is not None and kept:
                # the import graph is the last scan's: only the edited files' texts may
                # decide otherwise than in its pass
                assert kept_passes is not None
                changed_now = kept_passes.edited
                chosen = {p for p in taken[2] if p not in changed_now}
                chosen.update(select([p for p in python if p in changed_now]))
                again = [p for p in python if p in chosen]
            else:
                again = select(python)
            learned.append([sorted(new), [[h.qualname, h.is_method] for h in helpers], again])
            if demand is not None:
                demand.queries.append(
                    ["helpers", sorted([h.qualname, h.is_method] for h in helpers)]
                )
            reread.update(again)
            reparse(again, wrapper_options)
        if kept_passes is not None:
            assert memo is not None and demand is not None
            if not kept_passes.check(
                resolution.wrappers,
                parsed_in_rounds,
                memo.variants,
                memo.current_pass,
                by_path.__getitem__,
                # the last round of asking found them, when there were files to parse
                lambda: (
                    demand.clients if unparsed else _client_names(facts, extract_options, detectors)
                ),
            ):
                raise _PassesDiffer
            # what the passes taken as they were read and searched (the same as then)
            kept_passes.replay(memo.scan_reads, memo.scan_foreign, memo.scan_walked, demand.queries)
            note("the helper passes before the last taken as the last scan's")

    except BaseException:
        if isinstance(computed, FactsPack):
            computed.discard()
        stop_workers(early_workers)
        raise
    stop_workers(early_workers)  # when the rounds of asking were not reached
    if demand is not None:
        from decouple_services.app.edits import FOLLOWING_IMPORTS

        if graphs or not any(kind in FOLLOWING_IMPORTS for kind, _ in demand.queries):
            # the searches are done, and the import graph, which reads the texts too, is
            # built or will not be: the kept texts (up to KEPT_TEXT_BYTES) go before the
            # writes, which are the scan's peak of memory
            demand.texts.close()
    # The cache's writes with the collector off (as its decoding, ``collector_paused``):
    # their encodings are acyclic pieces freed as they are written, and the collections
    # they set off walked the scan's objects for none (homeassistant, a cold scan: one of
    # them a full collection, a fifth of a second).
    with collector_paused():
        if cache_dir is not None and computed:
            write_facts(str(cache_dir), computed)
        if kept and not kept[0][0].built and entries is not None:
            # the graph was not built, which writes every file's imports: the edited
            # files' new entries, which the next rerun's checks compare with
            for entry in kept[0][1]:
                entries.put(*entry)
            entries.save()
            note("the last scan's import graph kept")
        if memo is not None and cache_dir is not None:
            note(f"resolved {memo.fresh} files afresh, reused {memo.reused} earlier resolutions")
            memo.save(cache_dir, root, python)
        if searches is not None and cache_dir is not None:
            note(
                f"text searches read {searches.read} files, took {searches.recalled} answers "
                "from the last scan's"
            )
            searches.save(cache_dir, root)
    # The edit record needs the memo's reads alone: the memo (its entries, its kept
    # resolutions) goes now, before the last writes, which are the scan's peak of memory.
    # Nothing else holds it (the indexes hold their tap weakly, ``app/asking.py``).
    scan_reads = None if memo is None else (memo.scan_reads, memo.scan_foreign, memo.scan_walked)
    memo = reusing = None

    for f in facts:
        diagnostics.extend(f.diagnostics)
    diagnostics.extend(unknown_suppressions(resolution.call_sites))
    result = ScanResult(
        root=str(root),
        services=tuple(sorted(services, key=lambda s: s.name)),
        endpoints=tuple(sorted(endpoints, key=lambda e: e.sort_key())),
        call_sites=tuple(sorted(resolution.call_sites, key=lambda c: (c.file, c.line, c.id))),
        diagnostics=tuple(
            sorted(set(diagnostics) | set(endpoint_diags), key=lambda d: d.sort_key())
        ),
        files_scanned=len(python),
    )
    if inputs is not None:
        # the collector off as for the writes above: the last of them, and the record
        # of what the scan read, made to be written
        with collector_paused():
            key = inputs.store_result(result, discovery.files_read)
            if (
                key is not None
                and scan_reads is not None
                and demand is not None
                and cache_dir is not None
            ):
                from decouple_services.app.edits import FOLLOWING_IMPORTS, wrappers_key
                from decouple_services.app.incremental import digest

                record = EditRecord(
                    result_key=key,
                    base=inputs.base_digest(),
                    reads=_grouped(scan_reads[0]),
                    foreign=_grouped(scan_reads[1]),
                    walked=sorted(scan_reads[2]),
                    queries=demand.queries,
                    parsed=sorted(p for p in python if p not in unparsed),
                    reread=sorted(reread),
                    discovery=discovery_digest or _discovery_digest(discovery),
                    discovery_code=sorted(discovery.code_read),
                    passes=[sorted(set(names)) for names in passes],
                    learned=learned if settled else None,
                    helpers=digest(wrappers_key(resolution.wrappers)),
                )
                if any(kind in FOLLOWING_IMPORTS for kind, _ in record.queries):
                    record.keep_graph(graph(), python, _packages(python))
                record.save(cache_dir, root)
            _vouch(options, root, listing_cache, manifest, listing)
    return result


def _vouch(
    options: ScanOptions,
    root: Path,
    listing_cache: ListingCache | None,
    manifest: Manifest | None,
    listing: FileListing,
) -> None:
    """Tell ``options.vouch`` what the result just kept or reused depends on, when the
    cache can say it: the listing's stamps (and git's answers) and every file's recorded
    stat."""
    if (
        options.vouch is None
        or listing_cache is None
        or listing_cache.stamps is None
        or manifest is None
        or manifest.result_key is None
        or manifest.result_extra is None
    ):
        return
    extra = manifest.result_extra
    files: dict[str, list[Any] | None] = {}
    for path in (*listing.python, *listing.deploy, *extra):
        entry = manifest.files.get(path)
        if entry is None:
            if path not in extra or os.path.lexists(os.path.join(root, path)):
                return  # a file the stored key could not vouch for
            files[path] = None
            continue
        files[path] = list(entry)
    options.vouch(listing_cache.stamps, files, manifest.result_key, listing_cache.git)


def unknown_suppressions(call_sites: Sequence[CallSite]) -> list[Diagnostic]:
    """``# decouple: ignore[DCP04]`` names no rule: a typo that would silently suppress
    nothing, so it is a diagnostic at the call."""
    from decouple_services.render.rules import RULES_BY_ID

    out = []
    for site in call_sites:
        unknown = [code for code in site.suppressed if code not in RULES_BY_ID]
        if unknown:
            out.append(
                Diagnostic(
                    site.file,
                    site.line,
                    Severity.WARNING,
                    "unknown-rule",
                    f"# decouple: ignore[{', '.join(unknown)}] names no rule "
                    f"(rules: {', '.join(RULES_BY_ID)})",
                )
            )
    return out


def _inert(facts: FileFacts) -> bool:
    """Whether ``facts`` hold nothing resolution or endpoints read (diagnostics aside)."""
    return not (
        facts.constants
        or facts.functions
        or facts.calls
        or facts.routes
        or facts.mounts
        or facts.grpc_methods
        or facts.ports
        or facts.settings_classes
        or facts.is_loadgen
        or facts.events
        or facts.ignored_lines
        or facts.suppressions
    )


class _Demand:
    """Parsing from the calls outward (see ``app/demand.py``): the candidates first, then
    the files resolution asks for, until it asks for nothing new."""

    def __init__(
        self, root: Path, python: Sequence[str], config: Config, options: ExtractOptions
    ) -> None:
        from decouple_services.app.demand import searched

        files = frozenset(python)
        self.modules: dict[str, list[str]] = {}
        for path in python:
            self.modules.setdefault(module_name(path, files)[0], []).append(path)
        #: The texts of the files not parsed yet, kept once read: each round of asking
        #: searches them again (homeassistant: each file read eight times over a scan)
        self.texts = _Texts(str(root))
        self.read = self.texts.read
        self.options = options
        self.config = config
        #: What recognises a request (set once configured clients' signatures are known).
        self.detectors: Sequence[Detector] = ()
        #: Words (slots, config keys) and client objects already looked for.
        self.searched: set[tuple[str, ...]] = set()
        self.keys: set[str] = set()
        self.built: set[tuple[str, ...]] = set()
        self.clients: set[str] = set()
        self.fixtures: set[tuple[str, str]] = set()
        #: The facts of the last call of :meth:`wanted`.
        self.facts: list[FileFacts] = []
        #: The client objects among the facts, asked after each round (for ``detectors``).
        self.client_names: ClientNames | None = None
        #: The text searches made over unparsed files (``app/edits.py``).
        self.queries: list[Query] = []
        #: How they are made: with a cache, answered from the last scan's for the files
        #: that did not change (``app/incremental.py``'s ``SearchMemo``).
        self.search: Search = searched

    def candidates(self, options: ExtractOptions) -> Prefilter:
        from decouple_services.app.demand import candidate_prefilter

        return candidate_prefilter(options)

    def initial(self, unparsed: set[str]) -> list[str]:
        """Modules of configured clients: their signatures place positional arguments."""
        from decouple_services.app.demand import Asked, asked_paths

        asked = Asked(qualnames={c.qualname for c in self.config.clients})
        return sorted(asked_paths(asked, self.modules, unparsed, self.read))

    def asked_for(self, asked: Asked, unparsed: set[str]) -> set[str]:
        """Unparsed files resolution asked for (``app.demand.asked_paths``), its searches
        recorded."""
        from decouple_services.app.demand import asked_paths
        from decouple_services.app.edits import words_query

        # a word or key looked for once was found wherever it is: not looked for again
        words = asked.words - self.searched
        keys = asked.keys - self.keys
        built = asked.built - self.built
        self.searched |= words
        self.keys |= keys
        self.built |= built
        if words:
            self.queries.append(words_query(words))
        if keys:
            self.queries.append(["keys", sorted(keys)])
        if built:
            self.queries.append(["built", [list(c) for c in sorted(built)]])
        return asked_paths(
            replace(asked, words=words, keys=keys, built=built),
            self.modules,
            unparsed,
            self.read,
            self.search,
        )

    def wanted(
        self,
        asked: Asked,
        facts: Sequence[FileFacts],
        unparsed: set[str],
        graph: Callable[[], ImportGraph],
    ) -> list[str]:
        """Unparsed files resolution asked for, and files that may use a client object."""
        from decouple_services.app.demand import (
            ClientNames,
            naming,
            naming_parameter,
            slot_words,
        )
        from decouple_services.app.edits import words_query
        from decouple_services.app.rereads import Helper
        from decouple_services.app.rereads import select as select_rereads

        if not unparsed:
            return []
        found = self.asked_for(asked, unparsed)
        from decouple_services.detect.values import FIXTURE

        # pytest fixtures: a test asks for one by naming it, without importing anything.
        # Those of facts given before were added then: only new facts can add one (each
        # round parses a few files; homeassistant's 34,000 constants were walked each time)
        last, self.facts = self.facts, list(facts)
        new = facts
        if len(last) == len(facts):
            new = [f for f, old in zip(facts, last, strict=True) if f is not old]
        fixtures = {
            (const.qualname[len(FIXTURE) : -2], posixpath.dirname(f.path))
            for f in new
            for const in f.constants
            if const.qualname.startswith(FIXTURE)
        } - self.fixtures
        if fixtures:
            self.fixtures |= fixtures
            self.queries.append(["fixtures", sorted([name, folder] for name, folder in fixtures)])
            # in order: each search leaves out the files found before it, and the searches
            # of the next scan are answered from this one's for the files they tested. The
            # test modules not parsed are listed once (a rerun asks for hundreds of
            # fixtures at once: listing them again for each was 8% of polar's)
            modules = [p for p in sorted(unparsed - found) if _is_test_module(p)]
            # and those under each folder once: a fixture is asked for in the folder of its
            # conftest, and most share a few (listing them for each was 2% of polar's)
            under_folder: dict[str, list[str]] = {"": modules}
            for name, folder in sorted(fixtures):
                within = under_folder.get(folder)
                if within is None:
                    under = folder + "/"
                    within = under_folder[folder] = [p for p in modules if p.startswith(under)]
                tests = [p for p in within if p not in found]
                found.update(
                    self.search(
                        # a kind of its own: its answers are narrower than a word search's
                        "fixture-parameters",
                        [name],
                        tests,
                        functools.partial(naming_parameter, name=name, read=self.read),
                    )
                )
        if self.client_names is None or self.client_names.detectors is not self.detectors:
            self.client_names = ClientNames(self.options, self.detectors)
        clients = self.client_names(self.facts) - self.clients
        if clients:
            self.clients |= clients
            rest = sorted(unparsed - found)
            slots = {slot_words(c) for c in clients if c[:1] == "@"}
            if any(g and all(g) for g in slots):
                found.update(
                    self.search("words", slots, rest, lambda p: naming(p, slots, self.read))
                )
            if slots:
                self.queries.append(words_query(g for g in slots if g))
            helpers = [Helper(c, False) for c in clients if not c.startswith("@")]
            if helpers:
                held = self.client_names.held()
                found.update(
                    select_rereads(rest, helpers, graph(), self.read, self.search, objects=held)
                )
                self.queries.append(
                    ["objects", sorted([h.qualname, h.qualname in held] for h in helpers)]
                )
        return sorted(found)


class _Inputs:
    """Everything a scan's result depends on, as one key: the previous result is reused
    when the key is unchanged. File contents enter the key by digest; the manifest knows
    the digests of files whose size and mtime are unchanged, so a rerun reads nothing."""

    def __init__(
        self,
        root: Path,
        listing: FileListing,
        config: Config,
        config_diagnostics: Sequence[Diagnostic],
        options: ScanOptions,
        manifest: Manifest,
    ) -> None:
        self.root = root
        self.listing = listing
        self.manifest = manifest
        self.base = [
            repr(config),
            [repr(d) for d in config_diagnostics],
            list(options.exclude),
            str(options.config_path),
            options.full_parse,
            list(listing.python),
            list(listing.deploy),
            list(listing.other),
            [repr(d) for d in listing.diagnostics],
        ]
        self.deploy_digests: dict[str, str] = {}
        #: Python files :meth:`changed_python` found unchanged, with their digests.
        self.unchanged: dict[str, str] = {}
        #: What :meth:`changed_python` found (asked again by the scan after a failed
        #: neutral check), with each changed file's digest before.
        self._changed: tuple[dict[str, tuple[bytes, Stamp, str]] | None] | None = None
        self.before: dict[str, str] = {}

    def _known_digest(self, path: str) -> str | None:
        try:
            stat = self.manifest.stat(path)
        except OSError:
            return None
        return self.manifest.digest(path, stat)

    def _hash(self, path: str) -> str:
        """Digest of a file as it is now (recorded in the manifest), or a marker."""
        full = os.path.join(self.root, path)
        try:
            stat = os.stat(full)
            known = self.manifest.digest(path, stat)
            if known is not None:
                return known
            digest = content_digest(read_regular(full))
        except OSError as exc:
            return f"unreadable:{type(exc).__name__}"
        self.manifest.record_stat(path, stat.st_size, stat.st_mtime_ns, digest)
        return digest

    def previous_result(self) -> ScanResult | None:
        """The last result, if no input changed since (judged without reading any file)."""
        stored = self.manifest.result_extra
        if self.manifest.result_key is None or stored is None:
            return None
        digests = {}
        for path in (*self.listing.python, *self.listing.deploy, *stored):
            if path in stored and not os.path.lexists(self.root / path):
                digests[path] = "missing"
                continue
            digest = self._known_digest(path)
            if digest is None:
                return None
            digests[path] = digest
        key = result_key([self.base, digests, stored])
        return self.manifest.cached_result(key)

    def hash_deploy_files(self) -> None:
        # before discovery reads them: an edit meanwhile then makes the next key differ
        self.deploy_digests = {p: self._hash(p) for p in self.listing.deploy}

    def store_result(self, result: ScanResult | None, files_read: Sequence[str]) -> str | None:
        """Keep ``result`` with the key of its inputs (returned; None when none is kept);
        None: the stored result, as it is."""
        digests = dict(self.deploy_digests)
        for path in self.listing.python:
            entry = self.manifest.files.get(path)
            if entry is None:
                # unreadable: the key cannot say whether it changes, so keep no result
                self.manifest.save(self.root, self._live(()))
                return None
            digests[path] = entry[2]
        listed = set(self.listing.python) | set(self.listing.deploy)
        extra = sorted(p for p in files_read if p not in listed)
        for path in extra:
            digests[path] = self._hash(path) if os.path.lexists(self.root / path) else "missing"
        key = result_key([self.base, digests, extra])
        if result is None:
            self.manifest.keep_result(key, extra)
        else:
            self.manifest.store_result(key, result, extra)
        self.manifest.save(self.root, self._live(extra))
        return key

    def base_digest(self) -> str:
        """The inputs besides file contents (configuration, options, listing), as a digest."""
        return result_key([self.base])

    def changed_python(self) -> dict[str, tuple[bytes, Stamp, str]] | None:
        """The Python files whose content changed since the stored result (their content,
        stat before reading and digest), when nothing else did: None when a deployment file
        or a file discovery read changed, a file is new, or no result is stored. Found
        once per scan."""
        if self._changed is None:
            self._changed = (self._changed_python(),)
        return self._changed[0]

    def _changed_python(self) -> dict[str, tuple[bytes, Stamp, str]] | None:
        stored = self.manifest.result_extra
        if self.manifest.result_key is None or stored is None:
            return None
        changed = {}
        unchanged = self.unchanged
        for path in self.listing.python:
            entry = self.manifest.files.get(path)
            if entry is None:
                return None
            try:
                stat = self.manifest.stat(path)
                known = self.manifest.digest(path, stat)
                if known is not None:
                    unchanged[path] = known
                    continue
                data = read_regular(os.path.join(self.root, path), MAX_FILE_BYTES)
            except OSError:
                return None
            digest = content_digest(data)
            if digest == entry[2]:
                self.manifest.record_stat(path, stat.st_size, stat.st_mtime_ns, digest)
                unchanged[path] = digest
            else:
                changed[path] = (data, stat, digest)
                self.before[path] = entry[2]
        for path in self.listing.deploy:
            if self._known_digest(path) is None:
                return None
        for path in stored:
            exists = os.path.lexists(self.root / path)
            if exists != (path in self.manifest.files) or (
                exists and self._known_digest(path) is None
            ):
                return None
        return changed

    def _live(self, extra: Sequence[str]) -> set[str]:
        return {*self.listing.python, *self.listing.deploy, *extra}


#: More files edited than this since the last scan: scanned as usual (checking each costs
#: as much as extracting it, and a large change rarely leaves the result as it was).
MAX_NEUTRAL_EDITS = 16


#: Returned by :func:`_after_neutral_edits` for a reused result the caller knows already.
_KNOWN: Any = object()


def _after_neutral_edits(
    root: Path,
    listing: FileListing,
    config: Config,
    inputs: _Inputs,
    manifest: Manifest,
    known: Callable[[str], bool] | None = None,
    loaded: list[EditRecord] | None = None,
) -> ScanResult | None:
    """The last result, when the only inputs changed since are Python files that change
    nothing it read (``app/edits.py``), recorded as that result's inputs; else None.
    ``_KNOWN`` instead of the result when ``known`` accepts its key: it is kept as stored,
    and never decoded. The edit record read is added to ``loaded``, for the scan that runs
    when the edits are not neutral."""
    from decouple_services.app.demand import candidate_prefilter
    from decouple_services.app.edits import (
        FOLLOWING_IMPORTS,
        EditRecord,
        found_by_queries,
        neutral_facts,
    )
    from decouple_services.detect.extract import extract_facts
    from decouple_services.detect.registry import build_detectors

    cache_dir = manifest.path.parent
    record = EditRecord.load(cache_dir, root)
    if record is not None and loaded is not None:
        loaded.append(record)
    if (
        record is None
        or record.result_key != manifest.result_key
        or record.base != inputs.base_digest()
    ):
        return None
    changed = inputs.changed_python()
    if not changed or len(changed) > MAX_NEUTRAL_EDITS:
        return None
    options = detection_options(build_detectors(config), config)
    fingerprint = _fingerprint(options)
    candidates = candidate_prefilter(options)
    candidate_key = _reject_key(fingerprint, candidates)
    parsed, reread = set(record.parsed), set(record.reread)
    python = list(listing.python)
    files = frozenset(python)
    texts = {path: data for path, (data, _, _) in changed.items()}
    follows_imports = any(kind in FOLLOWING_IMPORTS for kind, _ in record.queries)
    # every file's imports are checked unchanged below, so the last scan's graph holds
    recorded = record.recorded_graph(python) if follows_imports else None
    graphs: list[ImportGraph] = []

    def graph() -> ImportGraph | RecordedGraph:
        if recorded is not None:
            return recorded
        if not graphs:
            graphs.append(_import_graph(root, python, cache_dir, manifest))
        return graphs[0]

    packages: frozenset[str] = frozenset()
    if follows_imports:
        # the same listing as the record's (its base digest): the same packages
        packages = frozenset(record.packages if record.packages is not None else _packages(python))
    # read before a helper search builds the graph again (which replaces the entries)
    imports = ImportsEntries(cache_dir, root, packages) if follows_imports else None
    imported: list[tuple[str, str, str, bool, frozenset[str]]] = []
    computed: list[tuple[str, str]] = []
    #: Parsed files -> the key of the facts their kept resolution is of (the same calls)
    resolved_as: dict[str, str] = {}
    try:
        for path, (data, stat, digest) in changed.items():
            before = manifest.files[path][2]
            module, is_package = module_name(path, files)
            if stat.st_size > MAX_FILE_BYTES:
                return None
            was = not manifest.is_rejected(candidate_key(module), before) and path in parsed
            now = candidates.passes(data, module)
            if was and now and path not in reread:
                # a parsed file: its facts, and the helper passes, which read every file's text
                # (the other searches read only files not parsed)
                old = read_facts(str(cache_dir), facts_key(before, module, fingerprint), path)
                new = extract_facts(data, path, module, options, is_package=is_package)
                # kept either way: the scan that runs when the edit is not neutral reads them
                computed.append((facts_key(digest, module, fingerprint), new.to_cache()))
                if old is None or not neutral_facts(old, new, record):
                    return None
                resolved_as[path] = facts_key(before, module, fingerprint)
                searched = [q for q in record.queries if q[0] == "helpers"]
            elif not was and not now and path not in parsed:
                searched = record.queries
            else:
                return None
            if imports is not None:
                # which files a helper search reaches goes through every file's imports
                from decouple_services.app.rereads import import_targets

                kept = imports.get(path, before, module, is_package)
                if kept is None or kept != import_targets(data, module, is_package, packages):
                    return None
                imported.append((path, digest, module, is_package, kept))
            if found_by_queries(path, searched, texts.get, graph):
                return None
    finally:
        write_facts(str(cache_dir), computed)
    files_read: Sequence[str]
    if record.discovery_code_unread(changed):
        # discovery read none of the edited files, and every other input it has is as it
        # was (the listing by the base digest, deployment files and the files it read by
        # `changed_python`): it would find what it found, so it does not run (polar: a
        # sixth of such a rerun, with its modules' imports). The files it read outside
        # the listing are the stored result's.
        files_read = manifest.result_extra or ()
    else:
        from decouple_services.discover.services import discover_services

        # the files just found unchanged are not stat'ed again for their digests
        programs = _Programs(root, manifest, inputs.unchanged)
        discovery = discover_services(root, listing, config, programs)
        if _discovery_digest(discovery) != record.discovery:
            return None
        files_read = discovery.files_read
        record.discovery_code = sorted(discovery.code_read)
    result: ScanResult | None
    if known is not None and manifest.result_id is not None and known(record.result_key):
        result = _KNOWN  # its output is at hand: the stored result is not even read
    else:
        result = manifest.cached_result(record.result_key)
        if result is None:
            return None
    # what a scan of the edited files would have recorded
    for path, (_, stat, digest) in changed.items():
        manifest.record_stat(path, stat.st_size, stat.st_mtime_ns, digest)
        if path not in parsed:
            manifest.reject(candidate_key(module_name(path, files)[0]), digest)
    if imports is not None and imported:
        # the same imports, under the new contents: the next edit compares with them (a
        # graph built meanwhile rewrote the file: read again)
        if graphs:
            imports = ImportsEntries(cache_dir, root, packages)
        for entry in imported:
            imports.put(*entry)
        imports.save()
    inputs.hash_deploy_files()
    key = inputs.store_result(None, files_read)
    if key is not None:
        record.result_key = key
        for path, resolved in resolved_as.items():
            record.resolved_as.setdefault(path, resolved)
        record.save(cache_dir, root)
    return result


def _kept_passes(
    record: EditRecord,
    inputs: _Inputs | None,
    by_path: dict[str, FileFacts],
    unparsed: set[str],
    options: ExtractOptions,
    cache_dir: Path | None,
    demand: _Demand,
) -> KeptPasses | None:
    """The last scan's helper passes, for a rerun whose edits may leave them as they were
    (``app/edits.py``'s ``KeptPasses``); None when they may not."""
    from decouple_services.app.edits import KeptPasses

    if demand.config.clients:
        return None  # configured clients' signatures read every function
    changed = None if inputs is None else inputs.changed_python()
    if not changed or inputs is None or cache_dir is None or len(changed) > MAX_NEUTRAL_EDITS:
        return None
    now = {p: by_path[p] for p in changed if p in by_path and p not in unparsed}
    if len(now) != len(changed):
        return None
    fingerprint = _fingerprint(options)
    candidate_key = _reject_key(fingerprint, demand.candidates(options))
    files = frozenset(inputs.listing.python)

    def before(path: str) -> tuple[FileFacts, str, bool] | None:
        digest = inputs.before[path]
        module = module_name(path, files)[0]
        key = facts_key(digest, module, fingerprint)
        old = read_facts(str(cache_dir), key, path)
        if old is None:
            return None
        return old, key, not inputs.manifest.is_rejected(candidate_key(module), digest)

    return KeptPasses.of(record, now, before)


def _client_names(
    facts: Sequence[FileFacts], options: ExtractOptions, detectors: Sequence[Detector]
) -> set[str]:
    from decouple_services.app.demand import client_names

    return client_names(facts, options, detectors)


def _edit_record(cache_dir: Path, root: Path) -> EditRecord | None:
    from decouple_services.app.edits import EditRecord

    return EditRecord.load(cache_dir, root)


def _packages(python: Sequence[str]) -> frozenset[str]:
    """The modules of the tree that are packages (what import targets depend on)."""
    return _graph_modules(python)[1]


def _grouped(reads: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Reads of index tables as JSON: table -> keys (tuples as lists)."""
    out: dict[str, list[Any]] = {}
    for table, key in sorted(reads, key=repr):
        out.setdefault(table, []).append(list(key) if isinstance(key, tuple) else key)
    return out


def _discovery_digest(discovery: ServiceDiscovery) -> str:
    """What discovery found, files read included, as a digest."""
    return result_key(
        [
            repr(discovery),
            sorted(discovery.infra_hosts.items()),
            sorted(discovery.gateway_routes.items()),
            sorted(discovery.infra_ports.items()),
            list(discovery.files_read),
        ]
    )


class _Programs:
    """Python files known not to start a server (``discover.services.Programs``), by content
    digest in the manifest: a rerun reads only the files whose size or mtime changed."""

    #: The manifest's set of digests holding them (its version covers decouple's code).
    KEY = "plain-programs"

    def __init__(
        self, root: Path, manifest: Manifest, known: Mapping[str, str] | None = None
    ) -> None:
        self.root = str(root)
        self.manifest = manifest
        #: Digests this run already found by the files' stats (see ``_Inputs.unchanged``).
        self.known = known or {}

    def plain(self, path: str) -> bool:
        digest = self.known.get(path)
        if digest is None:
            try:
                digest = self.manifest.digest(path, os.stat(os.path.join(self.root, path)))
            except OSError:
                return False
        return digest is not None and self.manifest.is_rejected(self.KEY, digest)

    def seen(self, path: str, data: bytes, starts: bool) -> None:
        if not starts:
            self.manifest.reject(self.KEY, content_digest(data))


def _at_handler_definitions(endpoints: Sequence[Endpoint], index: ProjectIndex) -> list[Endpoint]:
    """Point each endpoint at its handler's ``def`` (not the decorator or the urls.py entry):
    that is where a reader, and a later migration, goes."""
    out = []
    for endpoint in endpoints:
        entries = index.functions.get(endpoint.handler, [])
        same_service = [
            (p, fn) for p, fn in entries if index.service_of(p) == endpoint.service
        ] or entries
        if same_service:
            path, fn = same_service[0]
            endpoint = replace(endpoint, file=path, line=fn.line)
        out.append(endpoint)
    return out


def _read_in(root: str, path: str) -> bytes | None:
    return _read(os.path.join(root, path))


#: The most text of unparsed files a scan keeps for its searches (homeassistant keeps 28
#: MB); a file read when the rest is full is read again by each search.
KEPT_TEXT_BYTES = 32 * 2**20


class _Texts:
    """The texts of files the scan has not parsed, kept from their first read (by
    extraction, which rejected them, or else by a search of on-demand parsing, ``_Demand``,
    or the import graph) to the last: each round of asking searches every unparsed file
    again for what resolution asked in it (on homeassistant 66,628 reads of its 7,978
    files, 4% of a cold scan). A file is
    forgotten once parsed, since only the helper passes' selection and the import graph
    read a parsed file again, once each; and what is kept stays under ``budget`` bytes.
    The searches of one scan then read each file as it was when first read."""

    def __init__(self, root: str, budget: int = KEPT_TEXT_BYTES) -> None:
        self.root = root
        self.budget = budget
        #: The files whose text may be kept (the scan's unparsed files, set once known).
        self.unparsed: Container[str] = frozenset()
        self._kept: dict[str, bytes] = {}
        self._size = 0

    def read(self, path: str) -> bytes | None:
        data = self._kept.get(path)
        if data is not None:
            return data
        data = _read_in(self.root, path)
        if data is not None and path in self.unparsed and self._size + len(data) <= self.budget:
            self._kept[path] = data
            self._size += len(data)
        return data

    def keep(self, path: str, data: bytes) -> None:
        """The text of a file the candidates' prefilter rejected, as extraction read it:
        the first search would read it again (homeassistant: 6,400 files, 2% of a cold
        scan)."""
        if path not in self._kept and self._size + len(data) <= self.budget:
            self._kept[path] = data
            self._size += len(data)

    def close(self) -> None:
        """Keep no text from now on (a file asked for again is read again)."""
        self._kept = {}
        self._size = 0
        self.budget = 0

    def forget(self, paths: Iterable[str]) -> None:
        """``paths`` are parsed now: their texts are no longer kept."""
        for path in paths:
            data = self._kept.pop(path, None)
            if data is not None:
                self._size -= len(data)


def _read(path: str) -> bytes | None:
    # plain str paths: thousands of files per pass, and pathlib's joins cost as much as reads
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except OSError:
        return None


#: A cold scan of at least this many Python files whose first resolution found helpers
#: has the first round's workers read every file's imports for the import graph while
#: they wait for the first round of asking (:class:`_ImportsAhead`), which builds the
#: graph after its searches: in this process alone, homeassistant's 7,978 files took
#: 1.4 s of it. A tree without helpers may never build it (a synthetic tree of 51,000
#: files read ahead for nothing: 2 s of CPU, 30 MiB more at its peak).
GRAPH_AHEAD_FILES = 1000
#: Files to a task of reading ahead: what a worker has started when the graph is wanted
#: is waited for, the rest read here.
GRAPH_AHEAD_CHUNK = 200


def _warm_workers(
    warm: list[ProcessPoolExecutor], ahead: _ImportsAhead | None
) -> ProcessPoolExecutor | None:
    """The first round's workers, taken from ``warm`` for the first round of asking, the
    reading ahead they have not started cancelled."""
    if not warm:
        return None
    if ahead is not None:
        ahead.stop()
    return warm.pop()


def _import_graph(
    root: Path,
    python: Sequence[str],
    cache_dir: Path | None = None,
    manifest: Manifest | None = None,
    read: Callable[[str], bytes | None] | None = None,
    ahead: _ImportsAhead | None = None,
) -> ImportGraph:
    """What every Python file imports (found once per scan, when a helper is first learned).

    With a cache, a file whose size and mtime the manifest knows is not read: its targets
    come from the imports cache when its digest, module and the tree's packages match.
    ``read`` reads a file by its path in the tree (default: from the disk). ``ahead``
    holds the targets workers have read meanwhile (from the disk).
    """
    from decouple_services.app.rereads import ImportGraph

    named, packages = _graph_modules(python)
    cache = ImportsCache(cache_dir, root, packages) if cache_dir is not None else None
    known: dict[str, frozenset[str]] = {}
    todo: list[tuple[str, str, bool]] = []
    base = str(root)
    for path, (module, is_package) in named.items():
        # only a file the imports cache holds can be answered from it (none, in a first
        # scan): the others are not looked up, nor their stat taken (homeassistant: 8,000
        # stats, 30 ms)
        if cache is not None and manifest is not None and path in cache.files:
            try:
                digest = manifest.digest(path, os.stat(os.path.join(base, path)))
            except OSError:
                digest = None
            if digest is not None:
                hit = cache.get(path, digest, module, is_package)
                if hit is not None:
                    known[path] = hit
                    continue
        todo.append((path, module, is_package))
    job = (base, todo, packages, cache is not None)
    found = _imports_of(job, read) if ahead is None else ahead.take(job, read)
    targets: dict[str, frozenset[str]] = {}
    for path, (module, is_package) in named.items():
        hit = known.get(path)
        if hit is not None:
            targets[path] = hit
            continue
        targets[path], digest = found[path]
        if cache is not None and digest is not None:
            cache.put(path, digest, module, is_package, targets[path])
    if cache is not None:
        cache.save(python)
    return ImportGraph({path: module for path, (module, _) in named.items()}, targets)


def _graph_modules(
    python: Sequence[str],
) -> tuple[dict[str, tuple[str, bool]], frozenset[str]]:
    """Each file's module name and whether it is a package; the packages' names."""
    files = frozenset(python)
    named = {path: module_name(path, files) for path in python}
    return named, frozenset(module for module, is_package in named.values() if is_package)


#: Files whose imports are read: the root, (path, module, is_package) of each, the tree's
#: packages, and whether their digests are wanted (for the imports cache).
_ImportsJob = tuple[str, list[tuple[str, str, bool]], frozenset[str], bool]
#: Path -> its import targets, and its digest when wanted and read (None otherwise).
_Imports = dict[str, tuple[frozenset[str], str | None]]


def _imports_of(job: _ImportsJob, read: Callable[[str], bytes | None] | None = None) -> _Imports:
    """Each file's import targets, read by ``read`` (default: from the disk)."""
    from decouple_services.app.rereads import import_targets

    base, todo, packages, digests = job
    out: _Imports = {}
    for path, module, is_package in todo:
        data = _read(os.path.join(base, path)) if read is None else read(path)
        if data is None:
            out[path] = (frozenset(), None)
            continue
        out[path] = (
            import_targets(data, module, is_package, packages),
            content_digest(data) if digests else None,
        )
    return out


def _imports_chunk(job: _ImportsJob) -> _Imports:
    """:func:`_imports_of` in a worker process."""
    gc.set_threshold(*GC_THRESHOLDS)  # a worker process: see GC_THRESHOLDS
    return _imports_of(job)


class _ImportsAhead:
    """Every file's import targets, read by idle workers before the import graph is
    wanted, in tasks of :data:`GRAPH_AHEAD_CHUNK` files; when it is wanted, the caller
    reads the tasks they have not started, from the last, as they go on (:meth:`take`). A
    file's targets are what the caller would find in the text it reads: workers read the
    disk, as the caller does for a file whose text the scan did not keep."""

    def __init__(
        self, workers: ProcessPoolExecutor, root: Path, python: Sequence[str], digests: bool
    ) -> None:
        """``digests``: whether the files' digests are wanted too (for the imports cache)."""
        named, self.packages = _graph_modules(python)
        self.digests = digests
        base = str(root)
        todo = [(path, module, is_package) for path, (module, is_package) in named.items()]
        self.tasks: list[tuple[list[tuple[str, str, bool]], Future[_Imports] | None]] = []
        for at in range(0, len(todo), GRAPH_AHEAD_CHUNK):
            chunk = todo[at : at + GRAPH_AHEAD_CHUNK]
            try:
                future = workers.submit(_imports_chunk, (base, chunk, self.packages, digests))
            except Exception:  # the pool broken: the caller reads these
                future = None
            self.tasks.append((chunk, future))

    def stop(self) -> None:
        """Cancel the tasks not started (the workers are wanted for other work)."""
        for _, future in self.tasks:
            if future is not None:
                future.cancel()

    def take(self, job: _ImportsJob, read: Callable[[str], bytes | None] | None) -> _Imports:
        """:func:`_imports_of` of ``job``: each task from the last back that the workers
        have not started is read here, while they go on from the first; then what they
        read is taken (a task a worker failed is read here too)."""
        base, todo, packages, digests = job
        if packages != self.packages or (digests and not self.digests):
            self.stop()
            return _imports_of(job, read)
        wanted = {path for path, _, _ in todo}
        found: _Imports = {}
        started = []
        for chunk, future in reversed(self.tasks):
            if future is None or future.cancel():
                mine = [entry for entry in chunk if entry[0] in wanted]
                found.update(_imports_of((base, mine, packages, digests), read))
            else:
                started.append(future)
        for future in started:
            try:
                read_there = future.result()
            except Exception:  # a worker gone: its files are read below
                continue
            for path, (targets, digest) in read_there.items():
                if path in wanted:
                    found[path] = (targets, digest if digests else None)
        missing = [entry for entry in todo if entry[0] not in found]
        found.update(_imports_of((base, missing, packages, digests), read))
        return found


def _signatures(detectors: Sequence[Detector]) -> list[object]:
    """The configured clients' signatures matching reads (from the scanned functions)."""
    from decouple_services.detect.custom import CustomDetector

    return [sorted(d.signatures.items()) for d in detectors if isinstance(d, CustomDetector)]


def _with_code_ports(
    services: list[Service], facts: Sequence[FileFacts], service_of: Callable[[str], str | None]
) -> list[Service]:
    """Ports that only the code states (``app.run(port=5001)``) help tell ``127.0.0.1:5001`` apart."""
    extra: dict[str, set[int]] = {}
    evidence: dict[str, list[str]] = {}
    for f in facts:
        if not f.ports:
            continue  # most files: the owner not looked up (a tenth of a ms per file)
        owner = service_of(f.path)
        if owner is None:
            continue
        for port in f.ports:
            extra.setdefault(owner, set()).add(port.port)
            evidence.setdefault(owner, []).append(f"{f.path}:{port.line} {port.how}")
    out = []
    for service in services:
        ports = extra.get(service.name, set()) - set(service.ports)
        if ports:
            service = replace(service, ports=tuple(sorted({*service.ports, *ports})))
        out.append(service)
    return out


def _is_test_module(path: str) -> bool:
    """Where pytest fixtures are used (``detect.extract.is_test_module``)."""
    from decouple_services.detect.extract import is_test_module

    return is_test_module(path)
