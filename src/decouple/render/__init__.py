"""Renderers: a ``ScanResult`` in, the text of one output format out.

Renderers never write files (``api``/``cli`` do) and are deterministic: equal input gives
byte-identical output. ``RENDERERS`` maps each ``scan --format`` name to its function.
"""

from __future__ import annotations

from collections.abc import Callable

from decouple.model import ScanResult
from decouple.render.json import load_scan_json, render_json
from decouple.render.sarif import RULES, render_sarif
from decouple.render.table import render_table

#: A renderer for ``scan``: the result in, the complete output text out.
Renderer = Callable[[ScanResult], str]


def _table_with_defaults(result: ScanResult) -> str:
    # render_table takes keyword options; this gives it the common one-argument shape.
    return render_table(result)


RENDERERS: dict[str, Renderer] = {
    "json": render_json,
    "sarif": render_sarif,
    "table": _table_with_defaults,
}

__all__ = [
    "RENDERERS",
    "RULES",
    "Renderer",
    "load_scan_json",
    "render_json",
    "render_sarif",
    "render_table",
]
