"""Sites whose response was only checked for success become sends that wait, and say what
changes: the bound, the checks that go, the except clauses that stop firing."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from decouple_services.migrate.codemod import (
    CallFacts,
    Problem,
    SendSpec,
    inspect_calls,
    rewrite_source,
    with_path_params,
)

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "migrate" / "codemod" / "status_checks"


def _spec(line: int, end_line: int | None = None, **extra: object) -> SendSpec:
    fields: dict[str, object] = {
        "site_id": f"cs-{line:08x}",
        "line": line,
        "end_line": end_line or line,
        "topic": "emails.send",
        "callee": "emails",
        "endpoint": "POST /send",
        "producer_module": "orders.decouple_producer",
        "wait": True,
        **extra,
    }
    return SendSpec(**fields)  # type: ignore[arg-type]


def _facts(source: bytes, spec: SendSpec) -> CallFacts:
    fact = inspect_calls(source, [spec])[spec.site_id]
    assert isinstance(fact, CallFacts), fact
    return fact


def test_the_bound_comes_from_the_old_calls_timeout() -> None:
    source = (CASE / "input.py").read_bytes()
    assert _facts(source, _spec(16)).timeout == "2"
    assert _facts(source, _spec(24)).timeout == "30.05"  # (connect, read)
    assert _facts(source, _spec(28)).timeout == "TIMEOUT"  # a module constant holding a number
    audit = _facts(source, _spec(42))
    assert audit.timeout is None
    assert any("`timeout=settings.AUDIT_TIMEOUT` is not a number" in n for n in audit.notes)


def test_an_httpx_call_with_no_timeout_is_told_its_bound_is_the_same_5_s() -> None:
    """httpx bounds a call with no ``timeout=`` by 5 s, the producer's default bound: the
    note says it is the same, not a change; a requests call (no bound) keeps the plain
    note."""
    source = textwrap.dedent(
        """
        import httpx
        import requests

        def upload(kind, body):
            r = httpx.post(f"http://fhir:8000/upload/{kind}", json=body)
            r.raise_for_status()

        def upload_with(kind, body):
            with httpx.Client() as client:
                r = client.post(f"http://fhir:8000/upload/{kind}", json=body)
                r.raise_for_status()

        def notify(body):
            r = requests.post("http://emails:8000/send", json=body)
            r.raise_for_status()
        """
    ).encode()
    for line in (6, 11):
        notes = _facts(source, _spec(line)).notes
        assert any("so httpx bounded it by its default 5 s" in n for n in notes), notes
        assert any("the same 5 s unless `DECOUPLE_SEND_TIMEOUT_S`" in n for n in notes)
    plain = _facts(source, _spec(15)).notes
    assert "the old call passed no `timeout=`: the send waits the producer's bound" in plain


def test_each_status_site_says_what_changes_and_which_lines_stop_running() -> None:
    source = (CASE / "input.py").read_bytes()
    welcome = _facts(source, _spec(16))
    assert welcome.notes[0] == (
        "the send waits at most 2 s for Kafka's acknowledgement (the old timeout)"
    )
    # what the caller saw of a failure is named: the exception it got is another now
    assert (
        "line 17: the check `if resp.status_code != 202:` is gone; its failure branch "
        "(line 18) no longer runs: it raised `NotifyFailed`, where a send Kafka does not "
        "accept raises `EventNotAccepted` instead, and the callee's own refusals go to the "
        "dead-letter topic; code that catches `NotifyFailed` around this function must "
        "catch `EventNotAccepted` too"
    ) in welcome.notes
    track = _facts(source, _spec(36))
    assert (
        "line 37: `except requests.RequestException` now also catches `EventNotAccepted`, so a "
        "send Kafka did not accept is handled as the failed call was; the callee's own "
        "failures no longer reach it"
    ) in track.notes


def test_a_broad_except_now_catches_the_failed_send() -> None:
    source = textwrap.dedent(
        """
        import requests

        def f(event):
            try:
                requests.post("http://a/x", json=event).raise_for_status()
            except Exception:
                pass
        """
    ).encode()
    facts = _facts(source, _spec(6, payload_hint="json=event"))
    assert (
        "line 7: `except Exception` now catches `EventNotAccepted` (the event was not accepted) "
        "instead of the call's failures" in facts.notes
    )
    code = rewrite_source(source, [_spec(6, payload_hint="json=event")]).code.decode()
    assert 'send_event_and_wait("emails.send", event)\n    except Exception:' in code
    assert "raise_for_status" not in code


def test_a_site_whose_body_is_read_after_all_is_not_rewritten() -> None:
    source = (
        b"import requests\n\ndef f():\n    r = requests.post('http://a/x')\n    return r.json()\n"
    )
    found = inspect_calls(source, [_spec(4)])
    assert isinstance(found["cs-00000004"], str)
    assert "read beyond its success" in str(found["cs-00000004"])
    assert rewrite_source(source, [_spec(4)]).code == source


def test_a_check_in_an_elif_is_left_for_a_person() -> None:
    source = textwrap.dedent(
        """
        import requests

        def f(flag):
            if flag:
                pass
            elif not requests.post("http://a/x").ok:
                raise RuntimeError()
        """
    ).encode()
    found = inspect_calls(source, [_spec(7)])
    assert "elif" in str(found["cs-00000007"])


def test_a_positive_check_keeps_its_success_branch_in_place() -> None:
    source = textwrap.dedent(
        """
        import requests

        def f(event):
            r = requests.post("http://a/x", json=event, timeout=5)
            if r.ok:
                done(event)
            else:
                raise RuntimeError(r.status_code)
            after()
        """
    ).encode()
    code = rewrite_source(source, [_spec(5, payload_hint="json=event")]).code.decode()
    assert code.endswith(
        '    send_event_and_wait("emails.send", event, timeout=5)\n    done(event)\n    after()\n'
    )
    compile(code, "f.py", "exec")


def test_a_none_site_sends_without_waiting() -> None:
    source = b"import requests\n\ndef f(e):\n    requests.post('http://a/x', json=e, timeout=2)\n"
    code = rewrite_source(source, [_spec(4, wait=False, payload_hint="json=e")]).code.decode()
    assert 'send_event("emails.send", e)\n' in code
    assert "timeout" not in code


def test_path_parameters_go_inside_the_data() -> None:
    params = (("user_id", "uid"),)
    assert with_path_params(None, params) == ('{"user_id": uid}', ())
    assert with_path_params('{"a": 1}', params) == ('{"a": 1, "user_id": uid}', ())
    assert with_path_params("{}", params) == ('{"user_id": uid}', ())
    assert with_path_params('{\n    "a": 1\n}', params) == (
        '{\n    "a": 1,\n    "user_id": uid,\n}',
        (),
    )
    merged, notes = with_path_params("profile", params)
    assert merged == '{**profile, "user_id": uid}'
    assert notes and "must be a mapping" in notes[0]
    # ``**`` binds tighter than ``or`` and ``if``: such a payload is spread in parentheses
    assert with_path_params("data or {}", params)[0] == '{**(data or {}), "user_id": uid}'
    assert with_path_params("a if b else c", params)[0] == '{**(a if b else c), "user_id": uid}'
    assert with_path_params("self.body", params)[0] == '{**self.body, "user_id": uid}'
    # the payload's own field wins, and the reviewer is told
    kept, notes = with_path_params('{"user_id": user.id}', params)
    assert kept == '{"user_id": user.id}'
    assert notes == ("the payload's own `user_id` field is sent; the path carried `uid`",)


def test_a_helper_invocation_naming_its_body_sends_it() -> None:
    """``def request(method, path, **kwargs)``: the scan sees no payload in the helper, the
    invocation names it; the body must not be dropped."""
    source = textwrap.dedent(
        """
        from . import sendinblue

        def export(payload):
            sendinblue.request("POST", "contacts/import", json={"rows": payload})
        """
    ).encode()
    spec = _spec(5, wait=False)
    code = rewrite_source(source, [spec]).code.decode()
    assert 'send_event("emails.send", {"rows": payload})' in code
    hidden = source.replace(b'json={"rows": payload}', b"**options")
    found = inspect_calls(hidden, [spec])
    assert "`**` arguments" in str(found[spec.site_id])


def test_a_conditional_check_goes_with_its_condition() -> None:
    source = textwrap.dedent(
        """
        import requests

        def track(url, raise_errors=False):
            try:
                response = requests.post(url, timeout=2)
                if raise_errors:
                    response.raise_for_status()
            except requests.RequestException:
                if raise_errors:
                    raise
        """
    ).encode()
    spec = _spec(6)
    code = rewrite_source(source, [spec]).code.decode()
    assert "pass" not in code and "raise_for_status" not in code
    assert (
        '        send_event_and_wait("emails.send", None, timeout=2)\n'
        "    except (requests.RequestException, EventNotAccepted):\n"
    ) in code
    assert "from orders.decouple_producer import EventNotAccepted, send_event_and_wait\n" in code
    notes = _facts(source, spec).notes
    assert any(n.startswith("line 9: `except requests.RequestException` now also") for n in notes)


def test_a_tuple_of_client_exceptions_gets_the_send_failure_added() -> None:
    source = textwrap.dedent(
        """
        import requests

        def f(event):
            try:
                requests.post("http://a/x", json=event)
            except (requests.ConnectionError, requests.Timeout) as exc:
                log(exc)
        """
    ).encode()
    code = rewrite_source(source, [_spec(6, payload_hint="json=event")]).code.decode()
    assert "except (requests.ConnectionError, requests.Timeout, EventNotAccepted) as exc:" in code
    compile(code, "f.py", "exec")


def test_a_failure_branch_that_compensates_is_refused_as_an_answer_used() -> None:
    """``if reply.status_code != 200: rollback_stock(...); abort(400)`` decides on the callee's
    answer: a saga step, not a success check."""
    source = textwrap.dedent(
        """
        import requests

        def checkout(item_id, removed):
            reply = requests.post(f"http://stock/subtract/{item_id}")
            if reply.status_code != 200:
                log.warning("out of stock")
                rollback_stock(removed)
                abort(400, "out of stock")
        """
    ).encode()
    found = inspect_calls(source, [_spec(5)])["cs-00000005"]
    assert isinstance(found, Problem) and found.code == "answer-used"
    assert "`rollback_stock(removed)`" in found
    assert rewrite_source(source, [_spec(5)]).code == source
    reporting = source.replace(b"        rollback_stock(removed)\n", b"")
    assert reporting != source
    assert isinstance(inspect_calls(reporting, [_spec(5)])["cs-00000005"], CallFacts)
    # a management command reports on its own stdout
    written = source.replace(
        b"rollback_stock(removed)", b"self.stdout.write(self.style.ERROR('no'))"
    )
    assert isinstance(inspect_calls(written, [_spec(5)])["cs-00000005"], CallFacts)


def test_a_response_assigned_to_a_name_nobody_reads_is_a_statement_of_its_own() -> None:
    source = b"async def show(c):\n    ret = await fetch_remote(c + '/refresh')\n    return 1\n"
    code = rewrite_source(source, [_spec(2, wait=False)]).code.decode()
    assert '    await send_event_async("emails.send", None)\n    return 1\n' in code
    read = source.replace(b"return 1", b"return ret")
    assert "larger expression" in str(inspect_calls(read, [_spec(2, wait=False)])["cs-00000002"])


def test_a_helpers_parameter_the_call_site_lacks_is_refused_not_sent() -> None:
    """``fetch_remote(url, pload=None)`` invoked without ``pload``: the scan's payload is the
    helper's parameter, bound in the helper and nowhere at the call site."""
    source = textwrap.dedent(
        """
        async def fetch_remote(url, pload=None):
            async with aiohttp.ClientSession() as session:
                await session.post(url, json=pload)

        async def show(address):
            await fetch_remote(address + "/refresh")
            return 1
        """
    ).encode()
    spec = _spec(7, wait=False, payload_hint="json=pload")
    result = rewrite_source(source, [spec])
    assert result.code == source
    assert "pload" in result.skipped[spec.site_id]
    assert "pload" in str(inspect_calls(source, [spec])[spec.site_id])


