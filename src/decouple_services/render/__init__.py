"""Renderers: a ``ScanResult`` in, the text of one output format out.

Renderers never write files (``api``/``cli`` do) and are deterministic: equal input gives
byte-identical output. ``RENDERERS`` maps each ``scan --format`` name to its function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from decouple_services.core.lazy import lazy_attributes
from decouple_services.core.model import ScanResult
from decouple_services.render.options import RenderOptions

if TYPE_CHECKING:
    from decouple_services.render.github import render_github
    from decouple_services.render.json import load_scan_json, render_json
    from decouple_services.render.rules import RULES, RuleSelection
    from decouple_services.render.sarif import render_sarif
    from decouple_services.render.table import render_table

#: A renderer for ``scan``: the result and the options in, the complete output text out.
Renderer = Callable[[ScanResult, RenderOptions | None], str]


# Each format imports its module when used: JSON output never loads rich.
def _json(result: ScanResult, options: RenderOptions | None = None) -> str:
    from decouple_services.render.json import render_json

    return render_json(result, options)


def _sarif(result: ScanResult, options: RenderOptions | None = None) -> str:
    from decouple_services.render.sarif import render_sarif

    return render_sarif(result, options)


def _github(result: ScanResult, options: RenderOptions | None = None) -> str:
    from decouple_services.render.github import render_github

    return render_github(result, options)


def _table_with_defaults(result: ScanResult, options: RenderOptions | None = None) -> str:
    from decouple_services.render.table import render_table

    return render_table(result, options)


RENDERERS: dict[str, Renderer] = {
    "github": _github,
    "json": _json,
    "sarif": _sarif,
    "table": _table_with_defaults,
}

_HOMES = {
    "RULES": "decouple_services.render.rules",
    "RuleSelection": "decouple_services.render.rules",
    "render_github": "decouple_services.render.github",
    "load_scan_json": "decouple_services.render.json",
    "render_json": "decouple_services.render.json",
    "render_sarif": "decouple_services.render.sarif",
    "render_table": "decouple_services.render.table",
}


__getattr__ = lazy_attributes(__name__, _HOMES, globals())


__all__ = [
    "RENDERERS",
    "RULES",
    "RenderOptions",
    "Renderer",
    "RuleSelection",
    "load_scan_json",
    "render_github",
    "render_json",
    "render_sarif",
    "render_table",
]
