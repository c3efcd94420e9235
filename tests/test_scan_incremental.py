"""A rerun reuses the resolution of what did not change: after any sequence of edits, its
result is the one a scan without cache gives.

A small multi-service tree is generated from a state (the url a constant holds, the
name compose gives a service, calls added and removed, a helper and its invocations, a
client object defined in one module and used in another, a module deleted...); each
example applies a random sequence of edits to it, and after every edit the cached scan
(which reuses each file's earlier resolution while what it read is unchanged) must equal
a scan with ``use_cache=False`` byte for byte.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sites import full_site

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.detect.facts import FileFacts
from decouple_services.render.json import render_json
from decouple_services.resolve.calls import FilePass


@dataclass(frozen=True)
class Tree:
    """What the generated tree says; :func:`render` turns it into files."""

    users_url: str = "http://users:5000"
    users_service: str = "users"
    extra_calls: int = 1
    config_exists: bool = True
    constant_name: str = "USERS_URL"
    helper_host: str | None = "orders:5001"
    session_module: bool = True
    route: str = "/users"
    ignored: bool = False
    env_default: str = "http://users:5000"
    compose_env: str | None = "http://orders:5001"
    base_class: bool = True
    #: base.py names a client (a candidate) or not (parsed only when asked for)
    base_candidate: bool = True
    #: a class ``Fetcher`` whose name a parameter of client.py takes (``fetcher.get(...)``)
    fetcher_class: bool = False
    #: functions appended to client.py that nothing calls (an edit no result depends on)
    appended: int = 0
    #: requests to a literal address appended to client.py (an edit that changes the
    #: result and no helper pass: the passes are taken as the last scan's)
    literal_calls: int = 0
    #: what notes.py, a file that is no candidate, holds (see NOTES)
    notes: str = "constant"
    #: whether a test module uses the conftest's client fixture (found by naming it)
    test_uses: bool = True
    #: the address wiring.py, no candidate, builds a client class's object with (found by
    #: the search for files building the class), or no wiring.py
    built: str | None = "http://users:5000"
    #: a helper taking only the path, on a fixed host, and how many uses it has
    path_uses: int | None = 1
    #: the host a helper of the helper (learned in the second helper pass) is given from a
    #: constant of a module no candidate (asked for in the third pass), or none of them
    chained: str | None = "users:5000"


#: notes.py's text: nothing any search looks for, or a helper's use and a client object's
#: use reached only through the searches of on-demand parsing.
NOTES = {
    "constant": "LIMIT = 1\n",
    "function": "def limit():\n    return 2\n",
    "helper": 'from orders.helpers import call\n\n\ndef poll():\n    call("users:5000", "/users/2")\n',
    "session": "from orders.http import session\n\n\ndef ping():\n"
    '    session.get("http://users:5000/users/3", timeout=1)\n',
    # the name of a test fixture, outside the tests its conftest serves
    "fixture": "def users_api():\n    return 3\n",
    # connected to the helper's module by an import that does not name the helper, then
    # naming it with the same imports: the helper search's graph is the last scan's
    "helper_module": "from orders import helpers\n\nLIMIT = 1\n",
    "helper_attribute": "from orders import helpers\n\n\ndef poll():\n"
    '    helpers.call("users:5000", "/users/5")\n',
    # the helper's name in a file no import connects to its module
    "helper_name": "def call():\n    return 4\n\n\nLIMIT = call()\n",
    # a request through a library the tree has no module of: an import the helper
    # searches' graph does not follow (the last scan's graph is kept)
    "request": "import requests\n\n\ndef ping():\n"
    '    requests.get("http://users:5000/users/7", timeout=1)\n',
    # a request to an address a constant of hosts.py holds: a module the last scan parsed
    # only in its last helper pass (the constant of a use of a helper learned in the second)
    "request_hosts": "import requests\n\nfrom orders.hosts import USERS_HOST\n\n\n"
    "def ping():\n"
    '    requests.get(f"http://{USERS_HOST}/users/10", timeout=1)\n',
    # a helper of its own: a request whose host is a parameter
    "request_helper": "import requests\n\n\ndef fetch(host):\n"
    '    return requests.get(f"http://{host}/users/11", timeout=1)\n\n\n'
    'def poll():\n    return fetch("users:5000")\n',
    # a request with an import of a module of the tree (the graph is built again)
    "request_helpers": "import requests\n\nfrom orders import helpers\n\n\ndef ping():\n"
    '    requests.get("http://users:5000/users/8", timeout=1)\n'
    '    helpers.call("users:5000", "/users/9")\n',
}

EDITS = st.one_of(
    st.builds(
        lambda v: ("users_url", v),
        st.sampled_from(
            [
                "http://users:5000",
                "http://orders:5001",
                "https://api.example.com",
                "http://accounts:5000/api",
            ]
        ),
    ),
    st.builds(lambda v: ("users_service", v), st.sampled_from(["users", "accounts"])),
    st.builds(lambda v: ("extra_calls", v), st.integers(0, 2)),
    st.builds(lambda v: ("config_exists", v), st.booleans()),
    st.builds(lambda v: ("constant_name", v), st.sampled_from(["USERS_URL", "USER_API"])),
    st.builds(lambda v: ("helper_host", v), st.sampled_from([None, "orders:5001", "users:5000"])),
    st.builds(lambda v: ("session_module", v), st.booleans()),
    st.builds(lambda v: ("route", v), st.sampled_from(["/users", "/people"])),
    st.builds(lambda v: ("ignored", v), st.booleans()),
    st.builds(
        lambda v: ("env_default", v), st.sampled_from(["http://users:5000", "http://nowhere"])
    ),
    st.builds(
        lambda v: ("compose_env", v), st.sampled_from([None, "http://orders:5001", "http://users"])
    ),
    st.builds(lambda v: ("base_class", v), st.booleans()),
    st.builds(lambda v: ("base_candidate", v), st.booleans()),
    st.builds(lambda v: ("fetcher_class", v), st.booleans()),
    st.builds(lambda v: ("appended", v), st.integers(0, 2)),
    st.builds(lambda v: ("literal_calls", v), st.integers(0, 2)),
    st.builds(lambda v: ("notes", v), st.sampled_from(sorted(NOTES))),
    st.builds(lambda v: ("test_uses", v), st.booleans()),
    st.builds(
        lambda v: ("built", v),
        st.sampled_from([None, "http://users:5000", "http://orders:5001"]),
    ),
    st.builds(lambda v: ("path_uses", v), st.sampled_from([None, 0, 1, 2])),
    st.builds(lambda v: ("chained", v), st.sampled_from([None, "users:5000", "orders:5001"])),
)


def render(tree: Tree) -> dict[str, str]:
    files: dict[str, str] = {}
    environment = (
        f"    environment:\n      BILLING_URL: {tree.compose_env}\n" if tree.compose_env else ""
    )
    files["docker-compose.yml"] = (
        "services:\n"
        f"  {tree.users_service}:\n    build: ./services/users\n    ports: ['5000:5000']\n"
        "  orders:\n    build: ./services/orders\n    ports: ['5001:5001']\n" + environment
    )
    files["services/users/users/__init__.py"] = ""
    files["services/users/users/app.py"] = (
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
        f'@app.route("{tree.route}/<int:user_id>")\n'
        "def get_user(user_id):\n    return {}\n\n\n"
        '@app.route("/health")\ndef health():\n    return "ok"\n'
    )
    files["services/orders/orders/__init__.py"] = ""
    if tree.config_exists:
        files["services/orders/orders/config.py"] = (
            f'{tree.constant_name} = "{tree.users_url}"\nTIMEOUT = 5\n'
        )
    client = ["import os", "", "import requests", "", "from orders import config", ""]
    client.append("")
    client.append("def load_user(user_id):")
    if tree.ignored:
        client.append("    # decouple: ignore")
    client.append('    return requests.get(f"{config.USERS_URL}/users/{user_id}", timeout=2)')
    # a parameter named after a project class: with no helper known, looking one up asks
    # for that class's bases
    client += ["", "", "def load(fetcher):", '    return fetcher.get("/users/1")']
    for n in range(tree.extra_calls):
        client += [
            "",
            "",
            f"def notify_{n}(user_id):",
            f'    base = os.environ.get("BILLING_URL", "{tree.env_default}")',
            f'    requests.post(base + "/notify/{n}", json={{"id": user_id}}, timeout=2)',
        ]
    for n in range(tree.appended):
        client += ["", "", f"def extra_{n}():", f"    return {n}"]
    for n in range(tree.literal_calls):
        client += [
            "",
            "",
            f"def ping_{n}():",
            f'    return requests.get("http://users:5000/users/ping{n}", timeout=2)',
        ]
    files["services/orders/orders/client.py"] = "\n".join(client) + "\n"
    files["services/orders/orders/notes.py"] = NOTES[tree.notes]
    files["services/orders/tests/conftest.py"] = (
        "import pytest\nimport requests\n\n\n"
        "@pytest.fixture\ndef users_api():\n    return requests.Session()\n"
    )
    # no candidate: found only by the fixture's name, in a test module under the conftest
    files["services/orders/tests/test_users.py"] = (
        'def test_get(users_api):\n    users_api.get("http://users:5000/users/4", timeout=1)\n'
        if tree.test_uses
        else "def test_get():\n    assert True\n"
    )
    if tree.helper_host is not None:
        files["services/orders/orders/helpers.py"] = (
            "import requests\n\n\n"
            "def call(host, path):\n"
            '    return requests.get(f"http://{host}{path}", timeout=3)\n'
        )
        files["services/orders/orders/jobs.py"] = (
            "from orders.helpers import call\n\n\n"
            "class Store:\n    def get(self, key):\n        return key\n\n\n"
            "store = Store()\n\n\n"
            f'def sync():\n    call("{tree.helper_host}", "/users/1")\n    store.get("k")\n'
        )
    if tree.session_module:
        files["services/orders/orders/http.py"] = (
            "import requests\n\nsession = requests.Session()\n"
        )
        files["services/orders/orders/refresh.py"] = (
            "from orders.http import session\nfrom orders.config import TIMEOUT\n\n\n"
            "def refresh():\n"
            '    session.post("http://users:5000/users/refresh", timeout=TIMEOUT)\n'
        )
    if tree.base_class:
        # a base class in a module nothing else makes resolution parse: a candidate (it
        # names requests), or found through the attribute inherited from it
        files["services/orders/orders/base.py"] = (
            ("import requests\n\n\n" if tree.base_candidate else "")
            + f'class BaseClient:\n    base_url = "{tree.users_url}"\n'
            + ("    session = requests\n" if tree.base_candidate else "")
        )
        files["services/orders/orders/api.py"] = (
            "import requests\n\nfrom orders.base import BaseClient\n\n\n"
            "class UsersClient(BaseClient):\n"
            "    def fetch(self, user_id):\n"
            '        return requests.get(f"{self.base_url}/users/{user_id}", timeout=1)\n'
        )
    # a base class only looking `Fetcher` up reaches; its syntax error is reported when
    # it is parsed
    files["services/orders/orders/basefetch.py"] = (
        'class BaseFetcher:\n    url = "http://users:5000"\n\n\ndef broken(:\n    pass\n'
    )
    # a class whose objects carry its address: client_class.py's request reads the
    # constructor's argument where wiring.py builds one
    files["services/orders/orders/client_class.py"] = (
        "import requests\n\n\nclass UsersClient:\n"
        "    def __init__(self, base_url):\n        self.base_url = base_url\n\n"
        "    def get(self, user_id):\n"
        '        return requests.get(f"{self.base_url}/users/{user_id}", timeout=1)\n'
    )
    if tree.built is not None:
        files["services/orders/orders/wiring.py"] = (
            f'from orders.client_class import UsersClient\n\nusers = UsersClient("{tree.built}")\n'
        )
    if tree.path_uses is not None:
        files["services/orders/orders/paths.py"] = (
            'import requests\n\nUSERS = "http://users:5000"\n\n\n'
            "def get_path(path):\n    return requests.get(USERS + path, timeout=1)\n"
            + "".join(
                f'\n\ndef use_{n}():\n    return get_path("/users/{n}")\n'
                for n in range(tree.path_uses)
            )
        )
    if tree.chained is not None:
        # three helper passes: `call` learned in the first, `call_via` (handing its
        # parameters to `call`) in the second, and its use's constant asked for in the
        # third; none of these files names a client
        files["services/orders/orders/via.py"] = (
            "from orders.helpers import call\n\n\n"
            "def call_via(host, path):\n    return call(host, path)\n"
        )
        files["services/orders/orders/hosts.py"] = f'USERS_HOST = "{tree.chained}"\n'
        files["services/orders/orders/chained.py"] = (
            "from orders.hosts import USERS_HOST\nfrom orders.via import call_via\n\n\n"
            'def chained():\n    return call_via(USERS_HOST, "/users/9")\n'
        )
    if tree.fetcher_class:
        # a candidate for the request it makes: a class is seen by its name when its file
        # is parsed
        files["services/orders/orders/fetchers.py"] = (
            "import requests\n\nfrom orders.basefetch import BaseFetcher\n\n\n"
            "class Fetcher(BaseFetcher):\n    def get(self, path):\n        return path\n\n"
            "    def ping(self):\n"
            '        return requests.head("http://users:5000/health", timeout=1)\n'
        )
    return files


def write(root: Path, before: dict[str, str], after: dict[str, str]) -> None:
    for path in before.keys() - after.keys():
        (root / path).unlink()
    for path, text in after.items():
        if before.get(path) != text:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="decouple-incremental-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(EDITS, min_size=1, max_size=5))
def test_a_rerun_after_any_edits_equals_a_scan_without_cache(
    workdir: Path, edits: list[tuple[str, object]]
) -> None:
    root = Path(tempfile.mkdtemp(dir=workdir))
    cache = root.parent / (root.name + "-cache")
    tree = Tree()
    files = render(tree)
    write(root, {}, files)
    try:
        assert cached(root, cache) == uncached(root)
        for field_name, value in edits:
            tree = replace(tree, **{field_name: value})
            after = render(tree)
            write(root, files, after)
            files = after
            assert cached(root, cache) == uncached(root), (field_name, value)
            # the facts a cached scan froze for the collector are back in its sight
            assert gc.get_freeze_count() == 0 and gc.isenabled()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def test_the_generated_tree_exercises_what_reuse_depends_on(tmp_path: Path) -> None:
    """The tree's calls resolve through another module's constant, a base class, a helper,
    a client object and a compose environment value, so the edits above change what
    resolution reads, not only the files resolved."""
    write(tmp_path, {}, render(Tree()))
    result = scan(tmp_path, ScanOptions(use_cache=False, jobs=1))
    by_file = {(s.file.rpartition("/")[2], s.callee) for s in result.call_sites}
    assert ("client.py", "users") in by_file
    assert ("api.py", "users") in by_file
    assert ("jobs.py", "orders") in by_file
    assert ("refresh.py", "users") in by_file
    assert ("test_users.py", "users") in by_file
    assert ("client_class.py", "users") in by_file
    assert ("paths.py", "users") in by_file
    assert ("chained.py", "users") in by_file
    assert any(s.url_template and "orders:5001/notify" in s.url_template for s in result.call_sites)


def test_a_class_a_parameter_is_named_after_changes_what_an_unchanged_file_asks(
    tmp_path: Path,
) -> None:
    # client.py's `fetcher.get(...)` is unchanged; once a class `Fetcher` exists, looking a
    # helper up for it asks for its bases, and basefetch.py is parsed (its syntax error
    # reported). A rerun must ask that again, not replay what client.py asked before.
    root, cache = tmp_path / "repo", tmp_path / "cache"
    files = render(Tree(helper_host=None))
    write(root, {}, files)
    assert cached(root, cache) == uncached(root)
    after = render(Tree(helper_host=None, fetcher_class=True))
    write(root, files, after)
    result = cached(root, cache)
    assert result == uncached(root)
    assert "basefetch.py" in result
    write(root, after, files)
    assert cached(root, cache) == uncached(root)


def uncached(root: Path) -> str:
    return render_json(scan(root, ScanOptions(use_cache=False, jobs=1)))


def cached(root: Path, cache: Path) -> str:
    return render_json(scan(root, ScanOptions(cache_dir=cache, jobs=1)))


def fresh_resolutions(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The files a cached scan resolves afresh (not from an earlier resolution)."""
    from decouple_services.resolve.calls import CallResolver

    resolved: set[str] = set()
    real = CallResolver._first_pass

    def spy(self: CallResolver, facts: FileFacts) -> FilePass:
        resolved.add(facts.path.rpartition("/")[2])
        return real(self, facts)

    spied(root, cache, monkeypatch, "_first_pass", spy)
    return resolved


