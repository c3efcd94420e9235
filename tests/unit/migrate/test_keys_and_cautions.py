"""Idempotency keys given by default, keys found in nested messages, and the cautions on
effects before a send, on one entity's operations spread over topics and on the caller's
identity carried in an event."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from sources import dedented, line_of

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import CallSite, Endpoint, ScanResult
from decouple_services.migrate.codemod import CallFacts, SendSpec
from decouple_services.migrate.hazards import (
    Effect,
    StateWrite,
    compensation_caution,
    effect_caution,
    effects_before,
    idempotency,
    identity_caution,
    key_entity,
    once_per_entity,
    user_credential_caution,
)
from decouple_services.migrate.payload import payload_fields
from decouple_services.migrate.plan import (
    MigrationPlan,
    PlannedSite,
    PlanOptions,
    across_topics,
    choose_key,
    final_statuses,
    key_not_entity,
    nested_key,
    proto_messages_under,
    unordered_update,
)
from decouple_services.migrate.report import behaviour_change
from decouple_services.migrate.run import migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample"


def _send(**changes: object) -> SendSpec:
    spec = SendSpec("cs-1", 3, 3, "inventory.stock-release", "inventory", None, "o.p")
    return replace(spec, **changes)  # type: ignore[arg-type]


_NO_FACTS = CallFacts("cs-1", False, None)
_CALLER = b"def cancel(order):\n    x = 1\n    requests.post(URL)\n"


# --- idempotency keys by default ----------------------------------------------------------


def _facts(payload: str | None) -> CallFacts:
    return CallFacts("cs-1", False, payload)


_RELEASE = '{"reservation_id": order.reservation_id}'


def test_a_release_keyed_by_an_entity_id_gets_an_idempotency_key_naming_the_operation() -> None:
    send = _send(wait=True, key="order.reservation_id", key_origin="the payload's reservation_id")
    keyed, notes = idempotency(send, _facts(_RELEASE), _CALLER)
    assert keyed.idempotency_key == 'f"{order.reservation_id}:stock-release"'
    assert "by default" in notes[0] and "same reservation" in notes[0]
    # the id as the only path parameter, with no payload, is the same
    cancel = _send(
        topic="orders.cancel",
        wait=True,
        key="order_id",
        key_origin="path parameter order_id",
        path_params=(("order_id", "order_id"),),
    )
    assert idempotency(cancel, _facts(None), _CALLER)[0].idempotency_key == ('f"{order_id}:cancel"')


def test_data_beyond_the_entity_id_gets_no_key_by_default() -> None:
    # two orders giving back the same quantity of one item are two operations
    send = _send(wait=True, key="item_id", key_origin="the payload's item_id")
    payload = '{"item_id": item_id, "amount": quantity}'
    assert idempotency(send, _facts(payload), _CALLER)[0].idempotency_key is None
    # a payload the code computes says nothing of what it holds
    assert idempotency(send, _facts("body"), _CALLER)[0].idempotency_key is None


def test_a_compensation_keyed_by_an_entity_id_alone_gets_a_key_whatever_its_topic() -> None:
    send = _send(
        topic="payments.charges",
        wait=True,
        compensation=True,
        key="payment_id",
        key_origin="path parameter payment_id",
        path_params=(("payment_id", "payment_id"),),
    )
    keyed, notes = idempotency(send, _facts(None), _CALLER)
    assert keyed.idempotency_key == 'f"{payment_id}:charges"'
    assert "(a compensation)" in notes[0]
    caution = compensation_caution("it runs in `except X` of `f`", keyed)
    assert 'passes `idempotency_key=f"{payment_id}:charges"`' in caution.suggestion
    # a compensation that gives back an amount of a shared item is not one per item
    stock = _send(
        topic="stock.add",
        wait=True,
        compensation=True,
        key="item_id",
        key_origin="path parameter item_id",
        path_params=(("item_id", "item_id"), ("amount", "quantity")),
    )
    assert idempotency(stock, _facts(None), _CALLER)[0].idempotency_key is None


def test_an_update_of_an_entity_gets_no_key_and_a_note_saying_why() -> None:
    # two preference updates of one user are two operations, not one repeated
    send = _send(
        topic="users.preferences", wait=True, key="user_id", key_origin="path parameter user_id"
    )
    same, notes = idempotency(send, _facts("prefs"), _CALLER)
    assert same.idempotency_key is None
    assert "names the user, not the operation" in notes[0]
    # nor does a deactivation: a user is deactivated again after a reactivation
    assert once_per_entity(replace(send, topic="users.deactivate")) is None


def test_no_key_by_default_without_an_entity_id_or_a_wait() -> None:
    # keyed by a value that is no id (a sku path parameter): the old note
    sku = _send(wait=True, key="sku", key_origin="path parameter sku")
    assert idempotency(sku, _NO_FACTS, _CALLER)[0].idempotency_key is None
    assert key_entity(sku) is None
    # no key at all
    assert idempotency(_send(wait=True), _NO_FACTS, _CALLER)[0].idempotency_key is None
    # a send that does not wait never gets EventOutcomeUnknown
    loose = _send(key="order_id", key_origin="path parameter order_id")
    assert idempotency(loose, _NO_FACTS, _CALLER) == (loose, ())


def test_a_key_that_cannot_sit_in_an_f_string_is_not_given() -> None:
    send = _send(
        wait=True, key="""order["a"] + o['b']""", key_origin="the payload's reservation_id"
    )
    facts = _facts('{"reservation_id": x}')
    assert idempotency(send, facts, _CALLER)[0].idempotency_key is None
    quoted = replace(send, key='order["reservation_id"]')
    key = idempotency(quoted, facts, _CALLER)[0].idempotency_key
    assert key == """f'{order["reservation_id"]}:stock-release'"""


def test_a_request_id_in_scope_still_wins() -> None:
    source = b"def cancel(order, request_id):\n    x = 1\n    requests.post(URL)\n"
    send = _send(wait=True, key="order_id", key_origin="path parameter order_id")
    assert idempotency(send, _facts(None), source)[0].idempotency_key == "request_id"


def test_key_entity_reads_the_id_the_key_came_from() -> None:
    assert key_entity(_send(key="x", key_origin="path parameter order_id")) == "order"
    assert key_entity(_send(key="invite.id", key_origin="the payload's invite.id")) == "invite"
    assert key_entity(_send(key="x", key_origin="path parameter id")) is None
    assert key_entity(_send(key_origin="no entity id in the url or the payload")) is None


# --- keys in nested messages --------------------------------------------------------------

_GRPC_CALLER = dedented(
    """
    def update_invite(invite, user, clients):
        if str(invite.author_id) != user.id:
            raise PermissionError
        old = clients.get(GetReq(invite_id=str(invite.id)))
        clients.update_invite(InviteRequest(invite=invite.to_proto(), requesting_user=user))

    def update_silently(invite, user, clients):
        clients.update_invite(InviteRequest(invite=invite.to_proto(), requesting_user=user))
    """
)


def test_a_model_converted_to_a_message_is_keyed_by_its_id_when_the_caller_reads_it() -> None:
    line = line_of(_GRPC_CALLER, "clients.update_invite")
    payload = "InviteRequest(invite=invite.to_proto(), requesting_user=user)"
    assert choose_key((), payload, _GRPC_CALLER, line) == ("invite.id", "the payload's invite.id")


def test_a_model_whose_id_the_caller_never_reads_is_not_keyed_by_a_guess() -> None:
    line = line_of(_GRPC_CALLER, "def update_silently") + 1
    payload = "InviteRequest(invite=invite.to_proto(), requesting_user=user)"
    assert choose_key((), payload, _GRPC_CALLER, line)[0] is None


_PROTO_MESSAGES = {
    "NotificationRequest": {"notification": "GrpcNotification", "requesting_user": "GrpcUser"},
    "GrpcNotification": {"id": "string", "start": "google.protobuf.Timestamp"},
    "ReminderRequest": {"reminder": "notes.Reminder"},
    "Reminder": {"text": "string"},
}
_PB2_CALLER = dedented(
    """
    from app.generated.pb2 import NotificationRequest as GrpcNotificationRequest

    def move(notification, user, clients):
        clients.update_notification(
            GrpcNotificationRequest(notification=notification.to_proto(), requesting_user=user)
        )
    """
)


def test_a_model_converted_to_a_message_with_an_id_field_is_keyed_by_its_id() -> None:
    """The request's proto message types the field with a message that has ``id``: the
    model's ``to_proto()`` fills it, so the send is keyed by the model's id, though the
    function never reads it (two updates of one notification keep their order)."""
    line = line_of(_PB2_CALLER, "clients.update_notification")
    payload = "GrpcNotificationRequest(notification=notification.to_proto(), requesting_user=user)"
    assert choose_key((), payload, _PB2_CALLER, line)[0] is None  # no protos: no guess
    assert choose_key((), payload, _PB2_CALLER, line, _PROTO_MESSAGES) == (
        "notification.id",
        "the payload's notification.id",
    )
    # a module-qualified message, and a nested message without an id
    qualified = "pb2.NotificationRequest(notification=n.to_pb())"
    assert nested_key(qualified, _PB2_CALLER, line, _PROTO_MESSAGES) == (
        "n.id",
        "the payload's notification.id",
    )
    plain = "pb2.ReminderRequest(reminder=r.to_proto())"
    assert nested_key(plain, _PB2_CALLER, line, _PROTO_MESSAGES) is None


def test_the_repositorys_proto_messages_are_read_under_its_root(tmp_path: Path) -> None:
    (tmp_path / "shared" / "proto").mkdir(parents=True)
    (tmp_path / "shared" / "proto" / "n.proto").write_text(
        "message GrpcNotification { string id = 1; }\n", encoding="utf-8"
    )
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.proto").write_text("message Hidden { string id = 1; }\n")

    def read(path: str) -> bytes | None:
        return (tmp_path / path).read_bytes()

    assert proto_messages_under(str(tmp_path), read) == {"GrpcNotification": {"id": "string"}}
    assert proto_messages_under(str(tmp_path / "missing"), read) == {}


def test_a_nested_message_built_with_an_id_gives_its_id() -> None:
    source = "def f(a):\n    stub.Update(Req(item=Item(id=a.pk, name=a.name)))\n"
    assert nested_key("Req(item=Item(id=a.pk, name=a.name))", source, 2) == (
        "a.pk",
        "the payload's item.id",
    )
    # the caller's identity is not the entity, and two nested ids are ambiguous
    assert nested_key("Req(requesting_user=User(id=u))", source, 2) is None
    assert nested_key("Req(a=A(id=x), b=B(id=y))", source, 2) is None
    # a top-level id still comes first
    assert choose_key((), "Req(order_id=o, item=Item(id=x))", source, 2)[0] == "o"


def test_a_dict_nested_in_the_payload_gives_the_path_of_its_id() -> None:
    payload = '{"order": {"id": order.id, "total": order.total}, "kind": "placed"}'
    assert choose_key((), payload) == ("order.id", "the payload's order.id")
    assert choose_key((), '{"data": {"user_id": uid}}') == ("uid", "the payload's data.user_id")
    # two levels down, and a message built with a nested dict
    assert choose_key((), '{"data": {"order": {"id": o.pk}}}') == (
        "o.pk",
        "the payload's data.order.id",
    )
    assert choose_key((), 'Req(order={"id": x})') == ("x", "the payload's order.id")
    # the nested dict's own id comes before one deeper down
    assert choose_key((), '{"data": {"id": d, "order": {"id": o}}}')[0] == "d"


def test_a_nested_dict_gives_no_key_when_a_nearer_id_or_no_single_entity_is_there() -> None:
    none = (None, "no entity id in the url or the payload")
    # a top-level id and a path parameter come first
    assert choose_key((), '{"user_id": u, "order": {"id": o}}')[0] == "u"
    assert choose_key((("order_id", "oid"),), '{"data": {"user_id": u}}')[0] == "oid"
    # two nested entities, who asks, a list of many, a dict without an id
    assert choose_key((), '{"a": {"id": x}, "b": {"id": y}}') == none
    assert choose_key((), '{"requesting_user": {"id": u}, "n": 1}') == none
    assert choose_key((), '{"items": [{"id": i}]}') == none
    assert choose_key((), '{"data": {"name": n}}') == none


def test_key_entity_reads_a_nested_dicts_id() -> None:
    assert key_entity(_send(key="o.id", key_origin="the payload's order.id")) == "order"
    assert key_entity(_send(key="u", key_origin="the payload's data.user_id")) == "user"
    assert key_entity(_send(key="o", key_origin="the payload's data.order.id")) == "order"


def test_an_unkeyed_update_is_cautioned_that_two_may_land_in_either_order() -> None:
    item = _planned("cs-1", "m.update", "notes.update-notification", "k", "the payload's id")
    unkeyed = replace(item.send, key=None)
    caution = unordered_update(item.site, unkeyed)
    assert caution is not None and caution.code == "unordered-update"
    assert "either order" in caution.reason and "`update-notification`" in caution.reason
    assert "`key=`" in caution.suggestion
    # keyed, or not an update: nothing to say
    assert unordered_update(item.site, item.send) is None
    assert unordered_update(item.site, replace(unkeyed, topic="notes.reset-password")) is None
    assert unordered_update(item.site, replace(unkeyed, topic="notes.setUp")) is not None
    # an HTTP PUT or PATCH, whatever its topic
    put = replace(item.site, method="PATCH", client="requests")
    caution = unordered_update(put, replace(unkeyed, topic="notes.notification"))
    assert caution is not None and "`PATCH`" in caution.reason


# --- one entity over several topics -------------------------------------------------------


def _planned(site_id: str, function: str, topic: str, key: str, origin: str) -> PlannedSite:
    site = CallSite(
        id=site_id,
        file="gateway/invites.py",
        line=1,
        end_line=1,
        caller="gateway",
        callee="invites",
        function=function,
        client="grpc",
        method=None,
        url="",
        url_template=None,
        endpoint=None,
    )
    send = SendSpec(site_id, 1, 1, topic, "invites", None, "g.p", key=key, key_origin=origin)
    return PlannedSite(site, send)


def test_an_entitys_update_and_delete_on_two_topics_are_cautioned() -> None:
    update = _planned("cs-1", "m.update", "invites.update", "invite.id", "the payload's invite.id")
    delete = _planned("cs-2", "m.delete", "invites.delete", "str(i)", "the payload's invite_id")
    other = _planned("cs-3", "m.events", "invites.events", "e", "the payload's event_id")
    out = {p.site.id: p for p in across_topics([update, delete, other])}
    codes = {i: [c.code for c in p.cautions] for i, p in out.items()}
    assert codes == {
        "cs-1": ["entity-across-topics"],
        "cs-2": ["entity-across-topics"],
        "cs-3": [],
    }
    assert "`invites.delete`" in out["cs-1"].cautions[0].reason
    assert "one invite" in out["cs-1"].cautions[0].reason
    # two updates of one invite on two topics both apply: nothing ends it
    rename = _planned("cs-4", "m.rename", "invites.rename", "invite_id", "path parameter invite_id")
    assert all(p.cautions == () for p in across_topics([update, rename]))


def test_one_function_sending_one_key_to_two_topics_is_cautioned() -> None:
    first = _planned("cs-1", "m.f", "a.one", "sku", "path parameter sku")
    second = replace(
        _planned("cs-2", "m.f", "b.two", "sku", "path parameter sku"),
    )
    elsewhere = _planned("cs-3", "m.g", "b.two", "sku", "path parameter sku")
    out = {p.site.id: p for p in across_topics([first, second, elsewhere])}
    assert [c.code for c in out["cs-1"].cautions] == ["entity-across-topics"]
    assert "one key (`sku`)" in out["cs-1"].cautions[0].reason
    assert out["cs-3"].cautions == ()
    # one topic for all of them: nothing to say
    same = [_planned(f"cs-{n}", "m.f", "a.one", "sku", "path parameter sku") for n in (1, 2)]
    assert all(p.cautions == () for p in across_topics(same))


def test_two_topics_whose_handlers_change_the_same_state_are_cautioned() -> None:
    """Two updates of one order on two topics both apply, but when both handlers set its
    status (one model method, or one field) a late event on one topic sets it back: the
    caution names the shared state, and the read of the callee the payment's function
    makes before it sends. Handlers changing different state, or sends of two different
    entities, say nothing."""
    pay = _planned(
        "cs-1", "payment.notify", "orders.update-payment", "oid", "path parameter order_id"
    )
    ship = _planned("cs-2", "shipment.notify", "orders.update-shipping", "oid", "path parameter pk")
    method = StateWrite(
        "method:Order.update_status",
        "call `Order.update_status` (orders/models.py:66), which sets `status`",
        "orders/views.py:109",
    )
    writes = {"cs-1": [method], "cs-2": [replace(method, at="orders/views.py:132")]}
    read = replace(pay.site, id="cs-0", method="GET", line=0, file=pay.site.file)
    out = {p.site.id: p for p in across_topics([pay, ship], writes, [read])}
    (caution,) = out["cs-1"].cautions
    assert caution.code == "entity-across-topics"
    assert (
        "its handler and that of `orders.update-shipping` both call `Order.update_status` "
        "(orders/models.py:66), which sets `status` (orders/views.py:109; "
        "orders/views.py:132), so a late event on one topic" in caution.reason
    )
    assert "sets the state back" in caution.reason
    assert "(a delete before the update sent first)" not in caution.reason
    assert caution.reason.endswith(
        "this function reads invites before it sends (gateway/invites.py:0): what it reads "
        "does not hold yet an event of the other topic that is still waiting to be handled"
    )
    assert "both call `Order.update_status`" in out["cs-2"].cautions[0].reason
    # the same state, but two different entities; or different state of one entity
    user = _planned("cs-3", "u.notify", "orders.update-user", "uid", "path parameter user_id")
    assert all(p.cautions == () for p in across_topics([pay, user], {**writes, "cs-3": [method]}))
    other = StateWrite("field:order.note", "set `order.note`", "orders/views.py:140")
    assert all(p.cautions == () for p in across_topics([pay, ship], {**writes, "cs-2": [other]}))


# --- effects before a send ----------------------------------------------------------------

_EFFECTS = dedented(
    """
    def checkout(order, session):
        stripe.Charge.create(amount=order.total)
        requests.post(URL, json=order)

    def save_then_send(order):
        order.save()
        requests.post(URL, json=order)

    def read_then_send(order_id):
        order = Order.objects.get(id=order_id)
        db.get_order(order_id)
        requests.post(URL, json=order)

    def branch(order, paid):
        if paid:
            db.set_status(order.id, "paid")
        else:
            requests.post(URL, json=order)

    def failed_charge(order):
        charge = payments.Charge(ChargeRequest(order_id=order.id))
        if charge.status != "succeeded":
            requests.post(URL, json=order)

    def threaded(order):
        run_in_threadpool(refund_charge, order.charge_id)
        requests.post(URL, json=order)

    def committed(session, order):
        session.add(order)
        session.commit()
        cursor.execute("UPDATE orders SET status = 'x'")
        requests.post(URL, json=order)
    """
)


def _effects(function: str, outbound: tuple[int, ...] = ()) -> list[str]:
    line = line_of(_EFFECTS, f"def {function}(")
    send = next(
        n
        for n, text in enumerate(_EFFECTS.splitlines(), start=1)
        if n > line and "requests.post" in text
    )
    return [e.what for e in effects_before(_EFFECTS, send, outbound)]


def test_payments_and_committed_writes_before_a_send_are_effects() -> None:
    assert _effects("checkout") == ["a payment call"]
    assert _effects("save_then_send") == ["a database write"]
    assert _effects("threaded") == ["a payment call"]
    assert _effects("committed") == ["a database write", "a database write"]


def test_reads_other_branches_and_the_failed_step_are_not_effects() -> None:
    assert _effects("read_then_send") == []
    assert _effects("branch") == []
    # the charge failed: its branch is where the send is; the request message is no call
    assert _effects("failed_charge") == []


def test_another_outbound_call_before_the_send_is_an_effect() -> None:
    line = line_of(_EFFECTS, "order = Order.objects.get")
    assert _effects("read_then_send", (line,)) == ["an outbound call"]


def test_the_effect_caution_is_for_sends_that_raise() -> None:
    effects = [Effect(2, "a payment call", "stripe.Charge.create(amount=order.total)")]
    caution = effect_caution(effects, "shop/checkout.py", _send(wait=True))
    assert caution is not None and caution.code == "effect-before-send"
    assert "a payment call `stripe.Charge.create(amount=order.total)` (shop/checkout.py:2)" in (
        caution.reason
    )
    assert "`--outbox`" in caution.suggestion and "idempotency key" in caution.suggestion
    assert effect_caution(effects, "f.py", _send()) is None  # fire and forget: no raise
    assert effect_caution(effects, "f.py", _send(wait=True, outbox="django")) is None
    assert effect_caution([], "f.py", _send(wait=True)) is None


_HELPERS = dedented(
    """
    from . import audit
    from .store import save_user

    def notify(user):
        save_user(user)
        requests.post(URL, json=user)

    def record_then_send(user):
        audit.record(user)
        requests.post(URL, json=user)

    def write_locally(user):
        _write(user)
        requests.post(URL, json=user)

    def read_locally(user):
        _lookup(user)
        requests.post(URL, json=user)

    def _write(user):
        if user.dirty:
            user.save()

    def _lookup(user):
        return User.objects.get(pk=user.pk)

    class Accounts:
        def close(self, user):
            self._close(user)
            requests.post(URL, json=user)

        def _close(self, user):
            db.delete_user(user.id)

    def recursive(user):
        recursive(user.parent)
        requests.post(URL, json=user)
    """
)
_STORE = b"def save_user(user):\n    db.session.add(user)\n    db.session.commit()\n"
_AUDIT = b"def record(user):\n    return user\n"


def _modules(module: str, level: int) -> tuple[str, bytes] | None:
    files = {("store", 1): ("app/store.py", _STORE), ("audit", 1): ("app/audit.py", _AUDIT)}
    return files.get((module, level))


def _helper_effects(function: str) -> list[Effect]:
    line = line_of(_HELPERS, f"def {function}(")
    send = next(
        n
        for n, text in enumerate(_HELPERS.splitlines(), start=1)
        if n > line and "requests.post" in text
    )
    return effects_before(_HELPERS, send, file="app/views.py", find_module=_modules)


def test_the_effects_of_a_repository_function_called_before_the_send_are_its_callers() -> None:
    saved = _helper_effects("notify")
    assert [(e.what, e.file, e.helper, e.line) for e in saved] == [
        ("a database write", "app/store.py", "save_user", 3)
    ]
    assert saved[0].called_at == line_of(_HELPERS, "save_user(user)")
    # a function of the module, whichever branch of it writes, and a method through self
    local = _helper_effects("write_locally")
    assert [(e.code, e.file, e.helper) for e in local] == [("user.save()", None, "_write")]
    assert [e.code for e in _helper_effects("close")] == ["db.delete_user(user.id)"]
    caution = effect_caution(saved, "app/views.py", _send(wait=True))
    assert caution is not None
    assert (
        "a database write `db.session.commit()` (app/store.py:3) in `save_user`, called at "
        "line 5" in caution.reason
    )


def test_a_repository_function_that_only_reads_or_is_not_found_is_no_effect() -> None:
    assert _helper_effects("read_locally") == []
    assert _helper_effects("record_then_send") == []  # its body changes nothing
    assert _helper_effects("recursive") == []
    # without a way to read the repository's modules, an imported function is not followed
    line = line_of(_HELPERS, "def notify(") + 2
    assert effects_before(_HELPERS, line, file="app/views.py") == []


def test_a_call_migrated_in_the_same_change_is_named_as_its_send() -> None:
    line = line_of(_EFFECTS, "def read_then_send(")
    earlier = line_of(_EFFECTS, "order = Order.objects.get")
    send = line + 3  # the requests.post of read_then_send
    calls = {
        ("shop/orders.py", earlier): "the send of cs-2 to `orders.placed`, migrated in this change"
    }
    effects = effects_before(_EFFECTS, send, file="shop/orders.py", calls=calls)
    assert [(e.what, e.send) for e in effects] == [
        ("a send", "the send of cs-2 to `orders.placed`, migrated in this change")
    ]
    caution = effect_caution(effects, "shop/orders.py", _send(wait=True))
    assert caution is not None
    assert caution.reason.startswith(
        "the send comes after the send of cs-2 to `orders.placed`, migrated in this change "
        f"(shop/orders.py:{earlier}): that event goes out"
    )
    assert "`Order.objects.get" not in caution.reason  # the old call's code is gone
    assert "`--event`" in caution.suggestion and "`idempotency_key=`" in caution.suggestion
    assert "`--outbox`" not in caution.suggestion  # no write of the caller's to join
    # one that stays a call is an outbound call, as before
    stays = effects_before(
        _EFFECTS, send, file="shop/orders.py", calls={("shop/orders.py", earlier): ""}
    )
    assert [(e.what, e.send) for e in stays] == [("an outbound call", None)]


# --- the caller's identity in the event ---------------------------------------------------


def _fields(payload: str) -> list[tuple[str, ast.expr]]:
    return payload_fields(payload)


def test_a_payload_carrying_who_asks_is_cautioned_to_restrict_producers() -> None:
    caution = identity_caution(_fields("Req(invite_id=i, requesting_user=user)"), "invites.x")
    assert caution is not None and caution.code == "identity-in-payload"
    assert "`requesting_user`" in caution.reason and "act as any user" in caution.reason
    assert "producer ACLs" in caution.suggestion
    assert identity_caution(_fields('{"user": request.user, "a": 1}'), "t") is not None
    assert identity_caution(_fields('{"principal": p}'), "t") is not None


def test_the_identity_caution_says_the_client_no_longer_hears_a_refusal() -> None:
    """The callee checks the user the data names and may refuse them: the client's
    request now succeeds all the same, so the permission is checked before sending."""
    caution = identity_caution(_fields("Req(event_id=e, requesting_user=user)"), "events.x")
    assert caution is not None
    assert "permission denied" in caution.reason and "no longer hears it" in caution.reason
    assert caution.suggestion.startswith("check the user's permission in the caller")


def _grpc_planned(
    payload: str, *, cautions: bool = False, headers: tuple[str, ...] = ()
) -> PlannedSite:
    item = _planned("cs-1", "m.delete", "events.delete-event", "str(e)", "the payload's event_id")
    found = identity_caution(_fields(payload), "events.delete-event") if cautions else None
    return replace(
        item,
        payload=payload,
        cautions=(found,) if found else (),
        headers=headers,
        plain_channel=True,
    )


def test_refusals_are_final_where_the_data_says_who_asks_or_grpc_sent_no_credential() -> None:
    """401 and 403 are dead-lettered at once when the callee's refusal can only be of the
    user the data names; a call that sent a credential keeps the runtime's rule."""
    grpc = Endpoint("events", "grpc", "RPC", "/EventService/delete_event", "h", "f.py", 1, "grpc")
    http = Endpoint("events", "http", "POST", "/events/delete", "h", "f.py", 1, "flask")
    asks = _grpc_planned("Req(event_id=e, requesting_user=user)", cautions=True)
    assert final_statuses([asks], http) == (401, 403)
    # a carried site has no cautions: its data still says who asks
    assert final_statuses([replace(asks, cautions=())], http) == (401, 403)
    quiet = _grpc_planned("Req(event_id=e)")
    assert final_statuses([quiet], grpc) == (401, 403)
    assert final_statuses([quiet], http) == ()
    forwarded = replace(asks, headers=("authorization",))
    assert final_statuses([forwarded], grpc) == ()
    # a channel not read as plain may add a credential through an interceptor or call
    # credentials: the consumer lacks it, so its 401 must stay a retry (and warn)
    assert final_statuses([replace(quiet, plain_channel=False)], grpc) == ()
    assert final_statuses([quiet, replace(quiet, plain_channel=False)], grpc) == ()


