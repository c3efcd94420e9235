"""What a cold scan holds at its peaks of memory: its extraction's workers started before
it holds much, nothing it resolved with left in a cycle of references for the collector
to free after the output is rendered, the output's entries made as they are written and
written in pieces. Each gives the result and the output it gave before."""

from __future__ import annotations

import gc
import importlib.machinery
import json
import multiprocessing
import os
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import decouple_services.app.pipeline as pipeline
import decouple_services.core.fs as fs_module
from decouple_services.app.cache import model_json
from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli.entry import main as cli_main
from decouple_services.core.fs import write_output
from decouple_services.render.json import render_json, render_json_pieces

SAMPLE = Path(__file__).parent / "fixtures" / "sample"


def sample_copy(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    return root


def test_the_json_output_is_the_document_json_dumps_writes() -> None:
    # the entries made as they are written give the text the whole document gives
    result = scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))
    text = render_json(result)
    assert len(json.loads(text)["call_sites"]) == len(result.call_sites) > 0
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def left_in_cycles(root: Path, options: ScanOptions) -> tuple[set[str], str]:
    """The types of what a scan of ``root`` leaves in cycles of references (the collector
    off while it runs), and its result."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        result = model_json(scan(root, options))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return {type(o).__name__ for o in gc.garbage}, result
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def sample_and_reference(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the sample, and its result as one process scans it without a cache: what
    every other way of scanning it must give."""
    root = sample_copy(tmp_path)
    return root, model_json(scan(root, ScanOptions(use_cache=False, jobs=1)))


@pytest.mark.parametrize("use_cache", [False, True])
def test_a_scan_leaves_nothing_it_resolved_with_in_a_cycle(tmp_path: Path, use_cache: bool) -> None:
    root, reference = sample_and_reference(tmp_path)
    options = ScanOptions(use_cache=use_cache, cache_dir=tmp_path / "cache", jobs=1)
    left, result = left_in_cycles(root, options)
    assert result == reference
    # nothing at all: a cycle keeps whatever it reaches (an index: every fact) until the
    # collector's next full collection, which comes after the output is rendered
    assert not left


def test_the_resolution_memo_is_let_go_before_the_last_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo holds every kept resolution: the scan drops it before storing the result,
    the last of its writes, and nothing else (its last resolver among them) holds it."""
    import weakref

    from decouple_services.app.incremental import SiteMemo

    root, reference = sample_and_reference(tmp_path)
    memos: list[weakref.ref[SiteMemo]] = []
    alive: list[bool] = []
    load = SiteMemo.load.__func__  # type: ignore[attr-defined]
    store_result = pipeline._Inputs.store_result

    def loading(cls: type[SiteMemo], *args: Any) -> SiteMemo:
        memo = load(cls, *args)
        memos.append(weakref.ref(memo))
        return memo  # type: ignore[no-any-return]

    def storing(self: Any, *args: Any) -> Any:
        alive.append(any(ref() is not None for ref in memos))
        return store_result(self, *args)

    monkeypatch.setattr(SiteMemo, "load", classmethod(loading))
    monkeypatch.setattr(pipeline._Inputs, "store_result", storing)
    options = ScanOptions(cache_dir=tmp_path / "cache", jobs=1)
    assert model_json(scan(root, options)) == reference
    assert memos and alive == [False]


def test_an_index_in_a_cycle_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the check above sees what a cycle keeps: an index referring to itself is left in one
    from decouple_services.app.asking import AskingIndex

    post_init = AskingIndex.__post_init__

    def looped(self: Any) -> None:
        post_init(self)
        self.loop = self

    monkeypatch.setattr(AskingIndex, "__post_init__", looped)
    left, _ = left_in_cycles(sample_copy(tmp_path), ScanOptions(use_cache=False, jobs=1))
    assert {"AskingIndex", "FileFacts"} <= left


def test_workers_started_only_for_enough_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pipeline.start_workers(1, 10_000) is None
    assert pipeline.start_workers(None, pipeline.PARALLEL_THRESHOLD - 1) is None
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    pool = pipeline.start_workers(2, pipeline.PARALLEL_THRESHOLD)
    assert pool is not None
    try:
        assert pool.submit(int, "7").result() == 7
    finally:
        pool.shutdown()


def started_workers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The pools the scans that follow start early (every scan parallel from 2 files, on
    2 processes)."""
    started: list[Any] = []
    start_workers = pipeline.start_workers

    def watched(jobs: int | None, files: int) -> Any:
        pool = start_workers(jobs, files)
        started.append(pool)
        return pool

    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pipeline, "start_workers", watched)
    return started


