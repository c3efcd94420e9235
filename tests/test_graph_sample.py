"""The graph of the bundled sample: golden DOT, Mermaid and JSON, structural SVG and HTML
checks, the hotspot ranking an expert gives it, and the two commands."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli import main
from decouple_services.core.model import ScanResult
from decouple_services.graph import (
    GraphView,
    ViewOptions,
    build_view,
    rank_hotspots,
    render_dot,
    render_graph_json,
    render_html,
    render_mermaid,
    render_svg,
)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "sample"
GOLDEN = FIXTURES / "golden"
SERVICES = (
    "emails",
    "frontend",
    "inventory",
    "notifications",
    "orders",
    "payments",
    "recommendations",
    "search",
    "users",
)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))


@pytest.fixture(scope="module")
def view(result: ScanResult) -> GraphView:
    # No change history: goldens must not depend on this repository's commits.
    return build_view(result, rank_hotspots(result))


@pytest.fixture(scope="module")
def svg(view: GraphView) -> bytes:
    return render_svg(view)


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("sample-graph.dot", render_dot),
        ("sample-graph.mmd", render_mermaid),
        ("sample-graph.json", render_graph_json),
    ],
)
def test_outputs_match_the_reviewed_golden_files(
    view: GraphView, name: str, render: object, update_goldens: bool
) -> None:
    text = render(view)  # type: ignore[operator]
    path = GOLDEN / name
    if update_goldens:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_orders_expanded_matches_its_reviewed_golden_file(
    result: ScanResult, update_goldens: bool
) -> None:
    options = ViewOptions(focus="orders", expand="orders", min_calls=1)
    text = render_mermaid(build_view(result, rank_hotspots(result), options))
    path = GOLDEN / "sample-graph-orders-expanded.mmd"
    if update_goldens:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_ranking_is_the_one_an_expert_gives_the_sample(result: ScanResult) -> None:
    """orders is the hub (called by five services, calling six, in a cycle with each of
    them); frontend is the biggest caller but nothing depends on it; payments calls only
    orders back and search only inventory."""
    ranking = rank_hotspots(result)
    assert [h.service for h in ranking[:3]] == ["orders", "frontend", "users"]
    assert {h.service for h in ranking[-2:]} == {"search", "payments"}
    orders, frontend = ranking[0], ranking[1]
    assert orders.metrics.cycle_calls == (
        "emails",
        "inventory",
        "notifications",
        "payments",
        "recommendations",
        "users",
    )
    assert orders.metrics.betweenness == max(h.metrics.betweenness for h in ranking)
    assert (frontend.metrics.fan_in, frontend.metrics.instability) == (0, 1.0)
    # admin deactivation: users' handler cancels orders in a loop, which notify, which
    # looks the user up again: four synchronous hops under one click.
    assert frontend.metrics.chain == ("frontend", "users", "orders", "notifications", "users")
    # orders' two call_service(...) calls are status-checked (the helper raises on 4xx/5xx),
    # not fire-and-forget
    assert len(frontend.easy_wins) == 4 and len(orders.easy_wins) == 4


def test_the_svg_is_valid_and_shows_every_service_and_the_legend(svg: bytes) -> None:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    for service in SERVICES:
        assert service in texts, service
    assert "hotspot score (docs/graph.md)" in texts
    assert "api.stripe.com" in texts and "external hosts" in texts
    assert any(t.startswith("not production code, not drawn") for t in texts)
    titles = [a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter(f"{SVG}a")]
    assert any("orders: hotspot score 44.5\nfan-out 6x2=12" in t for t in titles)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_page_is_self_contained_with_graph_and_tables(view: GraphView) -> None:
    page = render_html(view, render_svg(view, links=True))
    parser = _Collect()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert tags.count("svg") == 1 and "table" in tags
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "img", "iframe")
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
    text = " ".join(parser.text)
    for service in SERVICES:
        assert service in text
    assert "services/orders/orders/api.py:60" in text
    # Clicking orders in the graph goes to its row of the hotspot table.
    links = {a.get("xlink:href") or a.get("href") for t, a in parser.tags if t == "a"}
    assert "#hotspot-1" in links
    assert ("tr", {"id": "hotspot-1"}) in parser.tags
    assert "response-used" in text and "easy" in text


def test_the_json_is_node_link_that_networkx_reads(view: GraphView) -> None:
    data = json.loads(render_graph_json(view))
    graph = nx.node_link_graph(data, edges="links")
    assert graph.has_edge("orders", "payments")
    assert graph.edges["orders", "payments"]["count"] == 2
    assert [h["service"] for h in data["hotspots"][:2]] == ["orders", "frontend"]


def test_expanding_a_service_shows_its_endpoints_and_functions(result: ScanResult) -> None:
    view = build_view(result, rank_hotspots(result), ViewOptions(expand="orders"))
    ids = {n.id for n in view.nodes}
    assert "orders::POST /api/orders" in ids and "orders::orders.api.create_order()" in ids
    assert ET.fromstring(render_svg(view)).tag == f"{SVG}svg"


def test_cli_graph_writes_every_output(tmp_path: Path) -> None:
    outs = {ext: tmp_path / f"g.{ext}" for ext in ("svg", "dot", "mmd", "json", "html")}
    args = ["graph", str(SAMPLE), "--no-cache", "--no-history"]
    args += ["--svg", str(outs["svg"]), "--dot", str(outs["dot"]), "--mermaid", str(outs["mmd"])]
    args += ["--json", str(outs["json"]), "--html", str(outs["html"])]
    assert main(args) == 0
    assert outs["dot"].read_text(encoding="utf-8") == (GOLDEN / "sample-graph.dot").read_text(
        encoding="utf-8"
    )
    assert all(p.stat().st_size > 0 for p in outs.values())


def test_cli_graph_filters_and_says_what_they_hid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.mmd"
    args = ["graph", str(SAMPLE), "--no-cache", "--mermaid", str(out), "--focus", "payments"]
    assert main([*args, "--no-external", "--min-calls", "2"]) == 0
    err = capsys.readouterr().err
    assert "--no-external: 3 external hosts and unresolved callees (4 call sites)" in err
    assert "--min-calls 2:" in err and "--focus payments --depth 1:" in err
    assert "--focus payments --depth 1:" in out.read_text(encoding="utf-8")


def test_cli_graph_without_outputs_writes_dot_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["graph", str(SAMPLE), "--no-cache", "--no-history"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "sample-graph.dot").read_text(encoding="utf-8")


def test_cli_graph_unknown_focus_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(SAMPLE), "--no-cache", "--focus", "billing"]) == 2
    assert "--focus billing: no such service (services: emails, frontend" in capsys.readouterr().err


def test_cli_hotspots_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hotspots", str(SAMPLE), "--no-cache", "--no-history", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "frontend" in out and "payments" not in out.split("easy wins")[0]
    assert "fan-out 6x2=12" in out
    assert "easy win cs-9e36f82f  services/orders/orders/receipts.py:9 → emails" in out
    assert main(["hotspots", str(SAMPLE), "--no-cache", "-f", "json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [h["service"] for h in data["hotspots"]] == ["orders", "frontend", "users"]
    first = data["hotspots"][0]
    assert first["components"]["cycle calls"] == {"count": 6, "weight": 2.0, "points": 12.0}
    assert {s["migratability"] for s in first["call_sites"]} == {"easy", "review", "blocked"}


def test_scan_fail_on_score_gates_on_the_hotspot_score(tmp_path: Path) -> None:
    out = str(tmp_path / "o.json")
    base = ["scan", str(SAMPLE), "-f", "json", "--no-cache", "-o", out, "--fail-on-score"]
    assert main([*base, "44"]) == 1
    assert main([*base, "60"]) == 0


def test_help_loads_no_graph_library() -> None:
    code = (
        "import sys; from decouple_services.cli import main; main(['--help'])\n"
        "heavy = {'networkx', 'rich', 'graphviz', 'decouple_services.graph'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
