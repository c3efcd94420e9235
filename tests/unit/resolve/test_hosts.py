"""split_url: where the host ends when parts of the url are only known at run time."""

from __future__ import annotations

import pytest

from decouple_services.resolve.hosts import split_url


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("http://users:8000/users/{id}", "users", 8000, "/users/{id}"),
        ("http://users:8000{request.path}", "users", 8000, "{request.path}"),
        ("http://users:8000{prefix}/users", "users", 8000, "{prefix}/users"),
    ],
)
def test_host_port_and_path(url: str, host: str, port: int, path: str) -> None:
    target = split_url(url)
    assert (target.host, target.port, target.path, target.dynamic_host) == (host, port, path, False)


@pytest.mark.parametrize(
    "url",
    [
        "{BASE}/users",
        "http://{host}:8000/users",
        "http://api-{region}.example.com/x",
        "http://users{path}",
    ],
)
def test_a_run_time_host_stays_unknown(url: str) -> None:
    assert split_url(url).dynamic_host
