"""The face: the ``decouple`` command line, a thin typer layer over :mod:`decouple_services.app`."""

from __future__ import annotations

from decouple_services.cli.main import app, main

__all__ = ["app", "main"]
