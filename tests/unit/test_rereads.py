"""Which files a helper pass re-reads: those that name the helper and reach its module."""

from __future__ import annotations

import shutil
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

import pytest

from decouple_services.app import rereads
from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.app.rereads import Helper, ImportGraph, import_targets, select
from decouple_services.discover.files import module_name
from decouple_services.render.json import render_json

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample"


def targets(
    source: str, module: str = "pkg.here", packages: frozenset[str] = frozenset()
) -> set[str]:
    return set(import_targets(source.encode(), module, module.endswith("pkg"), packages))


# --- import_targets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import a.b.c as x\n", {"a.b.c"}),
        ("import os, json as j\n", {"os", "json"}),
        ("from a.b import c, d as e\n", {"a.b.c", "a.b.d"}),
        ("from a.b import *\n", {"a.b"}),
        ("from a.b import (\n    c,  # see f(x)\n    d,\n)\n", {"a.b.c", "a.b.d"}),
        ("from a.b \\\n    import c\n", {"a.b.c"}),
        ("from a.b import c, \\\n    d\n", {"a.b.c", "a.b.d"}),
        ("if TYPE_CHECKING: import a.b as ab\n", {"a.b"}),
        ("x = 1; from a import b\n", {"a.b"}),
        ("def f():\n    from a import b\n    return b\n", {"a.b"}),
        ("try:\n    import a as x\nexcept ImportError:\n    x = None\n", {"a"}),
        ("from.mod import f\n", {"pkg.mod.f"}),
        ("from . import mod\n", {"pkg.mod"}),
        ("from .. import top\n", {"top"}),
        ("from ..other import g\n", {"other.g"}),
        ('"""Usage:\n\n    import executor job for each platform.\n"""\n', set()),
        ('HELP = """\nfrom a.b import c\n"""\n', {"a.b.c"}),  # a string counts: only ever adds
        ("importlib.import_module('a.b')\n", set()),
    ],
)
def test_import_targets(source: str, expected: set[str]) -> None:
    assert targets(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a parenthesis closed only inside a later comment, to the end of the text: the
        # names run to that one (read a character at a time, backtracking into comments)
        ("from a import (b,  # see f(x)\n    c,\n", {"a.b"}),
        ("from a import (b,  # see f(x) and g(y)\n    c,  # h(z)\n    d\n", {"a.b", "a.c"}),
        ("from a import (b  # f(x)\nimport d\n", {"a.b", "d"}),
        ("from a import (b, c\nimport d\n", {"a.b", "a.c", "d"}),
        ("from a import (\n  b, # (\n  c)\nimport d\n", {"a.b", "a.c", "d"}),
        # the next line's statement, past blank lines, whatever ends the lines
        ("import a\n\n\nimport b\n  \nfrom c import d\n", {"a", "b", "c.d"}),
        ("import a\r\nimport b\r\n\r\nfrom c import d\r\n", {"a", "b", "c.d"}),
        ("import a\n\timport b\n\f import c\n", {"a", "b", "c"}),
        # no statement starts on a continued line
        ("from a import (b)\\\nimport c\n", {"a.b"}),
        ("from a import (b)\\\r\nimport c\n", {"a.b"}),
        ("\nimport a\n\\\nimport b\n", {"a"}),
        ("import a \\\nimport b\n", set()),  # one statement: `a import b` is no name
        ("import a\\ \nimport b\n", {"b"}),
        ("import a\\\rx\nimport b\n", {"b"}),
        # one starting after a `;` or `:` on the line between, or on the statement's own
        ("import a\n# note: import b\nimport c\n", {"a", "b", "c"}),
        ("import a  # x; import b\nimport c\n", {"a", "b", "c"}),
        ("from a import (b)  # : import c\nimport d\n", {"a.b", "c", "d"}),
        ("from a import (b); import c\nimport d\n", {"a.b", "c", "d"}),
    ],
)
def test_import_targets_where_statements_start_and_end(source: str, expected: set[str]) -> None:
    assert targets(source) == expected


