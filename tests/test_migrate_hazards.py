"""Sites whose event must not be lost or applied twice, planned on small repositories:
compensations on a failure path (tests/fixtures/migrate/saga) wait for Kafka with a caution,
the callee handlers' increments and 4xx answers to outages are named, and a Django
``--outbox`` site outside any transaction says so (tests/fixtures/e2e/outbox_repo)."""

from __future__ import annotations

import shutil
from pathlib import Path

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.report import render_pr_body, render_summary
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURES = Path(__file__).parent / "fixtures"


def _migrate(
    root: Path,
    *,
    outbox: bool = False,
    services: tuple[str, ...] = ("orders",),
    fire_and_forget: bool = False,
) -> MigrationResult:
    result = scan(root, ScanOptions(use_cache=False))
    selection = select_sites(result, Criteria(services=services))
    options = PlanOptions(outbox=outbox, fire_and_forget=fire_and_forget)
    return migrate_scanned(result, selection, options)


def _by_line(migrated: MigrationResult) -> dict[int, tuple[bool, tuple[str, ...]]]:
    return {
        p.site.line: (p.send.wait, tuple(f.code for f in p.cautions))
        for p in migrated.plan.rewrites
    }


def test_fire_and_forget_is_asked_for_where_nothing_caught_the_call(tmp_path: Path) -> None:
    root = tmp_path / "saga"
    shutil.copytree(FIXTURES / "migrate" / "saga", root)
    migrated = _migrate(root, fire_and_forget=True)
    waits = _by_line(migrated)
    # the one the option changes: fire and forget raises nothing after the charge
    assert waits[34] == (False, ("entity-across-topics",))
    assert waits[16][0] and waits[20][0] and waits[41][0]  # compensations and checks wait
    body = render_pr_body(migrated)
    assert "**Fire-and-forget sends can be lost.**" in body


def test_compensations_wait_for_kafka_and_the_callees_hazards_are_named(tmp_path: Path) -> None:
    root = tmp_path / "saga"
    shutil.copytree(FIXTURES / "migrate" / "saga", root)
    migrated = _migrate(root)
    assert _by_line(migrated) == {
        # rollback_stock: named as an undo (and called from an except clause)
        16: (True, ("in-loop", "compensation", "non-idempotent-handler", "transient-as-4xx")),
        # forget_reservation: called from the failure branch of a status test
        # (and one order's sends go to three topics, one of them dropping its reservation)
        20: (True, ("compensation", "entity-across-topics")),
        # on the success path, to a handler that answers 503 to an outage, after the
        # charge: nothing caught the call's failure, so the send waits and raises as the
        # call did, after the payment was made
        34: (True, ("effect-before-send", "entity-across-topics")),
        # a try around the call checks its success: the send waits, the except takes
        # EventNotAccepted
        41: (True, ("status-checked", "entity-across-topics")),
    }
    raised = {p.site.line for p in migrated.plan.rewrites if p.send.raised}
    assert raised == {34}
    rewritten = next(c for c in migrated.changes if c.path.endswith("orders/app.py"))
    text = rewritten.after.decode()
    assert text.count("send_event_and_wait(") == 4 and text.count("send_event(") == 0
    summary = render_summary(migrated, dry_run=True)
    assert "compensation must not be lost or applied twice" in summary
    assert "`db.incrby(f'stock:{item_id}', amount)` (services/stock/stock/app.py:14)" in summary
    assert "except RedisError: abort(400, 'DB error')" in summary
    # the stock given back by item is not one operation per item: no key by default
    assert "no idempotency key: the event key `item_id` names the item" in summary
    keys = {p.site.line: p.send.idempotency_key for p in migrated.plan.rewrites}
    assert keys[16] is None
    # the drop of one order's reservation, on its failure path, is one operation per order
    assert keys[20] == 'f"{order_id}:reservations-drop"'
    body = render_pr_body(migrated)
    assert "⚠ compensation<br>⚠ non-idempotent-handler<br>⚠ transient-as-4xx" in body
    assert "**Compensations.**" in body and "**Outages dead-lettered.**" in body
    assert "as a compensation, the send waits for Kafka to accept the event" in body
    assert "nothing caught the call's failure, so the send waits for Kafka" in body
    assert "Where nothing caught the call's failure, the send waits" not in body  # commit text


