"""Helpers whose parameter is the whole path: read from the parameter's name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sites import full_site

from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Concat, Join, Lit, Obj, Param, Ref, Value
from decouple_services.resolve.calls import CallResolver, Wrapper, _by_suffix, _path_param_named_so

HELPER = "worker.api.kernel_request"
BASE = Ref("worker.settings.KERNEL_URL")


def _after_base(name: str) -> Value:
    return Concat((BASE, Lit("/"), Param(name, HELPER)))


@pytest.mark.parametrize("name", ["url", "path", "endpoint", "api_path", "relative_uri", "route"])
def test_a_parameter_named_for_a_path_takes_the_whole_path(name: str) -> None:
    assert _path_param_named_so(_after_base(name))


def test_a_joined_path_parameter_counts_too() -> None:
    assert _path_param_named_so(Join(BASE, Param("path", HELPER)))


@pytest.mark.parametrize("name", ["item_id", "pk", "kind", "path_id", "url_token", "slug"])
def test_a_parameter_named_for_a_segment_does_not(name: str) -> None:
    assert not _path_param_named_so(_after_base(name))


def test_no_parameter_no_path_helper() -> None:
    assert not _path_param_named_so(Concat((BASE, Lit("/users"))))


_PARTS = st.sampled_from(["a", "b", "src", "clients", "base", "get"])
_NAMES = st.lists(_PARTS, min_size=1, max_size=4).map(".".join)


@given(helpers=st.lists(_NAMES, max_size=8), names=st.lists(_NAMES, min_size=1, max_size=6))
def test_helpers_found_by_their_last_name_are_those_found_among_all(
    helpers: list[str], names: list[str]
) -> None:
    # the resolver looks a name up among the helpers of its last name only, kept while no
    # helper is added; a helper added between lookups is found
    call = RawCall(1, 1, 0, "f", "get", None, None, (), (), (), (), False, False, False)
    wrappers: dict[str, Wrapper] = {}
    resolver = SimpleNamespace(_shorts=None)
    for qualname in helpers:
        wrappers[qualname] = Wrapper(qualname, (), False, call, None, None)
        for name in names:
            assert CallResolver._by_suffix(resolver, wrappers, name) == _by_suffix(  # type: ignore[arg-type]
                wrappers, name
            )


def test_a_method_helper_is_looked_up_once_per_class_name_and_caller_between_additions() -> None:
    # looking invocations up level by level, the same class, name and caller is answered
    # again (its lookups record sets only); a helper added makes the answers again, and
    # outside that loop (``_methods`` None: a file's lookups recorded apart) none is kept
    call = RawCall(1, 1, 0, "f", "get", None, None, (), (), (), (), False, False, False)
    wrappers: dict[str, Wrapper] = {
        "pkg.Client.get": Wrapper("pkg.Client.get", (), True, call, None, None)
    }
    made: list[tuple[str, str, str | None]] = []

    def uncached(
        cls: str, name: str, helpers: dict[str, Wrapper], caller: str | None
    ) -> Wrapper | None:
        made.append((cls, name, caller))
        return helpers.get(f"{cls}.{name}")

    resolver = SimpleNamespace(_methods=None, _method_wrapper_uncached=uncached)
    resolver._method_wrapper = lambda *a: CallResolver._method_wrapper(resolver, *a)  # type: ignore[arg-type]
    look = resolver._method_wrapper
    assert look("pkg.Client", "get", wrappers, "a") is wrappers["pkg.Client.get"]
    assert look("pkg.Client", "get", wrappers, "a") is wrappers["pkg.Client.get"]
    assert len(made) == 2  # no loop under way: every lookup made

    resolver._methods = (wrappers, len(wrappers), {})
    for _ in range(3):
        assert look("pkg.Client", "get", wrappers, "a") is wrappers["pkg.Client.get"]
        assert look("pkg.Other", "get", wrappers, "a") is None
        assert look("pkg.Client", "get", wrappers, "b") is wrappers["pkg.Client.get"]
    assert made[2:] == [
        ("pkg.Client", "get", "a"),
        ("pkg.Other", "get", "a"),
        ("pkg.Client", "get", "b"),
    ]

    wrappers["pkg.Other.get"] = Wrapper("pkg.Other.get", (), True, call, None, None)
    assert look("pkg.Other", "get", wrappers, "a") is wrappers["pkg.Other.get"]
    assert look("pkg.Other", "get", wrappers, "a") is wrappers["pkg.Other.get"]
    assert made[5:] == [("pkg.Other", "get", "a")]

    other = dict(wrappers)
    look("pkg.Other", "get", other, "a")
    assert made[6:] == [("pkg.Other", "get", "a")]  # another dictionary of helpers: made


def test_a_kept_receiver_is_decoded_only_for_a_call_of_a_helper_of_its_class() -> None:
    # a call's receiver kept in JSON: its class read from that form, the same lookups made;
    # decoded only when a helper of that class takes the call
    from decouple_services.resolve.calls import CallOutcome

    call = RawCall(
        1, 1, 0, "f", "get", None, Ref("pkg.client"), (), (), (), (), False, False, False
    )
    helper = Wrapper("pkg.Client.get", (), True, call, None, None)
    asked: list[str] = []

    def method_wrapper(
        cls: str, name: str, helpers: dict[str, Wrapper], caller: str | None
    ) -> Wrapper | None:
        asked.append(cls)
        return helpers.get(f"{cls}.{name}")

    resolver = SimpleNamespace(
        index=SimpleNamespace(service_of=lambda path: "svc"), _method_wrapper=method_wrapper
    )
    facts = SimpleNamespace(path="a.py")
    # arguments no decoder takes: left as they are, the class alone read
    kept = CallOutcome(None, encoded=["O", "pkg.Other", [["?"]], []])
    assert (
        CallResolver._wrapper_for(resolver, call, facts, {"pkg.Client.get": helper}, kept) is None
    )  # type: ignore[arg-type]
    assert asked == ["pkg.Other"] and kept.encoded is not None and kept.receiver is None

    kept = CallOutcome(None, encoded=["O", "pkg.Client", [["L", "x"]], []])
    found = CallResolver._wrapper_for(resolver, call, facts, {"pkg.Client.get": helper}, kept)  # type: ignore[arg-type]
    assert found is helper
    assert kept.encoded is None and kept.receiver == Obj("pkg.Client", (Lit("x"),))


def test_a_site_given_its_id_is_the_site_replace_makes() -> None:
    # ids are given to every site of a scan without dataclasses.replace: the same site,
    # every other field kept (the id first among the fields), the post-init checks run
    from dataclasses import fields, replace

    from decouple_services.core.model import CallSite
    from decouple_services.resolve.calls import _with_id

    assert fields(CallSite)[0].name == "id"
    site = full_site(id="", evidence=("a",), payload="json=x", in_loop=True)
    given_id = _with_id(site, "cs-1")
    assert given_id == replace(site, id="cs-1")
    assert [getattr(given_id, f.name) for f in fields(CallSite)][1:] == [
        getattr(site, f.name) for f in fields(CallSite)
    ][1:]
