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

from collections.abc import Iterable
from io import StringIO
from itertools import groupby

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from decouple_services.core.model import (
    EXTERNAL_PREFIX,
    CallSite,
    Category,
    Role,
    ScanResult,
    Severity,
)
from decouple_services.core.text import printable
from decouple_services.render._common import (
    callee_kind,
    flag_tags,
    sorted_call_sites,
    sorted_diagnostics,
    sorted_services,
    summarise,
    target_label,
)
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import RULES, Finding, find

_MAX_ALIASES = 3

#: Width used when the caller does not pass one; the CLI passes the terminal's width.
DEFAULT_WIDTH = 100

_FLAG_STYLES = {
    "fire&forget": "green",
    "uses result": "magenta",
    "loop": "yellow",
    "no-timeout": "red",
    "async": "cyan",
    "in-handler": "yellow",
    "inferred callee": "yellow",
}
_SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "dim"}


def render_table(
    result: ScanResult,
    options: RenderOptions | None = None,
    *,
    width: int | None = None,
    color: bool = False,
) -> str:
    """Render a scan as a readable report, with ANSI colours only when ``color`` is true.

    ``width`` is the number of columns to lay out for (default 100). The call-site sections
    list every call; the findings (under ``options.selection``) are counted per rule at the
    end, and contract violations get a section of their own.
    """
    findings = find(result, (options or RenderOptions()).selection)
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
    _violations(console, [f for f in findings if f.contract is not None and not f.suppressed])
    _rule_counts(console, findings)
    _diagnostics(console, result)
    # rich pads every line to the table's width; trailing blanks only get in a diff's way.
    return "".join(line.rstrip(" ") + "\n" for line in out.getvalue().splitlines())


