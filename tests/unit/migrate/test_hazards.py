"""What the code around a call site and the handler behind it say about losing or repeating
its event: failure paths (compensations), increments of stored state, transient faults
answered as 4xx, Django's request transactions, idempotency keys."""

from __future__ import annotations

import textwrap

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from sources import dedented, line_of

from decouple_services.migrate.codemod import CallFacts, SendSpec
from decouple_services.migrate.hazards import (
    atomic_requests,
    compensation_caution,
    failure_path,
    fallible_between,
    handler_hazards,
    handler_writes,
    idempotency,
    non_atomic_request,
    undoes,
)


def _failure(text: str) -> str | None:
    source = dedented(text)
    return failure_path(source, line_of(source, "requests.post"))


# --- failure paths -------------------------------------------------------------------------


def test_a_call_in_an_except_clause_is_on_the_failure_path() -> None:
    assert (
        _failure(
            """
        def charge(order):
            try:
                gateway.charge(order)
            except PaymentDeclined:
                requests.post(f"{STOCK}/release/{order.id}")
                raise
        """
        )
        == "it runs in `except PaymentDeclined` of `charge`"
    )


def test_a_bare_except_clause_counts_too() -> None:
    assert (
        _failure(
            """
        def charge(order):
            try:
                gateway.charge(order)
            except:
                requests.post(f"{STOCK}/release/{order.id}")
        """
        )
        == "it runs in `except` of `charge`"
    )


@pytest.mark.parametrize(
    ("test", "where"),
    [
        ("resp.status_code != 200", "`if resp.status_code != 200`"),
        ("resp.status_code >= 400", "`if resp.status_code >= 400`"),
        ("not resp.ok", "`if not resp.ok`"),
        ("resp.status_code not in (200, 201)", "`if resp.status_code not in (200, 201)`"),
        (
            "charge.status != pb.CHARGE_STATUS_SUCCEEDED",
            "`if charge.status != pb.CHARGE_STATUS_SUCCEEDED`",
        ),
        ("result.state == 'declined'", "`if result.state == 'declined'`"),
        ("resp.failed", "`if resp.failed`"),
    ],
)
def test_the_branch_that_handles_a_failed_answer_is_on_the_failure_path(
    test: str, where: str
) -> None:
    assert (
        _failure(
            f"""
        def checkout(order):
            resp = pay(order)
            if {test}:
                requests.post(f"{{STOCK}}/add/{{order.item}}")
        """
        )
        == f"it runs in {where} of `checkout`"
    )


def test_the_else_of_a_success_test_is_on_the_failure_path() -> None:
    assert (
        _failure(
            """
        def checkout(order):
            resp = pay(order)
            if resp.status_code == 200:
                log.info("paid")
            else:
                requests.post(f"{STOCK}/add/{order.item}")
        """
        )
        == "it runs in the `else` of `if resp.status_code == 200` of `checkout`"
    )


@pytest.mark.parametrize(
    "body",
    [
        # the try body, its else and its finally run on success too
        """
        def place(order):
            try:
                requests.post(f"{STOCK}/reserve/{order.id}")
            except RequestException:
                log.warning("no stock service")
        """,
        """
        def place(order):
            try:
                save(order)
            except DatabaseError:
                raise
            else:
                requests.post(f"{STOCK}/reserve/{order.id}")
            finally:
                close()
        """,
        # the success branch of a status test
        """
        def checkout(order):
            resp = pay(order)
            if resp.status_code == 200:
                requests.post(f"{MAIL}/receipt/{order.id}")
        """,
        # a test of something that is not an answer
        """
        def checkout(order):
            if order.total != 200:
                requests.post(f"{MAIL}/receipt/{order.id}")
        """,
        # cancelling is a request of its own, not an undo
        """
        def cancel_order(order):
            requests.post(f"{STOCK}/release/{order.id}")
        """,
        # an except clause of a function nested in the call's function is not the call's
        """
        def place(order):
            def on_error():
                try:
                    pass
                except ValueError:
                    pass
            requests.post(f"{STOCK}/reserve/{order.id}")
        """,
    ],
)
def test_success_paths_and_look_alikes_are_not_failure_paths(body: str) -> None:
    assert _failure(body) is None


