from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from decouple_services.core.errors import DecoupleError
from decouple_services.migrate.changes import (
    FileChange,
    OutsideRepositoryError,
    colourise,
    render_diff,
    write_changes,
)


def _repo(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _apply(root: Path, diff: bytes) -> None:
    patch = root.parent / "x.patch"
    patch.write_bytes(diff)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=root, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=root, check=True)


def test_the_diff_applies_to_crlf_latin1_and_unterminated_files(tmp_path: Path) -> None:
    old_crlf = b"a = 1\r\nb = 2\r\n"
    old_latin1 = "x = 'é'\n".encode("latin-1")
    old_open = b"last line without newline"
    root = _repo(tmp_path, {"crlf.py": old_crlf, "l1.py": old_latin1, "open.txt": old_open})
    changes = [
        FileChange("crlf.py", old_crlf, b"a = 1\r\nb = 3\r\n", "rewrite"),
        FileChange("l1.py", old_latin1, "x = 'è'\n".encode("latin-1"), "rewrite"),
        FileChange("open.txt", old_open, old_open + b"\nmore\n", "dependencies"),
        FileChange(
            "new/dir/run.py", None, b"#!/usr/bin/env python3\n", "generated", executable=True
        ),
    ]
    _apply(root, render_diff(changes))
    for change in changes:
        assert (root / change.path).read_bytes() == change.after
    assert os.access(root / "new/dir/run.py", os.X_OK)


def test_no_changes_is_an_empty_diff() -> None:
    assert render_diff([]) == b""


def test_colours_are_for_terminals_only() -> None:
    diff = render_diff([FileChange("a.py", b"x\n", b"y\n", "rewrite")])
    coloured = colourise(diff)
    assert b"\x1b[31m-x\x1b[0m" in coloured and b"\x1b[32m+y\x1b[0m" in coloured
    assert b"\x1b" not in diff


def test_write_is_all_or_nothing(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"a.py": b"old\n"})
    (root / "blocked").write_text("a file where a folder should be")
    changes = [
        FileChange("a.py", b"old\n", b"new\n", "rewrite"),
        FileChange("fresh/b.py", None, b"b\n", "generated"),
        FileChange("blocked/c.py", None, b"c\n", "generated"),
    ]
    with pytest.raises(OSError):
        write_changes(root, changes)
    assert (root / "a.py").read_bytes() == b"old\n"
    assert not (root / "fresh").exists()
    assert sorted(p.name for p in root.iterdir()) == [".git", "a.py", "blocked"]


def test_nothing_is_written_outside_the_repository(tmp_path: Path) -> None:
    root = _repo(tmp_path, {})
    (root / "link").symlink_to(tmp_path)
    for path in ("../evil.py", "link/evil.py", "/tmp/evil.py"):
        with pytest.raises(OutsideRepositoryError):
            write_changes(root, [FileChange(path, None, b"x\n", "generated")])
    assert not (tmp_path / "evil.py").exists()


def test_a_read_only_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"a.py": b"old\n", "b.py": b"old\n"})
    (root / "b.py").chmod(0o444)
    changes = [
        FileChange("a.py", b"old\n", b"new\n", "rewrite"),
        FileChange("b.py", b"old\n", b"new\n", "rewrite"),
    ]
    with pytest.raises(DecoupleError, match=r"read-only: b\.py"):
        write_changes(root, changes)
    assert (root / "a.py").read_bytes() == b"old\n"
    assert (root / "b.py").read_bytes() == b"old\n"
