from __future__ import annotations

import textwrap

import pytest

from decouple_services.core.model import EnvValue
from decouple_services.discover.dotenv import interpolate, parse_dotenv


def parse(text: str, environ: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    result = parse_dotenv(textwrap.dedent(text).lstrip("\n"), ".env", environ)
    assert result.diagnostics == ()
    return [(v.name, v.value, v.source) for v in result.values]


def test_plain_assignments_keep_their_line_numbers() -> None:
    assert parse(
        """
        # comment
        USERS_HOST=users

        USERS_PORT = 8000
        export ORDERS_URL=http://orders:8001
        """
    ) == [
        ("USERS_HOST", "users", ".env:2"),
        ("USERS_PORT", "8000", ".env:4"),
        ("ORDERS_URL", "http://orders:8001", ".env:5"),
    ]


def test_quotes_comments_and_escapes() -> None:
    assert parse(
        """
        A="http://a:1"  # trailing comment
        B='literal ${A} $A'
        C=http://c/#fragment
        D=value # comment
        E="line\\nnext \\"quoted\\""
        F=
        """
    ) == [
        ("A", "http://a:1", ".env:1"),
        ("B", "literal ${A} $A", ".env:2"),
        ("C", "http://c/#fragment", ".env:3"),
        ("D", "value", ".env:4"),
        ("E", 'line\nnext "quoted"', ".env:5"),
        ("F", "", ".env:6"),
    ]


def test_a_double_quoted_value_may_span_lines() -> None:
    assert parse('CERT="first\nsecond"\nNEXT=1\n') == [
        ("CERT", "first\nsecond", ".env:1"),
        ("NEXT", "1", ".env:3"),
    ]


def test_values_interpolate_earlier_keys_then_the_given_mapping() -> None:
    assert parse(
        """
        FRONTEND_HOST=frontend
        FRONTEND_PORT=5000
        FRONTEND_URL=http://${FRONTEND_HOST}:${FRONTEND_PORT}
        SHORT=$FRONTEND_HOST/x
        FROM_OUTSIDE=${REGION}-db
        DEFAULTED=${MISSING:-http://fallback:80}
        """,
        environ={"REGION": "eu"},
    ) == [
        ("FRONTEND_HOST", "frontend", ".env:1"),
        ("FRONTEND_PORT", "5000", ".env:2"),
        ("FRONTEND_URL", "http://frontend:5000", ".env:3"),
        ("SHORT", "frontend/x", ".env:4"),
        ("FROM_OUTSIDE", "eu-db", ".env:5"),
        ("DEFAULTED", "http://fallback:80", ".env:6"),
    ]


def test_a_reference_to_an_unset_variable_stays_as_written() -> None:
    """Later stages must see that part as unknown, not as an empty string."""
    assert parse("URL=http://${HOST}:$PORT/x\n") == [("URL", "http://${HOST}:$PORT/x", ".env:1")]


def test_a_bare_key_declares_no_value_and_is_not_an_error() -> None:
    assert parse("PASSED_THROUGH\nA=1\n") == [("A", "1", ".env:2")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("this is not an assignment", "expected '='"),
        ("=value", "expected KEY=VALUE"),
        ('BROKEN="never closed', "unterminated"),
    ],
)
def test_malformed_lines_become_diagnostics_and_parsing_goes_on(line: str, message: str) -> None:
    result = parse_dotenv(f"A=1\n{line}\nB=2\n", "svc/.env")

    assert result.values == (EnvValue("A", "1", "svc/.env:1"), EnvValue("B", "2", "svc/.env:3"))
    [diagnostic] = result.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.code) == ("svc/.env", 2, "dotenv-invalid")
    assert message in diagnostic.message


def test_as_dict_lets_a_later_declaration_win() -> None:
    assert parse_dotenv("A=1\nA=2\n", ".env").as_dict() == {"A": "2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${SET:-d}", "v"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${SET:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET:?must be set}", "${UNSET:?must be set}"),
        ("${SET?x}", "v"),
        ("${UNSET:-${SET}-nested}", "v-nested"),
        ("$$SET", "$SET"),
        ("cost: 5$", "cost: 5$"),
        ("${unterminated", "${unterminated"),
        ("${1BAD}", "${1BAD}"),
        ("no dollars", "no dollars"),
    ],
)
def test_interpolation_follows_compose_operators(text: str, expected: str) -> None:
    values = {"SET": "v", "EMPTY": ""}

    assert interpolate(text, values.get) == expected