def test_a_whole_user_in_the_payload_is_cautioned_for_the_data_topics_keep() -> None:
    """``requesting_user=grpc_user`` stores the user's email in the topic, and in its
    dead-letter topic until deleted: the caution says so and what to send instead; an id
    alone (``requesting_user=user.id``) carries no such data."""
    caution = identity_caution(_fields("Req(id=i, requesting_user=grpc_user)"), "users.delete")
    assert caution is not None
    assert "`requesting_user=grpc_user` carries the user as a whole" in caution.reason
    assert "dead-letter topic until someone deletes it" in caution.reason
    assert "`KAFKA_DEAD_LETTER_RETENTION_MS`" in caution.suggestion
    assert "send only the user's id" in caution.suggestion
    by_id = identity_caution(_fields("Req(id=i, requesting_user=str(user.id))"), "t")
    assert by_id is not None and "as a whole" not in by_id.reason
    assert "send only" not in by_id.suggestion


def test_a_payload_naming_a_user_as_its_subject_is_not_cautioned() -> None:
    assert identity_caution(_fields('{"user_id": order.user_id, "kind": "x"}'), "t") is None
    assert identity_caution(_fields('{"user": new_user_data}'), "t") is None
    assert identity_caution(_fields("prefs"), "t") is None


# --- on the sample ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan() -> MigrationPlan:
    result: ScanResult = scan(SAMPLE, ScanOptions(use_cache=False))
    services = ("emails", "frontend", "notifications", "orders", "payments", "users")
    selection = select_sites(result, Criteria(services=services))
    return migrate_scanned(result, selection, PlanOptions()).plan


