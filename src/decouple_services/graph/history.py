"""Change frequency from git: how often each service's calling code changed recently.

A coupled service whose call sites sit in code that changes every week is where coupling
hurts: every change is a chance to break a caller or a callee. For each service this counts
the commits in a window that touched a file holding one of its production calls to another
service. The window ends at the newest commit, not at today, so the same checkout always
gives the same counts (a CI job re-run next month scores the same commit the same way).

Read with git itself (``git log``); without git, outside a work tree or without commits,
there is no history and the score leaves the term out.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from decouple_services.core.errors import DecoupleError
from decouple_services.core.git import git_argv, git_env
from decouple_services.core.model import ScanResult

DEFAULT_WINDOW = "90d"
_DAYS = re.compile(r"^\s*(\d+)\s*(d|day|days)?\s*$")
_GIT_TIMEOUT = 60


@dataclass(frozen=True, slots=True)
class Window:
    """Commits after ``start`` (a Unix time) or, with ``days``, in the ``days`` days before
    the newest commit."""

    days: int | None = None
    start: int | None = None

    def cutoff(self, newest: int) -> int:
        if self.days is not None:
            return newest - self.days * 86_400
        return self.start or 0

    def describe(self) -> str:
        if self.days is not None:
            return f"{self.days} days before the newest commit"
        day = datetime.fromtimestamp(self.start or 0, UTC).date().isoformat()
        return f"since {day}"


def parse_window(text: str) -> Window:
    """``90d``/``90 days``/``90`` (days before the newest commit) or a date ``2026-01-31``."""
    match = _DAYS.match(text)
    if match:
        return Window(days=int(match.group(1)))
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise DecoupleError(
            f"--since {text!r}: expected a number of days (90d) or a date (2026-01-31)"
        ) from None
    return Window(start=int(day.timestamp()))


def calling_files(result: ScanResult) -> dict[str, set[str]]:
    """Per service, the files holding its production calls to other services."""
    files: dict[str, set[str]] = defaultdict(set)
    for site in result.call_sites:
        if site.is_production_coupling:
            files[site.caller].add(site.file)
    return files


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            git_argv(root, *args),
            env=git_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def commit_files(root: Path, window: Window) -> list[set[str]] | None:
    """The files (relative to ``root``) each commit in the window touched, or ``None``
    without git history."""
    newest = _git(root, "log", "-1", "--format=%ct", "--", ".")
    if newest is None or not newest.strip():
        return None
    cutoff = window.cutoff(int(newest.strip()))
    out = _git(
        root,
        "log",
        f"--since=@{cutoff}",
        "--no-renames",
        "--relative",
        "--name-only",
        "--format=%x01%ct",
        "--",
        ".",
    )
    if out is None:
        return None
    commits: list[set[str]] = []
    current: set[str] | None = None
    keep = False
    for line in out.splitlines():
        if line.startswith("\x01"):
            if current is not None and keep:
                commits.append(current)
            current = set()
            # git's --since is a hint it stops at; commit times are checked here.
            keep = int(line[1:] or 0) >= cutoff
        elif line and current is not None:
            current.add(line)
    if current is not None and keep:
        commits.append(current)
    return commits


def change_counts(result: ScanResult, root: Path, window: Window) -> dict[str, int] | None:
    """Commits in ``window`` touching each service's calling files; ``None`` without history.

    ``root`` is the scanned directory (call-site paths are relative to it).
    """
    commits = commit_files(root, window)
    if commits is None:
        return None
    return count_changes(calling_files(result), commits)


def count_changes(files: Mapping[str, set[str]], commits: list[set[str]]) -> dict[str, int]:
    return {
        service: sum(1 for touched in commits if touched & paths)
        for service, paths in sorted(files.items())
    }
