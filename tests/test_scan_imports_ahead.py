"""The import graph's files read ahead by the first round's workers while they wait for the
first round of asking (``_ImportsAhead`` in ``app/pipeline.py``): the graph, the imports
cache and the scan's result are those of one process, whatever the workers started, were
stopped before or failed."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import decouple_services.app.pipeline as pipeline
from decouple_services.app.cache import model_json
from decouple_services.app.pipeline import ScanOptions, scan

SAMPLE = Path(__file__).parent / "fixtures" / "sample"


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """A copy of the sample and its Python files; workers for 2 files and more, on 2
    processes."""
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    return root, sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))


@pytest.fixture
def pool(sample: tuple[Path, list[str]]) -> Iterator[Any]:
    """The first round's workers of a scan of the sample (one process), shut down after."""
    started = pipeline.start_workers(2, len(sample[1]))
    assert started is not None
    yield started
    started.shutdown()


def graph_of(root: Path, paths: list[str], **kwargs: Any) -> tuple[Any, Any]:
    graph = pipeline._import_graph(root, paths, **kwargs)
    return graph.modules, graph.importers


def read_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files each call of ``_imports_of`` in this process reads (the
    workers, forked before, call their own)."""
    counts: list[int] = []
    imports_of = pipeline._imports_of

    def counted(job: Any, read: Any = None) -> Any:
        counts.append(len(job[1]))
        return imports_of(job, read)

    monkeypatch.setattr(pipeline, "_imports_of", counted)
    return counts


def reading_ahead(
    sample: tuple[Path, list[str]], pool: Any, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> tuple[Any, Any]:
    """The sample's graph made in one process, and its files read ahead by ``pool`` in
    tasks of ``chunk`` files."""
    monkeypatch.setattr(pipeline, "GRAPH_AHEAD_CHUNK", chunk)
    root, paths = sample
    return graph_of(root, paths), pipeline._ImportsAhead(pool, root, paths, digests=False)


def test_files_read_ahead_give_the_graph_of_one_process(
    sample: tuple[Path, list[str]], pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, ahead = reading_ahead(sample, pool, monkeypatch, 7)
    for _, future in ahead.tasks:
        assert future is not None
        future.result()
    counts = read_here(monkeypatch)
    assert graph_of(*sample, ahead=ahead) == alone
    assert sum(counts) == 0  # every file read by the workers


def _slow(seconds: float) -> None:
    time.sleep(seconds)


def test_files_not_started_when_the_graph_is_wanted_are_read_here(
    sample: tuple[Path, list[str]], pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = pool.submit(_slow, 1.0)  # the worker busy: the reading waits behind it
    alone, ahead = reading_ahead(sample, pool, monkeypatch, 3)
    counts = read_here(monkeypatch)
    assert graph_of(*sample, ahead=ahead) == alone
    futures = [f for _, f in ahead.tasks if f is not None]
    assert len(futures) == len(ahead.tasks) > 2
    assert all(f.cancelled() or f.done() for f in futures)
    # the tasks the worker had not started (the last ones, at least) were read here, and
    # no other
    cancelled = [chunk for chunk, f in ahead.tasks if f is not None and f.cancelled()]
    assert ahead.tasks[-1][0] in cancelled
    assert sum(counts) == sum(len(chunk) for chunk in cancelled)
    assert not busy.cancelled()


def test_the_workers_taken_for_other_work_leave_the_rest_to_this_process(
    sample: tuple[Path, list[str]], pool: Any
) -> None:
    """The first round of asking takes the workers (the reading stopped, the pool shut
    down with it) before any helper wants the graph."""
    root, paths = sample
    alone = graph_of(root, paths)
    ahead = pipeline._ImportsAhead(pool, root, paths, digests=False)
    taken = pipeline._warm_workers([pool], ahead)
    assert taken is pool
    pipeline.stop_workers(taken)
    assert graph_of(root, paths, ahead=ahead) == alone


def _dying(job: Any) -> Any:
    os._exit(1)  # a worker killed in the middle of its task


def test_files_a_worker_failed_to_read_are_read_here(
    sample: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths = sample
    alone = graph_of(root, paths)
    monkeypatch.setattr(pipeline, "_imports_chunk", _dying)  # before the workers fork
    pool = pipeline.start_workers(2, len(paths))
    assert pool is not None
    try:
        ahead = pipeline._ImportsAhead(pool, root, paths, digests=False)
        first = ahead.tasks[0][1]
        assert first is not None and first.exception(10) is not None  # the worker died
        assert graph_of(root, paths, ahead=ahead) == alone
        assert pool._broken
    finally:
        pool.shutdown()
    assert not multiprocessing.active_children()


def test_digests_not_read_ahead_are_read_here_for_the_imports_cache(
    sample: tuple[Path, list[str]], pool: Any, tmp_path: Path
) -> None:
    root, paths = sample
    pipeline._import_graph(root, paths, tmp_path / "alone")
    # read ahead without digests (a scan without a cache), asked with a cache
    ahead = pipeline._ImportsAhead(pool, root, paths, digests=False)
    pipeline._import_graph(root, paths, tmp_path / "ahead", ahead=ahead)
    (alone,) = (tmp_path / "alone").glob("imports-*.json")
    (given,) = (tmp_path / "ahead").glob("imports-*.json")
    assert json.loads(given.read_text())["files"] == json.loads(alone.read_text())["files"]


@pytest.mark.parametrize("use_cache", [False, True])
def test_a_scan_reading_ahead_gives_the_result_and_imports_cache_of_one_process(
    sample: tuple[Path, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_cache: bool,
) -> None:
    root, _ = sample
    reference = model_json(scan(root, ScanOptions(cache_dir=tmp_path / "one", jobs=1)))
    made: list[Any] = []
    imports_ahead = pipeline._ImportsAhead

    def watched(*args: Any, **kwargs: Any) -> Any:
        made.append(imports_ahead(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(pipeline, "_ImportsAhead", watched)
    monkeypatch.setattr(pipeline, "GRAPH_AHEAD_FILES", 2)
    options = ScanOptions(use_cache=use_cache, cache_dir=tmp_path / "two", jobs=2)
    assert model_json(scan(root, options)) == reference
    assert len(made) == 1 and made[0].tasks
    assert not multiprocessing.active_children()
    if use_cache:
        (one,) = (tmp_path / "one").glob("imports-*.json")
        (two,) = (tmp_path / "two").glob("imports-*.json")
        assert json.loads(two.read_text())["files"] == json.loads(one.read_text())["files"]


def test_a_small_tree_reads_no_file_ahead(
    sample: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths = sample
    made: list[Any] = []
    monkeypatch.setattr(pipeline, "_ImportsAhead", lambda *a, **k: made.append(a))
    monkeypatch.setattr(pipeline, "GRAPH_AHEAD_FILES", len(paths) + 1)
    scan(root, ScanOptions(use_cache=False, jobs=2))
    assert made == []


def test_a_tree_whose_first_resolution_finds_no_helper_reads_no_file_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its helper passes need no import graph: the reading would be for nothing."""
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pipeline, "GRAPH_AHEAD_FILES", 2)
    for n in range(4):
        (tmp_path / f"job{n}.py").write_text(
            f"import requests\n\n\ndef run():\n    requests.get('http://users:8000/{n}')\n"
        )
    made: list[Any] = []
    monkeypatch.setattr(pipeline, "_ImportsAhead", lambda *a, **k: made.append(a))
    result = scan(tmp_path, ScanOptions(use_cache=False, jobs=2))
    assert len(result.call_sites) == 4
    assert made == []