def test_the_samples_stock_releases_share_one_idempotency_key(plan: MigrationPlan) -> None:
    releases = [p for p in plan.sites if p.send.topic == "inventory.stock-release"]
    assert len(releases) == 2
    assert {p.send.idempotency_key for p in releases} == {'f"{order.reservation_id}:stock-release"'}
    others = [p for p in plan.sites if p.send.topic == "users.preferences"]
    assert others and all(p.send.idempotency_key is None for p in others)


def test_the_samples_effect_caution_is_on_the_sends_after_an_effect_only(
    plan: MigrationPlan,
) -> None:
    orders = {
        p.site.line: [c.code for c in p.cautions]
        for p in plan.sites
        if p.site.file == "services/orders/orders/api.py"
    }
    flagged = {line for line, codes in orders.items() if "effect-before-send" in codes}
    # the release after the order was written, the notice after the refund; not the
    # cancel's release, which only read the order before it
    assert flagged == {60, 96}
    everywhere = [p for p in plan.sites if any(c.code == "effect-before-send" for c in p.cautions)]
    assert len(everywhere) < len(plan.sites)


# --- the only path parameter as the key ---------------------------------------------------


def test_the_only_path_parameter_keys_the_send_only_when_named_as_an_id() -> None:
    """``/fhir/{resource_name}`` names a kind of resource, not an entity: keyed by it, every
    upload of one kind would wait behind a failing one. It goes keyless, with a caution
    naming the parameter; ``pk``, ``uuid``, ``order_uuid``, ``orderId`` still key, and so
    does a natural key (``sku``, ``username``)."""
    key, origin = choose_key((("resource_name", "resource_name"),), None)
    assert key is None
    assert origin.endswith("resource_name is not named as one")
    caution = key_not_entity((("resource_name", "resource_name"),), key)
    assert caution is not None and caution.code == "key-not-entity"
    assert "`resource_name`" in caution.reason and "key=resource_name" in caution.suggestion
    # a payload's id still keys it
    assert choose_key((("kind", "kind"),), '{"order_id": o}')[0] == "o"
    for name in ("pk", "uuid", "order_uuid", "orderId", "id", "user_id", "sku", "username"):
        assert choose_key(((name, "x"),), None) == ("x", f"path parameter {name}")
        assert key_not_entity(((name, "x"),), None) is None


