"""On-demand parsing: the candidates first, then what resolution asks for. Its call sites,
endpoints and services are those of parsing everything (``full_parse``)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

import decouple_services.app.pipeline
from decouple_services.app.demand import (
    Asked,
    ClientNames,
    RoundMemo,
    ask,
    asked_paths,
    broad_prefilter,
    candidate_prefilter,
    client_names,
    naming,
    naming_parameter,
    slot_words,
)
from decouple_services.app.pipeline import ScanOptions, detection_options, scan
from decouple_services.core.config import Config
from decouple_services.detect.extract import extract_facts
from decouple_services.detect.facts import FileFacts
from decouple_services.detect.registry import build_detectors
from decouple_services.render.json import render_json

SAMPLE = Path(__file__).parent / "fixtures" / "sample"


def _options() -> object:
    config = Config()
    return detection_options(build_detectors(config), config)


def _comparable(root: Path, *, full_parse: bool, cache: Path | None = None) -> dict[str, object]:
    options = ScanOptions(
        jobs=1, use_cache=cache is not None, cache_dir=cache, full_parse=full_parse
    )
    data = json.loads(render_json(scan(root, options)))
    return {k: data[k] for k in ("call_sites", "endpoints", "services")}


def both_ways(root: Path) -> dict[str, object]:
    """The call sites, endpoints and services of on-demand parsing, checked equal to
    parsing everything's."""
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    return narrow


def parsed(root: Path, path: str, *, full_parse: bool = False) -> bool:
    """Whether a scan of ``root`` parsed ``path``, a file with a syntax error (reported
    only when it is parsed)."""
    result = scan(root, ScanOptions(jobs=1, use_cache=False, full_parse=full_parse))
    return any(d.file == path for d in result.diagnostics)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


#: A service whose calls use what other modules define: a settings module, a client object
#: built elsewhere and imported by name, an application slot, a class attribute.
TREE = {
    "docker-compose.yml": """\
        services:
          shop:
            build: ./shop
          users:
            build: ./users
        """,
    "shop/app/__init__.py": "",
    "shop/app/settings.py": """\
        import os
        USERS_URL = os.environ.get("USERS_URL", "http://users:8000")
        """,
    "shop/app/http.py": """\
        import requests
        session = requests.Session()
        """,
    "shop/app/orders.py": """\
        from app import settings
        from app.http import session


        def place(order_id):
            session.post(settings.USERS_URL + "/orders", json={"id": order_id})
        """,
    "shop/app/plain.py": """\
        from app import settings

        def broken(:
            return settings.DEBUG
        """,
    "users/svc/__init__.py": "",
    "users/svc/api.py": """\
        from flask import Flask
        app = Flask(__name__)


        @app.route("/orders", methods=["POST"])
        def orders():
            return {}
        """,
}


