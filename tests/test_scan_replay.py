"""A rerun with nothing changed answers with the last run's output (``app/replay.py``); any
change to what the output depends on makes the scan run again, with the output a scan
without cache gives."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import decouple_services.app.scan
from decouple_services.app import pipeline
from decouple_services.app.cache import Manifest
from decouple_services.app.replay import Recorder, answer, command_key
from decouple_services.cli.entry import main
from decouple_services.core.stamps import may_be_in_work_tree

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
SERVICE_FILE = "services/orders/orders/api.py"


def age(root: Path, seconds: float = 60.0) -> None:
    """Every file and folder under ``root`` last modified ``seconds`` ago: older than the
    window in which a stat cannot vouch for a file (``core/stamps.py``)."""
    when = time.time() - seconds
    for folder, _, names in os.walk(root, topdown=False):
        for name in names:
            os.utime(os.path.join(folder, name), (when, when), follow_symlinks=False)
        os.utime(folder, (when, when))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    assert not may_be_in_work_tree(tmp_path), "run these tests outside a git work tree"
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    age(root)
    return root


class Runs:
    """``decouple scan`` through the console entry point, counting the scans that ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.capsys = capsys
        self.scans = 0
        real = decouple_services.app.scan.run_scan_command

        def counting(*args: object, **kwargs: object) -> int:
            self.scans += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(decouple_services.app.scan, "run_scan_command", counting)

    def __call__(self, *argv: str) -> tuple[str, str, int]:
        status = main(["scan", *argv])
        out, err = self.capsys.readouterr()
        return out, err, status


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runs:
    return Runs(monkeypatch, capsys)


def test_a_rerun_with_nothing_changed_writes_the_last_output_without_scanning(
    repo: Path, tmp_path: Path, runs: Runs
) -> None:
    args = (str(repo), "--format", "json", "--cache-dir", str(tmp_path / "cache"))
    first = runs(*args)
    assert runs.scans == 1 and list((tmp_path / "cache").glob("replay-*.json"))
    assert runs(*args) == first
    assert runs.scans == 1
    assert runs(str(repo), "--format", "json", "--no-cache") == first


def _edit(repo: Path) -> None:
    path = repo / SERVICE_FILE
    path.write_text(path.read_text() + "\n\ndef added():\n    return 1\n")


def _add_file(repo: Path) -> None:
    folder = repo / "services" / "orders" / "orders" / "extra"
    folder.mkdir()
    (folder / "calls.py").write_text(
        "import requests\n\n\ndef ping():\n    requests.post('http://users:8000/users')\n"
    )


def _remove_file(repo: Path) -> None:
    (repo / SERVICE_FILE).unlink()


def _configure(repo: Path) -> None:
    (repo / "decouple.toml").write_text('[tool.decouple]\nexclude = ["loadtest/**"]\n')


def _edit_pyproject(repo: Path) -> None:
    path = repo / "pyproject.toml"
    path.write_text(path.read_text() + '\n[tool.decouple]\nexclude = ["loadtest/**"]\n')


def _ignore(repo: Path) -> None:
    with (repo / ".gitignore").open("a") as handle:
        handle.write("\nloadtest/\n")


def _edit_compose(repo: Path) -> None:
    path = repo / "docker-compose.yml"
    path.write_text(path.read_text().replace("orders:", "orders-api:", 1))


def _in_work_tree(repo: Path) -> None:
    (repo / ".git").mkdir()


@pytest.mark.parametrize(
    "change",
    [
        _edit,
        _add_file,
        _remove_file,
        _configure,
        _edit_pyproject,
        _ignore,
        _edit_compose,
        _in_work_tree,
    ],
)
def test_a_change_to_any_input_makes_the_scan_run_with_a_fresh_answer(
    repo: Path, tmp_path: Path, runs: Runs, change: Callable[[Path], None]
) -> None:
    args = (str(repo), "--format", "json", "--cache-dir", str(tmp_path / "cache"))
    runs(*args)
    change(repo)
    again = runs(*args)
    assert runs.scans == 2
    assert again == runs(str(repo), "--format", "json", "--no-cache")


# -- a git work tree: git lists the files, and is asked again by the replay ------------------


