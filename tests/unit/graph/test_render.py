"""Renderers on a repository whose names carry markup, and how the layout engine is found."""

from __future__ import annotations

import importlib
import os
import stat
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli import main
from decouple_services.graph.render_dot import dot_text, render_dot
from decouple_services.graph.render_html import render_html
from decouple_services.graph.render_json import render_graph_json
from decouple_services.graph.render_mermaid import mermaid_text, render_mermaid
from decouple_services.graph.render_svg import (
    Engine,
    EngineNotFound,
    LayoutError,
    find_engine,
    layout,
    render_svg,
    without_links,
)
from decouple_services.graph.score import rank_hotspots
from decouple_services.graph.view import GraphView, build_view

svg_module = importlib.import_module("decouple_services.graph.render_svg")
WEB = "<b>web</b>"
API = 'evil&<i>api</i>"q'
SCRIPT = "<script>alert(1)</script>"
API_TOML = API.replace('"', '\\"')

PYPROJECT = f"""
[tool.decouple.services."{WEB}"]
root = "web"
aliases = ["web"]

[tool.decouple.services."{API_TOML}"]
root = "api"
aliases = ["api"]
"""
CALLER = f"""
import requests


def handler():
    requests.post("http://api/</title>{SCRIPT}?a=1&b=2]]>--", json={{"x": "<!-- -->"}})
    requests.get("http://<svg onload=alert(1)>/x")
"""
CALLEE = f"""
from flask import Flask

app = Flask(__name__)


@app.route("/</title>{SCRIPT}", methods=["POST"])
def create():
    return "ok"
"""


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> GraphView:
    root = tmp_path_factory.mktemp("markup")
    (root / "web").mkdir()
    (root / "api").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (root / "web" / "app.py").write_text(CALLER, encoding="utf-8")
    (root / "api" / "app.py").write_text(CALLEE, encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False, jobs=1))
    assert {s.name for s in result.services} == {WEB, API}
    return build_view(result, rank_hotspots(result))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_svg_of_markup_names_is_valid_xml_and_shows_them_as_text(view: GraphView) -> None:
    root = ET.fromstring(render_svg(view))
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert WEB in texts and API in texts
    assert not [e for e in root.iter() if e.tag.endswith("script")]


def test_the_page_s_svg_without_its_links_is_the_standalone_svg(view: GraphView) -> None:
    linked = render_svg(view, links=True)
    assert b'href="#hotspot-' in linked
    assert without_links(linked) == render_svg(view)


def test_svg_and_html_together_lay_the_graph_out_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def counted(source: str, fmt: str = "svg", engine: Engine | None = None) -> bytes:
        runs.append(source)
        return layout(source, fmt, engine)

    monkeypatch.setattr(svg_module, "layout", counted)
    sample = Path(__file__).parents[2] / "fixtures" / "sample"
    svg, page = tmp_path / "g.svg", tmp_path / "g.html"
    assert main(["graph", str(sample), "--no-cache", "--svg", str(svg), "--html", str(page)]) == 0
    assert len(runs) == 1
    assert "#hotspot-" not in svg.read_text(encoding="utf-8")
    assert 'href="#hotspot-1"' in page.read_text(encoding="utf-8")


def test_the_html_escapes_every_string_from_the_scanned_code(view: GraphView) -> None:
    page = render_html(view, render_svg(view))
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "i" not in parser.tags and "title" in parser.tags
    assert parser.tags.count("svg") == 1  # the graph; the scanned `<svg onload>` is text
    text = "".join(parser.text)
    assert WEB in text and API in text
    assert "POST /</title>{script}alert(1)</script>" in text
    assert '"http://<svg onload=alert(1)>/x"' in text


def test_dot_and_mermaid_quote_markup_names(view: GraphView) -> None:
    dot = render_dot(view)
    assert "label=<<b>web" not in dot and '"<b>web</b>\\nscore' in dot
    mermaid = render_mermaid(view)
    assert "<b>" not in mermaid and "#lt;b#gt;web#lt;/b#gt;" in mermaid
    assert '"' not in mermaid_text(API)
    assert "script" in render_graph_json(view)  # JSON carries the names, escaped by json


def test_dot_text_keeps_backslashes_literal_and_lines_as_dot_escapes() -> None:
    assert str(dot_text("a\\N\nb")) == "a\\\\N\\nb"


def executable(path: Path, body: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.skipif(os.name == "nt", reason="shell scripts stand in for engines")
class TestEngine:
    def test_the_bundled_engine_is_found_next_to_python(self) -> None:
        engine = find_engine({})
        assert engine.source == "bundled" and engine.path.endswith("graphviz-pure")

    def test_the_environment_override_wins_and_must_exist(self, tmp_path: Path) -> None:
        own = executable(tmp_path / "my-dot")
        assert find_engine({"DECOUPLE_DOT": str(own)}).source == "DECOUPLE_DOT"
        with pytest.raises(EngineNotFound, match="DECOUPLE_DOT='/nope/dot' is not an executable"):
            find_engine({"DECOUPLE_DOT": "/nope/dot"})

    def test_system_dot_is_the_last_resort(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(svg_module, "_scripts_dirs", lambda: [tmp_path / "empty"])
        monkeypatch.setenv("PATH", str(tmp_path))
        executable(tmp_path / "dot")
        assert find_engine({}).source == "system"

    def test_no_engine_at_all_says_what_was_tried_and_what_to_do(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(svg_module, "_scripts_dirs", lambda: [tmp_path])
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.delenv("DECOUPLE_DOT", raising=False)
        with pytest.raises(EngineNotFound) as caught:
            find_engine()
        message = str(caught.value)
        assert "pip install graphviz-pure" in message and "DECOUPLE_DOT" in message
        assert "--dot, --mermaid and --json outputs need no engine" in message
        sample = Path(__file__).parents[2] / "fixtures" / "sample"
        assert main(["graph", str(sample), "--no-cache", "--svg", str(tmp_path / "g.svg")]) == 2
        assert "no Graphviz layout engine found" in capsys.readouterr().err
        assert not (tmp_path / "g.svg").exists()

    def test_an_engine_that_fails_is_reported_with_its_message(
        self, tmp_path: Path, view: GraphView
    ) -> None:
        broken = executable(
            tmp_path / "dot", "#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 1\n"
        )
        engine = find_engine({"DECOUPLE_DOT": str(broken)})
        with pytest.raises(LayoutError, match="syntax error in line 1"):
            render_svg(view, engine)


def test_the_layout_uses_newrank(view: GraphView) -> None:
    assert "newrank=true" in render_dot(view)