def test_a_relative_import_in_a_package_starts_from_the_package_itself() -> None:
    got = import_targets(b"from . import mod\nfrom .sub import f\n", "pkg", True)
    assert set(got) == {"pkg.mod", "pkg.sub.f"}


def test_names_written_through_a_bound_package_are_targets() -> None:
    source = "import a.b\nfrom pkg import sub as s\n\na.x.func()\ns.mod.Client()\nother.y.z()\n"
    got = targets(source, packages=frozenset({"a", "pkg.sub"}))
    assert got == {"a.b", "pkg.sub", "a.x.func", "pkg.sub.mod.Client"}


def test_the_same_relative_import_in_two_packages_reaches_each_its_own() -> None:
    """A statement's reading is kept for the next file writing it: a relative one is kept
    with its package."""
    source = b"from .models import Item\n"
    assert set(import_targets(source, "shop.views", False)) == {"shop.models.Item"}
    assert set(import_targets(source, "blog.views", False)) == {"blog.models.Item"}
    assert set(import_targets(source, "blog", True)) == {"blog.models.Item"}
    # read once, resolved in each: a star, aliases, more dots than packages
    source = b"from ..models import *\nfrom ... import a as b, c\n"
    assert set(import_targets(source, "blog.api.views", False)) == {"blog.models", "a", "c"}
    assert set(import_targets(source, "x.y.z", True)) == {"x.y.models", "x.a", "x.c"}
    assert set(import_targets(source, "shop.views", False)) == {"models", "a", "c"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # after a dot: an attribute of something else, not the bound package
        ("import a.b\nx.a.y.f()\n", {"a.b"}),
        ("import a.b\n_a.y.f()\n", {"a.b"}),
        ("import a.b\na.y.f()\n(a.z)\na.\n", {"a.b", "a.y.f", "a.z"}),
        ("import a.b\nimport ab\nab.y.f()\n", {"a.b", "ab", "ab.y.f"}),
    ],
)
def test_names_written_through_a_bound_package_are_found_where_they_start(
    source: str, expected: set[str]
) -> None:
    assert targets(source, packages=frozenset({"a", "ab"})) == expected


def test_a_package_alone_does_not_reach_its_modules() -> None:
    """``from . import components`` must not tie the file to every component."""
    got = targets("from . import components\n", "app.loader", frozenset({"app.components"}))
    assert got == {"app.components"}


# --- selection ----------------------------------------------------------------------------


def _modules(paths: list[str]) -> tuple[dict[str, tuple[str, bool]], frozenset[str]]:
    """Each path's module name and whether it is a package, and the packages."""
    files = frozenset(paths)
    named = {p: module_name(p, files) for p in paths}
    return named, frozenset(m for m, is_package in named.values() if is_package)


def pick(tree: dict[str, str], *helpers: Helper, objects: tuple[str, ...] = ()) -> list[str]:
    paths = sorted(tree)
    named, packages = _modules(paths)
    graph = ImportGraph(
        {p: m for p, (m, _) in named.items()},
        {p: import_targets(tree[p].encode(), m, ip, packages) for p, (m, ip) in named.items()},
    )
    return select(paths, helpers, graph, lambda p: tree[p].encode(), objects=objects)


BASE = {
    "pkg/__init__.py": "",
    "pkg/mod.py": (
        "import requests\n\n"
        "def update(url):\n    return requests.get(url)\n\n"
        "class Client:\n    def __init__(self, url):\n        requests.get(url)\n\n"
        "    def update(self, url):\n        return requests.get(url)\n\n"
        "def caller():\n    return update('http://x')\n"
    ),
}
FUNC = Helper("pkg.mod.update", is_method=False)
METHOD = Helper("pkg.mod.Client.update", is_method=True)
INIT = Helper("pkg.mod.Client.__init__", is_method=True)