@pytest.mark.parametrize("use_cache", [False, True])
def test_early_workers_give_the_result_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    root, reference = sample_and_reference(tmp_path)
    started = started_workers(monkeypatch)
    options = ScanOptions(use_cache=use_cache, cache_dir=tmp_path / "cache", jobs=2)
    assert model_json(scan(root, options)) == reference
    assert len(started) == 1 and started[0] is not None
    assert started[0]._shutdown_thread  # the scan shut them down
    if use_cache:
        # a rerun knows the tree's files from the cache: no workers started for it
        (root / "added.py").write_text("x = 1\n")
        scan(root, options)
        assert len(started) == 1


@pytest.mark.parametrize("failing", ["discover_services", "extract_all"])
def test_early_workers_shut_down_when_the_scan_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    # discovery runs between the workers' start and extraction, which shuts them down
    import decouple_services.discover.services as services_module

    started = started_workers(monkeypatch)
    processes: list[Any] = []
    start_workers = pipeline.start_workers

    def watched(jobs: int | None, files: int) -> Any:
        pool = start_workers(jobs, files)
        processes.extend(pool._processes.values())
        return pool

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("failed")

    monkeypatch.setattr(pipeline, "start_workers", watched)
    owner = services_module if failing == "discover_services" else pipeline
    monkeypatch.setattr(owner, failing, fail)
    options = ScanOptions(use_cache=False, jobs=2)
    with pytest.raises(RuntimeError, match="failed"):
        scan(sample_copy(tmp_path), options)
    assert len(started) == 1 and processes
    assert started[0]._shutdown_thread
    assert not any(p.is_alive() for p in processes)
    assert not set(processes) & set(multiprocessing.active_children())


def test_early_workers_not_needed_are_shut_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # started, then given too few files to parse in parallel: parsed here, workers ended
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    pool = pipeline.start_workers(2, pipeline.PARALLEL_THRESHOLD)
    assert pool is not None
    root = sample_copy(tmp_path)
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))[:3]
    options = pipeline.detection_options([], pipeline.Config())
    alone = pipeline.extract_all(root, paths, options, jobs=1)
    given = pipeline.extract_all(root, paths, options, jobs=2, workers=pool)
    assert [f.to_json() for f in given] == [f.to_json() for f in alone]
    assert pool._shutdown_thread


def _dying(args: Any) -> Any:
    os._exit(1)  # a worker killed in the middle of its chunk


def parallel_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[str], Any, list[Any]]:
    """The sample's files, its options, and their facts as one process extracts them; the
    extractions that follow parallel from 2 files, on 2 processes."""
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    root = sample_copy(tmp_path)
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    options = pipeline.detection_options([], pipeline.Config())
    return root, paths, options, pipeline.extract_all(root, paths, options, jobs=1)


def test_files_a_worker_left_when_it_died_are_parsed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths, options, alone = parallel_sample(tmp_path, monkeypatch)
    monkeypatch.setattr(pipeline, "_extract_chunk", _dying)
    pool = pipeline.start_workers(2, len(paths))
    assert pool is not None
    given = pipeline.extract_all(root, paths, options, jobs=2, workers=pool)
    assert [f.to_json() for f in given] == [f.to_json() for f in alone]
    assert pool._broken
    assert not multiprocessing.active_children()


def test_workers_that_died_in_the_first_round_leave_the_round_of_asking_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths, options, alone = parallel_sample(tmp_path, monkeypatch)
    monkeypatch.setattr(pipeline, "WARM_PARALLEL_FILES", 2)
    monkeypatch.setattr(pipeline, "WARM_PARALLEL_BYTES", 1)
    monkeypatch.setattr(pipeline, "_extract_chunk", _dying)
    pool = pipeline.start_workers(2, len(paths))
    assert pool is not None
    first = pipeline.extract_all(root, paths, options, jobs=2, workers=pool, keep_workers=True)
    assert pool._broken
    # the broken workers handed to the first round of asking, as a scan hands them on
    asked = pipeline.extract_all(root, paths, options, jobs=2, workers=pool, late=True)
    expected = [f.to_json() for f in alone]
    assert [f.to_json() for f in first] == expected == [f.to_json() for f in asked]
    assert not multiprocessing.active_children()


