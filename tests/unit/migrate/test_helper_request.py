"""What the helper a call goes through adds to its request: a credential it makes, a
content type other than JSON, are part of the request the send would drop; the site is
refused, naming the helper's line. A fixed credential is named in a note."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import CallSite, Role
from decouple_services.migrate.helper_request import HelperRequest, client_request, helper_request
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

#: The client of the caller's own package every variant goes through: ``{headers}``,
#: ``{init}`` and ``{session}`` are filled in per test.
CLIENT = """\
    import requests

    API_BASE_URI = "http://api:8000/api/v1"
    API_TOKEN = "static"


    class APIClient:
        def __init__(self, base_uri=API_BASE_URI, token=None):
            self.base_uri = base_uri
            self.token = token
            {init}

        def get_admin_token(self):
            self.token = requests.post(self.base_uri + "/token").json()["access_token"]
            return self.token

        def post(self, url, *args, **kwargs):
            return self._request({session}requests.post, url, *args, **kwargs)

        def _request(self, method, url, *args, **kwargs):
            token = kwargs.pop("token", self.token)
            headers = {headers}
            resp = method(f"{{self.base_uri}}{{url}}", *args, **kwargs, headers=headers)
            resp.raise_for_status()
            return resp.json()
    """

FILES = {
    "pyproject.toml": """\
        [tool.decouple.services.caluma]
        root = "caluma"

        [tool.decouple.services.api]
        root = "api"
        """,
    "api/app.py": """\
        from flask import Flask

        app = Flask(__name__)


        @app.post("/api/v1/case/accesses")
        def create_access():
            return "", 201
        """,
    "caluma/extensions/__init__.py": "",
    "caluma/extensions/events/__init__.py": "",
    "caluma/extensions/events/case.py": """\
        from ..api_client import APIClient


        def create_case_access_rights(case, email):
            client = APIClient()
            client.get_admin_token()
            data = {"data": {"type": "case-accesses", "attributes": {"email": email}}}
            client.post("/case/accesses", json=data{call_headers})
        """,
}

BEARER = '{"Authorization": f"Bearer {token}", "Content-Type": "application/json"}'


def _migrate(
    root: Path,
    *,
    headers: str = BEARER,
    init: str = "pass",
    session: str = "",
    call_headers: str = "",
    extra: str = "",
) -> tuple[list[str], dict[str, str], dict[str, tuple[str, ...]]]:
    """``(migrated site ids, refused site id -> reason, migrated site id -> notes)``."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            textwrap.dedent(text).replace("{call_headers}", call_headers), encoding="utf-8"
        )
    client = textwrap.dedent(CLIENT).format(
        headers=headers, init=init, session=session, token="{token}"
    )
    (root / "caluma/extensions/api_client.py").write_text(client + extra, encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False))
    # the post (line 8), not the token's fetch
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    assert len(sites) == 1, [(s.file, s.line, s.role) for s in result.call_sites]
    selection = select_sites(result, Criteria(ids=tuple(sites)))
    plan = migrate_scanned(result, selection, PlanOptions()).plan
    refused = {
        r.site_id: " ".join(f"[{f.code}] {f.reason}" for f in r.reasons) for r in plan.refused
    }
    return [p.site.id for p in plan.sites], refused, {p.site.id: p.notes for p in plan.sites}


