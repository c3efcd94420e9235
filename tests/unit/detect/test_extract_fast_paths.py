"""Extraction's fast paths give what the slow ones gave: newer syntax, one-walk helpers."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, detection_options, scan
from decouple_services.core.config import Config
from decouple_services.detect import extract, response
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.registry import build_detectors

SAMPLE = Path(__file__).parents[2] / "fixtures" / "sample"


def options() -> extract.ExtractOptions:
    return detection_options(build_detectors(Config()), Config())


def facts(source: str) -> extract.FileFacts:
    return extract.extract_facts(
        textwrap.dedent(source).encode(), "svc/client.py", "svc.client", options()
    )


def test_generic_definitions_are_read_without_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libcst(source: bytes) -> None:
        raise AssertionError("libcst was used")

    monkeypatch.setattr(extract, "_parse_with_libcst", no_libcst)
    found = facts(
        """
        import requests

        type Payload = dict[str, object]

        class Client[T]:
            def send[P: Payload](self, payload: P) -> T:
                return requests.post("http://orders:8000/orders", json=payload)

        def ping[
            T,
        ]() -> None:
            requests.get("http://orders:8000/health", timeout=1)
        """
    )
    assert not found.diagnostics
    assert [(c.line, c.name) for c in found.calls] == [(8, "post"), (13, "get")]


def test_with_items_bind_in_order() -> None:
    """`async with (ClientSession() as s, s.get(url) as r)`: the second item uses the first."""
    found = facts(
        """
        import aiohttp

        async def fetch(url):
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp,
            ):
                return await resp.text()
        """
    )
    gets = [c for c in found.calls if c.name == "get"]
    assert len(gets) == 1 and gets[0].line == 7
    assert gets[0].receiver is not None and "aiohttp" in repr(gets[0].receiver)


def test_the_parenthesised_with_call_is_a_call_site(tmp_path: Path) -> None:
    (tmp_path / "client.py").write_text(
        textwrap.dedent(
            """
            import aiohttp

            async def fetch():
                async with (
                    aiohttp.ClientSession() as session,
                    session.get("http://example.com/x") as resp,
                ):
                    return await resp.text()
            """
        ),
        encoding="utf-8",
    )
    result = scan(tmp_path, ScanOptions(use_cache=False, jobs=1))
    assert [(s.file, s.line, s.client) for s in result.call_sites] == [("client.py", 7, "aiohttp")]


def _parseable(path: Path) -> bool:
    # the sample holds a Python 2 file and a syntax error on purpose
    try:
        ast.parse(path.read_bytes())
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize(
    "path", [p for p in sorted(SAMPLE.rglob("*.py")) if _parseable(p)], ids=lambda p: p.name
)
def test_one_walk_helpers_agree_with_ast_walk(path: Path) -> None:
    tree = ast.parse(path.read_bytes())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    # found when first asked, in any order: outer functions first, or nested ones first
    for order in (functions, functions[::-1]):
        stored: dict[int, set[str]] = {}
        for node in order:
            if id(node) not in stored:
                extract._function_stores(node, stored)
            expected = {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            assert stored[id(node)] == expected


@pytest.mark.parametrize(
    "path", [p for p in sorted(SAMPLE.rglob("*.py")) if _parseable(p)], ids=lambda p: p.name
)
def test_stores_read_by_lines_agree_with_ast_walk(path: Path) -> None:
    text = extract.decode_source(path.read_bytes())  # a sample is written in latin-1
    tree = ast.parse(text)
    lines = extract._expression_binding_lines(text)
    assert lines is not extract._EVERY_LINE
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for order in (functions, functions[::-1]):
        stored: dict[int, set[str]] = {}
        for node in order:
            if id(node) not in stored:
                extract._line_stores(node, lines, stored)
            expected = {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            assert stored[id(node)] == expected


@pytest.mark.parametrize(
    "path", [p for p in sorted(SAMPLE.rglob("*.py")) if _parseable(p)], ids=lambda p: p.name
)
def test_written_out_walks_agree_with_ast_walk(path: Path) -> None:
    tree = ast.parse(path.read_bytes())
    assert response.parent_map(tree) == {
        id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
    }
    bodies = [tree.body] + [
        n.body for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    for body in bodies:
        expected: dict[str, list[ast.Name]] = {}
        for statement in body:
            for n in ast.walk(statement):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    expected.setdefault(n.id, []).append(n)
        assert response.name_loads(body) == expected
        for statement in body:
            parents, loads = response.parents_and_loads(statement)
            assert parents == response.parent_map(statement)
            assert loads == response.name_loads([statement])
    statements = [id(n) for n in extract._statements(tree)]
    assert sorted(statements) == sorted(id(n) for n in ast.walk(tree) if isinstance(n, ast.stmt))


@pytest.mark.parametrize(
    "path", [p for p in sorted(SAMPLE.rglob("*.py")) if _parseable(p)], ids=lambda p: p.name
)
def test_reads_of_a_name_found_by_its_lines_agree_with_name_loads(path: Path) -> None:
    text = extract.decode_source(path.read_bytes())
    tree = ast.parse(text)
    extractor = extract._Extractor(
        tree, path.read_bytes(), text, "svc/client.py", "svc.client", options(), False
    )
    owners: list[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef] = [tree]
    owners += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for owner in owners:
        expected = response.name_loads(owner.body)
        loads = extract._NameLoads(extract._BodyParents(owner, owner.body), extractor._may_read)
        for name in [*expected, "not_read_anywhere"]:
            assert loads.get(name, ()) == expected.get(name, ())
        assert dict(loads) == expected


STATEMENTS_SOURCE = """
def handler(request):
    request.app.state.http = MagicMock()
    try:
        a = b = 1
    except ValueError as e:
        c = e
    else:
        d = [y for y in range(3)]
    finally:
        f = lambda: (g := 2)
    match request:
        case {"x": x}:
            h = x
        case _:
            pass
    class Inner:
        i = 1
        def method(self):
            self.j = k = 2
    for m in range(2):
        while True:
            n = m
    with open("f") as o:
        p = o
