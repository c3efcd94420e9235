"""The extraction engine: static values, candidate calls and their flags."""

from __future__ import annotations

import sys
import textwrap

import pytest

from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.facts import FileFacts, RawCall
from decouple_services.detect.values import Concat, Dyn, Env, Join, Lit, Obj, Param, Ref, Setting

OPTIONS = ExtractOptions(
    client_modules=frozenset({"requests", "httpx"}),
    method_names=frozenset({"get", "post"}),
)


def facts_of(code: str, options: ExtractOptions = OPTIONS, module: str = "svc.mod") -> FileFacts:
    return extract_facts(textwrap.dedent(code).encode(), "svc/mod.py", module, options)


def only_call(code: str, name: str = "post") -> RawCall:
    calls = [c for c in facts_of(code).calls if c.name == name]
    assert len(calls) == 1, calls
    return calls[0]


def constant(facts: FileFacts, qualname: str) -> object:
    return next(c.value for c in facts.constants if c.qualname == qualname)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('"http://users:8000"', Lit("http://users:8000")),
        ('f"{BASE}/users/{uid}"', Concat((Ref("svc.mod.BASE"), Lit("/users/"), Dyn("uid")))),
        ('"%s/users/%d" % (BASE, 3)', Concat((Ref("svc.mod.BASE"), Lit("/users/3")))),
        ('"{}/users/{id}".format(BASE, id=7)', Concat((Ref("svc.mod.BASE"), Lit("/users/7")))),
        ('BASE + "/users"', Concat((Ref("svc.mod.BASE"), Lit("/users")))),
        ('urljoin(BASE, "users")', Join(Ref("svc.mod.BASE"), Lit("users"))),
        ('os.getenv("USERS_URL", "http://u")', Env(Lit("USERS_URL"), Lit("http://u"), "os.getenv")),
        ('os.environ["USERS_URL"]', Env(Lit("USERS_URL"), None, "os.environ")),
        ('os.environ.get("USERS_URL")', Env(Lit("USERS_URL"), None, "os.environ")),
        (
            'os.getenv("USERS_URL") or "http://x"',
            Env(Lit("USERS_URL"), Lit("http://x"), "os.getenv"),
        ),
        (
            'os.getenv(f"{NAME.upper()}_SERVICE_HOST")',
            Env(Concat((Ref("svc.mod.NAME"), Lit("_SERVICE_HOST"))), None, "os.getenv"),
        ),
        ("os.getenv(f\"{'users'.upper()}_HOST\")", Env(Lit("USERS_HOST"), None, "os.getenv")),
        ('config("USERS_URL")', Env(Lit("USERS_URL"), None, "python-decouple")),
        ("settings.USERS_URL", Setting("django", "USERS_URL")),
        ('app.config["USERS_URL"]', Setting("flask", "USERS_URL")),
        ("requests.Session()", Obj("requests.Session")),
    ],
)
def test_expressions_evaluate_to_symbolic_values(expr: str, expected: object) -> None:
    code = f"""
    import os, requests
    from urllib.parse import urljoin
    from decouple import config
    from django.conf import settings
    BASE = "http://users:8000"
    NAME = "users"
    VALUE = {expr}
    """
    if "NAME.upper()" in expr:
        # a method on a reference stays symbolic: the resolver knows NAME's value
        value = constant(facts_of(code), "svc.mod.VALUE")
        assert isinstance(value, Env)
        return
    assert constant(facts_of(code), "svc.mod.VALUE") == expected


def test_import_aliases_resolve_to_the_library() -> None:
    call = only_call(
        """
        import requests as rq
        def f():
            rq.post("http://a/b")
        """
    )
    assert call.func == "requests.post"


@pytest.mark.parametrize(
    ("imports", "call", "func"),
    [
        ("from six.moves import urllib", "urllib.request.urlopen(URL)", "urllib.request.urlopen"),
        ("from six.moves.urllib import request", "request.urlopen(URL)", "urllib.request.urlopen"),
        (
            "import six.moves.urllib.request as ur",
            "ur.urlretrieve(URL)",
            "urllib.request.urlretrieve",
        ),
        (
            "from six.moves import http_client",
            "http_client.HTTPConnection(URL)",
            "http.client.HTTPConnection",
        ),
        (
            "from future.moves.urllib.request import urlopen",
            "urlopen(URL)",
            "urllib.request.urlopen",
        ),
    ],
)
def test_compatibility_layers_name_the_standard_library(imports: str, call: str, func: str) -> None:
    options = ExtractOptions(client_modules=frozenset({"urllib", "http"}))
    code = f"""
    {imports}
    URL = "http://users:8000/users"
    def fetch():
        return {call}
    """
    (found,) = facts_of(code, options).calls
    assert found.func == func


