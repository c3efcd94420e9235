"""The face: the ``decouple`` command line, a thin typer layer over :mod:`decouple_services.app`.

``main`` is the console entry point (:mod:`decouple_services.cli.entry`: a plain ``scan``
command line runs without importing typer); ``app`` is the typer application
(:mod:`decouple_services.cli.commands`), imported on first use.
"""

from __future__ import annotations

from decouple_services.cli.entry import main
from decouple_services.core.lazy import lazy_attributes

#: ``typing.TYPE_CHECKING`` without importing ``typing``: a rerun answered from its record
#: (``app/replay.py``) imports only what answering needs (see docs/performance.md)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from decouple_services.cli.commands import app

__getattr__ = lazy_attributes(__name__, {"app": "decouple_services.cli.commands"}, globals())

__all__ = ["app", "main"]
