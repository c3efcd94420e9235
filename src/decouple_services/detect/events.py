"""Sends that ``decouple migrate`` wrote: the provenance marker and the call under it.

    # decouple: migrated cs-4f798040 to notifications.notify (notifications POST /notify)
    send_event("notifications.notify", {...})

Each becomes a call site with role ``event`` (the id from the marker, ``url`` the topic,
``callee`` the consuming service), so the graph draws the topic and a later migration knows
the site is done. A marker with no send under it (the send was removed) is ignored.
"""

from __future__ import annotations

import ast

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.records import record

MARKER = lazy_pattern(
    r"#\s*decouple:\s*migrated\s+(?P<id>cs-[0-9a-f]+)\s+to\s+(?P<topic>[A-Za-z0-9._-]+)"
    r"\s+\((?P<callee>[^\s)]+)(?:\s+(?P<endpoint>[^)]*))?\)"
)
TOKEN = b"decouple: migrated"
SEND_FUNCTIONS = frozenset(
    {
        "send_event",
        "send_event_async",
        "send_event_and_wait",
        "send_event_and_wait_async",
        "send_via_outbox",
        "send_via_outbox_async",
    }
)


@record
class EventSend:
    site_id: str
    topic: str
    callee: str
    #: The endpoint the call used to hit (``"POST /notify"``), or ``None``.
    endpoint: str | None
    line: int
    end_line: int
    #: Qualified name of the enclosing function inside its module (``<module>`` at top level).
    function: str
    is_async: bool
    #: The send's data argument as written, or ``None``.
    payload: str | None
    marker_line: int

    def to_json(self) -> list[object]:
        return [
            self.site_id,
            self.topic,
            self.callee,
            self.endpoint,
            self.line,
            self.end_line,
            self.function,
            self.is_async,
            self.payload,
            self.marker_line,
        ]

    @classmethod
    def from_json(cls, data: list[object]) -> EventSend:
        return cls(*data)  # type: ignore[arg-type]


class _Sends(ast.NodeVisitor):
    def __init__(self) -> None:
        self.stack: list[str] = []
        self.found: list[tuple[ast.Call, str, bool]] = []
        self._awaited: set[int] = set()

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Await(self, node: ast.Await) -> None:
        self._awaited.add(id(node.value))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in SEND_FUNCTIONS:
            qualname = ".".join(self.stack) or "<module>"
            self.found.append((node, qualname, id(node) in self._awaited))
        self.generic_visit(node)


def find_event_sends(tree: ast.Module, text: str) -> tuple[EventSend, ...]:
    """Each marker in ``text`` with the send call on the first code line below it."""
    lines = text.splitlines()
    markers = []
    for number, line in enumerate(lines, start=1):
        match = MARKER().search(line)
        if match:
            markers.append((number, match))
    if not markers:
        return ()
    visitor = _Sends()
    visitor.visit(tree)
    calls = {call.lineno: (call, qualname, awaited) for call, qualname, awaited in visitor.found}
    out = []
    for number, match in markers:
        below = number + 1
        while below <= len(lines) and lines[below - 1].strip().startswith("#"):
            below += 1
        entry = calls.get(below)
        if entry is None:
            continue
        call, qualname, awaited = entry
        # ``send_via_outbox(session, topic, data)`` names the session first.
        first = call.args[0] if call.args else None
        data_at = 1 if isinstance(first, ast.Constant) and isinstance(first.value, str) else 2
        segment = (
            ast.get_source_segment(text, call.args[data_at]) if len(call.args) > data_at else None
        )
        payload = " ".join(segment.split()) if segment else None
        out.append(
            EventSend(
                site_id=match.group("id"),
                topic=match.group("topic"),
                callee=match.group("callee"),
                endpoint=(match.group("endpoint") or "").strip() or None,
                line=call.lineno,
                end_line=call.end_lineno or call.lineno,
                function=qualname,
                is_async=awaited,
                payload=None if payload == "None" else payload,
                marker_line=number,
            )
        )
    return tuple(out)
