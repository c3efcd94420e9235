"""Patterns compiled on first use: a run compiles only the patterns it uses."""

from __future__ import annotations

import re

import pytest

from decouple_services.core.lazy import lazy_pattern


def test_a_pattern_is_compiled_on_first_use_only(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []
    real = re.compile

    def counting(pattern: str | bytes, flags: int = 0) -> re.Pattern[str]:
        compiled.append(pattern)
        return real(pattern, flags)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(re, "compile", counting)
    pattern = lazy_pattern(r"v\d+/")
    assert compiled == []
    first = pattern()
    assert first.match("v2/users")
    assert pattern() is first
    assert compiled == [r"v\d+/"]


def test_flags_and_bytes_are_kept() -> None:
    assert lazy_pattern(r"ok", re.IGNORECASE)().fullmatch("OK")
    found = lazy_pattern(rb"def[ \t]+(\w+)")().search(b"x = 1\ndef run():")
    assert found is not None and found.group(1) == b"run"