@pytest.mark.parametrize(
    "source",
    [
        "from pkg.mod import update\nupdate('http://a')\n",
        "from pkg.mod import update as u\nu('http://a')\n",
        "from pkg import mod\nmod.update('http://a')\n",
        "import pkg.mod\npkg.mod.update('http://a')\n",
        "import pkg.mod as m\nm.update('http://a')\n",
        "import pkg\npkg.mod.update('http://a')\n",
        "from pkg.mod import *\nupdate('http://a')\n",
        "def f():\n    from pkg.mod import update\n    update('http://a')\n",
    ],
)
def test_a_file_importing_the_helper_and_naming_it_is_reread(source: str) -> None:
    assert pick({**BASE, "app/main.py": source}, FUNC) == ["app/main.py", "pkg/mod.py"]


@pytest.mark.parametrize(
    "source",
    [
        # names the word, imports nothing of the helper's module
        "from other import update\nupdate('http://a')\n",
        "import os\nstate.update({'a': 1})\n",
        # imports the module's package, not the module
        "import pkg\npkg.update('http://a')\n",
        "from pkg import other\nother.update('http://a')\n",
        # imports the module, never names the helper (async_update is another word)
        "from pkg import mod\nmod.async_update('http://a')\n",
        # only defines a function of that name
        "from pkg import mod\n\ndef update(x):\n    return x\n",
    ],
)
def test_a_file_that_cannot_invoke_the_helper_is_not_reread(source: str) -> None:
    assert pick({**BASE, "app/main.py": source}, FUNC) == ["pkg/mod.py"]


@pytest.mark.parametrize(
    ("source", "read"),
    [
        # the end of a longer string: a patch target, a docstring, a message
        ("from pkg import mod\nmock.patch('pkg.mod.update')\n", False),
        ('from pkg import mod\nmock.patch("pkg.mod.Client.update")\n', False),
        ('from pkg import mod\n\ndef f():\n    """Calls update"""\n', False),
        # the word alone as a string, as getattr takes it; in an f-string's field
        ("from pkg import mod\ngetattr(mod, 'update')('http://a')\n", True),
        ("from pkg import mod\nfn = getattr(mod.Client('u'), \"update\")\n", True),
        ("from pkg.mod import update\nprint(f'{update}')\n", True),
        ("from pkg import mod\nmock.patch('pkg.mod.update')\nmod.update('http://a')\n", True),
    ],
)
def test_a_word_ending_a_longer_string_invokes_nothing(source: str, read: bool) -> None:
    # a name followed by a quote is no name of the code: the file's facts would be the same
    tree = {**BASE, "app/main.py": source}
    for helper in (FUNC, METHOD):
        assert pick(tree, helper) == ["app/main.py", "pkg/mod.py"][1 - read :]


def test_a_client_object_ending_a_dotted_string_is_not_looked_for() -> None:
    tree = {
        **HOLDER,
        "app/main.py": "from pkg import coord\npatch('pkg.coord.Coordinator.session')\n",
    }
    assert pick(tree, HELD, objects=(HELD.qualname,)) == ["pkg/coord.py"]
    tree["app/main.py"] += "patch('session.get')\n"  # a string starting with it: kept
    assert pick(tree, HELD, objects=(HELD.qualname,)) == ["app/main.py", "pkg/coord.py"]


def test_a_re_export_is_followed() -> None:
    tree = {
        **BASE,
        "pkg/__init__.py": "from .mod import update\n",
        "app/__init__.py": "",
        "app/main.py": "from pkg import update\nupdate('http://a')\n",
        "app/deeper.py": "from app.main import update\nupdate('http://b')\n",
    }
    assert pick(tree, FUNC) == ["app/deeper.py", "app/main.py", "pkg/__init__.py", "pkg/mod.py"]


def test_a_method_is_looked_for_where_an_instance_can_reach() -> None:
    tree = {
        **BASE,
        "pkg/clients.py": "from pkg.mod import Client\n\nclient = Client('http://a')\n",
        "app/main.py": "from pkg.clients import client\nclient.update('http://b')\n",
        "app/other.py": "import json\nsettings.update(json.loads('{}'))\n",
    }
    assert pick(tree, METHOD) == ["app/main.py", "pkg/mod.py"]


