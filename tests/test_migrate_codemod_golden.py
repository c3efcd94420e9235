"""Every rewrite against its golden file: tests/fixtures/migrate/codemod/<case>/.

A case is ``input.py``, ``sites.json`` (the sends, as the planner would describe them) and
``expected.py``. The output must match byte for byte (encoding, newlines), compile, pass ruff's
default rules, and say why a site it leaves alone was skipped. Regenerate with
``pytest --update-goldens`` and review the diff like code.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from decouple_services.migrate.codemod import SendSpec, find_markers, rewrite_source

CASES = Path(__file__).parent / "fixtures" / "migrate" / "codemod"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "input.py").exists())


def _load(case: Path) -> tuple[bytes, list[SendSpec], dict[str, str]]:
    data = json.loads((case / "sites.json").read_text(encoding="utf-8"))
    specs = [
        SendSpec(
            **{
                **site,
                "path_params": tuple(tuple(p) for p in site.get("path_params", ())),
                "helper_params": tuple(tuple(p) for p in site.get("helper_params", ())),
            }
        )
        for site in data["sites"]
    ]
    return (case / "input.py").read_bytes(), specs, data


def _rewrite(case: Path) -> tuple[bytes, dict[str, str]]:
    source, specs, _data = _load(case)
    result = rewrite_source(source, specs)
    return result.code, result.skipped


@pytest.mark.parametrize("name", NAMES)
def test_rewrite_matches_the_reviewed_golden_file(name: str, update_goldens: bool) -> None:
    case = CASES / name
    code, _ = _rewrite(case)
    expected = case / "expected.py"
    if update_goldens:
        expected.write_bytes(code)
    want = expected.read_bytes()
    if code != want:
        diff = difflib.unified_diff(
            want.decode("latin-1").splitlines(),
            code.decode("latin-1").splitlines(),
            "expected.py",
            "actual",
            lineterm="",
        )
        pytest.fail(
            "rewrite differs from expected.py (pytest --update-goldens):\n" + "\n".join(diff)
        )


@pytest.mark.parametrize("name", NAMES)
def test_rewritten_code_compiles(name: str) -> None:
    code, _ = _rewrite(CASES / name)
    compile(code, f"{name}/expected.py", "exec")


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--line-length", "110", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_rewritten_code_passes_ruff(tmp_path: Path) -> None:
    """Ruff's default rules (the sample repository's own setting): no unused import left
    behind, no undefined name introduced, imports in isort's order. Each case sits at its
    module's path, so ruff knows which imports are the file's own package. A case whose
    input's imports are not sorted (``unsorted_imports``) is held to the rest: the rewrite
    does not sort the file's own imports."""
    unsorted = tmp_path / "unsorted"
    for name in NAMES:
        code, _ = _rewrite(CASES / name)
        try:
            code.decode("utf-8")
        except UnicodeDecodeError:
            continue  # ruff reads UTF-8 only; the Latin-1 case is compiled instead
        sorted_input = _ruff("--select", "I001", str(CASES / name / "input.py")).returncode == 0
        module = json.loads((CASES / name / "sites.json").read_text(encoding="utf-8"))["module"]
        case = (tmp_path / "sorted" if sorted_input else unsorted) / name
        target = case / (module.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        for folder in target.parents:
            if folder == case:
                break
            (folder / "__init__.py").touch()
        target.write_bytes(code)
    done = _ruff(str(tmp_path / "sorted"))
    assert done.returncode == 0, done.stdout + done.stderr
    if unsorted.exists():
        done = _ruff("--extend-ignore", "I001", str(unsorted))
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", NAMES)
def test_each_rewritten_site_carries_its_provenance_marker(name: str) -> None:
    code, skipped = _rewrite(CASES / name)
    _, specs, _ = _load(CASES / name)
    text = code.decode("latin-1")
    marked = {fields["id"] for _, fields in find_markers(text)}
    for spec in specs:
        assert (spec.site_id in marked) != (spec.site_id in skipped), spec.site_id


def test_a_call_that_is_not_a_statement_is_skipped_with_the_reason() -> None:
    code, skipped = _rewrite(CASES / "noop_not_a_statement")
    assert code == (CASES / "noop_not_a_statement" / "input.py").read_bytes()
    assert skipped == {
        "cs-cccc0001": "the call is part of a larger expression, not a statement of its own",
        "cs-cccc0002": "the call is part of a larger expression, not a statement of its own",
    }


def test_a_helper_payload_naming_what_the_call_site_lacks_is_skipped() -> None:
    code, skipped = _rewrite(CASES / "wrapper_payload_from_helper_locals")
    assert code == (CASES / "wrapper_payload_from_helper_locals" / "input.py").read_bytes()
    assert skipped == {
        "cs-eeee0001": "the helper builds its payload from now, which the call site does not have"
    }


def test_a_helper_passing_its_own_kwargs_on_sends_what_the_call_site_names() -> None:
    """The scan reads such a helper's payload as its ``**kwargs``: the call site's ``json=``
    is the payload, no payload keyword sends ``None``, and a call passing ``**`` itself
    cannot be read and is skipped."""
    code, skipped = _rewrite(CASES / "wrapper_passes_kwargs_on")
    assert b'send_event("api.case-accesses", data)' in code
    assert b'send_event("api.ping", None)' in code
    assert skipped == {
        "cs-aaaa0003": "the call passes `**` arguments, so what it sends cannot be read; "
        "rewrite it by hand"
    }


def test_a_helper_parameter_the_call_leaves_out_sends_its_literal_default() -> None:
    """``fetch(url, pload=None)`` called as ``fetch(url)`` sent no body; ``data or {}`` with
    ``data=None`` left out sent ``{}``. A parameter left out whose default is computed is
    not the call site's own name of the same spelling: that site is skipped."""
    code, skipped = _rewrite(CASES / "wrapper_parameter_defaults")
    assert b'send_event_async("controller.refresh-all-workers", None)' in code
    assert b'send_event("kernel.extract", {})' in code
    assert b'send_event("kernel.submissions", objs or {})' in code
    assert list(skipped) == ["cs-cccc0004"]
    assert "its parameter data, which the call leaves out" in skipped["cs-cccc0004"]


def test_a_call_edited_since_the_scan_is_skipped() -> None:
    source, specs, _data = _load(CASES / "requests_post_json")
    moved = [SendSpec(**{**_fields(specs[0]), "line": 3, "end_line": 3})]
    result = rewrite_source(source, moved)
    assert result.code == source
    assert "no call at lines 3-3" in result.skipped["cs-4f798040"]


def test_headers_that_are_a_parameter_refuse_the_site_and_the_report_says_so() -> None:
    """A literal's headers travel (but the exchange's own); headers given as a parameter
    are a value the rewrite cannot see into, and the site is refused."""
    source, specs, _data = _load(CASES / "trace_headers")
    result = rewrite_source(source, specs)
    assert result.notes == {}
    assert list(result.skipped) == ["cs-aaaa0002"]
    assert result.skipped["cs-aaaa0002"].startswith(
        "the headers come from the parameter `extra_headers` of `notify`"
    )


def test_a_headers_dict_made_above_the_call_travels_unless_it_is_changed_after() -> None:
    """``headers = {...}`` then ``headers=headers``: the literal is what was sent, so its
    credential travels (the callee checks it as before). Once an item is set on it, the
    literal no longer says what was sent: the report names the header dict, and a dict
    holding a credential refuses the site, as the event would go without the caller's
    credential and the consumer would call with its own."""
    source, specs, _data = _load(CASES / "headers_local_dict")
    result = rewrite_source(source, specs)
    assert not any("not carried" in note for note in result.notes["cs-abab0001"])
    assert result.notes["cs-abab0001"] == (
        "`headers` in `notify` only served the old call: removed, its dict written out in "
        "the send at line 13",
    )
    assert list(result.skipped) == ["cs-abab0002"]
    assert getattr(result.skipped["cs-abab0002"], "code", None) == "not-rewritable"
    assert result.skipped["cs-abab0002"].startswith(
        "the call sends `headers=headers`, whose `Authorization` (line 17) is a credential, "
        "and the function changes the dict after making it"
    )
    assert result.notes["cs-abab0003"] == (
        "`headers=headers` is not carried: name the headers to keep in the send's `headers=`",
    )


def test_locals_made_in_the_block_of_the_call_travel_and_go_like_top_level_ones() -> None:
    """``url``, ``headers`` assigned in an ``if``, a ``with`` or a ``for`` around the call,
    before it: the one value that reaches the call. The header dict travels in the send
    (the callee checks its credential as before) and both locals, read by nothing else,
    go: no local is left that nobody reads."""
    source, specs, _data = _load(CASES / "locals_in_blocks")
    result = rewrite_source(source, specs)
    code = result.code.decode()
    assert 'headers={"Authorization": request.COOKIES.get("session")}' in code
    assert 'headers={"Authorization": f"Bearer {token}"}' in code
    assert 'headers={"Authorization": user.token}' in code
    assert "new_url" not in code and "url =" not in code and "headers =" not in code
    for ident in ("cs-bcbc0001", "cs-bcbc0002", "cs-bcbc0003"):
        assert not any("not carried" in note for note in result.notes[ident])


def test_a_local_another_binding_may_reach_is_not_carried_and_one_read_after_stays() -> None:
    """Assigned in two branches, or re-bound later in a loop around the call: which dict
    the call sent depends on the run, so the header is not carried and the report says so
    (a loop's first dict is not the one its later calls sent). When one of those dicts
    holds a credential (``Authorization``, a ``Cookie`` added by ``update``), the site is
    refused: the event would go without it. A local read after the block, or in another
    branch, stays."""
    source, specs, _data = _load(CASES / "locals_ambiguous")
    result = rewrite_source(source, specs)
    code = result.code.decode()
    not_carried = (
        "`headers=headers` is not carried: name the headers to keep in the send's `headers=`"
    )
    assert not_carried in result.notes["cs-cdcd0006"]
    assert sorted(result.skipped) == ["cs-cdcd0001", "cs-cdcd0002", "cs-cdcd0007"]
    more_than_one = "more than one binding of `headers` may reach the call"
    assert "whose `Authorization` (line 13) is a credential" in result.skipped["cs-cdcd0001"]
    assert more_than_one in result.skipped["cs-cdcd0001"]
    assert "whose `Authorization` (line 21) is a credential" in result.skipped["cs-cdcd0002"]
    assert more_than_one in result.skipped["cs-cdcd0002"]
    assert "whose `Cookie` (line 65) is a credential" in result.skipped["cs-cdcd0007"]
    assert "changes the dict after making it" in result.skipped["cs-cdcd0007"]
    read_after = code.split("def read_after")[1].split("def other_branch")[0]
    assert "url = settings.NOTIFY_URL" in read_after
    assert 'headers = {"Authorization": user.token}' in read_after
    assert 'headers={"Authorization": user.token}' in read_after
    assert "url = settings.NOTIFY_URL" in code.split("def other_branch")[1]
    # a name the dict reads, bound anew between it and the call: the call sent the dict
    # made before, which the send reads from the local
    refreshed = code.split("def token_refreshed")[1].split("def tenant_by_branch")[0]
    assert 'headers={"Authorization": headers["Authorization"]}' in refreshed
    assert not any("not carried" in note for note in result.notes.get("cs-cdcd0005", ()))


def test_a_header_dict_whose_value_calls_is_made_where_it_was() -> None:
    """``headers = {"Authorization": auth.mint_token(user)}`` in a loop, the call under
    ``if user.active:``: written out in the send, ``mint_token`` would run for the active
    users only. The local stays where it was and the send reads its entries (not the
    exchange's own ``Content-Type``). Right above the call, past assignments that call
    nothing, it runs as it ran: written out, and the note says where it went. Past a
    statement that does something (``audit.record(...)``), it stays too."""
    source, specs, _data = _load(CASES / "header_locals_that_call")
    result = rewrite_source(source, specs)
    code = result.code.decode()
    active = code.split("def notify_active")[1].split("def notify_one")[0]
    assert (
        '        headers = {"Authorization": auth.mint_token(user), "Content-Type": '
        '"application/json"}\n        if user.active:\n'
    ) in active
    assert 'headers={"Authorization": headers["Authorization"]},' in active
    assert result.notes["cs-cece0001"] == (
        "`url` in `notify_active` only served the old call: removed",
    )
    one = code.split("def notify_one")[1].split("def notify_audited")[0]
    assert "headers =" not in one
    assert 'headers={"Authorization": auth.mint_token(user)},' in one
    assert result.notes["cs-cece0002"] == (
        "`headers` in `notify_one` only served the old call: removed, its dict written out "
        "in the send at line 17",
    )
    audited = code.split("def notify_audited")[1].split("def notify_plain")[0]
    assert '    headers = {"Authorization": auth.mint_token(user)}\n' in audited
    assert 'headers={"Authorization": headers["Authorization"]},' in audited
    assert "cs-cece0003" not in result.notes
    # the exchange's own headers only: nothing of the dict is written out in the send
    assert "headers" not in code.split("def notify_plain")[1]
    assert result.notes["cs-cece0004"] == (
        "`headers` in `notify_plain` only served the old call: removed",
    )


def test_credentials_set_on_the_client_or_as_auth_are_named_not_dropped_silently() -> None:
    """A credential set on the session the call is made on, in the function or at module
    level, is read by the rules a helper's session is: made per call or per client (a
    user's token, one the module fetches) it refuses the site, as no consumer setting can
    give it; of fixed values it is a note naming the consumer's own credential. The call's
    own ``auth=`` is read the same way. A plain session has nothing to say."""
    source, specs, _data = _load(CASES / "client_credentials")
    result = rewrite_source(source, specs)
    notes = result.notes
    own = "give the consumer its own credential with `DECOUPLE_REQUEST_HEADERS`"
    assert result.skipped["cs-acac0001"].startswith(
        "the call's session (line 8) adds the credential `Authorization` (`f'Bearer {token}'`)"
    )
    assert result.skipped["cs-acac0004"].startswith(
        "the call's session (line 27) adds the credential `Authorization` "
        "(`'Bearer ' + token_for_frontend()`)"
    )
    assert all(getattr(w, "code", None) == "not-rewritable" for w in result.skipped.values())
    assert notes["cs-acac0005"][0].startswith(
        "the credential `Authorization` the call's session (line 36) adds is not carried"
    )
    # the call's own `auth=` by the same rule
    assert result.skipped["cs-acac0002"].startswith(
        "the call (line 14) adds the credential `auth=` (`('svc', token)`)"
    )
    assert notes["cs-acac0006"][0].startswith(
        "the credential `auth=` the call (line 42) adds is not carried"
    )
    assert own in notes["cs-acac0005"][0] and own in notes["cs-acac0006"][0]
    assert not any("not carried" in n for n in notes.get("cs-acac0003", ()))


def test_the_headers_a_call_sent_travel_credentials_included_but_the_exchanges_own() -> None:
    """The callee's application checks the call's credential and identity headers as it
    did (docs/security.md); Accept and User-Agent describe the HTTP exchange, which the
    consumer makes anew. A header the rewrite cannot name is reported, not dropped silently."""
    source, specs, _data = _load(CASES / "call_headers_credentials")
    result = rewrite_source(source, specs)
    assert result.notes["cs-dddd0002"][:2] == (
        "header `TENANT_HEADER` is not carried (its name is not a literal): add it to the "
        "send's `headers=`",
        "`**COMMON_HEADERS` in `headers=` is not carried: name the headers to keep in the "
        "send's `headers=`",
    )


def test_the_latin1_crlf_file_keeps_its_encoding_and_newlines() -> None:
    code, _ = _rewrite(CASES / "latin1_crlf")
    assert b"\r\n" in code and b"\n" not in code.replace(b"\r\n", b"")
    assert "libellé".encode("latin-1") in code
    code.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        code.decode("utf-8")


def _fields(spec: SendSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in SendSpec.__dataclass_fields__}


def test_a_failure_branch_that_only_words_a_local_is_a_success_check() -> None:
    """``content = response.content.decode()`` then ``raise Error(content)``: the local
    only words the report, so the check goes like any other. A local read after the
    branch, one declared ``global``, or one whose value makes another call carries the
    answer on: those sites stay, refused as answer-used, naming the statement."""
    code, skipped = _rewrite(CASES / "failure_branch_words_a_local")
    assert b'send_event_and_wait("kernel.schemas", artefacts, timeout=5)' in code
    assert b'send_event_and_wait("kernel.logged", entities, timeout=5)' in code
    assert sorted(skipped) == ["cs-dddd0002", "cs-dddd0003", "cs-dddd0005", "cs-dddd0006"]
    assert all(getattr(why, "code", None) == "answer-used" for why in skipped.values())
    assert "(`rollback_submission(submission_id)`)" in skipped["cs-dddd0002"]
    assert '(`failed = response.content.decode("utf-8")`)' in skipped["cs-dddd0003"]
    assert "(`failures = failures + len(entities)`)" in skipped["cs-dddd0005"]
    assert '(`state = requests.get(f"{KERNEL}/state/").text`)' in skipped["cs-dddd0006"]


def test_a_clause_that_words_the_error_gets_a_copy_for_the_send_failure() -> None:
    """``except AioRpcError as e: log.critical(f"{e.code()}")``: the clause reads the error
    only to word its report, so a copy of it for ``EventNotAccepted`` follows it, the error
    in place of each read. A clause whose reads decide (``if err.code() == ...``, the
    callee's status passed on as this answer's) acts on the answer: refused."""
    code, skipped = _rewrite(CASES / "handler_words_the_error")
    text = code.decode()
    assert (
        "    except EventNotAccepted as grpc_error:\n"
        '        log.critical(f"RPC call failed: {grpc_error}\\n{grpc_error}")\n'
    ) in text
    assert '        log.warning("kernel refused the entities: %s (%s)", e, e.args)\n' in text
    assert sorted(skipped) == ["cs-eeee1003", "cs-eeee1004"]
    assert all(getattr(why, "code", None) == "answer-used" for why in skipped.values())
    assert "it reads `err.code()` at line 40" in skipped["cs-eeee1003"]
    assert "it reads `e.response.status_code` at line 50" in skipped["cs-eeee1004"]


def test_a_local_only_the_old_call_read_goes_and_a_call_that_made_it_stays() -> None:
    """``url = f"{kernel_url}/x"`` goes with the call, and then ``kernel_url``, which only
    it read, with the getter that made it (``get_kernel_url()`` unread does nothing); a
    local made by another call loses its name and keeps its call (it may do more than make
    the value). A local read after the call stays as it was."""
    source, specs, _data = _load(CASES / "leftover_locals_made_by_calls")
    result = rewrite_source(source, specs)
    text = result.code.decode()
    push_schemas = text.split("def push_schemas")[1].split("def push_entities")[0]
    assert "    realm_ca_bundle(project)\n" in push_schemas
    assert "get_kernel_url" not in push_schemas
    assert "    kernel_url = get_kernel_url()\n" in text  # push_entities returns it
    assert (
        "`verify` in `push_schemas` only served the old call: the call that made it "
        "stays, as a statement of its own, for what else it may do; remove it if it does "
        "nothing"
    ) in result.notes["cs-ffff0001"]
    assert (
        "`kernel_url` in `push_schemas` only served the old call: removed"
        in result.notes["cs-ffff0001"]
    )


def test_headers_the_rewrite_cannot_see_into_refuse_the_site() -> None:
    """Headers made by a function, by a local a function made, or given as a parameter may
    hold what differs per call (the caller's credential, the tenant's realm), which no
    consumer setting can give: the site is refused, naming where they come from. A module
    constant of the exchange's own headers needs nothing; another constant is a note."""
    source, specs, _data = _load(CASES / "headers_unseen_refused")
    result = rewrite_source(source, specs)
    assert sorted(result.skipped) == ["cs-bcbc0001", "cs-bcbc0002", "cs-bcbc0003"]
    assert all(getattr(w, "code", None) == "not-rewritable" for w in result.skipped.values())
    assert result.skipped["cs-bcbc0001"].startswith(
        "the headers come from `multitenancy.wrap_kernel_headers(...)` at line 15, which the "
        "rewrite cannot see into: the event would go without them"
    )
    assert result.skipped["cs-bcbc0002"].startswith(
        "the headers come from `multitenancy.add_realm(...)` at line 20"
    )
    assert result.skipped["cs-bcbc0003"].startswith(
        "the headers come from the parameter `extra_headers` of `forward`"
    )
    assert not any("headers" in n for n in result.notes.get("cs-bcbc0004", ()))
    assert 'headers={"X-Request-ID": request_id}' in result.code.decode()
    # a constant is the same for every call: the consumer's own headers can give it
    assert result.notes["cs-bcbc0006"][0].startswith(
        "`headers=settings.KERNEL_HEADERS` is not carried"
    )


def test_a_query_string_is_never_sent_as_the_body() -> None:
    """``params=`` is a query string: an event has no place for it, and as the event's data
    it would reach the callee as a body (``DELETE ...?cascade=true`` becoming a body
    ``{"cascade": "true"}``). The call is kept, whether it names ``params=`` itself or passes
    it on to a helper."""
    source, specs, _data = _load(CASES / "query_string_refused")
    result = rewrite_source(source, specs)
    assert sorted(result.skipped) == ["cs-cdce0001", "cs-cdce0002"]
    assert result.skipped["cs-cdce0002"].startswith(
        'the call at line 15 sends `params={"cascade": "true"}`, a query string'
    )
    assert b'"cascade"' not in result.code.split(b"send_event")[-1]


def test_a_call_migrated_inside_a_copied_clause_sends_in_the_copy_too() -> None:
    """The copy for ``EventNotAccepted`` is made of the rewritten clause: the old call is
    not kept there (where only a refused send would run it), and a call that sends the
    callee's answer, which the send's error has not, is refused."""
    source, specs, _ = _load(CASES / "handler_copy_sends_too")
    result = rewrite_source(source, specs)
    code = result.code.decode()
    submission = code.split("def push_submission")[1].split("def push_entity")[0]
    assert "requests.post" not in submission
    assert submission.count('send_event("kernel.audit", submission)') == 2
    # one marker per site: the copy's send carries none
    assert submission.count("migrated cs-ffff0002") == 1
    assert "in the copy of it for `EventNotAccepted`" in result.notes["cs-ffff0002"][0]
    assert list(result.skipped) == ["cs-ffff0004"]
    assert "sends the error's `e.response.text` (line 27)" in result.skipped["cs-ffff0004"]


def test_the_error_a_copied_clause_passes_on_as_data_is_named() -> None:
    """``json={"why": str(e)}`` in a clause copied for ``EventNotAccepted``: the copy sends
    the send's error text where the call's was, to another service. The migrated send there
    and the site whose copy it is both say so, with the line; a call that only words a
    report (``log.warning("%s", notifier.describe(e))``) is not named."""
    source, specs, _ = _load(CASES / "handler_copy_sends_too")
    result = rewrite_source(source, specs)
    code = result.code.decode()
    schema = code.split("def push_schema")[1].split("def push_project")[0]
    assert schema.count('send_event("kernel.audit", {"schema": schema, "why": str(e)})') == 2
    assert result.notes["cs-ffff0006"][1] == (
        "line 36: the event's data carries `str(e)`, the clause's error: in the copy for "
        "`EventNotAccepted` it carries the send's error text (why Kafka did not take the "
        "event of line 33), not the client's, to its consumer"
    )
    assert result.notes["cs-ffff0005"][-1] == (
        "line 36: the clause passes `str(e)` on in a call, not only in its report: in the "
        "copy of line 34's clause for `EventNotAccepted` it is the send's error text (why "
        "Kafka did not take the event), not the client's"
    )
    # the call left as it was (its own send refused) passes the error's text on too
    assert "line 27: the clause passes `str(e.response.text)` on" in result.notes["cs-ffff0003"][-1]
    project = result.notes["cs-ffff0007"]
    assert project[-1].startswith('line 45: the clause passes `f"kernel refused it: {e}"` on')
    assert not any("describe" in note for note in project)
    # a send that carries nothing of the error says nothing of it
    assert len(result.notes["cs-ffff0002"]) == 1
    assert not any("passes" in note for note in result.notes["cs-ffff0001"])


def test_fixed_credentials_made_elsewhere_are_noted_like_a_module_constant() -> None:
    """``self.headers`` set once in ``__init__`` from settings, and a getter of no parameter,
    hold the same credential for every call: a note, as ``headers=TOKEN_HEADERS`` gets. One
    made from ``__init__``'s parameter, one changed after, a getter given a value: refused."""
    source, specs, _ = _load(CASES / "headers_fixed_credentials")
    result = rewrite_source(source, specs)
    held = (
        "; it holds the credential `Authorization`: give the consumer its own with "
        "`DECOUPLE_REQUEST_HEADERS` (docs/security.md): the callee refuses every event sent "
        "without it"
    )
    assert result.notes["cs-fcfc0001"] == (
        "`headers=self.headers` is not carried: name the headers to keep in the send's "
        f"`headers=`{held}",
    )
    assert result.notes["cs-fcfc0004"] == (
        "`headers=get_auth_headers()` is not carried: name the headers to keep in the send's "
        f"`headers=`{held}",
    )
    assert sorted(result.skipped) == ["cs-fcfc0002", "cs-fcfc0003", "cs-fcfc0005"]
    assert all("cannot see into" in why for why in result.skipped.values())
