"""Detector for locust's HTTP client in load tests."""

from __future__ import annotations

from decouple_services.core.model import Category
from decouple_services.detect.base import (
    HTTP_VERBS,
    Detector,
    Example,
    Match,
    method_and_url,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Obj

#: What extraction calls ``self.client`` inside a class deriving from a locust ``User``.
CLIENT_TYPE = "locust.client"
#: ``rest(method, url)`` is FastHttpUser's JSON helper.
_METHOD_FIRST = frozenset({"request", "rest"})
_METHODS = HTTP_VERBS | _METHOD_FIRST
_PAYLOAD_KEYS = ("json", "data", "params")
_POSITIONAL: dict[str, dict[int, str]] = {
    "post": {1: "data", 2: "json"},
    "put": {1: "data"},
    "patch": {1: "data"},
}


class LocustDetector(Detector):
    """Requests a `locust <https://locust.io>`_ load test sends.

    Finds ``self.client.get(...)``, ``post``, ``put``, ``patch``, ``delete``, ``head``,
    ``options``, ``request(method, url)`` and ``rest(method, url)`` inside classes deriving
    from locust's ``HttpUser`` or ``FastHttpUser``, or from a ``TaskSet`` (whose client is
    its user's), and in helper functions of a locust file that receive the user or the task
    set (``def signup(l): l.client.post(...)``). A user class's ``host`` attribute becomes
    the call's base. Every call is classified as load generation, wherever the file lives, so
    it is reported but not counted as production coupling.

    ``has_timeout`` needs ``timeout=`` on the call; the payload comes from ``json=``,
    ``data=`` or ``params=``. The ``name=`` locust uses to group statistics is ignored.

    Deliberately ignored: ``self.client`` in anything but a locust user class, in particular
    Flask's and Django's test clients in test cases, which call the application in-process
    and make no network call at all.
    """

    name = "locust"
    modules = ("locust",)
    method_names = _METHODS
    examples = (
        Example(
            snippet("""
                from locust import HttpUser, task

                class Shopper(HttpUser):
                    host = "http://frontend:8080"

                    @task
                    def browse(self):
                        self.client.get("/products", name="products")
            """),
            client="locust",
            method="GET",
            url_src='"/products"',
            line=8,
        ),
        Example(
            snippet("""
                from locust import task
                from locust.contrib.fasthttp import FastHttpUser

                class Buyer(FastHttpUser):
                    @task
                    def checkout(self):
                        self.client.request("POST", "/checkout", json={"cart": 1}, timeout=10)
            """),
            client="locust",
            method="POST",
            url_src='"/checkout"',
            line=7,
        ),
        Example(
            snippet("""
                from locust import SequentialTaskSet, task

                class Checkout(SequentialTaskSet):
                    @task
                    def pay(self):
                        self.client.post(f"{PAYMENT_URL}/pay", json={"amount": 3})
            """),
            client="locust",
            method="POST",
            url_src='f"{PAYMENT_URL}/pay"',
            line=6,
        ),
        Example(
            snippet("""
                from locust import HttpUser, task

                def create_item(session, price):
                    session.client.post(f"{STOCK_URL}/item/create/{price}")

                class Admin(HttpUser):
                    @task
                    def stock(self):
                        create_item(self, 3)
            """),
            client="locust",
            method="POST",
            url_src='f"{STOCK_URL}/item/create/{price}"',
            line=4,
        ),
    )
    counter_examples = (
        snippet("""
            from django.test import TestCase

            class HealthTest(TestCase):
                def test_health(self):
                    self.client.get("/health")
        """),
        snippet("""
            import unittest
            from frontend.app import create_app

            class ViewsTest(unittest.TestCase):
                def setUp(self):
                    self.client = create_app().test_client()

                def test_contact(self):
                    self.client.post("/contact", data={"email": "a@b.c"})
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None or receiver is None or receiver.type != CLIENT_TYPE:
            return None
        if call.name not in _METHODS:
            return None
        method, url, url_src = method_and_url(call, call.name in _METHOD_FIRST)
        return Match(
            client="locust",
            method=method,
            url=url,
            url_src=url_src,
            base=receiver.kwarg("host"),
            has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
            payload=payload_of(call, *_PAYLOAD_KEYS, positional=_POSITIONAL.get(call.name)),
            category=Category.LOADGEN,
        )
