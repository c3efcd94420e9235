"""Detector for the standard library's ``urllib.request``."""

from __future__ import annotations

from decouple_services.detect.base import (
    MISSING,
    Detector,
    Example,
    Match,
    argument,
    is_none,
    lit_upper,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Obj, Value

#: ``urllib2`` is Python 2's name for the same functions; such files still parse when they
#: avoid Python 2-only syntax.
_OPENERS_BY_NAME = frozenset(
    {
        "urllib.request.urlopen",
        "urllib2.urlopen",
        "urllib.request.urlretrieve",
        "urllib.urlretrieve",
    }
)
_REQUEST_TYPES = frozenset({"urllib.request.Request", "urllib2.Request"})
_OPENER_TYPES = frozenset(
    {"urllib.request.build_opener", "urllib.request.OpenerDirector", "urllib2.build_opener"}
)
#: What a file making a request of urllib names: one of its request functions or opener
#: types (a ``Request`` is sent by one of them). A file naming urllib for ``urllib.parse``
#: alone makes none: the candidate prefilter passes it only with one of these
#: (``app/demand.py``'s ``may_call_urllib``).
CALL_NAMES = tuple(sorted({q.rpartition(".")[2] for q in _OPENERS_BY_NAME | _OPENER_TYPES}))


class UrllibRequestDetector(Detector):
    """Calls made with the standard library's `urllib.request
    <https://docs.python.org/3/library/urllib.request.html>`_.

    Finds ``urlopen(url_or_request, data=None, timeout=...)``, ``urlretrieve(url, ...)`` and
    ``opener.open(...)`` on openers from ``build_opener()``. When the argument is a
    ``Request(url, data=..., method=...)`` built in the same function or module, the url,
    method and payload come from it. The method is the Request's ``method=`` when given,
    otherwise ``POST`` when data is sent and ``GET`` when not, as urllib decides at run time.

    urllib waits forever by default, so ``has_timeout`` needs ``timeout=`` (or the third
    positional argument) other than ``None``. The payload is the ``data`` argument.

    Deliberately ignored: ``urllib.parse`` (building urls is not calling them), constructing
    ``Request`` objects and openers, and handler classes. When the Request is built in another
    function and passed in, method and url are unknown (the url is reported as the argument).
    """

    name = "urllib_request"
    modules = ("urllib", "urllib2")
    method_names = frozenset({"open"})
    examples = (
        Example(
            snippet("""
                from urllib.request import urlopen

                def rates():
                    with urlopen(RATES_URL + "/latest", timeout=5) as response:
                        return response.read()
            """),
            client="urllib.request",
            method="GET",
            url_src='RATES_URL + "/latest"',
            line=4,
        ),
        Example(
            snippet("""
                import json
                import urllib.request

                def publish(event):
                    body = json.dumps(event).encode()
                    req = urllib.request.Request(f"{EVENTS_URL}/events", data=body)
                    urllib.request.urlopen(req)
            """),
            client="urllib.request",
            method="POST",
            url_src="req",
            line=7,
        ),
        Example(
            snippet("""
                import urllib.request

                opener = urllib.request.build_opener()
                opener.open(urllib.request.Request(ITEMS_URL, method="DELETE"), timeout=2)
            """),
            client="urllib.request",
            method="DELETE",
            url_src='urllib.request.Request(ITEMS_URL, method="DELETE")',
            line=4,
        ),
    )
    counter_examples = (
        snippet("""
            from urllib.parse import urlencode, urljoin

            url = urljoin(BASE_URL, "/search?" + urlencode({"q": "lamp"}))
        """),
        snippet("""
            import urllib.request

            request = urllib.request.Request("http://users:8080/users")
            request.add_header("Accept", "application/json")
        """),
        snippet("""
            def open(path):
                return path

            with open("settings.toml") as handle:
                handle.read()
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            if call.func not in _OPENERS_BY_NAME:
                return None
        elif receiver is None or receiver.type not in _OPENER_TYPES or call.name != "open":
            return None
        target, url_src = argument(call, 0, "fullurl" if call.name == "open" else "url")
        if call.name == "urlretrieve":
            # urlretrieve(url, filename, reporthook, data) has no timeout at all.
            data_at, timeout = 3, None
        else:
            data_at, timeout = 1, call.arg(2, "timeout")
        data = _given(call.arg(data_at, "data"))
        payload = payload_of(call, "data", positional={data_at: "data"})
        url: Value = target
        explicit_method: Value | None = None
        if isinstance(target, Obj) and target.type in _REQUEST_TYPES:
            url = target.arg(0, "url") or MISSING
            explicit_method = target.arg(5, "method")
            request_data = _given(target.arg(1, "data"))
            if data is None and request_data is not None:
                # The data expression itself is not at the call, but this reads it there.
                data, payload = request_data, f"data={url_src}.data"
        if explicit_method is not None:
            method = lit_upper(explicit_method)
        else:
            method = "GET" if data is None else "POST"
        return Match(
            client="urllib.request",
            method=method,
            url=url,
            url_src=url_src,
            has_timeout=bool(sets_timeout(timeout)),
            payload=payload,
        )


def _given(value: Value | None) -> Value | None:
    return None if value is None or is_none(value) else value