def _line(root: Path, text: str) -> int:
    lines = (root / "caluma/extensions/api_client.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_a_credential_the_helper_makes_per_call_refuses_the_site(tmp_path: Path) -> None:
    migrated, refused, _ = _migrate(tmp_path)
    assert migrated == []
    (reason,) = refused.values()
    assert reason.startswith("[not-rewritable]")
    line = _line(tmp_path, '"Authorization"')
    assert (
        f"the helper `APIClient._request` (caluma/extensions/api_client.py:{line}) adds the "
        "credential `Authorization`" in reason
    )


def test_a_content_type_other_than_json_in_the_helper_refuses_the_site(tmp_path: Path) -> None:
    """JSON:API: DRF picks its parser by the type, and the consumer's request is
    ``application/json``: every event would be refused with a 400."""
    headers = '{"Authorization": f"Token {API_TOKEN}", "Content-Type": "application/vnd.api+json"}'
    migrated, refused, _ = _migrate(tmp_path, headers=headers)
    assert migrated == []
    (reason,) = refused.values()
    assert "sends `Content-Type: application/vnd.api+json`" in reason
    assert f"api_client.py:{_line(tmp_path, 'vnd.api+json')})" in reason
    assert "credential" not in reason.partition(":")[0]  # a fixed token is no reason


def test_a_fixed_credential_of_the_helper_is_named_in_a_note(tmp_path: Path) -> None:
    headers = '{"Authorization": f"Token {API_TOKEN}", "Content-Type": "application/json"}'
    migrated, refused, notes = _migrate(tmp_path, headers=headers)
    assert refused == {}
    (site,) = migrated
    assert any(
        "the credential `Authorization` the helper `APIClient._request`" in n
        and "DECOUPLE_REQUEST_HEADERS" in n
        for n in notes[site]
    ), notes[site]


def test_a_credential_set_on_the_helper_s_session_per_client_refuses_the_site(
    tmp_path: Path,
) -> None:
    migrated, refused, _ = _migrate(
        tmp_path,
        headers='{"Content-Type": "application/json"}',
        init=(
            "self.session = requests.Session()\n"
            '        self.session.headers.update({"Authorization": f"Bearer {token}"})'
        ),
        session="",
    )
    # the request goes through requests.post here, not the session: nothing to refuse
    assert refused == {} and len(migrated) == 1
    client = textwrap.dedent(CLIENT).format(
        headers='{"Content-Type": "application/json"}',
        init=(
            "self.session = requests.Session()\n"
            '        self.session.headers.update({"Authorization": f"Bearer {token}"})'
        ),
        session="",
        token="{token}",
    )
    client = client.replace(
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs, headers=headers)',
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs, headers=headers)',
    )
    (tmp_path / "caluma/extensions/api_client.py").write_text(client, encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    assert any("adds the credential `Authorization`" in r for r in reasons), reasons


def test_a_call_s_own_content_type_other_than_json_refuses_it(tmp_path: Path) -> None:
    headers = '{"Content-Type": "application/json"}'
    form = ', headers={"Content-Type": "application/x-www-form-urlencoded"}'
    migrated, refused, _ = _migrate(tmp_path, headers=headers, call_headers=form)
    assert migrated == []
    (reason,) = refused.values()
    assert "the call sends `Content-Type: application/x-www-form-urlencoded` (line 8)" in reason
    # JSON, with or without its charset, is what the consumer sends
    json_too = ', headers={"Content-Type": "application/json; charset=utf-8"}'
    migrated, refused, _ = _migrate(tmp_path / "json", headers=headers, call_headers=json_too)
    assert refused == {} and len(migrated) == 1


def test_a_helper_s_default_headers_count_only_for_the_calls_that_give_none(
    tmp_path: Path,
) -> None:
    """``headers=headers or get_auth_header()``: a call that gives its own headers sends
    them (read at the call site); one that gives none sends the helper's, made by a
    function, which the event would go without."""
    files = {
        **FILES,
        "caluma/extensions/api_client.py": """\
            import requests

            API = "http://api:8000/api/v1"


            def get_auth_header():
                return {"Authorization": requests.get(API + "/token").json()["token"]}


            def api_request(url, data=None, headers=None):
                res = requests.post(f"{API}/{url}", json=data, headers=headers or get_auth_header())
                res.raise_for_status()
            """,
        "caluma/extensions/events/case.py": """\
            from ..api_client import api_request


            def given(case):
                api_request("case/accesses", {"case": case}, headers={"X-Realm": "eu"})


            def defaulted(case):
                # a call inside the call: the outer one is the site's
                api_request("case/accesses", dict(case=case))
            """,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False))
    sites = {
        s.function.rpartition(".")[2]: s.id
        for s in result.call_sites
        if s.file.endswith("events/case.py")
    }
    assert set(sites) == {"given", "defaulted"}
    selection = select_sites(result, Criteria(ids=tuple(sites.values())))
    plan = migrate_scanned(result, selection, PlanOptions()).plan
    assert [p.site.id for p in plan.sites] == [sites["given"]]
    (refusal,) = plan.refused
    assert refusal.site_id == sites["defaulted"]
    (finding,) = refusal.reasons
    # the getter's one dict, its token fetched per call
    assert "the helper `api_request` (caluma/extensions/api_client.py:7)" in finding.reason
    assert "adds the credential `Authorization` (`requests.get(" in finding.reason


def test_a_getter_of_fixed_headers_in_the_helper_is_read_as_at_a_call_site(
    tmp_path: Path,
) -> None:
    """Read as the call site's ``headers=get_auth_headers()`` is: a module function of no
    parameter returning a dict of fixed values gives the same credential to every call (a
    note); one that fetches a token makes it per call (refused)."""
    fixed = '\n\ndef get_auth_headers():\n    return {"Authorization": f"Token {API_TOKEN}"}\n'
    migrated, refused, notes = _migrate(tmp_path, headers="get_auth_headers()", extra=fixed)
    assert refused == {} and len(migrated) == 1
    assert any("the credential `Authorization`" in n for n in notes[migrated[0]])
    fetched = (
        "\n\ndef get_auth_headers():\n"
        '    token = requests.post(API_BASE_URI + "/token").json()["token"]\n'
        '    return {"Authorization": f"Bearer {token}"}\n'
    )
    migrated, refused, _ = _migrate(
        tmp_path / "fetched", headers="get_auth_headers()", extra=fetched
    )
    assert migrated == []
    (reason,) = refused.values()
    assert "`get_auth_headers()`, which the rewrite cannot see into" in reason


#: The request line of ``CLIENT``'s ``_request``, which the variants below replace.
REQUEST = 'resp = method(f"{self.base_uri}{url}", *args, **kwargs, headers=headers)'


