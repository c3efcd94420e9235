"""The graph as Graphviz DOT, built with the ``graphviz`` package.

Service nodes are filled by hotspot score (five levels of the top score, in a legend),
edges are as wide as their call count, dashed when every call on them is asynchronous,
red when both ends are in one cycle, blue for Kafka events. External hosts and Kafka
topics sit in clusters of their own. Tooltips list the call sites (id, file:line, endpoint,
flags). The legend also says what the filters left out.

Node ids are ``n0``, ``n1``...: names from scanned code never reach DOT syntax except as
quoted label and tooltip strings, which are escaped here.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from decouple_services.core.text import printable
from decouple_services.graph.build import (
    ENDPOINT,
    EVENT,
    EXTERNAL,
    FUNCTION,
    SERVICE,
    TOPIC,
    UNRESOLVED,
)
from decouple_services.graph.view import GraphView, ViewEdge, ViewNode

if TYPE_CHECKING:
    import graphviz

#: Fill colours of the five score levels (ColorBrewer YlOrRd), and the text on each.
FILLS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
TEXT = ("#000000", "#000000", "#000000", "#ffffff", "#ffffff")
CYCLE_COLOUR = "#b03a2e"
EVENT_COLOUR = "#2e6da4"
EDGE_COLOUR = "#555555"
FONT = "Helvetica"


def dot_text(text: str) -> graphviz.quoting.NoHtml:
    """A DOT string for ``text``: backslashes kept literal, never read as an HTML label.

    Lines are joined with DOT's ``\\n`` escape.
    """
    import graphviz

    lines = [printable(line).replace("\\", "\\\\") for line in text.split("\n")]
    return graphviz.nohtml("\\n".join(lines))


def pen_width(count: int) -> str:
    return f"{min(6.0, 1.0 + 1.5 * math.log2(max(count, 1))):.1f}"


def to_digraph(view: GraphView, *, links: bool = False) -> graphviz.Digraph:
    """The view as a ``graphviz.Digraph``. With ``links``, each service node links to
    ``#hotspot-<rank>``, its row in the HTML page's hotspot table."""
    import graphviz

    dot = graphviz.Digraph(
        "decouple",
        graph_attr={
            "newrank": "true",
            "rankdir": "LR",
            "fontname": FONT,
            "labelloc": "t",
            "label": dot_text(view.title),
            "nodesep": "0.35",
            "ranksep": "0.9",
        },
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.7"},
    )
    ids = {node.id: f"n{index}" for index, node in enumerate(view.nodes)}
    ranks = {h.service: h.rank for h in view.hotspots} if links else {}
    clusters: dict[str, list[ViewNode]] = {}
    for node in view.nodes:
        if node.cluster is None:
            dot.node(ids[node.id], **_node_attrs(node, ranks))
        else:
            clusters.setdefault(node.cluster, []).append(node)
    for index, (name, members) in enumerate(sorted(clusters.items())):
        with dot.subgraph(name=f"cluster_{index}") as sub:
            sub.attr(**_cluster_attrs(name, view))
            for node in members:
                sub.node(ids[node.id], **_node_attrs(node, ranks))
    for edge in view.edges:
        dot.edge(ids[edge.source], ids[edge.target], **_edge_attrs(edge))
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label="", style="rounded", color="#bbbbbb", margin="8")
        legend.node("legend", label=legend_label(view), shape="plaintext", margin="0")
    return dot


def render_dot(view: GraphView, *, links: bool = False) -> str:
    """The DOT source of the view (deterministic: a golden file compares it byte for byte)."""
    source: str = to_digraph(view, links=links).source
    return source


def _cluster_attrs(name: str, view: GraphView) -> dict[str, str]:
    if name == "external":
        return {"label": "external hosts", "style": "dashed,rounded", "color": "#888888"}
    if name == "topics":
        return {"label": "Kafka topics", "style": "rounded", "color": EVENT_COLOUR}
    score = next((h.score for h in view.hotspots if h.service == name), None)
    label = f"{name} (expanded)" + (f"\nhotspot score {score:g}" if score is not None else "")
    level = next((n.level for n in view.nodes if n.id == name), None)
    return {
        "label": dot_text(label),
        "style": "rounded,filled",
        "fillcolor": FILLS[level or 0] + "55",
        "color": "#444444",
    }