@pytest.mark.parametrize(
    "name",
    ["rollback_stock", "compensatePayment", "roll_back_order", "undo_reservation", "revert"],
)
def test_a_function_named_as_an_undo_is_a_compensation(name: str) -> None:
    assert undoes(name)
    assert (
        _failure(
            f"""
        def {name}(items):
            for item_id, n in items:
                requests.post(f"{{STOCK}}/add/{{item_id}}/{{n}}")
        """
        )
        == f"it is in `{name}`, whose name says it undoes a step"
    )


@pytest.mark.parametrize("name", ["cancel_order", "rollout", "reverse_geocode", "undone_tasks"])
def test_names_that_only_look_like_undo_are_not(name: str) -> None:
    assert not undoes(name)


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        (
            "reply.status_code != 200",
            "`give_back` is called in `if reply.status_code != 200` of `checkout` (line 8)",
        ),
        # called only on success: not a compensation
        ("reply.status_code == 200", None),
    ],
)
def test_a_function_called_from_a_failure_branch_is_a_compensation(
    test: str, expected: str | None
) -> None:
    assert (
        _failure(
            f"""
            def give_back(items):
                for item_id, n in items:
                    requests.post(f"{{STOCK}}/add/{{item_id}}/{{n}}")

            def checkout(order):
                reply = pay(order)
                if {test}:
                    give_back(order.items)
                    abort(400)
            """
        )
        == expected
    )


# --- the callee's handler ----------------------------------------------------------------


def _hazards(text: str, name: str = "handler") -> list[tuple[str, str]]:
    source = dedented(text)
    found = handler_hazards(source, name, line_of(source, f"def {name}"))
    return [(h.kind, h.code) for h in found]


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("item.stock += int(amount)", "item.stock += int(amount)"),
        ("STOCK[item_id] -= amount", "STOCK[item_id] -= amount"),
        ("db.incr(item_id, amount)", "db.incr(item_id, amount)"),
        ("r.hincrby('stock', item_id, amount)", "r.hincrby('stock', item_id, amount)"),
        (
            "Item.objects.filter(pk=item_id).update(stock=F('stock') + amount)",
            "F('stock') + amount",
        ),
        (
            "items.update_one({'_id': item_id}, {'$inc': {'stock': amount}})",
            "{'$inc': {'stock': amount}}",
        ),
        (
            "cursor.execute('UPDATE item SET stock = stock + %s WHERE id = %s', (amount, item_id))",
            "'UPDATE item SET stock = stock + %s WHERE id = %s'",
        ),
    ],
)
def test_increments_of_stored_state_are_named(statement: str, code: str) -> None:
    assert _hazards(
        f"""
        def handler(item_id, amount):
            item = load(item_id)
            {statement}
            return "ok"
        """
    ) == [("increment", code)]


def test_increments_of_locals_and_of_collections_the_handler_builds_are_not() -> None:
    assert (
        _hazards(
            """
            def handler(items):
                total = 0
                counts = defaultdict(int)
                seen = {}
                for item_id, n in items:
                    total += n
                    counts[item_id] += n
                    seen[item_id] = True
                item.stock = total
                return "ok"
            """
        )
        == []
    )


def test_an_increment_in_a_function_the_handler_calls_is_named() -> None:
    found = handler_hazards(
        dedented(
            """
            def bump(item_id, amount):
                ITEMS[item_id].stock += amount

            @app.post("/add/<item_id>/<amount>")
            def add(item_id, amount):
                bump(item_id, amount)
                return "ok"
            """
        ),
        "add",
        4,
    )
    assert [(h.kind, h.function, h.line) for h in found] == [("increment", "bump", 2)]