def test_on_demand_gives_what_parsing_everything_gives_on_the_sample(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    assert _comparable(root, full_parse=False) == _comparable(root, full_parse=True)


def _the_one_site(root: Path) -> dict[str, object]:
    """The tree's one call site, found the same with and without on-demand parsing."""
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    sites = narrow["call_sites"]
    assert isinstance(sites, list) and len(sites) == 1, sites
    site: dict[str, object] = sites[0]
    return site


def test_a_client_object_and_a_setting_from_unparsed_modules_are_asked_for(tmp_path: Path) -> None:
    site = _the_one_site(write(tmp_path / "repo", TREE))
    assert site["file"] == "shop/app/orders.py"
    assert site["callee"] == "users"
    assert site["endpoint"] == "POST /orders"


def test_a_client_an_exit_stack_enters_in_an_unparsed_module_is_asked_for(
    tmp_path: Path,
) -> None:
    """``session = _stack.enter_context(requests.Session())`` is the session: the file
    using it, which names no client library, is parsed as it is for a plain session."""
    tree = {
        **TREE,
        "shop/app/http.py": """\
            import contextlib
            import requests
            _stack = contextlib.ExitStack()
            session = _stack.enter_context(requests.Session())
            """,
    }
    site = _the_one_site(write(tmp_path / "repo", tree))
    assert site["file"] == "shop/app/orders.py"
    assert site["client"] == "requests.Session"
    assert site["endpoint"] == "POST /orders"


def test_files_nothing_asks_for_are_not_parsed(tmp_path: Path) -> None:
    # plain.py mentions settings (the everything-parsed prefilter takes it) and has a
    # syntax error: reported only when it is parsed
    root = write(tmp_path / "repo", TREE)
    full = scan(root, ScanOptions(jobs=1, use_cache=False, full_parse=True))
    narrow = scan(root, ScanOptions(jobs=1, use_cache=False))
    assert any(d.file == "shop/app/plain.py" for d in full.diagnostics)
    assert not any(d.file == "shop/app/plain.py" for d in narrow.diagnostics)


#: A module naming no client library, asked for the constant it defines, whose function
#: is a helper: it calls the request function it is handed. Resolution learns the helper
#: from that function's body, so a file parsed on demand is read whole, function bodies
#: and their calls included, not for its module-level definitions alone.
HELPER_ASKED = {
    "docker-compose.yml": TREE["docker-compose.yml"],
    "users/svc/__init__.py": "",
    "users/svc/api.py": TREE["users/svc/api.py"],
    "shop/app/__init__.py": "",
    "shop/app/remote.py": """\
        BASE = "http://users:8000"


        def fetch(method, path):
            return method(BASE + path)
        """,
    "shop/app/main.py": """\
        import requests

        from app import remote


        def run():
            requests.get(remote.BASE + "/health")
            remote.fetch(requests.post, "/orders")
        """,
}


def _sites(root: Path) -> list[dict[str, object]]:
    """The tree's call sites, found the same with and without on-demand parsing."""
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    sites = narrow["call_sites"]
    assert isinstance(sites, list)
    return sites


def test_a_helper_in_a_file_asked_for_a_definition_is_learned_from_its_body(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "repo", HELPER_ASKED)
    remote = (root / "shop/app/remote.py").read_bytes()
    # parsed on demand, not up front: no client library, helper or route in its text
    assert not candidate_prefilter(_options()).passes(remote)  # type: ignore[arg-type]
    sites = _sites(root)
    # the definition it was asked for: the base of the first request's address
    health = [s for s in sites if s["line"] == 7]
    assert [s["url_template"] for s in health] == ["http://users:8000/health"]
    # and the helper its function's body makes of it: the second request, at the call
    # handing it `requests.post`, is lost if that body is not read
    orders = [s for s in sites if s["line"] == 8]
    assert [(s["method"], s["via_wrapper"], s["endpoint"]) for s in orders] == [
        ("POST", "app.remote.fetch", "POST /orders")
    ]


def test_a_file_asked_for_a_name_it_does_not_define_still_gives_its_helpers(
    tmp_path: Path,
) -> None:
    """The ask for ``app.remote.MISSING`` parses ``remote.py``, whose text does not hold
    the name: its facts still join resolution, and its helper gives a call site. Parsing
    is not spared by what the asked file's text defines."""
    tree = {
        **HELPER_ASKED,
        "shop/app/main.py": HELPER_ASKED["shop/app/main.py"].replace("BASE", "MISSING"),
    }
    root = write(tmp_path / "repo", tree)
    assert b"MISSING" not in (root / "shop/app/remote.py").read_bytes()
    sites = _sites(root)
    orders = [s for s in sites if s["line"] == 8]
    assert [(s["method"], s["via_wrapper"]) for s in orders] == [("POST", "app.remote.fetch")]


def test_a_package_init_is_parsed_when_its_package_is_asked_for(tmp_path: Path) -> None:
    """A package's ``__init__.py`` re-exporting a client object is read when a lookup goes
    through it; one nothing asks about is not parsed up front for what it imports (its
    syntax error shows only with ``--full-parse``, which reads every such file)."""
    tree = {
        **TREE,
        "shop/app/clients/__init__.py": "from .http import session\n",
        "shop/app/clients/http.py": TREE["shop/app/http.py"],
        "shop/app/orders.py": """\
            from app import settings
            from app.clients import session


            def place(order_id):
                session.post(settings.USERS_URL + "/orders", json={"id": order_id})
            """,
        "shop/app/unused/__init__.py": "from .x import y\n\ndef broken(:\n    pass\n",
        "shop/app/unused/x.py": "y = 1\n",
    }
    del tree["shop/app/http.py"]
    root = write(tmp_path / "repo", tree)
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    (site,) = narrow["call_sites"]  # type: ignore[misc]
    assert (site["file"], site["callee"]) == ("shop/app/orders.py", "users")
    full = scan(root, ScanOptions(jobs=1, use_cache=False, full_parse=True))
    on_demand = scan(root, ScanOptions(jobs=1, use_cache=False))
    unused = "shop/app/unused/__init__.py"
    assert any(d.file == unused for d in full.diagnostics)
    assert not any(d.file == unused for d in on_demand.diagnostics)


def test_a_module_looked_up_by_its_own_name_is_not_parsed_for_it(tmp_path: Path) -> None:
    """``records.Table(...)`` on an imported module may be a method of an object the
    package binds to that name: the lookup of ``app.records`` asks for the package's
    ``__init__.py``, which would bind it, not for ``records.py``, which defines names under
    it only (netbox parsed 13 such modules, 200 KB)."""
    tree = {
        "docker-compose.yml": "services:\n  shop:\n    build: ./shop\n",
        "shop/app/__init__.py": "",
        "shop/app/main.py": """\
            import requests

            from app import records


            def run():
                requests.get("http://users:8000/health", timeout=1)
                return records.Table("orders")
            """,
        # mentions settings (the everything-parsed prefilter takes it), has a syntax error
        "shop/app/records.py": """\
            from app import settings


            class Table:
                def __init__(self, name):
                    self.name = settings.PREFIX + name


            def broken(:
                pass
            """,
    }
    root = write(tmp_path / "repo", tree)
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    assert [s["line"] for s in narrow["call_sites"]] == [7]  # type: ignore[attr-defined]
    full = scan(root, ScanOptions(jobs=1, use_cache=False, full_parse=True))
    on_demand = scan(root, ScanOptions(jobs=1, use_cache=False))
    assert any(d.file == "shop/app/records.py" for d in full.diagnostics)
    assert not any(d.file == "shop/app/records.py" for d in on_demand.diagnostics)


def test_a_cached_on_demand_scan_equals_a_fresh_one_after_edits(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", TREE)
    cache = tmp_path / "cache"
    assert _comparable(root, full_parse=False, cache=cache) == _comparable(root, full_parse=True)
    # the settings module changes: the cached facts of orders.py stay, the answer follows
    (root / "shop/app/settings.py").write_text('USERS_URL = "http://shop:9000"\n')
    assert _comparable(root, full_parse=False, cache=cache) == _comparable(root, full_parse=True)
    # the client object moves to another module
    (root / "shop/app/http.py").write_text("from app.clients import session\n")
    write(root, {"shop/app/clients.py": "import httpx\nsession = httpx.Client()\n"})
    assert _comparable(root, full_parse=False, cache=cache) == _comparable(root, full_parse=True)


def test_a_text_a_frameworks_package_alone_passes_is_not_rejected_by_its_copy(
    tmp_path: Path,
) -> None:
    """A route read through a relative import inside a framework's package, in a text whose
    copy elsewhere is rejected: the cache remembers rejections by content, so a rerun must
    not take the copy's for the package's module."""
    routes = "from .routing import Route\n\nroutes = [Route('/orders', orders)]\n"
    root = write(
        tmp_path / "repo",
        {
            "starlette/__init__.py": "",
            "starlette/routing.py": "class Route: ...\n",
            "starlette/app.py": routes,
            "shop/__init__.py": "",
            "shop/app.py": routes,
        },
    )
    cache = tmp_path / "cache"
    fresh = _comparable(root, full_parse=False)
    assert [e["path"] for e in fresh["endpoints"]] == ["/orders"]  # type: ignore[index]
    assert _comparable(root, full_parse=False, cache=cache) == fresh
    # a call added elsewhere: the unchanged files are taken from the cache, what it
    # rejected included
    (root / "shop/__init__.py").write_text("import requests\n\nrequests.get('http://a/x')\n")
    again = _comparable(root, full_parse=False)
    assert again["endpoints"] == fresh["endpoints"] and again["call_sites"]
    assert _comparable(root, full_parse=False, cache=cache) == again
    assert _comparable(root, full_parse=True) == again


def test_the_cli_flag_selects_the_everything_parsed_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from decouple_services.cli.commands import app

    root = write(tmp_path / "repo", TREE)
    seen: list[bool] = []
    real = decouple_services.app.pipeline.scan

    def spy(path: Path, options: ScanOptions) -> object:
        seen.append(options.full_parse)
        return real(path, options)

    monkeypatch.setattr(decouple_services.app.pipeline, "scan", spy)
    runner = CliRunner()
    for extra in ([], ["--full-parse"]):
        result = runner.invoke(app, ["scan", str(root), "--no-cache", "-q", *extra])
        assert result.exit_code in (0, 1), result.output
    assert seen == [False, True]


# --- the pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        ("import urllib3\n", True),
        ("from .base import thing\nthing.get(URL)  # decouple: target=users\n", True),
        ('@router.get("/items")\nasync def items(): ...\n', True),
        ('@ bp . route("/x")\ndef x(): ...\n', True),
        ("from django.urls import path\nurlpatterns = []\n", True),
        ('from django.urls import path\nurls = [path("a/", view)]\n', True),
        ("from django.conf.urls import url\nurls = [url(r'^a/$', view)]\n", True),
        ("from django.urls import include\nurls = [include(router.urls)]\n", True),
        ("from starlette.routing import Route\nroutes = [Route('/', home)]\n", True),
        ("from rest_framework import routers\nrouter = routers.DefaultRouter()\n", True),
        ("from aiohttp import web\nroutes = [web.get('/', index)]\n", True),
        ("app.run(port=5001)\n", True),
        ("class UsersServicer(pb2_grpc.UsersServicer): ...\n", True),
        # Flask-RESTful and Flask-RESTX routes added without a decorator
        ('api.add_resource(Users, "/users")\n', True),
        ('api.add_namespace(users_ns, path="/users")\n', True),
        # a request helper of another package, in a file naming no client library
        (
            "from ansible.module_utils.urls import fetch_url\n"
            "r, info = fetch_url(module, url, data=json.dumps(dict(a=f(1))), headers=h)\n",
            True,
        ),
        ("from sdk import request\nrequest('POST', url, json=body)\n", True),
        ("from sdk import http\nhttp.make_request(method, url = u)\n", True),
        ("headers = {}\nget_thing(x)\n", False),
        ("get_thing(x, f(headers=1))\n", False),
        ("get_thing(headers == x)\n", False),
        ("from sdk import request\nrequest(record)\n", False),
        ("fetch(url, headers=h)\n", False),
        # what only the everything-parsed path takes
        ("from django.db import models\nfrom django.conf import settings\n", False),
        ('BASE_URL = "https://example.com"\nimport os\nos.environ["X"]\n', False),
        ("value = os.path.join(a, b)\nget_url(x)\n", False),
        ("@property\ndef name(self): return self.data.get('name')\n", False),
        # a route construct's words where no import of its framework can give it meaning
        ('AIRPORTS = {"HGU": ("Mount Hagen", "PG")}\n', False),
        ("class NetBoxRouter(BaseRouter): ...\n", False),
        ('urls = [path("a/", view)]\nurlpatterns = []\n', False),
        # nor where Django's are not imported, or a name only looks like them
        ('from django.db import models\nurls = [path("a/", view)]\n', False),
        ("from django.urls import reverse\nclass M:\n    def path(self): ...\n", False),
        ("from django.urls import reverse\nSVG = '<rect fill=\"url(#clip)\"/>'\n", False),
        ("from django.urls import reverse\nself.include(x)\n", False),
        ("routes = [web.get('/', index)]\n", False),
    ],
)
def test_the_candidate_prefilter(text: str, passes: bool) -> None:
    assert candidate_prefilter(_options()).passes(text.encode()) is passes  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "passes"),
    [("starlette.applications", True), ("fastapi_users.router", True), ("shop.app", False)],
)
def test_a_relative_import_inside_a_frameworks_package_may_name_it(
    module: str, passes: bool
) -> None:
    text = b"from .routing import Route\nroutes = [Route('/', home)]\n"
    assert candidate_prefilter(_options()).passes(text, module) is passes  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        # a library's name inside a longer identifier binds nothing
        ("from homeassistant.helpers.aiohttp_client import async_get_clientsession\n", False),
        ("from .aiohttp_client import get\nget(hass)\n", False),
        ("my_requests_helper(url)\n", False),
        ("pool = my_urllib3_pool()\nhttpx_mock.add_response()\n", False),
        # nor the word in a docstring, a comment or a string
        ('"""Send requests to the hub."""\n', False),
        ("# too many requests in a row\nrequests_made = 0\n", False),
        ("log.info('urllib said %s', x)\n", False),
        # nor an attribute of something else
        ("self.requests.get(url)\n", False),
        ("hass.helpers.aiohttp.ClientSession\n", False),
        # every import form
        ("import urllib3\n", True),
        ("import os, urllib3 as u\n", True),
        ("import os.path, \\\n    urllib3\n", True),
        ("import urllib.request as r\nr.urlopen(URL)\n", True),
        ("from aiohttp import ClientSession\n", True),
        ("from httpx._client import Client\n", True),
        ("from . import urllib3\n", True),
        ("from vendor import urllib3\n", True),
        ("from pkg import (\n    get,  # the verb (GET)\n    urllib3 as u,\n)\n", True),
        ("from pkg import(urllib3)\n", True),
        ("def fetch(url):\n    import httpx\n    return httpx.get(url)\n", True),
        ("x = 1; import urllib3\n", True),
        ("try: import grpc\nexcept ImportError: grpc = None\n", True),
        # names a compatibility layer binds to a standard module
        ("from six.moves import urllib_request as ur\nur.urlopen(URL)\n", True),
        ("from future.moves.urllib.request import urlopen\n", True),
        # a name held by another one passes its own files
        ("from requests_oauthlib import OAuth2Session\n", True),
        ("import urllib2\n", True),
        # an attribute base
        ("session = aiohttp.ClientSession()\n", True),
        ("session = aiohttp . ClientSession()\n", True),
        ("channel = grpc.insecure_channel(target)\n", True),
        ("httpx_client.get(url)\n", False),
        # aliasing: the name bound is the alias, the import names the library
        ("import requests as http\nhttp.get(url)\n", True),
        ("from httpx import AsyncClient as Client\n", True),
        # tokens that are substrings by design keep their meaning
        ("stub = users_pb2_grpc.UsersStub(channel)\n", True),
        ("class Users(users_pb2_grpc.UsersServicer): ...\n", True),
        ("conn = http.client.HTTPSConnection(host)\n", True),
        # the standard library's client by its module, not inside aiohttp's
        ("import http.client\n", True),
        ("from http.client import HTTPSConnection\n", True),
        ("from http import client\n", True),
        ("import http\nconn = http.client.HTTPConnection(host)\n", True),
        ("from aiohttp.client_exceptions import ClientConnectorError\n", False),
        # gRPC's calls are made on objects whose files name it in their identifiers
        ("def check(grpc_clients: ClientParams):\n    grpc_clients.users.request().get(r)\n", True),
    ],
)
def test_a_library_passes_a_file_only_named_as_code(text: str, passes: bool) -> None:
    prefilter = candidate_prefilter(_options())  # type: ignore[arg-type]
    assert prefilter.passes(text.encode()) is passes
    # the everything-parsed path still takes every file naming it at all
    broad = broad_prefilter(_options())  # type: ignore[arg-type]
    assert broad.passes(text.encode()) or not passes


