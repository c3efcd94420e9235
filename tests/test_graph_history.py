"""Change frequency end to end: the sample as a git repository with a known history."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from decouple_services.cli import main

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
DAY = 86_400
START = 1_780_000_000

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(root: Path, *args: str, when: int) -> None:
    env = os.environ | {
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history") / "shop"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache"))
    git(root, "init", "-q", when=START)
    git(root, "add", "-A", when=START)
    git(root, "commit", "-qm", "import", when=START)
    # Three later edits of the frontend's calling code, one of payments'.
    for n in range(3):
        with (root / "services/frontend/frontend/views/shop.py").open("a") as handle:
            handle.write(f"# edit {n}\n")
        git(root, "commit", "-qam", f"frontend {n}", when=START + (n + 1) * DAY)
    with (root / "services/payments/payments/order_events.py").open("a") as handle:
        handle.write("# edit\n")
    git(root, "commit", "-qam", "payments", when=START + 10 * DAY)
    return root


def ranking(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, object]]:
    assert main(["hotspots", *args, "--no-cache", "--format", "json"]) == 0
    return {h["service"]: h for h in json.loads(capsys.readouterr().out)["hotspots"]}


def test_commits_touching_calling_code_add_to_the_score(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counted = ranking(capsys, str(repo))
    assert counted["frontend"]["changes"] == 4  # the import and three edits
    assert counted["payments"]["changes"] == 2
    assert counted["search"]["changes"] == 1
    plain = ranking(capsys, str(repo), "--no-history")
    assert plain["frontend"]["changes"] is None
    assert counted["frontend"]["score"] == plain["frontend"]["score"] + 2  # type: ignore[operator]


def test_the_window_ends_at_the_newest_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Five days before the newest commit (day 10) leaves only the payments edit.
    counted = ranking(capsys, str(repo), "--since", "5d")
    assert (counted["frontend"]["changes"], counted["payments"]["changes"]) == (0, 1)
    dated = ranking(capsys, str(repo), "--since", "2026-05-30")
    assert dated["frontend"]["changes"] == 2  # the edits of days 2 and 3 (2026-05-30, -31)


def test_a_bad_window_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hotspots", str(repo), "--no-cache", "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err


def test_the_scan_gate_counts_the_same_history(repo: Path, tmp_path: Path) -> None:
    from decouple_services.app.pipeline import ScanOptions, scan
    from decouple_services.graph.gate import hotspot_scores

    scores = hotspot_scores(scan(repo, ScanOptions(use_cache=False, jobs=1)))
    assert scores["frontend"] == 37 + 4 * 0.5