def test_a_rewrite_that_would_leave_a_name_undefined_is_refused() -> None:
    """The last check: whatever the cause, a rewritten file never reads a name that nothing
    binds where the original bound it (here the client of a ``with`` the rewrite unwraps,
    read after the block)."""
    source = textwrap.dedent(
        """
        import requests

        def notify(event):
            with requests.Session() as session:
                session.post("http://a/x", json=event)
            return session.headers
        """
    ).encode()
    spec = _spec(6, wait=False, payload_hint="json=event")
    result = rewrite_source(source, [spec])
    assert result.code == source
    assert "`session`" in result.skipped[spec.site_id]
    unread = source.replace(b"session.headers", b"1")
    assert 'send_event("emails.send", event)' in rewrite_source(unread, [spec]).code.decode()


def test_a_clause_reading_the_http_error_does_not_get_the_send_failure() -> None:
    """``e.response.text`` on an ``EventNotAccepted`` is an AttributeError: the clause that
    reads it is left alone and the broader client clause after it handles a refused send."""
    source = textwrap.dedent(
        """
        import requests

        def update(order_id, payload):
            try:
                requests.put(f"http://orders/{order_id}", json=payload, timeout=5).raise_for_status()
            except requests.exceptions.HTTPError as e:
                print(f"failed: {e.response.text}")
            except requests.exceptions.RequestException as e:
                print(f"connection error: {str(e)}")
        """
    ).encode()
    spec = _spec(6, payload_hint="json=payload")
    code = rewrite_source(source, [spec]).code.decode()
    assert "    except requests.exceptions.HTTPError as e:\n" in code
    assert "    except (requests.exceptions.RequestException, EventNotAccepted) as e:\n" in code
    assert any(
        n.startswith("line 7: `except requests.exceptions.HTTPError` is left as it was")
        for n in _facts(source, spec).notes
    )