def _variant(
    root: Path, request: str, *, init: str = "pass", top: str = "", params: str = ""
) -> str:
    """The refusal of the site when ``_request`` makes its request as ``request`` (lines
    at its indentation), with ``init`` in ``__init__`` and ``top`` above the class."""
    _migrate(root, headers='{"Content-Type": "application/json"}', init=init)
    path = root / "caluma/extensions/api_client.py"
    client = path.read_text(encoding="utf-8").replace(REQUEST, request.replace("\n", "\n        "))
    if params:
        client = client.replace(_SIGNATURE, _SIGNATURE.replace("*args, ", f"*args, {params}"))
    if top:
        client = client.replace("\n\nclass APIClient:", f"\n\n{top}\n\nclass APIClient:", 1)
    path.write_text(client, encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    assert not plan.plan.sites, [p.notes for p in plan.plan.sites]
    (refusal,) = plan.plan.refused
    return " ".join(f"[{f.code}] {f.reason}" for f in refusal.reasons)


def test_a_credential_the_helper_puts_into_the_kwargs_it_passes_on_refuses_the_site(
    tmp_path: Path,
) -> None:
    """``**kwargs`` carries what the helper writes into it before its request: the usual
    shape of a ``_request(self, method, path, **kwargs)`` wrapper."""
    setdefault = _variant(
        tmp_path / "setdefault",
        'kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
    )
    assert setdefault.startswith("[not-rewritable] the helper `APIClient._request`")
    assert "adds the credential `Authorization` (`f'Bearer {token}'`)" in setdefault
    assigned = _variant(
        tmp_path / "assigned",
        'kwargs["headers"] = {"Authorization": f"Bearer {token}"}\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
    )
    assert "adds the credential `Authorization`" in assigned
    updated = _variant(
        tmp_path / "updated",
        'kwargs.update(headers={"Content-Type": "application/vnd.api+json"})\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
    )
    assert "sends `Content-Type: application/vnd.api+json`" in updated


def test_a_client_certificate_the_helper_s_request_presents_refuses_the_site(
    tmp_path: Path,
) -> None:
    refusal = _variant(
        tmp_path,
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs, cert=("/c.crt", "/c.key"))',
    )
    assert "presents the client certificate `cert=('/c.crt', '/c.key')`" in refusal
    assert f"api_client.py:{_line(tmp_path, 'cert=')})" in refusal


def test_a_ca_bundle_the_helper_s_request_checks_against_is_read(tmp_path: Path) -> None:
    assert _migrates(
        tmp_path,
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs, verify="/etc/ssl/ca.pem")',
        "",
    )


def test_a_credential_on_a_session_not_of_self_refuses_the_site(tmp_path: Path) -> None:
    """A module-level session, or one the helper opens, carries what is set on it."""
    module = _variant(
        tmp_path / "module",
        'resp = _session.post(f"{self.base_uri}{url}", *args, **kwargs)',
        top=(
            "_session = requests.Session()\n"
            '_session.headers.update({"Authorization": f"Bearer {API_TOKEN.lower()}"})'
        ),
    )
    assert "adds the credential `Authorization`" in module
    assert "caluma/extensions/api_client.py:8)" in module
    local = _variant(
        tmp_path / "local",
        "with requests.Session() as s:\n"
        '    s.headers["Authorization"] = f"Bearer {token}"\n'
        '    resp = s.post(f"{self.base_uri}{url}", *args, **kwargs)',
    )
    assert "adds the credential `Authorization` (`f'Bearer {token}'`)" in local


def test_an_oauth_session_is_a_credential_of_its_own(tmp_path: Path) -> None:
    reason = _variant(
        tmp_path,
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs)',
        init="self.session = OAuth2Session(client_id=API_TOKEN, token=token)",
        top="from requests_oauthlib import OAuth2Session",
    )
    assert "sends through `self.session`, an `OAuth2Session`" in reason


def test_a_credential_in_the_helper_s_query_refuses_the_site(tmp_path: Path) -> None:
    reason = _variant(
        tmp_path,
        'resp = method(f"{self.base_uri}{url}", *args, params={"access_token": token}, **kwargs)',
    )
    assert "adds the credential `access_token` in the query (`token`)" in reason


_SIGNATURE = "def _request(self, method, url, *args, **kwargs):"

