"""Source text written inside tests: dedented, and the line holding a needle."""

from __future__ import annotations

import textwrap


def dedented(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_of(source: str, needle: str) -> int:
    """The number of the first line of ``source`` that holds ``needle``."""
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)