@pytest.mark.parametrize("large", [False, True])
def test_a_large_tree_ends_the_first_rounds_workers_with_its_extraction(
    sample: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    """In a tree of more than ``WARM_MAX_FILES`` files no worker waits through the first
    resolution (the scan's peak of memory there), so none reads ahead; the result is the
    one process's."""
    from decouple_services.resolve.calls import CallResolver

    root, _ = sample
    one = scan(root, ScanOptions(use_cache=False, jobs=1))
    reference, files = model_json(one), one.files_scanned
    made: list[Any] = []
    alive: list[int] = []
    resolve = CallResolver.resolve

    def counted(self: CallResolver, memo: Any = None) -> Any:
        alive.append(len(multiprocessing.active_children()))
        return resolve(self, memo)

    monkeypatch.setattr(CallResolver, "resolve", counted)
    monkeypatch.setattr(pipeline, "_ImportsAhead", lambda *a, **k: made.append(a))
    monkeypatch.setattr(pipeline, "GRAPH_AHEAD_FILES", 2)
    monkeypatch.setattr(pipeline, "WARM_MAX_FILES", files - 1 if large else files)
    assert model_json(scan(root, ScanOptions(use_cache=False, jobs=2))) == reference
    # the sample's first resolution finds helpers: kept, the workers read ahead for them
    assert (alive[0], len(made)) == ((0, 0) if large else (1, 1))
    assert not multiprocessing.active_children()
