"""The planner reads the parameters of the helper a call goes through, with the defaults a
send may copy: only literals, since a computed default is the helper's to compute."""

from __future__ import annotations

from decouple_services.core.model import CallSite, Role
from decouple_services.migrate.plan import _helper_parameters

HELPERS = b"""
import settings


async def fetch_remote(url, pload=None, name=None):
    ...


def stamped(url, at=settings.now(), *, kind="audit", extra=None):
    ...


class Client:
    def post(self, url, data={}, **kwargs):
        ...

    @staticmethod
    def ping(host, port=80):
        ...
"""


def _site(function: str, role: Role = Role.CALL, via: str | None = None) -> CallSite:
    return CallSite(
        id="cs-1",
        caller="web",
        file="web/remote.py" if role is Role.WRAPPER else "web/views.py",
        line=1,
        end_line=1,
        function=function,
        client="requests",
        method="POST",
        url="url",
        url_template=None,
        callee="api",
        endpoint=None,
        role=role,
        via_wrapper=via,
    )


def _params(qualname: str) -> object:
    wrappers = {qualname: _site(qualname, Role.WRAPPER)}
    site = _site("web.views.index", via=qualname)
    return _helper_parameters(
        site,
        wrappers,
        lambda path: HELPERS if path == "web/remote.py" else None,
        lambda path: path.removesuffix(".py").replace("/", "."),
    )


def test_literal_defaults_are_kept_and_computed_ones_are_not() -> None:
    assert _params("web.remote.fetch_remote") == (
        ("url", None),
        ("pload", "None"),
        ("name", "None"),
    )
    assert _params("web.remote.stamped") == (
        ("url", None),
        ("at", None),
        ("kind", "'audit'"),
        ("extra", "None"),
    )


def test_a_method_leaves_self_out_unless_it_is_static() -> None:
    assert _params("web.remote.Client.post") == (("url", None), ("data", "{}"))
    assert _params("web.remote.Client.ping") == (("host", None), ("port", "80"))


def test_a_helper_not_found_gives_nothing() -> None:
    assert _params("web.remote.missing") == ()
    assert _params("web.remote.fetch_remote.inner") == ()
    site = _site("web.views.index", via=None)
    assert _helper_parameters(site, {}, lambda path: None, lambda path: "web.views") == ()
