"""Domain events end to end on tests/fixtures/events: ``register`` tells emails, analytics
and the cache about a new user. ``decouple migrate --event users.user-registered`` makes the
three calls one send and three consumers, each taking back only what its call sent.

The goldens under tests/fixtures/migrate/events/ are the reviewed outputs: the rewritten
caller, the three consumers, the combined AsyncAPI document and the summary. Regenerate with
``pytest --update-goldens`` and review the diff like code.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from goldens import assert_golden

from decouple_services.app.migrate import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, MigrateCommand
from decouple_services.app.migrate import run_migrate_command as run
from decouple_services.app.pipeline import ScanOptions, scan

FIXTURE = Path(__file__).parent / "fixtures" / "events"
GOLDEN = Path(__file__).parent / "fixtures" / "migrate" / "events"
EVENT = "users.user-registered"
REGISTRATION = "services/users/users/registration.py"
CONSUMERS = {
    "emails": "services/emails/emails/decouple_consumers/users_user_registered.py",
    "analytics": "services/analytics/analytics/decouple_consumers/users_user_registered.py",
    "cache": "services/cache/cache/decouple_consumers/users_user_registered.py",
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "users-repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "users")
    return root


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", message)


def _ids(root: Path) -> dict[str, str]:
    """The call sites of ``register`` by callee, as ``decouple scan`` shows them."""
    result = scan(root, ScanOptions(use_cache=False))
    return {s.callee: s.id for s in result.call_sites if s.file == REGISTRATION}


def _migrate(root: Path, **options: object) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.StringIO()
    command = MigrateCommand(path=root, use_cache=False, **options)  # type: ignore[arg-type]
    status = run(command, stdout=out, stderr=err)
    return status, out.getvalue().decode("utf-8"), err.getvalue()


def _assert_golden(actual: str, name: str, update: bool) -> None:
    assert_golden(actual, GOLDEN / name, update)


def _event(root: Path, ids: dict[str, str], **options: object) -> tuple[int, str, str]:
    select = (ids["emails"], ids["analytics"], ids["cache"])
    return _migrate(root, select=select, event=EVENT, **options)


def test_the_summary_offers_the_event_command_for_one_function_telling_three_services(
    repo: Path,
) -> None:
    ids = _ids(repo)
    status, _, summary = _migrate(repo, services=("users",))
    assert status == EXIT_OK
    offer = f"--event users.register --select {ids['emails']} --select {ids['analytics']}"
    assert f"decouple migrate {repo} {offer} --select {ids['cache']}" in summary


def test_three_calls_become_one_event_and_three_consumers(
    repo: Path, tmp_path: Path, update_goldens: bool
) -> None:
    ids = _ids(repo)
    pr = tmp_path / "pr.md"
    status, _, summary = _event(repo, ids, write=True, pr_body=pr)
    assert status == EXIT_OK, summary
    written = f"decouple: wrote {pr}\n"
    assert written in summary
    summary = summary.replace(written, "")
    _assert_golden(summary.replace(str(repo), "<repo>"), "summary.txt", update_goldens)
    # the PR's summary and table describe the event's one send, as the code has it
    body = pr.read_text()
    sites = body[body.index("## Summary") : body.index("### Review these")]
    _assert_golden(sites, "pr-sites.md", update_goldens)
    assert "to 1 Kafka topic(s)" in sites and "0 fire-and-forget" in sites
    assert sites.count("| `send_event_and_wait` |") == 3 and "| `send_event` |" not in sites
    _assert_golden((repo / REGISTRATION).read_text(), "registration.py", update_goldens)
    for service, path in CONSUMERS.items():
        _assert_golden((repo / path).read_text(), f"{service}_consumer.py", update_goldens)
    _assert_golden((repo / "decouple/asyncapi.yaml").read_text(), "asyncapi.yaml", update_goldens)
    caller = (repo / REGISTRATION).read_text()
    assert caller.count("send_event") == 2  # the import and the one send
    assert "requests" not in caller
    compile(caller, REGISTRATION, "exec")

    # Migrating again changes nothing: the three markers stand for the one send.
    _commit(repo, "migrated")
    status, diff, summary = _migrate(repo, services=("users",))
    assert (status, diff) == (EXIT_OK, ""), summary
    assert "0 call site(s)" in summary


def test_the_generated_consumer_tests_pass_in_each_subscriber(repo: Path) -> None:
    import sys

    assert _event(repo, _ids(repo), write=True)[0] == EXIT_OK
    for service in CONSUMERS:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=repo / "services" / service,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_sites_in_two_functions_are_refused_with_the_reason(repo: Path) -> None:
    path = repo / REGISTRATION
    text = path.read_text()
    text = text.replace(
        "    resp = requests.post(",
        "\n\ndef refresh(user_id: int) -> None:\n    resp = requests.post(",
    )
    text = text.replace("    return USERS[user_id]\n", "")
    path.write_text(text + "\n")
    _commit(repo, "two functions")
    status, diff, summary = _event(repo, _ids(repo))
    assert status == EXIT_REFUSED
    assert diff == ""
    assert "the sites are in different functions" in summary


def _edit_analytics_payload(repo: Path, payload: str, before: str = "") -> None:
    path = repo / REGISTRATION
    text = path.read_text().replace(
        'json={"name": "user_registered", "user_id": user_id}', f"json={payload}"
    )
    if before:
        text = text.replace(
            '    requests.post(\n        f"{ANALYTICS_URL}',
            before + '    requests.post(\n        f"{ANALYTICS_URL}',
        )
    path.write_text(text)
    _commit(repo, "edited")


def test_one_field_sent_with_two_types_is_refused_with_the_reason(repo: Path) -> None:
    _edit_analytics_payload(repo, '{"name": "user_registered", "user_id": str(user_id)}')
    status, diff, summary = _event(repo, _ids(repo))
    assert status == EXIT_REFUSED
    assert diff == ""
    assert "field `user_id` is integer in " in summary
    assert "(`user_id`) and string in " in summary and "(`str(user_id)`)" in summary


def test_one_field_sent_with_two_values_is_refused_with_the_reason(repo: Path) -> None:
    _edit_analytics_payload(repo, '{"name": "user_registered", "user_id": int(user_id)}')
    status, diff, summary = _event(repo, _ids(repo))
    assert (status, diff) == (EXIT_REFUSED, "")
    assert "field `user_id` is `user_id`" in summary and "`int(user_id)`" in summary


def test_a_body_that_cannot_be_read_is_refused_with_the_reason(repo: Path) -> None:
    _edit_analytics_payload(repo, "payload", '    payload = dict(name="user_registered")\n')
    status, diff, summary = _event(repo, _ids(repo))
    assert (status, diff) == (EXIT_REFUSED, "")
    assert "sends, `payload`, cannot be read" in summary


def test_a_pydantic_model_sent_whole_gives_its_fields_and_types(repo: Path) -> None:
    import yaml

    path = repo / REGISTRATION
    model = (
        "from pydantic import BaseModel\n\n\nclass Registered(BaseModel):\n"
        "    name: str\n    source: str | None = None\n\n\n"
    )
    # built before the first call, where the event's one send reads it
    path.write_text(
        path.read_text()
        .replace("USERS: dict", model + "USERS: dict")
        .replace(
            "    USERS[user_id] =",
            '    event = Registered(name="user_registered")\n    USERS[user_id] =',
        )
    )
    _edit_analytics_payload(repo, "event.model_dump()")
    status, _, summary = _event(repo, _ids(repo), write=True)
    assert status == EXIT_OK, summary
    caller = (repo / REGISTRATION).read_text()
    assert "**event.model_dump()," in caller
    document = yaml.safe_load((repo / "decouple/asyncapi.yaml").read_text())
    data = document["components"]["schemas"][EVENT]["properties"]["data"]
    # the fact: the publisher's email and user id, and the model's fields; the emails
    # call's constant template is not part of it
    assert data["properties"] == {
        "email": {"type": "string"},
        "user_id": {"type": "integer"},
        "name": {"type": "string"},
        "source": {"type": ["string", "null"]},
    }
    consumer = (repo / CONSUMERS["analytics"]).read_text()
    assert 'fields=("name", "source"),' in consumer
    assert "name (string), source (string or null) as the body" in consumer

    # Planned again from the send, the event keeps its schema: nothing changes.
    _commit(repo, "migrated")
    status, diff, summary = _migrate(repo, services=("users",))
    assert (status, diff) == (EXIT_OK, ""), summary


def test_a_call_under_its_own_condition_is_not_folded_into_the_send(repo: Path) -> None:
    path = repo / REGISTRATION
    text = path.read_text().replace(
        '    requests.post(\n        f"{ANALYTICS_URL}',
        '    if email:\n        requests.post(\n        f"{ANALYTICS_URL}',
    )
    path.write_text(text)
    _commit(repo, "conditional")
    status, diff, summary = _event(repo, _ids(repo))
    assert status == EXIT_REFUSED
    assert diff == ""
    assert "is not in the block of the event's send" in summary


ANALYTICS_PAYLOAD = '{"name": "user_registered", "user_id": user_id}'
CHARGE = "def charge_fee(user_id: int) -> None:\n    pass\n\n\n"


def test_an_effect_between_the_calls_refuses_the_event_naming_it(repo: Path) -> None:
    # The send would stand where the emails call is, ahead of the fee: if charging failed,
    # analytics and the cache would already have been told the user registered.
    path = repo / REGISTRATION
    path.write_text(path.read_text().replace("def register", CHARGE + "def register"))
    _edit_analytics_payload(repo, ANALYTICS_PAYLOAD, "    charge_fee(user_id)\n")
    ids = _ids(repo)
    status, diff, summary = _event(repo, ids)
    assert status == EXIT_REFUSED
    assert diff == ""
    line = (repo / REGISTRATION).read_text().splitlines().index("    charge_fee(user_id)") + 1
    assert (
        f"{ids['analytics']}: between the event's send ({ids['emails']}, line {line - 5}) and "
        f"this call (line {line + 1}) come `charge_fee(user_id)` (line {line}: a payment call): "
        "the send would tell this call's fact before they run, even when they fail"
    ) in summary
    # ... and the summary of a plain migration no longer offers the event
    status, _, summary = _migrate(repo, services=("users",))
    assert status == EXIT_OK
    assert "--event users.register" not in summary
    assert (
        f"tells analytics, cache, emails ({ids['emails']}, {ids['analytics']}, {ids['cache']}): "
        "not one domain event as the code stands: "
    ) in summary
    assert "`charge_fee(user_id)` (line" in summary


def test_a_name_bound_between_the_calls_that_a_later_call_sends_refuses_the_event(
    repo: Path,
) -> None:
    # The send, at the emails call, would read `source` before it is set.
    _edit_analytics_payload(
        repo,
        '{"name": "user_registered", "user_id": user_id, "source": source}',
        '    source = "web"\n',
    )
    status, diff, summary = _event(repo, _ids(repo))
    assert status == EXIT_REFUSED and diff == ""
    assert "`source = 'web'` (line 21: binds `source`, which the send would read" in summary


def test_only_names_and_constants_between_the_calls_are_folded(repo: Path) -> None:
    _edit_analytics_payload(repo, ANALYTICS_PAYLOAD, '    greeting = "welcome"\n')
    status, diff, summary = _event(repo, _ids(repo))
    assert status == EXIT_OK, summary
    caller = diff[: diff.index("diff --git", 1)]
    assert caller.count("send_event_and_wait(") == 1
    assert '+    greeting = "welcome"' not in caller  # it stays, untouched


def test_the_events_send_is_cautioned_where_it_stands_and_as_it_waits(repo: Path) -> None:
    # Only the cache's call checked its answer, so only its site waited on its own; the
    # event's send, at the emails call, waits for all of them: the fee charged before it
    # is its caution, and no folded site keeps a caution for a send it no longer has.
    path = repo / REGISTRATION
    path.write_text(
        path.read_text()
        .replace("def register", CHARGE + "def register")
        .replace("    USERS[user_id] =", "    charge_fee(user_id)\n    USERS[user_id] =")
    )
    _commit(repo, "fee")
    ids = _ids(repo)
    status, _, summary = _event(repo, ids)
    assert status == EXIT_OK, summary
    emails = _site_notes(summary, ids["emails"])
    assert "caution [effect-before-send]: the send comes after a payment call " in emails
    for folded in (ids["analytics"], ids["cache"]):
        assert "effect-before-send" not in _site_notes(summary, folded)


def _site_notes(summary: str, site: str) -> str:
    """The summary's lines about one site: its own line and the notes under it."""
    lines = summary.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip().startswith(site))
    end = next(
        (n for n in range(start + 1, len(lines)) if not lines[n].startswith("      ")),
        len(lines),
    )
    return "\n".join(lines[start:end])


