"""Which service owns a file, found by the file's folders (``ServiceOwners``), is what
trying every service for it finds: the longest root holding it, a file a service runs
being that service's, and the same tie-breaks (named like its folder, listening on a
port, named as servers are, extended by another's name, first in order)."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.core.model import Service
from decouple_services.discover.found import _SERVER_NAMES, ServiceOwners, _extends_name


def _every_service(services: Sequence[Service], path: str) -> str | None:
    """Every service tried for ``path``: the reference the index must agree with."""
    best: Service | None = None
    best_key: tuple[int, bool, bool, bool, bool] | None = None
    running = [s for s in services if path in s.entries]
    if len(running) == 1:
        return running[0].name
    for service in running or services:
        root = service.root
        if running:
            length = 0
        elif root == "" or service.entries_only:
            continue
        elif root == ".":
            length = 0
        elif path == root or path.startswith(root + "/"):
            length = len(root)
        else:
            continue
        key = (
            length,
            service.name == posixpath.basename(root),
            bool(service.ports),
            service.name in _SERVER_NAMES,
            any(
                _extends_name(other.name, service.name)
                for other in (running or services)
                if running or other.root == root
            ),
        )
        if best_key is None or key > best_key:
            best, best_key = service, key
    return best.name if best is not None else None


FOLDERS = ["", ".", "a", "a/b", "a/b/c", "b", "web", "a/web", "/", "/a", "a/"]
FILES = ["a/x.py", "a/b/x.py", "a/b/c/x.py", "b/x.py", "web/app.py", "a/web/app.py", "x.py"]
NAMES = ["web", "worker", "a", "b", "c", "loader", "ingest-loader", "api", "x"]

services_strategy = st.lists(
    st.builds(
        Service,
        name=st.sampled_from(NAMES),
        root=st.sampled_from(FOLDERS),
        ports=st.sampled_from([(), (8000,)]),
        entries=st.lists(st.sampled_from(FILES), max_size=2).map(tuple),
        entries_only=st.booleans(),
    ),
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(services=services_strategy)
def test_the_index_agrees_with_trying_every_service(services: list[Service]) -> None:
    owners = ServiceOwners(services)
    for path in [*FILES, *FOLDERS, "/a/x.py", "./a/x.py"]:
        assert owners.owner(path) == _every_service(services, path), path


def test_the_longest_root_holding_a_file_owns_it() -> None:
    services = [Service("repo", "."), Service("a", "a"), Service("deep", "a/b")]
    owners = ServiceOwners(services)
    assert owners.owner("a/b/x.py") == "deep"
    assert owners.owner("a/x.py") == "a"
    assert owners.owner("ab/x.py") == "repo"  # "a" is no folder of it


def test_a_file_a_service_runs_is_its_own_whatever_the_roots() -> None:
    services = [Service("a", "a"), Service("job", "pkg", entries=("a/job.py",), entries_only=True)]
    owners = ServiceOwners(services)
    assert owners.owner("a/job.py") == "job"
    assert owners.owner("pkg/other.py") is None  # known only by what it runs