def test_configured_clients_and_learned_helpers_pass_as_substrings() -> None:
    from dataclasses import replace

    from decouple_services.detect.registry import extract_options

    options = extract_options(custom_clients={"shop.rpc.Client"}, wrapper_names={"call_api"})
    # the configured client's detector takes its module, as a configured scan's does
    options = replace(options, client_modules=options.client_modules | {"shop"})
    prefilter = candidate_prefilter(options)
    assert b"requests" in prefilter.names and b"shop" not in prefilter.names
    assert prefilter.passes(b"self.call_api_v2(x)\n")
    assert prefilter.passes(b"value = UsersClient(x)\n")
    assert prefilter.passes(b"workshop = 1\n")
    assert not prefilter.passes(b"my_requests_helper(url)\n")


def test_a_call_through_a_client_made_elsewhere_is_found_without_the_library_named(
    tmp_path: Path,
) -> None:
    """The file using the session names ``requests`` only in its docstring and inside a
    longer identifier: not a candidate, yet asked for as a user of the client object, as
    parsing everything finds it."""
    orders = """\
        \"\"\"Places orders: sends requests to the users service.\"\"\"
        from app import settings
        from app.http import session
        from app.aiohttp_client import helper


        def place(order_id):
            session.post(settings.USERS_URL + "/orders", json={"id": order_id})
        """
    tree = {**TREE, "shop/app/orders.py": orders, "shop/app/aiohttp_client.py": "helper = 1\n"}
    root = write(tmp_path / "repo", tree)
    assert not candidate_prefilter(_options()).passes(textwrap.dedent(orders).encode())  # type: ignore[arg-type]
    site = _the_one_site(root)
    assert (site["file"], site["callee"]) == ("shop/app/orders.py", "users")


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        # what makes a request: the session class, the module's function, a session parameter
        ("from aiohttp import ClientSession\n", True),
        ("import aiohttp\nasync def f(s: aiohttp.ClientSession): ...\n", True),
        ("import aiohttp as ah\nclass Api(ah.ClientSession): ...\n", True),
        ('import aiohttp\ndef f(s: "aiohttp.ClientSession"): ...\n', True),
        ("from aiohttp import ClientError, request\n", True),
        ("from aiohttp import (\n    ClientError,  # raised\n    request,\n)\n", True),
        ("from aiohttp.client import request as fetch\n", True),
        ("from aiohttp import client\n", True),
        ("from .aiohttp import request\n", True),
        ("from aiohttp import *\n", True),
        ("import aiohttp\nasync def f():\n    await aiohttp.request('GET', URL)\n", True),
        ("import aiohttp as ah\nasync def f():\n    await ah . request('GET', URL)\n", True),
        ("import aiohttp.client as c\nc.request\n", True),
        ("import aiohttp.client\naiohttp.client.request\n", True),
        ("from aiohttp import ClientError\nasync def f(session, url): ...\n", True),
        ("from aiohttp import web\nasync def f(self, *, http_client=None): ...\n", True),
        (
            "from aiohttp import web\nasync def f(\n    x: int = len('(,'),\n    http\n): ...\n",
            True,
        ),
        ("from aiohttp import web\ndef f(a,  # (\n      http_session): ...\n", True),
        # what makes none: errors, the server side, types, a session named otherwise
        ("from aiohttp import ClientError, ClientResponseError\n", False),
        ("from aiohttp import web\nasync def handle(request):\n    return web.Response()\n", False),
        ("import aiohttp\nexcept aiohttp.ClientError: pass\n", False),
        ("from aiohttp.hdrs import AUTHORIZATION\n", False),
        ("from aiohttp import ClientSessionTimeout\n", False),
        ("from aiohttp import web_request\n", False),
        ("from aiohttp import ClientError\nsession = get_session()\nsession.get(url)\n", False),
        ("from aiohttp import ClientError\nasync def f(session: Api): ...\n", False),
        ("from aiohttp import ClientError\nasync def f(x):\n    Api(session, x)\n", False),
        ("from aiohttp import ClientError\nasync def f(x=g(session)): ...\n", False),
        ("from aiohttp import ClientError\nasync def f(x):\n    y(session=session)\n", False),
        ("from aiohttp import ClientError\nasync def f(my_session, url): ...\n", False),
        ("from aiohttp import ClientError\nasync def f(x='(', y=')'): self.session\n", False),
        ("from aiohttp import ClientError\nhass.request(x)\nself.aiohttp.request\n", False),
        # without aiohttp named as code, its names pass nothing
        ("# a ClientSession made elsewhere\n", False),
        ("async def f(session, url): ...\n", False),
    ],
)
def test_aiohttp_passes_a_file_only_where_it_may_make_a_request(text: str, passes: bool) -> None:
    assert candidate_prefilter(_options()).passes(text.encode()) is passes  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        # what makes a request: a module function, a session, a name bound to either
        ("import requests\nrequests.get(URL)\n", True),
        ("import requests\nwith requests.Session() as s: ...\n", True),
        ("import requests\ns = requests . session()\n", True),
        ("import requests\ndef f(s: requests.Session): ...\n", True),
        ("import requests\nclass Api(requests.Session): ...\n", True),
        ("import requests.sessions\nrequests.sessions.Session()\n", True),
        ("import requests.api as api\napi.request('GET', URL)\n", True),
        ("import os, requests as r\nr.post(URL)\n", True),
        ("from requests import Session\n", True),
        ("from requests import (\n    RequestException,  # raised\n    get,\n)\n", True),
        ("from requests import post as send\n", True),
        ("from requests import *\n", True),
        ("from requests import sessions\n", True),
        ("import requests\ngetattr(requests, method.lower())(URL)\n", True),
        ("from requests import HTTPError\ndef f(session, url): ...\n", True),
        # another package's request helper in a file that also names requests
        ("from requests import HTTPError\napi.request('GET', url=URL)\n", True),
        ("from requests import HTTPError\nget_items(token, headers=HEADERS)\n", True),
        # what makes none: errors, status codes, adapters, a session named otherwise
        ("from requests.exceptions import RequestException\n", False),
        ("import requests\nexcept requests.exceptions.HTTPError: pass\n", False),
        ("import requests\nif r.status_code == requests.codes.ok: pass\n", False),
        ("from requests.adapters import HTTPAdapter\n", False),
        ("import requests\nsession = make_session()\nsession.get(url)\n", False),
        ("from requests import HTTPError\nself.requests.get(url)\n", False),
        # httpx alike: its functions and clients, not its errors or its response type
        ("import httpx\nasync with httpx.AsyncClient() as c: ...\n", True),
        ("import httpx\nwith httpx.stream('GET', URL) as r: ...\n", True),
        ("from httpx import AsyncClient\n", True),
        ("from httpx._client import Client\n", True),
        ("import httpx\nexcept httpx.HTTPStatusError: pass\n", False),
        ("import httpx\ndef parse(response: httpx.Response): ...\n", False),
        # urllib: a function, an opener (a Request is sent by one of them)
        ("from urllib.request import urlopen\n", True),
        ("import urllib.request\nopener = urllib.request.build_opener(handler)\n", True),
        ("from urllib import request\nrequest.urlretrieve(URL, path)\n", True),
        ("import urllib\nclass Fetch(urllib.request.OpenerDirector): ...\n", True),
        ("from urllib2 import urlopen\n", True),
        # not urls built, a request object alone
        ("from urllib.parse import urlencode, urljoin\n", False),
        ("import urllib.parse\nurllib.parse.quote(x)\n", False),
        ("from six.moves.urllib.parse import urlparse\n", False),
        ("from urllib.request import Request\nreq = Request(URL)\n", False),
        # nor its names without urllib named as code
        ("with urlopen(URL) as response: ...\n", False),
    ],
)
def test_requests_httpx_and_urllib_pass_a_file_only_where_they_may_make_a_request(
    text: str, passes: bool
) -> None:
    assert candidate_prefilter(_options()).passes(text.encode()) is passes  # type: ignore[arg-type]