def test_each_site_of_an_event_reports_the_bound_of_the_events_one_send(repo: Path) -> None:
    # Fire and forget: only the cache's status-checked call waits, so the event's send
    # waits with its 5 s, although the emails call, where the send is, had 2 s.
    ids = _ids(repo)
    status, diff, summary = _event(repo, ids, fire_and_forget=True)
    assert status == EXIT_OK, summary
    caller = diff[: diff.index("diff --git", 1)]  # the rewritten registration
    bounds = [line[1:].strip() for line in caller.splitlines() if line.startswith("+")]
    assert [b for b in bounds if "timeout=" in b] == ["timeout=5,"]  # what the rewrite writes
    emails = _site_notes(summary, ids["emails"])
    cache = _site_notes(summary, ids["cache"])
    analytics = _site_notes(summary, ids["analytics"])
    from_cache = (
        f"the event's send ({ids['emails']}) waits at most 5 s for Kafka's acknowledgement "
        f"(the old timeout of {ids['cache']})"
    )
    assert from_cache in emails and from_cache in analytics
    assert (
        f"the event's send ({ids['emails']}) waits at most 5 s for Kafka's acknowledgement "
        "(this call's old timeout)"
    ) in cache
    assert "waits at most 2 s" not in summary


def test_an_event_without_a_readable_timeout_reports_the_producers_bound(repo: Path) -> None:
    path = repo / REGISTRATION
    text = path.read_text().replace(",\n        timeout=2,\n", ",\n").replace(", timeout=5)", ")")
    path.write_text(text)
    _commit(repo, "no timeouts")
    ids = _ids(repo)
    status, _, summary = _event(repo, ids)
    assert status == EXIT_OK, summary
    assert "waits at most" not in summary
    assert "the old call passed no `timeout=`" in _site_notes(summary, ids["emails"])
    for folded in (ids["analytics"], ids["cache"]):
        assert (
            f"the event's send ({ids['emails']}) waits the producer's bound "
            "(`DECOUPLE_SEND_TIMEOUT_S`, 5 s)"
        ) in _site_notes(summary, folded)


