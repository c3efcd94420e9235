"""core/needles.py: which of many strings a text holds, in one scan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.core.needles import ONE_SCAN_FROM, holding, present

#: Short texts over three letters: needles nest and overlap (`port` in `import`).
_ABC = st.text(alphabet="abc", max_size=4).map(str.encode)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ABC.filter(bool), max_size=6), st.text(alphabet="abc", max_size=30))
def test_present_finds_every_needle_a_substring_test_finds(needles: list[bytes], text: str) -> None:
    unique, source = tuple(sorted(set(needles))), text.encode()
    assert present(unique, source) == {n for n in unique if n in source}


def test_holding_is_the_text_for_a_few_needles_and_what_it_holds_for_many() -> None:
    text = b"import requests_oauthlib  # report"
    few = (b"port", b"requests")
    assert holding(few, text) is text
    many = tuple(sorted({b"port", b"requests", b"requests_oauthlib", b"httpx", b"im", b"x", b"#"}))
    assert len(many) >= ONE_SCAN_FROM
    held = holding(many, text)
    assert held is not text
    assert [n for n in many if n in held] == [n for n in many if n in text]