"""


@pytest.mark.parametrize(
    "source",
    [STATEMENTS_SOURCE]
    + [
        p.read_bytes().decode("utf-8", "replace")
        for p in sorted(SAMPLE.rglob("*.py"))
        if _parseable(p)
    ],
)
def test_the_statement_walk_gives_ast_walks_statements_in_its_order(source: str) -> None:
    """The mock searches read a function's `=` statements from a walk that skips
    expressions: the same nodes, in the same order, as ``ast.walk``."""
    tree = ast.parse(textwrap.dedent(source))
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in [tree, *functions]:
        expected = [n for n in ast.walk(node) if isinstance(n, ast.stmt)]
        assert [n for n in extract._walk_statements(node) if isinstance(n, ast.stmt)] == expected


def test_a_bound_response_is_read_after_its_statement_not_in_it() -> None:
    """``r = f(r)`` reads the old ``r``; a read on the same line after the statement is a
    read of the response (only reads within the statement's lines are looked up in it)."""
    from decouple_services.detect.response import _after

    tree = ast.parse("r = 0\nr = get(r); use(r)\nx = (r,\n     r)\n")
    assign = tree.body[1]
    loads = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "r"]
    loads = [n for n in loads if isinstance(n.ctx, ast.Load)]
    after = _after(loads, assign)
    inside = {id(n) for n in ast.walk(assign)}
    assert [n.lineno for n in after] == [2, 3, 4]
    assert not any(id(n) in inside for n in after)


BODY_PARENTS_SOURCE = """
import requests

def outer(session):
    a = 1; b = requests.get("http://a/x")

    @decorate(requests.post("http://b/y"))
    def inner():
        with session.get("http://c/z") as r:
            return [x for x in r.json() if x and b.ok]

    try:
        c = session.get("http://d/w")
    except (ValueError, KeyError):
        c = None
    return c.status_code if c else b
"""


@pytest.mark.parametrize("at_module_level", [False, True])
def test_the_parents_of_one_body_are_the_whole_trees(at_module_level: bool) -> None:
    tree = ast.parse(textwrap.dedent(BODY_PARENTS_SOURCE))
    function = tree.body[1]
    assert isinstance(function, ast.FunctionDef)
    owner: ast.AST = tree if at_module_level else function
    body = tree.body if at_module_level else function.body
    whole = extract.parent_map(tree)
    # contexts and operators are shared objects with no one parent: never asked about
    shared = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
    nodes = [n for stmt in body for n in ast.walk(stmt) if not isinstance(n, shared)]
    # asked in an order that reaches decorators, same-line statements and nodes without a line
    for order in (nodes, nodes[::-1]):
        parents = extract._BodyParents(owner, body)
        for node in order:
            assert parents.get(node) is whole[id(node)], ast.dump(node)[:60]


def test_route_extractors_walk_no_call_of_a_module_naming_none_they_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from decouple_services.detect.servers import _common

    def no_walk(*args: object) -> None:
        raise AssertionError("the whole module was walked")

    monkeypatch.setattr(_common, "walk", no_walk)
    found = facts(
        """
        from aiohttp import ClientSession
        from .views import bp

        @bp.route("/users")
        def users():
            return ClientSession().get("http://users/")
        """
    )
    assert [(r.framework, r.path) for r in found.routes] == [("flask", _common.Lit("/users"))]


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("app.register_blueprint(bp)", ("register_blueprint",), True),
        ("app.register_blueprints(bp)", ("register_blueprint",), False),
        ("x = 1", ("mount", "add_route"), False),
        # not ASCII: the names are looked for where `ast` finds them, in the NFKC folding
        ("app.\uff4dount('/', x)", ("mount",), True),
        ("app.\uff4dount('/', x)", ("add_route",), False),
        ("x = '\u2014'", ("mount", "add_route"), False),
    ],
)
def test_mentions_finds_whole_words(text: str, words: tuple[str, ...], expected: bool) -> None:
    from decouple_services.detect.context import ModuleContext

    ctx = ModuleContext(ast.parse("pass"), "m", text=text)
    assert ctx.mentions(*words) is expected
    # whatever identifier `ast` reads in the text is mentioned
    tree = ast.parse(text)
    named = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    named |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for name in named:
        assert ctx.mentions(name)


