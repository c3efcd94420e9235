from __future__ import annotations

import json

import decouple_services.render
from decouple_services.render import (
    RENDERERS,
    RenderOptions,
    RuleSelection,
    load_scan_json,
    render_github,
    render_json,
    render_sarif,
    render_table,
)

from .cases import mixed


def test_every_scan_format_has_a_renderer() -> None:
    assert sorted(RENDERERS) == ["github", "json", "sarif", "table"]


def test_renderers_take_the_result_and_the_options() -> None:
    result = mixed()
    options = RenderOptions(selection=RuleSelection(select=frozenset({"DCP004"})))

    assert RENDERERS["json"](result, options) == render_json(result, options)
    assert RENDERERS["sarif"](result, options) == render_sarif(result, options)
    assert RENDERERS["table"](result, options) == render_table(result, options)
    assert RENDERERS["github"](result, options) == render_github(result, options)
    assert RENDERERS["github"](result, None) != render_github(result, options)


def test_json_renderer_output_loads_back() -> None:
    assert load_scan_json(RENDERERS["json"](mixed())).call_sites
    assert json.loads(RENDERERS["sarif"](mixed()))["version"] == "2.1.0"


def test_public_names_are_exported() -> None:
    for name in decouple_services.render.__all__:
        assert hasattr(decouple_services.render, name)
