"""A credential a call site's function writes into the headers it sends: the site whose
dict the rewrite cannot carry is refused, naming the line, and the file's other sites are
read as before."""

from __future__ import annotations

import textwrap

from decouple_services.migrate.codemod import CallFacts, SendSpec, inspect_calls

SOURCE = textwrap.dedent(
    """\
    import requests
    from flask import g


    def deactivate_user(user_id):
        hdrs = {}
        hdrs.update(Authorization=f"Bearer {g.token}")
        requests.post(f"http://users/api/users/{user_id}/deactivate/", headers=hdrs)


    def notify(user_id):
        requests.post("http://emails/send", json={"user": user_id})
    """
).encode()


def _spec(line: int) -> SendSpec:
    return SendSpec(
        site_id=f"cs-{line:08x}",
        line=line,
        end_line=line,
        topic="users.deactivate",
        callee="users",
        endpoint="POST /api/users/{user_id}/deactivate/",
        producer_module="frontend.decouple_producer",
    )


def test_a_credential_given_by_keyword_to_update_refuses_only_its_own_site() -> None:
    """``hdrs.update(Authorization=...)`` names the header by a keyword, which is no string
    of the file: the refusal names the keyword's line, and the file's other site is read
    on its own (reading the keyword once failed the whole file)."""
    found = inspect_calls(SOURCE, [_spec(8), _spec(12)])
    refused = found["cs-00000008"]
    assert isinstance(refused, str)
    assert getattr(refused, "code", None) == "not-rewritable"
    assert refused.startswith(
        "the call sends `headers=hdrs`, whose `Authorization` (line 7) is a credential"
    )
    assert isinstance(found["cs-0000000c"], CallFacts), found["cs-0000000c"]