def test_a_callee_handler_answering_409_is_named_with_the_setting_that_makes_it_done(
    tmp_path: Path,
) -> None:
    root = tmp_path / "saga"
    shutil.copytree(FIXTURES / "migrate" / "saga", root)
    stock = root / "services/stock/stock/app.py"
    stock.write_text(
        stock.read_text().replace(
            "    RESERVATIONS.pop(order_id, None)\n",
            "    if order_id not in RESERVATIONS:\n        abort(409)\n"
            "    RESERVATIONS.pop(order_id, None)\n",
        )
    )
    migrated = _migrate(root)
    # forget_reservation's call, to `drop`: a compensation, and now a 409
    assert _by_line(migrated)[20] == (
        True,
        ("compensation", "conflict-answer", "entity-across-topics"),
    )
    summary = render_summary(migrated, dry_run=True)
    assert "answers 409 Conflict (`abort(409)` (services/stock/stock/app.py:23))" in summary
    assert "`done_statuses=(409,)`" in summary
    assert "**Repeats answered 409.**" in render_pr_body(migrated)


_STORE = """import redis

db = redis.Redis()


def save_order(order_id):
    db.set(f"order:{order_id}", "placed")


def load_order(order_id):
    return db.get(f"order:{order_id}")
"""

_PLACE = """

@app.post("/orders/<order_id>/place")
def place(order_id):
    save_order(order_id)
    requests.post(f"{STOCK_URL}/holds", json={"order": {"id": order_id, "qty": 1}}, timeout=2)
    return "ok"


@app.post("/orders/<order_id>/peek")
def peek(order_id):
    load_order(order_id)
    requests.post(f"{STOCK_URL}/holds", json={"order": {"id": order_id, "qty": 0}}, timeout=2)
    return "ok"
"""

_HOLDS = """

@app.post("/holds")
def holds():
    return "ok"
"""


def test_a_write_in_a_helper_of_another_module_is_an_effect_and_a_nested_id_the_key(
    tmp_path: Path,
) -> None:
    root = tmp_path / "saga"
    shutil.copytree(FIXTURES / "migrate" / "saga", root)
    orders = root / "services/orders/orders"
    (orders / "store.py").write_text(_STORE)
    app = orders / "app.py"
    text = app.read_text().replace(
        "from .payments import PaymentDeclined, charge\n",
        "from .payments import PaymentDeclined, charge\nfrom .store import load_order, save_order\n",
    )
    app.write_text(text + _PLACE)
    stock = root / "services/stock/stock/app.py"
    stock.write_text(stock.read_text() + _HOLDS)
    migrated = _migrate(root)
    place = next(p for p in migrated.plan.rewrites if p.site.function.endswith(".place"))
    peek = next(p for p in migrated.plan.rewrites if p.site.function.endswith(".peek"))
    effect = next(c for c in place.cautions if c.code == "effect-before-send")
    assert (
        "a database write `db.set(f'order:{order_id}', 'placed')` "
        "(services/orders/orders/store.py:7) in `save_order`, called at line" in effect.reason
    )
    # a helper that only reads is no effect
    assert "effect-before-send" not in [c.code for c in peek.cautions]
    # the order nested in the payload keys the send, shown with its path
    assert (place.send.key, place.send.key_origin) == ("order_id", "the payload's order.id")
    rewritten = next(c for c in migrated.changes if c.path.endswith("orders/app.py"))
    after = rewritten.after.decode()
    assert "# event key: order_id (the payload's order.id)" in after
    placed = after[after.index("def place(") : after.index("def peek(")]
    assert '{"order": {"id": order_id, "qty": 1}},\n        key=order_id,' in placed
    body = render_pr_body(migrated)
    assert "| `order_id` (the payload's order.id) |" in body
    asyncapi = next(c for c in migrated.changes if c.path == "decouple/asyncapi.yaml")
    assert "The event's order.id." in asyncapi.after.decode()  # the key binding


_SHIP = """

@app.post("/orders/<order_id>/ship")
def ship(order_id):
    requests.post(f"{STOCK_URL}/holds", json={"order": {"id": order_id}}, timeout=2)
    requests.post(f"{STOCK_URL}/restocked/{order_id}", timeout=2)
    return "ok"
"""