def spied(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, name: str, spy: object) -> None:
    """A cached scan with ``CallResolver.<name>`` replaced by ``spy``; its result is a scan
    without cache's."""
    from decouple_services.resolve.calls import CallResolver

    with monkeypatch.context() as patch:
        patch.setattr(CallResolver, name, spy)
        result = cached(root, cache)
    assert result == uncached(root)


def settled(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The tree written, older than the racy window (the manifest can vouch for its files
    unchanged): its root, a cache folder and its files."""
    root, cache = tmp_path / "repo", tmp_path / "cache"
    files = render(Tree())
    write(root, {}, files)
    time.sleep(0.2)
    return root, cache, files


def test_a_rerun_resolves_again_only_the_files_whose_inputs_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache, files = settled(tmp_path)
    cached(root, cache)
    assert fresh_resolutions(root, cache, monkeypatch) == set()  # the last result, as it was

    # one more call in client.py: that file alone (helpers.py, which holds a helper, keeps
    # its first pass: the helper is kept with it)
    after = render(Tree(extra_calls=2))
    write(root, files, after)
    assert fresh_resolutions(root, cache, monkeypatch) == {"client.py"}

    # the constant client.py and base.py's class read changes; refresh.py reads another
    # constant of the same module (TIMEOUT), jobs.py nothing that changed
    files, after = after, render(Tree(extra_calls=2, users_url="http://orders:5001"))
    write(root, files, after)
    assert fresh_resolutions(root, cache, monkeypatch) == {"client.py", "api.py"}

    # a service renamed in docker-compose.yml: every file with a call (which service owns
    # a file, and the hosts every call site is resolved against, are global inputs)
    files, after = (
        after,
        render(Tree(extra_calls=2, users_url="http://orders:5001", users_service="accounts")),
    )
    write(root, files, after)
    assert fresh_resolutions(root, cache, monkeypatch) == {
        "client.py",
        "api.py",
        "helpers.py",
        "refresh.py",
        "jobs.py",
        "http.py",
        "conftest.py",
        "test_users.py",
        "client_class.py",
        "paths.py",
        "via.py",
        "chained.py",
    }


def test_a_rerun_resolves_again_the_sites_through_a_client_that_stops_checking_its_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a configured client checks its requests' success decides how the calls
    through it read (their answer is used); the files holding them are resolved again
    when that changes, though none of them changed, and the others are not."""
    root, cache = tmp_path / "sample", tmp_path / "cache"
    shutil.copytree(
        Path(__file__).parent / "fixtures" / "sample",
        root,
        symlinks=True,
        ignore=shutil.ignore_patterns(".decouple-cache"),
    )
    before = json.loads(cached(root, cache))
    rpc = root / "libs/shopcore/shopcore/rpc.py"
    text = rpc.read_text(encoding="utf-8")
    unchecked = text.replace("    resp.raise_for_status()\n", "").replace(
        "    if resp.status_code >= 500:\n", "    if False:\n"
    )
    assert unchecked != text
    rpc.write_text(unchecked, encoding="utf-8")
    fresh = fresh_resolutions(root, cache, monkeypatch)
    after = json.loads(cached(root, cache))
    assert json.loads(uncached(root)) == after

    def through(result: dict[str, Any]) -> list[tuple[str, bool]]:
        return sorted(
            (site["file"], site["result_used"])
            for site in result["call_sites"]
            if site["client"] == "shopcore.rpc.call_service"
        )

    files = {file for file, _ in through(before)}
    assert len(files) > 1 and through(after) != through(before)
    # each file with a call through it, and rpc.py itself, not every file with a call
    assert {f.rpartition("/")[2] for f in files} | {"rpc.py"} <= fresh
    assert {"clients.py"}.isdisjoint(fresh)


def test_a_rerun_decodes_whole_only_the_calls_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The facts a rerun reads from the cache keep their calls encoded: the heads are
    decoded for looking up helpers' invocations, the calls whole only for the files where
    one invokes a helper, and for the edited file's last facts, compared with its new
    ones. A file whose resolution is recalled holds no call anything reads whole."""
    from decouple_services.detect.facts import EncodedCalls

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    write(root, files, render(Tree(extra_calls=2)))
    paths: dict[int, str] = {}
    decoded: set[str] = set()
    read = FileFacts.from_cache
    decode = EncodedCalls.decoded

    def reading(body: bytes, key: str = "") -> FileFacts:
        facts = read(body, key)
        if isinstance(facts.calls, EncodedCalls):
            paths[id(facts.calls)] = facts.path.rpartition("/")[2]
        return facts

    def decoding(self: EncodedCalls) -> tuple[object, ...]:
        decoded.add(paths[id(self)])
        return decode(self)

    monkeypatch.setattr(FileFacts, "from_cache", reading)
    monkeypatch.setattr(EncodedCalls, "decoded", decoding)
    assert fresh_resolutions(root, cache, monkeypatch) == {"client.py"}
    assert {"api.py", "helpers.py", "refresh.py", "test_users.py"} <= set(paths.values())
    assert decoded == {"client.py", "chained.py", "jobs.py", "paths.py", "via.py"}


def test_a_rerun_takes_the_digests_of_unchanged_definitions_from_the_last_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a kept resolution is checked against a digest of every value it read; a list of
    # definitions whose files' facts have the cache keys they had is the value it was,
    # and its digest the last scan's: only the edited file's definitions are digested
    from decouple_services.app import incremental

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    after = render(Tree(literal_calls=1, users_url="http://orders:5001"))
    write(root, files, after)
    expected = uncached(root)
    digested: list[set[str]] = []
    real = incremental.digest

    def spy(parts: object) -> str:
        if (
            isinstance(parts, list)
            and parts
            and all(isinstance(e, tuple) and len(e) == 2 and e[0] in after for e in parts)
        ):
            digested.append({e[0] for e in parts})
        return real(parts)

    monkeypatch.setattr(incremental, "digest", spy)
    assert cached(root, cache) == expected
    edited = {path for path, text in after.items() if files.get(path) != text}
    assert digested and all(paths <= edited for paths in digested), (edited, digested)


def resolutions(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times a cached scan resolves its calls (0: the last result stood)."""
    from decouple_services.resolve.calls import CallResolver

    runs = []
    real = CallResolver.resolve

    def spy(self: CallResolver, memo: object = None) -> object:
        runs.append(1)
        return real(self, memo)  # type: ignore[arg-type]

    spied(root, cache, monkeypatch, "resolve", spy)
    return len(runs)


def test_an_edit_nothing_read_keeps_the_last_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache, files = settled(tmp_path)
    assert resolutions(root, cache, monkeypatch) > 0
    # a function nothing calls appended to a parsed file, a file no search finds edited:
    # the last result stands, nothing is resolved
    for tree in (Tree(appended=1), Tree(appended=1, notes="function"), Tree(appended=2)):
        after = render(tree)
        write(root, files, after)
        files = after
        assert resolutions(root, cache, monkeypatch) == 0, tree
    # a fixture's name in a module outside its tests: the search for its uses reads only
    # test modules under its conftest's folder
    for tree in (Tree(appended=2, notes="fixture"), Tree(appended=1, notes="fixture")):
        after = render(tree)
        write(root, files, after)
        files = after
        assert resolutions(root, cache, monkeypatch) == 0, tree
    # a test module under it starts using the fixture: found, and the scan runs
    after = render(Tree(appended=1, notes="fixture", test_uses=False))
    write(root, files, after)
    files = after
    assert resolutions(root, cache, monkeypatch) > 0
    after = render(Tree(appended=1, notes="fixture"))
    write(root, files, after)
    files = after
    assert resolutions(root, cache, monkeypatch) > 0
    assert "test_users.py" in cached(root, cache)
    # a use of a helper, and of a client object, in the file no search found before: the
    # searches of on-demand parsing find it now, and the scan runs
    for notes in ("helper", "session"):
        after = render(Tree(appended=2, notes=notes))
        write(root, files, after)
        files = after
        assert resolutions(root, cache, monkeypatch) > 0, notes
        assert "notes.py" in cached(root, cache)
    # a function a call looks up (the helper's module gains a second definition of `call`)
    after = {**files}
    after["services/orders/orders/helpers.py"] += (
        "\n\ndef call(host, path, retries=3):\n    return host\n"
    )
    write(root, files, after)
    assert resolutions(root, cache, monkeypatch) > 0


def test_the_helper_search_of_an_edited_file_asks_the_last_scans_import_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every file's imports unchanged, whether an edited file is connected to a
    helper's module is the last scan's answer, kept with its record: no import graph is
    built to ask it again, and the answers are those a scan without cache gives."""
    import json

    from decouple_services.app import pipeline

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    (record,) = cache.glob("edits-*.json")
    assert "orders.helpers" in json.loads(record.read_text(encoding="utf-8"))["record"]["graph"]
    built: list[int] = []
    real = pipeline._import_graph

    def counting(*args: object, **kwargs: object) -> object:
        if args[2:3] != (None,):  # not the scan without cache it is compared with
            built.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    # the helper's name, in a file that is not connected to its module: not found
    after = render(Tree(notes="helper_name"))
    write(root, files, after)
    files = after
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_import_graph", counting)
        assert resolutions(root, cache, patch) == 0
        assert built == []
    assert cached(root, cache) == uncached(root)
    # connected by a new import (imports changed: the scan runs), then naming the helper
    # with the same imports: found through the kept graph, and the scan runs
    for notes in ("helper_module", "helper_attribute", "helper_module"):
        after = render(Tree(notes=notes))
        write(root, files, after)
        files = after
        assert resolutions(root, cache, monkeypatch) > 0, notes
        assert cached(root, cache) == uncached(root), notes


def test_a_rerun_after_a_new_request_keeps_the_import_graph_unless_an_import_of_the_tree_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit adding a request (and ``import requests``, a module the tree does not
    have) changes the result, but no answer of the import graph: the helper and client
    object searches take the last scan's, and the graph is not built. An edit importing
    a module of the tree builds it again. Either way the result is a scan without
    cache's, and the edited file's imports are kept for the rerun after it."""
    from decouple_services.app import pipeline

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    built: list[int] = []
    real = pipeline._import_graph

    def counting(*args: object, **kwargs: object) -> object:
        if args[2:3] != (None,):  # not the scan without cache it is compared with
            built.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    for notes, builds in (("request", False), ("request_helpers", True), ("request", True)):
        after = render(Tree(notes=notes))
        write(root, files, after)
        files = after
        built.clear()
        with monkeypatch.context() as patch:
            patch.setattr(pipeline, "_import_graph", counting)
            assert resolutions(root, cache, patch) > 0, notes
            assert bool(built) is builds, notes
        assert "users/7" in cached(root, cache) or notes != "request"
    # a neutral edit on top: the edited file's imports were kept under its new content,
    # so the last result stands without building the graph
    after = render(Tree(notes="request", appended=1))
    write(root, files, after)
    built.clear()
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_import_graph", counting)
        assert resolutions(root, cache, patch) == 0
        assert built == []


def test_a_rerun_after_a_new_request_takes_the_helper_passes_as_the_last_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit adding or removing a request to a literal address in a file that was
    parsed, with no other change anything read (a function and what it returns), learns
    in each helper pass what the last scan learned: the rerun resolves once, in the last
    pass, and its result is a scan without cache's (``resolutions`` compares them). So
    does the rerun after a function appended on top of it. An edit adding or removing a
    call whose host a helper may give (a call with no site of its own) runs the passes
    again."""
    root, cache, files = settled(tmp_path)
    cached(root, cache)
    steps = [
        (Tree(extra_calls=2), None),  # the passes as before the change, for the baseline
        (Tree(extra_calls=2, literal_calls=1), 1),
        (Tree(extra_calls=2, literal_calls=1, appended=1), 1),  # a function appended
        (Tree(extra_calls=2, literal_calls=2), 1),
        (Tree(extra_calls=2, literal_calls=0), 1),  # requests removed
        (Tree(extra_calls=1), None),  # a call without a site of its own removed
    ]
    for tree, expected in steps:
        after = render(tree)
        write(root, files, after)
        files = after
        runs = resolutions(root, cache, monkeypatch)
        if expected is None:
            assert runs > 1, tree
        else:
            assert runs == expected, tree


def test_a_rerun_after_a_request_in_a_file_never_parsed_takes_the_passes_when_sound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """notes.py, a file the last scan never parsed (no candidate, asked for by no lookup),
    becomes a candidate with a request to a literal address: resolved alone in each helper
    pass before the last, with that pass's files and helpers, it finds no helper and asks
    for no file the last scan had not parsed by then, so the rerun takes the passes as the
    last scan's and resolves once (``resolutions`` compares each result with a scan
    without cache's). They run again when its resolution in an earlier pass would ask
    for a file the last scan parsed only in a later pass (hosts.py, parsed in the last),
    when it holds a helper of its own, or when a call without a site of its own may
    invoke a helper of an earlier pass (``helpers.call``)."""
    for notes, kept in (
        ("request", True),
        ("request_hosts", False),
        ("request_helper", False),
        ("request_helpers", False),
    ):
        root, cache, files = settled(tmp_path / notes)
        cached(root, cache)
        cached(root, cache)  # the record of a scan whose passes were kept: a rerun's
        after = render(Tree(notes=notes))
        write(root, files, after)
        runs = resolutions(root, cache, monkeypatch)
        assert (runs == 1) is kept, (notes, runs)


def test_the_searches_a_rerun_did_not_make_are_kept_for_the_files_unchanged(
    tmp_path: Path,
) -> None:
    """A rerun that takes the helper passes as the last scan's does not make their
    searches: they are kept, with the answers of the files whose content is unchanged
    (a changed file is read again by the next search with the same terms)."""
    from decouple_services.app.incremental import SearchMemo

    python = ["a.py", "b.py", "c.py"]
    digests = {"a.py": "1", "b.py": "2", "c.py": "3"}
    first = SearchMemo(python, digests.get)
    first.search("words", ["x"], python, lambda paths: [p for p in paths if p != "b.py"])
    first.search("words", ["y"], python, lambda paths: ["b.py"])
    first.save(tmp_path, tmp_path)
    digests["c.py"] = "4"  # edited
    second = SearchMemo.load(tmp_path, tmp_path, python, digests.get)
    second.search("words", ["y"], python, lambda paths: ["b.py"])
    second.save(tmp_path, tmp_path)
    third = SearchMemo.load(tmp_path, tmp_path, python, digests.get)
    read: list[str] = []

    def run(paths: list[str]) -> list[str]:
        read.extend(paths)
        return ["c.py"]

    assert third.search("words", ["x"], python, run) == ["a.py", "c.py"]
    assert read == ["c.py"]


def test_kept_searches_keep_exactly_their_unchanged_files(tmp_path: Path) -> None:
    """Over more files than a byte of bits holds: each kept search keeps the files it
    tested whose content is unchanged (not one edited, nor one the scan could not read
    whole), with what it found among them, and the digests of every file kept."""
    import base64
    import random

    from decouple_services.app.cache import root_file
    from decouple_services.app.incremental import SearchMemo

    rng = random.Random(7)
    python = [f"m{i:02}.py" for i in range(21)]
    digests: dict[str, str | None] = {p: f"d{i}" for i, p in enumerate(python)}
    first = SearchMemo(python, digests.get)
    tested_by: dict[str, list[str]] = {}
    for n in range(6):
        tested = sorted(rng.sample(python, rng.randint(0, len(python))))
        found = [p for p in tested if rng.random() < 0.4]
        tested_by[f"w{n}"] = tested
        first.search("words", [f"w{n}"], tested, lambda paths, found=found: found)
    digests["m05.py"] = None  # not read whole by this scan: read again by the next
    first.save(tmp_path, tmp_path)
    last = json.loads(root_file(tmp_path, "searches", tmp_path).read_text())
    for n, (bits_text, found_at) in enumerate(last["searches"].values()):
        positions = [python.index(p) for p in tested_by[f"w{n}"] if p != "m05.py"]
        assert base64.b64decode(bits_text) == sum(1 << i for i in positions).to_bytes(3, "little")
        assert all(i in positions for i in found_at)
    assert last["digests"] == [
        digests[p] if any(p in tested for tested in tested_by.values()) else None for p in python
    ]
    digests["m05.py"] = "d5"
    for edited in ("m03.py", "m09.py", "m17.py"):
        digests[edited] = "edited"
    digests["m12.py"] = None  # read again by every search
    second = SearchMemo.load(tmp_path, tmp_path, python, digests.get)
    second.save(tmp_path, tmp_path)
    saved = json.loads(root_file(tmp_path, "searches", tmp_path).read_text())
    kept_digests: list[str | None] = [None] * len(python)
    for key, (bits_text, found_at) in last["searches"].items():
        bits = base64.b64decode(bits_text)
        kept = [
            i
            for i in range(len(python))
            if bits[i >> 3] >> (i & 7) & 1 and digests[python[i]] == last["digests"][i]
        ]
        assert {python[i] for i in kept} <= set(tested_by[json.loads(json.loads(key)[1][0])])
        expected = bytearray(len(bits))
        for i in kept:
            expected[i >> 3] |= 1 << (i & 7)
            kept_digests[i] = last["digests"][i]
        assert saved["searches"][key] == [
            base64.b64encode(bytes(expected)).decode(),
            [i for i in found_at if i in kept],
        ]
    assert saved["digests"] == kept_digests
    assert saved["paths"] == python


def _finding(
    texts: dict[str, str], words: Sequence[str], read: list[str] | None = None
) -> Callable[[list[str]], list[str]]:
    """A text search of ``texts`` for any of ``words``, noting the files it reads."""

    def run(paths: list[str]) -> list[str]:
        if read is not None:
            read.extend(paths)
        return [p for p in paths if any(w in texts[p] for w in words)]

    return run


def test_a_search_for_several_terms_is_answered_from_the_last_scans_for_some_of_them(
    tmp_path: Path,
) -> None:
    """A rerun that seeds the files the last scan parsed on demand asks in one search for
    the words the last scan asked for in two rounds: a file either of those found is
    found, one both tested and did not find is not, and only the others are read (an
    edited file, one tested for one term only). A kind whose terms are not each a search
    of their own is answered only from the search with the same terms."""
    from decouple_services.app.incremental import SearchMemo

    python = ["a.py", "b.py", "c.py", "d.py", "e.py"]
    digests = {"a.py": "1", "b.py": "2", "c.py": "3", "d.py": "4", "e.py": "5"}
    texts = {"a.py": "x", "b.py": "y", "c.py": "", "d.py": "", "e.py": "y"}
    first = SearchMemo(python, digests.get)
    assert first.search("words", [("x",)], python, _finding(texts, ["x"])) == ["a.py"]
    assert first.search("words", [("y",)], python[:4], _finding(texts, ["y"])) == ["b.py"]
    first.search("invokes", ["x"], python, _finding(texts, ["x"]))
    first.save(tmp_path, tmp_path)
    digests["d.py"] = "6"  # edited
    texts["d.py"] = "x"
    second = SearchMemo.load(tmp_path, tmp_path, python, digests.get)
    read: list[str] = []
    found = second.search("words", [("y",), ("x",)], python, _finding(texts, ["x", "y"], read))
    assert found == ["a.py", "b.py", "d.py", "e.py"]
    assert read == ["d.py", "e.py"]  # edited; tested for x only, and not found
    read.clear()
    # a compound term: its search is not the union of its parts'
    second.search("invokes", ["x", "y"], python, _finding(texts, ["x", "y"], read))
    assert read == python


def test_a_search_for_fewer_terms_is_answered_from_the_last_scans_for_more(
    tmp_path: Path,
) -> None:
    """A search for some of the terms the last scan searched for at once: a file that search
    tested and did not find has none of them; a file it found may have only a term not asked
    now, and is read again (as is a term no search of the last scan covered)."""
    from decouple_services.app.incremental import SearchMemo

    python = ["a.py", "b.py", "c.py", "d.py"]
    digests = {p: str(i) for i, p in enumerate(python)}
    texts = {"a.py": "x", "b.py": "z", "c.py": "", "d.py": "y"}
    first = SearchMemo(python, digests.get)
    found = first.search("keys", ["x", "y", "z"], python, _finding(texts, ["x", "y", "z"]))
    assert found == ["a.py", "b.py", "d.py"]
    assert first.search("keys", ["w"], python[:3], _finding(texts, ["w"])) == []
    first.save(tmp_path, tmp_path)
    second = SearchMemo.load(tmp_path, tmp_path, python, digests.get)
    read: list[str] = []
    assert second.search("keys", ["x"], python, _finding(texts, ["x"], read)) == ["a.py"]
    assert read == ["a.py", "b.py", "d.py"]  # found for x, y or z: which is not known
    read.clear()
    assert second.search("keys", ["x", "w"], python, _finding(texts, ["x", "w"], read)) == ["a.py"]
    assert read == ["a.py", "b.py", "d.py"]  # d.py: never tested for w
    read.clear()
    assert second.search("keys", ["v"], python, _finding(texts, ["v"], read)) == []
    assert read == python


def test_a_file_parsed_again_is_asked_again_whether_it_is_the_one_the_last_scan_tested(
    tmp_path: Path,
) -> None:
    """Whether a file is as the last scan tested it is asked once for all of a scan's
    searches, and again once the scan parses it (``forget``): its facts may then hold a
    diagnostic, and such a file is read by every search."""
    from decouple_services.app.incremental import SearchMemo

    python = ["a.py", "b.py"]
    digests: dict[str, str | None] = {"a.py": "1", "b.py": "2"}
    texts = {"a.py": "x", "b.py": ""}
    first = SearchMemo(python, digests.get)
    first.search("words", [("x",)], python, _finding(texts, ["x"]))
    first.search("keys", ["x"], python, _finding(texts, ["x"]))
    first.save(tmp_path, tmp_path)
    asked: list[str] = []

    def current(path: str) -> str | None:
        asked.append(path)
        return digests[path]

    second = SearchMemo.load(tmp_path, tmp_path, python, current)
    read: list[str] = []
    assert second.search("words", [("x",)], python, _finding(texts, ["x"], read)) == ["a.py"]
    assert second.search("keys", ["x"], python, _finding(texts, ["x"], read)) == ["a.py"]
    assert read == [] and asked == python  # both answered; each file asked about once
    digests["a.py"] = None  # parsed now, with a diagnostic
    assert second.search("keys", ["x"], python, _finding(texts, ["x"], read)) == ["a.py"]
    assert read == []  # not parsed as far as the searches know
    second.forget(["a.py"])
    assert second.search("keys", ["x"], python, _finding(texts, ["x"], read)) == ["a.py"]
    assert read == ["a.py"] and asked == [*python, "a.py"]


def test_with_configured_clients_the_helper_passes_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configured client's positional arguments are placed by the signatures of every
    function, so an edit adding a function may change what any call matches: the
    passes are not taken as the last scan's."""
    root, cache, files = settled(tmp_path)
    (root / "decouple.toml").write_text(
        '[clients."orders.helpers.call"]\nurl_arg = "path"\n', encoding="utf-8"
    )
    cached(root, cache)
    after = render(Tree(literal_calls=1))
    write(root, files, after)
    assert resolutions(root, cache, monkeypatch) > 1


def test_imports_kept_only_when_no_changed_target_shares_a_part_with_a_module() -> None:
    from decouple_services.app.rereads import imports_kept

    modules = ["orders.helpers", "orders.http", "users.api.views"]
    same = frozenset({"orders.helpers"})
    assert imports_kept([(same, same)], modules)
    assert imports_kept([(same, same | {"requests", "json.decoder"})], modules)
    assert imports_kept([(same | {"requests"}, same)], modules)
    # the module itself, a name in it, a package of it, a dotted tail of it
    for target in ("orders", "orders.helpers.call", "api.views", "views", "src.users.api"):
        assert not imports_kept([(same, same | {target})], modules), target
    assert not imports_kept([(same, frozenset())], modules)


def test_a_damaged_record_of_what_the_last_scan_read_is_not_trusted(tmp_path: Path) -> None:
    import json

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    (record,) = cache.glob("edits-*.json")
    data = json.loads(record.read_text(encoding="utf-8"))
    # an edit neutral for the record as it was written
    after = render(Tree(appended=1))
    write(root, files, after)
    for damage in ({"functions": [{"x": 1}]}, {"functions": 3}, []):
        record.write_text(
            json.dumps({**data, "record": {**data["record"], "reads": damage}}), encoding="utf-8"
        )
        assert cached(root, cache) == uncached(root)
        edited = root / "services/orders/orders/client.py"
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    for damaged in ("{", json.dumps({"format": 0}), ""):
        record.write_text(damaged, encoding="utf-8")
        assert cached(root, cache) == uncached(root)


def test_a_damaged_record_of_earlier_resolutions_is_resolved_afresh(tmp_path: Path) -> None:
    import json

    root, cache = tmp_path / "repo", tmp_path / "cache"
    files = render(Tree())
    write(root, {}, files)
    cached(root, cache)
    (record,) = cache.glob("sites-*.json")
    # a header line, then a line per file: its path and its entries
    header, *lines = record.read_text(encoding="utf-8").split("\n")
    files_of = {json.loads(p): json.loads(v) for p, v in (line.split("\t") for line in lines)}
    for variants in files_of.values():
        for entry in variants:
            entry["outcomes"] = [
                None
                if o is None
                else [
                    ["?"],
                    {"@": "Nothing"} if o[1] is not None else None,
                    # helpers.py's helper
                    *([["?"]] if len(o) > 2 else []),
                ]
                for o in entry["outcomes"]
            ]
            entry["handed"] = [["?"]]
    # one more call in client.py; jobs.py's earlier resolution, damaged, is what a helper
    # lookup reads for its `store.get(...)`
    after = render(Tree(extra_calls=2))
    write(root, files, after)
    data = "\n".join([header, *(f"{json.dumps(p)}\t{json.dumps(v)}" for p, v in files_of.items())])
    lines[0] = lines[0].split("\t")[0] + "\t{"  # one file's entries not JSON
    deep = [lines[0].split("\t")[0] + "\t" + "[" * 100_000, *lines[1:]]  # nested too deep
    for n, damaged in enumerate(
        (
            data,
            "\n".join([header, *lines]),
            "\n".join([header, *deep]),
            "{",
            json.dumps({"format": 0}),
            "",
        )
    ):
        record.write_text(damaged, encoding="utf-8")
        assert cached(root, cache) == uncached(root)
        # a request more: the next scan resolves (an edit nothing read would keep the
        # last result without reading the record)
        edited = root / "services/orders/orders/client.py"
        edited.write_text(
            edited.read_text(encoding="utf-8")
            + f'\n\ndef more_{n}():\n    return requests.get("http://users:5000/x/{n}", timeout=1)\n',
            encoding="utf-8",
        )


def test_every_kind_of_ask_is_kept_between_scans(tmp_path: Path) -> None:
    # a resolution that looked for a class's objects (`b`) or a slot's words (`w`) was
    # dropped when the record was read back, and its file resolved afresh on every rerun
    from decouple_services.app.demand import Asked
    from decouple_services.app.incremental import SiteMemo

    entry = {
        "key": "k",
        "sites": False,
        "context": "c",
        "signature": "s",
        "reads": [["constants", "a.X"]],
        "asks": [["b", "Client"], ["q", "a.X"], ["s", "django", "URL"], ["w", "state", "http"]],
        "checked": [["a.call", True]],
        "outcomes": [None],
        "handed": [],
        "idle": None,
    }
    memo = SiteMemo(Asked(), {"a.py": [entry]})
    memo.dirty = True
    memo.save(tmp_path, tmp_path, ["a.py"])
    assert SiteMemo.load(Asked(), tmp_path, tmp_path).variants("a.py") == [entry]


def test_a_rerun_writes_back_the_entries_it_did_not_change_as_it_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entries of the files a rerun did not resolve afresh are written as they were
    read (not decoded and encoded again), those of the edited file anew."""
    import json

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    (record,) = cache.glob("sites-*.json")

    def lines() -> dict[str, str]:
        _, *rest = record.read_text(encoding="utf-8").split("\n")
        return {json.loads(p): v for p, v in (line.split("\t") for line in rest)}

    before = lines()
    # marked: an entry written back as it was read keeps the mark
    marked = {
        p: (v if "client.py" in p else v.replace('"key":', '"key" :', 1)) for p, v in before.items()
    }
    header = record.read_text(encoding="utf-8").split("\n")[0]
    record.write_text(
        "\n".join([header, *(f"{json.dumps(p)}\t{v}" for p, v in marked.items())]),
        encoding="utf-8",
    )
    after = render(Tree(extra_calls=2))
    write(root, files, after)
    assert fresh_resolutions(root, cache, monkeypatch) == {"client.py"}
    now = lines()
    assert now.keys() == before.keys()
    for path, text in now.items():
        if path.endswith("/client.py"):
            assert text != before[path]  # a call more
        else:
            assert text == marked[path], path


BUILT = {
    "docker-compose.yml": "services:\n  users:\n    build: ./users\n    ports: ['5000:5000']\n"
    "  orders:\n    build: ./orders\n    ports: ['5001:5001']\n",
    "users/app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
    '@app.route("/users/<int:user_id>")\ndef get_user(user_id):\n    return {}\n',
    "orders/shop/__init__.py": "",
    "orders/shop/client.py": "import requests\n\n\nclass UsersClient:\n"
    "    def __init__(self, base_url):\n        self.base_url = base_url\n\n"
    "    def get(self, user_id):\n"
    '        return requests.get(f"{self.base_url}/users/{user_id}", timeout=1)\n',
    "orders/shop/wiring.py": "from shop.client import UsersClient\n\n"
    'users = UsersClient("http://users:5000")\n',
    "orders/shop/other.py": "import requests\n\n\ndef ping():\n"
    '    return requests.get("http://users:5000/users/1", timeout=1)\n',
}


def test_a_file_that_looked_for_a_class_s_objects_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    write(root, {}, BUILT)
    time.sleep(0.2)
    assert cached(root, cache) == uncached(root)
    # client.py's `self.base_url` looks for the objects of UsersClient (found in wiring.py)
    after = {**BUILT, "orders/shop/other.py": BUILT["orders/shop/other.py"].replace("/1", "/2")}
    write(root, BUILT, after)
    assert fresh_resolutions(root, cache, monkeypatch) == {"other.py"}


def test_a_rerun_reads_for_its_searches_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decouple_services.app import demand, rereads

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    read: list[str] = []
    for module, name in (
        (demand, "naming"),
        (demand, "assigning"),
        (demand, "building"),
        (rereads, "_invoking"),
    ):
        real = getattr(module, name)

        def spy(paths: list[str], *args: object, real: Any = real, **kw: object) -> Any:
            read.extend(p.rpartition("/")[2] for p in paths)
            return real(paths, *args, **kw)

        monkeypatch.setattr(module, name, spy)
    # notes.py, no candidate, is one of the files the searches test, and client.py one of
    # those the helper search tests: changed, they alone are read again; every other
    # answer is the last scan's
    after = render(replace(Tree(), notes="function", extra_calls=2))
    write(root, files, after)
    expected = uncached(root)
    read.clear()
    assert cached(root, cache) == expected
    assert "notes.py" in read
    assert set(read) <= {"notes.py", "client.py"}


def runs(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """How many times a cached scan discovers services and resolves its calls; its result
    is a scan without cache's."""
    from decouple_services.discover import services
    from decouple_services.resolve.calls import CallResolver

    discovered, resolved = [], []
    discover, resolve = services.discover_services, CallResolver.resolve

    def discovering(*args: object, **kwargs: object) -> object:
        discovered.append(1)
        return discover(*args, **kwargs)  # type: ignore[arg-type]

    def resolving(self: CallResolver, memo: object = None) -> object:
        resolved.append(1)
        return resolve(self, memo)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(services, "discover_services", discovering)
        patch.setattr(CallResolver, "resolve", resolving)
        result = cached(root, cache)
    assert result == uncached(root)
    return len(discovered), len(resolved)


def test_an_edit_to_a_file_discovery_did_not_read_does_not_run_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery reads some Python files (a program it may run as a server, the modules a
    service's program imports) and depends on no other: after an edit that changes
    nothing the last scan read, to a file discovery did not read, what it found stands."""
    root, cache, files = settled(tmp_path)
    assert runs(root, cache, monkeypatch)[0] == 1
    for tree in (Tree(appended=1), Tree(appended=2, notes="function")):
        after = render(tree)
        write(root, files, after)
        files = after
        assert runs(root, cache, monkeypatch) == (0, 0), tree


def test_a_rerun_after_a_new_request_takes_the_last_scans_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit that changes the result, to a file discovery did not read, resolves again
    with what discovery found last time (kept in the cache) instead of running it; a
    kept discovery that is damaged or not the recorded one's runs it again. Each result is
    a scan without cache's."""
    root, cache, files = settled(tmp_path)
    assert runs(root, cache, monkeypatch)[0] == 1
    for tree in (Tree(literal_calls=1), Tree(extra_calls=2, literal_calls=1)):
        after = render(tree)
        write(root, files, after)
        files = after
        discovered, resolved = runs(root, cache, monkeypatch)
        assert (discovered, resolved > 0) == (0, True), tree
    (kept,) = cache.glob("discovery-*.json")
    other = kept.read_text().replace('"users"', '"orders"', 1)  # another service's name
    assert other != kept.read_text()
    for number, damage in enumerate(('{"digest": 1}', other, "[")):
        kept.write_text(damage)
        after = render(Tree(literal_calls=number + 2))
        write(root, files, after)
        files = after
        assert runs(root, cache, monkeypatch)[0] == 1, damage


def test_a_rerun_after_a_new_request_imports_what_it_uses(tmp_path: Path) -> None:
    """A rerun taking the last scan's discovery and extracting one edited file in plain
    syntax imports neither the readers of deployment files and ``.proto`` files nor the
    rewriting of newer syntax (importing was a quarter of netbox's such rerun)."""
    root, cache, files = settled(tmp_path)
    cached(root, cache)
    write(root, files, render(Tree(literal_calls=1)))
    code = (
        "import sys\n"
        "from decouple_services.cli.entry import main\n"
        f"main(['scan', {str(root)!r}, '--cache-dir', {str(cache)!r}, '-q', '-o', '-'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('decouple_services')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = run.stdout.splitlines()[-1]
    assert "decouple_services.resolve.calls" in loaded  # it resolved
    for unused in (
        "decouple_services.discover.services",
        "decouple_services.discover.protos",
        "decouple_services.detect.lowering",
    ):
        assert unused not in loaded, unused


def test_an_edit_to_a_file_discovery_read_runs_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without deployment files, every program is asked whether it starts a server: an
    edit to one runs discovery again, which keeps the last result when it finds the same,
    and scans when the program now starts a server."""
    root, cache = tmp_path / "repo", tmp_path / "cache"
    web = (
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/items")\ndef items():\n    return []\n\n\n'
        'if __name__ == "__main__":\n    app.run(port=5000)\n'
    )
    worker = (
        "import requests\n\n\n"
        'def fetch():\n    return requests.get("http://localhost:5000/items", timeout=1)\n'
    )
    files = {"web.py": web, "worker.py": worker}
    write(root, {}, files)
    time.sleep(0.2)
    assert runs(root, cache, monkeypatch) == (1, 1)
    after = {**files, "worker.py": worker + "\n\ndef unused():\n    return 1\n"}
    write(root, files, after)
    files = after
    assert runs(root, cache, monkeypatch) == (1, 0)
    # the worker starts a server of its own: a service more
    after = {
        **files,
        "worker.py": files["worker.py"]
        + "\n\nfrom flask import Flask\n\napp = Flask(__name__)\n\n"
        + 'if __name__ == "__main__":\n    app.run(port=5001)\n',
    }
    write(root, files, after)
    assert runs(root, cache, monkeypatch) == (1, 1)
    assert '"worker"' in cached(root, cache)


def test_a_rerun_after_a_new_call_starts_from_the_files_the_last_scan_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files the last scan parsed are parsed up front: no round of asking finds them
    again one at a time, and the result is a scan without cache's (``spied``)."""
    root, cache, files = settled(tmp_path)
    # the first scan asks for files round by round: base.py holds what client.py reads
    first = resolutions(root, cache, monkeypatch)
    after = render(Tree(extra_calls=2))
    write(root, files, after)
    assert resolutions(root, cache, monkeypatch) < first


def test_a_rerun_stats_each_unchanged_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the last result holds, which files changed and which facts the cache has
    are asked of every file in turn: one stat each (``Manifest.stat``) answers all three."""
    import collections
    import os

    root, cache, files = settled(tmp_path)
    cached(root, cache)
    after = render(Tree(literal_calls=1))
    write(root, files, after)
    counts: collections.Counter[str] = collections.Counter()
    real = os.stat

    def counting(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).startswith(str(root)) and str(path).endswith(".py"):
            counts[os.path.relpath(str(path), root)] += 1
        return real(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "stat", counting)
        result = cached(root, cache)
    assert result == uncached(root)
    unchanged = {path: n for path, n in counts.items() if files.get(path) == after.get(path)}
    assert unchanged and set(unchanged.values()) == {1}, counts


def test_a_kept_call_site_is_its_fields_values_in_order() -> None:
    # the sites are most of the entries a rerun decodes: kept without their fields' names,
    # read back equal; anything else in their place is no site (the file resolved afresh)
    from decouple_services.app.incremental import (
        _SITE_FIELDS,
        SITE_ONE_OF,
        decode_site,
        encode_site,
    )

    site = full_site()
    kept = encode_site(site)
    assert json.loads(json.dumps(kept)) == kept
    assert "caller" not in json.dumps(kept)
    assert decode_site(json.loads(json.dumps(kept))) == site
    assert kept[SITE_ONE_OF] == "orders.client.HOSTS"
    for damaged in (kept[:-1], {"@": "CallSite"}, None, [*kept, None]):
        with pytest.raises(ValueError):
            decode_site(damaged)
    # an enum as its value, a tuple as a list: no object to decode for either
    assert kept[_SITE_FIELDS.index("category")] == "test"
    assert kept[_SITE_FIELDS.index("evidence")] == ["a", "b"]
    for field_name, value in (("role", "caller"), ("role", ["call"]), ("evidence", "a")):
        damaged = list(kept)
        damaged[_SITE_FIELDS.index(field_name)] = value
        with pytest.raises(ValueError):
            decode_site(damaged)


def test_every_field_of_a_call_site_is_kept_as_its_kind() -> None:
    # a kept site writes its fields' values as they are but for its tuples of strings and
    # its enums (found by their defaults): a field of another kind would come back as
    # something else than it was, so a new one must be one of these
    from decouple_services.app.incremental import _SITE_ENUMS, _SITE_TUPLES
    from decouple_services.core.model import CallSite

    enums = {at for at, _ in _SITE_ENUMS}
    for at, f in enumerate(dataclasses.fields(CallSite)):
        if at in enums:
            assert f.type == type(f.default).__name__, f.name
        elif at in _SITE_TUPLES:
            assert f.type == "tuple[str, ...]", f.name
        else:
            assert f.type in ("str", "int", "bool", "str | None"), f.name
