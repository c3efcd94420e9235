"""The listing cache (walk mode): a cached listing equals a fresh walk, whatever changed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import decouple_services.app.cache
import decouple_services.core.stamps
import decouple_services.discover.files as files
from decouple_services.app.cache import ListingCache
from decouple_services.discover.files import FileListing, list_files

from .conftest import Tree

TREE = {
    ".gitignore": "generated/\n/scripts/bin/\n",
    "app/__init__.py": "",
    "app/main.py": "",
    "cmd/server/main.go": "",
    "generated/server.go": "",
    "app/sub/deep.py": "",
    "svc/.gitignore": "local_*.py\n",
    "svc/api.py": "",
    "svc/local_debug.py": "",
    "tools/bin/run.py": "",
    "scripts/bin/run.sh": "",
    "scripts/deploy.py": "",
    "oldenv/bin/activate": "",
    "oldenv/Scripts/activate": "",
    "oldenv/lib.py": "",
    "build/__init__.py": "",
    "build/steps.py": "",
    "generated/stub.py": "",
    "deploy/docker-compose.yml": "services: {}\n",
}


def age(root: Path) -> None:
    """Date every path 10 s back: older than the racy window, so the listing is kept."""
    past = time.time_ns() - 10_000_000_000
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            os.utime(os.path.join(folder, name), ns=(past, past), follow_symlinks=False)
    os.utime(root, ns=(past, past))


def listed(root: Path, cache: Path, exclude: tuple[str, ...] = ()) -> FileListing:
    return list_files(root, exclude, ListingCache(cache, root, exclude))


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


EDITS: dict[str, Callable[[Path], None]] = {
    "new file": lambda r: (r / "app/sub/new.py").write_text(""),
    "new file at the root": lambda r: (r / "setup.py").write_text(""),
    "deleted file": lambda r: (r / "app/sub/deep.py").unlink(),
    "new gitignore rule": lambda r: append(r / ".gitignore", "app/sub/\n"),
    "removed gitignore rule": lambda r: (r / "svc/.gitignore").write_text("# none\n"),
    "new gitignore file": lambda r: (r / "app/.gitignore").write_text("main.py\n"),
    "deleted gitignore file": lambda r: (r / ".gitignore").unlink(),
    "renamed directory": lambda r: (r / "app/sub").rename(r / "app/renamed"),
    "moved file": lambda r: (r / "app/sub/deep.py").rename(r / "svc/deep.py"),
    "new virtualenv": lambda r: (r / "tools/bin/activate").write_text(""),
    # scripts/bin/ is ignored, so never walked: only its own mtime tells
    "new virtualenv, ignored bin": lambda r: (r / "scripts/bin/activate").write_text(""),
    # oldenv/ is skipped, so never walked: only its bin/ and Scripts/ mtimes tell
    "no longer a virtualenv": lambda r: [
        (r / "oldenv" / d / "activate").unlink() for d in ("bin", "Scripts")
    ],
    "new pyvenv.cfg": lambda r: (r / "app/sub/pyvenv.cfg").write_text(""),
    "build output": lambda r: (r / "build/__init__.py").unlink(),
    "deleted directory": lambda r: shutil.rmtree(r / "svc"),
    "file edited in place": lambda r: append(r / "app/main.py", "x = 1\n"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_cached_listing_equals_a_fresh_walk_after_an_edit(
    make_tree: Tree, tmp_path: Path, edit: str
) -> None:
    root = make_tree(TREE)
    cache = tmp_path / "cache"
    age(root)
    before = listed(root, cache)
    assert before == list_files(root)
    assert list(cache.glob("listing-*.json"))
    EDITS[edit](root)
    fresh = list_files(root)
    assert (fresh == before) == (edit == "file edited in place")
    assert listed(root, cache) == fresh
    # kept again once the edit is old enough, and still right
    age(root)
    assert listed(root, cache) == fresh
    assert listed(root, cache) == fresh


def test_an_unchanged_tree_is_not_walked_again(
    make_tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(TREE)
    cache = tmp_path / "cache"
    age(root)
    expected = listed(root, cache)

    def fail(*args: object) -> None:
        raise AssertionError("walked again")

    monkeypatch.setattr(files._Walker, "walk", fail)
    assert listed(root, cache) == expected


def test_other_exclude_globs_do_not_reuse_the_listing(make_tree: Tree, tmp_path: Path) -> None:
    root = make_tree(TREE)
    cache = tmp_path / "cache"
    age(root)
    listed(root, cache)
    assert listed(root, cache, ("app/**",)) == list_files(root, ("app/**",))
    assert listed(root, cache) == list_files(root)


def test_a_recently_modified_tree_is_walked_next_time(
    make_tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory changed within the racy window may change again in the same tick."""
    # A window wider than any scheduling delay: on a loaded machine more than the default
    # 0.1 s may pass between writing the tree and listing it.
    monkeypatch.setattr(decouple_services.core.stamps, "RACY_NS", 3_600 * 1_000_000_000)
    root = make_tree(TREE)
    cache = tmp_path / "cache"
    listed(root, cache)
    assert not list(cache.glob("listing-*.json"))


def test_a_tree_with_symlinks_is_always_walked(make_tree: Tree, tmp_path: Path) -> None:
    """A link's target can change without any stamped directory changing."""
    root = make_tree(TREE)
    outside = make_tree({"lib.py": ""}, name="outside")
    (root / "app/linked").symlink_to(outside, target_is_directory=True)
    (root / "app/alias.py").symlink_to(root / "svc/api.py")
    cache = tmp_path / "cache"
    age(root)
    assert listed(root, cache) == list_files(root)
    assert not list(cache.glob("listing-*.json"))


def test_a_corrupt_listing_cache_is_ignored(make_tree: Tree, tmp_path: Path) -> None:
    root = make_tree(TREE)
    cache = tmp_path / "cache"
    age(root)
    expected = listed(root, cache)
    (entry,) = cache.glob("listing-*.json")
    text = entry.read_text(encoding="utf-8")
    for damaged in ("not json", "{}", text.replace('"app/main.py"', "3"), text[:-40]):
        entry.write_text(damaged, encoding="utf-8")
        assert listed(root, cache) == expected
