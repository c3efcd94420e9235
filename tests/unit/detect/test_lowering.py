"""Text lowering of PEP 695 / PEP 758 syntax: parses on Python 3.11, every line kept."""

from __future__ import annotations

import ast
import textwrap

import pytest

from decouple_services.detect.extract import parse_source
from decouple_services.detect.lowering import lower_fstrings, lower_new_syntax


def lowered(source: str) -> str:
    text = textwrap.dedent(source)
    out = lower_new_syntax(text)
    assert out is not None
    assert out.count("\n") == text.count("\n")
    ast.parse(out)
    return out


def call_lines(text: str) -> list[tuple[int, int, str]]:
    return [
        (n.lineno, n.col_offset, ast.unparse(n.func))
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.Call)
    ]


@pytest.mark.parametrize(
    "source",
    [
        """
        def first[T](items: list[T]) -> T:
            return requests.get(URL).json()
        """,
        """
        class Box[T: (int, str)](Base):
            def get(self):
                return httpx.get(self.url)
        """,
        """
        async def fetch[*Ts, **P](session) -> None:
            await session.get("http://users:8000/users")
        """,
        """
        type Handler = Callable[
            [Request],  # the incoming request
            Awaitable[Response],
        ]
        value = requests.post(URL, json={})
        """,
        """
        class Coordinator[
            _DataT: Mapping[str, Any],
        ](Base[_DataT]):
            def poll(self):
                return requests.get(self.url)
        """,
        """
        @overload
        def require[
            _ViewT: View,
        ](
            func: _ViewT,
        ) -> _ViewT: ...
        requests.delete(URL)
        """,
        """
        try:
            requests.get(URL)
        except ValueError, TypeError:
            pass
        """,
    ],
)
def test_calls_keep_their_lines(source: str) -> None:
    text = textwrap.dedent(source)
    out = lowered(source)
    found = call_lines(out)
    assert found
    for line, col, func in found:
        assert func in text.splitlines()[line - 1], (line, func)
        if func.startswith(("requests", "httpx", "session")):
            assert text.splitlines()[line - 1][col:].startswith(func)


def test_code_without_new_syntax_is_left_alone() -> None:
    assert lower_new_syntax("x = [1, 2]\ntype(x)\ndef f(a): return a[0]\n") is None


@pytest.mark.parametrize(
    "source",
    [
        'x = f"{d["key"]}"\n',  # PEP 701: left to libcst
        "def f[T(:\n    pass\n",
    ],
)
def test_what_it_cannot_lower_does_not_parse_or_is_refused(source: str) -> None:
    out = lower_new_syntax(source)
    if out is not None:
        with pytest.raises(SyntaxError):
            ast.parse(out)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a replacement field over several lines (polar's backoffice)
        (
            'x = f"-{\n    fmt(a,\n        b)\n}"\ny = 1\n',
            'x = f"""-{\n    fmt(a,\n        b)\n}"""\ny = 1\n',
        ),
        # a field reusing the string's quote, with a format spec holding a field
        ("x = f'{d['k']:>{w}}' + 'a'  # f'{\n", "x = f'''{d['k']:>{w}}''' + 'a'  # f'{\n"),
        ('x = f"{f"{y}"}"\n', 'x = f"""{f"{y}"}"""\n'),
    ],
)
def test_pep_701_fstrings_are_widened_to_triple_quotes(source: str, expected: str) -> None:
    out = lower_fstrings(source)
    assert out == expected
    assert out.count("\n") == source.count("\n")
    ast.parse(out)


@pytest.mark.parametrize(
    "source",
    [
        'x = f"{a}" + "b"\n',  # nothing to widen
        'x = f"{a\\n}"\n',  # a backslash in a field: libcst's business
        'x = f"{a # note\n}"\n',  # a comment in a field
        'x = f"{a}\n',  # unterminated
        'if"a" in x: pass\n',  # a word before a quote that is no prefix
    ],
)
def test_fstrings_this_reading_is_unsure_of_are_left(source: str) -> None:
    assert lower_fstrings(source) is None


def test_a_multiline_fstring_field_is_parsed_without_libcst() -> None:
    source = b'def f(x):\n    return text(\n        f"-{\n            fmt(x)\n        }"\n    )\n'
    tree, _text, problem = parse_source(source, "a.py")
    assert problem is None and tree is not None
    (call,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "fmt"
    ]
    assert call.lineno == 4


def test_fstrings_nested_past_the_stack_are_left_to_the_fallback() -> None:
    deep = "x = " + 'f"{' * 5000 + "1" + '}"' * 5000 + "\n"
    assert lower_fstrings(deep) is None
