"""Bad input yields diagnostics naming the file, and the scan goes on with everything else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.errors import PathError

GOOD = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'


def scan_codes(root: Path) -> tuple[set[tuple[str, str]], list[str]]:
    result = scan(root, ScanOptions(use_cache=False, jobs=1))
    return {(d.file, d.code) for d in result.diagnostics}, [s.file for s in result.call_sites]


def test_every_kind_of_bad_file_is_a_diagnostic_and_good_files_still_count(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    # Each imports a client's request: files that cannot hold a call are not parsed at all.
    (tmp_path / "syntax.py").write_text("from requests import get\ndef f(:\n")
    (tmp_path / "py2.py").write_text('from requests import get\nprint "hello"\n')
    (tmp_path / "nul.py").write_bytes(b"from requests import get\nx = 1\x00\n")
    (tmp_path / "bytes.py").write_bytes(b"from requests import get\nx = '\xff\xfe'\n")
    (tmp_path / "deep.py").write_text(
        "from requests import get\nx = " + "(" * 3000 + "1" + ")" * 3000 + "\n"
    )
    (tmp_path / "huge_pb2.py").write_text("requests = 1\n" * 1_700_000)  # ~22 MB, generated
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "missing.py", tmp_path / "broken.py")
    codes, files = scan_codes(tmp_path)
    assert files == ["good.py"]
    found = {file: code for file, code in codes}
    assert found["syntax.py"] == "parse-error"
    assert found["py2.py"] == "parse-error"
    assert found["nul.py"] == "null-bytes"
    assert found["bytes.py"] in ("parse-error", "undecodable")
    assert found["deep.py"] == "too-deep"
    assert found["huge_pb2.py"] == "too-large"


def test_an_empty_directory_scans_to_nothing(tmp_path: Path) -> None:
    result = scan(tmp_path, ScanOptions(use_cache=False))
    assert (result.call_sites, result.files_scanned) == ((), 0)


def test_a_missing_path_is_a_path_error(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such file"):
        scan(tmp_path / "nope")


def test_a_malformed_pyproject_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "pyproject.toml").write_text("[tool.decouple\nbroken = \n")
    codes, files = scan_codes(tmp_path)
    assert files == ["good.py"]
    assert ("pyproject.toml", "config-invalid") in codes


def test_a_malformed_decouple_toml_is_a_diagnostic_on_that_file(tmp_path: Path) -> None:
    (tmp_path / "decouple.toml").write_text("[clients\n", encoding="utf-8")
    (tmp_path / "app.py").write_text("x = 1\n", encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False))
    assert [(d.file, d.code) for d in result.diagnostics] == [("decouple.toml", "config-invalid")]


def test_a_repo_whose_services_live_elsewhere_still_reports_every_call(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    result = scan(tmp_path, ScanOptions(use_cache=False))
    (site,) = result.call_sites
    assert site.callee == "external:billing"


def test_a_cache_dir_that_is_a_file_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from decouple_services.cli import main

    (tmp_path / "app.py").write_text("x = 1\n", encoding="utf-8")
    not_a_dir = tmp_path / "cache.txt"
    not_a_dir.write_text("", encoding="utf-8")
    assert main(["scan", str(tmp_path), "--cache-dir", str(not_a_dir)]) == 2
    err = capsys.readouterr().err
    assert "--cache-dir" in err and "is a file" in err
