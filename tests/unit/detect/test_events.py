from __future__ import annotations

import ast

from decouple_services.detect.events import EventSend, find_event_sends

SOURCE = """\
from .decouple_producer import send_event, send_event_async


class Orders:
    async def placed(self, order):
        # decouple: migrated cs-96c05d70 to notifications.notify (notifications POST /notify)
        await send_event_async(
            "notifications.notify",
            {"order_id": order.id},
        )


def cancel(order_id):
    # decouple: migrated cs-e09e46ac to orders.cancel (orders POST /api/orders/{order_id}/cancel)
    # (the loop used to call orders once per order)
    send_event("orders.cancel", None, path_params={"order_id": order_id})


def gone():
    # decouple: migrated cs-00000000 to x.y (x)
    print("the send under this marker was removed")
"""


def test_each_marker_names_the_send_under_it() -> None:
    sends = find_event_sends(ast.parse(SOURCE), SOURCE)
    assert sends == (
        EventSend(
            site_id="cs-96c05d70",
            topic="notifications.notify",
            callee="notifications",
            endpoint="POST /notify",
            line=7,
            end_line=10,
            function="Orders.placed",
            is_async=True,
            payload='{"order_id": order.id}',
            marker_line=6,
        ),
        EventSend(
            site_id="cs-e09e46ac",
            topic="orders.cancel",
            callee="orders",
            endpoint="POST /api/orders/{order_id}/cancel",
            line=16,
            end_line=16,
            function="cancel",
            is_async=False,
            payload=None,
            marker_line=14,
        ),
    )


def test_sends_round_trip_through_the_cache_format() -> None:
    for send in find_event_sends(ast.parse(SOURCE), SOURCE):
        assert EventSend.from_json(send.to_json()) == send


def test_sends_that_wait_and_their_key_comment_are_found_too() -> None:
    source = (
        "def welcome(user_id):\n"
        "    # decouple: migrated cs-00000001 to emails.send (emails POST /send)\n"
        "    # event key: user_id (the payload's user_id)\n"
        '    send_event_and_wait("emails.send", {"user_id": user_id}, key=user_id, timeout=2)\n'
        "\n"
        "async def remind(user_id):\n"
        "    # decouple: migrated cs-00000002 to emails.remind (emails)\n"
        '    await send_event_and_wait_async("emails.remind", {"user_id": user_id})\n'
    )
    sends = find_event_sends(ast.parse(source), source)
    assert [(s.site_id, s.line, s.is_async, s.payload) for s in sends] == [
        ("cs-00000001", 4, False, '{"user_id": user_id}'),
        ("cs-00000002", 8, True, '{"user_id": user_id}'),
    ]


OUTBOX_SOURCE = """\
from .decouple_producer import send_via_outbox, send_via_outbox_async


def ship(session, shipment):
    # decouple: migrated cs-0000a001 to mailer.send (mailer POST /send)
    send_via_outbox(session, "mailer.send", {"to": shipment.email})


async def ship_async(session, shipment):
    # decouple: migrated cs-0000a002 to mailer.send (mailer POST /send)
    await send_via_outbox_async(session, "mailer.send", {"to": shipment.email})


def place(order):
    # decouple: migrated cs-0000b001 to mailer.send (mailer POST /send)
    send_via_outbox("mailer.send", {"user_id": order.id}, key=order.id)
"""


def test_outbox_writes_are_sends_whose_data_follows_the_session() -> None:
    sends = find_event_sends(ast.parse(OUTBOX_SOURCE), OUTBOX_SOURCE)
    assert [(s.site_id, s.function, s.is_async, s.payload) for s in sends] == [
        ("cs-0000a001", "ship", False, '{"to": shipment.email}'),
        ("cs-0000a002", "ship_async", True, '{"to": shipment.email}'),
        ("cs-0000b001", "place", False, '{"user_id": order.id}'),
    ]