@pytest.mark.parametrize(
    ("caught", "answer"),
    [
        ("redis.exceptions.RedisError", "abort(400, DB_ERROR_STR)"),
        ("OperationalError", "return {'error': 'db'}, 400"),
        ("(sqlalchemy.exc.SQLAlchemyError, KeyError)", "return Response('db', status=422)"),
        ("pymongo.errors.PyMongoError", "raise HTTPException(status_code=400)"),
        ("DatabaseError", "return HttpResponseBadRequest('db')"),
        ("Exception", "abort(400)"),
    ],
)
def test_a_4xx_answered_to_a_database_or_cache_fault_is_named(caught: str, answer: str) -> None:
    found = _hazards(
        f"""
        def handler(item_id):
            try:
                db.set(item_id, value)
            except {caught}:
                {answer}
            return "ok"
        """
    )
    assert [kind for kind, _ in found] == ["transient-4xx"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            """
            try:
                db.set(item_id, value)
            except redis.exceptions.RedisError:
                abort(503)
            """,
            "a 5xx is retried",
        ),
        (
            """
            try:
                db.set(item_id, value)
            except redis.exceptions.RedisError:
                abort(429)
            """,
            "429 is retried",
        ),
        (
            """
            try:
                amount = int(amount)
            except ValueError:
                abort(400)
            """,
            "a bad request is a 4xx",
        ),
        (
            """
            try:
                payload = parse(body)
            except Exception:
                abort(400)
            """,
            "a catch-all around no database or cache call",
        ),
        (
            """
            try:
                Item.objects.create(pk=item_id)
            except IntegrityError:
                abort(409)
            """,
            "a conflict is an answer",
        ),
    ],
)
def test_4xx_answers_to_anything_else_are_not(body: str, why: str) -> None:
    text = "def handler(item_id, amount):\n" + textwrap.indent(dedented(body), "    ")
    found = _hazards(text + "    return 'ok'\n")
    assert [kind for kind, _ in found if kind != "conflict"] == [], why


@pytest.mark.parametrize(
    "answer",
    [
        "abort(409)",
        "return {'error': 'exists'}, 409",
        "return JSONResponse({'error': 'exists'}, status_code=409)",
        "raise HTTPException(status_code=409, detail='exists')",
        "raise Conflict('exists')",
        "return web.HTTPConflict()",
    ],
)
def test_a_409_answer_is_named_for_the_done_statuses_setting(answer: str) -> None:
    found = _hazards(
        f"""
        def handler(item_id):
            if Item.objects.filter(pk=item_id).exists():
                {answer}
            Item.objects.create(pk=item_id)
            return "ok"
        """
    )
    assert [kind for kind, _ in found] == ["conflict"]


@pytest.mark.parametrize(
    "answer",
    [
        "abort(400)",
        "return {'error': 'missing'}, 404",
        "return {'status': 409}",  # a body that says 409, answered 200
        "log.info('conflict 409')",
    ],
)
def test_other_answers_and_a_409_in_a_body_are_not_conflicts(answer: str) -> None:
    found = _hazards(
        f"""
        def handler(item_id):
            if not item_id:
                {answer}
            return "ok"
        """
    )
    assert "conflict" not in [kind for kind, _ in found]


def test_an_unknown_handler_or_an_unparsable_file_has_no_hazards() -> None:
    assert handler_hazards("def other():\n    x.n += 1\n", "handler", 1) == ()
    assert handler_hazards("def handler(:\n", "handler", 1) == ()


# --- Django's request transactions --------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("DATABASES = {'default': {'ENGINE': 'x', 'ATOMIC_REQUESTS': True}}", True),
        (
            "DATABASES = {'default': {'ENGINE': 'x'}}\nDATABASES['default']['ATOMIC_REQUESTS'] = True",
            True,
        ),
        ("DATABASES = {'default': dict(ENGINE='x', ATOMIC_REQUESTS=True)}", True),
        ("DATABASES = {'default': {'ENGINE': 'x'}}", False),
        ("DATABASES = {'default': {'ENGINE': 'x', 'ATOMIC_REQUESTS': False}}", False),
        ("DATABASES = {'default': {'ATOMIC_REQUESTS': env.bool('ATOMIC')}}", None),
    ],
)
def test_atomic_requests_is_read_from_the_settings(settings: str, expected: bool | None) -> None:
    assert atomic_requests(settings) is expected


