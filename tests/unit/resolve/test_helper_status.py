"""A call through a helper that checks the callee's answer itself is a ``status`` site, and
migrates to a send that waits: the helper's ``raise_for_status()`` aborted the caller, so a
fire-and-forget send would drop that failure signal without a word."""

from __future__ import annotations

import textwrap
from pathlib import Path

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import ResponseUse, ScanResult
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FILES = {
    "pyproject.toml": """\
        [tool.decouple.services.emails]
        root = "services/emails"

        [tool.decouple.services.orders]
        root = "services/orders"

        [tool.decouple.clients."shop.rpc.call_service"]
        service_arg = "service"
        path_arg = "path"
        method = "POST"
        """,
    "services/emails/emails/__init__.py": "",
    "services/emails/emails/app.py": """\
        from flask import Flask

        app = Flask(__name__)


        @app.post("/send")
        def send():
            return "", 202


        @app.post("/audit")
        def audit():
            return "", 202


        @app.post("/log")
        def log():
            return "", 202
        """,
    "services/orders/orders/__init__.py": "",
    "services/orders/orders/helpers.py": """\
        import requests


        def post_checked(base, path, payload):
            resp = requests.post(base + path, json=payload, timeout=2)
            resp.raise_for_status()
            return resp


        def post_status(base, path, payload):
            resp = requests.post(base + path, json=payload, timeout=2)
            if resp.status_code >= 400:
                raise RuntimeError(resp.text)
            return resp.json()


        def post_plain(base, path, payload):
            return requests.post(base + path, json=payload, timeout=2)
        """,
    "services/orders/shop/__init__.py": "",
    "services/orders/shop/rpc.py": """\
        import requests


        def call_service(service, path, payload=None):
            resp = requests.post(f"http://{service}" + path, json=payload, timeout=2)
            resp.raise_for_status()
            return resp.json()
        """,
    "services/orders/orders/flows.py": """\
        from shop.rpc import call_service

        from .helpers import post_checked, post_plain, post_status

        EMAILS = "http://emails"


        def welcome(user):
            post_checked(EMAILS, "/send", {"to": user})


        def audited(user):
            post_status(EMAILS, "/audit", {"to": user})


        def logged(user):
            post_plain(EMAILS, "/log", {"to": user})


        def by_name(user):
            call_service(service="emails", path="/send", payload={"to": user})


        def answered(user):
            return post_checked(EMAILS, "/send", {"to": user}).json()
        """,
}


def _repo(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _uses(result: ScanResult) -> dict[str, ResponseUse]:
    return {
        site.function.rpartition(".")[2]: site.response_use
        for site in result.call_sites
        if site.file.endswith("flows.py")
    }


def test_a_helper_that_checks_the_status_makes_its_ignored_invocations_status_sites(
    tmp_path: Path,
) -> None:
    result = scan(_repo(tmp_path), ScanOptions(use_cache=False))
    assert _uses(result) == {
        # raise_for_status() then `return resp`: the caller ignores the answer, not the check
        "welcome": ResponseUse.STATUS,
        # a status test that raises, then the body read that the caller ignores
        "audited": ResponseUse.STATUS,
        # no check anywhere: fire-and-forget as before
        "logged": ResponseUse.NONE,
        # a configured client defined in the repository that checks the status itself
        "by_name": ResponseUse.STATUS,
        # the caller reads the answer: still refused
        "answered": ResponseUse.BODY,
    }


def test_such_an_invocation_migrates_to_a_send_that_waits_and_says_why(tmp_path: Path) -> None:
    result = scan(_repo(tmp_path), ScanOptions(use_cache=False))
    wanted = {
        s.id: s.function.rpartition(".")[2]
        for s in result.call_sites
        if s.file.endswith("flows.py") and s.response_use is not ResponseUse.BODY
    }
    selection = select_sites(result, Criteria(ids=tuple(wanted)))
    plan = migrate_scanned(result, selection, PlanOptions()).plan
    waits = {wanted[p.site.id]: p.send.wait for p in plan.sites}
    # logged: post_plain checks nothing, but nothing catches its failure either, so its send
    # waits and raises as the call did (not for a check: no note says it checked)
    assert waits == {"welcome": True, "audited": True, "logged": True, "by_name": True}
    raised = {wanted[p.site.id] for p in plan.sites if p.send.raised}
    assert raised == {"logged"}
    welcome = next(p for p in plan.sites if wanted[p.site.id] == "welcome")
    assert any("`post_checked(...)` checked the callee's answer itself" in n for n in welcome.notes)