def test_a_constructor_helper_is_looked_for_by_its_class_name_too() -> None:
    tree = {
        **BASE,
        "app/main.py": "from pkg.mod import Client\nClient('http://a')\n",
        "app/sub.py": "from pkg import mod\n\nclass Sub(mod.Client):\n"
        "    def __init__(self):\n        mod.Client.__init__(self, 'http://b')\n",
        "app/other.py": "class Client:\n    pass\n\nClient()\n",
    }
    assert pick(tree, INIT) == ["app/main.py", "app/sub.py", "pkg/mod.py"]


HOLDER = {
    "pkg/__init__.py": "",
    "pkg/coord.py": (
        "import requests\n\n"
        "class Coordinator:\n    def __init__(self):\n"
        "        self.session = requests.Session()\n\n"
        "def refresh(coordinator):\n    session = coordinator.session\n"
        "    return session.get('http://a')\n"
    ),
    "pkg/http.py": "import requests\n\nsession = requests.Session()\n",
}
#: A client object held by a class, and one at the top level of its module.
HELD = Helper("pkg.coord.Coordinator.session", is_method=False)
TOP = Helper("pkg.http.session", is_method=False)


@pytest.mark.parametrize(
    ("source", "read"),
    [
        ("from pkg.coord import Coordinator\nCoordinator().session.get('http://a')\n", True),
        ("from pkg import coord\n\ndef f(c):\n    return (c\n        .session.get('/a'))\n", True),
        ("from pkg.coord import Coordinator\ngetattr(Coordinator(), 'session').get('/a')\n", True),
        # names the word as a variable of its own only: reaches no object of the class
        ("from pkg.coord import Coordinator\nsession = make()\nsession.get('http://a')\n", False),
        ("from pkg import coord\n\ndef f(session):\n    return session.get('/a')\n", False),
    ],
)
def test_a_client_object_a_class_holds_is_looked_for_named_as_an_attribute(
    source: str, read: bool
) -> None:
    tree = {**HOLDER, "app/main.py": source}
    # its own module names it as it likes
    assert pick(tree, HELD, objects=(HELD.qualname,)) == ["app/main.py", "pkg/coord.py"][1 - read :]
    # a function or method of that name returning a client is looked for as before: a
    # module may alias one for other files to import
    assert pick(tree, HELD) == ["app/main.py", "pkg/coord.py"]


def test_a_client_object_at_the_top_of_its_module_is_looked_for_by_its_name() -> None:
    tree = {**HOLDER, "app/main.py": "from pkg.http import session\nsession.get('/a')\n"}
    assert pick(tree, TOP, objects=(TOP.qualname,)) == ["app/main.py", "pkg/http.py"]


def test_a_method_is_looked_for_where_a_parameter_named_after_its_class_holds_one() -> None:
    tree = {
        **BASE,
        # in the class's package, importing nothing of it: `client` is handed in
        "pkg/jobs.py": "def run(client):\n    return client.update('http://a')\n",
        # names the parameter, calls another method
        "pkg/other.py": "def run(client):\n    return client.refresh()\n",
        # outside the package
        "app/main.py": "def run(client):\n    return client.update('http://a')\n",
    }
    assert pick(tree, METHOD) == ["pkg/jobs.py", "pkg/mod.py"]


def test_relative_imports_are_resolved() -> None:
    tree = {
        **BASE,
        "pkg/sibling.py": "from .mod import update\nupdate('http://a')\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "from ..mod import update\nupdate('http://a')\n",
        "pkg/sub/wrong.py": "from .mod import update\nupdate('http://a')\n",  # pkg.sub.mod
    }
    assert pick(tree, FUNC) == ["pkg/mod.py", "pkg/sibling.py", "pkg/sub/deep.py"]


def test_a_module_imported_without_its_top_folder_is_reached_from_anywhere() -> None:
    """``apps/jobs/utils.py`` is ``apps.jobs.utils`` to the scan; tests run with ``apps/``
    on the path import ``jobs.utils``. A one-word tail (``utils``) is not enough, nor a
    tail another module of the scan is named."""
    tree = {
        "apps/__init__.py": "",
        "apps/jobs/__init__.py": "",
        "apps/jobs/utils.py": "import requests\n\ndef fetch(url):\n    return requests.get(url)\n",
        "tests/test_jobs.py": "from jobs.utils import fetch\nfetch('http://a')\n",
        "tests/test_short.py": "from utils import fetch\nfetch('http://a')\n",
    }
    helper = Helper("apps.jobs.utils.fetch", is_method=False)
    assert pick(tree, helper) == ["tests/test_jobs.py"]
    shadowed = {**tree, "jobs/__init__.py": "", "jobs/utils.py": "def fetch(x):\n    return x\n"}
    assert "tests/test_jobs.py" not in pick(shadowed, helper)