def test_a_view_can_opt_out_of_atomic_requests() -> None:
    source = dedented(
        """
        @transaction.non_atomic_requests
        def place(request):
            requests.post(URL)

        def other(request):
            requests.post(URL)
        """
    )
    assert non_atomic_request(source, 3)
    assert not non_atomic_request(source, 6)


# --- idempotency keys and the compensation caution ---------------------------------------


def _send(**changes: object) -> SendSpec:
    spec = SendSpec("cs-1", 3, 3, "stock.add", "stock", None, "orders.decouple_producer")
    from dataclasses import replace

    return replace(spec, **changes)  # type: ignore[arg-type]


def test_a_send_that_waits_passes_the_request_id_in_scope_as_its_idempotency_key() -> None:
    source = b"def pay(order, request_id):\n    x = 1\n    requests.post(URL)\n"
    send, notes = idempotency(_send(wait=True), CallFacts("cs-1", False, None), source)
    assert send.idempotency_key == "request_id"
    assert "`idempotency_key=request_id`" in notes[0]


def test_a_send_that_waits_without_a_key_gets_a_note_asking_for_one() -> None:
    source = b"def pay(order):\n    x = 1\n    requests.post(URL)\n"
    send, notes = idempotency(_send(wait=True), CallFacts("cs-1", False, None), source)
    assert send.idempotency_key is None
    assert notes[0].startswith("no idempotency key: after `EventOutcomeUnknown` the event may")


def test_a_send_that_carries_an_idempotency_header_needs_nothing_more() -> None:
    facts = CallFacts("cs-1", False, None, (('"X-Request-ID"', "rid"),))
    source = b"def pay(order, request_id):\n    x = 1\n    requests.post(URL)\n"
    assert idempotency(_send(wait=True), facts, source) == (_send(wait=True), ())


def test_a_fire_and_forget_send_gets_no_key() -> None:
    source = b"def pay(order, request_id):\n    x = 1\n    requests.post(URL)\n"
    assert idempotency(_send(), CallFacts("cs-1", False, None), source) == (_send(), ())