def test_an_event_whose_send_does_not_wait_reports_no_bound(repo: Path) -> None:
    path = repo / REGISTRATION
    path.write_text(path.read_text().replace("    resp.raise_for_status()\n", ""))
    _commit(repo, "unchecked")
    status, diff, summary = _event(repo, _ids(repo), fire_and_forget=True)
    assert status == EXIT_OK, summary
    caller = diff[: diff.index("diff --git", 1)]  # the rewritten registration
    assert "send_event(" in caller and "send_event_and_wait" not in caller
    assert "waits at most" not in summary and "producer's bound" not in summary


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"edges": ("users:emails",)}, "--event takes the calls of one function with --select"),
        ({"top": 1}, "not --top"),
        ({}, "--event needs the calls it replaces"),
    ],
)
def test_event_option_errors(repo: Path, options: dict[str, object], message: str) -> None:
    status, _, err = _migrate(repo, event=EVENT, **options)
    assert status == EXIT_USAGE
    assert message in err


def test_a_bad_event_name_is_a_usage_error(repo: Path) -> None:
    status, _, err = _migrate(repo, event="registered", select=("cs-00000000",))
    assert status == EXIT_USAGE
    assert "DOMAIN.FACT" in err


AUDIT_CONSUMER = "services/audit/audit/decouple_consumers/users_user_registered.py"