def test_a_module_named_with_more_package_in_front_is_reached_from_above() -> None:
    """``src/clients/base.py`` is ``clients.base`` to the scan; code run from above
    ``src/`` imports ``src.clients.base``, and a package installed under another name
    (``myproject`` for ``src``) may import ``myproject.clients.base``."""
    tree = {
        "src/clients/__init__.py": "",
        "src/clients/base.py": "import requests\n\ndef fetch(url):\n    return requests.get(url)\n",
        "app.py": "from src.clients.base import fetch\nfetch('http://a')\n",
        "tool.py": "from myproject.clients.base import fetch\nfetch('http://a')\n",
    }
    helper = Helper("clients.base.fetch", is_method=False)
    assert pick(tree, helper) == ["app.py", "tool.py"]


def test_projects_with_modules_named_alike_are_not_joined_by_their_fronts() -> None:
    """Each collection (each service) has its own ``plugins`` package: an import naming
    another project's ``plugins.module_utils.client`` with its front is not an import of
    this one's, and does not tie the other project's files to it."""
    helper_module = (
        "import requests\n\nclass Client:\n    def request(self, url):\n"
        "        return requests.get(url)\n"
    )
    tree = {
        "coll/a/plugins/__init__.py": "",
        "coll/a/plugins/module_utils/__init__.py": "",
        "coll/a/plugins/module_utils/client.py": helper_module,
        "coll/a/plugins/modules/thing.py": (
            "from coll.a.plugins.module_utils.client import Client\nClient().request('http://a')\n"
        ),
        # no `plugins/__init__.py`: its modules are `module_utils.client.discovery`...
        "coll/b/plugins/module_utils/__init__.py": "",
        "coll/b/plugins/module_utils/client/__init__.py": "",
        "coll/b/plugins/module_utils/client/discovery.py": "def request(x):\n    return x\n",
        "coll/b/plugins/modules/other.py": (
            "from coll.b.plugins.module_utils.client.discovery import request\n"
            "request('http://b')\n"
        ),
        "coll/b/plugins/modules/user.py": (
            "from coll.b.plugins.modules.other import request\nrequest('x')\n"
        ),
    }
    helper = Helper("plugins.module_utils.client.Client.request", is_method=True)
    assert pick(tree, helper) == ["coll/a/plugins/modules/thing.py"]


def test_an_unreadable_file_is_skipped() -> None:
    tree = {**BASE, "app/main.py": "from pkg.mod import update\nupdate('http://a')\n"}
    paths = sorted(tree)
    graph = ImportGraph(
        {p: module_name(p, frozenset(paths))[0] for p in paths},
        {p: import_targets(tree[p].encode(), "x", False) for p in paths},
    )
    assert select(paths, [FUNC], graph, lambda p: None) == []


# --- the whole scan: the selection loses nothing ------------------------------------------

HELPERS_TREE = {
    "svc/pkg/__init__.py": "from .mod import fetch\n",
    "svc/pkg/mod.py": (
        "import requests\n\n"
        "def fetch(url):\n    return requests.get(url, timeout=3)\n\n"
        "class Api:\n    def __init__(self, base):\n        requests.get(base, timeout=3)\n\n"
        "    def update(self, base):\n        return requests.post(base, timeout=3)\n"
    ),
    "svc/pkg/clients.py": "from pkg.mod import Api\n\napi = Api('http://orders:8000/a')\n",
    "svc/app.py": (
        "from pkg import fetch, mod\nfrom pkg.clients import api\n\n"
        "def run():\n    fetch('http://orders:8000/b')\n    mod.fetch('http://orders:8000/c')\n"
        "    api.update('http://orders:8000/d')\n    mod.Api('http://orders:8000/e')\n"
    ),
    "svc/unrelated.py": "def update(x):\n    return x\n\nupdate(1)\nfetch = print\nfetch(2)\n",
}