#: Helpers that add a credential to what the call site passes in, each in another shape:
#: ``(extra parameters, request lines, __init__, above the class)``. The parameter, or the
#: ``**kwargs`` the helper writes into, is no longer the call site's own.
HELPER_SHAPES = {
    "headers_param": (
        "headers=None, ",
        "headers = headers or {}\n"
        'headers["Authorization"] = f"Bearer {self.get_admin_token()}"\n'
        'resp = method(f"{self.base_uri}{url}", *args, headers=headers, **kwargs)',
        "pass",
        "",
    ),
    "headers_merge": (
        "headers=None, ",
        'headers = {**(headers or {}), "Authorization": f"Bearer {self.get_admin_token()}"}\n'
        'resp = method(f"{self.base_uri}{url}", *args, headers=headers, **kwargs)',
        "pass",
        "",
    ),
    "headers_update_keyword": (
        "headers=None, ",
        "headers = headers or {}\n"
        'headers.update(Authorization=f"Bearer {token}")\n'
        'resp = method(f"{self.base_uri}{url}", *args, headers=headers, **kwargs)',
        "pass",
        "",
    ),
    "setdefault_update": (
        "",
        'kwargs.setdefault("headers", {}).update({"Authorization": f"Bearer {token}"})\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
        "pass",
        "",
    ),
    "alias": (
        "",
        'headers = kwargs.setdefault("headers", {})\n'
        'headers["Authorization"] = f"Bearer {token}"\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
        "pass",
        "",
    ),
    "rebind_kwargs": (
        "",
        'kwargs = {**kwargs, "headers": {"Authorization": f"Bearer {token}"}}\n'
        'resp = method(f"{self.base_uri}{url}", *args, **kwargs)',
        "pass",
        "",
    ),
    "auth_param": (
        "auth=None, ",
        "auth = auth or BearerAuth(self.get_admin_token())\n"
        'resp = method(f"{self.base_uri}{url}", *args, auth=auth, **kwargs)',
        "pass",
        "",
    ),
    "token_param": (
        "token=None, ",
        'token = token or "Bearer " + self.get_admin_token()\n'
        'resp = method(f"{self.base_uri}{url}", *args, headers={"Authorization": token}, **kwargs)',
        "pass",
        "",
    ),
    "cached_property_session": (
        "",
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs)',
        "pass\n\n"
        "    @cached_property\n"
        "    def session(self):\n"
        "        s = requests.Session()\n"
        '        s.headers["Authorization"] = f"Bearer {self.get_admin_token()}"\n'
        "        return s",
        "from functools import cached_property",
    ),
    "default_auth": (
        "auth=SERVICE_AUTH, ",
        'resp = method(f"{self.base_uri}{url}", *args, auth=auth, **kwargs)',
        "pass",
        'SERVICE_AUTH = ("caluma", os.environ["API_SECRET"])',
    ),
    "session_update_keyword": (
        "",
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs)',
        "self.session = requests.Session()\n"
        '        self.session.headers.update(Authorization=f"Bearer {API_TOKEN.lower()}")',
        "",
    ),
}


@pytest.mark.parametrize("shape", sorted(HELPER_SHAPES))
def test_a_credential_the_helper_adds_to_what_the_call_passes_in_refuses_the_site(
    tmp_path: Path, shape: str
) -> None:
    """A parameter is the call site's own only while the helper leaves it alone: one it
    rebinds or writes into (``headers = headers or {}; headers["Authorization"] = ...``)
    carries what the helper adds, and a write into ``**kwargs`` in any shape does too."""
    parameters, request, init, top = HELPER_SHAPES[shape]
    reason = _variant(tmp_path, request, init=init, top=top, params=parameters)
    assert reason.startswith("[not-rewritable] the helper `APIClient"), reason
    assert "caluma/extensions/api_client.py:" in reason


