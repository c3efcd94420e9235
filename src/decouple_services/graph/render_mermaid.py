"""The graph as a Mermaid flowchart, which GitHub renders in Markdown.

Same encoding as the DOT output where Mermaid can express it: services filled by score
level (``classDef``), edge width by call count and red cycle edges (``linkStyle``), dashed
arrows for asynchronous calls, topics as cylinders, external hosts in a subgraph. Mermaid
has no legend, so one is drawn as a node, with what the filters left out; each service's
score components follow as ``%%`` comments.

Labels are quoted with Mermaid's entity codes (``#quot;``, ``#lt;``...), so names from
scanned code cannot break out of them.
"""

from __future__ import annotations

from decouple_services.core.text import printable
from decouple_services.graph.build import ENDPOINT, EXTERNAL, FUNCTION, TOPIC, UNRESOLVED
from decouple_services.graph.render_dot import EVENT_COLOUR, FILLS, TEXT, edge_colour, pen_width
from decouple_services.graph.view import GraphView, ViewNode

_ENTITIES = {
    "&": "#amp;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "#": "#35;",
    "|": "#124;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
}


def mermaid_text(text: str) -> str:
    """``text`` as the inside of a quoted Mermaid label; lines joined with ``<br/>``."""
    lines = ("".join(_ENTITIES.get(ch, ch) for ch in printable(line)) for line in text.split("\n"))
    return "<br/>".join(lines)


def _shape(node: ViewNode, label: str) -> str:
    if node.kind == TOPIC:
        return f'[("{label}")]'
    if node.kind == UNRESOLVED:
        return f'{{{{"{label}"}}}}'
    if node.kind == EXTERNAL:
        return f'(["{label}"])'
    if node.kind == FUNCTION:
        return f'[["{label}"]]'
    if node.kind == ENDPOINT:
        return f'["{label}"]'
    return f'("{label}")'


def render_mermaid(view: GraphView) -> str:
    ids = {node.id: f"n{index}" for index, node in enumerate(view.nodes)}
    out = ["flowchart LR", f"  %% {mermaid_text(view.title)}"]
    for h in view.hotspots:
        out.append(f"  %% {mermaid_text(h.service)}: {mermaid_text(h.components.explain())}")
    for i, fill in enumerate(FILLS):
        out.append(f"  classDef level{i} fill:{fill},color:{TEXT[i]},stroke:#444444")
    out.append("  classDef external stroke-dasharray:4 3,fill:#ffffff,stroke:#777777")
    out.append(f"  classDef topic fill:#d6e6f5,stroke:{EVENT_COLOUR}")
    out.append("  classDef legend fill:#ffffff,stroke:#bbbbbb,text-align:left")

    def node_line(node: ViewNode, indent: str) -> str:
        label = node.label if node.score is None else f"{node.label}\nscore {node.score:g}"
        if node.kind in (ENDPOINT, FUNCTION):
            label = node.label
        line = f"{indent}{ids[node.id]}{_shape(node, mermaid_text(label))}"
        if node.kind in (EXTERNAL, UNRESOLVED):
            line += ":::external"
        elif node.kind == TOPIC:
            line += ":::topic"
        elif node.level is not None and node.kind not in (ENDPOINT, FUNCTION):
            line += f":::level{node.level}"
        return line

    groups: dict[str, list[ViewNode]] = {}
    for node in view.nodes:
        if node.cluster is None:
            out.append(node_line(node, "  "))
        else:
            groups.setdefault(node.cluster, []).append(node)
    for index, (name, members) in enumerate(sorted(groups.items())):
        title = {"external": "external hosts", "topics": "Kafka topics"}.get(
            name, f"{name} (expanded)"
        )
        out.append(f'  subgraph g{index}["{mermaid_text(title)}"]')
        out += [node_line(node, "    ") for node in members]
        out.append("  end")
    styles = []
    for index, edge in enumerate(view.edges):
        data = edge.data
        arrow = "-.->" if data.is_async else "-->"
        out.append(f'  {ids[edge.source]} {arrow}|"{data.count}"| {ids[edge.target]}')
        styles.append(
            f"  linkStyle {index} stroke-width:{pen_width(data.count)}px,stroke:{edge_colour(edge)}"
        )
    out += styles
    legend = [
        "legend",
        "colour: hotspot score, levels from "
        + ", ".join(f"{t:g}" for t in view.thresholds)
        + " (docs/graph.md)",
        "line width: call sites; dashed: asynchronous only",
        "red: both ends in one cycle; blue: Kafka event",
    ]
    if view.hidden:
        legend += ["not shown:", *view.hidden]
    if view.diagnostics:
        legend.append(f"{len(view.diagnostics)} file(s) or constructs could not be analysed")
    out.append(f'  legend["{mermaid_text(chr(10).join(legend))}"]:::legend')
    return "\n".join(out) + "\n"