def test_a_project_module_named_like_a_compatibility_layer_keeps_its_name() -> None:
    options = ExtractOptions(client_modules=frozenset({"urllib", "requests"}))
    code = """
    from sixes.moves import urllib
    from shop.six.moves import urllib as shop_urllib
    def fetch():
        urllib.request.urlopen("http://a/b")
        shop_urllib.request.urlopen("http://a/b")
    """
    assert [c.func for c in facts_of(code, options).calls] == []


@pytest.mark.parametrize(
    "binding",
    [
        "retry(requests.post)",
        "functools.partial(requests.post, timeout=5)",
        "backoff(requests.post)",
    ],
)
def test_a_module_name_bound_to_a_wrapped_request_function_calls_it(binding: str) -> None:
    code = f"""
    import functools
    import requests
    from shop.retries import backoff, retry
    post = {binding}
    def send(order):
        return post("http://orders:8000/orders", json=order)
    """
    (call,) = [c for c in facts_of(code).calls if c.line == 7]
    assert call.func == "requests.post"
    assert call.args == (Lit("http://orders:8000/orders"),)


@pytest.mark.parametrize(
    "binding",
    [
        "retry(requests.post, 3)",  # a positional argument more: not called as it is
        "retry(requests.Session)",  # a class: its objects are made, not requests
        "retry(fetch_local)",  # not a client library's function
        "requests.Session(requests.post)",  # the library's own object
    ],
)
def test_other_bindings_are_not_request_functions(binding: str) -> None:
    code = f"""
    import requests
    from shop.retries import retry, fetch_local
    post = {binding}
    def send(order):
        return post("http://orders:8000/orders", json=order)
    """
    assert not [c for c in facts_of(code).calls if c.line == 6 and c.func == "requests.post"]


def test_what_mock_patch_replaces_around_a_call_is_recorded() -> None:
    options = ExtractOptions(wrapper_names=frozenset({"fetch"}))
    code = """
    from unittest import mock
    from svc import api
    from svc.api import fetch

    @mock.patch("svc.api.get_json")
    class TestFetch:
        @mock.patch("svc.api.fetch")
        def test_patched(self, fake, other):
            with mock.patch.object(api, "session"), open("x"):
                fetch(1)

        def test_class_patch_only(self, fake):
            fetch(2)

    def test_free():
        fetch(3)
    """
    patched = {c.line: c.patched for c in facts_of(code, options).calls if c.name == "fetch"}
    assert patched == {
        11: ("svc.api.get_json", "svc.api.fetch", "svc.api.session"),
        14: ("svc.api.get_json",),
        17: (),
    }
    roundtrip = FileFacts.from_json(facts_of(code, options).to_json())
    assert [c.patched for c in roundtrip.calls if c.name == "fetch"] == list(patched.values())


def test_patch_like_names_of_other_libraries_are_not_mocks() -> None:
    options = ExtractOptions(wrapper_names=frozenset({"fetch"}))
    code = """
    import requests
    from svc.api import fetch
    from svc.http import patch

    @patch("svc.api.fetch")
    def test_not_a_mock():
        with requests.patch("http://a/b"):
            fetch(1)
    """
    assert [c.patched for c in facts_of(code, options).calls if c.name == "fetch"] == [()]


def test_from_import_called_bare_inside_a_class_is_found() -> None:
    call = only_call(
        """
        from requests import get
        class Helper:
            def fetch(self):
                return get("http://a/b")
        """,
        name="get",
    )
    assert call.func == "requests.get"
    assert call.function == "svc.mod.Helper.fetch"
    assert call.result_used


def test_a_local_function_named_get_is_not_a_candidate() -> None:
    facts = facts_of(
        """
        def get(url):
            return url
        def f():
            get("http://a/b")
        """
    )
    assert facts.calls == ()