@pytest.fixture
def migrated(repo: Path) -> Path:
    """The repository with the event made and committed."""
    assert _event(repo, _ids(repo), write=True)[0] == EXIT_OK
    _commit(repo, "users.user-registered")
    return repo


def test_a_subscriber_is_added_without_touching_the_producer(
    migrated: Path, update_goldens: bool
) -> None:
    status, diff, summary = _migrate(
        migrated,
        subscribe=EVENT,
        services=("audit",),
        endpoint="POST /users/{user_id}/audit",
        fields=("to=email",),
    )
    assert status == EXIT_OK, summary
    touched = [line.split(" b/", 1)[1] for line in diff.splitlines() if line.startswith("diff ")]
    assert AUDIT_CONSUMER in touched
    assert not [p for p in touched if p.startswith("services/users/")]
    assert "subscriber audit added to users.user-registered.v1" in summary
    assert "its first start handles every event the topic still keeps" in summary
    assert "group audit.users.user-registered" in summary

    assert (
        _migrate(
            migrated,
            subscribe=EVENT,
            services=("audit",),
            endpoint="POST /users/{user_id}/audit",
            fields=("to=email",),
            write=True,
        )[0]
        == EXIT_OK
    )
    _assert_golden((migrated / AUDIT_CONSUMER).read_text(), "audit_consumer.py", update_goldens)
    asyncapi = (migrated / "decouple/asyncapi.yaml").read_text()
    assert "audit.receive.users.user-registered" in asyncapi
    assert "renames: {to: email}" in asyncapi
    _commit(migrated, "audit subscribes")

    # Planned again from the code and the AsyncAPI document: nothing changes, nothing is lost.
    status, diff, summary = _migrate(migrated, services=("users",))
    assert (status, diff) == (EXIT_OK, ""), summary
    status, _, err = _migrate(migrated, subscribe=EVENT, services=("audit",))
    assert status == EXIT_USAGE
    assert "audit already subscribes to users.user-registered" in err


