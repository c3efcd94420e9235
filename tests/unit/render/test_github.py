"""GitHub Actions annotations: one escaped workflow command per finding and diagnostic."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from decouple_services.core.model import ContractViolation, ScanResult
from decouple_services.render.github import escape_data, escape_property, render_github
from decouple_services.render.options import RenderOptions
from decouple_services.render.rules import RuleSelection

from .cases import CREATE_USER, PLACE_ORDER, mixed

#: ``::kind key=value,key=value::message`` with nothing unescaped that would end it early.
COMMAND = re.compile(
    r"^::(error|warning|notice) ((?:[A-Za-z]+=[^,:\r\n]*)(?:,[A-Za-z]+=[^,:\r\n]*)*)::([^\r\n]*)$"
)


def parse(text: str) -> list[tuple[str, dict[str, str], str]]:
    commands = []
    for line in text.splitlines():
        match = COMMAND.match(line)
        assert match, f"not one well-formed workflow command: {line!r}"
        props = dict(item.split("=", 1) for item in match.group(2).split(","))
        commands.append((match.group(1), props, match.group(3)))
    return commands


def test_each_finding_is_an_annotation_at_the_call_with_the_rule_as_title() -> None:
    commands = parse(render_github(ScanResult(root=".", call_sites=(PLACE_ORDER,))))

    assert [(kind, props["title"]) for kind, props, _ in commands] == [
        ("warning", "DCP001 synchronous-service-call"),
        ("warning", "DCP004 call-without-timeout"),
        ("warning", "DCP005 call-in-loop"),
    ]
    for _, props, message in commands:
        assert props["file"] == "src/frontend/cart.py"
        assert (props["line"], props["endLine"]) == ("55", "55")
        assert message.startswith("frontend → orders")


def test_paths_are_relative_to_the_repository_root() -> None:
    text = render_github(
        ScanResult(root=".", call_sites=(CREATE_USER,)), RenderOptions(uri_prefix="services/")
    )

    (command,) = parse(text)
    assert command[1]["file"] == "services/src/frontend/views.py"
    assert (command[1]["line"], command[1]["endLine"]) == ("120", "123")


def test_notes_are_notices_and_contract_violations_are_errors() -> None:
    violation = ContractViolation(
        PLACE_ORDER.id, "frontend", "orders", 'forbid "frontend -> orders"', "no"
    )
    result = replace(mixed(), contract_violations=(violation,))

    commands = parse(render_github(result))
    kinds = {props["title"].split()[0]: kind for kind, props, _ in commands if "title" in props}
    assert kinds["DCP007"] == "error"
    assert kinds["DCP002"] == "notice"
    (contract,) = [m for _, p, m in commands if p["title"].startswith("DCP007")]
    assert 'forbid "frontend -> orders"' in contract


def test_suppressed_and_deselected_findings_are_not_annotated() -> None:
    quiet = replace(PLACE_ORDER, suppressed=("DCP004", "DCP005"))
    result = ScanResult(root=".", call_sites=(quiet, CREATE_USER))

    everything = [p["title"] for _, p, _ in parse(render_github(result))]
    assert everything == ["DCP001 synchronous-service-call", "DCP001 synchronous-service-call"]
    selected = render_github(
        result, RenderOptions(selection=RuleSelection(ignore=frozenset({"DCP001"})))
    )
    assert selected == ""


def test_diagnostics_are_annotations_too() -> None:
    commands = parse(render_github(mixed()))

    titles = [p["title"] for _, p, _ in commands]
    assert any(t.startswith("decouple ") for t in titles)


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("50% done", "50%25 done", "50%25 done"),
        ("a\nb\r\n", "a%0Ab%0D%0A", "a%0Ab%0D%0A"),
        ("x: y, z", "x: y, z", "x%3A y%2C z"),
        ("%0A", "%250A", "%250A"),
    ],
)
def test_values_are_escaped_as_the_actions_toolkit_does(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_a_hostile_path_or_message_cannot_end_the_command_or_start_another() -> None:
    evil = replace(
        CREATE_USER,
        file="src/a,title=x::b.py",
        function="f\n::error file=x::owned",
    )

    text = render_github(ScanResult(root=".", call_sites=(evil,)))
    (command,) = parse(text)
    assert command[1]["file"] == "src/a%2Ctitle=x%3A%3Ab.py"
    assert "\n::error" not in text.rstrip("\n")