# --- the end user's credential in an event ------------------------------------------------


def test_a_credential_from_the_users_request_gets_a_caution() -> None:
    """``request.COOKIES.get('session')`` as ``Authorization`` (directly, or through a
    local bound to it) is the end user's token: it may expire before the event is handled,
    and the user already saw a success. A service's own token is not named."""
    source = (
        "def post(request, text):\n"
        "    token = request.headers['Authorization']\n"
        "    requests.post(URL, json={'text': text}, headers={'Authorization': token})\n"
    )
    direct = user_credential_caution(
        (("'Authorization'", "request.COOKIES.get('session')"),), None, 0
    )
    assert direct is not None and direct.code == "user-credential"
    assert "`Authorization` (`request.COOKIES.get('session')`)" in direct.reason
    assert "dead-lettered at once" in direct.reason
    local = user_credential_caution((("'Authorization'", "token"),), source, 3)
    assert local is not None and "request.headers['Authorization']" in local.reason
    service = user_credential_caution((("'Authorization'", "f'Bearer {API_TOKEN}'"),), None, 0)
    assert service is None
    assert user_credential_caution((("'X-Trace'", "request.headers['X-Trace']"),), None, 0) is None


def test_a_credential_from_a_request_bound_parameter_gets_a_caution() -> None:
    """A FastAPI handler's ``Header()``/``Cookie()``/``Security(...)`` parameter, a
    ``Depends`` of a security scheme, an ``HTTPAuthorizationCredentials``' ``.credentials``,
    Flask's ``g.token`` and Django's ``request.META['HTTP_AUTHORIZATION']`` are the end
    user's token as much as ``request.headers['Authorization']`` is."""
    source = (
        "from typing import Annotated\n"
        "from fastapi import Depends, Header, Security\n"
        "from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer\n"
        "from fastapi.security import OAuth2PasswordBearer\n"
        "oauth2_scheme = OAuth2PasswordBearer(tokenUrl='token')\n"
        "bearer = HTTPBearer()\n"
        "async def annotated(authorization: Annotated[str, Header()]):\n"
        "    await stub.Delete(req, metadata=(('authorization', authorization),))\n"
        "async def default(authorization: str = Header(...)):\n"
        "    requests.post(URL, headers={'Authorization': authorization})\n"
        "async def scheme(token: str = Depends(oauth2_scheme)):\n"
        "    requests.post(URL, headers={'Authorization': 'Bearer ' + token})\n"
        "async def secured(creds: HTTPAuthorizationCredentials = Security(bearer)):\n"
        "    requests.post(URL, headers={'Authorization': f'Bearer {creds.credentials}'})\n"
        "async def typed(creds: HTTPAuthorizationCredentials = Depends(verify)):\n"
        "    token = creds.credentials\n"
        "    requests.post(URL, headers={'Authorization': token})\n"
    )
    cases = [
        (8, "authorization", "Header()"),
        (10, "authorization", "Header()"),
        (12, "'Bearer ' + token", "Depends(oauth2_scheme)"),
        (14, "f'Bearer {creds.credentials}'", "Security()"),
        (17, "token", "HTTPAuthorizationCredentials"),
    ]
    for line, value, marker in cases:
        found = user_credential_caution((("'authorization'", value),), source, line)
        assert found is not None and found.code == "user-credential", line
        assert f"the handler's `{marker}`" in found.reason, found.reason
    flask = "from flask import g\ndef post():\n    requests.post(URL, headers={})\n"
    g_token = user_credential_caution((("'Authorization'", "'Bearer ' + g.token"),), flask, 3)
    assert g_token is not None and "`'Bearer ' + g.token`" in g_token.reason
    django = user_credential_caution(
        (("'Authorization'", "request.META['HTTP_AUTHORIZATION']"),), None, 0
    )
    assert django is not None and django.code == "user-credential"


