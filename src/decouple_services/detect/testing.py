"""Single-file detection, for detector examples and quick experiments.

Runs extraction on one snippet and resolves receivers against that snippet's own constants,
which is all an example needs. The full pipeline (``decouple_services.app.pipeline.scan``) resolves across files.
"""

from __future__ import annotations

from collections.abc import Sequence

from decouple_services.detect.base import Detector, Match
from decouple_services.detect.extract import extract_facts
from decouple_services.detect.facts import FileFacts, RawCall
from decouple_services.detect.receivers import resolve_receiver
from decouple_services.detect.registry import extract_options, match_call
from decouple_services.detect.values import Value


def match_raw(call: RawCall, facts: FileFacts, detectors: Sequence[Detector]) -> Match | None:
    table: dict[str, Value] = {c.qualname: c.value for c in facts.constants}
    defined = {f.qualname for f in facts.functions}
    return match_call(
        call, resolve_receiver(call.receiver, table.get), detectors, defined, table.get
    )


def detect_calls_in_source(
    code: str,
    detectors: Sequence[Detector],
    *,
    module: str = "example",
    custom_clients: frozenset[str] = frozenset(),
) -> list[tuple[RawCall, Match]]:
    """Every request in ``code``, in source order, with the detector's match."""
    options = extract_options(detectors, custom_clients=custom_clients)
    facts = extract_facts(code.encode(), "example.py", module, options)
    found = []
    for call in facts.calls:
        if call.line in facts.ignored_lines:
            continue
        match = match_raw(call, facts, detectors)
        if match is not None:
            found.append((call, match))
    return sorted(found, key=lambda pair: (pair[0].line, pair[0].col))
