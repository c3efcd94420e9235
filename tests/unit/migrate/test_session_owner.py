"""Which session a call is made on, read as a whitelist: a name its function or module
binds to a constructor of an HTTP library, ``self.<attr>`` its class binds to one, or the
library's own function. A session reached any other way (a factory's answer, an
attribute chain, an item, an alias, a name of the package's ``__init__``) may add a
credential the send does not carry, and refuses the call; so does a setting of a known
constructor that changes every request (``event_hooks=``, ``mount(...)``) and one the
rewrite does not read."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.codemod import SendSpec, rewrite_source
from decouple_services.migrate.helper_request import client_request
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

URL = 'f"http://users/api/users/{user_id}/deactivate/"'


def _read(body: str, above: str = "") -> tuple[bytes, int, int]:
    """``(source, line, column)`` of the one ``.post(`` call of ``deactivate_user``,
    whose body is ``body`` (``{url}`` the url) below the module's ``above``."""
    source = (
        "import httpx\nimport requests\nfrom flask import g\n\n"
        + textwrap.dedent(above)
        + "\n\ndef deactivate_user(user_id):\n"
        + textwrap.indent(textwrap.dedent(body).replace("{url}", URL), "    ")
    )
    lines = source.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if ".post(" in text)
    text = lines[line - 1]
    start = len(text) - len(text.lstrip())
    return source.encode(), line, start + (text[start:].startswith("_ = ") and 4)


def _refusal(shapes: dict[str, tuple[str, str]], shape: str) -> str:
    """The refusal of the call ``shapes[shape]`` (``(module text, function body)``) makes,
    which must refuse."""
    above, body = shapes[shape]
    found = client_request(*_read(body, above))
    assert found.refusal is not None, (shape, found.notes)
    return found.refusal


#: A session reached by anything but a name bound to a known constructor, ``self.<attr>``
#: the class builds, or the library's module: ``(module text, function body)``.
UNREAD = {
    "factory_chain": (
        """\
        def get_session():
            s = requests.Session()
            s.headers["Authorization"] = "Bearer " + token_for_frontend()
            return s
        """,
        "get_session().post({url})\n",
    ),
    "module_attribute": ("from .. import http\n", "http.session.post({url})\n"),
    "class_attribute": (
        """\
        class Api:
            session = requests.Session()
        """,
        "Api.session.post({url})\n",
    ),
    "item": (
        'SESSIONS = {"users": requests.Session()}\n',
        'SESSIONS["users"].post({url})\n',
    ),
    "module_alias_of_import": ("from ..http import session\n\n_s = session\n", "_s.post({url})\n"),
    "module_alias_of_attribute": ("from .. import http\n\n_s = http.session\n", "_s.post({url})\n"),
    "loop_target": (
        "",
        """\
        for s in (requests.Session(),):
            s.post({url})
        """,
    ),
    "unbound": ("from .http import *\n", "session.post({url})\n"),
}


@pytest.mark.parametrize("shape", sorted(UNREAD))
def test_a_session_reached_but_by_a_bound_name_refuses_the_call(shape: str) -> None:
    above, body = UNREAD[shape]
    source, line, column = _read(body, above)
    found = client_request(source, line, column)
    assert found.refusal is not None, found.notes
    assert "sends through `" in found.refusal
    assert "cannot see" in found.refusal


def test_the_refusal_names_what_the_call_sends_through() -> None:
    above, body = UNREAD["module_alias_of_attribute"]
    found = client_request(*_read(body, above))
    assert found.refusal is not None
    assert found.refusal.startswith(
        "the call's session (line 7) sends through `_s` (`http.session`), which the rewrite "
        "cannot see into"
    )
    found = client_request(*_read(UNREAD["item"][1], UNREAD["item"][0]))
    assert found.refusal is not None
    assert "sends through `SESSIONS['users']`" in found.refusal


#: A setting of a known constructor or session that changes every request: ``(module
#: text, function body)``.
SETTINGS = {
    "client_params": (
        "",
        """\
        with httpx.Client(params={"access_token": g.token}) as c:
            c.post({url})
        """,
    ),
    "session_params": (
        "",
        """\
        s = requests.Session()
        s.params = {"access_token": g.token}
        s.post({url})
        """,
    ),
    "session_params_item": (
        "",
        """\
        s = requests.Session()
        s.params["access_token"] = g.token
        s.post({url})
        """,
    ),
    "event_hooks": (
        "",
        """\
        with httpx.Client(event_hooks={"request": [add_auth]}) as c:
            c.post({url})
        """,
    ),
    "event_hooks_attribute": (
        "",
        """\
        c = httpx.Client()
        c.event_hooks["request"] = [add_auth]
        c.post({url})
        """,
    ),
    "mount": (
        "",
        """\
        s = requests.Session()
        s.mount("http://", TokenAdapter(g.token))
        s.post({url})
        """,
    ),
    "hooks": (
        "",
        """\
        s = requests.Session()
        s.hooks["response"].append(refresh)
        s.post({url})
        """,
    ),
    "cert": (
        "",
        """\
        s = requests.Session()
        s.cert = "/etc/client.pem"
        s.post({url})
        """,
    ),
    "transport": (
        "_s = httpx.Client(transport=AuthTransport())\n",
        "_s.post({url})\n",
    ),
    "spread_options": (
        "OPTIONS = {}\n_s = httpx.Client(**OPTIONS)\n",
        "_s.post({url})\n",
    ),
    "pool_manager_headers_by_position": (
        "import urllib3\n\nhttp = urllib3.PoolManager(10, AUTH_HEADERS)\n",
        "http.post({url})\n",
    ),
}


@pytest.mark.parametrize("shape", sorted(SETTINGS))
def test_a_setting_that_changes_every_request_refuses_the_call(shape: str) -> None:
    _refusal(SETTINGS, shape)


#: Sessions read as before: ``(module text, function body)``.
READ = {
    "library_function": ("", "requests.post({url})\n"),
    "library_alias": ("import httpx as hx\n", "hx.post({url})\n"),
    "settings_of_how_it_travels": (
        "",
        """\
        with httpx.Client(timeout=5, base_url="http://users", follow_redirects=True) as c:
            c.post({url})
        """,
    ),
    "session_verify": (
        "",
        """\
        s = requests.Session()
        s.verify = False
        s.post({url})
        """,
    ),
    "module_session": ("_s = requests.Session()\n", "_s.post({url})\n"),
    "built_in_place": ("", "requests.Session().post({url})\n"),
    "aiohttp": (
        "import aiohttp\n",
        """\
        with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(5), raise_for_status=True) as s:
            s.post({url})
        """,
    ),
    "urls_dict": ('URLS = {"users": "http://users"}\n', "requests.post(URLS.get('users'))\n"),
    # a module of the project: its ``post`` is a helper, read on its own
    "project_module": ("import frontend.http\n", "frontend.http.post({url})\n"),
    "project_module_alias": ("import frontend.http as http\n", "http.post({url})\n"),
}


@pytest.mark.parametrize("shape", sorted(READ))
def test_a_session_built_by_a_known_constructor_is_read(shape: str) -> None:
    above, body = READ[shape]
    found = client_request(*_read(body, above))
    assert found.refusal is None, found.refusal


def test_a_fixed_query_credential_on_the_session_is_a_note() -> None:
    """``params=`` on the constructor is read as a request's: a fixed token is a note,
    as on the call."""
    found = client_request(
        *_read(
            """\
            with httpx.Client(params={"api_key": API_KEY}) as c:
                c.post({url})
            """
        )
    )
    assert found.refusal is None
    assert any("`api_key` in the query" in n for n in found.notes), found.notes


def test_self_session_the_class_does_not_build_refuses_the_call() -> None:
    source = textwrap.dedent(
        """\
        import requests


        class Users:
            def __init__(self, session):
                self.session = session
                self.built = requests.Session()

            def handed_in(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")

            def built_here(self, user_id):
                self.built.post(f"http://users/api/users/{user_id}/")

            def never_built(self, user_id):
                self.other.post(f"http://users/api/users/{user_id}/")

            def close(self):
                self.built = None
                self.session = None
        """
    )
    handed_in = client_request(source.encode(), 10, 8)
    assert handed_in.refusal is not None and "`self.session`" in handed_in.refusal
    assert client_request(source.encode(), 13, 8).refusal is None
    never_built = client_request(source.encode(), 16, 8)
    assert never_built.refusal is not None
    assert "`self.other`, which the class does not build" in never_built.refusal