NAMED_CALLS_SOURCE = """
import json
import pytest
from requests import get
from .clients import search_client

def fetch(session, url):
    m = getattr(session, "post")
    m(url)
    get(url)
    search_client.get(url)
    search_client.Lookup(url)
    search_client.refresh()
    json.dumps({"a": 1})
    with pytest.raises(ValueError):
        len(url)

def shadowed(json, url):
    json.get(url)
"""


def test_calls_of_names_bound_nowhere_around_are_read_from_their_names() -> None:
    """A called name, or a method's receiver, with a qualified name is bound in no function
    around it: its value is a reference, and whether the call is worth recording reads only
    the names. Those receivers are not evaluated; the calls recorded are the same."""
    evaluated: list[str] = []
    original = ModuleContext.evaluate

    def spy(self: ModuleContext, expr: ast.expr | None, *args: object, **kwargs: object) -> object:
        if isinstance(expr, ast.Name):
            evaluated.append(expr.id)
        return original(self, expr, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ModuleContext, "evaluate", spy)
        found = facts(NAMED_CALLS_SOURCE)
    assert [(c.line, c.name) for c in found.calls] == [
        (9, "post"),
        (10, "get"),
        (11, "get"),
        (12, "Lookup"),
        (19, "get"),
    ]
    # `json.dumps`, `pytest.raises`, `get(...)`: names with a qualified name, never evaluated
    # as a callee or a receiver (`search_client` is, for the methods recorded on it)
    assert evaluated.count("json") == 1  # the parameter of `shadowed`
    assert "pytest" not in evaluated
    assert "get" not in evaluated
    assert evaluated.count("search_client") == 2


def _assigned(source: str) -> tuple[dict[str, set[str]], dict[str, bool]]:
    """Each function's stored names as the extractor finds them (outer functions asked
    first), and whether it read them from the statements alone."""
    text = textwrap.dedent(source)
    tree = ast.parse(text)
    extractor = extract._Extractor(
        tree, text.encode(), text, "svc/client.py", "svc.client", options(), False
    )
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    fast = {f.name: extractor._binds_in_statements_only(f) for f in functions}
    return {f.name: set(extractor._assigned_names(f)) for f in functions}, fast


def _stored_by_ast_walk(source: str) -> dict[str, set[str]]:
    tree = ast.parse(textwrap.dedent(source))
    return {
        f.name: {
            n.id for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
    }


@pytest.mark.parametrize(
    ("source", "fast"),
    [
        (
            """
            @decorate(option=True)
            async def send(session, url, *args):
                global counter
                counter += 1
                a, (b, *c) = 1, (2, 3)
                [d, e.attr, f[0]] = g = 1, 2, 3
                h: int = 1
                i: int
                with open(url) as j, lock as (k, l):
                    class Local:
                        m = 1
                    def inner():
                        n = 2
                        def innermost():
                            o = 3
                try:
                    p = send.format(url)
                except ValueError as q:
                    r = q
                match url:
                    case {"s": s, **rest} if s:
                        t = rest
                return lambda u: u
            """,
            {"send": True, "inner": True, "innermost": True},
        ),
        # a comprehension's target and an assignment expression are stored in expressions
        ("def f(xs):\n    return [x for x in xs]\n", {"f": False}),
        ("def f(xs):\n    return [1for x in xs]\n", {"f": False}),
        ("def f(xs):\n    if (n := len(xs)):\n        return n\n", {"f": False}),
        ("@d([y for y in ys])\ndef f():\n    return 1\n", {"f": False}),
        ("def f(xs):\n    for x in xs:\n        pass\n", {"f": False}),
        (
            "def f(xs):\n    return xs.format(before=1)\n\ndef g(ys):\n    for y in ys:\n        pass\n",
            {"f": True, "g": False},
        ),
        # a loop among statements: its heading is walked whole, the rest read from the
        # statements, nested functions and `except`, `case` and `with` blocks included
        (
            """
            def f(xs, ys):
                a = 1
                for x in xs:
                    b = [c for c in x if (d := c)]
                    @deco([e for e in ys])
                    def inner(g=[h for h in ys]):
                        i = 1
                        return [j for j in g]
                try:
                    k = 2
                except [l for l in ys][0] as m:
                    n = 3
                match xs:
                    case [o, *p] if (q := o):
                        r = 4
                with open(a) as (s, t):
                    while (u := next(xs)):
                        v = 5
                    else:
                        w = 6
                class C:
                    y = [z for z in ys]
            """,
            {"f": False, "inner": False},
        ),
        # ast may count a lone \r as a line break: every line may hold one
        ("def f(xs):\n    y = 1\r    return y\n", {"f": False}),
    ],
)
@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # `1for`, on purpose
def test_names_stored_by_statements_alone_are_read_from_the_statements(
    source: str, fast: dict[str, bool]
) -> None:
    found, read_fast = _assigned(source)
    assert read_fast == fast
    assert found == _stored_by_ast_walk(source)
