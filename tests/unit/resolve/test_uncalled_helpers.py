"""A helper whose host comes from its parameters is no call site of its own while code calls
it; one nothing in the tree calls or hands on (a command-line entry point its framework
runs) keeps its request as the call site."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import UNKNOWN, CallSite, Confidence, Role
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.extract import _references

COMPOSE = """\
    services:
      admin:
        build: ./admin
      billing:
        build: ./billing
        command: uvicorn app:app --host 0.0.0.0 --port 8000
    """
BILLING = """\
    from fastapi import FastAPI

    app = FastAPI()


    @app.post("/invoices")
    def invoice():
        return {}
    """


def _scan(tmp_path: Path, files: dict[str, str]) -> dict[int, CallSite]:
    for name, text in {
        "docker-compose.yml": COMPOSE,
        "billing/app.py": BILLING,
        "billing/Dockerfile": "FROM python:3.12\n",
        "admin/Dockerfile": "FROM python:3.12\n",
        **files,
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan(tmp_path, ScanOptions(use_cache=False, jobs=1))
    return {s.line: s for s in result.call_sites if s.file == "admin/tasks.py"}


def test_an_uncalled_command_keeps_its_request(tmp_path: Path) -> None:
    sites = _scan(
        tmp_path,
        {
            "admin/tasks.py": """\
                import click
                import requests


                @click.command()
                @click.option("--base-url")
                def upgrade(base_url):
                    requests.patch(base_url + "/upgrade")
                """
        },
    )
    site = sites[8]
    assert site.role is Role.CALL
    assert site.callee == UNKNOWN
    assert site.unknown_reason == (
        "the address comes from the parameter base_url, which nothing in the tree passes"
    )


def test_its_callee_is_inferred_from_the_parameter_name(tmp_path: Path) -> None:
    sites = _scan(
        tmp_path,
        {
            "admin/tasks.py": """\
                import requests


                def bill(billing_url):
                    requests.post(billing_url + "/invoices")
                """
        },
    )
    assert sites[5].role is Role.CALL
    assert (sites[5].callee, sites[5].confidence) == ("billing", Confidence.INFERRED)


def test_a_called_helper_stays_a_helper(tmp_path: Path) -> None:
    sites = _scan(
        tmp_path,
        {
            "admin/tasks.py": """\
                import requests


                def bill(base):
                    requests.post(base + "/invoices")


                def run():
                    bill("http://billing:8000")
                """
        },
    )
    assert sites[5].role is Role.WRAPPER
    assert sites[9].callee == "billing"


def test_a_helper_called_through_another_helper_stays_a_helper(tmp_path: Path) -> None:
    sites = _scan(
        tmp_path,
        {
            "admin/tasks.py": """\
                import requests


                def send(base, path):
                    requests.post(base + path)


                def bill(base):
                    send(base, "/invoices")


                def run():
                    bill("http://billing:8000")
                """
        },
    )
    assert sites[5].role is Role.WRAPPER
    assert sites[13].callee == "billing"


def test_a_helper_handed_on_elsewhere_stays_a_helper(tmp_path: Path) -> None:
    sites = _scan(
        tmp_path,
        {
            "admin/tasks.py": """\
                import requests


                def bill(base):
                    requests.post(base + "/invoices")
                """,
            "admin/cli.py": """\
                from tasks import bill
                from runner import register

                register("bill", bill)
                """,
        },
    )
    assert sites[5].role is Role.WRAPPER


def test_references_are_names_not_called() -> None:
    text = "register(bill)\nsend()\nx = obj.notify\nbill(1)\n"
    tree = ast.parse(text)
    for ctx_text in (text, None):  # the text searched first, or unknown
        ctx = ModuleContext(tree, "m", text=ctx_text)
        assert _references(tree, ctx, frozenset({"bill", "send", "notify"})) == ("bill", "notify")
        assert _references(tree, ctx, frozenset()) == ()
        assert _references(tree, ctx, frozenset({"charge"})) == ()


def test_references_agree_with_ast_walk_on_the_sample() -> None:
    """The written-out walk finds what one over ``ast.walk`` finds: a name or attribute
    read and not called, anywhere (a call's function is called, its receiver is not)."""
    sample = Path(__file__).parents[2] / "fixtures" / "sample"
    for path in sorted(sample.rglob("*.py")):
        try:
            tree = ast.parse(path.read_bytes())
        except SyntaxError:
            continue
        nodes = list(ast.walk(tree))
        called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
        read = {
            (n.id if isinstance(n, ast.Name) else n.attr)
            for n in nodes
            if isinstance(n, ast.Name | ast.Attribute)
            and isinstance(n.ctx, ast.Load)
            and id(n) not in called
        }
        words = {n.id for n in nodes if isinstance(n, ast.Name)}
        words |= {n.attr for n in nodes if isinstance(n, ast.Attribute)}
        ctx = ModuleContext(tree, "m", text=None)
        assert _references(tree, ctx, frozenset(words)) == tuple(sorted(read & words))