@pytest.mark.parametrize(
    "body",
    [
        "resp = requests.get(URL)\n    return resp.json()",
        "requests.Session().post(URL).raise_for_status()",
        "with httpx.Client() as c:\n        r = c.request('GET', URL)\n    return r.json()",
    ],
)
def test_a_method_of_a_response_is_not_recorded(body: str) -> None:
    facts = facts_of(f"import requests, httpx\ndef f():\n    {body}\n")
    names = {c.name for c in facts.calls}
    assert names & {"get", "post", "request"}
    assert not names & {"json", "raise_for_status"}


def test_a_method_of_what_a_client_method_other_than_a_request_returns_is_recorded() -> None:
    # a client derived from another may make requests (`with_options`)
    facts = facts_of("import httpx\ndef f(c: httpx.Client):\n    c.with_options(x=1).get(URL)\n")
    assert "get" in {c.name for c in facts.calls}


def test_a_shadowed_library_name_is_not_the_library() -> None:
    facts = facts_of(
        """
        import requests
        def f(requests):
            requests.post("http://a/b")
        """
    )
    assert all(c.func != "requests.post" for c in facts.calls)


def test_session_on_self_is_recorded_as_a_class_attribute() -> None:
    facts = facts_of(
        """
        import requests
        class Client:
            def __init__(self):
                self.session = requests.Session()
            def send(self):
                self.session.post("http://a/b")
        """
    )
    assert constant(facts, "svc.mod.Client.session") == Obj("requests.Session")
    call = next(c for c in facts.calls if c.name == "post")
    assert call.receiver == Ref("svc.mod.Client.session")


def test_with_block_binds_the_client() -> None:
    call = only_call(
        """
        import httpx
        async def f():
            async with httpx.AsyncClient(base_url="http://users") as client:
                await client.post("/users")
        """
    )
    assert call.receiver == Obj("httpx.AsyncClient", kwargs=(("base_url", Lit("http://users")),))
    assert call.is_async and not call.result_used


USERS = Obj("httpx.Client", kwargs=(("base_url", Lit("http://users")),))


@pytest.mark.parametrize(
    "opened",
    [
        # contextlib's wrappers enter as the client they are given
        'with contextlib.closing(httpx.Client(base_url="http://users")) as client:',
        'with closing(httpx.Client(base_url="http://users")) as client:',
        'with nullcontext(httpx.Client(base_url="http://users")) as client:',
        # bound first, entered later
        'c = closing(httpx.Client(base_url="http://users"))\n    with c as client:',
        # an ExitStack enters it and returns what it enters as
        "with ExitStack() as stack:\n"
        '        client = stack.enter_context(httpx.Client(base_url="http://users"))',
        "with contextlib.ExitStack() as stack:\n"
        '        client = stack.enter_context(closing(httpx.Client(base_url="http://users")))',
    ],
)
def test_a_client_entered_through_closing_or_an_exit_stack_is_the_client(opened: str) -> None:
    call = only_call(
        "import contextlib\n"
        "from contextlib import ExitStack, closing, nullcontext\n"
        "import httpx\n"
        "def f():\n"
        f"    {opened}\n"
        '        client.post("/users")\n'
    )
    assert call.receiver == USERS


def test_an_async_client_entered_through_aclosing_or_an_async_exit_stack_is_the_client() -> None:
    facts = facts_of(
        """
        from contextlib import AsyncExitStack, aclosing
        import httpx
        async def f():
            async with aclosing(httpx.AsyncClient()) as client:
                await client.post("http://users/a")
        async def g():
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(httpx.AsyncClient())
                await client.post("http://users/b")
        """
    )
    assert [c.receiver for c in facts.calls if c.name == "post"] == [Obj("httpx.AsyncClient")] * 2


def test_a_client_a_module_level_exit_stack_enters_is_a_module_client() -> None:
    facts = facts_of(
        """
        import contextlib
        import requests
        _stack = contextlib.ExitStack()
        session = _stack.enter_context(requests.Session())
        """
    )
    assert constant(facts, "svc.mod.session") == Obj("requests.Session")


@pytest.mark.parametrize(
    "opened",
    [
        # a `closing` of the project's own may give anything
        "with closing(httpx.Client()) as client:\n        pass",
        # `closing(...)` itself, not entered, is no client
        "client = contextlib.closing(httpx.Client())",
        # `enter_context` of an object known to be of another class
        "pool = Pool()\n    client = pool.enter_context(httpx.Client())",
    ],
)
def test_what_only_looks_like_entering_a_client_is_not_the_client(opened: str) -> None:
    call = only_call(
        "import contextlib\n"
        "import httpx\n"
        "from shop.pool import Pool, closing\n"
        "def f():\n"
        f"    {opened}\n"
        '    client.post("http://users/a")\n'
    )
    assert not (isinstance(call.receiver, Obj) and call.receiver.type == "httpx.Client")