def test_a_services_own_credential_in_a_handler_gets_no_caution() -> None:
    """A token from the settings or the environment, a ``Depends`` of something that is not
    a security scheme, a parameter the handler binds again, and a ``g`` that is not
    Flask's are the service's own: no caution."""
    source = (
        "import os\n"
        "from fastapi import Depends, Header\n"
        "from .config import settings\n"
        "def get_settings(): ...\n"
        "g = Globals()\n"
        "async def own(x_trace: str = Header(...), conf=Depends(get_settings)):\n"
        "    requests.post(URL, headers={'Authorization': settings.API_TOKEN})\n"
        "    requests.post(URL, headers={'Authorization': os.environ['TOKEN']})\n"
        "    requests.post(URL, headers={'Authorization': conf.token})\n"
        "    requests.post(URL, headers={'Authorization': g.token})\n"
        "async def replaced(authorization: str = Header(...)):\n"
        "    authorization = settings.API_TOKEN\n"
        "    requests.post(URL, headers={'Authorization': authorization})\n"
    )
    for line, value in (
        (7, "settings.API_TOKEN"),
        (8, "os.environ['TOKEN']"),
        (9, "conf.token"),
        (10, "g.token"),
        (13, "authorization"),
    ):
        assert user_credential_caution((("'Authorization'", value),), source, line) is None, line
    # a request-bound parameter in a header that is no credential is not named either
    assert user_credential_caution((("'X-Trace'", "x_trace"),), source, 7) is None


