"""What a gRPC stub call sends beside its request: the pairs of a literal ``metadata=``
travel as the send's headers (the consumer hands them to the servicer's context as
invocation metadata), and what the event cannot carry, or the rewrite cannot read, refuses
the call alone, naming its line: call credentials (``credentials=``), metadata that is not
a literal list of pairs, a key that is not a literal string, binary metadata."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.codemod import (
    CallFacts,
    Problem,
    SendSpec,
    inspect_calls,
    rewrite_source,
)
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURE = Path(__file__).parents[2] / "fixtures" / "migrate" / "servicers"
CALLS = "services/web/web/calls.py"
INVITE = "stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id, email=email))"


def _source(arguments: str) -> bytes:
    return textwrap.dedent(
        f"""\
        import os

        import grpc


        def invite(stub, request, token, extra):
            stub.CreateInvite(request{arguments})
        """
    ).encode()


SPEC = SendSpec(
    site_id="cs-00000007",
    line=7,
    end_line=7,
    topic="invites.create-invite",
    callee="invites",
    endpoint="/invites.Invites/CreateInvite",
    producer_module="web.decouple_producer",
    is_grpc=True,
)


def _inspect(arguments: str) -> CallFacts | str:
    return inspect_calls(_source(arguments), [SPEC])[SPEC.site_id]


def test_literal_metadata_travels_as_the_sends_headers() -> None:
    facts = _inspect(
        ', metadata=(("x-api-key", os.environ["INVITES_KEY"]), ("x-request-id", "r1"))'
    )
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == (
        ('"x-api-key"', 'os.environ["INVITES_KEY"]'),
        ('"x-request-id"', '"r1"'),
    )
    code = rewrite_source(
        _source(', metadata=[("authorization", f"Bearer {token}"), ("user-agent", "web")]'),
        [SPEC],
    ).code.decode()
    # a credential too: the servicer's interceptors check it as the server's did; the
    # exchange's own header is not carried
    assert 'headers={"authorization": f"Bearer {token}"}' in code
    assert "user-agent" not in code
    assert "metadata=" not in code


@pytest.mark.parametrize(
    "arguments",
    [
        "",
        ", metadata=None",
        ", metadata=()",
        ", timeout=5, credentials=None",
    ],
)
def test_a_call_with_no_metadata_sends_no_headers(arguments: str) -> None:
    facts = _inspect(arguments)
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == ()


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (", wait_for_ready=True", "`wait_for_ready=True` (line 7) is not carried"),
        (", compression=grpc.Compression.Gzip", "`compression=grpc.Compression.Gzip` (line 7)"),
        (", 5, None, None, True", "`wait_for_ready=True` (line 7) is not carried"),
    ],
)
def test_a_calls_channel_options_are_named_not_dropped(arguments: str, said: str) -> None:
    facts = _inspect(arguments)
    assert isinstance(facts, CallFacts), facts
    assert any(said in note for note in facts.notes), facts.notes


def test_channel_options_left_at_none_say_nothing() -> None:
    facts = _inspect(", timeout=5, wait_for_ready=None, compression=None")
    assert isinstance(facts, CallFacts), facts
    assert not any("is not carried" in note for note in facts.notes), facts.notes


def test_metadata_passed_by_position_is_read() -> None:
    facts = _inspect(', 5, [("x-tenant", "acme")]')
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == (('"x-tenant"', '"acme"'),)
    refused = _inspect(", 5, None, grpc.access_token_call_credentials(token)")
    assert isinstance(refused, Problem)
    assert "the call passes `credentials=grpc.access_token_call_credentials(token)`" in refused


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (
            ", credentials=grpc.access_token_call_credentials(token)",
            "the call passes `credentials=grpc.access_token_call_credentials(token)` (line 7), "
            "call credentials that add metadata",
        ),
        (", metadata=extra", "the call passes `metadata=extra` (line 7), a name the rewrite"),
        (
            ", metadata=auth_metadata(token)",
            "the call passes `metadata=auth_metadata(token)` (line 7), which is not a literal",
        ),
        (
            ', metadata=[("x-request-id", "r1"), *extra]',
            "`*extra` in the call's `metadata=` (line 7) is not a literal `(key, value)` pair",
        ),
        (
            ", metadata=[extra]",
            "`extra` in the call's `metadata=` (line 7) is not a literal `(key, value)` pair",
        ),
        (
            ", metadata=[(os.environ['HEADER'], token)]",
            "the call sends metadata keyed `os.environ['HEADER']` (line 7), not a literal string",
        ),
        (
            ', metadata=[(f"x-{extra}", token)]',
            'the call sends metadata keyed `f"x-{extra}"` (line 7), not a literal string',
        ),
        (
            ', metadata=[("trace-bin", extra)]',
            "the call sends binary metadata `trace-bin` (line 7)",
        ),
        (", **extra", "the call passes `**extra` (line 7), which may hold `metadata=`"),
    ],
)
def test_what_the_event_cannot_carry_refuses_the_call(arguments: str, said: str) -> None:
    found = _inspect(arguments)
    assert isinstance(found, Problem), found
    assert found.code == "not-rewritable"
    assert said in found


def _migrate(tmp_path: Path, call: str) -> MigrationResult:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    calls = repo / CALLS
    text = calls.read_text()
    assert INVITE in text
    calls.write_text("import os\n" + text.replace(INVITE, call))
    result = scan(repo, ScanOptions(use_cache=False))
    return migrate_scanned(result, select_sites(result, Criteria(services=("web",))), PlanOptions())


def _refused(migrated: MigrationResult) -> dict[str, str]:
    return {
        r.site.callee: "; ".join(f.reason for f in r.reasons)
        for r in migrated.plan.refused
        if r.site is not None
    }


def test_the_consumer_forwards_the_metadata_the_call_sent(tmp_path: Path) -> None:
    migrated = _migrate(
        tmp_path, INVITE[:-1] + ', metadata=(("x-api-key", os.environ["INVITES_KEY"]),))'
    )
    (invite,) = [p for p in migrated.plan.rewrites if p.site.callee == "invites"]
    assert invite.headers == ("x-api-key",)
    files = {c.path: c.after.decode() for c in migrated.changes}
    assert 'headers={"x-api-key": os.environ["INVITES_KEY"]}' in files[CALLS]
    consumers = [t for p, t in files.items() if "decouple_consumers" in p and "invite" in p]
    # the consumer hands the key to the servicer's context as invocation metadata
    assert any('forward_headers=("x-api-key",)' in t for t in consumers), list(files)
    # the call sent a credential: a 401/403 is not taken for the user's refusal
    final = {t.callee: t.final_statuses for t in migrated.plan.topics}
    assert final == {"invites": (), "ledger": (401, 403)}


def test_metadata_with_no_credential_keeps_the_users_refusal_final(tmp_path: Path) -> None:
    migrated = _migrate(tmp_path, INVITE[:-1] + ', metadata=[("x-request-id", "r1")])')
    assert {t.final_statuses for t in migrated.plan.topics} == {(401, 403)}
    assert all(p.plain_channel for p in migrated.plan.rewrites)


def test_call_credentials_refuse_that_call_alone(tmp_path: Path) -> None:
    """Call credentials given to one call add metadata to that call only: the service's
    other calls, on a plain channel, keep migrating, as sending no credential."""
    migrated = _migrate(
        tmp_path,
        INVITE[:-1] + ', credentials=grpc.access_token_call_credentials(os.environ["T"]))',
    )
    reason = _refused(migrated)["invites"]
    assert "the call passes `credentials=grpc.access_token_call_credentials(" in reason
    assert "channel" not in reason
    assert {p.site.callee for p in migrated.plan.rewrites} == {"ledger"}
    assert all(p.plain_channel for p in migrated.plan.rewrites)


def _with_local(*body: str) -> bytes:
    """``body`` (lines, the last holding the call) in the function; the call at line 8."""
    lines = "\n".join(f"    {line}" for line in body)
    head = "import os\n\nimport grpc\n\n\ndef invite(stub, request, token, extra, new_id):\n"
    source = (head + lines + "\n").encode()
    assert source.splitlines()[SPEC.line - 1 + len(body) - 1].strip().startswith(b"stub.")
    return source


def _at(line: int) -> SendSpec:
    return replace(SPEC, line=line, end_line=line)


def test_metadata_made_once_above_the_call_is_read_as_written_in_it() -> None:
    source = _with_local(
        'metadata = [("x-request-id", extra), ("authorization", f"Bearer {token}")]',
        "stub.CreateInvite(request, metadata=metadata)",
    )
    facts = inspect_calls(source, [_at(8)])[SPEC.site_id]
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == (('"x-request-id"', "extra"), ('"authorization"', 'f"Bearer {token}"'))
    rewritten = rewrite_source(source, [_at(8)])
    code = rewritten.code.decode()
    assert 'headers={"x-request-id": extra, "authorization": f"Bearer {token}"}' in code
    # the list served the call alone: it goes with it, as a literal in the call would
    assert "metadata" not in code
    assert any(
        "`metadata` in `invite` only served the old call: removed, its pairs written out in "
        "the send at line 8" in note
        for note in rewritten.notes[SPEC.site_id]
    ), rewritten.notes


def test_annotated_metadata_made_once_above_the_call_is_read_as_written_in_it() -> None:
    source = _with_local(
        'metadata: list[tuple[str, str]] = [("x-request-id", extra)]',
        "stub.CreateInvite(request, metadata=metadata)",
    )
    rewritten = rewrite_source(source, [_at(8)])
    assert not rewritten.skipped, rewritten.skipped
    code = rewritten.code.decode()
    assert 'headers={"x-request-id": extra}' in code
    assert "metadata" not in code  # no local left that nothing reads


def test_metadata_that_would_not_run_as_it_ran_is_read_from_the_local() -> None:
    """A value made by a call, with a statement that may act in between: made again in the
    send it would run later, so the send reads the local's pairs instead."""
    source = _with_local(
        'metadata = (("x-request-id", new_id()),)',
        "print(token)",
        "stub.CreateInvite(request, metadata=metadata)",
    )
    facts = inspect_calls(source, [_at(9)])[SPEC.site_id]
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == (('"x-request-id"', "metadata[0][1]"),)
    code = rewrite_source(source, [_at(9)]).code.decode()
    assert 'headers={"x-request-id": metadata[0][1]}' in code
    assert 'metadata = (("x-request-id", new_id()),)' in code


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (  # changed after it is made
            ('metadata = [("x-request-id", extra)]', 'metadata.append(("authorization", token))'),
            "the call passes `metadata=metadata` (line 9), a name the rewrite cannot read",
        ),
        (  # handed to a function, which may add to it
            ('metadata = [("x-request-id", extra)]', "add_credentials(metadata)"),
            "the call passes `metadata=metadata` (line 9), a name the rewrite cannot read",
        ),
        (  # two bindings may reach the call
            ('metadata = [("x-request-id", extra)]', "if token: metadata = []"),
            "the call passes `metadata=metadata` (line 9), a name the rewrite cannot read",
        ),
        (  # an alias may change it
            ('metadata = [("x-request-id", extra)]', "alias = metadata"),
            "it is read before the call (line 8), where an alias or a function given it",
        ),
        (  # so may whoever it is stored for
            ('metadata = [("x-request-id", extra)]', "self.metadata = metadata"),
            "the call passes `metadata=metadata` (line 9), a name the rewrite cannot read",
        ),
        (  # or a function handed it inside another value
            ('metadata = [("x-request-id", extra)]', 'add_credentials({"md": metadata})'),
            "the call passes `metadata=metadata` (line 9), a name the rewrite cannot read",
        ),
        (  # read as written: its pairs are checked as a literal's
            ('metadata = [("trace-bin", extra)]', "print(token)"),
            "the call sends binary metadata `trace-bin` (line 7)",
        ),
        (  # the servicer reads both values; the event's headers hold one per name
            ('metadata = [("x-forwarded-for", extra), ("X-Forwarded-For", token)]', "pass"),
            "the call sends metadata `X-Forwarded-For` twice (line 7)",
        ),
    ],
)
def test_metadata_the_rewrite_cannot_read_from_a_local_refuses_the_call(
    body: tuple[str, str], said: str
) -> None:
    source = _with_local(*body, "stub.CreateInvite(request, metadata=metadata)")
    found = inspect_calls(source, [_at(9)])[SPEC.site_id]
    assert isinstance(found, Problem), found
    assert found.code == "not-rewritable"
    assert said in found