@pytest.mark.parametrize("tree", ["helpers", "sample"])
def test_results_equal_those_of_rereading_every_file(
    tree: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / tree
    if tree == "sample":
        shutil.copytree(SAMPLE, root)
    else:
        for path, text in HELPERS_TREE.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
    chosen: list[list[str]] = []
    real = rereads.select

    def spy(paths, helpers, graph, read, *search, **how):  # type: ignore[no-untyped-def]
        chosen.append(real(paths, helpers, graph, read, *search, **how))
        return chosen[-1]

    monkeypatch.setattr(rereads, "select", spy)
    precise = render_json(scan(root, ScanOptions(use_cache=False, jobs=1)))
    assert chosen, "the tree has helpers: a helper pass ran"
    monkeypatch.setattr(rereads, "select", lambda paths, *_, **__: list(paths))
    everything = render_json(scan(root, ScanOptions(use_cache=False, jobs=1)))
    assert precise == everything
    if tree == "helpers":
        assert "svc/unrelated.py" not in chosen[0]


def test_several_helpers_select_the_files_any_one_of_them_selects() -> None:
    """Helpers are looked for by module (a file is connected to a module's helpers
    alike): several at once, of one module or several, with and without a parameter
    holding their class, select the files each selects alone."""
    tree = {
        **BASE,
        "pkg/other.py": "import requests\n\ndef send(url):\n    return requests.post(url)\n",
        "app/a.py": "from pkg.mod import update\nupdate('http://a')\n",
        "app/b.py": "from pkg import other\nother.send('http://b')\n",
        "pkg/c.py": "def load(client):\n    return client.update('http://c')\n",
        "app/d.py": "from pkg.mod import Client\nClient('http://d')\n",
        "app/e.py": "import pkg.other\nupdate = 1\n",
        "app/f.py": "send('http://f')\n",
    }
    send = Helper("pkg.other.send", is_method=False)
    helpers = [FUNC, METHOD, INIT, send]
    alone = {p for helper in helpers for p in pick(tree, helper)}
    assert set(pick(tree, *helpers)) == alone
    assert {"app/a.py", "app/b.py", "pkg/c.py", "app/d.py"} <= alone
    assert "app/f.py" not in alone


def _importers_one_by_one(graph: ImportGraph, module: str) -> Iterator[str]:
    """The files importing ``module``, each target's importers yielded one by one (as
    ``ImportGraph.importing`` was first written): the reference its sets are held to."""

    def direct(name: str) -> Iterator[str]:
        yield from graph.importers.get(name, ())
        first = bisect_left(graph.targets, name + ".")
        last = bisect_left(graph.targets, name + "/")
        for target in graph.targets[first:last]:
            yield from graph.importers[target]

    yield from direct(module)
    head, _, tail = module.partition(".")
    while tail:
        anywhere = "." in tail and tail not in graph.files_of
        for path in direct(tail):
            if anywhere or graph.modules.get(path, "").startswith(head + "."):
                yield path
        step, _, tail = tail.partition(".")
        head = f"{head}.{step}"
    # every dotted tail of every target, not starting with its first part
    for target in graph.targets:
        parts = target.split(".")
        tails = {
            ".".join(parts[start:end])
            for start in range(1, len(parts))
            for end in range(start + 1, len(parts) + 1)
        }
        if module in tails:
            yield from graph.importers[target]


def _connected_file_by_file(graph: ImportGraph, module: str) -> set[str]:
    """The closure followed importer by importer (as ``connected`` was first written)."""
    seen_modules = {module}
    files = set(graph.files_of.get(module, ()))
    queue = [module]
    while queue:
        current = queue.pop(0)
        for path in set(_importers_one_by_one(graph, current)):
            if path in files:
                continue
            files.add(path)
            importer = graph.modules.get(path)
            if importer is not None and importer not in seen_modules:
                seen_modules.add(importer)
                files.update(graph.files_of.get(importer, ()))
                queue.append(importer)
    return files


def test_a_closure_over_modules_holds_the_files_followed_one_by_one() -> None:
    python = sorted(str(p.relative_to(SAMPLE)) for p in SAMPLE.rglob("*.py"))
    named, packages = _modules(python)
    graph = ImportGraph(
        {p: m for p, (m, _) in named.items()},
        {
            p: import_targets((SAMPLE / p).read_bytes(), m, is_package, packages)
            for p, (m, is_package) in named.items()
        },
    )
    asked = sorted({m for m, _ in named.values()} | {"nowhere", "services"})
    sizes = []
    for module in asked:
        expected = _connected_file_by_file(graph, module)
        assert graph.connected(module) == expected, module
        assert graph.importing(module) == set(_importers_one_by_one(graph, module))
        sizes.append(len(expected))
    # modules imported from elsewhere, and some imported by nothing
    assert max(sizes) > 5 and min(sizes) <= 1


def test_a_closure_over_varied_graphs_holds_the_files_followed_one_by_one() -> None:
    import random

    rng = random.Random(5)
    names = ["a", "a.b", "a.b.c", "b", "b.c", "c", "x.a.b", "y", "y.z", "z.a"]
    for _ in range(200):
        paths = [f"f{i}.py" for i in range(rng.randint(1, 12))]
        # several files of one module, and files of no module (an importer left out)
        modules = {p: rng.choice(names) for p in paths if rng.random() < 0.9}
        graph = ImportGraph(
            modules,
            {
                p: frozenset(
                    rng.choice(names) + rng.choice(["", ".f", ".g"])
                    for _ in range(rng.randint(0, 3))
                )
                for p in paths
            },
        )
        for module in rng.sample(names, 4):
            assert graph.connected(module) == _connected_file_by_file(graph, module)
        for module in names:
            assert graph.importing(module) == set(_importers_one_by_one(graph, module))


def _heads_grouped(
    source: bytes, module: str, is_package: bool, packages: frozenset[str]
) -> set[str]:
    """The names written through a bound package, with the bindings grouped by name first
    (as ``import_targets`` was first written), added to its other targets."""
    text = source.decode("utf-8", "replace")
    package = rereads.module_package(module, is_package)
    out: set[str] = set()
    bound: dict[str, set[str]] = {}
    for match in rereads._statements(text):
        targets, bindings = rereads._read_statement(match, package)
        out.update(targets)
        for name, target in bindings:
            bound.setdefault(name, set()).add(target)
    for head in sorted(n for n, ts in bound.items() if any(t in packages for t in ts)):
        for at in range(len(text)):
            if text.startswith(head + ".", at) and (
                at == 0 or not rereads._WORD_OR_DOT.match(text, at - 1)
            ):
                tail = rereads._ATTRIBUTES.match(text, at + len(head))
                if tail is not None:
                    out.update(f"{t}.{tail.group(0)[1:]}" for t in bound[head])
    return out


def test_names_through_a_package_are_those_of_the_bindings_grouped_by_name() -> None:
    python = sorted(str(p.relative_to(SAMPLE)) for p in SAMPLE.rglob("*.py"))
    named, packages = _modules(python)
    sources = {p: (SAMPLE / p).read_bytes() for p in python}
    sources["pkg/made.py"] = (
        b"import a.b\nfrom a import b as c, d\nfrom . import e\nimport a.b as c\n"
        b"x = c.f.g(b.h, a.b.i)\ny = e.j + d.k\nzc.l\n.c.m\n"
    )
    named["pkg/made.py"] = ("pkg.made", False)
    more = packages | {"a", "a.b", "pkg.e"}
    through = 0
    for path, (module, is_package) in named.items():
        for known in (packages, more):
            found = set(import_targets(sources[path], module, is_package, known))
            assert found == _heads_grouped(sources[path], module, is_package, known), path
            through += len(found - _heads_grouped(sources[path], module, is_package, frozenset()))
    assert through, "some names are written through a bound package"
