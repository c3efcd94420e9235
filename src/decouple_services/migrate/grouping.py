"""Sites that tell several services about one fact: candidates for one domain event.

A function that posts a welcome mail, an analytics event and a cache refresh after a user
registers makes its callers name every consumer and shape every payload. The summary offers
to make those sends one event the services subscribe to; this module finds the candidates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from decouple_services.migrate.naming import kebab

if TYPE_CHECKING:
    from decouple_services.migrate.plan import PlannedSite


@dataclass(frozen=True, slots=True)
class Candidate:
    """Sends in one function to more than one service, which could be one domain event."""

    file: str
    function: str
    site_ids: tuple[str, ...]
    callees: tuple[str, ...]
    #: A name to start from (``users.register``): the caller's domain, then the function;
    #: the fact is best renamed in the past tense (``users.user-registered``).
    suggested: str
    #: Why the calls cannot be one event as they stand (a payment between them, a call
    #: under a condition of its own...), or ``None``: then the summary offers the command.
    blocked: str | None = None

    def command(self, path: str = "PATH") -> str:
        """The ``decouple migrate`` line that makes these sends one domain event."""
        selects = " ".join(f"--select {i}" for i in self.site_ids)
        return f"decouple migrate {path} --event {self.suggested} {selects}"


def candidates(
    planned: Sequence[PlannedSite], blocked: Mapping[tuple[str, str], str] | None = None
) -> list[Candidate]:
    """Functions with sends to two or more services among ``planned`` (rewrites only);
    ``blocked``: why ``--event`` would refuse the sends of a ``(file, function)``."""
    by_function: dict[tuple[str, str], list[PlannedSite]] = defaultdict(list)
    for item in planned:
        if not item.carried and not item.event:
            by_function[(item.site.file, item.site.function)].append(item)
    out = []
    for (file, function), items in sorted(by_function.items()):
        callees = tuple(sorted({i.site.callee for i in items}))
        if len(callees) < 2:
            continue
        out.append(
            Candidate(
                file,
                function,
                tuple(i.site.id for i in sorted(items, key=lambda i: i.site.line)),
                callees,
                _suggested(items, function),
                (blocked or {}).get((file, function)),
            )
        )
    return out


def _suggested(items: Sequence[PlannedSite], function: str) -> str:
    """The publisher's domain (the caller service: it owns the fact), then the function."""
    return f"{kebab(items[0].site.caller)}.{kebab(function.rsplit('.', 1)[-1]) or 'event'}"