#: What a send and its markers looked like before the event carried the fact: the union of
#: the commands' payloads, each subscriber taking its fields by name.
_UNION_SEND = """\
    # decouple: migrated {emails} to users.user-registered (emails POST /send) fields: to, template, user_id
    # decouple: migrated {analytics} to users.user-registered (analytics POST /events) fields: name, user_id
    # decouple: migrated {cache} to users.user-registered (cache POST /users/{{user_id}}/refresh) fields: none
    # event key: user_id (the event's entity, user_id)
    send_event_and_wait(
        "users.user-registered",
        {{"to": email, "template": "welcome", "user_id": user_id, "name": "user_registered"}},
        key=user_id,
        timeout=2,
    )
"""


def test_an_event_migrated_as_the_commands_union_keeps_its_consumers(repo: Path) -> None:
    """A send written before keeps its meaning when planned again: its data is what it
    sends, and each subscriber takes its fields of it by name, with no renames or constants
    (which would take ``template`` from the subscription, and ``to`` from a missing field)."""
    import yaml

    ids = _ids(repo)
    assert _event(repo, ids, write=True)[0] == EXIT_OK
    path = repo / REGISTRATION
    text = path.read_text()
    start = text.index("    # decouple: migrated")
    end = text.index("    return USERS[user_id]")
    path.write_text(text[:start] + _UNION_SEND.format(**ids) + text[end:])
    _commit(repo, "an event migrated earlier")
    status, _, summary = _migrate(repo, services=("users",), write=True)
    assert status == EXIT_OK, summary
    emails = (repo / CONSUMERS["emails"]).read_text()
    assert 'fields=("to", "template", "user_id"),' in emails
    assert "renames=" not in emails and "values=" not in emails
    analytics = (repo / CONSUMERS["analytics"]).read_text()
    assert 'fields=("name", "user_id"),' in analytics and "values=" not in analytics
    document = yaml.safe_load((repo / "decouple/asyncapi.yaml").read_text())
    data = document["components"]["schemas"][EVENT]["properties"]["data"]
    assert list(data["properties"]) == ["to", "template", "user_id", "name"]


def test_a_subscriber_without_fields_takes_every_field_of_the_schema_by_name(
    migrated: Path,
) -> None:
    options = {"subscribe": EVENT, "services": ("audit",), "write": True}
    status, _, summary = _migrate(migrated, endpoint="POST /users/{user_id}/audit", **options)
    assert status == EXIT_OK, summary
    consumer = (migrated / AUDIT_CONSUMER).read_text()
    # the path parameter aside, the fields the event's schema lists, spelled out
    assert 'fields=("email",),' in consumer and "renames=" not in consumer
    assert "takes\nemail (string) as the body, and user_id (integer) for the path." in consumer


