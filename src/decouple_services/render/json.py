"""The JSON scan output (``schema_version`` 1) and its reader.

``render_json`` writes the document DESIGN.md specifies, plus fields that schema 1 allows
to be added:

- top level: ``root`` (the scanned directory's name only, never its absolute path, so the
  same tree gives the same bytes on every machine and merged scans are told apart by
  repository name), ``files_scanned`` and a derived ``summary`` object of counts (see
  ``decouple_services.render._common.Summary``);
- services: ``ports`` and ``env``. ``env`` lists each variable's ``name`` and ``source`` but
  never its value, because deployment files routinely hold secrets and scan output is
  uploaded as a CI artifact;
- call sites: ``unknown_reason``, ``fix_hint``, ``suppressed`` (the rule codes a
  ``# decouple: ignore[DCP004]`` at the call suppresses) and ``one_of`` (the mapping a
  target chosen at run time is read from, see ``CallSite.one_of``);
- ``contract_violations``: each call site that breaks a declared contract, with the
  contract and the reason;
- ``findings``: what the rules report (``decouple_services.render.rules``) under the
  ``--select``/``--ignore`` selection, one entry per rule and call site, each saying
  whether an inline ``ignore[...]`` suppresses it. The call-site inventory itself is never
  narrowed by the selection: it is the data other commands read back.

The output is byte-identical for equal input: keys sorted, lists in one canonical order
(services by name, endpoints by their sort key, call sites by file, line and id, diagnostics
by their sort key), two-space indent, a trailing newline, no timestamps.

``load_scan_json`` reads such a document back into a ``ScanResult`` (for ``--baseline`` and
for merging the scans of several repositories). It ignores fields it does not know, so a
file written by a newer decouple with added fields still loads, and it rejects anything
that is not a decouple scan of schema version 1 with a ``DecoupleError`` that names every
problem found. ``summary`` and ``findings`` are derived data and are not read back; env values come back
empty because they were never written, and ``root`` comes back as the directory's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from pathlib import PurePath
from typing import Any, TypeVar

import decouple_services
from decouple_services.core.errors import DecoupleError
from decouple_services.core.model import (
    SCHEMA_VERSION,
    CallSite,
    Category,
    Confidence,
    ContractViolation,
    Diagnostic,
    Endpoint,
    EnvValue,
    ResponseUse,
    Role,
    ScanResult,
    Service,
    Severity,
)
from decouple_services.render._common import (
    sorted_call_sites,
    sorted_diagnostics,
    sorted_endpoints,
    sorted_services,
    summarise,
)
from decouple_services.render._indented import Rows, dumps_indented, pieces_indented
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import Finding, find

TOOL_NAME = "decouple"

#: How many problems a rejected document lists before it says "and N more".
_MAX_PROBLEMS = 20


def render_json(result: ScanResult, options: RenderOptions | None = None) -> str:
    """Render a scan as the versioned JSON document, byte-identical for equal input."""
    # ensure_ascii: source decoded with surrogateescape can hold lone surrogates, which
    # would make the text unencodable as UTF-8 when the CLI writes it; escapes always work.
    # the text json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) gives
    return dumps_indented(_document(result, options or RenderOptions())) + "\n"


def render_json_pieces(result: ScanResult, options: RenderOptions | None = None) -> list[str]:
    """:func:`render_json`'s text as pieces whose join is that text, for a caller that
    writes them in turn: a large result's text is not held beside the texts it would be
    joined from (``pieces_indented``)."""
    return [*pieces_indented(_document(result, options or RenderOptions())), "\n"]


def _document(result: ScanResult, options: RenderOptions) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": decouple_services.__version__},
        "root": portable_root(result.root),
        "files_scanned": result.files_scanned,
        "summary": summarise(result).as_dict(),
        # each entry's dict made as it is written and let go: a large result's document
        # is otherwise every dict and every text at once (see Rows)
        "services": Rows(sorted_services(result.services), _service),
        "endpoints": Rows(sorted_endpoints(result.endpoints), _endpoint),
        "call_sites": Rows(sorted_call_sites(result.call_sites), _call_site),
        "diagnostics": Rows(sorted_diagnostics(result.diagnostics), _diagnostic),
        "contract_violations": Rows(
            sorted(result.contract_violations, key=lambda v: (v.call_site, v.contract)),
            _violation,
        ),
        "findings": Rows(find(result, options.selection), _finding),
    }


def portable_root(root: str) -> str:
    """The last component of the scanned path (``/home/ci/src/shop`` -> ``shop``)."""
    name = PurePath(root.replace("\\", "/")).name
    return name or root or "."


def _service(service: Service) -> dict[str, object]:
    return {
        "name": service.name,
        "root": service.root,
        "aliases": list(service.aliases),
        "evidence": list(service.evidence),
        "ports": list(service.ports),
        # Names and where they are declared only: values may be secrets.
        "env": [{"name": e.name, "source": e.source} for e in service.env],
    }


def _endpoint(endpoint: Endpoint) -> dict[str, object]:
    return {
        "service": endpoint.service,
        "protocol": endpoint.protocol,
        "method": endpoint.method,
        "path": endpoint.path,
        "handler": endpoint.handler,
        "file": endpoint.file,
        "line": endpoint.line,
        "framework": endpoint.framework,
    }


def _call_site(site: CallSite) -> dict[str, object]:
    return {
        "id": site.id,
        "caller": site.caller,
        "file": site.file,
        "line": site.line,
        "end_line": site.end_line,
        "function": site.function,
        "client": site.client,
        "method": site.method,
        "url": site.url,
        "url_template": site.url_template,
        "callee": site.callee,
        "endpoint": site.endpoint,
        "evidence": list(site.evidence),
        "category": site.category.value,
        "role": site.role.value,
        "via_wrapper": site.via_wrapper,
        "result_used": site.result_used,
        "response_use": site.response_use.value,
        "is_async": site.is_async,
        "in_loop": site.in_loop,
        "has_timeout": site.has_timeout,
        "in_handler": site.in_handler,
        "streaming": site.streaming,
        "in_transaction": site.in_transaction,
        "payload": site.payload,
        "unknown_reason": site.unknown_reason,
        "fix_hint": site.fix_hint,
        "confidence": site.confidence.value,
        "suppressed": list(site.suppressed),
        "one_of": site.one_of,
    }


def _violation(violation: ContractViolation) -> dict[str, object]:
    return {
        "call_site": violation.call_site,
        "caller": violation.caller,
        "callee": violation.callee,
        "contract": violation.contract,
        "reason": violation.reason,
    }


def _finding(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule.id,
        "name": finding.rule.name,
        "level": finding.rule.level,
        "call_site": finding.site.id,
        "file": finding.site.file,
        "line": finding.site.line,
        "suppressed": finding.suppressed,
        "contract": finding.contract,
        "message": finding.message,
    }


def _diagnostic(diagnostic: Diagnostic) -> dict[str, object]:
    return {
        "file": diagnostic.file,
        "line": diagnostic.line,
        "severity": diagnostic.severity.value,
        "code": diagnostic.code,
        "message": diagnostic.message,
    }


def load_scan_json(text: str, *, source: str = "scan JSON") -> ScanResult:
    """Read a document written by :func:`render_json` back into a ``ScanResult``.

    ``source`` names the input in error messages (the CLI passes the file's path).
    Raises ``DecoupleError`` when the text is not JSON, not a decouple scan, of another
    schema version, or has fields of the wrong type; the message lists every problem.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecoupleError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    _check_is_decouple_scan(document, source)
    reader = _Reader()
    result = ScanResult(
        root=reader.get(document, "root", "", str, "$"),
        files_scanned=reader.get(document, "files_scanned", 0, int, "$"),
        services=tuple(reader.items(document, "services", _read_service)),
        endpoints=tuple(reader.items(document, "endpoints", _read_endpoint)),
        call_sites=tuple(reader.items(document, "call_sites", _read_call_site)),
        diagnostics=tuple(reader.items(document, "diagnostics", _read_diagnostic)),
        contract_violations=tuple(reader.items(document, "contract_violations", _read_violation)),
        extra={"tool_version": document["tool"].get("version")},
    )
    if reader.problems:
        shown = reader.problems[:_MAX_PROBLEMS]
        more = len(reader.problems) - len(shown)
        listed = [*shown, *([f"and {more} more"] if more else [])]
        # one line: a message per line would read as several errors
        raise DecoupleError(f"{source} is not a valid decouple scan: " + "; ".join(listed))
    return result


def _check_is_decouple_scan(document: object, source: str) -> None:
    if not isinstance(document, dict):
        raise DecoupleError(
            f"{source} is not a decouple scan: expected a JSON object, got {_type_name(document)}"
        )
    if "runs" in document and "version" in document:
        raise DecoupleError(
            f"{source} is a SARIF log, not a decouple scan; "
            "write one with `decouple scan --format json`"
        )
    tool = document.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != TOOL_NAME:
        raise DecoupleError(
            f'{source} is not a decouple scan: no "tool": {{"name": "{TOOL_NAME}"}} '
            "(write one with `decouple scan --format json`)"
        )
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise DecoupleError(
            f"{source} has schema_version {json.dumps(version)}, but this decouple "
            f"({decouple_services.__version__}) reads schema_version {SCHEMA_VERSION} only; "
            "re-run the scan with this version"
        )


_T = TypeVar("_T")
_E = TypeVar("_E", bound=Enum)
_MISSING: Any = object()


class _Reader:
    """Reads typed fields, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, obj: dict[str, Any], key: str, default: _T, kind: type[_T], path: str) -> _T:
        """Field ``key`` of type ``kind``; ``default`` is ``_MISSING`` for required fields."""
        if key not in obj:
            if default is _MISSING:
                self.problems.append(f"{path}: missing field {key!r}")
            return default
        value = obj[key]
        # bool is an int subclass; a line number of `true` is still wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(
                f"{path}.{key}: expected {_KIND_NAMES[kind]}, got {_type_name(value)}"
            )
            return default
        return value

    def optional_str(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        self.problems.append(f"{path}.{key}: expected string or null, got {_type_name(value)}")
        return None

    def strings(self, obj: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        values = self.get(obj, key, [], list, path)
        good = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                good.append(value)
            else:
                self.problems.append(
                    f"{path}.{key}[{index}]: expected string, got {_type_name(value)}"
                )
        return tuple(good)

    def enum(self, obj: dict[str, Any], key: str, kind: type[_E], default: _E, path: str) -> _E:
        value = self.get(obj, key, default.value, str, path)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            self.problems.append(f"{path}.{key}: {value!r} is not one of {allowed}")
            return default

    def items(
        self,
        document: dict[str, Any],
        key: str,
        read: Callable[[_Reader, dict[str, Any], str], _T],
    ) -> list[_T]:
        """Each object of the list ``document[key]``, read with ``read``; bad entries skipped."""
        out = []
        for index, item in enumerate(self.get(document, key, [], list, "$")):
            path = f"{key}[{index}]"
            if not isinstance(item, dict):
                self.problems.append(f"{path}: expected object, got {_type_name(item)}")
                continue
            out.append(read(self, item, path))
        return out


_KIND_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number")):
        if isinstance(value, kind):
            return name
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _read_service(r: _Reader, obj: dict[str, Any], path: str) -> Service:
    ports = r.get(obj, "ports", [], list, path)
    bad_ports = [p for p in ports if not isinstance(p, int) or isinstance(p, bool)]
    if bad_ports:
        r.problems.append(f"{path}.ports: expected integers, got {json.dumps(bad_ports)}")
    env = []
    for index, item in enumerate(r.get(obj, "env", [], list, path)):
        item_path = f"{path}.env[{index}]"
        if not isinstance(item, dict):
            r.problems.append(f"{item_path}: expected object, got {_type_name(item)}")
            continue
        env.append(
            EnvValue(
                name=r.get(item, "name", _MISSING, str, item_path),
                value="",
                source=r.get(item, "source", "", str, item_path),
            )
        )
    return Service(
        name=r.get(obj, "name", _MISSING, str, path),
        root=r.get(obj, "root", _MISSING, str, path),
        aliases=r.strings(obj, "aliases", path),
        evidence=r.strings(obj, "evidence", path),
        ports=tuple(p for p in ports if p not in bad_ports),
        env=tuple(env),
    )


def _read_endpoint(r: _Reader, obj: dict[str, Any], path: str) -> Endpoint:
    return Endpoint(
        service=r.get(obj, "service", _MISSING, str, path),
        protocol=r.get(obj, "protocol", _MISSING, str, path),
        method=r.get(obj, "method", _MISSING, str, path),
        path=r.get(obj, "path", _MISSING, str, path),
        handler=r.get(obj, "handler", _MISSING, str, path),
        file=r.get(obj, "file", _MISSING, str, path),
        line=r.get(obj, "line", _MISSING, int, path),
        framework=r.optional_str(obj, "framework", path),
    )


def _read_call_site(r: _Reader, obj: dict[str, Any], path: str) -> CallSite:
    return CallSite(
        id=r.get(obj, "id", _MISSING, str, path),
        caller=r.get(obj, "caller", _MISSING, str, path),
        file=r.get(obj, "file", _MISSING, str, path),
        line=r.get(obj, "line", _MISSING, int, path),
        end_line=r.get(obj, "end_line", _MISSING, int, path),
        function=r.get(obj, "function", _MISSING, str, path),
        client=r.get(obj, "client", _MISSING, str, path),
        method=r.optional_str(obj, "method", path),
        url=r.get(obj, "url", _MISSING, str, path),
        url_template=r.optional_str(obj, "url_template", path),
        callee=r.get(obj, "callee", _MISSING, str, path),
        endpoint=r.optional_str(obj, "endpoint", path),
        evidence=r.strings(obj, "evidence", path),
        category=r.enum(obj, "category", Category, Category.PRODUCTION, path),
        role=r.enum(obj, "role", Role, Role.CALL, path),
        via_wrapper=r.optional_str(obj, "via_wrapper", path),
        result_used=r.get(obj, "result_used", False, bool, path),
        response_use=r.enum(
            obj,
            "response_use",
            ResponseUse,
            # scans written before response_use: a used result was all they knew
            ResponseUse.BODY if obj.get("result_used") is True else ResponseUse.NONE,
            path,
        ),
        is_async=r.get(obj, "is_async", False, bool, path),
        in_loop=r.get(obj, "in_loop", False, bool, path),
        has_timeout=r.get(obj, "has_timeout", False, bool, path),
        in_handler=r.get(obj, "in_handler", False, bool, path),
        streaming=r.get(obj, "streaming", False, bool, path),
        in_transaction=r.get(obj, "in_transaction", False, bool, path),
        payload=r.optional_str(obj, "payload", path),
        unknown_reason=r.optional_str(obj, "unknown_reason", path),
        fix_hint=r.optional_str(obj, "fix_hint", path),
        confidence=r.enum(obj, "confidence", Confidence, Confidence.EXACT, path),
        suppressed=r.strings(obj, "suppressed", path),
        one_of=r.optional_str(obj, "one_of", path),
    )


def _read_violation(r: _Reader, obj: dict[str, Any], path: str) -> ContractViolation:
    return ContractViolation(
        call_site=r.get(obj, "call_site", _MISSING, str, path),
        caller=r.get(obj, "caller", _MISSING, str, path),
        callee=r.get(obj, "callee", _MISSING, str, path),
        contract=r.get(obj, "contract", _MISSING, str, path),
        reason=r.get(obj, "reason", "", str, path),
    )


def _read_diagnostic(r: _Reader, obj: dict[str, Any], path: str) -> Diagnostic:
    return Diagnostic(
        file=r.get(obj, "file", _MISSING, str, path),
        line=r.get(obj, "line", _MISSING, int, path),
        severity=r.enum(obj, "severity", Severity, Severity.WARNING, path),
        code=r.get(obj, "code", _MISSING, str, path),
        message=r.get(obj, "message", _MISSING, str, path),
    )