def _clean(value: object) -> str:
    return printable(value)


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
        # k8s adds four spellings of every name; the first few are what a reader needs.
        aliases = ", ".join(service.aliases[:_MAX_ALIASES])
        if len(service.aliases) > _MAX_ALIASES:
            aliases += f" (+{len(service.aliases) - _MAX_ALIASES} more)"
        table.add_row(
            _text(service.name, "bold"),
            _text(service.root),
            _text(aliases),
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
    if site.suppressed:
        text.append(", " if text else "")
        text.append(_clean(f"ignore[{', '.join(site.suppressed)}]"), style="dim")
    return text


def _callee_label(callee: str) -> str:
    # "api.stripe.com (external)" wraps at its space; "external:api.stripe.com" would not.
    if callee.startswith(EXTERNAL_PREFIX):
        return _clean(f"{callee.removeprefix(EXTERNAL_PREFIX)} (external)")
    return _clean(callee)


def _call_cell(site: CallSite) -> Text:
    """What is called and with which client, then (dimmed) where the call is."""
    text = _text(target_label(site))
    text.append(" · ", style="dim")
    text.append(_clean(site.client))
    text.append("\n")
    text.append(_clean(f"{site.file}:{site.line}"), style="dim")
    return text


def _call_sites(
    console: Console, title: str, sites: list[CallSite], *, empty: str = "", dim: bool = False
) -> None:
    if not sites:
        if empty:
            console.print(Text(empty, style="bold"))
            console.print()
        return
    style = "dim" if dim else ""
    console.print(Text(title, style="bold"))
    # Fixed widths, so the separate per-edge tables below line up as one.
    flags_width = max(12, min(32, (console.width - 17) // 4))
    # 6 = one space of padding on each inner side of three columns plus two dividers.
    call_width = max(12, console.width - _INDENT - _ID_WIDTH - flags_width - 6)
    widths = (_ID_WIDTH, call_width, flags_width)
    console.print(_indented(_site_rows(widths, [], style, header=True)))
    # One heading per edge, then its calls: every call from one service to another reads
    # as a block, and the call column gets the width an edge column would take.
    grouped = sorted(sites, key=lambda c: (c.caller, c.callee, c.file, c.line, c.id))
    for (caller, callee), edge_sites in groupby(grouped, key=lambda c: (c.caller, c.callee)):
        rows = list(edge_sites)
        heading = Text(style=style)
        heading.append(_clean(caller), style="bold")
        heading.append(" → ")
        heading.append(_callee_label(callee), style="bold cyan")
        heading.append(f"  ({_plural(len(rows), 'call')})", style="dim")
        console.print(heading)
        console.print(_indented(_site_rows(widths, rows, style, header=False)))
    console.print()


_INDENT = 2
_ID_WIDTH = len("cs-00000000")


def _indented(table: Table) -> Padding:
    return Padding(table, (0, 0, 0, _INDENT))


def _site_rows(
    widths: tuple[int, int, int], sites: list[CallSite], style: str, *, header: bool
) -> Table:
    table = Table(
        # The same box for header and rows: it decides the gap between columns.
        box=box.SIMPLE_HEAD,
        show_header=header,
        show_edge=False,
        pad_edge=False,
        style=style,
        header_style="bold",
    )
    id_width, call_width, flags_width = widths
    table.add_column("id", width=id_width, min_width=id_width, no_wrap=True)
    table.add_column("call · where", width=call_width, overflow="fold")
    table.add_column("flags", width=flags_width, overflow="fold")
    for site in sites:
        table.add_row(_text(site.id), _call_cell(site), _flags(site))
    return table


def _wrappers(console: Console, wrappers: list[CallSite], calls: Iterable[CallSite]) -> None:
    if not wrappers:
        return
    via_counts: dict[str, int] = {}
    for site in calls:
        if site.via_wrapper:
            via_counts[site.via_wrapper] = via_counts.get(site.via_wrapper, 0) + 1
    table = _table(
        "Wrappers (generic helpers; their calls are listed above, 'via <helper>')",
        dim=True,
        expand=True,
    )
    table.add_column("helper · where", ratio=1, overflow="fold")
    table.add_column("call", ratio=1, overflow="fold")
    table.add_column("calls via it", no_wrap=True, justify="right")
    for site in wrappers:
        helper = _text(site.function)
        helper.append("\n")
        helper.append(_clean(f"{site.file}:{site.line}"), style="dim")
        call = " ".join(part for part in (site.client, site.method, site.url) if part)
        table.add_row(helper, _text(call), _text(via_counts.get(site.function, 0)))
    console.print(table)
    console.print()


def _unknowns(console: Console, unknowns: list[CallSite]) -> None:
    if not unknowns:
        return
    table = _table("Unknown callees (how to fix)", expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("where · why · fix", ratio=1, overflow="fold")
    for site in unknowns:
        cell = _text(f"{site.file}:{site.line}", "dim")
        cell.append("\n")
        cell.append(_clean(site.unknown_reason or "the target is not resolvable statically"))
        cell.append("\nfix: ", style="bold")
        cell.append(
            _clean(site.fix_hint or "add `# decouple: target=<service>` on the call"),
            style="green",
        )
        table.add_row(_text(site.id), cell)
    console.print(table)
    console.print()


def _violations(console: Console, findings: list[Finding]) -> None:
    if not findings:
        return
    table = _table("Contract violations (DCP007, exit status 1)", expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("call · where · contract", ratio=1, overflow="fold")
    for finding in findings:
        site = finding.site
        cell = _text(f"{site.caller} → {site.callee}", "bold")
        cell.append(" · ", style="dim")
        cell.append(_clean(f"{site.file}:{site.line}"), style="dim")
        cell.append("\n")
        cell.append(_clean(finding.contract or ""), style="red")
        table.add_row(_text(site.id), cell)
    console.print(table)
    console.print()


def _rule_counts(console: Console, findings: list[Finding]) -> None:
    if not findings:
        return
    table = _table("Findings by rule", "rule", "name", "findings", "suppressed inline")
    for rule in RULES:
        mine = [f for f in findings if f.rule is rule]
        if mine:
            suppressed = sum(1 for f in mine if f.suppressed)
            table.add_row(
                _text(rule.id),
                _text(rule.name),
                _text(str(len(mine) - suppressed)),
                _text(str(suppressed) if suppressed else "", "dim"),
            )
    console.print(table)
    console.print()


def _diagnostics(console: Console, result: ScanResult) -> None:
    diagnostics = sorted_diagnostics(result.diagnostics)
    if not diagnostics:
        console.print(Text("No diagnostics: every file was analysed."))
        return
    table = _table("Diagnostics (not analysed)", expand=True)
    table.add_column("where · message", ratio=1, overflow="fold")
    table.add_column("severity", no_wrap=True)
    table.add_column("code", no_wrap=True)
    for diagnostic in diagnostics:
        where = f"{diagnostic.file}:{diagnostic.line}" if diagnostic.line else diagnostic.file
        cell = _text(where or "(repository)", "bold")
        cell.append("\n")
        cell.append(_clean(diagnostic.message))
        table.add_row(
            cell,
            _text(diagnostic.severity.value, _SEVERITY_STYLES[diagnostic.severity]),
            _text(diagnostic.code),
        )
    console.print(table)