def test_the_consumer_forwards_metadata_made_above_the_call(tmp_path: Path) -> None:
    migrated = _migrate(
        tmp_path,
        'metadata = [("x-api-key", os.environ["INVITES_KEY"])]\n    '
        + INVITE[:-1]
        + ", metadata=metadata)",
    )
    (invite,) = [p for p in migrated.plan.rewrites if p.site.callee == "invites"]
    assert invite.headers == ("x-api-key",)
    files = {c.path: c.after.decode() for c in migrated.changes}
    assert 'headers={"x-api-key": os.environ["INVITES_KEY"]}' in files[CALLS]
    assert "metadata" not in files[CALLS]


@pytest.mark.parametrize(
    ("body", "line", "sent"),
    [
        (  # the local is read again after the call: made again, a new id would go
            (
                'metadata = [("x-request-id", new_id())]',
                "stub.CreateInvite(request, metadata=metadata)",
                "return metadata",
            ),
            3,
            "metadata[0][1]",
        ),
        (  # what the value reads changes in between
            (
                'metadata = [("x-attempt", f"{self.attempts}")]',
                "self.attempts += 1",
                "stub.CreateInvite(request, metadata=metadata)",
            ),
            4,
            "metadata[0][1]",
        ),
        (  # a later turn of the loop rebinds what it reads: the call sent the first
            (
                'metadata = [("x-tenant", token)]',
                "for item in extra:",
                "    stub.CreateInvite(request, metadata=metadata)",
                "    token = item",
            ),
            4,
            "metadata[0][1]",
        ),
        (  # it binds a name the call's request reads
            (
                'metadata = [("x-request-id", (rid := new_id()))]',
                "stub.CreateInvite(make(rid), metadata=metadata)",
            ),
            3,
            "metadata[0][1]",
        ),
        (  # the send leaves out the exchange's own header, whose value does something:
            # the local stays, and made again the id would run twice
            (
                'metadata = [("x-request-id", new_id()), ("user-agent", agent())]',
                "stub.CreateInvite(request, metadata=metadata)",
            ),
            3,
            "metadata[0][1]",
        ),
        (  # an inert value in an ``if`` below: made again it reads the same
            (
                'metadata = [("x-tenant", extra.tenant)]',
                "if token:",
                "    stub.CreateInvite(request, metadata=metadata)",
            ),
            4,
            "extra.tenant",
        ),
    ],
)
def test_pairs_are_made_again_only_where_that_sends_what_the_call_sent(
    body: tuple[str, ...], line: int, sent: str
) -> None:
    lines = "\n".join(f"    {text}" for text in body)
    source = (
        "def invite(self, stub, request, token, extra, new_id, make, agent):\n" + lines + "\n"
    ).encode()
    spec = _at(line)  # the function starts at line 1 here
    facts = inspect_calls(source, [spec])[SPEC.site_id]
    assert isinstance(facts, CallFacts), facts
    assert facts.headers[0][1] == sent
    code = rewrite_source(source, [spec]).code.decode()
    assert sent in code
    # read from the local: it stays where it was made, and runs once
    assert (body[0] in code) == sent.startswith("metadata[")


def test_metadata_handed_to_the_calls_own_arguments_is_not_read_as_written() -> None:
    """The call's other arguments run before it: ``sign`` may add to the list."""
    source = _with_local(
        'metadata = [("x-request-id", extra)]',
        "stub.CreateInvite(sign(request, metadata), metadata=metadata)",
    )
    found = inspect_calls(source, [_at(8)])[SPEC.site_id]
    assert isinstance(found, Problem), found
    assert "it is read before the call (line 8)" in found


def test_a_value_in_the_else_of_a_try_is_read_from_the_local() -> None:
    """The ``try`` body runs between the assignment and the call: the token it refreshes
    is not the one the call sent."""
    source = _with_local(
        'metadata = [("authorization", f"Bearer {self.token}")]',
        "try:",
        "    self.refresh()",
        "except ValueError:",
        "    pass",
        "else:",
        "    stub.CreateInvite(request, metadata=metadata)",
    )
    source = source.replace(b"def invite(", b"def invite(self, ")
    facts = inspect_calls(source, [_at(13)])[SPEC.site_id]
    assert isinstance(facts, CallFacts), facts
    assert facts.headers == (('"authorization"', "metadata[0][1]"),)
