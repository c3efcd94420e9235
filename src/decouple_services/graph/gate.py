"""The hotspot score behind ``scan --fail-on-score``: the same score ``decouple hotspots``
ranks by (:mod:`decouple_services.graph.score`, formula and worked example in docs/graph.md).

Like ``hotspots``, it counts change frequency when the scanned directory has git history
(the default window: 90 days before the newest commit), so a gate and a ranking of the
same checkout agree.
"""

from __future__ import annotations

from pathlib import Path

from decouple_services.core.model import ScanResult
from decouple_services.graph.history import DEFAULT_WINDOW, change_counts, parse_window
from decouple_services.graph.score import ScoreComponents, score_components
from decouple_services.graph.score import hotspot_scores as _scores

__all__ = ["ScoreComponents", "hotspot_scores", "score_components"]


def hotspot_scores(result: ScanResult) -> dict[str, float]:
    """Each service's hotspot score, with change frequency when ``result.root`` has history."""
    root = Path(result.root) if result.root else None
    changes = None
    if root is not None and root.is_dir():
        changes = change_counts(result, root, parse_window(DEFAULT_WINDOW))
    return _scores(result, changes=changes)
