"""A credential a call site's function writes into the headers it sends: the site whose
dict the rewrite cannot carry is refused, naming the line, and the file's other sites are
read as before."""

from __future__ import annotations

import textwrap

import pytest

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


def test_the_refusal_of_a_call_s_own_credential_speaks_of_the_call_not_a_session() -> None:
    source = textwrap.dedent(
        """\
        import requests
        from flask import g


        def deactivate_user(user_id):
            requests.post(f"http://users/api/users/{user_id}/deactivate/", auth=("fe", g.token))


        def deactivate_with_session(user_id):
            s = requests.Session()
            s.headers["Authorization"] = g.token
            s.post(f"http://users/api/users/{user_id}/deactivate/")
        """
    ).encode()
    found = inspect_calls(source, [_spec(6), _spec(12)])
    own, session = found["cs-00000006"], found["cs-0000000c"]
    assert isinstance(own, str) and isinstance(session, str)
    assert "the call (line 6) adds the credential `auth=`" in own
    assert "without the credential the call gives, which" in own
    assert "session" not in own
    assert "without what its session adds, which" in session


UNNAMED = textwrap.dedent(
    """\
    import requests
    from django.conf import settings

    TENANT_HEADER = "X-Tenant"


    def realm(user_id, realm):
        requests.post(f"http://users/{user_id}", headers={settings.REALM_COOKIE: realm})


    def looped(user_id):
        headers = {}
        for name, value in auth_headers().items():
            headers[name] = value
        requests.post(f"http://users/{user_id}", headers=headers)


    def constant(user_id):
        requests.post(f"http://users/{user_id}", headers={TENANT_HEADER: "acme"})
    """
).encode()


def test_a_header_whose_name_the_rewrite_cannot_see_refuses_the_call() -> None:
    """A header named by an attribute, or written in a loop under a name it is given: it
    may be the credential or the tenant, so the call is refused, naming the line. A module
    constant holding the name is that name: a note, as before."""
    found = inspect_calls(UNNAMED, [_spec(8), _spec(15), _spec(19)])
    realm, looped, constant = found["cs-00000008"], found["cs-0000000f"], found["cs-00000013"]
    assert isinstance(realm, str) and getattr(realm, "code", None) == "not-rewritable"
    assert realm.startswith("the call sends a header named `settings.REALM_COOKIE` (line 8)")
    assert isinstance(looped, str) and getattr(looped, "code", None) == "not-rewritable"
    assert looped.startswith(
        "the call sends `headers=headers`, into which the function writes a header named "
        "`name` (line 14)"
    )
    assert isinstance(constant, CallFacts)
    assert any("header `TENANT_HEADER` is not carried" in n for n in constant.notes)


@pytest.mark.parametrize(
    "changed",
    [
        "",
        '    headers["X-Request-Id"] = user_id\n',  # changed in place too
        '    if user_id:\n        headers = {"X-Tenant": "other"}\n',  # bound twice
    ],
)
def test_a_header_dict_read_before_the_call_refuses_naming_the_read(changed: str) -> None:
    """An alias, or a function given the dict, may add a header where the rewrite cannot
    see: the headers the call sent are not known, and the refusal names the read, however
    else the function makes or changes the dict."""
    source = (
        "import requests\n\n\ndef notify(user_id, sign):\n"
        '    headers = {"X-Tenant": "acme"}\n'
        "    sign(headers)\n"
        + changed
        + '    requests.post("http://users/notify", json={"user": user_id}, headers=headers)\n'
    ).encode()
    line = 7 + changed.count("\n")
    refused = inspect_calls(source, [_spec(line)])[f"cs-{line:08x}"]
    assert isinstance(refused, str)
    assert getattr(refused, "code", None) == "not-rewritable"
    assert refused.startswith(
        "the call sends `headers=headers`, which the function reads before the call (line 6)"
    )
