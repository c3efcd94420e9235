"""Every route extractor finds exactly what its examples say, and nothing in its look-alikes."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from types import ModuleType

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import decouple_services.detect.servers as servers
from decouple_services.app.demand import candidate_prefilter
from decouple_services.app.pipeline import detection_options
from decouple_services.core.config import Config
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.facts import FileFacts
from decouple_services.detect.registry import build_detectors
from decouple_services.detect.servers import FRAMEWORK_TOKENS, SERVER_EXTRACTORS, may_serve
from decouple_services.detect.servers._common import Route, ServerExample, mount_of, route_of
from decouple_services.detect.servers.django import ACTION_FACT, VIEW_FACT

OPTIONS = ExtractOptions(server_extractors=SERVER_EXTRACTORS)
CANDIDATES = candidate_prefilter(detection_options(build_detectors(Config()), Config()))


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{servers.__name__}.{info.name}")
        for info in pkgutil.iter_modules(servers.__path__)
        if not info.name.startswith("_")
    ]


MODULES = _modules()
EXAMPLES = [
    pytest.param(example, id=f"{module.__name__.rpartition('.')[2]}-{index}")
    for module in MODULES
    for index, example in enumerate(module.EXAMPLES)
]
COUNTER_EXAMPLES = [
    pytest.param(code, id=f"{module.__name__.rpartition('.')[2]}-{index}")
    for module in MODULES
    for index, code in enumerate(module.COUNTER_EXAMPLES)
]


def _facts(code: str, module: str = "example") -> FileFacts:
    return extract_facts(code.encode(), f"{module.replace('.', '/')}.py", module, OPTIONS)


def _checked(expected: Route, found: Route) -> Route:
    """``found`` with its owner dropped where the example leaves the owner unchecked."""
    if expected.owner is None:
        return Route(found.methods, found.path, found.handler, found.line)
    return found


def _key(route: Route) -> tuple[int, str, str]:
    return (route.line, route.handler, route.methods)


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_gives_exactly_its_routes_mounts_and_grpc_methods(
    example: ServerExample,
) -> None:
    facts = _facts(example.code, example.module)

    assert facts.diagnostics == ()
    expected = sorted(example.routes, key=_key)
    found = sorted((route_of(r) for r in facts.routes), key=_key)
    assert len(found) == len(expected), "\n".join(map(str, found))
    assert [_checked(e, f) for e, f in zip(expected, found, strict=True)] == expected
    assert sorted(map(mount_of, facts.mounts), key=lambda m: m.line) == sorted(
        example.mounts, key=lambda m: m.line
    )
    assert list(facts.grpc_methods) == list(example.grpc)


@pytest.mark.parametrize("code", COUNTER_EXAMPLES)
def test_a_counter_example_gives_no_route_mount_or_grpc_method(code: str) -> None:
    facts = _facts(code)

    assert (facts.routes, facts.mounts, facts.grpc_methods, facts.diagnostics) == ((), (), (), ())


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_passes_the_token_prefilter(example: ServerExample) -> None:
    assert may_serve(example.code.encode())


def _serves(facts: FileFacts) -> bool:
    """Whether ``facts`` hold a route, mount or gRPC method a file must be parsed up front
    for: the methods a Django view or a DRF action accepts are read from the modules the
    endpoints ask for."""
    return bool(
        facts.mounts
        or facts.grpc_methods
        or any(r.framework not in (VIEW_FACT, ACTION_FACT) for r in facts.routes)
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_passes_the_candidate_prefilter(example: ServerExample) -> None:
    facts = _facts(example.code, example.module)

    assert not _serves(facts) or CANDIDATES.passes(example.code.encode(), example.module)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_file_the_candidate_prefilter_rejects_gives_no_route(data: st.DataObject) -> None:
    """The candidate prefilter's framework gates are the extractors' own: an example cut of
    its framework's import (or of anything else) gives no route the prefilter would miss."""
    example = data.draw(st.sampled_from([e for m in MODULES for e in m.EXAMPLES]))
    lines = example.code.splitlines()
    drop = data.draw(st.integers(0, len(lines) - 1))
    variant = "\n".join(lines[:drop] + lines[drop + 1 :])
    try:
        ast.parse(variant)
    except SyntaxError:
        return
    facts = _facts(variant, example.module)

    assert not _serves(facts) or CANDIDATES.passes(variant.encode(), example.module)


