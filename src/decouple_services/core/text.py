"""Text from a scanned tree made safe for a terminal and for text formats.

A service, file or host name comes from the repository, which may come from anyone. Printed
raw, ``\\x1b[2J`` clears the reader's screen and an OSC sequence retitles the window or
plants a link; in DOT or SVG a control character makes the document invalid (XML 1.0 allows
none but tab and newlines) and a NUL stops the layout engine. :func:`printable` is the one
place every text output (table, hotspots, migrate summary, DOT, SVG, Mermaid) passes such
names through.
"""

from __future__ import annotations

import unicodedata

# Format characters that reorder what follows (bidi overrides, isolates): text that reads
# one way and is another ("Trojan Source").
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def printable(value: object) -> str:
    """``value`` as text with every control character (C0, DEL, C1), bidi override and lone
    surrogate shown escaped (``\\x1b``, ``\\u202e``), as ``repr`` would; tabs and line
    breaks become spaces. Plain text comes back unchanged."""
    text = str(value)
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    chars = []
    for char in text:
        if char in "\n\r\t":
            chars.append(" ")
        elif char.isprintable() and char not in _BIDI and unicodedata.category(char) != "Cs":
            chars.append(char)
        else:
            chars.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(chars)


def printable_lines(text: str) -> str:
    """:func:`printable` applied line by line: the line breaks of ``text`` are kept."""
    return "\n".join(printable(line) for line in text.split("\n"))
