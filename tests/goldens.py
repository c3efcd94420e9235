"""Golden files: compared with what a test produced, or rewritten from it with
``pytest --update-goldens`` (then read the diff like code)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest


def assert_golden(actual: str, golden: Path, update: bool) -> None:
    """Fail with the difference when ``actual`` is not the text of ``golden``."""
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), golden.name, "actual", lineterm=""
        )
        pytest.fail(
            f"{golden.name} differs (pytest --update-goldens):\n" + "\n".join(list(diff)[:200])
        )
