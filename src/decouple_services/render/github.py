"""GitHub Actions annotations: one workflow command per finding, shown on the pull request.

```
::warning file=services/orders/app.py,line=12,endLine=14,title=DCP001 synchronous-service-call::orders → users: ...
```

Each finding of :mod:`decouple_services.render.rules` under the selection becomes an
``error``, ``warning`` or ``notice`` (the rule's level), titled with the rule's id and name;
findings suppressed inline are left out. Diagnostics follow, titled with their code. Paths
get ``RenderOptions.uri_prefix`` so they are relative to the repository root, as GitHub
resolves them.

Values are escaped as the Actions toolkit does (``escapeData``/``escapeProperty``): ``%``,
carriage return and line feed everywhere, and ``:`` and ``,`` in properties too, so a
message or a path cannot end the command early or inject another one. GitHub shows at most
a few annotations of each level per step (10 when this was written); the job log keeps
every line, and SARIF upload is the way to see all findings on a large repository.
"""

from __future__ import annotations

from decouple_services.core.model import ScanResult, Severity
from decouple_services.render._common import sorted_diagnostics
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import find

_COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}
_SEVERITIES = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def escape_data(text: str) -> str:
    """A workflow command's message, escaped so it stays one command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``), escaped."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, properties: dict[str, str | int], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{kind} {props}::{escape_data(message)}\n"


def render_github(result: ScanResult, options: RenderOptions | None = None) -> str:
    """Render the findings as GitHub Actions workflow commands, one per line."""
    options = options or RenderOptions()
    lines = []
    for finding in find(result, options.selection):
        if finding.suppressed:
            continue
        site = finding.site
        lines.append(
            _command(
                _COMMANDS[finding.rule.level],
                {
                    "file": options.uri_prefix + site.file,
                    "line": site.line,
                    "endLine": max(site.line, site.end_line),
                    "title": f"{finding.rule.id} {finding.rule.name}",
                },
                finding.message,
            )
        )
    for diagnostic in sorted_diagnostics(result.diagnostics):
        properties: dict[str, str | int] = {}
        if diagnostic.file:
            properties["file"] = options.uri_prefix + diagnostic.file
            if diagnostic.line >= 1:
                properties["line"] = diagnostic.line
        properties["title"] = f"decouple {diagnostic.code}"
        lines.append(_command(_SEVERITIES[diagnostic.severity], properties, diagnostic.message))
    return "".join(lines)


__all__ = ["escape_data", "escape_property", "render_github"]