def test_the_compensation_caution_says_it_must_not_be_lost_or_applied_twice() -> None:
    caution = compensation_caution(
        "it runs in `except X` of `f`", _send(wait=True, compensation=True)
    )
    assert caution.code == "compensation"
    assert "must not be lost or applied twice" in caution.reason
    assert (
        "waits for Kafka's acknowledgement instead of firing and forgetting" in caution.suggestion
    )
    outboxed = compensation_caution("it runs in `except X` of `f`", _send(outbox="django"))
    assert "outbox" in outboxed.suggestion


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_the_readings_never_raise_on_any_module(source: str) -> None:
    lines = source.count("\n") + 1
    for line in (1, lines // 2 + 1, lines):
        failure_path(source, line)
        handler_hazards(source, "f", line)
        non_atomic_request(source, line)
    atomic_requests(source)


# --- what lies between a domain event's calls -----------------------------------------------


def _between(text: str, reads: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    source = dedented(text)
    first, last = line_of(source, "tell_a("), line_of(source, "tell_b(")
    return [(e.line, e.what) for e in fallible_between(source, first, last, (), reads)]


def test_statements_that_can_fail_or_act_between_the_calls_are_named() -> None:
    source = """
        async def cancel(order_id, order, db):
            tell_a(order_id)
            if order.charge_id:
                await run_in_threadpool(refund_charge, order.charge_id)
            await db.set_status(order_id, "cancelled")
            log.info("cancelled")
            await asyncio.sleep(0)
            if not order.paid:
                return None
            assert order.total
            tell_b(order_id)
        """
    assert _between(source) == [
        (4, "a payment call"),
        (5, "a database write"),
        (6, "a call"),
        (7, "a call"),
        (9, "a return"),
        (10, "an assert"),
    ]


def test_names_and_constants_bound_between_the_calls_are_not_hazards() -> None:
    source = """
        def register(user_id, user):
            tell_a(user_id)
            kind = "welcome"
            email = user.email
            if kind == "welcome" and email:
                greeting = f"hello {email}"
            later = lambda: refund(user_id)
            tell_b(user_id, kind)
        """
    assert _between(source) == []


def test_item_reads_arithmetic_and_writes_between_the_calls_are_named() -> None:
    source = """
        def register(user_id, user, settings):
            tell_a(user_id)
            plan = settings["plans"]
            share = user.total // user.seats
            user.welcomed = True
            settings["last"] = user_id
            tell_b(user_id)
        """
    assert _between(source) == [
        (3, "an item read, which can raise"),
        (4, "arithmetic, which can raise"),
        (5, "a write to an attribute or an item"),
        (6, "a write to an attribute or an item"),
    ]


def test_a_name_the_later_call_reads_bound_between_is_named() -> None:
    source = """
        def register(user_id):
            tell_a(user_id)
            payload = {"user_id": user_id}
            tell_b(payload)
        """
    assert _between(source, reads=("payload", "tell_b")) == [
        (3, "binds `payload`, which the send would read before it is set")
    ]


# --- state two handlers change ------------------------------------------------------------

_MODELS = dedented(
    """
    class Order:
        def update_status(self, payment_status=None, shipping_status=None):
            if payment_status == "completed":
                self.status = "processing"
            if shipping_status == "shipped":
                self.status = "shipping"
            self.save()

        def save(self):
            self.saved = True

        def total(self):
            return 3
    """
)
_VIEWS = dedented(
    """
    from .models import Order


    class OrderViewSet:
        def update_payment(self, request, pk=None):
            order = self.get_object()
            order.update_status(payment_status=request.data["payment_status"])
            order.total()
            return order

        def update_shipping(self, request, pk=None):
            order = self.get_object()
            order.shipping_method = request.data["method"]
            order.update_status(shipping_status=request.data["status"])
            return order

        def rename(self, request, pk=None):
            order = self.get_object()
            order.name = request.data["name"]
            order.save()
            note = self.get_note()
            note.text = "renamed"
            return order


    def close(order_id):
        order = session.query(Order).get(order_id)
        order.closed = True
        response = make_response("closed")
        response.status_code = 202
        session.commit()
        return response
    """
)


def _writes(name: str) -> list[tuple[str, str, str]]:
    def find(module: str, level: int) -> tuple[str, bytes] | None:
        return ("orders/models.py", _MODELS.encode()) if (module, level) == ("models", 1) else None

    found = handler_writes(
        _VIEWS, name, line_of(_VIEWS, f"def {name}"), file="orders/views.py", find_module=find
    )
    return [(w.key, w.shown, w.at) for w in found]


def test_a_handler_changes_the_state_its_model_methods_set_and_the_fields_it_saves() -> None:
    """``order.update_status(...)``, a method of a model the views import that sets
    ``self.status``, is state the handler changes; so is a field set on an object it saves.
    A method that sets nothing (``total``), a field of an object never saved, and the
    persistence methods every handler calls (``save``) are not; nor a field of a response
    in a function that commits a session."""
    assert _writes("update_payment") == [
        (
            "method:Order.update_status",
            "call `Order.update_status` (orders/models.py:2), which sets `status`",
            "orders/views.py:7",
        )
    ]
    assert [k for k, _, _ in _writes("update_shipping")] == ["method:Order.update_status"]
    assert _writes("rename") == [("field:order.name", "set `order.name`", "orders/views.py:19")]
    # a session that commits saves what it loaded, not the response the handler builds
    assert [k for k, _, _ in _writes("close")] == ["field:order.closed"]
