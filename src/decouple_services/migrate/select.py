"""Which call sites a migration takes, and which it refuses with the reason.

Selectors add up: ``--select ID...``, ``--edge CALLER:CALLEE``, ``--service NAME`` (the calls
the service makes) and ``--top N`` (the calls of the N highest-ranked hotspots). Every site they
name is assessed (:func:`decouple_services.graph.migratability.assess`); a site with a blocker is refused
with the reason and what to do instead, a site with cautions is taken and its cautions shown.
An id that no longer matches the code is refused too: the code was edited since the scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from decouple_services.core.errors import SelectionError
from decouple_services.core.model import CallSite, Role, ScanResult
from decouple_services.graph.migratability import Finding, Migratability, assess


@dataclass(frozen=True, slots=True)
class Criteria:
    ids: tuple[str, ...] = ()
    #: ``(caller, callee)`` pairs.
    edges: tuple[tuple[str, str], ...] = ()
    services: tuple[str, ...] = ()
    top: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.ids or self.edges or self.services or self.top)


@dataclass(frozen=True, slots=True)
class Refusal:
    #: The call site id as given (a stale id has no site).
    site_id: str
    site: CallSite | None
    reasons: tuple[Finding, ...]


STALE_ID = Finding(
    "stale-id",
    "no call site has this id in the code as it is now (edited since the scan?)",
    "scan again and pick the id from the fresh output",
)


@dataclass(frozen=True, slots=True)
class Selection:
    #: Sites to migrate, with their assessment (cautions included), in file order.
    chosen: tuple[tuple[CallSite, Migratability], ...]
    refused: tuple[Refusal, ...]
    #: Sites named by id that were migrated already (role ``event``): nothing to do.
    already_migrated: tuple[CallSite, ...] = ()


def parse_edge(text: str) -> tuple[str, str]:
    caller, sep, callee = text.partition(":")
    if not sep or not caller.strip() or not callee.strip():
        raise SelectionError(f"--edge {text!r}: expected CALLER:CALLEE, e.g. orders:emails")
    return caller.strip(), callee.strip()


def select_sites(result: ScanResult, criteria: Criteria) -> Selection:
    """The sites ``criteria`` name in ``result``, split into chosen and refused."""
    if criteria.empty:
        raise SelectionError(
            "nothing selected: pass --select ID, --edge CALLER:CALLEE, --service NAME or --top N"
        )
    names = {s.name for s in result.services}
    known = ", ".join(sorted(names)) or "none"
    for caller, callee in criteria.edges:
        for name in (caller, callee):
            if name not in names:
                raise SelectionError(
                    f"--edge {caller}:{callee}: no service named {name!r} (services: {known})"
                )
    for name in criteria.services:
        if name not in names:
            raise SelectionError(f"--service {name}: no such service (services: {known})")
    by_id = {s.id: s for s in result.call_sites}
    named: dict[str, CallSite] = {}
    stale: list[str] = []
    already: list[CallSite] = []
    for ident in criteria.ids:
        site = by_id.get(ident)
        if site is None:
            stale.append(ident)
        elif site.role is Role.EVENT:
            already.append(site)
        else:
            named[site.id] = site
    edges = set(criteria.edges)
    callers = set(criteria.services)
    if criteria.top:
        callers.update(top_services(result, criteria.top))
    for site in result.call_sites:
        if site.role is Role.EVENT or site.id in named:
            continue
        if (site.caller, site.callee) in edges or (
            site.caller in callers and site.is_production_coupling
        ):
            named[site.id] = site
    chosen: list[tuple[CallSite, Migratability]] = []
    refused = [Refusal(ident, None, (STALE_ID,)) for ident in stale]
    for site in sorted(named.values(), key=lambda s: (s.file, s.line, s.id)):
        verdict = assess(site)
        if verdict.migratable:
            chosen.append((site, verdict))
        else:
            refused.append(Refusal(site.id, site, verdict.blockers))
    return Selection(tuple(chosen), tuple(refused), tuple(already))


def top_services(result: ScanResult, n: int) -> list[str]:
    """The ``n`` services ``decouple hotspots`` ranks highest: the same score, change
    frequency included when the repository has git history (ties by name)."""
    from decouple_services.graph.gate import hotspot_scores

    scores = hotspot_scores(result)
    return sorted(scores, key=lambda name: (-scores[name], name))[:n]
