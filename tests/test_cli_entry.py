"""The console entry point reads a plain ``scan`` command line as typer would, without typer.

Every command line either gives exactly the command and verbosity typer gives, or is left to
typer; help and errors are typer's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from decouple_services.app import scan as app_scan
from decouple_services.app.scan import ScanCommand
from decouple_services.app.terminal import Terminal, Verbosity
from decouple_services.cli import console, entry
from decouple_services.cli.commands import main as typer_main

SAMPLE = Path(__file__).parent / "fixtures" / "sample"

PLAIN = [
    ["scan", "repo"],
    ["scan", "repo", "-q"],
    ["scan", "-v", "repo"],
    ["scan", "repo", "--format", "json", "-o", "out.json", "--cache-dir", "c"],
    ["scan", "repo", "--format=sarif", "--output=x.sarif", "--exit-zero"],
    ["scan", "repo", "-f", "github", "--no-exit-zero", "--select", "DCP001,DCP002"],
    ["scan", "repo", "-x", "a/*", "--exclude", "b", "--ignore", "DCP003", "--ignore", "DCP004"],
    ["scan", "repo", "--callee", "users", "--endpoint", "POST /orders", "--baseline", "b.json"],
    ["scan", "repo", "--fail-on-score", "2.5", "--jobs", "3", "--no-cache", "--full-parse"],
    ["scan", "repo", "-j", "1", "--config", "decouple.toml", "--quiet"],
    ["scan", "repo", "--fail-on-score", "1_0", "--jobs", " 2"],
]

LEFT_TO_TYPER = [
    [],
    ["--help"],
    ["scan"],
    ["scan", "--help"],
    ["-q", "scan", "repo"],
    ["graph", "repo"],
    ["scan", "a", "b"],
    ["scan", "repo", "--format", "xml"],
    ["scan", "repo", "--format"],
    ["scan", "repo", "-o", "-q"],
    ["scan", "repo", "-fjson"],
    ["scan", "repo", "-f=json"],
    ["scan", "repo", "-qv"],
    ["scan", "repo", "-q", "-v"],
    ["scan", "repo", "-q", "-q"],
    ["scan", "repo", "--format", "json", "--format", "table"],
    ["scan", "repo", "--jobs", "0"],
    ["scan", "repo", "--jobs", "two"],
    ["scan", "repo", "--fail-on-score", "high"],
    ["scan", "repo", "--no-cache=1"],
    ["scan", "repo", "--unknown"],
    ["scan", "--", "repo"],
    ["scan", "-"],
    ["scan", ""],
]


def _through_typer(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[ScanCommand, Verbosity]:
    seen: dict[str, object] = {}

    def run(command: ScanCommand, *, terminal: Terminal | None = None) -> int:
        seen["command"] = command
        return 0

    def from_environment(level: Verbosity) -> Terminal:
        seen["level"] = level
        return Terminal()

    monkeypatch.setattr(app_scan, "run_scan_command", run)
    monkeypatch.setattr(console, "terminal", from_environment)
    assert typer_main(argv) == 0
    command, level = seen["command"], seen["level"]
    assert isinstance(command, ScanCommand) and isinstance(level, Verbosity)
    return command, level


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_a_plain_scan_is_read_as_typer_reads_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert entry.plain_scan(argv) == _through_typer(argv, monkeypatch)


@pytest.mark.parametrize("argv", LEFT_TO_TYPER, ids=" ".join)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert entry.plain_scan(argv) is None


def test_a_cache_dir_that_is_a_file_is_left_to_typer(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    assert entry.plain_scan(["scan", "repo", "--cache-dir", str(file)]) is None
    assert entry.plain_scan(["scan", "repo", "--cache-dir", str(tmp_path)]) is not None


def test_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_DECOUPLE_COMPLETE", "complete_bash")
    assert entry.plain_scan(["scan", "repo"]) is None


@pytest.mark.parametrize(
    "argv", [["--help"], ["scan", "--help"], ["scan", "repo", "--format", "xml"], ["scan"]]
)
def test_help_and_usage_errors_are_typers(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = entry.main(argv)
    through_entry = capsys.readouterr()
    assert status == typer_main(argv)
    assert capsys.readouterr() == through_entry


def test_a_plain_scan_prints_and_exits_as_through_typer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["scan", str(SAMPLE), "--cache-dir", str(tmp_path), "-f", "json", "--exit-zero"]
    status = typer_main(argv)
    through_typer = capsys.readouterr()
    assert entry.main(argv) == status
    assert capsys.readouterr() == through_typer
    missing = ["scan", str(tmp_path / "missing")]
    status = typer_main(missing)
    through_typer = capsys.readouterr()
    assert status == 2
    assert entry.main(missing) == status
    assert capsys.readouterr() == through_typer


def _scan_importing(tmp_path: Path, tree: Path, watched: list[str]) -> Callable[[], list[str]]:
    """A scan of ``tree`` with a cache, each time in a new interpreter: its exit status and
    whether it imported each of ``watched``."""
    cache, output = tmp_path / "cache", tmp_path / "o"
    argv = ["scan", str(tree), "--cache-dir", str(cache), "-q", "-o", str(output)]
    code = (
        "import sys\n"
        "from decouple_services.cli.entry import main\n"
        f"status = main({argv!r})\n"
        f"print(status, *(name in sys.modules for name in {watched!r}))\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        return done.stdout.split()

    return run


@pytest.mark.parametrize("git", [True, False], ids=["git work tree", "plain folder"])
def test_a_rerun_with_nothing_changed_imports_only_what_answering_needs(
    tmp_path: Path, git: bool
) -> None:
    """Replayed, a rerun imports neither typer nor the scan, nor ``typing`` and ``pathlib``
    (with ``urllib.parse`` and ``ipaddress`` under it): an eighth of such a rerun."""
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    if git:
        subprocess.run(["git", "init", "-q", str(tree)], check=True)
        subprocess.run(["git", "-C", str(tree), "add", "-A"], check=True)
    run = _scan_importing(
        tmp_path, tree, ["typer", "decouple_services.detect.extract", "typing", "pathlib"]
    )
    assert run() == ["0", "False", "True", "True", "True"]
    assert run() == ["0", "False", "False", "False", "False"]


def test_a_rerun_after_a_new_call_imports_neither_textwrap_nor_threading(
    tmp_path: Path,
) -> None:
    """A rerun after an edit extracts and resolves, so it imports the detectors: their
    examples are dedented without ``textwrap``, and the walk the route extractors share
    is remembered without ``threading``."""
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    run = _scan_importing(
        tmp_path, tree, ["decouple_services.detect.extract", "textwrap", "threading"]
    )
    run()
    edited = tree / "edited.py"
    edited.write_text('import requests\n\n\ndef f():\n    return requests.get("http://users/x")\n')
    assert run() == ["0", "True", "False", "False"]


def test_the_console_script_leaves_its_objects_to_the_exit(tmp_path: Path) -> None:
    """Run as the console script (no argv given), a scan freezes its objects before the
    process ends: the shutdown's collections do not walk them again. Called with argv
    (as a library or a test), it leaves the collector as it was."""
    argv = ["scan", str(SAMPLE), "--cache-dir", str(tmp_path), "-q", "-o", str(tmp_path / "o")]
    # another output file: the first run's output is not replayed for it, the scan runs
    script = [*argv[:-1], str(tmp_path / "o2")]
    code = (
        "import gc, sys\n"
        "from decouple_services.cli.entry import main\n"
        f"main({argv!r})\n"
        "given = gc.get_freeze_count()\n"
        f"sys.argv = ['decouple', *{script!r}]\n"
        "main()\n"
        "print(given, gc.get_freeze_count() > 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["0", "True"]
