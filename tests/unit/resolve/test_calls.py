"""Helpers whose parameter is the whole path: read from the parameter's name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Concat, Join, Lit, Param, Ref, Value
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