def test_late_workers_only_for_a_large_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "_main_guarded", lambda: True)
    monkeypatch.setattr(pipeline, "LATE_PARALLEL_BYTES", 1000)
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_bytes(b"x = 1\n" * 100)  # 600 bytes each
    root = str(tmp_path)
    assert pipeline.late_workers(1, root, ["a.py", "b.py"]) is None
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    assert pipeline.late_workers(2, root, ["a.py", "gone.py"]) is None
    pool = pipeline.late_workers(2, root, ["a.py", "gone.py", "b.py"])
    assert pool is not None
    try:
        # new interpreters, not copies of this process and what it holds
        assert pool._mp_context.get_start_method() == "spawn"
        assert pool.submit(int, "7").result() == 7
    finally:
        pool.shutdown()
    # a program whose main module a new interpreter would run again: parsed here
    monkeypatch.setattr(pipeline, "_main_guarded", lambda: False)
    assert pipeline.late_workers(2, root, ["a.py", "b.py"]) is None


def main_module(
    monkeypatch: pytest.MonkeyPatch, *, file: str | None, spec: str | None, main: Any = None
) -> None:
    module = types.ModuleType("__main__")
    if file is not None:
        module.__file__ = file
    module.__spec__ = None if spec is None else importlib.machinery.ModuleSpec(spec, None)
    if main is not None:
        module.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", module)


def test_workers_started_anew_only_under_a_guarded_main(monkeypatch: pytest.MonkeyPatch) -> None:
    guarded = pipeline._main_guarded
    main_module(monkeypatch, file="/venv/bin/decouple", spec=None, main=cli_main)
    assert guarded()  # the command's script
    main_module(
        monkeypatch, file="/x/decouple_services/__main__.py", spec="decouple_services.__main__"
    )
    assert guarded()  # python -m decouple_services
    main_module(monkeypatch, file=None, spec=None)
    assert guarded()  # python -c, a notebook: no main file to import
    main_module(monkeypatch, file="/x/pytest/__main__.py", spec="pytest.__main__")
    assert not guarded()
    main_module(monkeypatch, file="/home/me/audit.py", spec=None, main=lambda: None)
    assert not guarded()  # a script of its own, which may call scan() unguarded
    main_module(monkeypatch, file="/home/me/audit.py", spec=None)
    assert not guarded()


#: A request to a new host, appended to a module of the sample.
NEW_CALL = """

import requests as _new_requests


def _new_call(value):
    return _new_requests.post("http://new-host.example/items", json=value)
"""


@pytest.mark.parametrize("use_cache", [False, True])
def test_a_round_asked_for_parsed_by_workers_gives_the_result_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    # the sample's second round asks for 20 files: shared out from 2 on (any text), on 2
    # processes
    root, reference = sample_and_reference(tmp_path)
    submitted: list[int] = []
    started: list[int] = []
    late_workers = pipeline.late_workers

    def watched(jobs: int | None, root: str, paths: list[str]) -> Any:
        pool = late_workers(jobs, root, paths)
        if pool is not None:
            started.append(len(paths))
            submit = pool.submit

            def counted(*args: Any, **kwargs: Any) -> Any:
                submitted.append(len(paths))
                return submit(*args, **kwargs)

            pool.submit = counted  # type: ignore[method-assign]
        return pool

    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(pipeline, "LATE_PARALLEL_BYTES", 1)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pipeline, "late_workers", watched)
    monkeypatch.setattr(pipeline, "_main_guarded", lambda: True)  # pytest's, guarded
    monkeypatch.setattr(pipeline, "start_workers", lambda jobs, files: None)
    options = ScanOptions(use_cache=use_cache, cache_dir=tmp_path / "cache", jobs=2)
    assert model_json(scan(root, options)) == reference
    assert submitted and max(submitted) >= 20
    assert not multiprocessing.active_children()
    if use_cache:
        # a rerun after a new call asks for those files again, and has their facts from
        # the cache: nothing to share out, and no worker started for it
        edited = root / "services" / "frontend" / "frontend" / "clients.py"
        edited.write_text(edited.read_text() + NEW_CALL)
        submitted.clear()
        started.clear()
        rerun = model_json(scan(root, options))
        assert rerun == model_json(scan(root, ScanOptions(use_cache=False, jobs=1)))
        assert rerun != reference
        assert not submitted and not started


