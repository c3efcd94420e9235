from __future__ import annotations

import re
from dataclasses import replace

import pytest

from decouple_services.core.errors import SelectionError
from decouple_services.core.model import CallSite, Category, Role, ScanResult, Service
from decouple_services.migrate.select import Criteria, parse_edge, select_sites


def _site(ident: str, caller: str, callee: str, **flags: object) -> CallSite:
    return CallSite(
        id=ident,
        caller=caller,
        file=f"services/{caller}/{caller}/app.py",
        line=int(ident[-2:], 16),
        end_line=int(ident[-2:], 16),
        function=f"{caller}.app.f",
        client="requests",
        method="POST",
        url='"http://x/y"',
        url_template="http://x/y",
        callee=callee,
        endpoint="POST /y",
        **flags,  # type: ignore[arg-type]
    )


RESULT = ScanResult(
    root="/repo",
    services=tuple(Service(n, f"services/{n}") for n in ("orders", "emails", "users")),
    call_sites=(
        _site("cs-00000001", "orders", "emails"),
        _site("cs-00000002", "orders", "emails", result_used=True),
        _site("cs-00000003", "orders", "users", in_loop=True),
        _site("cs-00000004", "users", "emails"),
        _site("cs-00000005", "orders", "external:api.stripe.com"),
        _site("cs-00000006", "orders", "emails", category=Category.TEST),
        _site("cs-00000007", "users", "orders", role=Role.EVENT),
    ),
)


def _ids(pairs: object) -> list[str]:
    return [s.id for s, _ in pairs]  # type: ignore[attr-defined]


def test_an_edge_takes_its_fire_and_forget_sites_and_refuses_the_others_with_reasons() -> None:
    selection = select_sites(RESULT, Criteria(edges=(("orders", "emails"),)))
    assert _ids(selection.chosen) == ["cs-00000001"]
    refused = {r.site_id: [f.code for f in r.reasons] for r in selection.refused}
    assert refused == {"cs-00000002": ["response-used"], "cs-00000006": ["not-production"]}


def test_a_service_takes_its_production_calls_to_other_services() -> None:
    selection = select_sites(RESULT, Criteria(services=("orders",)))
    assert _ids(selection.chosen) == ["cs-00000001", "cs-00000003"]
    assert [f.code for f in selection.chosen[1][1].cautions] == ["in-loop"]
    assert {r.site_id for r in selection.refused} == {"cs-00000002"}


def test_ids_are_taken_as_given_and_stale_or_migrated_ones_are_reported() -> None:
    selection = select_sites(
        RESULT, Criteria(ids=("cs-00000004", "cs-0000dead", "cs-00000005", "cs-00000007"))
    )
    assert _ids(selection.chosen) == ["cs-00000004"]
    refused = {r.site_id: [f.code for f in r.reasons] for r in selection.refused}
    assert refused == {"cs-0000dead": ["stale-id"], "cs-00000005": ["external-callee"]}
    assert [s.id for s in selection.already_migrated] == ["cs-00000007"]


def test_top_takes_the_calls_of_the_highest_ranked_hotspots() -> None:
    selection = select_sites(RESULT, Criteria(top=1))
    assert {s.caller for s, _ in selection.chosen} == {"orders"}


def test_selectors_add_up_without_duplicates() -> None:
    selection = select_sites(
        RESULT, Criteria(ids=("cs-00000001",), edges=(("orders", "emails"),), services=("users",))
    )
    assert _ids(selection.chosen) == ["cs-00000001", "cs-00000004"]


def test_nothing_selected_or_an_unknown_service_is_a_usage_error() -> None:
    with pytest.raises(SelectionError, match="nothing selected"):
        select_sites(RESULT, Criteria())
    with pytest.raises(SelectionError, match="no such service"):
        select_sites(RESULT, Criteria(services=("billing",)))
    with pytest.raises(SelectionError, match="no service named 'billing'"):
        select_sites(RESULT, Criteria(edges=(("orders", "billing"),)))


def test_an_edge_is_caller_colon_callee() -> None:
    assert parse_edge(" orders : emails ") == ("orders", "emails")
    with pytest.raises(SelectionError, match="expected CALLER:CALLEE"):
        parse_edge("orders")


def test_an_unknown_edge_end_lists_the_services_there_are() -> None:
    known = ", ".join(sorted(s.name for s in RESULT.services))
    with pytest.raises(SelectionError, match=re.escape(f"(services: {known})")):
        select_sites(RESULT, Criteria(edges=(("orders", "billing"),)))


def test_a_call_reaching_one_of_several_services_is_refused_for_each_target() -> None:
    table = "gateway.routing.SERVICES"
    result = replace(
        RESULT,
        call_sites=(
            _site("cs-00000011", "orders", "emails", one_of=table),
            _site("cs-00000012", "orders", "users", one_of=table),
        ),
    )
    selection = select_sites(result, Criteria(services=("orders",)))
    assert selection.chosen == ()
    refused = {r.site_id: [f.code for f in r.reasons] for r in selection.refused}
    assert refused == {"cs-00000011": ["one-of-targets"], "cs-00000012": ["one-of-targets"]}
    reason = selection.refused[0].reasons[0]
    assert "chosen at run time" in reason.reason and reason.suggestion