def test_the_aiohttp_gate_knows_every_parameter_name_a_session_is_given() -> None:
    from decouple_services.detect.context import SESSION_PARAMS

    prefilter = candidate_prefilter(_options())  # type: ignore[arg-type]
    for name in SESSION_PARAMS:
        text = f"from aiohttp import ClientError\nasync def f(url, {name}):\n    {name}.get(url)\n"
        assert prefilter.passes(text.encode()), name


@pytest.mark.parametrize(
    "body",
    [
        "from aiohttp import ClientSession\n\nasync def go():\n"
        "    async with ClientSession() as s:\n        await s.get(URL)\n",
        "import aiohttp\n\nasync def go():\n    await aiohttp.request('GET', URL)\n",
        "from aiohttp import ClientError\n\nasync def go(session):\n    await session.get(URL)\n",
        "import aiohttp\n\nasync def go(s: aiohttp.ClientSession):\n    await s.post(URL)\n",
        "from aiohttp import ClientError, web\n\nasync def go(s):\n    await s.get(URL)\n",
        "from aiohttp import ClientError\n\nasync def go(session: Api):\n    await session.get(URL)\n",
    ],
)
def test_a_file_the_aiohttp_gate_keeps_out_makes_no_request_of_its_own(
    tmp_path: Path, body: str
) -> None:
    """What extraction takes from the file's own text, parsed whatever the gate says,
    against the gate: a file it keeps out holds no aiohttp request."""
    root = write(
        tmp_path / "repo",
        {
            **TREE,
            "shop/app/orders.py": 'URL = "http://users:8000/orders"\n' + body,
        },
    )
    sites = _comparable(root, full_parse=True)["call_sites"]
    assert isinstance(sites, list)
    found = any(s["file"] == "shop/app/orders.py" for s in sites)
    text = (root / "shop/app/orders.py").read_bytes()
    assert candidate_prefilter(_options()).passes(text) is found  # type: ignore[arg-type]


def test_a_call_on_an_aiohttp_session_made_elsewhere_is_found_in_a_file_importing_its_errors(
    tmp_path: Path,
) -> None:
    """The file importing only ``ClientError`` from aiohttp is no candidate: it is asked for
    as a user of the session another module makes, as parsing everything finds it."""
    orders = """\
        from aiohttp import ClientError
        from app import settings
        from app.http import session


        async def place(order_id):
            try:
                await session.post(settings.USERS_URL + "/orders", json={"id": order_id})
            except ClientError:
                pass
        """
    http = """\
        import aiohttp
        session = aiohttp.ClientSession()
        """
    root = write(
        tmp_path / "repo", {**TREE, "shop/app/orders.py": orders, "shop/app/http.py": http}
    )
    assert not candidate_prefilter(_options()).passes(textwrap.dedent(orders).encode())  # type: ignore[arg-type]
    site = _the_one_site(root)
    assert (site["file"], site["callee"], site["client"]) == (
        "shop/app/orders.py",
        "users",
        "aiohttp",
    )


