from __future__ import annotations

from dataclasses import replace

import pytest

from decouple_services.core.model import CallSite, Category, Confidence, Role
from decouple_services.graph.migratability import assess

SITE = CallSite(
    id="cs-1",
    caller="orders",
    file="orders/app.py",
    line=3,
    end_line=3,
    function="orders.app.place",
    client="requests",
    method="POST",
    url='"http://emails/send"',
    url_template="http://emails/send",
    callee="emails",
    endpoint="POST /send",
)


def test_a_fire_and_forget_call_to_a_known_endpoint_is_an_easy_win() -> None:
    found = assess(SITE)
    assert (found.fire_and_forget, found.migratable, found.label) == (True, True, "easy")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"result_used": True}, "response-used"),
        ({"streaming": True}, "streaming"),
        ({"callee": "unknown"}, "unknown-callee"),
        ({"callee": "external:api.stripe.com"}, "external-callee"),
        ({"callee": "orders"}, "self-call"),
        ({"category": Category.TEST}, "not-production"),
        ({"role": Role.WRAPPER}, "wrapper"),
        ({"client": "aiozipkin.create", "callee": "zipkin"}, "telemetry"),
        ({"one_of": "gateway.routing.SERVICES"}, "one-of-targets"),
    ],
)
def test_blockers_are_named(change: dict[str, object], code: str) -> None:
    found = assess(replace(SITE, **change))  # type: ignore[arg-type]
    assert [b.code for b in found.blockers] == [code]
    assert (found.migratable, found.label) == (False, "blocked")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"in_loop": True}, "in-loop"),
        ({"in_transaction": True}, "in-transaction"),
        ({"endpoint": None}, "no-endpoint"),
        ({"confidence": Confidence.INFERRED}, "inferred-callee"),
    ],
)
def test_cautions_keep_a_site_migratable_but_call_for_review(
    change: dict[str, object], code: str
) -> None:
    found = assess(replace(SITE, **change))  # type: ignore[arg-type]
    assert [c.code for c in found.cautions] == [code]
    assert (found.migratable, found.label) == (True, "review")


def test_a_used_response_is_not_fire_and_forget() -> None:
    found = assess(replace(SITE, result_used=True, in_loop=True))
    assert not found.fire_and_forget
    assert [b.code for b in found.blockers] == ["response-used"]
    assert [c.code for c in found.cautions] == ["in-loop"]