def test_a_subscriber_with_several_endpoints_must_name_one(migrated: Path) -> None:
    status, _, err = _migrate(migrated, subscribe=EVENT, services=("audit",))
    assert status == EXIT_USAGE
    assert "audit has 2 endpoints (GET /health, POST /users/{user_id}/audit)" in err
    assert "--endpoint" in err


def test_a_subscriber_needing_what_the_event_lacks_is_refused(migrated: Path) -> None:
    status, _, err = _migrate(
        migrated,
        subscribe=EVENT,
        services=("audit",),
        endpoint="POST /users/{user_id}/audit",
        fields=("phone",),
    )
    assert status == EXIT_USAGE
    assert "needs phone, which the event's data does not carry" in err


@pytest.mark.parametrize("field", ["to", "name"])
def test_a_subscriber_naming_a_commands_key_is_told_what_the_fact_has(
    migrated: Path, field: str
) -> None:
    """``to`` was the emails call's key for the email, ``name`` the analytics call's for
    a constant: neither is a field of the fact, which has the user's email and id."""
    status, _, err = _migrate(
        migrated,
        subscribe=EVENT,
        services=("audit",),
        endpoint="POST /users/{user_id}/audit",
        fields=(field,),
    )
    assert status == EXIT_USAGE
    assert f"needs {field}, which the event's data does not carry (it has email, user_id)" in err
    assert "--field KEY=FIELD" in err


def test_a_subscriber_naming_a_field_the_publisher_sends_gets_it(repo: Path) -> None:
    """When a call sends the user's own name (``"name": name``), the fact carries it: a
    later subscriber's ``--field name`` is the user's name."""
    _edit_analytics_payload(repo, '{"name": name, "user_id": user_id}')
    assert _event(repo, _ids(repo), write=True)[0] == EXIT_OK
    assert '{"email": email, "user_id": user_id, "name": name}' in (repo / REGISTRATION).read_text()
    _commit(repo, "users.user-registered")
    status, _, summary = _migrate(
        repo,
        subscribe=EVENT,
        services=("audit",),
        endpoint="POST /users/{user_id}/audit",
        fields=("name",),
        write=True,
    )
    assert status == EXIT_OK, summary
    consumer = (repo / AUDIT_CONSUMER).read_text()
    assert 'fields=("name",),' in consumer and "renames=" not in consumer


@pytest.mark.parametrize("field", ["to=", "=email"])
def test_a_malformed_field_is_an_error_saying_how_to_write_it(migrated: Path, field: str) -> None:
    status, _, err = _migrate(
        migrated,
        subscribe=EVENT,
        services=("audit",),
        endpoint="POST /users/{user_id}/audit",
        fields=(field,),
    )
    assert status == EXIT_USAGE
    assert "(--field to=email)" in err


def test_subscribing_to_an_event_nobody_sends_is_an_error(migrated: Path) -> None:
    status, _, err = _migrate(migrated, subscribe="users.user-deleted", services=("audit",))
    assert status == EXIT_USAGE
    assert "no domain event users.user-deleted is sent" in err
    assert "(events: users.user-registered)" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subscribe": EVENT, "select": ("cs-1",), "services": ("audit",)}, "not with --select"),
        ({"subscribe": EVENT}, "--service NAME, once"),
        ({"subscribe": EVENT, "services": ("audit", "cache")}, "--service NAME, once"),
        ({"endpoint": "POST /x", "services": ("users",)}, "go with --subscribe"),
    ],
)
def test_subscribe_option_errors(repo: Path, options: dict[str, object], message: str) -> None:
    status, _, err = _migrate(repo, **options)
    assert status == EXIT_USAGE
    assert message in err


def test_a_second_version_keeps_its_type_when_planned_again(repo: Path) -> None:
    ids = _ids(repo)
    select = (ids["emails"], ids["analytics"], ids["cache"])
    status, _, summary = _migrate(repo, select=select, event=f"{EVENT}.v2", write=True)
    assert status == EXIT_OK, summary
    producer = repo / "services/users/users/decouple_producer.py"
    assert '"users.user-registered": "users.user-registered.v2"' in producer.read_text()
    _commit(repo, "v2")
    status, diff, summary = _migrate(repo, services=("users",))
    assert (status, diff) == (EXIT_OK, ""), summary


