"""One self-contained HTML page: the SVG, the hotspot table with the score components, the
call-site table with file:line, evidence and migratability, and what was left out.

No script, stylesheet, font or image is fetched: the page opens offline and from a CI
artifact. Every string that comes from scanned code goes through :func:`html.escape`; the
SVG comes from Graphviz, which escapes its text as XML.
"""

from __future__ import annotations

import re
from html import escape

from decouple_services.core.text import printable
from decouple_services.graph.migratability import assess
from decouple_services.graph.score import Hotspot
from decouple_services.graph.view import GraphView, site_flags, site_target

_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)

_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.graph{overflow:auto;border:1px solid #ddd;padding:8px;max-height:90vh}
.graph svg{max-width:100%;height:auto}
td.n{white-space:nowrap}table{font-size:13px}
.easy{color:#1e7b34;font-weight:600}.review{color:#9a6700}.blocked{color:#b03a2e}
.muted{color:#666}ul.notes{margin:4px 0}
"""


def _svg_body(svg: bytes | str | None) -> str:
    if svg is None:
        return '<p class="muted">No SVG: no Graphviz layout engine was available.</p>'
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    return _PROLOG.sub("", text, count=1)


def _components(h: Hotspot) -> str:
    cells = []
    for part in h.components.parts():
        if part.name == "changes" and h.components.changes is None:
            cells.append('<td class="n muted">n/a</td>')
        else:
            cells.append(f'<td class="n">{part.count:g} &rarr; {part.points:g}</td>')
    return "".join(cells)


def render_html(view: GraphView, svg: bytes | str | None) -> str:
    """The page; ``svg`` is :func:`render_svg`'s output, best with ``links=True`` (``None``
    when there is no engine)."""

    def e(text: str) -> str:
        return escape(printable(text))

    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(view.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(view.title)}</h1>",
        f'<div class="graph">{_svg_body(svg)}</div>',
    ]
    if view.hidden or view.diagnostics:
        out.append("<h2>Not shown</h2><ul class=notes>")
        out += [f"<li>{e(text)}</li>" for text in view.hidden]
        if view.diagnostics:
            out.append(f"<li>{len(view.diagnostics)} diagnostics (below)</li>")
        out.append("</ul>")

    parts = view.hotspots[0].components.parts() if view.hotspots else ()
    out.append("<h2>Hotspots</h2>")
    out.append(
        '<p class="muted">score = sum of the components (count &rarr; points); '
        "the formula and a worked example are in docs/graph.md.</p>"
    )
    head = "".join(f"<th>{e(p.name)} &times;{p.weight:g}</th>" for p in parts)
    out.append(
        f"<table><tr><th>#</th><th>service</th><th>score</th>{head}"
        "<th>longest chain</th><th>calls closing a cycle</th><th>instability</th><th>betweenness</th>"
        "<th>easy wins</th><th>blocked</th></tr>"
    )
    for h in view.hotspots:
        m = h.metrics
        instability = "" if m.instability is None else f"{m.instability:.2f}"
        out.append(
            f'<tr id="hotspot-{h.rank}"><td class="n">{h.rank}</td><td>{e(h.service)}</td>'
            f'<td class="n"><b>{h.score:g}</b></td>{_components(h)}'
            f"<td>{e(' → '.join(m.chain))}</td><td>{e(', '.join(m.cycle_calls))}</td>"
            f'<td class="n">{instability}</td><td class="n">{m.betweenness:.3f}</td>'
            f'<td class="n easy">{len(h.easy_wins)}</td><td class="n">{len(h.blocked)}</td></tr>'
        )
    out.append("</table>")

    out.append("<h2>Call sites</h2>")
    out.append(
        "<table><tr><th>id</th><th>caller &rarr; callee</th><th>endpoint</th>"
        "<th>file:line</th><th>flags</th><th>migratability</th><th>evidence</th></tr>"
    )
    for site in view.sites:
        verdict = assess(site)
        reasons = [f"<b>{e(f.code)}</b>: {e(f.reason)}" for f in verdict.blockers]
        reasons += [f"{e(f.code)}: {e(f.reason)}" for f in verdict.cautions]
        flags = ", ".join(site_flags(site))
        out.append(
            f"<tr><td><code>{e(site.id)}</code></td>"
            f"<td>{e(site.caller)} &rarr; {e(site.callee)}</td>"
            f"<td>{e(site_target(site))}</td>"
            f"<td><code>{e(site.file)}:{site.line}</code><br>"
            f'<span class="muted">{e(site.function)}</span></td>'
            f"<td>{e(flags)}</td>"
            f'<td><span class="{verdict.label}">{verdict.label}</span><br>'
            f"{'<br>'.join(reasons)}</td>"
            f"<td>{'<br>'.join(e(x) for x in site.evidence)}</td></tr>"
        )
    out.append("</table>")
    if view.diagnostics:
        out.append(
            "<h2>Diagnostics</h2><table><tr><th>file:line</th><th>code</th><th>message</th></tr>"
        )
        for d in view.diagnostics:
            out.append(
                f"<tr><td><code>{e(d.file)}:{d.line}</code></td><td>{e(d.code)}</td>"
                f"<td>{e(d.message)}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