def test_a_call_migrated_in_this_change_or_before_is_named_as_its_send(tmp_path: Path) -> None:
    root = tmp_path / "saga"
    shutil.copytree(FIXTURES / "migrate" / "saga", root)
    app = root / "services/orders/orders/app.py"
    app.write_text(app.read_text() + _SHIP)
    stock = root / "services/stock/stock/app.py"
    stock.write_text(stock.read_text() + _HOLDS)
    migrated = _migrate(root)
    ship = [p for p in migrated.plan.rewrites if p.site.function.endswith(".ship")]
    hold, restock = sorted(ship, key=lambda p: p.site.line)
    effect = next(c for c in restock.cautions if c.code == "effect-before-send")
    assert effect.reason.startswith(
        f"the send comes after the send of {hold.site.id} to `{hold.send.topic}`, migrated "
        f"in this change (services/orders/orders/app.py:{hold.site.line}): that event goes out"
    )
    assert "requests.post" not in effect.reason  # the old call is gone from the code
    assert "`--event`" in effect.suggestion and "`--outbox`" not in effect.suggestion
    # Migrated alone first, the hold is a send of the code when the restock migrates.
    result = scan(root, ScanOptions(use_cache=False))
    alone = migrate_scanned(
        result, select_sites(result, Criteria(ids=(hold.site.id,))), PlanOptions()
    )
    for change in alone.changes:
        (root / change.path).parent.mkdir(parents=True, exist_ok=True)
        (root / change.path).write_bytes(change.after)
    later = _migrate(root)
    restock = next(p for p in later.plan.rewrites if p.site.id == restock.site.id)
    effect = next(c for c in restock.cautions if c.code == "effect-before-send")
    assert f"after the send to `{hold.send.topic}`, migrated before (" in effect.reason


def _outbox_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "e2e" / "outbox_repo", root)
    shutil.copytree(FIXTURES / "e2e" / "mailer", root / "services" / "mailer")
    return root


def _store_cautions(root: Path) -> tuple[str, ...]:
    migrated = _migrate(root, outbox=True, services=("store",))
    (item,) = migrated.plan.rewrites
    assert item.send.outbox == "django"
    return tuple(f.code for f in item.cautions)


def _without_atomic(root: Path, decorator: str = "") -> None:
    views = root / "services/store/store/views.py"
    text = views.read_text()
    text = text.replace("    with transaction.atomic():\n", "    if True:\n")
    text = text.replace("def place_order(", f"{decorator}def place_order(")
    views.write_text(text)


def test_a_django_outbox_site_inside_atomic_has_no_transaction_caution(tmp_path: Path) -> None:
    assert "no-transaction" not in _store_cautions(_outbox_repo(tmp_path))


def test_a_django_outbox_site_outside_any_transaction_says_so(tmp_path: Path) -> None:
    root = _outbox_repo(tmp_path)
    _without_atomic(root)
    assert _store_cautions(root) == ("no-transaction",)
    migrated = _migrate(root, outbox=True, services=("store",))
    assert "caution [no-transaction]: the call is not inside `transaction.atomic()`" in (
        render_summary(migrated, dry_run=True)
    )
    assert "⚠ no-transaction" in render_pr_body(migrated)


def test_atomic_requests_covers_a_view_unless_it_opts_out(tmp_path: Path) -> None:
    root = _outbox_repo(tmp_path)
    settings = root / "services/store/storesite/settings.py"
    settings.write_text(
        settings.read_text().replace(
            '"default": {', '"default": {\n        "ATOMIC_REQUESTS": True,', 1
        )
    )
    _without_atomic(root)
    assert "no-transaction" not in _store_cautions(root)
    _without_atomic(root, "@transaction.non_atomic_requests\n")
    assert _store_cautions(root) == ("no-transaction",)


def test_an_atomic_decorated_view_is_inside_a_transaction(tmp_path: Path) -> None:
    root = _outbox_repo(tmp_path)
    _without_atomic(root, "@transaction.atomic\n")
    assert "no-transaction" not in _store_cautions(root)
