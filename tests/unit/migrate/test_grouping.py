"""One function telling several services about one fact is offered as one domain event."""

from __future__ import annotations

from dataclasses import replace

from decouple_services.core.model import CallSite
from decouple_services.migrate.codemod import SendSpec
from decouple_services.migrate.grouping import candidates
from decouple_services.migrate.plan import PlannedSite


def _planned(ident: str, function: str, callee: str, line: int, **send: object) -> PlannedSite:
    site = CallSite(
        id=ident,
        caller="users",
        file="users/views.py",
        line=line,
        end_line=line,
        function=function,
        client="requests",
        method="POST",
        url="URL",
        url_template=None,
        callee=callee,
        endpoint=None,
    )
    spec = SendSpec(ident, line, line, f"{callee}.x", callee, None, "users.decouple_producer")
    return PlannedSite(site, replace(spec, **send))  # type: ignore[arg-type]


def test_sends_to_several_services_from_one_function_are_a_candidate() -> None:
    planned = [
        _planned("cs-3", "users.views.register", "cache", 30),
        _planned(
            "cs-1",
            "users.views.register",
            "emails",
            10,
            key="user.id",
            key_origin="the payload's user_id",
        ),
        _planned("cs-2", "users.views.register", "analytics", 20),
        _planned("cs-4", "users.views.login", "analytics", 40),
        _planned("cs-5", "users.views.login", "analytics", 41),
    ]
    (group,) = candidates(planned)
    assert group.function == "users.views.register"
    assert group.site_ids == ("cs-1", "cs-2", "cs-3")  # in line order
    assert group.callees == ("analytics", "cache", "emails")
    assert group.suggested == "users.register"


def test_sends_migrated_earlier_are_not_offered_again() -> None:
    planned = [
        _planned("cs-1", "f", "emails", 1),
        PlannedSite(
            _planned("cs-2", "f", "cache", 2).site,
            _planned("cs-2", "f", "cache", 2).send,
            carried=True,
        ),
    ]
    assert candidates(planned) == []


def test_a_function_the_event_would_refuse_carries_the_reason_instead_of_the_command() -> None:
    planned = [
        _planned("cs-1", "users.views.register", "emails", 10),
        _planned("cs-2", "users.views.register", "cache", 20),
        _planned("cs-3", "users.views.login", "emails", 30),
        _planned("cs-4", "users.views.login", "cache", 40),
    ]
    why = "cs-2: between the event's send (cs-1, line 10) and this call (line 20) come ..."
    offered, blocked = candidates(planned, {("users/views.py", "users.views.register"): why})
    assert (blocked.function, blocked.blocked) == ("users.views.register", why)
    assert (offered.function, offered.blocked) == ("users.views.login", None)
