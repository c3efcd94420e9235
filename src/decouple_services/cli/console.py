"""The one place that decides how output looks: colour, progress animation, verbosity.

The conventions, strongest first:

* ``NO_COLOR`` set to anything but the empty string: no colour anywhere
  (https://no-color.org), whatever else is set;
* ``FORCE_COLOR`` set to anything but the empty string: colour even when the stream is not
  a terminal (a CI log, a pager), and even with ``TERM=dumb``
  (https://force-color.org);
* ``TERM=dumb``: no colour and no cursor movement, so no animated progress bar;
* otherwise colour where the stream is a terminal.

The progress bar needs stderr to be a real terminal that is not dumb, and ``-q`` removes it;
``FORCE_COLOR`` never turns animation on, since a log would fill with redraws.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, Any

from decouple_services.app.terminal import Terminal, Verbosity


def _set(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "") != ""


def _is_tty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def wants_colour(stream: IO[Any], environ: Mapping[str, str]) -> bool:
    """Whether ANSI colours may be written to ``stream``."""
    if _set(environ, "NO_COLOR"):
        return False
    if _set(environ, "FORCE_COLOR"):
        return True
    if environ.get("TERM", "") == "dumb":
        return False
    return _is_tty(stream)


def terminal(
    verbosity: Verbosity = Verbosity.NORMAL,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: IO[Any] | None = None,
    stderr: IO[Any] | None = None,
) -> Terminal:
    """The :class:`Terminal` for this run, from the process's streams and environment."""
    env = os.environ if environ is None else environ
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    return Terminal(
        color_stdout=wants_colour(out, env),
        color_stderr=wants_colour(err, env),
        progress=_is_tty(err) and env.get("TERM", "") != "dumb" and verbosity > Verbosity.QUIET,
        verbosity=verbosity,
    )