@pytest.mark.parametrize(
    ("body", "used"),
    [
        ("requests.post(URL)", False),
        ("_ = requests.post(URL)", False),
        ("r = requests.post(URL)", False),
        ("r = requests.post(URL)\n    return r.json()", True),
        ("return requests.post(URL)", True),
        ("if requests.post(URL).ok:\n        pass", True),
        ("log(requests.post(URL))", True),
        # a status check reads the response (response_use "status")
        ("requests.post(URL).raise_for_status()", True),
        ("x = requests.post(URL).json()", True),
    ],
)
def test_result_used_follows_what_the_code_does_with_the_response(body: str, used: bool) -> None:
    call = only_call(f"import requests\nURL = 'http://a'\ndef f():\n    {body}\n")
    assert call.result_used is used


def test_calls_in_loops_and_comprehensions_are_flagged() -> None:
    facts = facts_of(
        """
        import requests
        def f(items):
            for i in items:
                requests.post("http://a/b", json=i)
            [requests.post("http://a/c") for _ in items]
            requests.post("http://a/d")
        """
    )
    flags = {c.line: c.in_loop for c in facts.calls}
    assert flags == {5: True, 6: True, 7: False}


def test_calls_inside_database_transactions_are_flagged() -> None:
    facts = facts_of(
        """
        import requests
        from django.db import transaction

        def django_block(order):
            with transaction.atomic():
                requests.post("http://a/b", json=order)
            requests.post("http://a/c")

        @transaction.atomic
        def django_decorated(order):
            requests.post("http://a/d")

        async def sqlalchemy(session, conn):
            async with session.begin():
                requests.post("http://a/e")
            async with conn.transaction():
                def later():
                    requests.post("http://a/f")  # runs whenever it is called, not here

        def plain(lock):
            with lock:
                requests.post("http://a/g")
        """
    )
    flags = {c.line: c.in_transaction for c in facts.calls}
    assert flags == {7: True, 8: False, 12: True, 16: True, 19: False, 23: False}


def test_executor_submit_records_the_submitted_call() -> None:
    call = only_call(
        """
        import requests
        def f(executor, order):
            executor.submit(requests.post, "http://a/b", json=order)
        """
    )
    assert call.submitted and call.func == "requests.post"
    assert call.args == (Lit("http://a/b"),)
    assert call.kwarg_src == (("json", "order"),)


@pytest.mark.parametrize(
    "mapped",
    [
        "executor.map(requests.post, orders)",
        "map(requests.post, orders)",
        "pool.imap_unordered(requests.post, orders)",
    ],
)
def test_a_request_function_mapped_over_elements_is_a_call(mapped: str) -> None:
    code = f"""
    import requests
    def f(executor, pool, orders):
        for response in {mapped}:
            print(response)
    """
    (call,) = [c for c in facts_of(code).calls if c.func == "requests.post"]
    assert call.submitted


def test_mapping_something_else_records_no_request() -> None:
    code = """
    import requests
    def f(frame, orders):
        frame.map(str.upper)
        list(map(len, orders))
        return requests
    """
    assert facts_of(code).calls == ()


def test_parameters_are_kept_symbolic_for_wrapper_helpers() -> None:
    call = only_call(
        """
        import requests
        def call_service(base, path, payload):
            return requests.post(base + path, json=payload, timeout=3)
        """
    )
    assert call.args == (
        Concat((Param("base", "svc.mod.call_service"), Param("path", "svc.mod.call_service"))),
    )


def test_clients_created_under_main_guard_are_module_constants() -> None:
    facts = facts_of(
        """
        import requests
        if __name__ == "__main__":
            session = requests.Session()
        """
    )
    assert constant(facts, "svc.mod.session") == Obj("requests.Session")


def test_app_state_clients_are_recorded_by_attribute_name() -> None:
    facts = facts_of(
        """
        import httpx
        async def lifespan(app):
            app.state.users = httpx.AsyncClient(base_url="http://users:8000")
            yield
        """
    )
    assert constant(facts, "@state.users") == Obj(
        "httpx.AsyncClient", kwargs=(("base_url", Lit("http://users:8000")),)
    )


