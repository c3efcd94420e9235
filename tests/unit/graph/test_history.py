"""Change frequency from a real git history with commits at chosen dates."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from decouple_services.core.errors import DecoupleError
from decouple_services.graph.history import Window, change_counts, parse_window

from .factory import call, scan_of

DAY = 86_400
NEWEST = 1_780_000_000

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def commit(root: Path, path: str, when: int) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"# {when}\n", encoding="utf-8")
    env = os.environ | {
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "-C", str(root), "add", path], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", f"edit {path}"], check=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    commit(root, "web/app.py", NEWEST - 200 * DAY)  # outside a 90-day window
    commit(root, "web/app.py", NEWEST - 30 * DAY)
    commit(root, "web/views.py", NEWEST - 10 * DAY)
    commit(root, "orders/api.py", NEWEST - 5 * DAY)
    commit(root, "README.md", NEWEST)  # the newest commit touches no calling code
    return root


def result():  # type: ignore[no-untyped-def]
    return scan_of(
        [
            call("web", "orders", file="web/app.py"),
            call("web", "orders", file="web/views.py"),
            call("orders", "pay", file="orders/api.py"),
            call("pay", "bank", file="pay/api.py"),
        ]
    )


def test_commits_in_the_window_before_the_newest_commit_are_counted(repo: Path) -> None:
    assert change_counts(result(), repo, Window(days=90)) == {"orders": 1, "pay": 0, "web": 2}
    assert change_counts(result(), repo, Window(days=365)) == {"orders": 1, "pay": 0, "web": 3}
    assert change_counts(result(), repo, Window(days=7)) == {"orders": 1, "pay": 0, "web": 0}


def test_a_date_window_counts_from_that_day(repo: Path) -> None:
    window = Window(start=NEWEST - 20 * DAY)
    assert change_counts(result(), repo, window) == {"orders": 1, "pay": 0, "web": 1}


def test_a_subdirectory_scan_reads_paths_relative_to_it(repo: Path) -> None:
    sub = scan_of([call("web", "orders", file="app.py")])
    assert change_counts(sub, repo / "web", Window(days=90)) == {"web": 1}


def test_without_git_history_there_are_no_counts(tmp_path: Path) -> None:
    assert change_counts(result(), tmp_path, Window(days=90)) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    assert change_counts(result(), empty, Window(days=90)) is None


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("90d", Window(days=90)),
        ("30 days", Window(days=30)),
        ("7", Window(days=7)),
        ("2026-01-31", Window(start=1_769_817_600)),
    ],
)
def test_windows_are_days_or_a_date(text: str, window: Window) -> None:
    assert parse_window(text) == window


def test_a_bad_window_says_what_is_expected() -> None:
    with pytest.raises(DecoupleError, match=r"expected a number of days \(90d\) or a date"):
        parse_window("last tuesday")
