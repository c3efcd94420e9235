"""What tells decouple's own code changed: each module's path, size and mtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decouple_services.core.stamps import _module_stamps


def _entries(package: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for line in _module_stamps(str(package)):
        path, size, mtime = line.rstrip("\n").split("\0")
        out[path] = (int(size), int(mtime))
    return out


def test_every_module_is_stamped_by_its_path_size_and_mtime(tmp_path: Path) -> None:
    (tmp_path / "app" / "deep").mkdir(parents=True)
    (tmp_path / "top.py").write_text("x = 1\n")
    (tmp_path / "app" / "deep" / "mod.py").write_text("y = 22\n")
    (tmp_path / "app" / "notes.txt").write_text("not code")
    info = os.stat(tmp_path / "app" / "deep" / "mod.py")

    entries = _entries(tmp_path)

    assert set(entries) == {"top.py", "app/deep/mod.py"}
    assert entries["app/deep/mod.py"] == (info.st_size, info.st_mtime_ns)


def test_an_edit_changes_the_stamp(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    before = _module_stamps(str(tmp_path))
    module.write_text("x = 12\n")
    assert _module_stamps(str(tmp_path)) != before


def test_compiled_files_and_folders_outside_are_not_stamped(tmp_path: Path) -> None:
    package = tmp_path / "package"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__pycache__" / "cached.py").write_text("")
    (package / "own.py").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "foreign.py").write_text("")
    try:
        (package / "linked").symlink_to(outside, target_is_directory=True)
        (package / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    except OSError:
        pytest.skip("no symbolic links here")

    # as os.walk lists it: a link to a folder not followed, a dangling link not stamped
    assert set(_entries(package)) == {"own.py"}