def test_a_service_called_twice_is_refused_one_event_reaches_it_once(repo: Path) -> None:
    path = repo / REGISTRATION
    text = path.read_text()
    path.write_text(
        text.replace(
            "    return USERS[user_id]",
            '    requests.post(f"{EMAILS_URL}/send", json={"to": email}, timeout=2)\n'
            "    return USERS[user_id]",
        )
    )
    _commit(repo, "emails twice")
    result = scan(repo, ScanOptions(use_cache=False))
    select = tuple(s.id for s in result.call_sites if s.file == REGISTRATION)
    assert len(select) == 4
    status, diff, summary = _migrate(repo, select=select, event=EVENT)
    assert status == EXIT_REFUSED
    assert diff == ""
    assert "emails is called more than once" in summary


def test_headers_of_a_folded_call_are_named_when_the_send_does_not_carry_them(
    repo: Path,
) -> None:
    path = repo / REGISTRATION
    path.write_text(
        path.read_text()
        .replace(
            '"name": "user_registered", "user_id": user_id},',
            '"name": "user_registered", "user_id": user_id},\n'
            '        headers={"X-Request-ID": request_id()},',
        )
        .replace("USERS: dict", 'def request_id() -> str:\n    return "r"\n\n\nUSERS: dict')
    )
    _commit(repo, "headers")
    status, _, summary = _event(repo, _ids(repo))
    assert status == EXIT_OK, summary
    assert 'its headers "X-Request-ID" are not carried' in summary


def test_a_calls_credential_travels_to_its_consumer_and_survives_a_second_migration(
    repo: Path, tmp_path: Path
) -> None:
    """The emails call sent the caller's token, an API key and a request id: the send
    carries them, the emails consumer forwards exactly those to its app, and the PR body
    names the credentials stored in the topic, the key by its name. Migrating another call later regenerates the consumer
    from the send migrated earlier, with the same headers."""
    registration = repo / REGISTRATION
    registration.write_text(
        registration.read_text().replace(
            '        timeout=2,\n    )\n    requests.post(\n        f"{ANALYTICS_URL}',
            '        headers={"Authorization": f"Bearer {name}", "X-Request-ID": email, '
            '"X-Api-Key": name, "Accept": "application/json"},\n'
            '        timeout=2,\n    )\n    requests.post(\n        f"{ANALYTICS_URL}',
            1,
        )
    )
    _commit(repo, "the emails call sends a token")
    ids = _ids(repo)
    pr = tmp_path / "pr.md"
    # fire-and-forget asked for: only the status-checked cache call's send waits below
    status, _, summary = _migrate(
        repo, select=(ids["emails"],), write=True, pr_body=pr, fire_and_forget=True
    )
    assert status == EXIT_OK, summary
    assert '"Authorization": f"Bearer {name}", "X-Request-ID": email, "X-Api-Key": name' in (
        registration.read_text()
    )
    consumer = repo / "services/emails/emails/decouple_consumers/emails_send.py"
    forwarded = '    forward_headers=("authorization", "x-api-key", "x-request-id"),\n'
    assert forwarded in consumer.read_text()
    assert "Some sends carry the headers `authorization`, `x-api-key` their calls" in (
        pr.read_text()
    )
    _commit(repo, "emails migrated")
    # the cache call checked its status with timeout=5: the producer opens that bound's
    # client at startup, and keeps it when a later migration regenerates the module
    producer = repo / "services/users/users/decouple_producer.py"
    assert "WAIT_BOUNDS" not in producer.read_text()
    status, _, summary = _migrate(repo, select=(_ids(repo)["cache"],), write=True)
    assert status == EXIT_OK, summary
    assert "WAIT_BOUNDS = (5.0,)" in producer.read_text()
    _commit(repo, "cache migrated")
    status, _, summary = _migrate(
        repo, select=(_ids(repo)["analytics"],), write=True, fire_and_forget=True
    )
    assert status == EXIT_OK, summary
    assert forwarded in consumer.read_text()
    assert "WAIT_BOUNDS = (5.0,)" in producer.read_text()
