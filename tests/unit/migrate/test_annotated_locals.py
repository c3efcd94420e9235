"""A local or module constant written with an annotation (``headers: dict[str, str] =
{...}``) is the same binding as one without: the rewrite reads its value where it reads a
plain one's, and takes it out when only the old call read it, so a typed codebase's
rewrite leaves no unused local behind (ruff F841). An annotation without a value declares
the name and gives it nothing."""

from __future__ import annotations

import textwrap

from decouple_services.migrate.codemod import SendSpec, rewrite_source


def _spec(line: int) -> SendSpec:
    return SendSpec(
        site_id="cs-0000000a",
        line=line,
        end_line=line,
        topic="invites.create-invite",
        callee="invites",
        endpoint="POST /invites",
        producer_module="web.decouple_producer",
    )


def _rewrite(source: str, line: int) -> tuple[str, tuple[str, ...]]:
    result = rewrite_source(textwrap.dedent(source).encode(), [_spec(line)])
    assert not result.skipped, result.skipped
    return result.code.decode(), result.notes.get("cs-0000000a", ())


def test_annotated_locals_that_served_the_call_are_carried_and_go() -> None:
    code, notes = _rewrite(
        """\
        import httpx


        def invite(invite_id: str) -> None:
            headers: dict[str, str] = {"X-Tenant": "acme"}
            url: str = "http://invites/invites"
            httpx.post(url, json={"id": invite_id}, headers=headers)
        """,
        7,
    )
    assert 'headers={"X-Tenant": "acme"}' in code  # the dict travels, as a plain local's
    assert "headers:" not in code and "url:" not in code  # nothing left unused
    assert any("`url` in `invite` only served the old call: removed" in n for n in notes)


def test_an_annotated_local_read_elsewhere_stays() -> None:
    code, _ = _rewrite(
        """\
        import httpx


        def invite(invite_id: str) -> str:
            url: str = "http://invites/invites"
            httpx.post(url, json={"id": invite_id})
            return url
        """,
        6,
    )
    assert 'url: str = "http://invites/invites"' in code
    assert 'send_event("invites.create-invite", {"id": invite_id})' in code


def test_a_response_given_an_annotated_name_nothing_reads_goes_with_the_call() -> None:
    code, _ = _rewrite(
        """\
        import httpx


        def invite(invite_id: str) -> None:
            response: httpx.Response = httpx.post("http://invites/invites", json={"id": invite_id})
        """,
        5,
    )
    assert "response" not in code
    assert "import httpx" not in code


def test_a_declaration_without_a_value_is_no_second_binding() -> None:
    code, _ = _rewrite(
        """\
        import httpx


        def invite(invite_id: str) -> None:
            headers: dict[str, str]
            headers = {"X-Tenant": "acme"}
            httpx.post("http://invites/invites", json={"id": invite_id}, headers=headers)
        """,
        7,
    )
    assert 'headers={"X-Tenant": "acme"}' in code


def test_a_local_annotated_in_two_branches_is_read_as_a_plain_one_is() -> None:
    """Two bindings may reach the call: what the rewrite says of them does not depend on
    their annotations."""
    source = """\
        import httpx


        def invite(invite_id: str, tenant: str | None) -> None:
            headers{annotation} = {{"X-Tenant": "acme"}}
            if tenant:
                headers{annotation} = {{"X-Tenant": tenant}}
            httpx.post("http://invites/invites", json={{"id": invite_id}}, headers=headers)
        """
    annotated, plain = (
        rewrite_source(textwrap.dedent(source.format(annotation=a)).encode(), [_spec(8)])
        for a in (": dict[str, str]", "")
    )
    assert annotated.notes == plain.notes and annotated.skipped == plain.skipped
    assert annotated.code.decode().replace(": dict[str, str]", "") == plain.code.decode()
    assert any("is not carried" in n for n in annotated.notes["cs-0000000a"])