def watched_rounds(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[tuple[bool, int]]]:
    """:func:`started_workers`, and for each round asked for on demand whether those
    workers were still there when it began and how many chunks it gave them."""
    started = started_workers(monkeypatch)
    rounds: list[tuple[bool, int]] = []
    chunks = [0]
    start_workers = pipeline.start_workers
    extract_all = pipeline.extract_all

    def counting(jobs: int | None, files: int) -> Any:
        pool = start_workers(jobs, files)
        submit = pool.submit

        def counted(*args: Any, **kwargs: Any) -> Any:
            chunks[0] += 1
            return submit(*args, **kwargs)

        pool.submit = counted
        return pool

    def watched_extract(*args: Any, **kwargs: Any) -> Any:
        before = chunks[0]
        there = bool(started) and not started[0]._shutdown_thread
        found = extract_all(*args, **kwargs)
        if kwargs.get("late"):
            rounds.append((there, chunks[0] - before))
        return found

    monkeypatch.setattr(pipeline, "start_workers", counting)
    monkeypatch.setattr(pipeline, "extract_all", watched_extract)
    return started, rounds


@pytest.mark.parametrize("use_cache", [False, True])
def test_the_first_round_of_asking_shares_out_among_the_first_rounds_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    # the sample's first round of asking parses 20 files: shared out from 2 on (any text)
    root, reference = sample_and_reference(tmp_path)
    started, rounds = watched_rounds(monkeypatch)
    monkeypatch.setattr(pipeline, "WARM_PARALLEL_FILES", 2)
    monkeypatch.setattr(pipeline, "WARM_PARALLEL_BYTES", 1)
    options = ScanOptions(use_cache=use_cache, cache_dir=tmp_path / "cache", jobs=2)
    assert model_json(scan(root, options)) == reference
    assert len(started) == 1 and len(rounds) > 1
    there, chunks = rounds[0]
    assert there and chunks > 0
    # they end with it: the later rounds find them gone
    assert not any(there for there, _ in rounds[1:])
    assert not multiprocessing.active_children()


def test_a_small_first_round_of_asking_is_parsed_here_and_ends_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 files, fewer than WARM_PARALLEL_FILES
    started, rounds = watched_rounds(monkeypatch)
    scan(sample_copy(tmp_path), ScanOptions(use_cache=False, jobs=2))
    assert len(started) == 1 and len(rounds) > 1
    assert rounds[0] == (True, 0)
    assert not any(there for there, _ in rounds[1:])
    assert not multiprocessing.active_children()


def test_workers_kept_by_their_caller_are_not_shut_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths, options, alone = parallel_sample(tmp_path, monkeypatch)
    pool = pipeline.start_workers(2, len(paths))
    assert pool is not None
    try:
        kept = pipeline.extract_all(root, paths, options, jobs=2, workers=pool, keep_workers=True)
        assert [f.to_json() for f in kept] == [f.to_json() for f in alone]
        assert pool.submit(int, "7").result() == 7  # still there
        # a round asked for on demand, too small for them: parsed here, and they stay
        small = pipeline.extract_all(
            root, paths[:1], options, jobs=2, workers=pool, keep_workers=True, late=True
        )
        assert [f.to_json() for f in small] == [alone[0].to_json()]
        assert pool.submit(int, "8").result() == 8
    finally:
        pool.shutdown()


def test_the_json_output_in_pieces_is_its_text() -> None:
    result = scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))
    pieces = render_json_pieces(result)
    assert len(pieces) > len(result.call_sites)
    assert "".join(pieces) == render_json(result)


def test_an_output_written_from_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fs_module, "TEXT_CHUNK", 3)
    pieces = ["é☃", "", "\u2028abc" * 5, "\U0001f600"]
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    write_output(target, pieces)
    assert target.read_bytes() == "".join(pieces).encode()
    write_output("-", pieces)
    assert capfd.readouterr().out == "".join(pieces)
    with pytest.raises(UnicodeEncodeError):
        write_output(target, ["abc", "\ud800"])
    assert target.read_bytes() == "".join(pieces).encode()


@pytest.mark.parametrize("to_file", [True, False])
def test_the_cli_writes_and_replays_the_json_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], to_file: bool
) -> None:
    root = sample_copy(tmp_path)
    expected = render_json(scan(root, ScanOptions(use_cache=False, jobs=1)))
    out = tmp_path / "out.json"
    args = ["scan", str(root), "--format", "json", "--cache-dir", str(tmp_path / "cache")]
    if to_file:
        args += ["-o", str(out)]
    for _ in range(2):  # the second run is answered by the replay record of the first
        assert cli_main(args) == 0
        written = capsys.readouterr().out
        assert (out.read_text() if to_file else written) == expected
        if to_file:
            out.unlink()
    assert list((tmp_path / "cache").glob("replay-*.json"))
