"""Helpers whose parameter is the whole path: read from the parameter's name."""

from __future__ import annotations

import pytest

from decouple_services.detect.values import Concat, Join, Lit, Param, Ref, Value
from decouple_services.resolve.calls import _path_param_named_so

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
