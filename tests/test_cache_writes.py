"""The cache's and the output's writes, made a piece at a time: the same bytes as the texts
built whole, and as atomic (a write that fails leaves the file it would replace)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import decouple_services.app.cache as cache_module
import decouple_services.core.fs as fs_module
from decouple_services.app.cache import (
    FactsPack,
    drop_facts,
    json_chunks,
    model_json,
    model_json_chunks,
    result_key,
    write_cache_chunks,
    write_cache_json,
    write_facts,
)
from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.fs import write_output

SAMPLE = Path(__file__).parent / "fixtures" / "sample"

_keys = st.text(max_size=4) | st.sampled_from(["", "\ud800", "é", '"'])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(["\ud800", "\u2028", '"\\'])
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=7) | st.dictionaries(_keys, inner, max_size=7),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.integers(min_value=1, max_value=6))
def test_json_in_pieces_is_the_text_json_dumps_gives(value: object, batch: int) -> None:
    whole = json.dumps(value, separators=(",", ":")).encode()
    pieces = list(json_chunks(value, batch))
    assert b"".join(pieces) == whole


def test_a_large_mapping_is_encoded_in_pieces_none_of_them_whole() -> None:
    files = {f"pkg/mod{n}.py": [n, n * 7, "d" * 64] for n in range(1000)}
    data = {"format": 4, "files": files, "rejected": {"k": sorted(files)[:3]}, "result": None}
    pieces = list(json_chunks(data, 100))
    assert b"".join(pieces) == json.dumps(data, separators=(",", ":")).encode()
    assert max(len(p) for p in pieces) < len(json.dumps(files)) / 5
    # nothing large: encoded whole, as before
    assert list(json_chunks({"a": [1, 2]}, 100)) == [b'{"a":[1,2]}']


@settings(max_examples=200, deadline=None)
@given(st.lists(_json, max_size=4), st.dictionaries(_keys, _scalars, max_size=30))
def test_the_result_key_is_the_digest_of_the_sorted_json(parts: list[object], big: dict) -> None:
    value = [*parts, big, {"x": {str(n): n for n in range(5000)}}]
    text = json.dumps(value, sort_keys=True, default=repr)
    assert result_key(value) == hashlib.sha256(text.encode()).hexdigest()


def test_a_result_in_pieces_is_its_model_json() -> None:
    result = scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))
    whole = model_json(result).encode()
    for batch in (1, 2, 3, 256):
        assert b"".join(model_json_chunks(result, batch)) == whole
    assert (
        b"".join(model_json_chunks(result.call_sites, 2)) == model_json(result.call_sites).encode()
    )


def test_the_cache_files_of_a_scan_are_the_json_built_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small batches: every file of the sample's cache written in many pieces
    monkeypatch.setattr(cache_module, "JSON_BATCH", 2)
    monkeypatch.setattr(cache_module, "MODEL_BATCH", 2)
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache"))
    folder = tmp_path / "cache"
    result = scan(root, ScanOptions(cache_dir=folder, jobs=1))
    written = sorted(folder.glob("*.json"))
    assert any(p.name.startswith("manifest-") for p in written)
    for path in written:
        raw = path.read_bytes()
        if path.name.startswith(("sites-", "replay-")):
            continue  # lines of JSON, written as they were before
        assert json.dumps(json.loads(raw), separators=(",", ":")).encode() == raw, path.name
    (stored,) = folder.glob("result-*.json")
    assert stored.read_bytes().endswith(b',"value":' + model_json(result).encode() + b"}")


def _failing(error: Exception) -> Iterator[bytes]:
    yield b'{"half":'
    raise error


@pytest.mark.parametrize("error", [OSError(28, "No space left"), ValueError("cannot encode")])
def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path: Path, error: Exception) -> None:
    target = tmp_path / "manifest-x.json"
    write_cache_json(target, {"old": list(range(10))})
    before = target.read_bytes()
    if isinstance(error, OSError):
        assert write_cache_chunks(target, _failing(error)) is False
    else:
        with pytest.raises(ValueError):
            write_cache_chunks(target, _failing(error))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["manifest-x.json"]


def test_the_output_is_written_in_pieces_the_bytes_of_its_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fs_module, "TEXT_CHUNK", 3)
    target = tmp_path / "out.json"
    text = "é☃\u2028abc" * 50 + "\U0001f600"
    write_output(target, text)
    assert target.read_bytes() == text.encode("utf-8")


def test_an_output_that_cannot_be_encoded_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fs_module, "TEXT_CHUNK", 3)
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with pytest.raises(UnicodeEncodeError):
        write_output(target, "abcdef" + "\ud800" + "ghi")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def _pack_lines(folder: Path) -> list[bytes]:
    return [
        line
        for pack in sorted((folder / "packs").glob("pack-*.jsonl"))
        for line in pack.read_bytes().splitlines()
    ]


def test_facts_written_as_they_come_make_the_pack_the_list_makes(tmp_path: Path) -> None:
    items = [(hashlib.sha256(str(n).encode()).hexdigest(), f'{{"n":{n}}}') for n in range(50)]
    items.append(("b" * 64, "not\none line"))  # left out, as ever
    as_list, as_written = tmp_path / "list", tmp_path / "written"
    write_facts(str(as_list), items)
    pack = FactsPack(str(as_written))
    for item in items:
        pack.append(item)
    # nothing in place until the scan is done: the temporary file is no pack
    assert not list((as_written / "packs").glob("pack-*.jsonl"))
    write_facts(str(as_written), pack)
    assert _pack_lines(as_written) == _pack_lines(as_list)
    assert len(_pack_lines(as_written)) == 50
    assert not list(tmp_path.rglob("*.tmp"))


def test_facts_of_a_scan_that_does_not_finish_leave_no_file(tmp_path: Path) -> None:
    pack = FactsPack(str(tmp_path))
    pack.append(("a" * 64, "{}"))
    assert list(tmp_path.rglob("*.tmp"))
    pack.discard()
    assert not list(tmp_path.rglob("*.tmp"))
    assert not list(tmp_path.rglob("pack-*.jsonl"))


def test_facts_a_killed_scan_left_are_removed_by_a_later_scan_once_old(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    abandoned, running = packs / "a1b2c3.tmp", packs / "d4e5f6.tmp"
    abandoned.write_bytes(b"k\t{}\n")
    running.write_bytes(b"k\t{}\n")
    keep = packs / "notes.txt"  # not a temporary file: never touched
    keep.write_bytes(b"")
    old = time.time() - cache_module.ABANDONED_AFTER - 60
    os.utime(abandoned, (old, old))
    os.utime(keep, (old, old))
    pack = FactsPack(str(tmp_path))
    pack.append(("a" * 64, "{}"))
    assert not abandoned.exists()
    assert running.exists() and keep.exists()
    write_facts(str(tmp_path), pack)
    assert running.exists()


def test_facts_written_again_for_a_dropped_key_replace_the_old_entry(tmp_path: Path) -> None:
    folder = str(tmp_path)
    key = "c" * 64
    write_facts(folder, [(key, '{"old":1}')])
    assert cache_module._packs(folder).get(key) == b'{"old":1}'
    drop_facts(key)
    pack = FactsPack(folder)
    pack.append((key, '{"new":2}'))
    write_facts(folder, pack)
    assert cache_module._packs(folder).get(key) == b'{"new":2}'
    assert _pack_lines(tmp_path) == [key.encode() + b'\t{"new":2}']
    del cache_module._PACKS[folder]
    assert cache_module._packs(folder).get(key) == b'{"new":2}'


def test_facts_a_process_wrote_are_found_by_its_next_lookups(tmp_path: Path) -> None:
    folder = str(tmp_path)
    cache_module._packs(folder).refresh()  # loaded before the write, as a scan's are
    pack = FactsPack(folder)
    pack.append(("d" * 64, '{"d":1}'))
    write_facts(folder, pack)
    # not kept in memory after the write; read from the new pack when asked for
    assert "d" * 64 not in cache_module._packs(folder).entries
    assert cache_module._packs(folder).find("d" * 64) == b'{"d":1}'