def _node_attrs(node: ViewNode, ranks: dict[str, int]) -> dict[str, str]:
    attrs = {"tooltip": dot_text(node.tooltip)}
    if node.kind == SERVICE and node.id in ranks:
        attrs["URL"] = f"#hotspot-{ranks[node.id]}"
    if node.kind == EXTERNAL:
        attrs |= {"shape": "box", "style": "dashed,rounded", "color": "#777777"}
        attrs["label"] = dot_text(node.label)
    elif node.kind == UNRESOLVED:
        attrs |= {"shape": "octagon", "style": "dashed", "color": "#777777"}
        attrs["label"] = dot_text(node.label)
    elif node.kind == TOPIC:
        attrs |= {"shape": "cds", "style": "filled", "fillcolor": "#d6e6f5"}
        attrs |= {"color": EVENT_COLOUR, "label": dot_text(node.label)}
    elif node.kind in (ENDPOINT, FUNCTION):
        shape = "box" if node.kind == ENDPOINT else "component"
        attrs |= {"shape": shape, "style": "filled", "fillcolor": "#ffffff", "fontsize": "10"}
        attrs["label"] = dot_text(node.label)
    else:
        level = node.level or 0
        attrs |= {
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": FILLS[level],
            "fontcolor": TEXT[level],
            "label": dot_text(f"{node.label}\nscore {node.score or 0:g}"),
        }
    return attrs


def edge_colour(edge: ViewEdge) -> str:
    """Blue for a Kafka event, red inside a cycle, grey otherwise (DOT and Mermaid alike)."""
    if edge.data.kind == EVENT:
        return EVENT_COLOUR
    return CYCLE_COLOUR if edge.in_cycle else EDGE_COLOUR


def _edge_attrs(edge: ViewEdge) -> dict[str, str]:
    data = edge.data
    colour = edge_colour(edge)
    attrs = {
        "penwidth": pen_width(data.count),
        "color": colour,
        # xlabel: placed after layout. A real edge label becomes a node of its own in
        # dot's ranking, which made a 765-edge graph take four minutes instead of twenty
        # seconds.
        "xlabel": str(data.count),
        "fontcolor": colour,
        "tooltip": dot_text(edge.tooltip),
    }
    if data.is_async:
        attrs["style"] = "dashed"
    return attrs


def legend_label(view: GraphView) -> str:
    """The legend as a Graphviz HTML-like table (every dynamic string escaped)."""
    t = view.thresholds
    levels = "".join(
        f'<td bgcolor="{FILLS[i]}"><font color="{TEXT[i]}">'
        + html.escape(f">= {t[i]:g}" if i else f"< {t[1]:g}")
        + "</font></td>"
        for i in range(len(FILLS))
    )

    def row(text: str, colour: str | None = None, bold: bool = False) -> str:
        body = html.escape(printable(text))
        if bold:
            body = f"<b>{body}</b>"
        if colour:
            body = f'<font color="{colour}">{body}</font>'
        return f'<tr><td align="left" colspan="{len(FILLS)}">{body}</td></tr>'

    rows = [
        row("hotspot score (docs/graph.md)", bold=True),
        f"<tr>{levels}</tr>",
        row("edge width: call sites; number: their count"),
        row("dashed: asynchronous calls only"),
        row("red: both ends in one cycle", CYCLE_COLOUR),
        row("blue: Kafka event through its topic", EVENT_COLOUR),
    ]
    if view.hidden:
        rows.append(row("not shown", bold=True))
        rows += [row(text) for text in view.hidden]
    if view.diagnostics:
        rows.append(row(f"{len(view.diagnostics)} file(s) or constructs could not be analysed"))
    table = '<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
    return f"<{table}{''.join(rows)}</table>>"
