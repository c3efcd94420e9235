"""The planner on the sample repository: names, places and handler references."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import ScanResult
from decouple_services.graph.migratability import Finding
from decouple_services.migrate.naming import TopicNameError
from decouple_services.migrate.plan import MigrationPlan, PlanOptions, layout_of
from decouple_services.migrate.run import migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample"
SERVICES = ("emails", "frontend", "notifications", "orders", "payments", "users")


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(SAMPLE, ScanOptions(use_cache=False))


def _plan(result: ScanResult, **options: str) -> MigrationPlan:
    selection = select_sites(result, Criteria(services=SERVICES))
    return migrate_scanned(result, selection, PlanOptions(**options)).plan


def test_producers_go_in_the_callers_top_level_package(result: ScanResult) -> None:
    plan = _plan(result)
    homes = {p.service: (p.path, p.module, p.sync_client, p.needs_async) for p in plan.producers}
    assert homes["orders"] == (
        "services/orders/orders/decouple_producer.py",
        "orders.decouple_producer",
        "kafka-python",
        True,
    )
    assert homes["users"][:2] == (
        "services/users/accounts/decouple_producer.py",
        "accounts.decouple_producer",
    )
    assert homes["payments"][3] is False


def test_consumers_go_in_the_handlers_package_with_tests_beside_the_service(
    result: ScanResult,
) -> None:
    plan = _plan(result)
    consumer = next(c for c in plan.consumers if c.topic.name == "orders.cancel")
    assert consumer.path == "services/orders/orders/decouple_consumers/orders_cancel.py"
    assert consumer.module == "orders.decouple_consumers.orders_cancel"
    assert consumer.import_root == "services/orders"
    assert consumer.test_path == "services/orders/tests/test_orders_cancel_consumer.py"
    assert consumer.group_id == "orders.cancel"
    assert consumer.handler is not None
    assert (consumer.handler.module, consumer.handler.attribute) == ("orders.api", "cancel_order")
    assert consumer.topic.path_params == ("order_id",)
    emails = next(c for c in plan.consumers if c.topic.name == "emails.send")
    assert emails.handler is not None and emails.handler.app_object == "app"
    users = next(c for c in plan.consumers if c.topic.name == "users.deactivate")
    assert users.path == "services/users/accounts/decouple_consumers/users_deactivate.py"
    assert users.handler is not None and users.handler.module == "accounts.views"
    # a Django callee keeps handled events in its own database; a Flask one, in a file
    assert (users.idempotency, emails.idempotency) == ("django", "file")


def test_topics_gather_their_producers_sites_and_schema(result: ScanResult) -> None:
    plan = _plan(result)
    topics = {t.name: t for t in plan.topics}
    assert set(topics) == {
        "emails.send",
        "inventory.stock-release",
        "notifications.notify",
        "orders.cancel",
        "orders.payment-events",
        "recommendations.events",
        # users checks only the status of its PUT /profiles/{user_id}: a send that waits
        "recommendations.profiles",
        "users.deactivate",
        "users.preferences",
    }
    assert {t.event_type for t in topics.values()} == {f"{name}.v1" for name in topics}
    notify = topics["notifications.notify"]
    assert notify.producers == ("emails", "orders", "users")
    assert notify.dead_letter == "notifications.notify.dlq"
    assert notify.payload_schema is not None
    assert notify.payload_schema["required"] == ["kind"]
    stock = topics["inventory.stock-release"]
    assert stock.key_field == "reservation_id"
    assert stock.payload_schema == {
        "type": "object",
        "properties": {"reservation_id": {}},
        "required": ["reservation_id"],
    }
    # event = {"outcome": outcome, **details} above the call, then {**event, "order_id":
    # order_id}: its outcome and the path parameter are known, what details holds is not
    assert topics["orders.payment-events"].payload_schema == {
        "type": "object",
        "properties": {"outcome": {}, "order_id": {}},
        "required": ["outcome", "order_id"],
        "additionalProperties": True,
    }


def test_status_sites_wait_and_keys_are_chosen_at_migration_time(result: ScanResult) -> None:
    plan = _plan(result)
    sends = {p.send.topic: p.send for p in plan.sites}
    profiles = sends["recommendations.profiles"]
    # resp = s.put("{}/profiles/{}".format(..., uid), ...); if resp.status_code >= 400: ...
    assert profiles.wait
    assert (profiles.key, profiles.key_origin) == ("uid", "path parameter user_id")
    # requests.post(...) with nothing catching its failure: the send waits and raises, as
    # the call raised, for a reason other than a check of the answer
    deactivate = sends["users.deactivate"]
    assert deactivate.wait and deactivate.raised and not profiles.raised
    relaxed = _plan(result, fire_and_forget="yes")
    assert not any(p.send.raised for p in relaxed.sites)
    assert not {p.send.topic: p.send for p in relaxed.sites}["users.deactivate"].wait
    item = next(p for p in plan.sites if p.send.topic == "recommendations.profiles")
    assert [c.code for c in item.cautions] == ["status-checked", "in-loop"]
    assert "the send waits at most 3 s for Kafka's acknowledgement (the old timeout)" in item.notes
    assert any("the check `if resp.status_code >= 400:` is gone" in n for n in item.notes)


def test_a_send_carries_the_path_parameters_its_url_filled_in(result: ScanResult) -> None:
    plan = _plan(result)
    sends = {p.site.id: p.send for p in plan.sites}
    assert sends["cs-945a9009"].path_params == (("order_id", "order_id"),)
    assert sends["cs-e09e46ac"].path_params == (("order_id", "order['id']"),)
    assert sends["cs-9d95a416"].path_params == (("user_id", "user_id"),)
    assert sends["cs-4f798040"].path_params == ()


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_every_touched_service_gets_one_kafka_client(result: ScanResult, client: str) -> None:
    """orders sends from sync and async code and inventory consumes: each gets the one
    client the runtime uses for both."""
    plan = _plan(result, client=client)
    assert ("services/orders", "confluent-kafka") in plan.requirements
    assert ("services/inventory", "confluent-kafka") in plan.requirements
    assert {req for _, req in plan.requirements} <= {"confluent-kafka", "protobuf"}


def test_a_topic_that_would_escape_the_repository_is_an_error(result: ScanResult) -> None:
    with pytest.raises(TopicNameError, match="illegal character"):
        _plan(result, topic_template="../{callee}")


def test_a_layout_knows_the_import_root_and_the_package() -> None:
    def module_of(path: str) -> str:
        return {
            "services/orders/orders/api.py": "orders.api",
            "services/orders/orders/__init__.py": "orders",
            "scripts/run.py": "run",
        }[path]

    api = layout_of("services/orders/orders/api.py", module_of)
    assert (api.import_root, api.package, api.package_dir) == (
        "services/orders",
        "orders",
        "services/orders/orders",
    )
    init = layout_of("services/orders/orders/__init__.py", module_of)
    assert (init.import_root, init.package) == ("services/orders", "orders")
    script = layout_of("scripts/run.py", module_of)
    assert (script.import_root, script.package) == ("scripts", None)


def test_a_file_the_rewrite_fails_on_is_reported_and_the_rest_goes_on(
    result: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    import decouple_services.migrate.run as run

    real = run.rewrite_source

    def flaky(source: bytes, sites: object, **options: object) -> object:
        if b"report_bounce" in source:
            raise RecursionError("maximum recursion depth exceeded")
        return real(source, sites, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "rewrite_source", flaky)
    selection = select_sites(result, Criteria(services=("emails", "orders")))
    migrated = migrate_scanned(result, selection, PlanOptions())
    assert migrated.failed == (
        ("cs-4f798040", "the rewrite failed: RecursionError: maximum recursion depth exceeded"),
    )
    assert "cs-4f798040" not in {p.site.id for p in migrated.plan.sites}
    assert "services/emails/emails/tracking.py" not in {c.path for c in migrated.changes}
    assert "services/emails/emails/decouple_producer.py" not in {c.path for c in migrated.changes}
    assert "services/orders/orders/events.py" in {c.path for c in migrated.changes}


def test_an_app_made_by_a_factory_is_served_by_calling_it() -> None:
    from decouple_services.core.model import Endpoint
    from decouple_services.migrate.plan import _application

    files = {
        "svc/inventory/app.py": (
            b"from aiohttp import web\n\n\ndef create_app():\n"
            b"    app = web.Application()\n    return app\n"
        ),
        "svc/orders/main.py": b"from fastapi import FastAPI\n\napp = FastAPI()\n",
    }

    def module_of(path: str) -> str:
        return path.removeprefix("svc/").removesuffix(".py").replace("/", ".")

    def endpoint(file: str, framework: str) -> Endpoint:
        return Endpoint("s", "http", "POST", "/x", "h.x", file, 1, framework=framework)

    found = _application(endpoint("svc/inventory/app.py", "aiohttp"), files.get, module_of)
    assert found == ("inventory.app", "create_app()")
    found = _application(endpoint("svc/orders/api.py", "fastapi"), files.get, module_of)
    assert found == ("orders.main", "app")


def test_a_factory_whose_parameters_all_have_defaults_is_called_without_arguments() -> None:
    from decouple_services.core.model import Endpoint
    from decouple_services.migrate.plan import _application

    files = {
        "svc/thoughts/app.py": b"from flask import Flask\n\n\ndef create_app(script=False):\n"
        b"    application = Flask(__name__)\n    return application\n",
        "svc/users/app.py": b"from flask import Flask\n\n\ndef create_app(config):\n"
        b"    application = Flask(__name__)\n    return application\n",
    }

    def module_of(path: str) -> str:
        return path.removeprefix("svc/").removesuffix(".py").replace("/", ".")

    def endpoint(file: str) -> Endpoint:
        return Endpoint("s", "http", "POST", "/x", "h.x", file, 1, framework="flask")

    found = _application(endpoint("svc/thoughts/ns.py"), files.get, module_of)
    assert found == ("thoughts.app", "create_app()")
    # a parameter without a default: calling the factory with nothing would fail
    assert _application(endpoint("svc/users/ns.py"), files.get, module_of) == (None, None)


def test_an_app_that_mounts_a_router_of_routers_serves_the_handler() -> None:
    """``api/routes/items.py`` is included by ``api/main.py``'s ``api_router``, which the
    application in ``main.py`` includes: the consumer runs that application. A router
    that includes other routes only is no answer."""
    from decouple_services.core.model import Endpoint
    from decouple_services.migrate.plan import _application

    files = {
        "svc/app/api/main.py": (
            b"from fastapi import APIRouter\nfrom app.api.routes import items\n\n"
            b"api_router = APIRouter()\napi_router.include_router(items.router)\n"
        ),
        "svc/app/main.py": (
            b"from fastapi import FastAPI\nfrom app.api.main import api_router\n\n"
            b"app = FastAPI()\napp.include_router(api_router, prefix='/v1')\n"
        ),
    }

    def module_of(path: str) -> str:
        return path.removeprefix("svc/").removesuffix(".py").replace("/", ".")

    def endpoint(file: str) -> Endpoint:
        return Endpoint("s", "http", "POST", "/x", "h.x", file, 1, framework="fastapi")

    found = _application(endpoint("svc/app/api/routes/items.py"), files.get, module_of)
    assert found == ("app.main", "app")
    # The application mounts another router only: the handler's is not served.
    files["svc/app/main.py"] = files["svc/app/main.py"].replace(b"api_router", b"other_router")
    found = _application(endpoint("svc/app/api/routes/items.py"), files.get, module_of)
    assert found == (None, None)


ROUTER_APP = Path(__file__).resolve().parents[2] / "fixtures" / "migrate" / "router_app"


def _migrate_all(root: Path) -> MigrationPlan:
    found = scan(root, ScanOptions(use_cache=False))
    ids = tuple(s.id for s in found.call_sites if s.callee == "stock")
    return migrate_scanned(found, select_sites(found, Criteria(ids=ids)), PlanOptions()).plan


def test_the_consumer_runs_the_application_that_includes_the_handlers_router() -> None:
    """``stock/routers/items.py`` holds an ``APIRouter``; ``stock/main.py`` includes it."""
    plan = _migrate_all(ROUTER_APP)
    assert [p.site.callee for p in plan.rewrites] == ["stock", "stock"]
    for consumer in plan.consumers:
        assert consumer.handler is not None
        assert (consumer.handler.app_module, consumer.handler.app_object) == ("stock.main", "app")


def test_a_callee_whose_handlers_use_sqlalchemy_keeps_handled_events_in_its_database(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    assert {c.idempotency for c in _migrate_all(tmp_path / "repo").consumers} == {"file"}
    items = tmp_path / "repo" / "stock" / "stock" / "routers" / "items.py"
    items.write_text("from sqlalchemy.orm import Session\n" + items.read_text())
    assert {c.idempotency for c in _migrate_all(tmp_path / "repo").consumers} == {"sqlalchemy"}


def test_a_site_whose_callee_application_cannot_be_found_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    (tmp_path / "repo" / "stock" / "stock" / "main.py").unlink()
    plan = _migrate_all(tmp_path / "repo")
    assert not plan.rewrites and not plan.consumers and not plan.producers
    findings = [f for r in plan.refused for f in r.reasons]
    assert [f.code for f in findings] == ["no-app", "no-app"]
    assert "stock.routers.items.reserve is on a router" in findings[0].reason + findings[1].reason


def test_a_site_whose_callee_has_no_handler_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    shutil.rmtree(tmp_path / "repo" / "stock" / "stock")
    plan = _migrate_all(tmp_path / "repo")
    assert not plan.rewrites and not plan.consumers
    assert [f.code for r in plan.refused for f in r.reasons] == ["no-app", "no-app"]


def test_a_callee_with_no_handler_is_named_by_what_its_code_is(tmp_path: Path) -> None:
    """Where no route answers, the refusal says why: the callee's code is in another
    language (a consumer this tool writes cannot call it), or it is Python whose routes
    are registered where the scan does not read them."""
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    stock = tmp_path / "repo" / "stock"
    items = stock / "stock" / "routers" / "items.py"
    # routes added at run time: Python, no route the scan reads
    items.write_text(
        "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n"
        "def reserve(item_id: int, body: dict):\n    return {'ok': True}\n\n\n"
        "for path in ROUTES:\n    router.add_api_route(path, reserve, methods=[METHOD])\n"
    )
    reasons = [f for r in _migrate_all(tmp_path / "repo").refused for f in r.reasons]
    assert {f.code for f in reasons} == {"no-app"}
    assert "its code (stock) is Python, and the route is registered in a way" in reasons[0].reason
    assert reasons[0].suggestion.startswith("register the route where the scan reads it")
    shutil.rmtree(stock / "stock")
    (stock / "main.go").write_text("package main\n\nfunc main() {}\n")
    reasons = [f for r in _migrate_all(tmp_path / "repo").refused for f in r.reasons]
    assert {f.code for f in reasons} == {"no-app"}
    assert "its code (stock) is Go, not Python" in reasons[0].reason
    assert "(a Kafka consumer written in Go)" in reasons[0].suggestion


def test_a_url_the_event_cannot_carry_to_a_callee_in_another_language_is_no_app(
    tmp_path: Path,
) -> None:
    """``?{urlencode(params)}`` no route names is not-rewritable for a Python callee (a
    route could be declared); for a callee written in Go no consumer could take the event
    whatever its url, and the refusal says that instead."""
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    shop = tmp_path / "repo" / "shop" / "shop.py"
    shop.write_text(
        "from urllib.parse import urlencode\n\n"
        + shop.read_text()
        + "\n\ndef track(params):\n"
        + '    requests.post(f"http://stock:8000/track?{urlencode(params)}", timeout=2)\n'
    )

    def track_reasons() -> list[Finding]:
        plan = _migrate_all(tmp_path / "repo")
        return [
            f
            for r in plan.refused
            if r.site and r.site.function.endswith("track")
            for f in r.reasons
        ]

    assert [f.code for f in track_reasons()] == ["not-rewritable"]
    stock = tmp_path / "repo" / "stock"
    shutil.rmtree(stock / "stock")
    (stock / "main.go").write_text("package main\n\nfunc main() {}\n")
    found = track_reasons()
    assert [f.code for f in found] == ["no-app"]
    assert "its code (stock) is Go, not Python" in found[0].reason


def test_values_the_url_carries_take_the_names_of_the_callees_route() -> None:
    """``send_post_request(f".../release/{quantity}")`` reaches ``/release/{amount}``: the
    event carries ``amount``, which the consumer reads, not ``quantity``."""
    plan = _migrate_all(ROUTER_APP)
    release = next(p for p in plan.rewrites if p.site.via_wrapper)
    assert release.send.path_params == (("item_id", "item_id"), ("amount", "quantity"))
    topic = next(t for t in plan.topics if t.name == release.send.topic)
    assert topic.payload_schema is not None
    assert set(topic.payload_schema["properties"]) == {"item_id", "amount"}


def test_a_files_module_is_named_as_its_own_imports_say(tmp_path: Path) -> None:
    """``rpl_users/src/services/courses.py`` imports ``rpl_users.src.config``: it runs from
    the repository's root, so the producer beside it is ``rpl_users.src.services...``, not a
    top-level ``decouple_producer``; ``from mailbox_manager import enums`` puts the root at
    ``src/backend``, the folder holding ``mailbox_manager``."""
    from decouple_services.migrate.run import _module_namer, _reader

    files = {
        "rpl_users/src/config/env.py": "X = 1\n",
        "rpl_users/src/services/courses.py": "import httpx\nfrom rpl_users.src.config import env\n",
        "src/backend/__init__.py": "",
        "src/backend/mailbox_manager/__init__.py": "",
        "src/backend/mailbox_manager/enums.py": "",
        "src/backend/mailbox_manager/commands/__init__.py": "",
        "src/backend/mailbox_manager/commands/setup.py": "from mailbox_manager import enums\n",
        "scripts/run.py": "import os\nimport requests\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    module_of = _module_namer(tmp_path, _reader(tmp_path))
    assert module_of("rpl_users/src/services/courses.py") == "rpl_users.src.services.courses"
    assert layout_of("rpl_users/src/services/courses.py", module_of).package == "rpl_users"
    setup = "src/backend/mailbox_manager/commands/setup.py"
    assert module_of(setup) == "mailbox_manager.commands.setup"
    assert layout_of(setup, module_of).import_root == "src/backend"
    assert module_of("scripts/run.py") == "run"  # nothing first-party: as the scan names it


def _reserve_topic(tmp_path: Path, body: str) -> dict[str, object] | None:
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    shop = tmp_path / "repo" / "shop" / "shop.py"
    shop.write_text(
        shop.read_text().replace(
            '    requests.post(f"http://stock:8000/items/{item_id}/reserve", '
            'json={"quantity": quantity}, timeout=2)\n',
            body,
        )
    )
    plan = _migrate_all(tmp_path / "repo")
    site = next(p for p in plan.rewrites if p.site.function.endswith("reserve"))
    topic = next(t for t in plan.topics if t.name == site.send.topic)
    return topic.payload_schema


def test_a_payload_bound_to_a_dict_literal_above_the_call_has_its_schema(
    tmp_path: Path,
) -> None:
    """``data = {"text": text}`` then ``requests.post(url, data)``: the event's data is that
    dict, so the schema (and the generated test's sample) names its keys, not ``{"id": "1"}``
    of a payload nothing is known of."""
    schema = _reserve_topic(
        tmp_path,
        "    if quantity:\n"
        '        body = {"quantity": quantity, "reason": "order"}\n'
        '        requests.post(f"http://stock:8000/items/{item_id}/reserve", json=body,'
        " timeout=2)\n",
    )
    assert schema is not None
    assert schema["properties"] == {
        "quantity": {},
        "reason": {"type": "string"},
        "item_id": {},
    }


def _reserve_with_model(tmp_path: Path, body: str, model: str) -> MigrationPlan:
    """``reserve`` takes its body as the pydantic model ``Reserve`` of ``stock/models.py``;
    the shop's call sends ``body``."""
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    stock = tmp_path / "repo" / "stock" / "stock"
    (stock / "models.py").write_text(
        "from typing import Optional\n\nfrom pydantic import BaseModel, Field\n\n\n"
        "class Base(BaseModel):\n    warehouse: str = Field(title='Warehouse')\n\n\n" + model
    )
    items = stock / "routers" / "items.py"
    items.write_text(
        items.read_text()
        .replace("from fastapi import APIRouter\n", "from fastapi import APIRouter, Depends\n")
        .replace("\nrouter =", "from stock.models import Reserve\n\nrouter =")
        .replace("body: dict)", "body: Reserve, user: str = Depends(lambda: 'u'))")
    )
    shop = tmp_path / "repo" / "shop" / "shop.py"
    shop.write_text(
        shop.read_text().replace(
            '    requests.post(f"http://stock:8000/items/{item_id}/reserve", '
            'json={"quantity": quantity}, timeout=2)\n',
            f"    body = {body}\n"
            '    requests.post(f"http://stock:8000/items/{item_id}/reserve", json=body,'
            " timeout=2)\n",
        )
    )
    return _migrate_all(tmp_path / "repo")


_RESERVE = (
    "class Reserve(Base):\n"
    "    quantity: int\n"
    "    note: Optional[str] = None\n"
    "    hint: str | None\n"
    "    priority: int = Field(default=0)\n"
)


def test_a_payload_lacking_a_field_the_handlers_body_model_requires_is_refused(
    tmp_path: Path,
) -> None:
    """The handler takes ``Reserve`` (``warehouse`` inherited, ``quantity`` required): the
    call's data, a dict literal bound above it, has only ``quantity``, so FastAPI would
    answer every event 422 and dead-letter it. Fields with a default or optional are not
    asked for."""
    plan = _reserve_with_model(tmp_path / "a", '{"quantity": quantity}', _RESERVE)
    refused = [r for r in plan.refused if r.site and r.site.function.endswith("reserve")]
    assert [f.code for r in refused for f in r.reasons] == ["payload-mismatch"]
    reason = refused[0].reasons[0].reason
    assert "takes its body as `Reserve` (stock/stock/models.py:10)" in reason
    assert "which requires `warehouse`; the data this call sends lacks them" in reason
    plan = _reserve_with_model(
        tmp_path / "b", '{"quantity": quantity, "warehouse": "main"}', _RESERVE
    )
    assert [p.site.function for p in plan.rewrites if p.site.function.endswith("reserve")]


def test_a_body_model_whose_keys_are_not_its_fields_refuses_nothing(tmp_path: Path) -> None:
    """An alias, or a validator that runs before the fields are read, may take other keys:
    the check says nothing rather than refuse a call that works."""
    aliased = _RESERVE.replace("quantity: int", "quantity: int = Field(alias='qty')")
    plan = _reserve_with_model(tmp_path / "a", '{"qty": quantity}', aliased)
    assert not [r for r in plan.refused if r.site and r.site.function.endswith("reserve")]
    validated = _RESERVE + (
        "\n    @model_validator(mode='before')\n    def fill(cls, data):\n        return data\n"
    )
    plan = _reserve_with_model(tmp_path / "b", '{"quantity": quantity}', validated)
    assert not [r for r in plan.refused if r.site and r.site.function.endswith("reserve")]


def test_a_payload_changed_after_its_literal_is_not_read_from_it(tmp_path: Path) -> None:
    """A key set after the literal (``body["note"] = ...``), or a second binding, means the
    literal is not what is sent: nothing is inferred from it."""
    schema = _reserve_topic(
        tmp_path,
        '    body = {"quantity": quantity}\n'
        '    body["note"] = "x"\n'
        '    requests.post(f"http://stock:8000/items/{item_id}/reserve", json=body, timeout=2)\n',
    )
    assert schema is None or "quantity" not in schema.get("properties", {})


def test_the_callers_tests_that_patch_the_replaced_call_are_named(tmp_path: Path) -> None:
    """A test standing in for the callee with ``mock.patch("requests.post")`` (or the
    helper the site calls through) asserts a call the rewrite removes: the site's note
    names it and what to patch instead; a test patching something else is not named."""
    shutil.copytree(ROUTER_APP, tmp_path / "repo")
    tests = tmp_path / "repo" / "shop" / "tests"
    tests.mkdir()
    (tests / "test_shop.py").write_text(
        "from unittest import mock\n\nimport shop\n\n\n"
        "def test_reserve():\n"
        '    with mock.patch("requests.post") as post:\n'
        "        shop.reserve(1, 2)\n"
        "    post.assert_called_once()\n\n\n"
        "def test_release():\n"
        '    with mock.patch("shop.send_post_request") as send:\n'
        "        shop.release(1, 2)\n"
        "    send.assert_called_once()\n\n\n"
        "def test_reserve_with_the_module_patched():\n"
        '    with mock.patch("shop.requests") as requests:\n'
        "        shop.reserve(1, 2)\n"
        "    requests.post.assert_called_once()\n\n\n"
        "def test_other():\n"
        '    with mock.patch("shop.time.sleep"):\n'
        "        pass\n"
    )
    plan = _migrate_all(tmp_path / "repo")
    notes = {p.site.function.rsplit(".", 1)[-1]: p.notes for p in plan.rewrites}
    reserve = [n for n in notes["reserve"] if n.startswith("tests that patch")]
    release = [n for n in notes["release"] if n.startswith("tests that patch")]
    assert reserve == [
        "tests that patch the call this site made (shop/tests/test_shop.py:7, "
        "shop/tests/test_shop.py:19) stand in for a call that no longer happens here: "
        "where they run this site, patch `shop.send_event_and_wait` instead, or they fail "
        "(the send raises `EventNotAccepted` where no broker is configured)"
    ]
    assert len(release) == 1 and "(shop/tests/test_shop.py:13)" in release[0]


def _users_settings_from_entrypoint(tmp_path: Path, module: str) -> ScanResult:
    """The sample with the users service's settings module set only by its image's
    entrypoint script, as ``module``: ``manage.py`` leaves it to the environment."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    users = root / "services/users"
    manage = users / "manage.py"
    manage.write_text(
        manage.read_text().replace(
            '    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "users_site.settings")\n', ""
        )
    )
    dockerfile = users / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(" DJANGO_SETTINGS_MODULE=users_site.settings", "")
        + 'ENTRYPOINT ["/app/entrypoint.sh"]\n'
    )
    (users / "entrypoint.sh").write_text(
        f"#!/bin/sh\nset -e\nexport APP_MODULE={module}\n"
        'export DJANGO_SETTINGS_MODULE="${APP_MODULE}.settings"\nexec "$@"\n'
    )
    return scan(root, ScanOptions(use_cache=False))


def test_a_django_callee_gets_the_settings_its_entrypoint_script_exports(
    tmp_path: Path,
) -> None:
    selection = select_sites(
        scanned := _users_settings_from_entrypoint(tmp_path, "users_site"),
        Criteria(services=SERVICES),
    )
    migrated = migrate_scanned(scanned, selection, PlanOptions())
    users = next(c for c in migrated.plan.consumers if c.topic.name == "users.deactivate")
    # the consumers load the settings the image runs the service with, and keep handled
    # events in its database rather than a file of each pod
    assert users.extra.get("django_settings_module") == "users_site.settings"
    assert users.idempotency == "django"
    assert not any(users.module == module for module, _ in migrated.store_notes)


def test_an_exported_settings_module_not_under_the_service_is_not_guessed(
    tmp_path: Path,
) -> None:
    scanned = _users_settings_from_entrypoint(tmp_path, "elsewhere")
    selection = select_sites(scanned, Criteria(services=SERVICES))
    plan = migrate_scanned(scanned, selection, PlanOptions()).plan
    users = next(c for c in plan.consumers if c.topic.name == "users.deactivate")
    assert "django_settings_module" not in users.extra
    assert users.idempotency == "file"


_SHOP_WITH_ROLLBACK = """\
import requests
from flask import abort


def send_post_request(url: str):
    try:
        response = requests.post(url, timeout=2)
    except requests.exceptions.RequestException:
        abort(400, "Requests error")
    else:
        return response


def rollback_stock(removed):
    for item_id, quantity in removed:
        send_post_request(f"http://stock:8000/items/{item_id}/release/{quantity}")
"""


def _rollback_plan(
    root: Path, shop: str = _SHOP_WITH_ROLLBACK, encoding: str = "utf-8"
) -> MigrationPlan:
    """The router app whose shop gives stock back through a helper that answers a failed
    call with ``abort(400)``, with end-to-end tests that check out, then read the stock
    (saved in ``encoding``)."""
    shutil.copytree(ROUTER_APP, root)
    (root / "shop" / "shop.py").write_text(shop)
    tests = root / "test"
    tests.mkdir()
    (tests / "utils.py").write_text(
        "import requests\n\n\n"
        "def checkout(order_id):\n"
        '    return requests.post(f"http://shop:8000/checkout/{order_id}")\n\n\n'
        "def find_item(item_id):\n"
        '    return requests.get(f"http://stock:8000/items/{item_id}").json()\n'
    )
    (tests / "test_flow.py").write_bytes(
        (
            "import utils as tu\n\n\n"
            "def test_stock_alone():\n"
            '    assert tu.find_item(1)["stock"] == 15\n\n\n'
            "def test_a_failed_checkout_gives_the_stock_back():\n"
            '    assert tu.find_item(1)["stock"] == 15\n'
            "    tu.checkout(1)\n"
            '    assert tu.find_item(1)["stock"] == 15\n'
        ).encode(encoding)
    )
    found = scan(root, ScanOptions(use_cache=False))
    ids = tuple(s.id for s in found.call_sites if s.file == "shop/shop.py" and s.callee == "stock")
    return migrate_scanned(found, select_sites(found, Criteria(ids=ids)), PlanOptions()).plan


def test_a_compensation_says_its_undo_comes_after_the_lag_and_names_the_tests_reading_it(
    tmp_path: Path,
) -> None:
    """The call gave the stock back before the caller answered; the event does it when the
    consumer gets to it. A test that checks out and then reads the stock reads it at once:
    the caution names that read (not the one before the checkout, nor a test that never
    calls the caller)."""
    plan = _rollback_plan(tmp_path / "repo")
    (item,) = plan.rewrites
    caution = next(c for c in item.cautions if c.code == "compensation")
    assert "after the consumer's lag, not before the caller answers" in caution.reason
    assert caution.reason.endswith(
        "the repository's tests that call this caller and then read stock's state expect "
        "it at once (test/test_flow.py:11)"
    )
    assert "have it wait until the state is undone" in caution.suggestion


def test_a_test_saved_with_a_bom_is_read_as_the_scan_reads_it(tmp_path: Path) -> None:
    """A test file that begins with a byte order mark is read as the scan reads it (the
    mark left out), so its read after the checkout is named as in any other file."""
    plan = _rollback_plan(tmp_path / "repo", encoding="utf-8-sig")
    (item,) = plan.rewrites
    caution = next(c for c in item.cautions if c.code == "compensation")
    assert caution.reason.endswith("expect it at once (test/test_flow.py:11)")


def test_a_helper_that_answered_a_failed_call_itself_is_named_when_the_send_escapes(
    tmp_path: Path,
) -> None:
    """``send_post_request`` turned a connection failure into ``abort(400)``; the send does
    not go through it, so its ``EventNotAccepted`` escapes (a 500). Caught around the send,
    or through a helper that only raises again, nothing is said."""
    plan = _rollback_plan(tmp_path / "a")
    (item,) = plan.rewrites
    assert [n for n in item.notes if n.startswith("`send_post_request`")] == [
        "`send_post_request` (shop/shop.py:8) turned a failed call into an answer of its own "
        "(`except RequestException: abort(400, 'Requests error')`); the send does not go "
        "through it, and nothing around the send catches its `EventNotAccepted`, so a send "
        "Kafka does not accept escapes `rollback_stock` unhandled (a web handler above it "
        "answers 500 where it answered as the helper did): catch `EventNotAccepted` around "
        "the send and answer as the helper did"
    ]
    caught = _SHOP_WITH_ROLLBACK.replace(
        '        send_post_request(f"http://stock:8000/items/{item_id}/release/{quantity}")\n',
        "        try:\n"
        '            send_post_request(f"http://stock:8000/items/{item_id}/release/{quantity}")\n'
        "        except requests.exceptions.RequestException:\n"
        "            abort(400)\n",
    )
    assert caught != _SHOP_WITH_ROLLBACK
    reraised = _SHOP_WITH_ROLLBACK.replace('abort(400, "Requests error")', "raise")
    for variant, where in ((caught, "b"), (reraised, "c")):
        (item,) = _rollback_plan(tmp_path / where, variant).rewrites
        assert not [n for n in item.notes if n.startswith("`send_post_request`")]
