"""Hotspot score per service, from a scan: where synchronous coupling concentrates.

    score = 2 x fan-out + 1 x fan-in + sum over the service's outgoing call sites of
            (1 + 0.5 if in a loop + 0.5 if no timeout + 0.5 if inside a request handler)

Only production, synchronous (not migrated) calls between services count. Fan-out is the
number of distinct services called, fan-in the number of distinct services calling. Each part
is returned by :func:`score_components` so outputs can show why a service ranks where it does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from decouple.model import ScanResult

FAN_OUT_WEIGHT = 2.0
FAN_IN_WEIGHT = 1.0
LOOP_WEIGHT = NO_TIMEOUT_WEIGHT = HANDLER_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class ScoreComponents:
    service: str
    fan_out: int
    fan_in: int
    call_sites: int
    in_loop: int
    no_timeout: int
    in_handler: int

    @property
    def score(self) -> float:
        return (
            FAN_OUT_WEIGHT * self.fan_out
            + FAN_IN_WEIGHT * self.fan_in
            + self.call_sites
            + LOOP_WEIGHT * self.in_loop
            + NO_TIMEOUT_WEIGHT * self.no_timeout
            + HANDLER_WEIGHT * self.in_handler
        )


def score_components(result: ScanResult) -> dict[str, ScoreComponents]:
    callees: dict[str, set[str]] = defaultdict(set)
    callers: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for site in result.call_sites:
        if not site.is_production_coupling:
            continue
        callees[site.caller].add(site.callee)
        callers[site.callee].add(site.caller)
        c = counts[site.caller]
        c[0] += 1
        c[1] += site.in_loop
        c[2] += not site.has_timeout
        c[3] += site.in_handler
    out = {}
    for service in result.services:
        name = service.name
        c = counts.get(name, [0, 0, 0, 0])
        out[name] = ScoreComponents(
            name, len(callees[name]), len(callers[name]), c[0], c[1], c[2], c[3]
        )
    return out


def hotspot_scores(result: ScanResult) -> dict[str, float]:
    return {name: parts.score for name, parts in score_components(result).items()}
