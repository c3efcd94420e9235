"""``response_use``: what a caller does with a response, on the code shapes it must tell apart.

Each case is a function body around one ``requests.post``; the expected verdict is what a
migration may do with it: ``none`` (a fire-and-forget send), ``status`` (a send that waits for
the broker's acknowledgement), ``body`` (refused).
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from decouple_services.core.model import ResponseUse
from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.response import Handler, classify, parent_map

OPTIONS = ExtractOptions(
    client_modules=frozenset({"requests", "httpx", "aiohttp"}),
    method_names=frozenset({"get", "post"}),
)

NONE = [
    "requests.post(URL, json=event)",
    "_ = requests.post(URL)",
    "r = requests.post(URL)",
    "with requests.post(URL):\n    pass",
    "try:\n    pass\nexcept ValueError:\n    pass\nrequests.post(URL)",
    "try:\n    requests.post(URL)\nfinally:\n    done()",
]

STATUS = [
    "requests.post(URL).raise_for_status()",
    "r = requests.post(URL)\nr.raise_for_status()",
    "r = requests.post(URL, timeout=2)\nif r.status_code != 202:\n    raise RuntimeError(r.text)",
    "r = requests.post(URL)\nif not r.ok:\n    return False\nreturn True",
    "r = requests.post(URL)\nif r.status_code >= 400:\n    log.error('failed %s', r.text)",
    "r = requests.post(URL)\nif r.status_code not in (200, 201):\n    raise Failed()",
    "r = requests.post(URL)\nif 200 <= r.status_code < 300:\n    done()\nelse:\n    raise Failed()",
    "r = requests.post(URL)\nassert r.ok",
    "r = requests.post(URL)\nif not r:\n    raise Failed()",
    "r = requests.post(URL)\nif r and r.status_code == 200:\n    done()",
    "r = requests.post(URL)\nif r.status_code != status.HTTP_201_CREATED:\n    raise Failed()",
    "r = requests.post(URL)\nif r.ok:\n    done()",
    "if not requests.post(URL).ok:\n    raise Failed()",
    "if requests.post(URL).status_code == HTTPStatus.ACCEPTED:\n    done()",
    "try:\n    requests.post(URL)\nexcept requests.RequestException:\n    log.warning('lost')",
    "try:\n    requests.post(URL).raise_for_status()\nexcept Exception:\n    pass",
    "with requests.post(URL) as r:\n    if r.status_code != 200:\n        raise Failed()",
]

BODY = [
    "return requests.post(URL)",
    "r = requests.post(URL)\nreturn r.json()",
    "r = requests.post(URL)\nok = r.ok\nreturn ok",
    "r = requests.post(URL)\nreturn r.status_code == 200",
    "r = requests.post(URL)\nif r:\n    return r.json()",
    "r = requests.post(URL)\nif r and other:\n    done()",
    "r = requests.post(URL)\nif r.ok:\n    return r.json()",
    "r = requests.post(URL)\nr.raise_for_status()\nreturn r.json()['id']",
    "r = requests.post(URL)\nif r.status_code == 404:\n    return None\nreturn r.json()",
    "r = requests.post(URL)\nif r.ok and cache:\n    done()",
    "x = requests.post(URL).json()",
    "log(requests.post(URL))",
    "a, b = requests.post(URL), 1",
    "try:\n    return requests.post(URL).json()\nexcept requests.RequestException:\n    return None",
    "with requests.post(URL) as r:\n    data = r.content",
    "if requests.post(URL).status_code == 404:\n    return None",
    "r = requests.post(URL)\nif r.status_code != 404:\n    done()",
]


def _use(body: str) -> ResponseUse:
    code = "import requests\nURL = 'http://a'\ndef f(event):\n" + textwrap.indent(body, "    ")
    calls = [c for c in extract_facts(code.encode(), "svc/m.py", "svc.m", OPTIONS).calls]
    posts = [c for c in calls if c.name == "post"]
    assert len(posts) == 1, posts
    assert posts[0].result_used is (posts[0].response_use != "none")
    return ResponseUse(posts[0].response_use)


@pytest.mark.parametrize("body", NONE)
def test_a_response_nobody_reads_is_none(body: str) -> None:
    assert _use(body) is ResponseUse.NONE


@pytest.mark.parametrize("body", STATUS)
def test_a_response_only_checked_for_success_is_status(body: str) -> None:
    assert _use(body) is ResponseUse.STATUS


@pytest.mark.parametrize("body", BODY)
def test_a_response_read_beyond_its_success_is_body(body: str) -> None:
    assert _use(body) is ResponseUse.BODY


def test_an_awaited_aiohttp_response_checked_in_its_with_block_is_status() -> None:
    code = textwrap.dedent(
        """
        import aiohttp
        async def f(event):
            async with aiohttp.ClientSession() as session:
                async with session.post("http://a/x", json=event) as resp:
                    if resp.status >= 400:
                        raise RuntimeError(await resp.text())
        """
    )
    posts = [
        c for c in extract_facts(code.encode(), "m.py", "m", OPTIONS).calls if c.name == "post"
    ]
    assert [c.response_use for c in posts] == ["status"]


def _reading(body: str):  # type: ignore[no-untyped-def]
    tree = ast.parse("def f():\n" + textwrap.indent(body, "    "))
    parents = parent_map(tree)
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "post"
    )
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return classify(call, lambda node: parents.get(id(node)), function.body)


def test_the_checks_say_which_branch_runs_on_success() -> None:
    reading = _reading(
        "r = requests.post(URL)\nif r.status_code != 202:\n    log()\n    raise Failed()\nelse:\n    done()"
    )
    (check,) = reading.checks
    assert (check.kind, check.line, check.end_line) == ("if", 3, 7)
    assert check.success_branch == "orelse"
    assert check.failure_lines == (4, 5)
    assert reading.name == "r"


def test_the_except_clauses_around_the_call_are_named_innermost_first() -> None:
    reading = _reading(
        "try:\n"
        "    try:\n"
        "        requests.post(URL)\n"
        "    except (requests.ConnectionError, requests.Timeout):\n"
        "        retry()\n"
        "except Exception:\n"
        "    pass"
    )
    assert reading.use is ResponseUse.STATUS
    assert reading.handlers == (
        Handler(5, ("requests.ConnectionError", "requests.Timeout")),
        Handler(7, ("Exception",)),
    )
    # the first catches only the client's failures: a send's failure passes it by
    assert [h.client_only for h in reading.handlers] == [True, False]


def test_an_except_around_the_enclosing_function_call_is_not_around_the_call() -> None:
    reading = _reading(
        "def inner():\n    requests.post(URL)\ntry:\n    inner()\nexcept Exception:\n    pass"
    )
    assert reading.use is ResponseUse.NONE
