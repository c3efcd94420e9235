"""The library API: one function per stage, and ``scan`` that runs them in order.

    discover files and services -> extract per-file facts (parallel, cached)
    -> build endpoints -> resolve call sites (wrappers included) -> ScanResult

The CLI is a thin layer over these functions; tests call them directly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from decouple import __version__
from decouple.config import Config, load_config
from decouple.detect.base import Detector
from decouple.detect.extract import ExtractOptions, extract_facts
from decouple.detect.facts import FileFacts
from decouple.errors import ConfigError, PathError
from decouple.model import (
    Category,
    Diagnostic,
    Endpoint,
    ScanResult,
    Service,
    Severity,
)
from decouple.resolve.index import ProjectIndex

#: Files larger than this are reported and skipped: generated code, vendored bundles.
MAX_FILE_BYTES = 5 * 1024 * 1024
CACHE_DIR_NAME = ".decouple-cache"
#: Below this many files to parse, worker processes cost more than they save.
PARALLEL_THRESHOLD = 48
#: Extraction passes that learn wrapper helpers (one level of helper per pass).
MAX_WRAPPER_PASSES = 4

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScanOptions:
    exclude: tuple[str, ...] = ()
    config_path: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    progress: Progress | None = field(default=None, compare=False)


# --- stage: configuration -----------------------------------------------------------------


def load_configuration(root: Path, explicit: Path | None) -> tuple[Config, list[Diagnostic]]:
    """An explicit ``--config`` must be valid; a broken pyproject.toml is a diagnostic."""
    if explicit is not None:
        return load_config(root, explicit), []
    try:
        return load_config(root), []
    except ConfigError as exc:
        return Config(), [
            Diagnostic("pyproject.toml", 1, Severity.ERROR, "config-invalid", problem)
            for problem in exc.problems
        ]


# --- stage: per-file facts ----------------------------------------------------------------


def module_name(path: str, python_files: frozenset[str] | set[str]) -> tuple[str, bool]:
    """Dotted module name as the file's siblings would import it, and whether it is a package.

    Climbs while the parent directory is a package (has ``__init__.py``); a service that runs
    its files as scripts (no packages) gets top-level module names, as its imports expect.
    """
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    is_package = parts[-1] == "__init__"
    dirs = parts[:-1]
    stem = [] if is_package else [parts[-1]]
    i = len(dirs)
    while i > 0 and "/".join(dirs[:i]) + "/__init__.py" in python_files:
        i -= 1
    if is_package:
        i = min(i, len(dirs) - 1) if dirs else 0
        names = dirs[i:]
    else:
        names = dirs[i:] + stem
    return ".".join(n.replace("-", "_") for n in names) or "__main__", is_package


def detection_options(
    detectors: Sequence[Detector], config: Config, wrapper_names: Iterable[str] = ()
) -> ExtractOptions:
    """Extraction options for a scan: the detectors' needs, configured clients, learned
    helper names, and every route extractor."""
    from decouple.detect.registry import extract_options
    from decouple.detect.servers import SERVER_EXTRACTORS

    return extract_options(
        detectors,
        custom_clients=(c.qualname for c in config.clients),
        wrapper_names=wrapper_names,
        server_extractors=SERVER_EXTRACTORS,
    )


def prefilter_tokens(options: ExtractOptions) -> tuple[bytes, ...]:
    """Substrings a file must contain to be worth parsing: clients, servers, urls, settings."""
    from decouple.detect.servers import FRAMEWORK_TOKENS

    tokens = {*options.client_modules, *FRAMEWORK_TOKENS, *options.wrapper_names}
    tokens.update(
        {
            "://",
            "environ",
            "getenv",
            "config",
            "settings",
            "Settings",
            "Stub",
            "_HOST",
            "_URL",
            "_ADDR",
            "decouple: migrated",  # sends an earlier migration wrote
        }
    )
    tokens.update(q.rpartition(".")[2] for q in options.custom_clients)
    return tuple(sorted(t.encode() for t in tokens if t))


def _fingerprint(options: ExtractOptions) -> str:
    payload = json.dumps(
        [
            __version__,
            sorted(options.client_modules),
            sorted(options.method_names),
            sorted(options.custom_clients),
            sorted(options.wrapper_names),
            [f"{f.__module__}.{f.__qualname__}" for f in options.server_extractors],
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Job:
    root: str
    path: str
    module: str
    is_package: bool


def _extract_one(
    job: _Job,
    options: ExtractOptions,
    tokens: tuple[bytes, ...],
    cache: str | None,
    fingerprint: str,
) -> FileFacts:
    """Facts of one file; every failure is a diagnostic (the file is the unit of failure)."""
    full = os.path.join(job.root, job.path)
    try:
        size = os.path.getsize(full)
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 2**20
            return _skipped(
                job,
                Severity.NOTE,
                "too-large",
                f"{size / 1e6:.1f} MB is over the {limit} MiB limit (generated?); file skipped",
            )
        with open(full, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        return _skipped(job, Severity.WARNING, "unreadable", f"cannot read: {exc.strerror or exc}")
    if not any(token in source for token in tokens):
        return FileFacts(job.path, job.module)
    key = None
    if cache is not None:
        key = hashlib.sha256(
            source + b"\0" + job.module.encode() + b"\0" + fingerprint.encode()
        ).hexdigest()
        cached = _cache_read(cache, key, job.path)
        if cached is not None:
            return cached
    facts = extract_facts(source, job.path, job.module, options, is_package=job.is_package)
    if cache is not None and key is not None:
        _cache_write(cache, key, facts)
    return facts


def _skipped(job: _Job, severity: Severity, code: str, message: str) -> FileFacts:
    return FileFacts(
        job.path, job.module, diagnostics=(Diagnostic(job.path, 1, severity, code, message),)
    )


def _cache_read(cache: str, key: str, path: str) -> FileFacts | None:
    try:
        with open(os.path.join(cache, key[:2], key + ".json"), encoding="utf-8") as handle:
            data = json.load(handle)
        facts = FileFacts.from_json(data)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # missing, corrupt or foreign: rebuilt below
    return facts if facts.path == path else None


def _cache_write(cache: str, key: str, facts: FileFacts) -> None:
    folder = os.path.join(cache, key[:2])
    try:
        os.makedirs(folder, exist_ok=True)
        # temp file + rename: a concurrent run never reads half a file
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(facts.to_json(), handle, separators=(",", ":"))
        os.replace(tmp, os.path.join(folder, key + ".json"))
    except OSError:
        pass  # a read-only tree scans fine without a cache


def _extract_chunk(
    args: tuple[list[_Job], ExtractOptions, tuple[bytes, ...], str | None, str],
) -> list[dict[str, Any]]:
    jobs, options, tokens, cache, fingerprint = args
    return [_extract_one(job, options, tokens, cache, fingerprint).to_json() for job in jobs]


def extract_all(
    root: Path,
    paths: Sequence[str],
    options: ExtractOptions,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    all_files: Sequence[str] | None = None,
) -> list[FileFacts]:
    """Facts for every file in ``paths``, in the same order.

    ``all_files`` is every Python file of the tree (default: ``paths``); module names depend
    on which ``__init__.py`` files exist.
    """
    python_files = frozenset(all_files if all_files is not None else paths)
    work = [_Job(str(root), p, *module_name(p, python_files)) for p in paths]
    tokens = prefilter_tokens(options)
    fingerprint = _fingerprint(options)
    cache = str(cache_dir) if cache_dir is not None else None
    if cache is not None:
        _prepare_cache(Path(cache))
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    total = len(work)
    if workers <= 1 or total < PARALLEL_THRESHOLD:
        results = []
        for i, job in enumerate(work, start=1):
            results.append(_extract_one(job, options, tokens, cache, fingerprint))
            if progress is not None and (i % 50 == 0 or i == total):
                progress(i, total)
        return results
    size = max(16, total // (workers * 8))
    chunks = [work[i : i + size] for i in range(0, total, size)]
    out: list[FileFacts] = []
    done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for chunk_result in pool.map(
            _extract_chunk, [(c, options, tokens, cache, fingerprint) for c in chunks]
        ):
            out.extend(FileFacts.from_json(d) for d in chunk_result)
            done += len(chunk_result)
            if progress is not None:
                progress(done, total)
    return out


def _prepare_cache(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# decouple's per-file cache; safe to delete\n*\n", encoding="utf-8")
    except OSError:
        pass


# --- the whole scan -----------------------------------------------------------------------


def scan(root: Path | str, options: ScanOptions | None = None) -> ScanResult:
    """Scan the repository at ``root``: every inter-service call, resolved to its callee."""
    options = options or ScanOptions()
    root = Path(root)
    if not root.exists():
        raise PathError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise PathError(f"{root}: not a directory (decouple scans a repository folder)")
    from decouple.detect.registry import build_detectors
    from decouple.discover.files import categorize, list_files
    from decouple.discover.services import discover_services, service_for_path
    from decouple.resolve.calls import CallResolver
    from decouple.resolve.endpoints import build_endpoints, match_endpoint
    from decouple.resolve.hosts import HostMap

    root = root.resolve()
    config, diagnostics = load_configuration(root, options.config_path)
    listing = list_files(root, (*config.exclude, *options.exclude))
    diagnostics.extend(listing.diagnostics)
    discovery = discover_services(root, listing, config)
    diagnostics.extend(discovery.diagnostics)
    detectors = build_detectors(config)
    cache_dir = None
    if options.use_cache:
        cache_dir = options.cache_dir or root / CACHE_DIR_NAME

    services = list(discovery.services)

    def service_of(path: str) -> str | None:
        # Code outside every service (scripts/, loadtest/) is named after its top folder.
        return service_for_path(services, path) or (path.split("/", 1)[0] if "/" in path else None)

    def category_of(path: str) -> Category:
        return categorize(path, config)

    python = list(listing.python)
    extract_options = detection_options(detectors, config)
    facts = extract_all(
        root,
        python,
        extract_options,
        jobs=options.jobs,
        cache_dir=cache_dir,
        progress=options.progress,
    )
    by_path = {f.path: f for f in facts}
    # Matching a configured client's positional arguments needs the functions' signatures.
    detectors = build_detectors(config, functions=[fn for f in facts for fn in f.functions])

    services = _with_code_ports(services, facts, service_of)
    hosts = HostMap(services, dict(discovery.infra_hosts))
    known_wrappers: set[str] = set()
    # Helpers calling helpers are learned one level per pass.
    for _ in range(MAX_WRAPPER_PASSES):
        index = ProjectIndex(
            facts, services, service_of, discovery.global_env, dict(discovery.infra_hosts)
        )
        endpoints, endpoint_diags = build_endpoints(facts, service_of, index.lookup(None))
        endpoints = _at_handler_definitions(endpoints, index)
        resolver = CallResolver(
            index,
            detectors,
            hosts,
            endpoints,
            category_of,
            match_endpoint,
        )
        resolution = resolver.resolve()
        names = {w.short_name for w in resolution.wrappers.values()}
        if names <= known_wrappers:
            break
        known_wrappers |= names
        # Second pass: files that mention a helper by name are re-read for its invocations.
        wrapper_options = detection_options(detectors, config, known_wrappers)
        needles = tuple(n.encode() for n in known_wrappers)
        again = [p for p in python if _mentions(root / p, needles)]
        for fresh in extract_all(
            root, again, wrapper_options, jobs=options.jobs, cache_dir=cache_dir, all_files=python
        ):
            by_path[fresh.path] = fresh
        facts = [by_path[p] for p in python]

    for f in facts:
        diagnostics.extend(f.diagnostics)
    return ScanResult(
        root=str(root),
        services=tuple(sorted(services, key=lambda s: s.name)),
        endpoints=tuple(sorted(endpoints, key=lambda e: e.sort_key())),
        call_sites=tuple(sorted(resolution.call_sites, key=lambda c: (c.file, c.line, c.id))),
        diagnostics=tuple(
            sorted(set(diagnostics) | set(endpoint_diags), key=lambda d: d.sort_key())
        ),
        files_scanned=len(python),
    )


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


def _mentions(path: Path, needles: tuple[bytes, ...]) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return any(n in data for n in needles)


def _with_code_ports(
    services: list[Service], facts: Sequence[FileFacts], service_of: Callable[[str], str | None]
) -> list[Service]:
    """Ports that only the code states (``app.run(port=5001)``) help tell ``127.0.0.1:5001`` apart."""
    extra: dict[str, set[int]] = {}
    evidence: dict[str, list[str]] = {}
    for f in facts:
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
