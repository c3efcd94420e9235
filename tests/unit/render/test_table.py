from __future__ import annotations

import re
from dataclasses import replace

import pytest

from decouple_services.core.model import Diagnostic, Role, ScanResult, Service, Severity
from decouple_services.render.table import render_table

from .cases import (
    CHARGE,
    CREATE_USER,
    LOADGEN_CALL,
    PLACE_ORDER,
    SECRET,
    SYNC_INVENTORY,
    TEST_CALL,
    UPDATE_USER,
    empty,
    mixed,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")

TITLES = (
    "Services",
    "Call sites",
    "Test, load-generator and script calls (not counted as coupling)",
    "Wrappers (generic helpers; their calls are listed above, 'via <helper>')",
    "Unknown callees (how to fix)",
    "Diagnostics (not analysed)",
)


def section(text: str, title: str) -> str:
    """One section: its title line up to the next section's title (or the end)."""
    start = text.index(f"\n{title}\n") + 1
    ends = [text.find(f"\n{t}\n", start) for t in TITLES if t != title]
    end = min([e for e in ends if e != -1], default=len(text))
    return text[start:end].rstrip("\n")


def test_header_line_gives_root_and_counts() -> None:
    first, second = render_table(mixed()).splitlines()[:2]

    assert first == (
        "decouple scan of shop · 42 files scanned · 3 services · 8 call sites · 2 diagnostics"
    )
    assert second == (
        "production: 3 inter-service calls on 2 edges, 1 external, 1 unknown"
        " · 2 test/loadgen/script calls"
    )


def test_services_section_lists_name_root_aliases_and_evidence() -> None:
    services = section(render_table(mixed()), "Services")

    assert services.splitlines()[3].split() == [
        "frontend", "src/frontend", "frontend,", "web",
        "docker-compose.yml:12", "build", "context", "(+1", "more)",
    ]  # fmt: skip
    assert "userservice   src/userservice   userservice, users" in services


def test_call_sites_are_grouped_under_one_heading_per_edge() -> None:
    calls = section(render_table(mixed()), "Call sites")
    lines = calls.splitlines()

    headings = [line for line in lines if not line.startswith(" ")][1:]
    assert headings == [
        "frontend → orders  (1 call)",
        "frontend → userservice  (2 calls)",
        "orders → api.stripe.com (external)  (1 call)",
        "orders → unknown  (1 call)",
    ]
    order = [calls.index(site.id) for site in (PLACE_ORDER, UPDATE_USER, CREATE_USER, CHARGE)]
    assert order == sorted(order)
    below = lines[lines.index("frontend → userservice  (2 calls)") + 1 :][:4]
    assert [line.split()[0] for line in below[::2]] == [UPDATE_USER.id, CREATE_USER.id]


def test_each_call_shows_target_client_location_and_flags() -> None:
    calls = section(render_table(mixed()), "Call sites")
    first, second = calls[calls.index(PLACE_ORDER.id) :].splitlines()[:2]

    assert first.split() == [
        PLACE_ORDER.id, "RPC", "/orders.Orders/CreateOrder", "·", "grpc", "uses", "result,", "loop,",
    ]  # fmt: skip
    assert second.split() == ["src/frontend/cart.py:55", "no-timeout"]


def test_flags_cover_async_and_wrapper() -> None:
    text = render_table(mixed(), width=160)

    assert "uses result, async" in text
    assert "fire&forget, via post_json" in text
    assert "fire&forget, in-handler" in text


def test_tests_and_load_generators_are_listed_apart_with_their_category() -> None:
    text = render_table(mixed(), width=160)
    calls = section(text, "Call sites")
    others = section(text, "Test, load-generator and script calls (not counted as coupling)")

    for site in (TEST_CALL, LOADGEN_CALL):
        assert site.id not in calls
        assert site.id in others
    assert "userservice → userservice  (1 call)" in others
    assert "uses result, no-timeout, test" in others
    assert "fire&forget, no-timeout, loadgen" in others


def test_wrappers_get_a_short_section_of_their_own() -> None:
    text = render_table(mixed())
    wrappers = section(text, TITLES[3]).splitlines()

    assert wrappers[3].split() == ["frontend.clients.post_json", "requests", "POST", "url", "1"]
    assert wrappers[4] == "src/frontend/clients.py:12"
    assert "frontend.clients.post_json" not in section(text, "Call sites")


def test_unknown_callees_come_with_their_fix_hint() -> None:
    unknowns = section(render_table(mixed(), width=200), "Unknown callees (how to fix)")

    assert SYNC_INVENTORY.id in unknowns
    assert "src/orders/sync.py:40" in unknowns
    assert "the url comes from build_url(), whose return value is computed at run time" in unknowns
    assert "add `# decouple: target=<service>` to src/orders/sync.py:40" in unknowns


def test_diagnostics_come_last_with_location_severity_code_and_message() -> None:
    text = render_table(mixed())
    diagnostics = section(text, "Diagnostics (not analysed)")

    assert text.endswith("\n\n" + diagnostics + "\n")
    assert diagnostics.splitlines()[3:] == [
        "(repository)" + " " * 66 + "note       no-config",
        "no [tool.decouple] table; using discovered services",
        "src/legacy/old.py:3" + " " * 59 + "warning    parse-error",
        "invalid syntax (print statement)",
    ]


def test_readable_at_100_columns() -> None:
    """Nothing is wider than 100 columns and ids and locations are never cut."""
    text = render_table(mixed(), width=100)

    assert max(len(line) for line in text.splitlines()) <= 100
    assert all(line == line.rstrip() for line in text.splitlines())
    for site in mixed().call_sites:
        if site.role is Role.CALL:
            assert site.id in text
            assert f"{site.file}:{site.line}" in text


def test_default_width_is_100_columns() -> None:
    assert render_table(mixed()) == render_table(mixed(), width=100)


def test_no_escape_codes_unless_colour_is_asked_for() -> None:
    assert "\x1b" not in render_table(mixed())
    assert "\x1b[" in render_table(mixed(), color=True)


def test_output_does_not_depend_on_input_order() -> None:
    result = mixed()
    reversed_result = replace(
        result, services=result.services[::-1], call_sites=result.call_sites[::-1]
    )

    assert render_table(reversed_result) == render_table(result)


def test_env_values_are_not_shown() -> None:
    assert SECRET not in render_table(mixed(), width=300)


@pytest.mark.parametrize("color", [False, True])
def test_markup_in_scanned_strings_is_printed_literally(color: bool) -> None:
    """A file called ``[bold]x.py`` must not turn on bold, nor vanish from the output."""
    site = replace(
        CREATE_USER,
        file="src/[bold]odd[/bold]/views.py",
        caller="[red]frontend",
        url_template="http://[link=evil]users[/link]/x",
        endpoint=None,
    )
    service = Service(name="[red]frontend", root="src/[bold]odd[/bold]")
    diagnostic = Diagnostic("src/[bold]odd[/bold]/x.py", 1, Severity.ERROR, "parse-error", "[i]")
    result = ScanResult(
        root="[bold]repo", services=(service,), call_sites=(site,), diagnostics=(diagnostic,)
    )

    text = render_table(result, width=200, color=color)
    plain = ANSI.sub("", text)

    assert "decouple scan of [bold]repo" in plain
    assert "src/[bold]odd[/bold]/views.py:120" in plain
    assert "http://[link=evil]users[/link]/x" in plain
    assert "[red]frontend → userservice" in plain
    assert "src/[bold]odd[/bold]/x.py:1" in plain
    assert "[i]" in [line.strip() for line in plain.splitlines()]
    assert "\x1b]8;" not in text  # no hyperlink from [link=...]
    assert "\x1b[1modd" not in text  # "odd" is not made bold


def test_control_characters_from_scanned_code_are_made_visible() -> None:
    site = replace(CREATE_USER, url_template="http://users\x1b[31m/x\udce9", endpoint=None)

    text = render_table(ScanResult(root=".", call_sites=(site,)), width=200)

    assert "\x1b" not in text
    assert "http://users\\x1b[31m/x\\udce9" in text
    text.encode("utf-8")


def test_empty_scan_says_what_was_not_found() -> None:
    text = render_table(empty())

    assert text.splitlines()[0] == (
        "decouple scan of empty · 0 files scanned · 0 services · 0 call sites · 0 diagnostics"
    )
    assert "No services found." in text
    assert "No production calls between services found." in text
    assert text.rstrip().endswith("No diagnostics: every file was analysed.")
    assert "Wrappers" not in text
    assert "Unknown callees" not in text
