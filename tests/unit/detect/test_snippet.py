"""``snippet``: detector examples dedented as ``textwrap.dedent`` dedents them."""

from __future__ import annotations

import textwrap

from hypothesis import given
from hypothesis import strategies as st

from decouple_services.detect.base import snippet


def _dedented(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def test_an_example_written_in_a_class_body_starts_at_its_first_line() -> None:
    code = """
        import requests

        def stock(sku):
            return requests.get(URL)
    """
    assert snippet(code) == "import requests\n\ndef stock(sku):\n    return requests.get(URL)\n"


def test_lines_of_spaces_alone_are_emptied_and_set_no_margin() -> None:
    code = "\n    a\n  \n        b\n      \n"
    assert snippet(code) == "a\n\n    b\n\n"


def test_a_margin_with_tabs_is_dedented_as_textwrap_does() -> None:
    code = "\n\tif x:\n\t    y\n"
    assert snippet(code) == _dedented(code) == "if x:\n    y\n"


_LINES = st.lists(
    st.tuples(st.text(" \t", max_size=6), st.text("ab \t\r\x0c", max_size=6)), max_size=8
)


@given(_LINES, st.sampled_from(["", "\n", "\n\n"]))
def test_any_text_is_dedented_as_textwrap_dedents_it(
    lines: list[tuple[str, str]], start: str
) -> None:
    code = start + "\n".join(indent + rest for indent, rest in lines)
    assert snippet(code) == _dedented(code)