PACKAGE = {
    "pyproject.toml": """\
        [tool.decouple.services.frontend]
        root = "frontend"

        [tool.decouple.services.users]
        root = "users"
        """,
    "users/app.py": """\
        from flask import Flask

        app = Flask(__name__)


        @app.post("/api/users/<int:user_id>/deactivate/")
        def deactivate(user_id):
            return "", 204
        """,
    "frontend/frontend/__init__.py": """\
        import requests

        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + login_as_frontend()
        """,
    "frontend/frontend/http.py": """\
        import requests


        def post(url, **kwargs):
            return requests.post(url, timeout=5, **kwargs)
        """,
}


def _admin_plan(root: Path, files: dict[str, str]) -> MigrationResult:
    """Writes ``files`` under ``root`` and plans the migration of its one call site in
    ``views/admin.py``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan(root, ScanOptions(use_cache=False))
    sites = [s.id for s in result.call_sites if s.file.endswith("views/admin.py")]
    assert len(sites) == 1, [(s.file, s.line, s.role) for s in result.call_sites]
    return migrate_scanned(result, select_sites(result, Criteria(ids=tuple(sites))), PlanOptions())


def _plan(root: Path, imported: str) -> tuple[list[str], list[str]]:
    """``(migrated site ids, refusal reasons)`` of the call ``views/admin.py`` makes on
    ``imported``, which it imports with ``from .. import``."""
    files = {
        **PACKAGE,
        "frontend/frontend/views/__init__.py": "",
        "frontend/frontend/views/admin.py": f"""\
            from .. import {imported}


            def deactivate_user(user_id):
                {imported}.post(f"http://users/api/users/{{user_id}}/deactivate/")
            """,
    }
    plan = _admin_plan(root, files)
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    return [p.site.id for p in plan.plan.sites], reasons


def test_a_session_the_package_s_init_defines_refuses_the_call(tmp_path: Path) -> None:
    """``from .. import session``: no module of the package, but the session its
    ``__init__`` builds with a credential, which the send would lose."""
    migrated, reasons = _plan(tmp_path, "session")
    assert migrated == []
    assert any(
        "the call (frontend/frontend/views/admin.py:5) sends through `session`, which it "
        "imports from `..` (line 1), a name the package's `__init__` defines" in r
        for r in reasons
    ), reasons


def test_a_module_of_the_package_is_read_as_a_helper(tmp_path: Path) -> None:
    """``from .. import http``: a module of the package, whose ``post(...)`` is a helper
    the scan reads (it adds nothing here), not a session."""
    migrated, reasons = _plan(tmp_path, "http")
    assert len(migrated) == 1, reasons


def _header_notes(above: str, headers: str) -> tuple[str, ...]:
    """The notes of the send of ``requests.post(..., headers=<headers>)`` below ``above``."""
    source = (
        "import requests\n" + textwrap.dedent(above) + "\n\ndef deactivate_user(user_id):\n"
        f'    requests.post(f"http://users/api/users/{{user_id}}/", headers={headers})\n'
    )
    line = source.splitlines().index(next(t for t in source.splitlines() if "post(" in t)) + 1
    spec = SendSpec(
        site_id="cs-1",
        line=line,
        end_line=line,
        topic="users.deactivate",
        callee="users",
        endpoint="POST /api/users/{user_id}/",
        producer_module="frontend.decouple_producer",
        path_params=(("user_id", "user_id"),),
    )
    result = rewrite_source(source.encode(), [spec])
    assert not result.skipped, result.skipped
    return result.notes["cs-1"]


def test_an_imported_headers_constant_may_hold_a_credential() -> None:
    """``headers=SERVICE_HEADERS`` imported: the rewrite does not read it, and a service's
    headers constant usually holds its credential, which the consumer sends only when
    given its own."""
    notes = _header_notes("from .config import SERVICE_HEADERS\n", "SERVICE_HEADERS")
    (note,) = [n for n in notes if "SERVICE_HEADERS" in n]
    assert "may hold a credential" in note
    assert "DECOUPLE_REQUEST_HEADERS" in note


def test_a_module_headers_constant_names_the_credential_it_holds() -> None:
    notes = _header_notes(
        'import os\n\nHEADERS = {"X-Api-Key": os.environ["KEY"], "Accept": "text/csv"}\n',
        "HEADERS",
    )
    (note,) = [n for n in notes if "headers=HEADERS" in n]
    assert "it holds the credential `X-Api-Key`" in note
    # one of only the exchange's own headers, or of no credential, says nothing of one
    notes = _header_notes('HEADERS = {"X-Trace": "on"}\n', "HEADERS")
    assert not any("credential" in n for n in notes), notes


def test_a_session_reset_to_none_is_read_for_its_other_bindings() -> None:
    """``self.session = None`` is no session, and says nothing of the one handed in."""
    source = textwrap.dedent(
        """\
        import requests


        class Users:
            def close(self):
                self.session = None

            def __init__(self, session):
                self.session = session

            def send(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")
        """
    )
    found = client_request(source.encode(), 12, 8)
    assert found.refusal is not None and "`self.session` (`session`)" in found.refusal


#: A session of a known constructor handed to a function before the send, which may set
#: a credential on it: ``(module text, function body)``.
HANDED = {
    "local": (
        "",
        """\
        s = requests.Session()
        _authorize(s)
        s.post({url})
        """,
    ),
    "method_of_an_import": (
        "from ..auth import auth_manager\n",
        """\
        s = requests.Session()
        auth_manager.apply(s)
        s.post({url})
        """,
    ),
    "module_session_at_module_level": (
        "session = requests.Session()\n_authorize(session)\n",
        "session.post({url})\n",
    ),
    "module_session_in_another_function": (
        """\
        session = requests.Session()


        def setup():
            _authorize(session)
        """,
        "session.post({url})\n",
    ),
    "its_headers_by_keyword": (
        "",
        """\
        s = requests.Session()
        add_auth(headers=s.headers)
        s.post({url})
        """,
    ),
    "with_session": (
        "",
        """\
        with requests.Session() as s:
            _authorize(s)
            s.post({url})
        """,
    ),
    "setattr": (
        "",
        """\
        s = requests.Session()
        setattr(s, "auth", ("frontend", g.token))
        s.post({url})
        """,
    ),
}


@pytest.mark.parametrize("shape", sorted(HANDED))
def test_a_session_handed_to_a_function_refuses_the_call(shape: str) -> None:
    refusal = _refusal(HANDED, shape)
    assert "which may add a credential the rewrite cannot see" in refusal


def test_the_hand_off_refusal_names_the_call_and_its_line() -> None:
    above, body = HANDED["local"]
    source, line, column = _read(body, above)
    found = client_request(source, line, column)
    assert found.refusal is not None
    assert found.refusal.startswith(
        f"the call's session (line {line - 1}) hands `s` to `_authorize(...)`"
    )


def test_self_session_handed_to_a_function_in_init_refuses_the_call() -> None:
    source = textwrap.dedent(
        """\
        import requests


        class Users:
            def __init__(self):
                self.session = requests.Session()
                _authorize(self.session)

            def send(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")
        """
    )
    found = client_request(source.encode(), 10, 8)
    assert found.refusal is not None
    assert "(line 7) hands `self.session` to `_authorize(...)`" in found.refusal


#: Sessions that are handed to nothing that may change them: ``(module text, body)``.
NOT_HANDED = {
    "looked_at": (
        "",
        """\
        s = requests.Session()
        assert isinstance(s, requests.Session)
        s.post({url})
        """,
    ),
    "closing": (
        "from contextlib import closing\n",
        """\
        with closing(requests.Session()) as s:
            s.post({url})
        """,
    ),
    "logged": (
        "import logging\n\nlog = logging.getLogger(__name__)\n",
        """\
        s = requests.Session()
        log.debug("using %r", s)
        s.post({url})
        """,
    ),
    "headers_copied_for_a_log": (
        "import logging\n\nlog = logging.getLogger(__name__)\n",
        """\
        s = requests.Session()
        log.info("headers: %s", dict(s.headers))
        s.post({url})
        """,
    ),
    # the send itself
    "the_send": (
        "",
        """\
        s = requests.Session()
        s.post({url}, cookies=s.cookies)
        """,
    ),
    # a function's own ``session`` parameter is another session than the module's
    "another_session_of_the_same_name": (
        """\
        session = requests.Session()


        def setup(session):
            _authorize(session)
        """,
        "session.post({url})\n",
    ),
}


@pytest.mark.parametrize("shape", sorted(NOT_HANDED))
def test_a_session_handed_to_nothing_that_changes_it_is_read(shape: str) -> None:
    above, body = NOT_HANDED[shape]
    found = client_request(*_read(body, above))
    assert found.refusal is None or "hands `" not in found.refusal, found.refusal


_RETRY_IMPORTS = "from requests.adapters import HTTPAdapter\nfrom urllib3.util.retry import Retry\n"

#: The libraries' own retry setups, which carry no credential: ``(module text, body)``.
RETRIES = {
    "mount_in_place": (
        _RETRY_IMPORTS,
        """\
        s = requests.Session()
        s.mount("https://", HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.5)))
        s.post({url})
        """,
    ),
    "module_mount_of_bound_names": (
        _RETRY_IMPORTS
        + "retry = Retry(total=3, status_forcelist=[502, 503])\n"
        + "adapter = HTTPAdapter(pool_maxsize=20, max_retries=retry)\n"
        + "session = requests.Session()\n"
        + 'session.mount("http://", adapter)\n',
        "session.post({url})\n",
    ),
    "mount_retry_count": (
        "import urllib3\n",
        """\
        s = requests.Session()
        s.mount("http://", requests.adapters.HTTPAdapter(max_retries=urllib3.Retry(3)))
        s.post({url})
        """,
    ),
    "httpx_transport": (
        "",
        """\
        with httpx.Client(transport=httpx.HTTPTransport(retries=3)) as c:
            c.post({url})
        """,
    ),
    "httpx_async_transport": (
        "_t = httpx.AsyncHTTPTransport(retries=2, http2=True)\n_c = httpx.AsyncClient(transport=_t)\n",
        "_c.post({url})\n",
    ),
}


@pytest.mark.parametrize("shape", sorted(RETRIES))
def test_the_libraries_own_retry_setup_is_read_as_harmless(shape: str) -> None:
    above, body = RETRIES[shape]
    found = client_request(*_read(body, above))
    assert found.refusal is None, found.refusal
    assert any("the consumer's own retry policy replaces it" in n for n in found.notes)


#: Adapters and transports that are not the libraries' own plain ones.
OTHER_ADAPTERS = {
    "subclass": (
        _RETRY_IMPORTS + "class TokenAdapter(HTTPAdapter):\n    pass\n",
        """\
        s = requests.Session()
        s.mount("https://", TokenAdapter(max_retries=3))
        s.post({url})
        """,
    ),
    "unknown_retry": (
        _RETRY_IMPORTS,
        """\
        s = requests.Session()
        s.mount("https://", HTTPAdapter(max_retries=make_retry()))
        s.post({url})
        """,
    ),
    "adapter_rebound": (
        _RETRY_IMPORTS,
        """\
        adapter = HTTPAdapter()
        if g.token:
            adapter = TokenAdapter(g.token)
        s = requests.Session()
        s.mount("https://", adapter)
        s.post({url})
        """,
    ),
    "httpx_transport_cert": (
        "",
        """\
        with httpx.Client(transport=httpx.HTTPTransport(cert="/etc/client.pem")) as c:
            c.post({url})
        """,
    ),
    "module_class_named_like_the_library_s": (
        _RETRY_IMPORTS
        + "class HTTPAdapter(HTTPAdapter):\n"
        + "    def add_headers(self, request, **kwargs):\n"
        + '        request.headers["Authorization"] = "Bearer " + g.token\n',
        """\
        s = requests.Session()
        s.mount("https://", HTTPAdapter(max_retries=3))
        s.post({url})
        """,
    ),
    "module_name_bound_like_the_library_s": (
        _RETRY_IMPORTS + "HTTPAdapter = make_adapter_class()\n",
        """\
        s = requests.Session()
        s.mount("https://", HTTPAdapter(max_retries=3))
        s.post({url})
        """,
    ),
    "httpx_transport_of_the_project": (
        "",
        """\
        with httpx.Client(transport=AuthTransport(retries=3)) as c:
            c.post({url})
        """,
    ),
}


@pytest.mark.parametrize("shape", sorted(OTHER_ADAPTERS))
def test_another_adapter_or_transport_still_refuses_the_call(shape: str) -> None:
    _refusal(OTHER_ADAPTERS, shape)


_CLIENT_CONTEXT = (
    "import ssl\n\nCTX = ssl.create_default_context()\n"
    'CTX.load_cert_chain("/etc/client.pem", "/etc/client.key")\n'
)

#: A client certificate in an SSL context given as ``verify=`` (httpx's replacement for
#: ``cert=``): the consumer's request presents none. ``(module text, body)``.
CLIENT_CERTIFICATES = {
    "client": (_CLIENT_CONTEXT, "with httpx.Client(verify=CTX) as c:\n    c.post({url})\n"),
    "transport": (
        _CLIENT_CONTEXT,
        """\
        with httpx.Client(transport=httpx.HTTPTransport(retries=3, verify=CTX)) as c:
            c.post({url})
        """,
    ),
    "session_attribute": (
        _CLIENT_CONTEXT,
        """\
        s = requests.Session()
        s.verify = CTX
        s.post({url})
        """,
    ),
    "built_with_cert": (
        "",
        """\
        with httpx.Client(verify=make_context(cert="/etc/client.pem")) as c:
            c.post({url})
        """,
    ),
}


def test_the_certificate_refusal_says_what_the_event_does_not_carry() -> None:
    found = client_request(*_read(*reversed(CLIENT_CERTIFICATES["client"])))
    assert found.refusal is not None
    assert "`verify=CTX`, an SSL context that may hold a client certificate" in found.refusal


@pytest.mark.parametrize(
    "body",
    [
        "with httpx.Client(transport=httpx.HTTPTransport(retries=3, verify=CTX)) as c:\n"
        "    c.post({url})\n",
        "t = httpx.HTTPTransport(retries=3, verify=CTX)\n"
        "with httpx.Client(transport=t) as c:\n    c.post({url})\n",
    ],
)
def test_a_client_certificate_on_the_library_s_transport_is_named_as_one(body: str) -> None:
    """The library's own transport, plain but for its ``verify=``: the refusal says it
    is the certificate, not that the transport cannot be read."""
    found = client_request(*_read(body, _CLIENT_CONTEXT))
    assert found.refusal is not None
    assert "gives `c` `verify=CTX`, an SSL context that may hold a client certificate" in (
        found.refusal
    )
    assert "with `transport=`" not in found.refusal


def test_another_setting_of_the_library_s_transport_keeps_the_transport_wording() -> None:
    body = (
        'with httpx.Client(transport=httpx.HTTPTransport(cert="/etc/c.pem", verify=CTX)) as c:\n'
        "    c.post({url})\n"
    )
    found = client_request(*_read(body, _CLIENT_CONTEXT))
    assert found.refusal is not None
    assert "builds `c` with `transport=`" in found.refusal


@pytest.mark.parametrize(
    "verify", ["False", '"/etc/ssl/ca.pem"', "certifi.where()", "settings.CA_BUNDLE"]
)
def test_a_ca_bundle_given_as_verify_is_read_as_harmless(verify: str) -> None:
    body = f"with httpx.Client(verify={verify}) as c:\n    c.post({{url}})\n"
    found = client_request(*_read(body, "import certifi\nfrom django.conf import settings\n"))
    assert found.refusal is None, found.refusal


#: A client certificate the call itself presents: requests' and httpx's ``cert=``, or
#: an SSL context holding one given as the call's own ``verify=``. ``(module text, body)``.
CALL_CERTIFICATES = {
    "requests": ("", 'requests.post({url}, cert=("/etc/tls/c.crt", "/etc/tls/c.key"))\n'),
    "settings": ("from . import config\n", "requests.post({url}, cert=config.CLIENT_CERT)\n"),
    "session": (
        "from . import config\n\nsession = requests.Session()\n",
        "session.post({url}, timeout=5, cert=config.CLIENT_CERT)\n",
    ),
    "httpx": ("", 'httpx.post({url}, cert="/etc/tls/client.pem")\n'),
    "verify_context": (_CLIENT_CONTEXT, "httpx.post({url}, verify=CTX)\n"),
}


@pytest.mark.parametrize("shape", sorted(CALL_CERTIFICATES))
def test_a_client_certificate_the_call_presents_refuses_it(shape: str) -> None:
    refusal = _refusal(CALL_CERTIFICATES, shape)
    assert "client certificate" in refusal, refusal


def test_the_call_s_certificate_refusal_names_the_keyword() -> None:
    found = client_request(*_read(*reversed(CALL_CERTIFICATES["settings"])))
    assert found.refusal is not None
    assert "presents the client certificate `cert=config.CLIENT_CERT`" in found.refusal
    assert found.lost == "the client certificate the call presents"


@pytest.mark.parametrize(
    "given",
    [
        "cert=None",
        "verify=False",
        'verify="/etc/ssl/ca.pem"',
        "verify=certifi.where()",
        "verify=settings.CA_BUNDLE",
    ],
)
def test_a_call_s_own_ca_bundle_or_no_certificate_is_read_as_harmless(given: str) -> None:
    body = f"requests.post({{url}}, timeout=5, {given})\n"
    found = client_request(*_read(body, "import certifi\nfrom django.conf import settings\n"))
    assert found.refusal is None, found.refusal


_AIOHTTP_CONTEXT = "import aiohttp\n" + _CLIENT_CONTEXT

#: aiohttp's client certificate: an SSL context holding one, given to its connector or as
#: the call's ``ssl=``; a connector the rewrite does not read. ``(module text, body)``.
AIOHTTP_CERTIFICATES = {
    "connector": (
        _AIOHTTP_CONTEXT,
        """\
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=CTX)) as s:
            s.post({url})
        """,
    ),
    "connector_bound": (
        _AIOHTTP_CONTEXT + "CONNECTOR = aiohttp.TCPConnector(limit=10, ssl_context=CTX)\n",
        """\
        async with aiohttp.ClientSession(connector=CONNECTOR) as s:
            s.post({url})
        """,
    ),
    "call": (
        _AIOHTTP_CONTEXT,
        """\
        async with aiohttp.ClientSession() as s:
            s.post({url}, ssl=CTX)
        """,
    ),
    "other_connector": (
        "import aiohttp\n",
        """\
        async with aiohttp.ClientSession(connector=make_connector()) as s:
            s.post({url})
        """,
    ),
    "a_resolver_of_the_project": (
        "import aiohttp\n",
        """\
        connector = aiohttp.TCPConnector(resolver=SigningResolver())
        async with aiohttp.ClientSession(connector=connector) as s:
            s.post({url})
        """,
    ),
}


@pytest.mark.parametrize("shape", sorted({**CLIENT_CERTIFICATES, **AIOHTTP_CERTIFICATES}))
def test_a_client_certificate_or_an_unread_connector_refuses_the_call(shape: str) -> None:
    """``verify=`` (or aiohttp's ``ssl=``) that may hold a client certificate, on the
    client, the session, the transport or the connector, or a connector not read."""
    _refusal({**CLIENT_CERTIFICATES, **AIOHTTP_CERTIFICATES}, shape)


def test_the_aiohttp_certificate_refusal_names_the_connector_s_context() -> None:
    found = client_request(*_read(*reversed(AIOHTTP_CERTIFICATES["connector"])))
    assert found.refusal is not None
    assert "gives `s` `ssl=CTX`, an SSL context that may hold a client certificate" in (
        found.refusal
    )


@pytest.mark.parametrize(
    ("connector", "ssl"),
    [
        ("aiohttp.TCPConnector(limit=10, ttl_dns_cache=300)", "False"),
        ("aiohttp.TCPConnector(ssl=False, force_close=True)", "True"),
        ("aiohttp.TCPConnector(ssl=ssl.create_default_context())", "None"),
        ("None", 'aiohttp.Fingerprint(b"0" * 32)'),
        ("aiohttp.TCPConnector(limit=100, resolver=aiohttp.AsyncResolver())", "None"),
        ("aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver(), family=0)", "None"),
    ],
)
def test_an_aiohttp_connector_or_ssl_without_a_certificate_is_read(
    connector: str, ssl: str
) -> None:
    body = f"""\
        async with aiohttp.ClientSession(connector={connector}) as s:
            s.post({{url}}, ssl={ssl})
        """
    found = client_request(*_read(body, "import ssl\n\nimport aiohttp\n"))
    assert found.refusal is None, found.refusal


#: A module session another binding of which, at module level or under ``global`` in a
#: function, is no known constructor: ``(module text, function body)``.
REBOUND = {
    "global_in_a_function": (
        """\
        SESSION = requests.Session()


        def _authed(token):
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            return s


        def configure(token):
            global SESSION
            SESSION = _authed(token)
        """,
        "SESSION.post({url})\n",
    ),
    "global_in_a_method": (
        """\
        SESSION = requests.Session()


        class App:
            def init_app(self, app):
                global SESSION
                SESSION = app.extensions["http"]
        """,
        "SESSION.post({url})\n",
    ),
}


@pytest.mark.parametrize("shape", sorted(REBOUND))
def test_a_module_session_rebound_to_another_value_refuses_the_call(shape: str) -> None:
    refusal = _refusal(REBOUND, shape)
    assert "rebinds `SESSION` to `" in refusal


def test_the_rebind_refusal_names_the_binding_and_its_line() -> None:
    above, body = REBOUND["global_in_a_function"]
    source, line, column = _read(body, above)
    found = client_request(source, line, column)
    assert found.refusal is not None
    rebind = source.decode().splitlines().index("    SESSION = _authed(token)") + 1
    assert f"(line {rebind}) rebinds `SESSION` to `_authed(token)`" in found.refusal


@pytest.mark.parametrize(
    "above",
    [
        "SESSION = requests.Session()\n\n\ndef close():\n    global SESSION\n    SESSION = None\n",
        "SESSION = requests.Session()\n\n\ndef other():\n    SESSION = make_session()\n",
    ],
)
def test_a_module_session_reset_to_none_or_shadowed_is_read(above: str) -> None:
    found = client_request(*_read("SESSION.post({url})\n", above))
    assert found.refusal is None or "rebinds" not in found.refusal, found.refusal


def test_the_object_holding_self_session_handed_to_a_function_refuses_the_call() -> None:
    """``_authorize(self)`` may set ``self.session.headers[...]``, as
    ``_authorize(self.session)`` may."""
    source = textwrap.dedent(
        """\
        import requests


        def _authorize(client):
            client.session.headers["Authorization"] = "Bearer " + g.token


        class Users:
            def __init__(self):
                self.session = requests.Session()
                _authorize(self)

            def send(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")
        """
    )
    found = client_request(source.encode(), 14, 8)
    assert found.refusal is not None
    assert (
        "(line 11) hands `self` (which holds `self.session`) to `_authorize(...)`" in found.refusal
    )


def test_self_looked_at_or_calling_its_own_method_is_no_hand_off() -> None:
    source = textwrap.dedent(
        """\
        import requests


        class Users:
            def __init__(self):
                self.session = requests.Session()
                log.debug("client %r", self)
                self.prepare()

            def prepare(self):
                assert isinstance(self, Users)

            def send(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")
        """
    )
    found = client_request(source.encode(), 14, 8)
    assert found.refusal is None or "hands `" not in found.refusal, found.refusal


_INHERITED = """\
import requests


class AuthMixin:
    def authenticate(self):
        self.session.headers["Authorization"] = "Bearer " + g.token


class Users({bases}):
    def __init__(self):
        self.session = requests.Session()
        self.{method}()

    def send(self, user_id):
        self.session.post(f"http://users/api/users/{{user_id}}/")
"""


@pytest.mark.parametrize("bases", ["AuthMixin", "BaseClient", "AuthMixin, object"])
def test_a_method_the_class_inherits_called_on_self_refuses_the_call(bases: str) -> None:
    source = _INHERITED.format(bases=bases, method="authenticate")
    found = client_request(source.encode(), 15, 8)
    assert found.refusal is not None
    assert (
        "(line 12) calls `self.authenticate()`, which its class does not define: a base "
        "class may set a credential on `self.session`"
    ) in found.refusal


@pytest.mark.parametrize(("bases", "method"), [("object", "authenticate"), ("AuthMixin", "send")])
def test_a_class_without_bases_or_calling_its_own_method_is_read(bases: str, method: str) -> None:
    source = _INHERITED.format(bases=bases, method=method)
    found = client_request(source.encode(), 15, 8)
    assert found.refusal is None or "does not define" not in found.refusal, found.refusal


@pytest.mark.parametrize(
    ("bases", "statement"),
    [
        ("AuthMixin", "self.auth_hook = self.authenticate; self.auth_hook()"),
        ("AuthMixin", "hook = self.authenticate; hook()"),
        ("BaseClient", "atexit.register(self.authenticate)"),
        ("BaseClient", "functools.partial(self.authenticate, scope='users')()"),
        ("BaseClient", "hooks = [self.authenticate]; run_all(hooks)"),
    ],
)
def test_a_method_the_class_inherits_taken_as_a_value_refuses_the_call(
    bases: str, statement: str
) -> None:
    source = _INHERITED.format(bases=bases, method="send").replace("self.send()", statement)
    found = client_request(source.encode(), 15, 8)
    assert found.refusal is not None
    assert (
        "(line 12) takes `self.authenticate`, which its class does not define, as a value: "
        "a base class may set a credential on `self.session` through it"
    ) in found.refusal


@pytest.mark.parametrize(
    ("bases", "statement"),
    [
        # no base to inherit from, or a method of its own
        ("object", "self.auth_hook = self.authenticate; self.auth_hook()"),
        ("AuthMixin", "self.auth_hook = self.send; self.auth_hook(1)"),
        # what the class reads as data elsewhere, a constant, a look, the send's keyword
        ("BaseClient", 'url = urljoin(self.base_url, "x"); self.base_url.rstrip("/")'),
        ("BaseClient", 'self.name = self.prefix; self.session.headers["X-Who"] = f"{self.prefix}"'),
        ("BaseClient", "timeout = self.TIMEOUT"),
        ("BaseClient", 'log.info("built %s", self.service)'),
        ("BaseClient", 'self.session.get("http://users/ping", timeout=self.timeout)'),
    ],
)
def test_an_attribute_taken_as_a_value_that_is_no_inherited_method_is_read(
    bases: str, statement: str
) -> None:
    source = _INHERITED.format(bases=bases, method="send").replace("self.send()", statement)
    found = client_request(source.encode(), 15, 8)
    assert found.refusal is None or "as a value" not in found.refusal, found.refusal


_SUPER = """\
import requests


class Users(BaseClient):
    def __init__(self):
        {first}
        {second}

    def send(self, user_id):
        self.session.post(f"http://users/api/users/{{user_id}}/")
"""
_BUILT = "self.session = requests.Session()"


@pytest.mark.parametrize(
    ("first", "second", "called"),
    [
        (_BUILT, "super().__init__()", "__init__"),
        (_BUILT, "super().authenticate()", "authenticate"),
        ("super().__init__()", _BUILT + "; super().login()", "login"),
    ],
)
def test_a_base_s_method_called_through_super_after_the_session_is_built_refuses(
    first: str, second: str, called: str
) -> None:
    found = client_request(_SUPER.format(first=first, second=second).encode(), 10, 8)
    assert found.refusal is not None
    assert f"calls `super().{called}()`, which a base class defines" in found.refusal


def test_a_base_s_init_run_before_the_session_is_built_is_read() -> None:
    source = _SUPER.format(first="super().__init__()", second=_BUILT)
    found = client_request(source.encode(), 10, 8)
    assert found.refusal is None or "super()" not in found.refusal, found.refusal


#: A session handed on inside a container, or aliased (itself or its headers), before
#: the send: ``(module text, function body, what the refusal says)``.
ALIASED = {
    "in_a_list": (
        "",
        """\
        s = requests.Session()
        _authorize_all([s])
        s.post({url})
        """,
        "hands `s` to `_authorize_all(...)`",
    ),
    "in_a_dict": (
        "",
        """\
        s = requests.Session()
        _configure({"users": s})
        s.post({url})
        """,
        "hands `s` to `_configure(...)`",
    ),
    "its_headers_in_a_tuple": (
        "",
        """\
        s = requests.Session()
        _fill(*(s.headers,))
        s.post({url})
        """,
        "hands `s.headers` to `_fill(...)`",
    ),
    "alias_handed": (
        "",
        """\
        s = requests.Session()
        t = s
        _authorize(t)
        s.post({url})
        """,
        "aliases `s` as `t`",
    ),
    "headers_alias_mutated": (
        "",
        """\
        s = requests.Session()
        h = s.headers
        h["Authorization"] = "Bearer " + g.token
        s.post({url})
        """,
        "aliases `s.headers` as `h`",
    ),
    "module_headers_alias": (
        'session = requests.Session()\n_h = session.headers\n_h["X-Api-Key"] = API_KEY\n',
        "session.post({url})\n",
        "aliases `session.headers` as `_h`",
    ),
}


@pytest.mark.parametrize("shape", sorted(ALIASED))
def test_a_session_in_a_container_or_an_alias_refuses_the_call(shape: str) -> None:
    above, body, said = ALIASED[shape]
    found = client_request(*_read(body, above))
    assert found.refusal is not None, (shape, found.notes)
    assert said in found.refusal


def test_self_session_headers_aliased_in_init_refuses_the_call() -> None:
    source = textwrap.dedent(
        """\
        import requests


        class Users:
            def __init__(self):
                self.session = requests.Session()
                h = self.session.headers
                h["Authorization"] = "Bearer " + g.token

            def send(self, user_id):
                self.session.post(f"http://users/api/users/{user_id}/")
        """
    )
    found = client_request(source.encode(), 11, 8)
    assert found.refusal is not None
    assert "(line 7) aliases `self.session.headers` as `h`" in found.refusal


def test_a_header_set_by_setdefault_is_read_as_one_set_by_item() -> None:
    body = """\
        s = requests.Session()
        s.headers.setdefault("Authorization", "Bearer " + g.token)
        s.post({url})
        """
    found = client_request(*_read(body))
    assert found.refusal is not None and "`Authorization`" in found.refusal, found
    fixed = client_request(*_read(body.replace('"Bearer " + g.token', '"Bearer x"')))
    assert any("`Authorization`" in n for n in fixed.notes), fixed


def test_another_change_to_the_session_headers_refuses_the_call() -> None:
    body = """\
        s = requests.Session()
        s.headers.set("Authorization", token)
        s.post({url})
        """
    found = client_request(*_read(body))
    assert found.refusal is not None
    assert "changes `s.headers` (`s.headers.set(" in found.refusal


def test_a_client_class_of_the_project_rebound_is_read_as_a_helper() -> None:
    """Only a session of a known constructor is held to every binding: a client class of
    the project is a helper, read on its own."""
    above = (
        "client = ApiClient()\n\n\ndef configure(token):\n"
        "    global client\n    client = ApiClient(token)\n"
    )
    found = client_request(*_read("client.post({url})\n", above))
    assert found.refusal is None or "rebinds" not in found.refusal, found.refusal


def _plan_elsewhere(
    root: Path, setup: str, extra: dict[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """``(migrated site ids, refusal reasons)`` of the send through the module session of
    ``views/admin.py``, with ``frontend/setup.py`` holding ``setup``; ``extra`` adds or
    replaces files (a package's ``__init__``)."""
    files = {
        **{k: v for k, v in PACKAGE.items() if not k.startswith("frontend/")},
        "frontend/frontend/__init__.py": "",
        "frontend/frontend/views/__init__.py": "",
        "frontend/frontend/views/admin.py": """\
            import requests

            session = requests.Session()


            def deactivate_user(user_id):
                session.post(f"http://users/api/users/{user_id}/deactivate/")
            """,
        "frontend/frontend/setup.py": setup,
        **(extra or {}),
    }
    plan = _admin_plan(root, files)
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    return [p.site.id for p in plan.plan.sites], reasons


@pytest.mark.parametrize(
    "setup",
    [
        "import os\n\nfrom .views.admin import session\n\n"
        'session.headers.update({"Authorization": os.environ["TOKEN"]})\n',
        'import os\n\nfrom .views import admin\n\nadmin.session.headers["Authorization"] = "x"\n',
        "from .views.admin import session as s\n\n\ndef init():\n    _authorize(s)\n",
        # the module imported by name at run time, bound or used in place
        "import importlib\n\nadmin = importlib.import_module('frontend.views.admin')\n"
        'admin.session.headers["Authorization"] = "x"\n',
        "from importlib import import_module\n\n\ndef init():\n"
        "    views = import_module('.views.admin', package=__package__)\n"
        "    views.session.auth = ('svc', 'x')\n",
        "import importlib\n\n"
        "importlib.import_module('frontend.views.admin').session.headers.update(H)\n",
    ],
)
def test_a_module_session_another_module_imports_and_changes_refuses(
    tmp_path: Path, setup: str
) -> None:
    migrated, reasons = _plan_elsewhere(tmp_path, setup)
    assert migrated == []
    assert any(
        "sends through `session`, which frontend/frontend/setup.py (line" in r
        and "imports and changes" in r
        for r in reasons
    ), reasons


@pytest.mark.parametrize(
    "setup",
    [
        "from .views.admin import session\n\n\ndef ping():\n    session.get('http://users/ping')\n",
        "from .views import admin\n\nadmin.deactivate_user(1)\n",
        "import importlib\n\nadmin = importlib.import_module('frontend.views.admin')\n"
        "admin.session.get('http://users/ping')\n",
        # another module imported by name at run time is not the session's
        "import importlib\n\nshop = importlib.import_module('frontend.views.shop')\n"
        'shop.session.headers["Authorization"] = "x"\n',
    ],
)
def test_a_module_session_another_module_only_sends_through_is_read(
    tmp_path: Path, setup: str
) -> None:
    migrated, reasons = _plan_elsewhere(tmp_path, setup)
    assert len(migrated) == 1, reasons


#: The session of ``views/admin.py`` reached through its package or a re-export, and
#: changed: ``(setup.py, the files the package's ``__init__`` hold)``.
_THROUGH_THE_PACKAGE = {
    "package_alias_attribute": (
        'from frontend import views as v\n\nv.admin.session.headers["Authorization"] = "x"\n',
        {},
    ),
    "sibling_package_attribute": (
        'from . import views\n\nviews.admin.session.auth = ("svc", "x")\n',
        {},
    ),
    "absolute_package_import": (
        "import frontend.views\n\nfrontend.views.admin.session.headers.update(H)\n",
        {},
    ),
    "absolute_package_import_as": (
        'import frontend.views as fv\n\nfv.admin.session.headers["Authorization"] = "x"\n',
        {},
    ),
    "package_imported_by_name_at_run_time": (
        "import importlib\n\nviews = importlib.import_module('frontend.views')\n"
        'views.admin.session.headers["Authorization"] = "x"\n',
        {},
    ),
    "package_attribute_in_a_function": (
        "def init_app(app):\n    from frontend import views\n\n"
        '    views.admin.session.cert = "/etc/tls/client.pem"\n',
        {},
    ),
    "star_import_of_the_module": (
        'from .views.admin import *  # noqa: F403\n\nsession.headers["Authorization"] = "x"\n',
        {},
    ),
    "re_exported_by_the_package": (
        'from .views import session\n\nsession.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from .admin import session\n"},
    ),
    "re_exported_under_another_name": (
        "from frontend.views import users_session\n\nusers_session.auth = ('svc', 'x')\n",
        {"frontend/frontend/views/__init__.py": "from .admin import session as users_session\n"},
    ),
    "re_exported_and_reached_through_the_package": (
        'from . import views\n\nviews.session.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from .admin import session\n"},
    ),
    "re_exported_by_a_star_import": (
        'from .views import session\n\nsession.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from .admin import *  # noqa: F403\n"},
    ),
    "star_import_of_a_re_exporting_package": (
        'from .views import *  # noqa: F403\n\nsession.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from .admin import session\n"},
    ),
    "re_exported_up_two_packages": (
        'from . import session\n\nsession.headers["Authorization"] = "x"\n',
        {
            "frontend/frontend/views/__init__.py": "from .admin import session\n",
            "frontend/frontend/__init__.py": "from .views import session\n",
        },
    ),
    "module_re_exported_under_another_name": (
        'from .views import users_admin\n\nusers_admin.session.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from . import admin as users_admin\n"},
    ),
}


@pytest.mark.parametrize("shape", sorted(_THROUGH_THE_PACKAGE))
def test_a_module_session_changed_through_its_package_refuses(tmp_path: Path, shape: str) -> None:
    setup, extra = _THROUGH_THE_PACKAGE[shape]
    migrated, reasons = _plan_elsewhere(tmp_path, setup, extra)
    assert migrated == []
    assert any(
        "sends through `session`, which frontend/frontend/setup.py (line" in r
        and "imports and changes" in r
        for r in reasons
    ), reasons


def test_a_file_naming_only_the_re_exporting_package_is_read(tmp_path: Path) -> None:
    """Only a file naming the session's module is parsed for what it does with the
    session, but a re-export lets a file reach it under the package's name alone."""
    setup = 'from .views import session\n\nsession.headers["Authorization"] = "x"\n'
    assert "admin" not in setup
    extra = {"frontend/frontend/views/__init__.py": "from .admin import session\n"}
    migrated, reasons = _plan_elsewhere(tmp_path, setup, extra)
    assert migrated == []
    assert any("frontend/frontend/setup.py (line 3) imports and changes" in r for r in reasons)


#: The session of ``views/admin.py``'s package or a re-export only sent through, or
#: another session of the package changed: ``(setup.py, the package's ``__init__``
#: files)``.
_NOT_THROUGH_THE_PACKAGE = {
    "package_attribute_send": (
        "from frontend import views as v\n\nv.admin.session.get('http://users/ping')\n",
        {},
    ),
    "another_module_of_the_package": (
        'from frontend import views as v\n\nv.shop.session.headers["Authorization"] = "x"\n',
        {},
    ),
    "a_name_the_package_does_not_re_export": (
        'from . import views\n\nviews.session.headers["Authorization"] = "x"\n',
        {},
    ),
    "another_module_s_session_re_exported": (
        'from .views import session\n\nsession.headers["Authorization"] = "x"\n',
        {"frontend/frontend/views/__init__.py": "from .shop import session\n"},
    ),
    "star_import_of_another_module": (
        'from .views.shop import *  # noqa: F403\n\nsession.headers["Authorization"] = "x"\n',
        {},
    ),
    "star_import_only_sending": (
        "from .views.admin import *  # noqa: F403\n\nsession.get('http://users/ping')\n",
        {},
    ),
    "re_export_only_sent_through": (
        "from .views import session\n\nsession.get('http://users/ping')\n",
        {"frontend/frontend/views/__init__.py": "from .admin import session\n"},
    ),
}


@pytest.mark.parametrize("shape", sorted(_NOT_THROUGH_THE_PACKAGE))
def test_a_module_session_its_package_only_sends_through_is_read(
    tmp_path: Path, shape: str
) -> None:
    setup, extra = _NOT_THROUGH_THE_PACKAGE[shape]
    migrated, reasons = _plan_elsewhere(tmp_path, setup, extra)
    assert len(migrated) == 1, reasons


def _plan_with_tls(
    root: Path, verify: str, tls: str, client: str = "httpx.Client(verify={verify})"
) -> tuple[list[str], list[str]]:
    """``(migrated site ids, refusal reasons)`` of a send through an httpx client given
    ``verify=<verify>`` (or ``client``) in ``views/admin.py``, with ``frontend/tls.py``
    holding ``tls``."""
    files = {
        **{k: v for k, v in PACKAGE.items() if not k.startswith("frontend/")},
        "frontend/frontend/__init__.py": "",
        "frontend/frontend/views/__init__.py": "",
        "frontend/frontend/views/admin.py": f"""\
            import os

            import aiohttp
            import httpx

            from .. import config
            from ..tls import TLS_CTX, make_ctx

            client = {client.format(verify=verify)}


            def deactivate_user(user_id):
                client.post(f"http://users/api/users/{{user_id}}/deactivate/")
            """,
        "frontend/frontend/tls.py": tls,
        "frontend/frontend/config.py": CONFIG,
    }
    plan = _admin_plan(root, files)
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    return [p.site.id for p in plan.plan.sites], reasons


CONFIG = """\
import os

CA_BUNDLE = os.environ.get("CA_BUNDLE", "/etc/ssl/ca.pem")
CLIENT_CTX = make_context()
"""

_TLS = """\
import ssl

TLS_CTX = ssl.create_default_context()
{load}


def make_ctx():
    return TLS_CTX
"""


def test_an_aiohttp_context_from_a_module_that_loads_a_client_certificate_refuses(
    tmp_path: Path,
) -> None:
    load = 'TLS_CTX.load_cert_chain("/etc/client.pem")'
    migrated, reasons = _plan_with_tls(
        tmp_path,
        "TLS_CTX",
        _TLS.format(load=load),
        client="aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl={verify}))",
    )
    assert migrated == []
    assert any(
        "`ssl=TLS_CTX`" in r and "may hold the client certificate frontend/" in r for r in reasons
    ), reasons


@pytest.mark.parametrize("verify", ["TLS_CTX", "make_ctx()"])
def test_a_context_from_a_module_that_loads_a_client_certificate_refuses(
    tmp_path: Path, verify: str
) -> None:
    load = 'TLS_CTX.load_cert_chain("/etc/client.pem")'
    migrated, reasons = _plan_with_tls(tmp_path, verify, _TLS.format(load=load))
    assert migrated == []
    assert any(
        f"`verify={verify}`" in r and "may hold the client certificate frontend/" in r
        for r in reasons
    ), reasons


def test_a_context_where_no_module_loads_a_certificate_is_read(tmp_path: Path) -> None:
    migrated, reasons = _plan_with_tls(tmp_path, "TLS_CTX", _TLS.format(load=""))
    assert len(migrated) == 1, reasons


#: A chain loaded for a server, not a client: the server's own certificate, which no
#: request presents.
SERVER_CHAINS = {
    "client_auth_purpose": (
        "SERVER = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
        'SERVER.load_cert_chain("dev/server.crt", "dev/server.key")'
    ),
    "tls_server_protocol": (
        "SERVER = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
        'SERVER.load_cert_chain("dev/server.crt", "dev/server.key")'
    ),
    "handed_to_a_server_run": (
        "def serve(app):\n"
        "    ctx = ssl.create_default_context()\n"
        '    ctx.load_cert_chain("dev/server.crt", "dev/server.key")\n'
        "    app.run(ssl_context=ctx)"
    ),
}


@pytest.mark.parametrize("shape", sorted(SERVER_CHAINS))
def test_a_server_s_own_certificate_elsewhere_is_no_client_s(tmp_path: Path, shape: str) -> None:
    migrated, reasons = _plan_with_tls(tmp_path, "TLS_CTX", _TLS.format(load=SERVER_CHAINS[shape]))
    assert len(migrated) == 1, reasons


_CLIENT_LOAD = 'TLS_CTX.load_cert_chain("/etc/client.pem")'


@pytest.mark.parametrize(
    "verify", ["config.CA_BUNDLE", 'os.environ["CA_BUNDLE"]', 'f"{config.CA_DIR}/ca.pem"']
)
def test_a_ca_bundle_s_path_is_no_context_a_client_certificate_elsewhere_is_in(
    tmp_path: Path, verify: str
) -> None:
    migrated, reasons = _plan_with_tls(tmp_path, verify, _TLS.format(load=_CLIENT_LOAD))
    assert len(migrated) == 1, reasons


def test_a_setting_that_may_be_a_context_still_refuses(tmp_path: Path) -> None:
    migrated, reasons = _plan_with_tls(
        tmp_path, "config.CLIENT_CTX", _TLS.format(load=_CLIENT_LOAD)
    )
    assert migrated == []
    assert any("`verify=config.CLIENT_CTX`" in r for r in reasons), reasons


def test_a_call_given_no_context_is_not_refused_for_another_function_s(tmp_path: Path) -> None:
    """Another function of the file checks another host against the context: the call
    itself is given none."""
    client = (
        "httpx.Client(timeout=5)\n\n\n"
        "            def _idp_client():\n"
        "                return httpx.Client(verify=TLS_CTX)"
    )
    migrated, reasons = _plan_with_tls(tmp_path, "", _TLS.format(load=_CLIENT_LOAD), client=client)
    assert len(migrated) == 1, reasons


def test_a_server_s_chain_in_the_call_s_file_is_no_client_certificate() -> None:
    above = (
        "import ssl\n\nSERVER = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
        'SERVER.load_cert_chain("dev/server.crt")\nCTX = ssl.create_default_context()\n'
    )
    body = "with httpx.Client(verify=CTX) as c:\n    c.post({url})\n"
    found = client_request(*_read(body, above))
    assert found.refusal is None, found.refusal


_HTTPX_TLS = """\
import httpx

TLS_CTX = httpx.create_ssl_context({given})


def make_ctx():
    return TLS_CTX
"""


@pytest.mark.parametrize("verify", ["TLS_CTX", "make_ctx()"])
def test_a_context_another_module_builds_with_a_client_certificate_refuses(
    tmp_path: Path, verify: str
) -> None:
    tls = _HTTPX_TLS.format(given='cert=("/etc/tls/client.crt", "/etc/tls/client.key")')
    migrated, reasons = _plan_with_tls(tmp_path, verify, tls)
    assert migrated == []
    assert any(
        f"`verify={verify}`" in r and "client certificate frontend/frontend/tls.py" in r
        for r in reasons
    ), reasons


def test_a_context_another_module_builds_without_a_certificate_is_read(tmp_path: Path) -> None:
    tls = _HTTPX_TLS.format(given='verify="/etc/ssl/ca.pem"')
    migrated, reasons = _plan_with_tls(tmp_path, "TLS_CTX", tls)
    assert len(migrated) == 1, reasons


def _plan_imported(
    root: Path, imports: str, send: str, http: str, extra: dict[str, str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """``(migrated site ids, refusal reasons, notes)`` of ``send`` in ``views/admin.py``,
    which ``imports`` a session of ``frontend/http.py`` (holding ``http``); ``extra``
    adds files."""
    files = {
        **{k: v for k, v in PACKAGE.items() if not k.startswith("frontend/")},
        "frontend/frontend/__init__.py": "",
        "frontend/frontend/views/__init__.py": "",
        "frontend/frontend/views/admin.py": f"{imports}\n\n\ndef deactivate_user(user_id):\n"
        f'    {send}(f"http://users/api/users/{{user_id}}/deactivate/")\n',
        "frontend/frontend/http.py": http,
        **(extra or {}),
    }
    plan = _admin_plan(root, files)
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    notes = [n for p in plan.plan.sites for n in p.send.helper_notes]
    return [p.site.id for p in plan.plan.sites], reasons, notes


_PLAIN_HTTP = "import requests\n\nsession = requests.Session()\n"
#: How the call reaches ``session`` of ``http.py``: ``(its import, its send)``.
_IMPORTS = {
    "name": ("from ..http import session", "session.post"),
    "alias": ("from ..http import session as users_session", "users_session.post"),
    "module": ("from .. import http", "http.session.post"),
    "absolute": ("from frontend.http import session", "session.post"),
}


@pytest.mark.parametrize("shape", sorted(_IMPORTS))
def test_a_plain_session_imported_from_a_module_of_the_service_is_read(
    tmp_path: Path, shape: str
) -> None:
    migrated, reasons, _ = _plan_imported(tmp_path, *_IMPORTS[shape], _PLAIN_HTTP)
    assert len(migrated) == 1, reasons


def test_what_the_imported_session_s_module_sets_harmlessly_is_a_note(tmp_path: Path) -> None:
    http = (
        "import requests\nfrom requests.adapters import HTTPAdapter\n\n"
        "session = requests.Session()\n"
        'session.headers["X-Client"] = "shop-frontend"\n'
        'session.mount("https://", HTTPAdapter(max_retries=3))\n'
    )
    migrated, reasons, notes = _plan_imported(tmp_path, *_IMPORTS["name"], http)
    assert len(migrated) == 1, reasons
    assert any("header `X-Client`" in n for n in notes), notes
    assert any("retries through `HTTPAdapter(max_retries=3)`" in n for n in notes), notes


def test_a_fixed_credential_the_imported_session_s_module_sets_is_a_note(
    tmp_path: Path,
) -> None:
    """As on a module session of the call's own file: the same for every call, so the
    consumer's own credential (``DECOUPLE_REQUEST_HEADERS``) can stand for it."""
    http = (
        "import os\n\nimport requests\n\nsession = requests.Session()\n"
        'session.headers["Authorization"] = "Bearer " + os.environ["USERS_TOKEN"]\n'
    )
    migrated, reasons, notes = _plan_imported(tmp_path, *_IMPORTS["name"], http)
    assert len(migrated) == 1, reasons
    assert any(
        "the credential `Authorization` `session` (frontend/frontend/http.py:6)" in n
        and "DECOUPLE_REQUEST_HEADERS" in n
        for n in notes
    ), notes


#: An imported session that may carry what the send does not: ``(http.py, extra files,
#: what the refusal says)``.
_IMPORTED_UNREAD = {
    "header_in_its_module": (
        _PLAIN_HTTP + 'session.headers["Authorization"] = "Bearer " + token_for_frontend()\n',
        {},
        "which it imports from frontend/frontend/http.py, where `session` "
        "(frontend/frontend/http.py:4) adds the credential `Authorization`",
    ),
    "made_by_a_factory": (
        "import requests\n\n\ndef _make():\n    return requests.Session()\n\n\nsession = _make()\n",
        {},
        "which frontend/frontend/http.py does not build by a constructor",
    ),
    "handed_on_in_its_module": (
        _PLAIN_HTTP + "_authorize(session)\n",
        {},
        "hands `session` to `_authorize(...)`",
    ),
    "rebound_under_global": (
        _PLAIN_HTTP + "\n\ndef init_app(token):\n    global session\n"
        "    session = _authed(token)\n",
        {},
        "rebinds `session` to `_authed(token)`",
    ),
    "transport_hook": (
        "import httpx\n\nsession = httpx.Client(event_hooks={'request': [_sign]})\n",
        {},
        "with `event_hooks=`",
    ),
    "changed_by_another_module": (
        _PLAIN_HTTP,
        {
            "frontend/frontend/setup.py": "import os\n\nfrom .http import session\n\n"
            'session.auth = ("svc", os.environ["TOKEN"])\n'
        },
        "frontend/frontend/setup.py (line 5) imports and changes",
    ),
    "changed_through_the_module": (
        _PLAIN_HTTP,
        {
            "frontend/frontend/setup.py": "from . import http\n\n"
            'http.session.headers["Authorization"] = "x"\n'
        },
        "frontend/frontend/setup.py (line 3) imports and changes",
    ),
    "changed_through_the_package": (
        _PLAIN_HTTP,
        {
            "frontend/frontend/setup.py": "import frontend\n\n"
            'frontend.http.session.headers["Authorization"] = "x"\n'
        },
        "frontend/frontend/setup.py (line 3) imports and changes",
    ),
    "changed_through_a_re_export": (
        _PLAIN_HTTP,
        {
            "frontend/frontend/__init__.py": "from .http import session as http_session\n",
            "frontend/frontend/setup.py": "from frontend import http_session\n\n"
            'http_session.headers["Authorization"] = "x"\n',
        },
        "frontend/frontend/setup.py (line 3) imports and changes",
    ),
    "changed_after_a_star_import": (
        _PLAIN_HTTP,
        {
            "frontend/frontend/setup.py": "from .http import *  # noqa: F403\n\n"
            'session.headers["Authorization"] = "x"\n'
        },
        "frontend/frontend/setup.py (line 3) imports and changes",
    ),
    "client_certificate_of_another_module": (
        "import httpx\n\nfrom .tls import TLS_CTX\n\nsession = httpx.Client(verify=TLS_CTX)\n",
        {"frontend/frontend/tls.py": _TLS.format(load='TLS_CTX.load_cert_chain("/etc/c.pem")')},
        "`verify=TLS_CTX` (frontend/frontend/http.py:5), an SSL context that may hold the "
        "client certificate frontend/frontend/tls.py loads",
    ),
    "client_certificate_set_on_it_in_its_module": (
        "import requests\n\nfrom .tls import TLS_CTX\n\nsession = requests.Session()\n"
        "session.verify = TLS_CTX\n",
        {"frontend/frontend/tls.py": _TLS.format(load='TLS_CTX.load_cert_chain("/etc/c.pem")')},
        "`verify=TLS_CTX` (frontend/frontend/http.py:6), an SSL context that may hold the "
        "client certificate frontend/frontend/tls.py loads",
    ),
    "aiohttp_connector_of_another_module_s_context": (
        "import aiohttp\n\nfrom .tls import TLS_CTX\n\n"
        "session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=TLS_CTX))\n",
        {"frontend/frontend/tls.py": _TLS.format(load='TLS_CTX.load_cert_chain("/etc/c.pem")')},
        "`ssl=TLS_CTX` (frontend/frontend/http.py:5), an SSL context that may hold the "
        "client certificate frontend/frontend/tls.py loads",
    ),
}


@pytest.mark.parametrize("shape", sorted(_IMPORTED_UNREAD))
def test_an_imported_session_its_module_or_the_service_changes_refuses(
    tmp_path: Path, shape: str
) -> None:
    http, extra, said = _IMPORTED_UNREAD[shape]
    migrated, reasons, _ = _plan_imported(tmp_path, *_IMPORTS["name"], http, extra)
    assert migrated == []
    assert any(said in r for r in reasons), reasons


def test_an_imported_session_given_a_ca_bundle_s_path_is_read_beside_a_client_certificate(
    tmp_path: Path,
) -> None:
    """The imported session's module gives it text (a CA bundle's path), no context:
    the client certificate another module loads is not what it presents."""
    http = 'import os\n\nimport httpx\n\nsession = httpx.Client(verify=os.environ["CA_BUNDLE"])\n'
    tls = {"frontend/frontend/tls.py": _TLS.format(load='TLS_CTX.load_cert_chain("/etc/c.pem")')}
    migrated, reasons, _ = _plan_imported(tmp_path, *_IMPORTS["name"], http, tls)
    assert len(migrated) == 1, reasons


def test_an_imported_session_the_call_s_own_file_changes_refuses(tmp_path: Path) -> None:
    imports = 'from ..http import session\n\nsession.headers["Authorization"] = "Bearer x"'
    migrated, reasons, _ = _plan_imported(tmp_path, imports, "session.post", _PLAIN_HTTP)
    assert migrated == []
    assert any(
        "frontend/frontend/views/admin.py (line 3) imports and changes" in r for r in reasons
    ), reasons


def test_a_parameter_named_as_the_imported_session_is_not_read_as_it(tmp_path: Path) -> None:
    """``def deactivate_user(session, ...)`` beside ``from ..http import session``: the
    call sends through what its caller gives, not the module's session."""
    imports = "from ..http import session\n\n\ndef ping(session):\n    session.get('x')"
    migrated, reasons, _ = _plan_imported(tmp_path, imports, "session.post", _PLAIN_HTTP)
    assert migrated == [], reasons


#: A client class of ``views/admin.py`` whose base is ``frontend/base.py``'s:
#: ``{statement}`` runs once its session is built.
_BASED = """\
    import atexit

    import requests

    from ..base import BaseClient


    class Users(BaseClient):
        def __init__(self):
            self.session = requests.Session()
            {statement}

        def deactivate(self, user_id):
            self.session.post(f"http://users/api/users/{{user_id}}/deactivate/")
    """

#: ``frontend/base.py``: a base whose ``close`` only closes the session, and whose
#: ``authenticate`` sets a credential on it.
_BASE = """\
    import logging
    import os

    log = logging.getLogger(__name__)


    class BaseClient:
        def __init__(self):
            self.timeout = 5

        def close(self):
            if self.session is not None:
                log.debug("closing %r", self.session)
                self.session.close()
                self.session = None

        def shutdown(self):
            self.close()

        def authenticate(self):
            self.session.headers["Authorization"] = "Bearer " + os.environ["TOKEN"]

        def login(self):
            self.authenticate()

        def configure(self):
            _setup(self.session)
    """


def _plan_based(
    root: Path, statement: str, base: str = _BASE, bases: str = "BaseClient"
) -> tuple[list[str], list[str]]:
    """``(migrated site ids, refusal reasons)`` of the send through ``Users``'s session,
    ``{statement}`` run after it is built, ``frontend/base.py`` holding ``base``."""
    files = {
        **{k: v for k, v in PACKAGE.items() if not k.startswith("frontend/")},
        "frontend/frontend/__init__.py": "",
        "frontend/frontend/views/__init__.py": "",
        "frontend/frontend/views/admin.py": _BASED.format(statement=statement).replace(
            "(BaseClient)", f"({bases})"
        ),
        "frontend/frontend/base.py": base,
    }
    plan = _admin_plan(root, files)
    reasons = [f.reason for r in plan.plan.refused for f in r.reasons]
    return [p.site.id for p in plan.plan.sites], reasons


@pytest.mark.parametrize(
    "statement",
    [
        "atexit.register(self.close)",
        "self.on_close = self.close",
        "self.close()",
        "atexit.register(self.shutdown)",  # a base's method reaching another, plain
        "super().__init__()",
    ],
)
def test_a_base_of_the_service_whose_method_leaves_the_session_alone_is_read(
    tmp_path: Path, statement: str
) -> None:
    migrated, reasons = _plan_based(tmp_path, statement)
    assert len(migrated) == 1, reasons


@pytest.mark.parametrize(
    ("statement", "method", "line", "shown"),
    [
        ("self.authenticate()", "authenticate", 20, "self.session.headers['Authorization'] = "),
        ("self.hook = self.authenticate", "authenticate", 20, "self.session.headers["),
        ("super().authenticate()", "authenticate", 20, "self.session.headers["),
        ("atexit.register(self.login)", "authenticate", 20, "self.session.headers["),
        ("self.configure()", "configure", 26, "_setup(self.session)"),
    ],
)
def test_a_base_of_the_service_whose_method_changes_the_session_refuses_naming_it(
    tmp_path: Path, statement: str, method: str, line: int, shown: str
) -> None:
    migrated, reasons = _plan_based(tmp_path, statement)
    assert migrated == []
    assert any(
        f"`BaseClient.{method}` (frontend/frontend/base.py:{line}) may change or hand on "
        f"`self.session` (line {line + 1}: `{shown}" in r
        for r in reasons
    ), reasons


@pytest.mark.parametrize(
    ("bases", "base"),
    [
        # a library's class, a base whose own base is a library's, a metaclass
        ("requests.Session", _BASE),
        ("BaseClient", _BASE.replace("class BaseClient:", "class BaseClient(Remote):")),
        ("BaseClient", _BASE.replace("class BaseClient:", "class BaseClient(metaclass=M):")),
        # a base that cannot be read: ``close`` is no ``def``
        (
            "BaseClient",
            _BASE.replace("def close(self):", "close = _close\n\n    def _close(self):"),
        ),
    ],
)
def test_a_base_outside_the_service_or_unread_still_refuses(
    tmp_path: Path, bases: str, base: str
) -> None:
    migrated, reasons = _plan_based(tmp_path, "atexit.register(self.close)", base, bases)
    assert migrated == []
    assert any("takes `self.close`" in r for r in reasons), reasons


def test_a_base_s_method_calling_what_no_class_defines_refuses(tmp_path: Path) -> None:
    """``self.on_shutdown()``: a function the instance holds (set anywhere, with
    ``self`` bound into it) may take the session."""
    base = _BASE.replace("            self.close()\n", "            self.on_shutdown()\n")
    migrated, reasons = _plan_based(tmp_path, "atexit.register(self.shutdown)", base)
    assert migrated == []
    assert any(
        "`BaseClient.shutdown` (frontend/frontend/base.py:17) may change or hand on "
        "`self.session` (line 18: `self.on_shutdown()`)" in r
        for r in reasons
    ), reasons
