from __future__ import annotations

import json

import decouple_services.render
from decouple_services.render import (
    RENDERERS,
    load_scan_json,
    render_json,
    render_sarif,
    render_table,
)

from .cases import mixed


def test_every_scan_format_has_a_renderer() -> None:
    assert sorted(RENDERERS) == ["json", "sarif", "table"]


def test_renderers_take_only_the_result() -> None:
    result = mixed()

    assert RENDERERS["json"](result) == render_json(result)
    assert RENDERERS["sarif"](result) == render_sarif(result)
    assert RENDERERS["table"](result) == render_table(result)


def test_json_renderer_output_loads_back() -> None:
    assert load_scan_json(RENDERERS["json"](mixed())).call_sites
    assert json.loads(RENDERERS["sarif"](mixed()))["version"] == "2.1.0"


def test_public_names_are_exported() -> None:
    for name in decouple_services.render.__all__:
        assert hasattr(decouple_services.render, name)