def test_the_behaviour_change_says_which_errors_wait_for_retries() -> None:
    """A waiting send's row says where the callee's errors go as the runtime classifies
    them: not every 4xx at once (401, 403, 408, 425, 429 are retried), and a refusal of
    the user the data names at once where the subscription's final_statuses say so."""
    item = _planned("cs-1", "m.update", "invites.update", "invite.id", "the payload's invite.id")
    http = replace(item, send=replace(item.send, wait=True))
    said = behaviour_change(http)
    assert "4xx/5xx" not in said
    assert "a 4xx at once, a 5xx (and 401, 403, 408, 425 and 429) after" in said
    grpc = replace(item, send=replace(item.send, wait=True, is_grpc=True))
    said = behaviour_change(grpc, final=(401, 403))
    assert "at once for INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, UNAUTHENTICATED, " in said
    assert "PERMISSION_DENIED; after the consumer's retries for UNAVAILABLE" in said
    assert "PERMISSION_DENIED at once" not in behaviour_change(grpc)


def test_a_delete_whose_store_is_in_the_pod_warns_its_404_may_be_a_lost_repeat() -> None:
    """``ok_statuses`` counts a 404 as done only when the store counted an earlier attempt:
    a per-pod store lost with its pod makes a redelivered delete a first attempt, whose
    404 is dead-lettered. The caution and the redrive step say so."""
    from types import SimpleNamespace
    from typing import Any, cast

    from decouple_services.core.model import Endpoint
    from decouple_services.migrate.report import _lost_delete, _per_pod
    from decouple_services.migrate.run import PER_POD_DELETES

    def consumer(path: str, protocol: str = "grpc", method: str = "RPC") -> Any:
        endpoint = Endpoint("events", protocol, method, path, "h", "f.py", 1, protocol)
        return SimpleNamespace(topic=SimpleNamespace(endpoint=endpoint), module="m.c")

    per_pod = cast(Any, SimpleNamespace(store_notes=(("m.c", "k8s.yaml"),)))
    shared = cast(Any, SimpleNamespace(store_notes=()))
    (line,) = _lost_delete(consumer("/EventService/delete_event_by_id"), per_pod)
    assert "a 404 (`NOT_FOUND`) there may be a delete done before the pod's store" in line
    assert _lost_delete(consumer("/events/{id}", "http", "DELETE"), per_pod)
    assert not _lost_delete(consumer("/EventService/update_event"), per_pod)
    assert not _lost_delete(consumer("/EventService/delete_event_by_id"), shared)
    # the caution says it where one of the consumers it names hands on a delete
    assert "its 404 (gRPC `NOT_FOUND`) is not taken as done (`ok_statuses`)" in PER_POD_DELETES
    deleting = SimpleNamespace(consumers=(consumer("/EventService/delete_event_by_id"),))
    updating = SimpleNamespace(consumers=(consumer("/EventService/update_event"),))
    caution = _per_pod(
        cast(Any, SimpleNamespace(store_notes=per_pod.store_notes, plan=deleting)), ""
    )
    assert caution.endswith(PER_POD_DELETES)
    caution = _per_pod(
        cast(Any, SimpleNamespace(store_notes=per_pod.store_notes, plan=updating)), ""
    )
    assert PER_POD_DELETES not in caution