def _git(repo: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def git_repo(repo: Path) -> Path:
    """The sample committed to a git work tree, with a folder git lists nothing in."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (repo / "empty").mkdir()
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "sample")
    age(repo)
    return repo


def _untracked_in_a_folder_git_listed_nothing_in(repo: Path) -> None:
    (repo / "empty" / "calls.py").write_text(
        "import requests\n\n\ndef ping():\n    requests.post('http://users:8000/users')\n"
    )


def _untracked(repo: Path) -> None:
    _add_file(repo)


def _ignored_by_git_s_configuration(repo: Path) -> None:
    (repo.parent / "excludes").write_text("loadtest/\n")
    _git(repo, "config", "core.excludesFile", str(repo.parent / "excludes"))


def _no_longer_tracked(repo: Path) -> None:
    _git(repo, "rm", "-q", "--cached", "-r", "loadtest")
    with (repo / ".gitignore").open("a") as handle:
        handle.write("\nloadtest/\n")


def _a_tracked_file_turned_into_a_link_out_of_the_tree(repo: Path) -> None:
    """git's answers are the same (the index is); the listing's are not."""
    outside = repo.parent / "outside"
    outside.mkdir()
    (repo / "README.md").unlink()
    (repo / "README.md").symlink_to(outside, target_is_directory=True)


@pytest.mark.parametrize(
    "change",
    [
        _edit,
        _untracked,
        _untracked_in_a_folder_git_listed_nothing_in,
        _remove_file,
        _ignore,
        _ignored_by_git_s_configuration,
        _no_longer_tracked,
        _a_tracked_file_turned_into_a_link_out_of_the_tree,
    ],
)
def test_in_a_git_work_tree_a_change_makes_the_scan_run_with_a_fresh_answer(
    git_repo: Path, tmp_path: Path, runs: Runs, change: Callable[[Path], None]
) -> None:
    args = (str(git_repo), "--format", "json", "--cache-dir", str(tmp_path / "cache"))
    first = runs(*args)
    assert runs(*args) == first and runs.scans == 1  # nothing changed: replayed
    change(git_repo)
    again = runs(*args)
    assert runs.scans == 2
    assert again == runs(str(git_repo), "--format", "json", "--no-cache")
    if change is not _edit:  # a function nothing calls: the same output, scanned again
        assert again != first


def test_a_record_naming_a_git_command_the_listing_does_not_run_is_not_trusted(
    git_repo: Path, tmp_path: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache may be the scanned tree's own: a record's git commands are run again only
    when they are the listing's own."""
    import subprocess

    cache = tmp_path / "cache"
    args = (str(git_repo), "--format", "json", "--cache-dir", str(cache))
    runs(*args)
    (record,) = cache.glob("replay-*.json")
    data = json.loads(record.read_text())
    data["git"][0][0] = ["-c", "alias.x=!touch ran", "x"]
    record.write_text(json.dumps(data))
    ran: list[list[str]] = []
    real = subprocess.run

    def watched(argv: list[str], *a: object, **k: object) -> object:
        ran.append(list(argv))
        return real(argv, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", watched)
    runs(*args)
    assert runs.scans == 2
    assert not any("alias.x=!touch ran" in argv for argv in ran)


def test_in_a_git_work_tree_the_listing_is_kept_while_git_answers_as_it_did(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun after an edit lists from the kept listing when git's answers and the folders
    read are as they were, and lists again when not."""
    from decouple_services.discover import files

    taken: list[int] = []
    real = files._Walker.take_git_paths

    def counted(self: files._Walker, paths: list[str]) -> None:
        taken.append(len(paths))
        real(self, paths)

    monkeypatch.setattr(files._Walker, "take_git_paths", counted)
    options = pipeline.ScanOptions(cache_dir=tmp_path / "cache")
    pipeline.scan(git_repo, options)
    _edit(git_repo)
    pipeline.scan(git_repo, options)
    assert len(taken) == 1
    _untracked(git_repo)
    pipeline.scan(git_repo, options)
    assert len(taken) == 2


def test_another_command_line_is_not_answered_with_this_ones_output(
    repo: Path, tmp_path: Path, runs: Runs
) -> None:
    cache = str(tmp_path / "cache")
    runs(str(repo), "--format", "json", "--cache-dir", cache)
    narrowed = runs(str(repo), "--format", "json", "--cache-dir", cache, "--callee", "users")
    assert runs.scans == 2
    assert narrowed == runs(str(repo), "--format", "json", "--no-cache", "--callee", "users")


def test_gate_messages_and_the_exit_status_are_replayed(
    repo: Path, tmp_path: Path, runs: Runs
) -> None:
    args = (str(repo), "--format", "json", "--cache-dir", str(tmp_path / "cache"))
    gated = (*args, "--fail-on-score", "0")
    first = runs(*gated)
    assert first[2] == 1 and "hotspot score" in first[1]
    assert runs(*gated) == first
    assert runs.scans == 1


@pytest.mark.parametrize(
    "extra",
    [
        ("--format", "table"),
        ("--format", "json", "--verbose"),
        ("--format", "json", "--output", "-"),
    ],
)
def test_runs_whose_output_depends_on_more_are_not_recorded(
    repo: Path, tmp_path: Path, runs: Runs, extra: tuple[str, ...]
) -> None:
    cache = tmp_path / "cache"
    args = [str(repo), "--cache-dir", str(cache)]
    args += extra
    runs(*args)
    runs(*args)
    assert runs.scans == 2
    assert not list(cache.glob("replay-*.json"))


def test_an_output_file_is_written_again_from_the_record(
    repo: Path, tmp_path: Path, runs: Runs
) -> None:
    out = tmp_path / "out" / "scan.json"
    out.parent.mkdir()
    args = (str(repo), "-o", str(out), "--cache-dir", str(tmp_path / "cache"))
    first = runs(*args)
    written = out.read_text()
    out.unlink()
    assert runs(*args) == first
    assert runs.scans == 1
    assert out.read_text() == written
    assert written == runs(str(repo), "--format", "json", "--no-cache")[0]


def test_an_output_through_a_link_is_left_to_the_scan(
    repo: Path, tmp_path: Path, runs: Runs
) -> None:
    """The scan says which file it replaced through the link."""
    target = tmp_path / "target.json"
    target.write_text("")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    args = (str(repo), "-o", str(link), "--cache-dir", str(tmp_path / "cache"))
    first = runs(*args)
    assert runs(*args) == first and "is a symlink" in first[1]
    assert runs.scans == 2


def test_a_damaged_record_is_ignored(repo: Path, tmp_path: Path, runs: Runs) -> None:
    cache = tmp_path / "cache"
    args = (str(repo), "--format", "json", "--cache-dir", str(cache))
    first = runs(*args)
    (record,) = cache.glob("replay-*.json")
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "files": "not a mapping"}))
    assert runs(*args) == first
    assert runs.scans == 2
    record.write_bytes(b"\xff not json")
    assert runs(*args) == first
    assert runs.scans == 3
    # the recorded texts, kept beside the record, changed or gone
    (texts,) = cache.glob("replay-*.out")
    texts.write_bytes(texts.read_bytes().replace(b"call_sites", b"call_sitez"))
    assert runs(*args) == first
    assert runs.scans == 4
    texts.unlink()
    assert runs(*args) == first
    assert runs.scans == 5
    assert runs(*args) == first
    assert runs.scans == 5


def _key(root: str) -> list[object]:
    return command_key(
        root,
        format="json",
        output=None,
        config=None,
        exclude=(),
        callee=None,
        endpoint=None,
        fail_on_score=None,
        exit_zero=None,
        select=(),
        ignore=(),
        full_parse=False,
        quiet=False,
    )


def test_a_file_modified_within_the_racy_window_is_not_vouched_for(tmp_path: Path) -> None:
    """An edit in the same timestamp tick as the one the scan read would keep the stat."""
    (tmp_path / "a.py").write_text("x = 1\n")
    st = os.stat(tmp_path / "a.py")
    recorder = Recorder(str(tmp_path / "replay.json"), _key(str(tmp_path)), [])
    recorder.vouch({"": None}, {"a.py": [st.st_size, st.st_mtime_ns, "digest"]}, "key")
    with recorder.capture():
        print("output")
    assert not recorder.save(0)
    assert answer(str(tmp_path / "replay.json"), _key(str(tmp_path))) is None


@pytest.mark.parametrize("edit", [None, "x = 22\n", "x = 2\n"])
def test_a_file_edited_after_it_was_read_is_not_answered_for(
    tmp_path: Path, edit: str | None
) -> None:
    """The record keeps the stamp taken before the file was read: the next run's check
    finds an edit made after it (also to the same size), though the file is not stat'ed
    again when the record is written."""
    (tmp_path / "a.py").write_text("x = 1\n")
    age(tmp_path)
    st = os.stat(tmp_path / "a.py")
    recorder = Recorder(str(tmp_path / "replay.json"), _key(str(tmp_path)), [])
    recorder.vouch({}, {"a.py": [st.st_size, st.st_mtime_ns, "digest"]}, "key")
    if edit is not None:
        (tmp_path / "a.py").write_text(edit)
        age(tmp_path, 30.0)
    with recorder.capture():
        print("output")
    assert recorder.save(0)
    replayed = answer(str(tmp_path / "replay.json"), _key(str(tmp_path)))
    assert replayed == (None if edit is not None else ("output\n", "", 0))


def test_a_record_that_is_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    """A FIFO where the record should be would block the rerun for ever."""
    fifo = tmp_path / "replay.json"
    os.mkfifo(fifo)
    assert answer(str(fifo), _key(str(tmp_path))) is None


def _edit_neutrally(repo: Path) -> None:
    """A function nothing calls appended to a parsed file no helper pass read again."""
    path = repo / "services/frontend/frontend/clients.py"
    path.write_text(path.read_text() + "\n\ndef added():\n    return 1\n")


class _Reuse:
    """What the scans of a test did with a kept result: the keys decoded, and what the
    check of edits that change nothing returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded: list[str] = []
        self.neutral: list[object] = []
        cached, neutral = Manifest.cached_result, pipeline._after_neutral_edits

        def decoding(manifest: Manifest, key: str) -> object:
            self.decoded.append(key)
            return cached(manifest, key)

        def checking(*args: object, **kwargs: object) -> object:
            found = neutral(*args, **kwargs)  # type: ignore[arg-type]
            self.neutral.append(found)
            return found

        monkeypatch.setattr(Manifest, "cached_result", decoding)
        monkeypatch.setattr(pipeline, "_after_neutral_edits", checking)


@pytest.fixture
def unconfigured(repo: Path) -> Path:
    """The sample without its configured client (whose signature reads every function, so
    that no edit is known to change nothing: ``app/edits.py``)."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    path.write_text(text[: text.index("\n# shopcore's RPC helper")] + "\n")
    age(repo)
    return repo


def test_a_rerun_after_an_edit_that_changes_nothing_writes_the_last_output(
    unconfigured: Path, tmp_path: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result is the last one, so the output is the one the last run of this command
    wrote (gate messages and status included): written again, the result never decoded."""
    repo = unconfigured
    reuse = _Reuse(monkeypatch)
    out = tmp_path / "out.json"
    args = (str(repo), "-o", str(out), "--fail-on-score", "0")
    first = runs(*args, "--cache-dir", str(tmp_path / "cache"))
    written = out.read_text()
    assert first[2] == 1 and "hotspot score" in first[1]
    _edit_neutrally(repo)
    out.unlink()
    again = runs(*args, "--cache-dir", str(tmp_path / "cache"))
    assert runs.scans == 2
    assert reuse.neutral[-1] is pipeline._KNOWN and reuse.decoded == []
    assert again == first and out.read_text() == written
    assert runs(*args, "--no-cache") == again and out.read_text() == written


def test_after_an_edit_that_changes_nothing_another_command_line_renders_the_result(
    unconfigured: Path, tmp_path: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record holds the output of one command line: another one renders the result."""
    repo = unconfigured
    reuse = _Reuse(monkeypatch)
    cache = str(tmp_path / "cache")
    runs(str(repo), "--format", "json", "--cache-dir", cache)
    _edit_neutrally(repo)
    narrowed = runs(str(repo), "--format", "json", "--cache-dir", cache, "--callee", "users")
    assert reuse.neutral[-1] not in (None, pipeline._KNOWN) and len(reuse.decoded) == 1
    assert narrowed == runs(str(repo), "--format", "json", "--no-cache", "--callee", "users")


@pytest.mark.parametrize("by_folder", [True, False])
def test_the_files_a_record_names_are_checked_by_stat_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_folder: bool
) -> None:
    """Each file as recorded (size and modification time), one recorded missing still
    missing; stat'ed relative to the root opened once, or by path where the platform
    cannot."""
    from decouple_services.app import replay

    if not by_folder:
        monkeypatch.setattr(os, "supports_dir_fd", set())
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("a = 1\n")
    outside = tmp_path / "outside.py"
    outside.write_text("b = 2\n")

    def entry(path: Path) -> list[object]:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns, "digest"]

    files: dict[str, object] = {
        "pkg/a.py": entry(root / "pkg" / "a.py"),
        str(outside): entry(outside),  # a file discovery read outside the tree
        "pkg/gone.py": None,
    }
    assert replay._files_unchanged(str(root), files)
    (root / "pkg" / "gone.py").write_text("")
    assert not replay._files_unchanged(str(root), files)
    (root / "pkg" / "gone.py").unlink()
    outside.write_text("b = 22\n")
    assert not replay._files_unchanged(str(root), files)
    files[str(outside)] = entry(outside)
    assert replay._files_unchanged(str(root), files)
    (root / "pkg" / "a.py").unlink()
    assert not replay._files_unchanged(str(root), files)
    assert not replay._files_unchanged(str(tmp_path / "no-such-root"), files)
    assert replay._files_unchanged(str(tmp_path / "no-such-root"), {"x.py": None})