def test_annotations_set_the_target_and_mark_ignored_lines() -> None:
    facts = facts_of(
        """
        import requests
        def f(url):
            # decouple: target=billing
            requests.post(url)
            requests.post(url)  # decouple: ignore
        """
    )
    first, second = sorted(facts.calls, key=lambda c: c.line)
    assert first.target_override == "billing"
    assert second.line in facts.ignored_lines


def test_ports_given_in_code_are_recorded() -> None:
    facts = facts_of(
        """
        from flask import Flask
        app = Flask(__name__)
        if __name__ == "__main__":
            app.run(host="0.0.0.0", port=5001)
        """
    )
    assert [p.port for p in facts.ports] == [5001]


def test_pydantic_settings_fields_are_constants_with_the_env_prefix() -> None:
    facts = facts_of(
        """
        from pydantic_settings import BaseSettings, SettingsConfigDict
        from pydantic import Field
        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="SHOP_")
            users_url: str = "http://users:8000"
            orders_url: str = Field("http://orders:8000")
        """
    )
    assert facts.settings_classes == (("svc.mod.Settings", "SHOP_"),)
    assert constant(facts, "svc.mod.Settings.users_url") == Lit("http://users:8000")
    assert constant(facts, "svc.mod.Settings.orders_url") == Lit("http://orders:8000")


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (b"def f(:\n    pass\n", "parse-error"),
        (b'print "hello"\n', "parse-error"),
        (b"x = 1\x00\n", "null-bytes"),
        (b"x = '\xff\xfe'\n", "undecodable"),
    ],
)
def test_bad_files_become_diagnostics_not_exceptions(source: bytes, code: str) -> None:
    facts = extract_facts(source, "bad.py", "bad", OPTIONS)
    assert [d.code for d in facts.diagnostics] == [code]
    assert facts.diagnostics[0].file == "bad.py"


def test_python2_files_are_named_as_such() -> None:
    facts = extract_facts(b'print "hello"\n', "old.py", "old", OPTIONS)
    assert "Python 2" in facts.diagnostics[0].message


def test_very_deep_nesting_is_a_diagnostic() -> None:
    source = ("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n").encode()
    facts = extract_facts(source, "deep.py", "deep", OPTIONS)
    assert facts.diagnostics and facts.diagnostics[0].code in ("too-deep", "parse-error")


def test_newer_syntax_falls_back_to_libcst_and_is_still_analysed() -> None:
    source = b"import requests\ntype Url = str\ndef f():\n    requests.post('http://a/b')\n"
    facts = extract_facts(source, "new.py", "new", OPTIONS)
    assert facts.diagnostics == ()
    assert [c.func for c in facts.calls] == ["requests.post"]


def test_facts_round_trip_through_json() -> None:
    facts = facts_of(
        """
        import requests, os
        BASE = os.getenv("X", "http://a")
        class C:
            def __init__(self):
                self.s = requests.Session()
            def f(self, uid):
                for _ in range(3):
                    self.s.post(f"{BASE}/u/{uid}", json={"a": 1})
        """
    )
    assert FileFacts.from_json(facts.to_json()) == facts


def test_http_client_request_is_used_when_its_response_is_read() -> None:
    options = ExtractOptions(
        client_modules=frozenset({"http"}), method_names=frozenset({"request"})
    )
    facts = facts_of(
        """
        import http.client
        def read():
            conn = http.client.HTTPConnection("users", 8000)
            conn.request("GET", "/users/1")
            return conn.getresponse().read()
        def fire():
            conn = http.client.HTTPConnection("users", 8000)
            conn.request("POST", "/events")
        """,
        options,
    )
    used = {
        c.function.rpartition(".")[2]: c.result_used for c in facts.calls if c.name == "request"
    }
    assert used == {"read": True, "fire": False}


def test_pep701_fstrings_are_analysed_on_older_pythons() -> None:
    source = (
        b"import os, requests\n"
        b'BASE = f"{os.environ["USERS_URL"]}"\n'
        b"def f(items, d):\n"
        b'    requests.post(f"{BASE}/users/{d["id"]}", json={"x": f"{"\\n".join(items)}"})\n'
    )
    facts = extract_facts(source, "new.py", "new", OPTIONS)
    assert facts.diagnostics == ()
    (call,) = facts.calls
    assert call.line == 4
    # 3.12+ parses it natively; older versions read it lowered, the inner quote swapped
    field = 'd["id"]' if sys.version_info >= (3, 12) else "d['id']"
    assert call.args[0] == Concat((Ref("new.BASE"), Lit("/users/"), Dyn(field)))
    assert next(c.value for c in facts.constants if c.qualname == "new.BASE") == Env(
        Lit("USERS_URL"), None, "os.environ"
    )


