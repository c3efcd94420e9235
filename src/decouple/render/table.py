"""The human-readable scan report: what ``decouple scan`` prints on a terminal.

Sections, in order: a header line of counts; services; production call sites grouped by
caller then callee; test, load-generator and script calls (classified, not coupling);
wrapper helpers; unknown callees with the line that would fix each; diagnostics. Laid out
for 100 columns.

Every string that comes from the scanned repository (paths, urls, names, messages) goes
into a ``rich.text.Text``, never through markup, and has control characters made visible,
so neither ``[bold]`` in a file name nor an escape sequence in a url can restyle the
terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from io import StringIO
from itertools import groupby

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from decouple.model import EXTERNAL_PREFIX, CallSite, Category, Role, ScanResult, Severity
from decouple.render._common import (
    callee_kind,
    flag_tags,
    sorted_call_sites,
    sorted_diagnostics,
    sorted_services,
    summarise,
    target_label,
)

#: Width used when the caller does not pass one; the CLI passes the terminal's width.
DEFAULT_WIDTH = 100

_FLAG_STYLES = {
    "fire&forget": "green",
    "uses result": "magenta",
    "loop": "yellow",
    "no-timeout": "red",
    "async": "cyan",
    "in-handler": "yellow",
}
_SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "dim"}


def render_table(result: ScanResult, *, width: int | None = None, color: bool = False) -> str:
    """Render a scan as a readable report, with ANSI colours only when ``color`` is true.

    ``width`` is the number of columns to lay out for (default 100).
    """
    out = StringIO()
    console = Console(
        file=out,
        width=width or DEFAULT_WIDTH,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        # Nothing printed here is rich markup; turning it off is a second guard on top of
        # Text objects against markup in scanned strings.
        markup=False,
        highlight=False,
        emoji=False,
        force_jupyter=False,
        force_interactive=False,
        legacy_windows=False,
    )
    _header(console, result)
    _services(console, result)
    call_sites = sorted_call_sites(result.call_sites)
    calls = [c for c in call_sites if c.role is Role.CALL]
    _call_sites(
        console,
        "Call sites",
        [c for c in calls if c.category is Category.PRODUCTION],
        empty="No production calls between services found.",
    )
    _call_sites(
        console,
        "Test, load-generator and script calls (not counted as coupling)",
        [c for c in calls if c.category is not Category.PRODUCTION],
        dim=True,
    )
    _wrappers(console, [c for c in call_sites if c.role is Role.WRAPPER], calls)
    _unknowns(console, [c for c in calls if callee_kind(c) == "unknown"])
    _diagnostics(console, result)
    # rich pads every line to the table's width; trailing blanks only get in a diff's way.
    return "".join(line.rstrip(" ") + "\n" for line in out.getvalue().splitlines())


def _clean(value: object) -> str:
    """Scanned text made safe to print: no control characters, no lone surrogates."""
    text = str(value)
    if text.isprintable():
        return text
    chars = []
    for char in text:
        if char in "\n\r\t":
            chars.append(" ")
        elif char.isprintable() and unicodedata.category(char) != "Cs":
            chars.append(char)
        else:
            # Shown escaped, as repr would, so the reader still sees what is there.
            chars.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(chars)


def _text(value: object, style: str = "") -> Text:
    return Text(_clean(value), style=style)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _table(title: str, *columns: str, dim: bool = False, expand: bool = False) -> Table:
    table = Table(
        title=Text(title, style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=expand,
        style="dim" if dim else "",
        header_style="bold",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _header(console: Console, result: ScanResult) -> None:
    summary = summarise(result)
    line = Text()
    line.append("decouple scan of ", style="bold")
    line.append(_clean(result.root or "."), style="bold")
    parts = [
        f"{_plural(summary.files_scanned, 'file')} scanned",
        _plural(summary.services, "service"),
        _plural(summary.call_sites, "call site"),
        _plural(summary.diagnostics, "diagnostic"),
    ]
    line.append(" · " + " · ".join(parts))
    console.print(line)
    other = sum(n for category, n in summary.by_category.items() if category != "production")
    console.print(
        Text(
            f"production: {_plural(summary.inter_service_calls, 'inter-service call')}"
            f" on {_plural(summary.inter_service_edges, 'edge')}, "
            f"{summary.external_calls} external, {summary.unknown_callees} unknown · "
            f"{other} test/loadgen/script {'call' if other == 1 else 'calls'}",
            style="dim",
        )
    )
    console.print()


def _services(console: Console, result: ScanResult) -> None:
    services = sorted_services(result.services)
    if not services:
        console.print(Text("No services found.", style="bold"))
        console.print()
        return
    table = _table("Services", "name", "root", "aliases", "evidence")
    for service in services:
        evidence = service.evidence[0] if service.evidence else ""
        if len(service.evidence) > 1:
            evidence += f" (+{len(service.evidence) - 1} more)"
        table.add_row(
            _text(service.name, "bold"),
            _text(service.root),
            _text(", ".join(service.aliases)),
            _text(evidence),
        )
    console.print(table)
    console.print()


def _flags(site: CallSite) -> Text:
    text = Text()
    for index, tag in enumerate(flag_tags(site)):
        if index:
            text.append(", ")
        if site.via_wrapper and tag == f"via {site.via_wrapper}":
            # The last name is enough here; the wrappers section has the qualified one.
            tag = f"via {site.via_wrapper.rsplit('.', 1)[-1]}"
        text.append(_clean(tag), style=_FLAG_STYLES.get(tag, ""))
    return text


def _callee_label(callee: str) -> str:
    # "api.stripe.com (external)" wraps at its space; "external:api.stripe.com" would not.
    if callee.startswith(EXTERNAL_PREFIX):
        return _clean(f"{callee.removeprefix(EXTERNAL_PREFIX)} (external)")
    return _clean(callee)


def _call_cell(site: CallSite) -> Text:
    """What is called on the first line; the client and where, dimmed, on the second."""
    text = _text(target_label(site))
    text.append("\n")
    text.append(_clean(f"{site.client} · {site.file}:{site.line}"), style="dim")
    return text


def _call_sites(
    console: Console, title: str, sites: list[CallSite], *, empty: str = "", dim: bool = False
) -> None:
    if not sites:
        if empty:
            console.print(Text(empty, style="bold"))
            console.print()
        return
    table = _table(title, dim=dim, expand=True)
    table.add_column("caller → callee", ratio=2, overflow="fold")
    table.add_column("id", no_wrap=True)
    table.add_column("call · where", ratio=4, overflow="fold")
    table.add_column("flags", ratio=2, overflow="fold")
    # Grouped by edge, so every call from one service to another reads as one block.
    grouped = sorted(sites, key=lambda c: (c.caller, c.callee, c.file, c.line, c.id))
    for (caller, callee), edge_sites in groupby(grouped, key=lambda c: (c.caller, c.callee)):
        rows = list(edge_sites)
        for index, site in enumerate(rows):
            edge = Text()
            if index == 0:
                edge.append(_clean(caller), style="bold")
                edge.append(" → ")
                edge.append(_callee_label(callee), style="bold cyan")
            table.add_row(
                edge,
                _text(site.id),
                _call_cell(site),
                _flags(site),
                end_section=index == len(rows) - 1,
            )
    console.print(table)
    console.print()


def _wrappers(console: Console, wrappers: list[CallSite], calls: Iterable[CallSite]) -> None:
    if not wrappers:
        return
    via_counts: dict[str, int] = {}
    for site in calls:
        if site.via_wrapper:
            via_counts[site.via_wrapper] = via_counts.get(site.via_wrapper, 0) + 1
    table = _table(
        "Wrappers (generic helpers; their calls are listed above, 'via <helper>')",
        "helper",
        "call",
        "at",
        "calls via it",
        dim=True,
    )
    for site in wrappers:
        call = " ".join(part for part in (site.method, site.url) if part)
        table.add_row(
            _text(site.function),
            _text(f"{site.client} {call}"),
            _text(f"{site.file}:{site.line}"),
            _text(via_counts.get(site.function, 0)),
        )
    console.print(table)
    console.print()


def _unknowns(console: Console, unknowns: list[CallSite]) -> None:
    if not unknowns:
        return
    table = _table("Unknown callees (how to fix)", "id", "at", "why", "fix")
    for site in unknowns:
        table.add_row(
            _text(site.id),
            _text(f"{site.file}:{site.line}"),
            _text(site.unknown_reason or "target not resolvable statically"),
            _text(site.fix_hint or "add `# decouple: target=<service>` on the call", "green"),
        )
    console.print(table)
    console.print()


def _diagnostics(console: Console, result: ScanResult) -> None:
    diagnostics = sorted_diagnostics(result.diagnostics)
    if not diagnostics:
        console.print(Text("No diagnostics: every file was analysed."))
        return
    table = _table("Diagnostics (not analysed)", "at", "severity", "code", "message")
    for diagnostic in diagnostics:
        where = f"{diagnostic.file}:{diagnostic.line}" if diagnostic.line else diagnostic.file
        table.add_row(
            _text(where or "(repository)"),
            _text(diagnostic.severity.value, _SEVERITY_STYLES[diagnostic.severity]),
            _text(diagnostic.code),
            _text(diagnostic.message),
        )
    console.print(table)