def test_every_extractor_module_is_registered_and_documented() -> None:
    registered = {f.__module__ for f in SERVER_EXTRACTORS}

    assert registered == {m.__name__ for m in MODULES}
    for module in MODULES:
        assert module.__doc__ and len(module.__doc__) > 200, module.__name__
        assert module.EXAMPLES and module.COUNTER_EXAMPLES, module.__name__


def test_the_prefilter_rejects_a_file_without_any_framework_token() -> None:
    assert "flask" in FRAMEWORK_TOKENS
    assert not may_serve(b"import requests\n\nrequests.get('http://users/users')\n")


def test_a_route_inside_an_application_factory_is_owned_by_the_local_app_object() -> None:
    facts = _facts(
        "from flask import Flask, Blueprint\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    bp = Blueprint('api', __name__, url_prefix='/api')\n"
        "    @bp.get('/ping')\n"
        "    def ping():\n"
        "        return 'pong'\n"
        "    app.register_blueprint(bp)\n"
        "    return app\n"
    )

    (route,) = facts.routes
    (mount,) = facts.mounts
    assert route.handler == "example.create_app.ping"
    assert route.owner == mount.child
    assert mount_of(mount).parent == "flask.Flask()"


def test_a_blueprint_imported_into_a_views_module_is_read_without_a_flask_import() -> None:
    facts = _facts(
        "from . import bp\n\n@bp.route('/orders/<int:oid>')\ndef order(oid):\n    ...\n",
        "shop.orders.views",
    )

    assert [route_of(r) for r in facts.routes] == [
        Route("GET", "/orders/<int:oid>", "shop.orders.views.order", 3, owner="shop.orders.bp")
    ]


def test_one_decorator_is_read_by_one_extractor_only() -> None:
    facts = _facts(
        "from fastapi import FastAPI\nfrom starlette.routing import Route\napp = FastAPI()\n\n"
        "@app.get('/a')\ndef a():\n    ...\n"
    )

    assert [(r.framework, r.line) for r in facts.routes] == [("fastapi", 5)]


def test_a_route_table_is_read_wherever_it_is_defined_in_the_module() -> None:
    facts = _facts(
        "from aiohttp import web\n"
        "async def h(request):\n    ...\n"
        "def make():\n"
        "    app = web.Application()\n"
        "    app.router.add_route('GET', '/a', h)\n"
        "    app.router.add_delete('/a/{id}', h)\n"
        "    return app\n"
    )

    assert [(r.methods, r.path, r.handler) for r in facts.routes] == [
        (("GET",), facts.routes[0].path, "example.h"),
        (("DELETE",), facts.routes[1].path, "example.h"),
    ]
    assert {type(r.owner).__name__ for r in facts.routes} == {"Obj"}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_no_extractor_raises_on_arbitrary_valid_code(code: str) -> None:
    tree = ast.parse(code)
    ctx = ModuleContext(tree, "fuzz")

    for extract in SERVER_EXTRACTORS:
        routes, mounts, methods = extract(tree, ctx)
        assert isinstance(routes, list) and isinstance(mounts, list) and isinstance(methods, list)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_no_extractor_raises_on_examples_with_a_line_dropped(data: st.DataObject) -> None:
    """Half-written route code (a decorator without arguments, a list cut short) is skipped quietly."""
    code = data.draw(st.sampled_from([e.code for m in MODULES for e in m.EXAMPLES]))
    lines = code.splitlines()
    drop = data.draw(st.integers(0, len(lines) - 1))
    variant = "\n".join(lines[:drop] + lines[drop + 1 :])
    try:
        tree = ast.parse(variant)
    except SyntaxError:
        return
    ctx = ModuleContext(tree, "example")

    for extract in SERVER_EXTRACTORS:
        extract(tree, ctx)
