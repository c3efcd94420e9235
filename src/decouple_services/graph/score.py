"""The hotspot score: where synchronous coupling concentrates, and why.

    score = 2 x fan-out + 1 x fan-in
          + sum over the service's outgoing call sites of
                (1 + 0.5 if in a loop + 0.5 if without a timeout + 0.5 if in a request handler)
          + 1 x (hops of the longest synchronous chain through the service - 1)
          + 2 x cycle calls (services it calls that reach it back)
          + 0.5 x commits that changed its calling code in the window (at most 10 counted)

A call whose target is one of a mapping's services (``CallSite.one_of``, one site per
target) counts once among the call sites; each target is an edge of its own.
Only production, synchronous calls between services count (``CallSite.is_production_coupling``):
calls to external hosts, unresolved calls, tests, scripts, load generators and calls already
migrated to Kafka do not. Each term is kept in :class:`ScoreComponents`, so every output
shows the parts a score is made of. docs/graph.md has a worked example.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from decouple_services.core.model import CallSite, ScanResult
from decouple_services.graph.metrics import ServiceMetrics, service_metrics
from decouple_services.graph.migratability import Migratability, assess

FAN_OUT_WEIGHT = 2.0
FAN_IN_WEIGHT = 1.0
SITE_WEIGHT = 1.0
LOOP_WEIGHT = NO_TIMEOUT_WEIGHT = HANDLER_WEIGHT = 0.5
#: Per hop beyond the first: a single call is already counted by its site.
CHAIN_WEIGHT = 1.0
CYCLE_WEIGHT = 2.0
CHANGE_WEIGHT = 0.5
#: Commits beyond this many add nothing: churn sharpens the ranking, it does not decide it.
MAX_CHANGES = 10


@dataclass(frozen=True, slots=True)
class Part:
    """One term of a score: what was counted, its weight and the points it adds."""

    name: str
    count: float
    weight: float
    points: float


@dataclass(frozen=True, slots=True)
class ScoreComponents:
    service: str
    fan_out: int
    fan_in: int
    #: Outgoing production call sites to other services, and how many of them are in a
    #: loop, without a timeout, inside a request handler.
    call_sites: int
    in_loop: int
    no_timeout: int
    in_handler: int
    #: Hops of the longest synchronous chain through the service (0 when it has none).
    chain_depth: int = 0
    #: Services it calls that reach it back (its calls that close a cycle).
    cycle_calls: int = 0
    #: Commits in the window that touched a file holding one of its call sites; ``None``
    #: when no git history was read.
    changes: int | None = None

    def parts(self) -> tuple[Part, ...]:
        """Every term, in the order of the formula (terms of zero included)."""
        return (
            Part("fan-out", self.fan_out, FAN_OUT_WEIGHT, FAN_OUT_WEIGHT * self.fan_out),
            Part("fan-in", self.fan_in, FAN_IN_WEIGHT, FAN_IN_WEIGHT * self.fan_in),
            Part("call sites", self.call_sites, SITE_WEIGHT, SITE_WEIGHT * self.call_sites),
            Part("in loop", self.in_loop, LOOP_WEIGHT, LOOP_WEIGHT * self.in_loop),
            Part(
                "no timeout",
                self.no_timeout,
                NO_TIMEOUT_WEIGHT,
                NO_TIMEOUT_WEIGHT * self.no_timeout,
            ),
            Part("in handler", self.in_handler, HANDLER_WEIGHT, HANDLER_WEIGHT * self.in_handler),
            Part(
                "chain",
                self.chain_depth,
                CHAIN_WEIGHT,
                CHAIN_WEIGHT * max(0, self.chain_depth - 1),
            ),
            Part("cycle calls", self.cycle_calls, CYCLE_WEIGHT, CYCLE_WEIGHT * self.cycle_calls),
            Part(
                "changes",
                self.changes or 0,
                CHANGE_WEIGHT,
                CHANGE_WEIGHT * min(self.changes or 0, MAX_CHANGES),
            ),
        )

    @property
    def score(self) -> float:
        return sum(part.points for part in self.parts())

    def explain(self) -> str:
        """The non-zero terms, e.g. ``fan-out 6x2=12 + call sites 15 + chain (4-1)x1=3 = 30``."""
        shown = []
        for part in self.parts():
            if not part.points:
                continue
            if part.name == "chain":
                shown.append(f"chain ({part.count:g}-1)x{part.weight:g}={part.points:g}")
            elif part.weight == 1:
                shown.append(f"{part.name} {part.points:g}")
            else:
                shown.append(f"{part.name} {part.count:g}x{part.weight:g}={part.points:g}")
        return " + ".join(shown) + f" = {self.score:g}" if shown else "0"


def score_components(
    result: ScanResult,
    *,
    metrics: Mapping[str, ServiceMetrics] | None = None,
    changes: Mapping[str, int] | None = None,
) -> dict[str, ScoreComponents]:
    """The components of every service's score.

    ``changes`` maps a service to its commit count in the window (see
    :mod:`decouple_services.graph.history`); without it the term is left out.
    """
    metrics = service_metrics(result) if metrics is None else metrics
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    #: A call reaching one of a mapping's services is one call: its sites (one per target)
    #: make an edge each, and count once here.
    fanned: set[tuple[str, int, str, str]] = set()
    for site in result.call_sites:
        if not site.is_production_coupling:
            continue
        if site.one_of is not None:
            key = (site.file, site.line, site.function, site.one_of)
            if key in fanned:
                continue
            fanned.add(key)
        c = counts[site.caller]
        c[0] += 1
        c[1] += site.in_loop
        c[2] += not site.has_timeout
        c[3] += site.in_handler
    out = {}
    for name in sorted(metrics):
        m = metrics[name]
        c = counts.get(name, [0, 0, 0, 0])
        out[name] = ScoreComponents(
            service=name,
            fan_out=m.fan_out,
            fan_in=m.fan_in,
            call_sites=c[0],
            in_loop=c[1],
            no_timeout=c[2],
            in_handler=c[3],
            chain_depth=m.chain_depth,
            cycle_calls=len(m.cycle_calls),
            changes=None if changes is None else changes.get(name, 0),
        )
    return out


@dataclass(frozen=True, slots=True)
class SiteAssessment:
    site: CallSite
    migratability: Migratability

    @property
    def is_easy_win(self) -> bool:
        return self.migratability.label == "easy"


@dataclass(frozen=True, slots=True)
class Hotspot:
    rank: int
    service: str
    components: ScoreComponents
    metrics: ServiceMetrics
    #: Its outgoing production calls to other services, each with its migratability.
    sites: tuple[SiteAssessment, ...]

    @property
    def score(self) -> float:
        return self.components.score

    @property
    def easy_wins(self) -> tuple[str, ...]:
        """Ids of fire-and-forget calls with nothing to watch: the first ones to migrate."""
        return tuple(a.site.id for a in self.sites if a.is_easy_win)

    @property
    def blocked(self) -> tuple[str, ...]:
        return tuple(a.site.id for a in self.sites if not a.migratability.migratable)


def rank_hotspots(
    result: ScanResult,
    *,
    changes: Mapping[str, int] | None = None,
    top: int | None = None,
) -> list[Hotspot]:
    """Services by hotspot score, highest first (ties by name), with components and sites.

    ``top`` keeps the first N. ``changes`` adds the change-frequency term (see
    :func:`decouple_services.graph.history.change_counts`).
    """
    metrics = service_metrics(result)
    components = score_components(result, metrics=metrics, changes=changes)
    sites: dict[str, list[SiteAssessment]] = defaultdict(list)
    for site in sorted(result.call_sites, key=lambda s: (s.file, s.line, s.id)):
        if site.is_production_coupling:
            sites[site.caller].append(SiteAssessment(site, assess(site)))
    order = sorted(components.values(), key=lambda c: (-c.score, c.service))
    if top is not None:
        order = order[: max(top, 0)]
    return [
        Hotspot(
            rank=index,
            service=c.service,
            components=c,
            metrics=metrics[c.service],
            sites=tuple(sites.get(c.service, ())),
        )
        for index, c in enumerate(order, start=1)
    ]


def hotspot_scores(
    result: ScanResult, *, changes: Mapping[str, int] | None = None
) -> dict[str, float]:
    """Each service's score; ``changes`` as for :func:`score_components`
    (:func:`decouple_services.graph.gate.hotspot_scores` reads them from git)."""
    return {name: parts.score for name, parts in score_components(result, changes=changes).items()}
