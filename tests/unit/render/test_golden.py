"""Exact golden files for the JSON and SARIF outputs, one folder per case in ``cases.py``.

Regenerate with ``pytest --update-goldens`` and review the diff like code.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pytest

from decouple_services.core.model import ScanResult
from decouple_services.render import render_json, render_sarif

from .cases import CASES, GOLDEN_DIR

OUTPUTS: dict[str, Callable[[ScanResult], str]] = {
    "expected.json": render_json,
    "expected.sarif": render_sarif,
}


def assert_matches_golden(actual: str, golden: Path, update: bool) -> None:
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert golden.exists(), f"{golden} is missing; run pytest --update-goldens to create it"
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(golden),
                tofile="actual",
            )
        )
        pytest.fail(f"output differs from {golden.name} (pytest --update-goldens):\n{diff}")


@pytest.mark.parametrize("filename", sorted(OUTPUTS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_output_matches_golden_file(case: str, filename: str, update_goldens: bool) -> None:
    actual = OUTPUTS[filename](CASES[case]())
    assert_matches_golden(actual, GOLDEN_DIR / case / filename, update_goldens)


def test_every_golden_folder_has_a_case() -> None:
    """A folder whose case was removed would otherwise keep stale goldens nobody checks."""
    folders = {path.parent.name for name in OUTPUTS for path in GOLDEN_DIR.glob(f"*/{name}")}
    assert folders <= set(CASES)
