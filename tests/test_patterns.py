"""Patterns met in real repositories, one small repository each under tests/fixtures/patterns/.

Each folder holds the code of the pattern (written for it, not copied from anywhere) and an
``expected.json``: the call sites the scan must report, field by field. With
``"exhaustive": true`` it must report no other; ``"services"`` gives the roots services
must have (and with ``"exhaustive_services": true``, the only services).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.render.json import render_json

PATTERNS = Path(__file__).parent / "fixtures" / "patterns"


@pytest.mark.parametrize("name", sorted(p.name for p in PATTERNS.iterdir() if p.is_dir()))
def test_pattern(name: str) -> None:
    root = PATTERNS / name
    expected: dict[str, Any] = json.loads((root / "expected.json").read_text(encoding="utf-8"))
    result = json.loads(render_json(scan(root, ScanOptions(use_cache=False, jobs=1))))
    sites = result["call_sites"]
    #: Several sites on one line (one per target of a mapping) are expected in their order.
    nth: dict[tuple[str, int], int] = {}
    for want in expected["call_sites"]:
        where = (want["file"], want["line"])
        here = [s for s in sites if (s["file"], s["line"]) == where]
        assert here, f"no call site at {want['file']}:{want['line']}; found {_brief(sites)}"
        n = nth[where] = nth.get(where, -1) + 1
        assert n < len(here), f"{n + 1} call sites expected at {where}; found {_brief(here)}"
        got = {key: here[n].get(key) for key in want}
        assert got == want, f"{want['file']}:{want['line']}: {here[n]['evidence']}"
    if expected.get("exhaustive"):
        wanted = {(w["file"], w["line"]) for w in expected["call_sites"]}
        extra = [s for s in sites if (s["file"], s["line"]) not in wanted]
        assert not extra, f"unexpected call sites: {_brief(extra)}"
        for where in wanted:
            count = sum((s["file"], s["line"]) == where for s in sites)
            assert count == nth[where] + 1, f"{count} call sites at {where}"
    roots = {s["name"]: s["root"] for s in result["services"]}
    for service, want_root in expected.get("services", {}).items():
        assert roots.get(service) == want_root, roots
    if expected.get("exhaustive_services"):
        assert sorted(roots) == sorted(expected["services"]), roots


def _brief(sites: list[dict[str, Any]]) -> list[str]:
    return [f"{s['file']}:{s['line']} {s['role']} {s['callee']}" for s in sites]
