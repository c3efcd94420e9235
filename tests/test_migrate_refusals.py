"""Sites a send must not replace though their response is not read, planned on a small
repository (tests/fixtures/migrate/unsafe): reads, checks, authentication calls, endpoints
whose path is not known, servicers a consumer cannot construct, handlers that need the
script's state, calls a later read relies on; and the caution for a payload carrying a
secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.report import render_pr_body, render_summary
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURE = Path(__file__).parent / "fixtures" / "migrate" / "unsafe"


@pytest.fixture(scope="module")
def migrated() -> MigrationResult:
    result = scan(FIXTURE, ScanOptions(use_cache=False))
    return migrate_scanned(
        result, select_sites(result, Criteria(services=("shop",))), PlanOptions()
    )


def test_reads_checks_auth_unknown_paths_and_unbuildable_servicers_are_refused(
    migrated: MigrationResult,
) -> None:
    refused = {
        r.site.line: tuple(f.code for f in r.reasons) for r in migrated.plan.refused if r.site
    }
    assert refused == {
        13: ("read-call",),  # GET /users/{user_id}, answer thrown away
        17: ("auth-call",),  # POST /auth/logout
        22: ("check-call",),  # ensure_quota: only its raise_for_status matters
        46: ("servicer-needs-arguments",),  # Profiles(store)
        51: ("read-call", "servicer-needs-arguments"),  # GetProfile
        56: ("unresolved-endpoint",),  # /{?}.Audit/Record: no proto, no generated module
        61: ("read-after",),  # refresh, then read the summary it refreshed
        62: ("response-used",),
        66: ("script-state",),  # the handler's registry exists only under __main__
    }
    reasons = {r.site.line: r.reasons[0] for r in migrated.plan.refused if r.site}
    assert "`ensure_quota` returns nothing" in reasons[22].reason
    assert "`Profiles.__init__` (services/profiles/profiles/server.py:12) requires `store`" in (
        reasons[46].reason
    )
    # the server builds it from serve()'s parameter, which a generated factory cannot know
    assert (
        "not in a way a generated factory can mirror: the servicer's construction reads "
        "`store`, a parameter of `serve()` (services/profiles/profiles/server.py:23)"
    ) in reasons[46].reason
    assert "RPC /{?}.Audit/Record" in reasons[56].reason
    assert "calls accounts again at line 62 (GET /users/{user_id}/summary)" in reasons[61].reason
    assert "reads `registry` (services/accounts/accounts/app.py:63)" in reasons[66].reason


def test_writes_migrate_and_a_secret_in_the_payload_is_a_caution(
    migrated: MigrationResult,
) -> None:
    taken = {p.site.line: tuple(c.code for c in p.cautions) for p in migrated.plan.rewrites}
    # use_quota (not named as a check), ensure_deactivated (returns a value), add_note, and
    # beat (its handler's `beats` is also made by a startup hook, not only under __main__)
    # one user's quota and note on two topics, and a deactivation on a third: unordered
    racing = "entity-across-topics"
    assert taken == {27: (racing,), 32: (racing,), 37: ("secret-in-payload", racing), 70: ()}
    body = render_pr_body(migrated)
    assert "secret-in-payload" in body
    summary = render_summary(migrated, dry_run=True)
    assert "carries `api_key`, named like a secret" in summary


def test_a_servicer_factory_lets_the_servicer_site_migrate_and_its_consumer_call_it() -> None:
    from decouple_services.migrate.generate import render_consumer

    result = scan(FIXTURE, ScanOptions(use_cache=False))
    options = PlanOptions(servicer_factories=(("Profiles", "profiles.wiring:make_profiles"),))
    migrated = migrate_scanned(result, select_sites(result, Criteria(services=("shop",))), options)
    refused = {
        r.site.line: tuple(f.code for f in r.reasons) for r in migrated.plan.refused if r.site
    }
    assert 46 not in refused
    assert refused[51] == ("read-call",)  # GetProfile: a read, factory or not
    assert 46 in {p.site.line for p in migrated.plan.rewrites}
    (consumer,) = [
        c for c in migrated.plan.consumers if c.handler and "Profile" in c.handler.attribute
    ]
    assert consumer.servicer_factory == "profiles.wiring:make_profiles"
    rendered = render_consumer(consumer)
    assert 'servicer_factory="profiles.wiring:make_profiles",' in rendered
    # the module says an async factory is awaited, and its context closed at the stop
    assert "(awaited when it is async; an async context manager it gives is\nexited" in rendered
    # the other consumers have no servicer to build
    assert all(c.servicer_factory is None for c in migrated.plan.consumers if c is not consumer)
