"""What a renderer is told besides the scan: which rules, and where the scan sits."""

from __future__ import annotations

from dataclasses import field

from decouple_services.core.records import record
from decouple_services.render.rules import RuleSelection


@record
class RenderOptions:
    #: Which rules' findings to report (``--select``/``--ignore``).
    selection: RuleSelection = field(default_factory=RuleSelection)
    #: The scanned folder's path inside the repository, with a trailing ``/`` (``""`` at
    #: the top level). SARIF and GitHub annotations put it before every path, because code
    #: scanning and annotations resolve paths against the repository root.
    uri_prefix: str = ""