def test_the_library_gate_finds_what_the_substring_test_found_on_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample scanned with the libraries' names as substrings (the test of earlier
    versions) and as code: the same result, from fewer candidates. Every file of the copy
    ends with a comment naming libraries as words, which only the substrings take."""
    from decouple_services.app.demand import Prefilter

    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    for path in root.rglob("*.py"):
        with path.open("a", encoding="utf-8") as out:
            out.write("\n# Sends requests through the aiohttp_client helpers (httpx_mock).\n")

    def as_substrings(self: object, options: object) -> Prefilter:
        new = candidate_prefilter(options)  # type: ignore[arg-type]
        return Prefilter(tuple(sorted(new.tokens + new.names)), new.patterns, reexports=False)

    gate = candidate_prefilter(_options())  # type: ignore[arg-type]
    substrings = as_substrings(None, _options())
    texts = [p.read_bytes() for p in root.rglob("*.py")]
    assert sum(map(gate.passes, texts)) < sum(map(substrings.passes, texts)) == len(texts)
    found = _comparable(root, full_parse=False)
    assert found == _comparable(root, full_parse=True)
    monkeypatch.setattr(decouple_services.app.pipeline._Demand, "candidates", as_substrings)
    assert _comparable(root, full_parse=False) == found


def test_asked_qualnames_map_to_every_module_of_that_name() -> None:
    modules = {"app.config": ["a/app/config.py", "b/app/config.py"], "app": ["a/app/__init__.py"]}
    asked = Asked(qualnames={"app.config.settings.USERS_URL"})
    found = asked_paths(
        asked, modules, ["a/app/config.py", "b/app/config.py", "x.py"], lambda p: b""
    )
    assert found == {"a/app/config.py", "b/app/config.py"}
    # a module's own name is bound by its package, if anywhere
    unparsed = ["a/app/config.py", "a/app/__init__.py"]
    assert asked_paths(Asked(qualnames={"app.config"}), modules, unparsed, lambda p: b"") == {
        "a/app/__init__.py"
    }
    assert not asked_paths(Asked(qualnames={"app"}), modules, unparsed, lambda p: b"")


def test_django_settings_and_slots_are_asked_by_what_defines_them() -> None:
    modules = {"site.settings.base": ["site/settings/base.py"], "site.views": ["site/views.py"]}
    texts = {
        "site/settings/base.py": b"X = 1\n",
        "site/views.py": b"app.state.http = make()\n",
        "site/other.py": b"http = 1\n",
    }
    asked = Asked(django_settings=True, words={slot_words("@state.http")})
    found = asked_paths(asked, modules, sorted(texts), texts.get)
    assert found == {"site/settings/base.py", "site/views.py"}


@pytest.mark.parametrize(
    ("qualname", "words"),
    [
        ("@state.http", ("state", ".http")),
        ("@app[session]", ("session",)),
        ("@app[shop.keys.SESSION].loop.call_later()", ("SESSION",)),
        ("@state", ()),
    ],
)
def test_slot_words(qualname: str, words: tuple[str, ...]) -> None:
    assert slot_words(qualname) == words


def test_a_lookup_through_an_application_slot_asks_for_the_slots_key() -> None:
    asked = Asked()
    ask(asked, ("q", "@app[shop.keys.SESSION].loop.call_later()"))
    ask(asked, ("q", "@answer.group"))
    assert asked.keys == {"SESSION"}
    assert not asked.words and not asked.qualnames


def test_client_objects_are_definitions_holding_a_client_not_what_its_calls_return() -> None:
    source = textwrap.dedent(
        """\
        import requests
        from .base import Base
        session = requests.Session()
        alias = session
        body = session.get("http://x").json()
        count = 3


        def make():
            return requests.Session()
        """
    ).encode()
    facts = extract_facts(source, "pkg/http.py", "pkg.http", _options())  # type: ignore[arg-type]
    names = client_names([facts], _options())  # type: ignore[arg-type]
    assert names == {"pkg.http.session", "pkg.http.alias", "pkg.http.make"}
    # held in a variable, not a function returning one (a module may alias a function for
    # other files to import by name: its users are not only those naming an attribute)
    found = ClientNames(_options())  # type: ignore[arg-type]
    assert found([facts]) == names
    assert found.held() == {"pkg.http.session", "pkg.http.alias"}


def test_naming_needs_every_word_of_a_group() -> None:
    texts = {"a.py": b"state.http = 1", "b.py": b"http = 1", "c.py": b"https = 1"}
    assert naming(sorted(texts), [("state", "http")], texts.get) == ["a.py"]
    assert naming(sorted(texts), ["http"], texts.get) == ["a.py", "b.py"]


def test_a_state_slot_is_looked_for_where_a_file_may_fill_it() -> None:
    texts = {
        "assigns.py": b"request.app.state.http = make()\n",
        "spaced.py": b"state = request.state\nstate . http = make()\n",
        "lifespan.py": b"async def lifespan(app):  # request.state\n    yield {'http': make()}\n",
        # names both words, neither way
        "column.py": b"state = 1\nColumn('http')\n",
        "variable.py": b"state = 1\nhttp = make()\n",
    }
    found = naming(sorted(texts), [slot_words("@state.http")], texts.get)
    assert found == ["assigns.py", "lifespan.py", "spaced.py"]


def test_a_fixture_is_looked_for_where_a_parameter_may_name_it() -> None:
    texts = {
        "imports.py": b"from shop.models import User\nimport shop.api\nshop.api.get()\n",
        "param.py": b"from shop.models import User\n\ndef test_x(shop, user):\n    pass\n",
        "lines.py": b"async def test_y(\n    shop\n):\n    await shop.get()\n",
        "typed.py": b"def test_z(shop: Client) -> None: ...\n",
        "longer.py": b"def test_w(shop_api): shop_api.get()\n",
        "spaced.py": b"x = shop \n    .api\n",
        # a word of a string, a comment, an import or a call's receiver: no parameter
        "string.py": b"NAME = 'shop'\nassert kind == \"shop\"\n",
        "comment.py": b"# the shop is closed\nimport shop\nfrom x import shop as s\n",
        # every other place a parameter's name may stand in a signature
        "default.py": b"def test_d(shop=None): ...\n",
        "last.py": b"def test_l(user, shop): ...\n",
        "keyword.py": b"def test_k(*, shop, user): ...\n",
        "noted.py": b"def test_n(\n    shop  # the fixture\n): ...\n",
        "continued.py": b"def test_c(shop \\\n, user): ...\n",
    }
    found = naming_parameter(sorted(texts), "shop", texts.get)
    assert found == [
        "continued.py",
        "default.py",
        "keyword.py",
        "last.py",
        "lines.py",
        "noted.py",
        "param.py",
        "typed.py",
    ]


FIXTURE_TREE = {
    "docker-compose.yml": TREE["docker-compose.yml"],
    "users/svc/__init__.py": "",
    "users/svc/api.py": TREE["users/svc/api.py"],
    "shop/shop/__init__.py": "",
    "shop/shop/models.py": "import os\nUSERS_URL = os.environ.get('USERS_URL', 'http://users:8000')\n",
    "shop/tests/conftest.py": """\
        import pytest
        import requests


        @pytest.fixture
        def shop():
            return requests.Session()
        """,
    "shop/tests/test_elsewhere.py": """\
        from shop.models import USERS_URL


        def test_there(shop):
            shop.post(USERS_URL + "/orders")
        """,
    "shop/tests/test_models.py": """\
        from shop.models import USERS_URL

        def broken(:
            return USERS_URL
        """,
}


def test_a_fixture_named_like_the_package_asks_only_for_files_that_may_take_it(
    tmp_path: Path,
) -> None:
    """A ``shop`` fixture in a project whose package is ``shop``: a test importing from the
    package is not parsed for it (its syntax error stays unreported), the one taking it as
    a parameter is, and its request is found as ``--full-parse`` finds it."""
    root = write(tmp_path / "repo", FIXTURE_TREE)
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    (site,) = narrow["call_sites"]  # type: ignore[misc]
    assert (site["file"], site["callee"]) == ("shop/tests/test_elsewhere.py", "users")
    on_demand = scan(root, ScanOptions(jobs=1, use_cache=False))
    assert not any(d.file == "shop/tests/test_models.py" for d in on_demand.diagnostics)


def test_an_application_slot_is_asked_from_the_files_filling_it() -> None:
    texts = {
        "a.py": b'app["session"] = ClientSession()\n',
        "b.py": b"app[SESSION]: ClientSession = make()\n",
        "c.py": b'session = request.app["session"]\nif app["session"] == x: pass\n',
    }
    asked = Asked(keys={"session", "SESSION"})
    found = asked_paths(asked, {}, sorted(texts), texts.get)
    assert found == {"a.py", "b.py"}


def test_an_attribute_inherited_from_a_base_class_nothing_else_asks_for_is_found(
    tmp_path: Path,
) -> None:
    # base.py names no client and nothing looks a name up in it: only the search for the
    # inherited attribute leads there
    root = write(
        tmp_path / "repo",
        {
            "docker-compose.yml": "services:\n  shop:\n    build: ./shop\n"
            "  users:\n    build: ./users\n",
            "shop/app/__init__.py": "",
            "shop/app/base.py": """\
                class BaseClient:
                    base_url = "http://users:8000"
                """,
            "shop/app/api.py": """\
                import requests

                from app.base import BaseClient


                class UsersClient(BaseClient):
                    def fetch(self, user_id):
                        return requests.get(f"{self.base_url}/users/{user_id}", timeout=1)
                """,
        },
    )
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    (site,) = narrow["call_sites"]  # type: ignore[misc]
    assert site["callee"] == "users"
    # a negative: the attribute defined nowhere is asked for, and no module answers
    (root / "shop/app/base.py").write_text("class BaseClient:\n    timeout = 3\n")
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    (site,) = narrow["call_sites"]  # type: ignore[misc]
    assert site["callee"] != "users"


def test_the_objects_of_a_class_are_asked_from_the_files_that_may_build_one() -> None:
    texts = {
        "call.py": b"from m import Organization\nORG = Organization(id=1)\n",
        "attr.py": b"import m\nORG = m.Organization (\n    id=1,\n)\n",
        "alias.py": b"from m import Organization as Org\nORG = Org(id=1)\n",
        "annotates.py": b"from m import Organization\ndef f(o: Organization) -> None: ...\n",
        "other.py": b"ORG = MyOrganization(id=1)\nx = Organizations(2)\n",
        "named.py": b"from m import Organization\nORG = Organization(name='x')\n",
        "compares.py": b"from m import Organization\nORG = Organization()\nok = ORG.id == 1\n",
    }
    built = {"call.py", "attr.py", "alias.py", "named.py", "compares.py"}
    found = asked_paths(Asked(built={("Organization",)}), {}, sorted(texts), texts.get)
    assert found == built
    # a field read of them, given by keyword only: the files passing that keyword
    found = asked_paths(Asked(built={("Organization", "id")}), {}, sorted(texts), texts.get)
    assert found == built - {"named.py", "compares.py"}
    both = Asked(built={("Organization", "id"), ("Organization",)})
    assert asked_paths(both, {}, sorted(texts), texts.get) == built


def test_many_classes_are_looked_for_in_one_scan_with_the_same_answers() -> None:
    from decouple_services.app.demand import building

    # past a few needles a file is scanned once for all of them (`holding`): each answer
    # is still the union of the answers for each alone
    classes = ["Org", "Organization", "User", "UserSeat", "Seat", "Account", "Acc"]
    texts = {
        f"f{i}.py": f"from m import {a}, {b}\nX = {a}(id=1)\ny: {b} = {b}s(2)\n".encode()
        for i, (a, b) in enumerate(zip(classes, classes[1:] + classes[:1], strict=True))
    } | {"none.py": b"pass\n", "as.py": b"from m import UserSeat as S\n"}
    paths = sorted(texts)
    asked = [(c,) for c in classes] + [(c, "id") for c in classes]
    assert len(asked) > 6
    each = {p for c in asked for p in building(paths, [c], texts.get)}
    assert set(building(paths, asked, texts.get)) == each
    assert each == {*(f"f{i}.py" for i in range(len(classes))), "as.py"}


#: A call whose url is a field of an annotated parameter: the value every object of its
#: class is built with, here in a module naming no client, under another name.
BUILT = {
    "docker-compose.yml": "services:\n  shop:\n    build: ./shop\n  users:\n    build: ./users\n",
    "shop/app/__init__.py": "",
    "shop/app/commands.py": """\
        class Command:
            def __init__(self, target: str) -> None:
                self.target = target
        """,
    "shop/app/jobs.py": """\
        from app.commands import Command as Cmd

        JOB = Cmd(target="http://users:8000")
        """,
    "shop/app/send.py": """\
        import requests

        from app.commands import Command


        def send(command: Command) -> None:
            requests.post(command.target + "/orders", json={}, timeout=1)
        """,
    # names the class (and `settings`, which the everything-parsed prefilter takes), builds
    # no object of it, and has a syntax error: reported only when it is parsed
    "shop/app/describe.py": """\
        from app import settings
        from app.commands import Command


        def describe(command: Command) -> str:
            return command.target + settings.SUFFIX

        def broken(:
            pass
        """,
    # builds one without the field as a keyword, which a field is read from only
    "shop/app/fallback.py": """\
        from app import settings
        from app.commands import Command

        FALLBACK = Command(settings.FALLBACK_URL)

        def broken(:
            pass
        """,
    "users/svc/__init__.py": "",
    "users/svc/api.py": """\
        from flask import Flask
        app = Flask(__name__)


        @app.route("/orders", methods=["POST"])
        def orders():
            return {}
        """,
}


def test_a_field_is_read_from_the_objects_built_and_annotations_are_not_parsed(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "repo", BUILT)
    narrow = _comparable(root, full_parse=False)
    assert narrow == _comparable(root, full_parse=True)
    (site,) = narrow["call_sites"]  # type: ignore[misc]
    assert site["callee"] == "users"
    assert site["endpoint"] == "POST /orders"
    scanned = scan(root, ScanOptions(jobs=1, use_cache=False))
    unparsed = {"shop/app/describe.py", "shop/app/fallback.py"}
    assert not any(d.file in unparsed for d in scanned.diagnostics)


#: A helper in a constructor, used by a function of its module that leaves the helper's
#: ``pin`` unset: the objects of the class are read for it, not "objects" of the module,
#: which would ask for every file calling a function named like it (``pins(...)``).
MODULE_FUNCTION_USE = {
    "docker-compose.yml": "services:\n  shop:\n    build: ./shop\n",
    "shop/app/__init__.py": "",
    "shop/app/pins.py": """\
        import requests


        class Pin:
            def __init__(self, resource, pin=None):
                if pin is not None:
                    requests.get(f"{resource}/mode/{pin}", timeout=10)


        def setup():
            return Pin("http://users:8000")
        """,
    # mentions settings (the everything-parsed prefilter takes it), calls `pins(...)` and
    # has a syntax error: reported only when it is parsed
    "shop/app/wiring.py": """\
        from app import settings


        def wire(pins):
            return pins(settings.BOARD)


        def broken(:
            pass
        """,
}


def test_the_objects_of_a_class_are_read_for_its_constructor_not_of_the_users_module(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "repo", MODULE_FUNCTION_USE)
    narrow = both_ways(root)
    templates = sorted(s["url_template"] for s in narrow["call_sites"])  # type: ignore[attr-defined]
    assert templates == ["http://users:8000/mode/{pin}", "{resource}/mode/{pin}"]
    assert not parsed(root, "shop/app/wiring.py")


#: A helper whose host comes from its parameter, invoked in one file and only patched, by
#: a dotted string, in another.
PATCHED_HELPER = {
    "docker-compose.yml": """\
        services:
          shop:
            build: ./shop
          users:
            build: ./users
        """,
    "shop/app/__init__.py": "",
    "shop/app/remote.py": """\
        import requests


        def fetch(url):
            return requests.get(url, timeout=10)
        """,
    "shop/app/orders.py": """\
        from app import remote


        def order():
            return remote.fetch("http://users:8000/users")
        """,
    # connected to the helper's module, names `fetch` only at the end of a string (and
    # `settings`, which the everything-parsed prefilter takes); a syntax error: reported
    # only when it is parsed
    "shop/app/test_orders.py": """\
        from unittest import mock

        from app import remote, settings


        def test_order():
            with mock.patch("app.remote.fetch"):
                assert remote


        def broken(:
            pass
        """,
}


def test_a_helper_named_only_at_the_end_of_a_string_is_not_looked_for_there(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "repo", PATCHED_HELPER)
    narrow = both_ways(root)
    sites = {(s["file"], s["url_template"]) for s in narrow["call_sites"]}  # type: ignore[attr-defined,index]
    assert ("shop/app/orders.py", "http://users:8000/users") in sites
    assert not parsed(root, "shop/app/test_orders.py")
    assert parsed(root, "shop/app/test_orders.py", full_parse=True)


def test_the_prefilter_passes_a_file_holding_a_token_anywhere() -> None:
    from decouple_services.app.demand import Prefilter

    # tokens nested in one another, sharing a leading word, or a prefix of a longer word
    tokens = (b"add_get", b"add_post", b"urllib", b"urllib3", b"fastapi_proxy", b"grpc")
    texts = [
        b"",
        b"add_",
        b"app.add_get(",
        b"add_post",
        b"async_add_entities(); r.add_post(",
        b"add_ge",
        b"import urllib3",
        b"fastapi_",
        b"grpc",
        b"my_grpc_stub",
    ]
    prefilter = Prefilter(tokens)
    assert [prefilter.passes(t) for t in texts] == [
        any(token in t for token in tokens) for t in texts
    ]


def test_a_call_is_matched_to_the_endpoints_once_over_the_rounds_of_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import decouple_services.resolve.endpoints as endpoints_module

    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    asked: list[tuple[object, ...]] = []
    match = endpoints_module.match_endpoint

    def counting(method: str | None, path: str, candidates: object) -> object:
        asked.append((method, path, tuple(candidates)))  # type: ignore[arg-type]
        return match(method, path, candidates)  # type: ignore[arg-type]

    monkeypatch.setattr(endpoints_module, "match_endpoint", counting)
    scan(root, ScanOptions(jobs=1, use_cache=False))
    assert asked
    assert len(asked) == len(set(asked))


def test_a_rerun_finds_an_unparsed_file_that_now_builds_a_class_looked_for() -> None:
    from decouple_services.app.edits import _query_ok, found_by_queries

    query = ["built", [["Organization"]]]
    keyword = ["built", [["Organization", "id"]]]
    assert _query_ok(query) and _query_ok(keyword)
    assert not _query_ok(["built", ["Organization"]])
    texts = {
        "a.py": b"def f(o: Organization) -> None: ...\n",
        "b.py": b"ORG = Organization(id=1)\n",
        "c.py": b"ORG = Organization(name='x')\n",
    }

    def no_graph() -> object:
        raise AssertionError("a class search follows no imports")

    def found(query: list[object]) -> set[str]:
        return {p for p in texts if found_by_queries(p, [query], texts.get, no_graph)}  # type: ignore[arg-type]

    assert found(query) == {"b.py", "c.py"}
    assert found(keyword) == {"b.py"}


class _Tables:
    """What the memo asks of an index: its tables by name."""

    def __init__(self, **tables: dict[object, object]) -> None:
        self.tables = tables

    def table(self, name: str) -> dict[object, object]:
        return self.tables[name]


def _resolved(memo: RoundMemo, facts: FileFacts, reads: list[tuple[str, object]], site: bool):
    """``facts`` resolved afresh under ``memo``, reading ``reads``."""
    from decouple_services.resolve.calls import CallOutcome, FilePass

    memo.enter(facts)
    for table, key in reads:
        memo.read(table, key)
    result = FilePass((CallOutcome(None, object() if site else None),))  # type: ignore[arg-type]
    memo.keep(facts, result)
    return result


def _round(
    memo: RoundMemo, index: _Tables, endpoints: object = (), checking: frozenset[str] = frozenset()
) -> None:
    memo.context(["config"], [endpoints])
    memo.start(index, checking)  # type: ignore[arg-type]


def test_a_resolution_is_kept_between_rounds_while_what_it_read_is_the_same() -> None:
    facts = FileFacts("a.py", "a", calls=())
    value = [("b.py", "definition")]
    index = _Tables(constants={"b.URL": value}, functions={})
    memo = RoundMemo()
    _round(memo, index)
    assert memo.recall(facts) is None
    kept = _resolved(memo, facts, [("constants", "b.URL"), ("functions", "b.f")], site=False)
    # another round, the same definitions (the tables keep a list while its files stay)
    index = _Tables(constants={"b.URL": value, "c.X": [("c.py", "x")]}, functions={})
    _round(memo, index)
    assert memo.recall(facts) is kept
    # a miss that is now found, a definition that changed, other facts for the file
    for changed, other in (
        (_Tables(constants={"b.URL": value}, functions={"b.f": [("b.py", "f")]}), facts),
        (_Tables(constants={"b.URL": [("b.py", "definition")]}, functions={}), facts),
        (index, FileFacts("a.py", "a", calls=())),
    ):
        _round(memo, changed)
        assert memo.recall(other) is None
        _round(memo, index)
        assert memo.recall(facts) is kept


def test_a_call_site_is_resolved_again_when_the_endpoints_change() -> None:
    with_site, without = FileFacts("a.py", "a"), FileFacts("b.py", "b")
    index = _Tables(constants={})
    memo = RoundMemo()
    _round(memo, index, endpoints=("GET /a",))
    _resolved(memo, with_site, [], site=True)
    plain = _resolved(memo, without, [], site=False)
    _round(memo, index, endpoints=("GET /a", "GET /b"))
    assert memo.recall(with_site) is None
    assert memo.recall(without) is plain


def test_a_call_site_is_resolved_again_when_a_client_it_asked_about_checks_otherwise() -> None:
    """Whether a client checks its requests' success is read client by client: functions
    checking theirs found in a later round change only the sites through them."""
    from decouple_services.resolve.calls import CallOutcome, FilePass

    through, plain = FileFacts("a.py", "a"), FileFacts("b.py", "b")
    index = _Tables(constants={})
    memo = RoundMemo()
    _round(memo, index)
    memo.enter(through)
    memo.checked("shop.rpc.call")
    kept = FilePass((CallOutcome(None, object()),))  # type: ignore[arg-type]
    memo.keep(through, kept)
    other = _resolved(memo, plain, [], site=True)
    # a function checking its requests, through which a.py asked nothing
    _round(memo, index, checking=frozenset({"shop.jobs.sync"}))
    assert memo.recall(through) is kept
    assert memo.recall(plain) is other
    # the client a.py asked about now checks its requests' success, and then no more
    _round(memo, index, checking=frozenset({"shop.jobs.sync", "shop.rpc.call"}))
    assert memo.recall(through) is None
    assert memo.recall(plain) is other
    _round(memo, index)
    assert memo.recall(through) is kept


def test_a_resolution_that_walked_a_table_is_not_kept() -> None:
    facts = FileFacts("a.py", "a")
    index = _Tables(constants={})
    memo = RoundMemo()
    _round(memo, index)
    _resolved(memo, facts, [("constants", "*")], site=False)
    _round(memo, index)
    assert memo.recall(facts) is None


def test_the_rounds_of_asking_resolve_again_only_files_whose_reads_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--no-cache`` resolves a file once per round of asking only while a definition it
    read changes; the result is still that of parsing everything, resolved afresh."""
    from decouple_services.resolve.calls import CallResolver

    tree = {
        **TREE,
        # a call that reads nothing another file defines: resolved once
        "shop/app/ping.py": """\
            import requests


            def ping():
                requests.get("http://users:8000/orders")
            """,
    }
    root = write(tmp_path / "repo", tree)
    resolved: list[str] = []
    first_pass = CallResolver._first_pass

    def counting(self: CallResolver, facts: FileFacts) -> object:
        resolved.append(facts.path)
        return first_pass(self, facts)

    monkeypatch.setattr(CallResolver, "_first_pass", counting)
    narrow = _comparable(root, full_parse=False)
    on_demand = list(resolved)
    resolved.clear()
    assert narrow == _comparable(root, full_parse=True)
    assert on_demand.count("shop/app/ping.py") == 1
    # orders.py reads the settings and the client object parsed in later rounds
    assert on_demand.count("shop/app/orders.py") > 1


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
def test_a_call_site_is_not_resolved_again_for_a_function_checking_other_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool
) -> None:
    """A later round parses a function that checks its own request's success: how a call
    site reads depends on that only for a call through that function, so a site through
    ``requests`` is not resolved again for it (the rounds' memo without a cache, the
    cache's with one)."""
    from decouple_services.app.incremental import SiteMemo
    from decouple_services.resolve.calls import CallResolver

    tree = {
        **TREE,
        # parsed in a later round: it defines the setting orders.py reads
        "shop/app/settings.py": """\
            import os
            from app.http import session

            USERS_URL = os.environ.get("USERS_URL", "http://users:8000")


            def users_up():
                session.get(USERS_URL + "/health").raise_for_status()
            """,
        "shop/app/ping.py": """\
            import requests


            def ping():
                requests.get("http://users:8000/orders")
            """,
    }
    root = write(tmp_path / "repo", tree)
    resolved: list[str] = []
    checking: list[frozenset[str]] = []
    first_pass = CallResolver._first_pass

    def counting(self: CallResolver, facts: FileFacts) -> object:
        resolved.append(facts.path)
        if self._checking not in checking:
            checking.append(self._checking)
        return first_pass(self, facts)

    memo: type[RoundMemo | SiteMemo] = SiteMemo if cached else RoundMemo
    checked = memo.checked
    asked: list[str] = []

    def noting(self: RoundMemo | SiteMemo, client: str) -> None:
        asked.append(client)
        checked(self, client)  # type: ignore[arg-type]

    monkeypatch.setattr(CallResolver, "_first_pass", counting)
    monkeypatch.setattr(memo, "checked", noting)
    narrow = _comparable(root, full_parse=False, cache=tmp_path / "cache" if cached else None)
    on_demand = list(resolved)
    assert narrow == _comparable(root, full_parse=True)
    # each site's client was asked about, for the memo to compare in the next round
    assert {"requests", "requests.Session"} <= set(asked)
    # the rounds saw the checking function appear
    assert checking[0] == frozenset() and frozenset({"app.settings.users_up"}) in checking
    assert on_demand.count("shop/app/ping.py") == 1
    sites = narrow["call_sites"]
    assert isinstance(sites, list)
    assert {(s["file"], s["result_used"]) for s in sites} >= {("shop/app/settings.py", True)}


def test_assigning_finds_what_each_keys_pattern_finds() -> None:
    """The keys are tested only before an assigned subscript's `]`: the same files as
    trying each key's pattern over the whole text."""
    import re

    from decouple_services.app.demand import _whole, assigning

    def reference(text: bytes, keys: list[str]) -> bool:
        for key in keys:
            pattern = re.compile(
                re.escape(key.encode()) + rb"['\"]?[ \t]*\][ \t]*(?::[^=\n]*)?=(?!=)"
            )
            if key.encode() in text and _whole(text, pattern, b"."):
                return True
        return False

    keys = ["get", "session", "key ", "get()", "KEY_HASS"]
    texts = [
        b'app["session"] = s\n',
        b"app[session]: Session = s\n",
        b"app['session' ] = s\n",
        b"app[session] == s\n",
        b"x.get(1)\nx[y.get] = 1\n",
        b"x[aget] = 1\n",
        b'x["a"]: Dict[get] = 1\n',
        b"x[b.get]: Dict[get] = 1\n",
        b'app["key "] = 1\n',
        b'app["key"] = 1\n',
        b"d[get()] = 2\n",
        b"d[get()]\t=\t2\n",
        b"hass.data[KEY_HASS]=1",
        b"hass.data[KEY_HASS] = {}\nother[get]",
        b"]=1",
        b"",
    ]
    read = dict((str(i), t) for i, t in enumerate(texts)).get
    found = assigning([str(i) for i in range(len(texts))], keys, read)
    assert found == [str(i) for i, t in enumerate(texts) if reference(t, keys)]
    assert found  # the texts hold both kinds
    assert len(found) < len(texts)


def test_the_searches_of_a_scan_read_each_unparsed_file_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each round of asking searches the files not parsed yet: their texts are kept from
    the first search, so only a parsed file is read again (by the import graph and a
    helper pass's selection, once each)."""
    reads: dict[str, int] = {}
    read = decouple_services.app.pipeline._read

    def counted(path: str) -> bytes | None:
        reads[path] = reads.get(path, 0) + 1
        return read(path)

    monkeypatch.setattr(decouple_services.app.pipeline, "_read", counted)
    result = scan(SAMPLE, ScanOptions(jobs=1, use_cache=False))
    assert result.call_sites
    assert reads and max(reads.values()) <= 2


def test_kept_texts_are_those_of_unparsed_files_within_the_budget(tmp_path: Path) -> None:
    from decouple_services.app.pipeline import _Texts

    (tmp_path / "a.py").write_bytes(b"import requests\n")
    (tmp_path / "b.py").write_bytes(b"x = 1\n")
    (tmp_path / "big.py").write_bytes(b"y = 2\n" * 10)
    texts = _Texts(str(tmp_path), budget=20)
    texts.unparsed = {"a.py", "big.py"}
    assert texts.read("a.py") == b"import requests\n"
    assert texts.read("b.py") == b"x = 1\n"
    assert texts.read("big.py") == b"y = 2\n" * 10
    for name in ("a.py", "b.py", "big.py"):
        (tmp_path / name).write_bytes(b"changed\n")
    # kept: the first read's text; not kept (parsed, over the budget): read again
    assert texts.read("a.py") == b"import requests\n"
    assert texts.read("b.py") == b"changed\n"
    assert texts.read("big.py") == b"changed\n"
    texts.forget(["a.py"])
    assert texts.read("a.py") == b"changed\n"
    assert texts.read("missing.py") is None


def _reads_from_disk(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the scan's searches read from the disk (not from the texts it keeps)."""
    read: list[str] = []
    original = decouple_services.app.pipeline._read_in

    def counting(root: str, path: str) -> bytes | None:
        read.append(path)
        return original(root, path)

    monkeypatch.setattr(decouple_services.app.pipeline, "_read_in", counting)
    return read


def test_the_texts_extraction_rejected_are_searched_without_reading_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path / "repo", FIXTURE_TREE)
    expected = _comparable(root, full_parse=False)
    read = _reads_from_disk(monkeypatch)
    assert _comparable(root, full_parse=False) == expected
    # the fixture's search tests the test module never parsed: kept from extraction
    assert "shop/tests/test_models.py" not in read
    # a negative: nothing kept by extraction, the first search reads the files it tests
    monkeypatch.setattr(decouple_services.app.pipeline._Texts, "keep", lambda *_: None)
    read.clear()
    assert _comparable(root, full_parse=False) == expected
    assert "shop/tests/test_models.py" in read


def test_kept_texts_and_searches_of_new_facts_alone_give_the_scan_it_gave_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample and the fixture tree scanned with the texts extraction read kept and
    the fixtures looked for in the facts each round added, and as before: every file
    read again by the first search, and every file's facts walked for fixtures."""
    from decouple_services.app.pipeline import _Demand

    trees = [SAMPLE, write(tmp_path / "repo", FIXTURE_TREE)]
    now = [_comparable(root, full_parse=False) for root in trees]
    original = _Demand.wanted

    def walking_all(self: _Demand, asked: Asked, facts: list[FileFacts], *rest: object) -> object:
        self.facts = []  # every fact new to it
        return original(self, asked, facts, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(_Demand, "wanted", walking_all)
    monkeypatch.setattr(decouple_services.app.pipeline._Texts, "keep", lambda *_: None)
    assert [_comparable(root, full_parse=False) for root in trees] == now


def test_the_candidate_prefilter_asks_only_for_strings_it_scanned_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import decouple_services.app.demand as demand

    prefilter = candidate_prefilter(_options())
    needles = demand._needles(prefilter)
    asked: set[bytes] = set()

    class Found(set[bytes]):
        def __contains__(self, item: object) -> bool:
            asked.add(item)  # type: ignore[arg-type]
            return super().__contains__(item)

    monkeypatch.setattr(demand, "present", lambda n, s: Found(x for x in n if x in s))
    texts = [p.read_bytes() for p in SAMPLE.rglob("*.py")] + [
        b"import requests_oauthlib\n",
        b"from django.urls import path\nurlpatterns = [path('a', v)]\n",
        b"from starlette.routing import Route\n",
        b"from aiohttp import web\nweb.get('/', h)\n",
        b"",
    ]
    for text in texts:
        prefilter.passes(text, "pkg.mod")
    assert asked and asked <= set(needles)
