from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Tree = Callable[..., Path]


@pytest.fixture
def make_tree(tmp_path: Path) -> Tree:
    """Write ``{relative path: text}`` under a fresh directory (dedented) and return it."""

    def make(files: dict[str, str], name: str = "repo") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return make


@pytest.fixture
def git_init() -> Callable[[Path], None]:
    """Make a directory a git work tree; nothing is committed (``--others`` lists files)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def init(root: Path) -> None:
        subprocess.run(["git", "init", "-q", str(root)], check=True)

    return init
