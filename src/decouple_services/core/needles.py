"""Which of many strings a file's text holds, found in one scan of it.

The prefilters ask of every file of a tree whether it holds one of dozens of strings (client
libraries, route words, framework names, the classes resolution looks for). One ``in`` per
string scans the file once each: homeassistant's 38 MB thirty times over, 0.67 s of a 4.8 s
scan. An Aho-Corasick automaton finds them all in one scan (0.09 s); the regular expressions
behind each string then run only where it is present.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from ahocorasick_rs import BytesAhoCorasick


class Holds(Protocol):
    """What a needle is tested ``in``: a file's text, or the needles it was found to hold
    (:func:`present`)."""

    def __contains__(self, needle: bytes, /) -> bool: ...


@lru_cache(maxsize=32)
def _automaton(needles: tuple[bytes, ...]) -> BytesAhoCorasick:
    return BytesAhoCorasick(needles)


def present(needles: tuple[bytes, ...], source: bytes) -> set[bytes]:
    """Which of ``needles`` (distinct, none empty) occur in ``source`` as substrings,
    overlapping or nested ones too (``port`` in ``import``)."""
    if not needles:
        return set()
    matches = _automaton(needles).find_matches_as_indexes(source, overlapping=True)
    return {needles[i] for i in {i for i, _, _ in matches}}


#: From this many needles on, one scan of an automaton beats one ``in`` each (it costs
#: about five on homeassistant's files). The scan reports every occurrence: needles
#: common in a file (``client`` in polar's tests) make it slower than it says.
ONE_SCAN_FROM = 6


def holding(needles: tuple[bytes, ...], source: bytes) -> Holds:
    """What to test ``needle in`` for whether ``source`` holds one of ``needles``: the
    set :func:`present` finds for many needles, ``source`` itself for a few."""
    return present(needles, source) if len(needles) >= ONE_SCAN_FROM else source