def test_a_site_whose_only_failure_handling_decides_on_the_error_is_refused() -> None:
    """A clause that reads the error to word its report gets a copy for the send's failure
    (tests/fixtures/migrate/codemod/handler_words_the_error); one whose reads decide what
    happens acts on the callee's answer, and the site is refused, naming the read."""
    source = textwrap.dedent(
        """
        import grpc

        async def put(stub, request):
            try:
                await stub.PutObservations(request)
            except grpc.aio.AioRpcError as grpc_error:
                if grpc_error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    split(request)
                raise HTTPException(400, f"{grpc_error.code()}: {grpc_error.details()}")
        """
    ).encode()
    spec = _spec(6, is_grpc=True)
    found = inspect_calls(source, [spec])[spec.site_id]
    assert isinstance(found, Problem) and found.code == "answer-used"
    assert "it reads `grpc_error.code()` at line 8" in found
    assert rewrite_source(source, [spec]).code == source
    worded = source.replace(
        b"        if grpc_error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:\n"
        b"            split(request)\n",
        b"",
    )
    assert worded != source
    code = rewrite_source(worded, [spec]).code.decode()
    assert (
        "    except EventNotAccepted as grpc_error:\n"
        '        raise HTTPException(400, f"{grpc_error}: {grpc_error}")\n'
    ) in code
    # flask's ``abort(status)`` with the callee's status passes the answer on
    passed_on = worded.replace(
        b'raise HTTPException(400, f"{grpc_error.code()}: {grpc_error.details()}")',
        b"abort(grpc_error.code(), grpc_error.details())",
    )
    assert passed_on != worded
    found = inspect_calls(passed_on, [spec])[spec.site_id]
    assert isinstance(found, Problem) and found.code == "answer-used"
    assert "it reads `grpc_error.code()` at line 8" in found