def test_ignore_with_rule_codes_is_recorded_and_does_not_drop_the_line() -> None:
    facts = facts_of(
        """
        import requests

        def f():
            requests.get("http://a")  # decouple: ignore[DCP004]
            # decouple: ignore[dcp004 , DCP005,]
            requests.get("http://b")
            requests.get("http://c")  # decouple: ignore
            requests.get("http://d")  # decouple: ignored-by-someone
        """
    )

    assert facts.suppressions == ((5, ("DCP004",)), (6, ("DCP004", "DCP005")))
    assert facts.ignored_lines == (8,)
    assert FileFacts.from_json(facts.to_json()) == facts


def test_parameter_defaults_that_can_be_followed_are_kept_and_survive_json() -> None:
    facts = facts_of(
        """
        import requests
        from django.conf import settings
        HOOK = "http://alerts:8000/hook"
        def notify(message, url=HOOK, webhook=settings.SLACK_URL, retries=None, tag=""):
            requests.post(url, json={"text": message})
        """
    )
    [notify] = [f for f in facts.functions if f.qualname == "svc.mod.notify"]
    defaults = dict(notify.defaults)
    assert defaults["url"] == Ref("svc.mod.HOOK")
    assert isinstance(defaults["webhook"], Setting)
    # `None` and `""` say nothing about where a request goes
    assert "retries" not in defaults and "tag" not in defaults
    assert FileFacts.from_json(facts.to_json()) == facts


def test_keyword_unpacking_is_kept_as_a_double_star_argument() -> None:
    call = only_call(
        """
        import requests
        def f(opts):
            requests.post("http://a/b", timeout=3, **opts)
        """
    )
    assert [k for k, _ in call.kwargs] == ["timeout", "**"]
    assert [k for k, _ in call.kwarg_src] == ["timeout", "**"]


def test_a_mapping_read_with_a_run_time_key_is_one_of_its_values() -> None:
    facts = facts_of(
        """
        import requests
        from typing import Annotated, Optional
        SERVICES = {"users": "http://users:8000", "orders": "http://orders:8000"}
        Dep = Annotated[int, Depends(get)]
        Maybe = Optional[int]
        def forward(name, path):
            base = SERVICES[name]
            requests.post(f"{base}/{path}")
            requests.post(SERVICES[name.lower()] + path)
            requests.post(SERVICES["users"] + path)
        """
    )
    assert constant(facts, "svc.mod.SERVICES[*]") == Obj("@keys", (Lit("users"), Lit("orders")))
    posts = [c for c in facts.calls if c.name == "post"]
    table = Ref("svc.mod.SERVICES")
    path = Param("path", "svc.mod.forward")
    assert posts[0].args[0] == Concat((Obj("@one-of", (table, Dyn("base"))), Lit("/"), path))
    assert posts[1].args[0] == Concat(
        (Obj("@one-of", (table, Dyn("SERVICES[name.lower()]"))), path)
    )
    assert posts[2].args[0] == Concat((Ref("svc.mod.SERVICES[users]"), path))
    # types subscripted are no mapping reads
    names = {c.qualname for c in facts.constants}
    assert "svc.mod.Dep" not in names and "svc.mod.Maybe" not in names


def test_a_field_of_an_annotated_parameter_is_read_where_its_objects_are_built() -> None:
    facts = facts_of(
        """
        import httpx
        from app.commands import Command
        def send(command: Command, other: Optional[Command], url: httpx.URL | str):
            httpx.post(command.target)
            httpx.post(command.target.strip())
            httpx.post(url)
            httpx.post(command.target or "http://fallback:8000")
        """
    )
    posts = [c.args[0] for c in facts.calls if c.name == "post"]
    field = Obj("@field-of", (Lit("app.commands.Command"), Lit("target"), Dyn("command.target")))
    assert posts[0] == field
    assert posts[1] == Dyn("command.target.strip()")
    assert posts[2] == Param("url", "svc.mod.send")
    assert posts[3] == Lit("http://fallback:8000")
