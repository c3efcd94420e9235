"""The rewrite on arbitrary Python: every call it is pointed at is either rewritten into code
that parses and carries its marker, or skipped with a reason. It never raises."""

from __future__ import annotations

import ast

import hypothesmith
import libcst as cst
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from decouple_services.migrate.codemod import SendSpec, find_markers, rewrite_source

STATEMENTS = st.sampled_from(
    [
        "requests.post(url, json=payload)",
        "_ = http.post(url, json={'a': 1, 'b': [x for x in y]}, timeout=2)",
        "await client.post(\n    url,\n    json=event,\n)",
        "session.patch(url, json=prefs, headers={'X-Request-ID': rid})",
        "pool.request('POST', '/x', body=json.dumps({'k': v}))",
    ]
)


def _calls(source: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]


def _spec(call: ast.Call) -> SendSpec:
    return SendSpec(
        site_id="cs-0000abcd",
        line=call.lineno,
        end_line=call.end_lineno or call.lineno,
        topic="svc.topic",
        callee="svc",
        endpoint="POST /x",
        producer_module="pkg.decouple_producer",
        payload_hint="json=payload",
    )


def _check(source: str, call: ast.Call) -> None:
    result = rewrite_source(source.encode("utf-8", "surrogatepass"), [_spec(call)])
    text = result.code.decode("utf-8", "surrogatepass")
    if "cs-0000abcd" in result.skipped:
        assert result.code == source.encode("utf-8", "surrogatepass")
        return
    cst.parse_module(text)
    assert [f["id"] for _, f in find_markers(text)].count("cs-0000abcd") == 1


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_a_send_after_any_valid_module_is_rewritten_or_skipped(module: str) -> None:
    """Whatever the module holds (imports, docstrings, ``__future__``, odd layout), adding
    the producer import and dropping unused ones leaves valid code."""
    source = module + ("" if module.endswith("\n") or not module else "\n")
    source += "import requests\nrequests.post(url, json=payload)\n"
    try:
        calls = _calls(source)
    except (SyntaxError, ValueError):
        assume(False)
    _check(source, max(calls, key=lambda c: (c.lineno, c.col_offset)))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(STATEMENTS, st.integers(min_value=0, max_value=3), st.booleans(), st.booleans())
def test_send_statements_in_any_nesting_rewrite_into_valid_code(
    statement: str, depth: int, is_async: bool, with_comment: bool
) -> None:
    lines = ["import json", "import requests", ""]
    header = (
        "async def handler(url, payload, event, prefs, rid, v, y, client, http, session, pool):"
    )
    lines.append(header if is_async or "await" in statement else header.replace("async ", ""))
    indent = "    "
    for level in range(depth):
        lines.append(f"{indent}for item{level} in range(3):")
        indent += "    "
    if with_comment:
        lines.append(f"{indent}# keep me")
    lines.extend(indent + part for part in statement.split("\n"))
    lines.append(f"{indent}return None")
    source = "\n".join(lines) + "\n"
    call = next(c for c in _calls(source) if c.lineno == len(lines) - 1 - statement.count("\n"))
    _check(source, call)
    if with_comment:
        rewritten = rewrite_source(source.encode(), [_spec(call)]).code.decode()
        assert "# keep me" in rewritten