def test_a_send_failure_no_clause_catches_is_named() -> None:
    source = textwrap.dedent(
        """
        import requests

        def f(event):
            try:
                requests.post("http://a/x", json=event).raise_for_status()
            except LookupError:
                pass
        """
    ).encode()
    notes = _facts(source, _spec(6, payload_hint="json=event")).notes
    assert any(
        "catches `EventNotAccepted`: a send Kafka does not accept escapes" in n for n in notes
    )


def test_a_local_that_only_built_the_old_calls_url_goes_with_it() -> None:
    source = textwrap.dedent(
        """
        import requests

        def register(self, event):
            url = self.controller + "/register_worker"
            headers = {"Authorization": self.token}
            requests.post(url, json=event, headers=headers)
            return 1
        """
    ).encode()
    spec = _spec(7, wait=False, payload_hint="json=event")
    result = rewrite_source(source, [spec])
    code = result.code.decode()
    assert "url =" not in code and "headers =" not in code
    assert "`url` in `register` only served the old call: removed" in result.notes[spec.site_id]


def test_a_path_parameter_the_send_cannot_read_refuses_the_site_naming_it() -> None:
    source = b"import requests\n\ndef f(url, p):\n    requests.put(url, json=p, timeout=2)\n"
    unreadable = _spec(4, wait=False, payload_hint="json=p", path_params=(("pk", "UUIDField(…)"),))
    result = rewrite_source(source, [unreadable])
    assert result.code == source
    assert "`UUIDField(…)`, a value the scan followed" in result.skipped[unreadable.site_id]
    readable = _spec(4, wait=False, payload_hint="json=p", path_params=(("pk", "str(url)"),))
    code = rewrite_source(source, [readable]).code.decode()
    assert '{**p, "pk": str(url)}' in code