def test_the_call_site_s_own_headers_passed_on_untouched_are_not_the_helper_s(
    tmp_path: Path,
) -> None:
    """``headers=headers`` of a helper that leaves it alone is what the call site gives:
    the codemod reads it there, and the helper adds nothing."""
    _migrate(tmp_path, headers='{"Content-Type": "application/json"}')
    path = tmp_path / "caluma/extensions/api_client.py"
    client = path.read_text(encoding="utf-8").replace(
        _SIGNATURE, _SIGNATURE.replace("*args, ", "*args, headers=None, ")
    )
    client = client.replace(
        REQUEST, REQUEST.replace("**kwargs, headers=headers", "headers=headers, **kwargs")
    )
    client = client.replace('            headers = {"Content-Type": "application/json"}\n', "")
    path.write_text(client, encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    assert [p.site.id for p in plan.plan.sites] == sites, plan.plan.refused


#: Call sites whose own function or session adds a credential the send does not carry:
#: ``(source, the call's line)``.
CALL_SHAPES = {
    "own_auth_param": (
        "import requests\n\n\n"
        "def deactivate_user(user_id, auth=None):\n"
        '    requests.post(f"http://users/api/users/{user_id}/deactivate/", auth=auth)\n',
        5,
    ),
    "session_header_from_param": (
        "import requests\n\n\n"
        "def deactivate_user(user_id, token=None):\n"
        "    with requests.Session() as s:\n"
        '        s.headers["Authorization"] = token\n'
        '        s.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        7,
    ),
    "imported_session": (
        "from ..http import http\n\n\n"
        "def deactivate_user(user_id):\n"
        '    http.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        5,
    ),
    "session_factory_in_file": (
        "import requests\n\n\n"
        "def get_session():\n"
        "    s = requests.Session()\n"
        '    s.headers["Authorization"] = "Bearer " + token()\n'
        "    return s\n\n\n"
        "def deactivate_user(user_id):\n"
        "    s = get_session()\n"
        '    s.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        12,
    ),
    "session_factory_imported": (
        "from ..http import make_session\n\n\n"
        "def deactivate_user(user_id):\n"
        "    s = make_session()\n"
        '    s.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        6,
    ),
    "module_session_factory": (
        "from ..http import _make\n\n_s = _make()\n\n\n"
        "def deactivate_user(user_id):\n"
        '    _s.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        7,
    ),
    "session_param": (
        "def deactivate_user(session, user_id):\n"
        '    session.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        2,
    ),
    "session_param_default": (
        "import requests\n\n_s = requests.Session()\n\n\n"
        "def deactivate_user(user_id, session=_s):\n"
        '    session.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        7,
    ),
    "session_update_keyword": (
        "import requests\nfrom flask import g\n\n\n"
        "def deactivate_user(user_id):\n"
        "    s = requests.Session()\n"
        '    s.headers.update(Authorization=f"Bearer {g.token}")\n'
        '    s.post(f"http://users/api/users/{user_id}/deactivate/")\n',
        8,
    ),
}


@pytest.mark.parametrize("shape", sorted(CALL_SHAPES))
def test_a_call_s_credential_from_its_function_or_an_unread_session_refuses_it(
    shape: str,
) -> None:
    """At the call site a parameter of its function is a value made per call, and a
    session the rewrite cannot read (imported from the project) may add one."""
    source, line = CALL_SHAPES[shape]
    column = source.splitlines()[line - 1].index(
        next(
            w
            for w in ("requests.post", "session.post", "_s.post", "s.post", "http.post")
            if w in source.splitlines()[line - 1]
        )
    )
    found = client_request(source.encode(), line, column)
    assert found.refusal is not None, found.notes


def test_a_call_s_fixed_session_credential_stays_a_note() -> None:
    source = (
        "import os\nimport requests\n\n\n"
        "def deactivate_user(user_id):\n"
        "    s = requests.Session()\n"
        '    s.headers.update(Authorization=os.environ["SVC_TOKEN"])\n'
        '    s.post(f"http://users/api/users/{user_id}/deactivate/")\n'
    )
    found = client_request(source.encode(), 8, 4)
    assert found.refusal is None
    assert any("`Authorization`" in n for n in found.notes), found.notes


def _migrates(root: Path, request: str, params: str) -> bool:
    """Whether the site migrates when ``_request`` (given ``params``) makes its request
    as ``request``."""
    _migrate(root, headers='{"Content-Type": "application/json"}')
    path = root / "caluma/extensions/api_client.py"
    client = path.read_text(encoding="utf-8").replace(
        _SIGNATURE, _SIGNATURE.replace("*args, ", f"*args, {params}")
    )
    client = client.replace('        headers = {"Content-Type": "application/json"}\n', "")
    client = client.replace(REQUEST, request.replace("\n", "\n        "))
    path.write_text(client, encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    return bool(plan.plan.sites)


def test_the_call_s_own_headers_merged_into_the_helper_s_are_not_the_helper_s(
    tmp_path: Path,
) -> None:
    """``h.update(headers)`` with ``headers`` the call site's own, untouched, adds only
    what the call site gives, which the codemod reads there."""
    assert _migrates(
        tmp_path,
        'h = {"Accept": "application/json"}\n'
        "h.update(headers)\n"
        'resp = method(f"{self.base_uri}{url}", *args, headers=h, **kwargs)',
        "headers=None, ",
    )


def test_a_helper_s_headers_default_is_the_helper_s_not_the_site_s(tmp_path: Path) -> None:
    """``headers=DEFAULT_HEADERS`` with the call site passing none: what is sent is the
    helper's default, which may hold the credential."""
    assert not _migrates(
        tmp_path,
        'resp = method(f"{self.base_uri}{url}", *args, headers=headers, **kwargs)',
        "headers=DEFAULT_HEADERS, ",
    )


@pytest.mark.parametrize(
    ("imports", "auth"),
    [
        ("from requests.auth import HTTPBasicAuth", "HTTPBasicAuth(SVC_USER, SVC_PASSWORD)"),
        ("import requests.auth", "requests.auth.HTTPDigestAuth(SVC_USER, SVC_PASSWORD)"),
        ("import httpx", 'httpx.BasicAuth(os.getenv("SVC_USER"), os.environ["SVC_PASSWORD"])'),
        ("import aiohttp", 'aiohttp.BasicAuth(login=SVC_USER, password="static")'),
    ],
)
def test_a_call_s_basic_credential_of_fixed_values_is_a_note(imports: str, auth: str) -> None:
    """``auth=HTTPBasicAuth(SVC_USER, SVC_PASSWORD)`` holds what ``auth=(SVC_USER,
    SVC_PASSWORD)`` does: the same for every call, named in a note, not refused."""
    source = (
        f"import os\nimport requests\n{imports}\n\nfrom .config import SVC_PASSWORD, SVC_USER\n\n\n"
        "def deactivate_user(user_id):\n"
        f'    requests.post(f"http://users/api/users/{{user_id}}/deactivate/", auth={auth})\n'
    )
    found = client_request(source.encode(), 9, 4)
    assert found.refusal is None, found.refusal
    assert any("the credential `auth=` the call (line 9)" in n for n in found.notes), found.notes


def test_a_call_s_basic_credential_of_a_user_s_token_refuses_it() -> None:
    source = (
        "import requests\nfrom flask import g\nfrom requests.auth import HTTPBasicAuth\n\n\n"
        "def deactivate_user(user_id):\n"
        '    requests.post(f"http://users/{user_id}", auth=HTTPBasicAuth("svc", g.token))\n'
    )
    found = client_request(source.encode(), 7, 4)
    assert found.refusal is not None
    assert "made per call or per client" in found.refusal
    # the call's own credential: no session is involved
    assert found.lost == "the credential the call gives"


@pytest.mark.parametrize(
    "write",
    ["headers.setdefault(name, value)", "headers[name] = value", "headers.update({name: value})"],
)
def test_a_header_whose_name_is_not_a_literal_refuses_the_site(tmp_path: Path, write: str) -> None:
    """``for name, value in auth_headers().items(): headers[name] = value``: the header
    may be the credential, so it refuses like any change to the headers the rewrite cannot
    read, naming the line."""
    reason = _variant(
        tmp_path,
        "headers = headers or {}\n"
        "for name, value in auth_headers().items():\n"
        f"    {write}\n"
        'resp = method(f"{self.base_uri}{url}", *args, headers=headers, **kwargs)',
        params="headers=None, ",
        top='def auth_headers():\n    return {"Authorization": f"Bearer {fetch_token()}"}',
    )
    line = _line(tmp_path, write)
    assert reason.startswith(
        f"[not-rewritable] the helper `APIClient._request` (caluma/extensions/api_client.py:"
        f"{line}) sends a header named `name` in its request's `headers=`"
    ), reason


def test_a_session_header_whose_name_is_not_a_literal_refuses_the_site(tmp_path: Path) -> None:
    reason = _variant(
        tmp_path,
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs)',
        init=(
            "self.session = requests.Session()\n"
            "        for name, value in auth_headers().items():\n"
            "            self.session.headers[name] = value"
        ),
        top='def auth_headers():\n    return {"Authorization": f"Bearer {fetch_token()}"}',
    )
    assert "sends a header named `name` in `self.session.headers`" in reason, reason


#: How ``CLIENT``'s ``post`` hands ``_request`` the method it makes its request with.
POST = "return self._request(requests.post, url, *args, **kwargs)"


def _through(root: Path, method: str, init: str) -> tuple[str | None, tuple[str, ...]]:
    """``(refusal, notes)`` of the site when ``post`` gives ``_request`` ``method``, with
    ``init`` in ``__init__`` (``_request``'s request is ``method(...)``)."""
    _migrate(root, headers='{"Content-Type": "application/json"}', init=init)
    path = root / "caluma/extensions/api_client.py"
    client = path.read_text(encoding="utf-8")
    assert POST in client
    path.write_text(client.replace(POST, POST.replace("requests.post", method)), encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    if plan.plan.sites:
        (planned,) = plan.plan.sites
        return None, planned.notes
    (refusal,) = plan.plan.refused
    return " ".join(f"[{f.code}] {f.reason}" for f in refusal.reasons), ()


SESSION = 'self.session = requests.Session()\n        self.session.headers["Authorization"] = {}'


def test_a_session_s_method_handed_to_the_helper_is_read_as_that_session(tmp_path: Path) -> None:
    """``self._request(self.session.post, url, ...)`` with ``_request`` calling
    ``method(...)``: the request goes through ``self.session``, whose credential made per
    client refuses the site, as if the helper sent through it itself."""
    refusal, _ = _through(
        tmp_path / "token",
        "self.session.post",
        SESSION.format('f"Bearer {self.get_admin_token()}"'),
    )
    assert refusal is not None
    assert refusal.startswith("[not-rewritable] the helper `APIClient.post`"), refusal
    assert "adds the credential `Authorization` (`f'Bearer {self.get_admin_token()}'`)" in refusal
    # a credential of fixed values on that session is a note
    refusal, notes = _through(
        tmp_path / "fixed", "self.session.post", SESSION.format('"Token " + API_TOKEN')
    )
    assert refusal is None
    assert any(
        "the credential `Authorization`" in n and "DECOUPLE_REQUEST_HEADERS" in n for n in notes
    )
    # the library's own function adds nothing: the same helper given ``requests.post``
    refusal, notes = _through(
        tmp_path / "bare", "requests.post", SESSION.format('f"Bearer {self.get_admin_token()}"')
    )
    assert refusal is None
    assert not any("credential" in n for n in notes), notes


#: A client whose ``post`` hands ``_request`` the method it sends with: ``{init}``,
#: ``{given}`` (what ``post`` gives ``_request``) and ``{site}`` (the call site's lines) are
#: filled in per test.
HANDED = """\
import functools

import requests
from flask import g


class APIClient:
    def __init__(self):
        {init}

    def post(self, url, *args, send=None, **kwargs):
        return self._request({given}, url, *args, **kwargs)

    def _request(self, method, url, *args, **kwargs):
        return method(url, *args, **kwargs)


def notify(user_id):
    {site}
"""


def _handed(
    init: str, given: str, site: str = 'APIClient().post("http://emails/send", json={})'
) -> HelperRequest:
    """What the helpers add to the call at the end of ``HANDED``, as the scan records it:
    the site into ``post``, whose request (``_request``) is recorded at its line."""
    source = HANDED.format(init=init, given=given, site=site)
    lines = source.splitlines()
    at_post = next(i for i, t in enumerate(lines, 1) if "return self._request(" in t)
    at_site = len(lines)

    def site_of(line: int, via: str, role: Role) -> CallSite:
        return CallSite(
            id=f"cs-{line}",
            caller="emails-caller",
            file="client.py",
            line=line,
            end_line=line,
            function="client.notify",
            client="requests",
            method="POST",
            url="url",
            url_template=None,
            callee="emails",
            endpoint=None,
            role=role,
            via_wrapper=via,
        )

    wrapper = site_of(at_post, "client.APIClient._request", Role.WRAPPER)
    site = site_of(at_site, "client.APIClient.post", Role.CALL)
    files = {"client.py": source.encode()}
    return helper_request(site, {"client.APIClient.post": wrapper}, files.get)


@pytest.mark.parametrize(
    ("init", "given", "shown"),
    [
        ("self.session = make_session()", "self.session.post", "self.session.post"),
        ("self.api = OtherClient()", "self.api.post", "self.api.post"),
        ("pass", "functools.partial(requests.post, timeout=5)", "functools.partial("),
    ],
)
def test_a_method_handed_to_the_helper_that_the_rewrite_cannot_see_into_refuses(
    init: str, given: str, shown: str
) -> None:
    """A session a factory makes, a client of the project, a wrapped function: what the
    request made through it adds is not read, so the site is refused, naming the line."""
    found = _handed(init, given)
    assert found.refusal is not None
    assert found.refusal.startswith(
        f"the helper `APIClient.post` (client.py:12) sends through `{shown}"
    ), found.refusal
    assert "which the rewrite cannot see into" in found.refusal


def test_a_method_the_helper_is_given_by_its_own_caller_is_read_where_it_is_made() -> None:
    """``post`` passes on what the call site gives it: read in the call site's function
    (a session with the user's token refuses; the library's function adds nothing), and
    a value it cannot read (``*args``) refuses."""
    session = (
        "s = requests.Session()\n"
        '    s.headers["Authorization"] = g.token\n'
        '    APIClient().post("http://emails/send", json={}, send=s.post)'
    )
    found = _handed("pass", "send", session)
    assert found.refusal is not None
    assert (
        "the call (client.py:20) adds the credential `Authorization` (`g.token`)" in found.refusal
    )
    bare = 'APIClient().post("http://emails/send", json={}, send=requests.post)'
    assert _handed("pass", "send", bare) == HelperRequest()
    spread = _handed("pass", "*args", bare)
    assert spread.refusal is not None
    assert "(client.py:12) gives `method` a value the rewrite cannot see into" in spread.refusal


def test_a_header_named_by_a_module_constant_is_that_header(tmp_path: Path) -> None:
    """``{TENANT_HEADER: "acme"}`` with ``TENANT_HEADER = "X-Tenant"``: the name is seen,
    and a header of fixed value is named in a note, not refused."""
    migrated, refused, notes = _migrate(
        tmp_path,
        headers='{TENANT_HEADER: "acme", "Content-Type": "application/json"}',
        extra='\n\nTENANT_HEADER = "X-Tenant"\n',
    )
    assert refused == {} and len(migrated) == 1
    assert any("header `X-Tenant`" in n for n in notes[migrated[0]]), notes


def test_a_session_s_method_picked_by_getattr_is_read_as_that_session(tmp_path: Path) -> None:
    """``getattr(self.session, "post")(url, ...)`` sends through ``self.session``."""
    reason = _variant(
        tmp_path,
        'resp = getattr(self.session, "post")(f"{self.base_uri}{url}", *args, **kwargs)',
        init=SESSION.format('f"Bearer {self.get_admin_token()}"'),
    )
    assert "adds the credential `Authorization`" in reason, reason


def test_a_helper_s_session_handed_to_a_function_refuses_the_site(tmp_path: Path) -> None:
    """``_authorize(self.session)`` in ``__init__`` may set a credential on the session
    the helper sends through: the refusal names that call's file and line."""
    reason = _variant(
        tmp_path,
        'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs, headers=headers)',
        init="self.session = requests.Session()\n        _authorize(self.session)",
    )
    line = _line(tmp_path, "_authorize(self.session)")
    assert (
        f"(caluma/extensions/api_client.py:{line}) hands `self.session` to `_authorize(...)`, "
        "which may add a credential the rewrite cannot see"
    ) in reason


#: A session built inside what only enters it (``contextlib.closing``, an ``ExitStack``):
#: ``(source, the call's line)``, the session built with the ``{made}`` arguments.
ENTERED_SHAPES = {
    "closing": (
        "import contextlib\n\nimport requests\n\n\n"
        "def deactivate_user(user_id, token):\n"
        "    with contextlib.closing(requests.Session({made})) as s:\n"
        '        s.post(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        8,
    ),
    "closing_imported": (
        "from contextlib import closing\n\nimport httpx\n\n\n"
        "def deactivate_user(user_id, token):\n"
        "    with closing(httpx.Client({made})) as s:\n"
        '        s.post(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        8,
    ),
    "enter_context": (
        "from contextlib import ExitStack\n\nimport requests\n\n\n"
        "def deactivate_user(user_id, token):\n"
        "    with ExitStack() as stack:\n"
        "        s = stack.enter_context(requests.Session({made}))\n"
        '        s.post(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        9,
    ),
    "enter_async_context": (
        "from contextlib import AsyncExitStack\n\nimport httpx\n\n\n"
        "async def deactivate_user(user_id, token):\n"
        "    async with AsyncExitStack() as stack:\n"
        "        s = await stack.enter_async_context(httpx.AsyncClient({made}))\n"
        '        await s.post(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        9,
    ),
    "module_stack": (
        "import contextlib\n\nimport requests\n\n"
        "_stack = contextlib.ExitStack()\n"
        "s = _stack.enter_context(requests.Session({made}))\n\n\n"
        "def deactivate_user(user_id, token):\n"
        '    s.post(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        10,
    ),
}


@pytest.mark.parametrize("shape", sorted(ENTERED_SHAPES))
def test_a_session_built_inside_closing_or_an_exit_stack_is_read_as_built(shape: str) -> None:
    """``with closing(requests.Session()) as s`` and ``stack.enter_context(...)`` bind the
    session itself: read as ``with requests.Session() as s`` is, its constructor's
    credential included."""
    template, line = ENTERED_SHAPES[shape]
    source = template.format(made="")
    column = source.splitlines()[line - 1].index("s.post")
    plain = client_request(source.encode(), line, column)
    assert plain.refusal is None, plain.refusal
    source = template.format(made='headers={"Authorization": token}')
    column = source.splitlines()[line - 1].index("s.post")
    refused = client_request(source.encode(), line, column)
    assert refused.refusal is not None
    assert "`Authorization`" in refused.refusal, refused.refusal


def test_a_closing_of_the_project_s_own_is_not_the_standard_library_s() -> None:
    """A function of the module named ``closing`` may give anything: the session it is
    handed is not what the name holds."""
    source = (
        "import requests\n\n\n"
        "def closing(s):\n"
        "    return _Authorized(s)\n\n\n"
        "def deactivate_user(user_id):\n"
        "    with closing(requests.Session()) as s:\n"
        '        s.post(f"http://users/api/users/{user_id}/deactivate/")\n'
    )
    found = client_request(source.encode(), 10, 8)
    assert found.refusal is not None
    assert "closing(requests.Session())" in found.refusal, found.refusal


#: A base of the helper's class in its own file: ``close`` leaves the session alone,
#: ``authenticate`` sets a credential on it.
_HELPER_BASE = """\
class Base:
    def close(self):
        self.session.close()

    def authenticate(self):
        self.session.headers["Authorization"] = "Bearer " + self.token
"""


@pytest.mark.parametrize(("taken", "refused"), [("close", False), ("authenticate", True)])
def test_a_helper_s_class_taking_a_method_of_its_base_in_the_file_is_read_there(
    tmp_path: Path, taken: str, refused: bool
) -> None:
    _migrate(tmp_path, headers='{"Content-Type": "application/json"}', init="pass")
    path = tmp_path / "caluma/extensions/api_client.py"
    client = (
        path.read_text(encoding="utf-8")
        .replace(REQUEST, 'resp = self.session.post(f"{self.base_uri}{url}", *args, **kwargs)')
        .replace(
            "        pass\n",
            f"        self.session = requests.Session()\n        atexit.register(self.{taken})\n",
            1,
        )
        .replace("\n\nclass APIClient:", f"\n\n{_HELPER_BASE}\n\nclass APIClient(Base):", 1)
    )
    path.write_text("import atexit\n" + client, encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("events/case.py") and s.line == 8]
    plan = migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    if not refused:
        assert len(plan.plan.sites) == 1, reasons
        return
    line = _line(tmp_path, "def authenticate")
    assert any(
        f"takes `self.authenticate`, which its class does not define, as a value: "
        f"`Base.authenticate` (caluma/extensions/api_client.py:{line}) may change or hand "
        f"on `self.session` (line {line + 1}" in r
        for r in reasons
    ), reasons