def test_a_failure_branch_that_words_a_local_names_its_report_and_exception() -> None:
    """Callers got ``PropagationError`` and a log line; the note says they get neither."""
    case = CASE.parent / "failure_branch_words_a_local"
    data = json.loads((case / "sites.json").read_text())
    result = rewrite_source(
        (case / "input.py").read_bytes(), [SendSpec(**s) for s in data["sites"]]
    )
    assert (
        "line 19: the check `if response.status_code != 200:` is gone; its failure branch "
        "(lines 20-24) no longer runs: it reported the failure with `log.warning` and raised "
        "`PropagationError`, where a send Kafka does not accept raises `EventNotAccepted` "
        "instead, and the callee's own refusals go to the dead-letter topic; code that "
        "catches `PropagationError` around this function must catch `EventNotAccepted` too"
    ) in result.notes["cs-dddd0001"]


def _push(clauses: str) -> str:
    return textwrap.dedent(
        """
        import logging
        import requests

        log = logging.getLogger(__name__)

        def push(e):
            try:
                requests.post("http://kernel/a/", json=e, timeout=5).raise_for_status()
        """
    ) + textwrap.indent(textwrap.dedent(clauses).lstrip("\n"), "    ")


def _migrate(source: str) -> tuple[str, tuple[str, ...]]:
    spec = SendSpec(
        site_id="cs-1",
        line=9,
        end_line=9,
        topic="kernel.a",
        callee="kernel",
        endpoint="POST /a/",
        producer_module="odk.decouple_producer",
        relative=1,
        payload_hint="json=e",
        wait=True,
    )
    result = rewrite_source(source.encode(), [spec])
    assert not result.skipped, result.skipped
    return result.code.decode(), result.notes["cs-1"]


def test_a_catch_all_after_the_clause_the_failures_went_to_does_not_take_the_refused_send() -> None:
    """A failure returned ``False`` through the clause written for the call's failures; the
    ``except Exception`` after it returned ``None`` for anything else. The refused send
    still returns ``False``: its copy comes before the catch-all."""
    code, notes = _migrate(
        _push(
            """
        except requests.HTTPError as err:
            log.warning("refused: %s", err.response.text)
            return False
        except Exception:
            log.exception("other")
            return None
        return True
        """
        )
    )
    assert (
        "    except EventNotAccepted as err:\n"
        '        log.warning("refused: %s", err)\n'
        "        return False\n"
        "    except Exception:\n"
    ) in code
    assert (
        "line 13: `except Exception` no longer gets the call's failures: a send Kafka does "
        "not accept goes to the copy of line 10's clause before it"
    ) in notes


def test_a_clause_left_alone_says_what_a_refused_send_no_longer_does() -> None:
    """A catch-all before the clause takes the refused send: the note names the ``return
    False`` the clause gave a failed call."""
    code, notes = _migrate(
        _push(
            """
        except requests.ConnectionError:
            return None
        except requests.HTTPError as err:
            log.warning("refused: %s", err.response.text)
            return False
        """
        )
    )
    assert "except EventNotAccepted as err" not in code
    assert (
        "line 12: `except requests.HTTPError` is left as it was: it reads the error's "
        "`response`, which `EventNotAccepted` has not; it reported the failure with "
        "`log.warning` and returned `False` on a failed call, which a send Kafka does not "
        "accept does not do"
    ) in notes
