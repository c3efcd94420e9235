"""Detector for request helpers of other packages, called like ``requests.request``."""

from __future__ import annotations

from decouple_services.detect.base import (
    HTTP_VERBS,
    Detector,
    Example,
    Match,
    argument,
    lit_upper,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Concat, Dyn, Env, Lit, Obj, Param, Ref, Value, show

#: The names such helpers go by.
HELPER_NAMES = frozenset({"request", "make_request", "send_request"})


#: The first word of a fetching helper's name, and the method it stands for.
FETCH_VERBS = {
    "get": "GET",
    "fetch": "GET",
    "download": "GET",
    "post": "POST",
    "put": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}


def looks_like_a_request(name: str, keywords: frozenset[str], first_arg: str | None) -> bool:
    """Whether a call of a function named ``name`` reads as ``requests.request``: it passes
    ``url=``, or an HTTP verb first (``request("POST", url)``); or as ``requests.get``: a
    helper named for fetching (``get_all_docs``) handed request headers (``headers=``)."""
    if fetch_verb(name) is not None and "headers" in keywords:
        return True
    if name not in HELPER_NAMES:
        return False
    return "url" in keywords or (first_arg is not None and first_arg.lower() in HTTP_VERBS)


def fetch_verb(name: str) -> str | None:
    """The HTTP method a helper named ``get_all_docs`` / ``fetch_json`` / ``post_event``
    stands for; None for other names."""
    return FETCH_VERBS.get(name.split("_", 1)[0]) if "_" in name else None


def _names_a_url(value: Value) -> bool:
    """Whether a value reads as a url: text with a scheme or a leading ``/``, or built from
    something named for one (``KERNEL_URL``, ``project["mappings_url"]``, ``get_api_url()``)."""
    if isinstance(value, Lit):
        return "://" in value.text or value.text.startswith("/")
    if isinstance(value, Concat):
        return any(_names_a_url(part) for part in value.parts[:2])
    if isinstance(value, Ref | Param | Dyn | Obj | Env):
        text = show(value).lower()
        return any(word in text for word in _URL_WORDS)
    return False


_URL_WORDS = ("url", "uri", "endpoint", "link")


class LibraryHelperDetector(Detector):
    """Requests made through a helper that another package provides (a company SDK's
    ``request(method=..., url=...)`` with retries and auth), called exactly like
    ``requests.request``.

    Matches a call of a function named ``request``, ``make_request`` or ``send_request`` that
    the scanned repository imports but does not define, passing the url by keyword
    (``url=``) or an HTTP verb as the first argument (``request("POST", url, json=...)``).
    The method is the ``method=`` keyword or that first argument; the payload is ``json=``,
    ``data=`` or ``files=``; ``timeout=`` counts as a timeout. The client is shown as the
    helper's qualified name, so the table says whose code makes the request.

    A helper named for fetching (``get_all_docs``, ``fetch_json``, ``post_event``: its
    first word an HTTP verb, ``fetch`` or ``download``) handed request headers
    (``headers=``) is read as ``requests.get`` and its kin: its first argument (or
    ``url=``) is the url, when it reads as one (text with a scheme or a leading ``/``, or a
    value named for a url: ``KERNEL_URL``, ``project["mappings_url"]``).

    Deliberately ignored: a helper of the same name that the repository defines (its body is
    read instead, and each call of it is a helper use), calls passing neither ``url=`` nor a
    verb (``request(payload)``), and methods called on objects (``client.request(...)`` is
    left to the client libraries' detectors).
    """

    name = "library_helper"
    any_module = True
    examples = (
        Example(
            snippet("""
                from acme.sdk.http import request

                def push(record):
                    request(method="post", url=f"{KERNEL_URL}/records", json=record)
            """),
            client="acme.sdk.http.request",
            method="POST",
            url_src='f"{KERNEL_URL}/records"',
            line=4,
        ),
        Example(
            snippet("""
                from acme.sdk import http

                def remove(pk):
                    http.make_request("DELETE", f"{KERNEL_URL}/records/{pk}", timeout=3)
            """),
            client="acme.sdk.http.make_request",
            method="DELETE",
            url_src='f"{KERNEL_URL}/records/{pk}"',
            line=4,
        ),
        Example(
            snippet("""
                from acme.sdk.utils import get_all_docs

                def projects(headers):
                    return list(get_all_docs(f"{KERNEL_URL}/projects/", headers=headers))
            """),
            client="acme.sdk.utils.get_all_docs",
            method="GET",
            url_src='f"{KERNEL_URL}/projects/"',
            line=4,
        ),
    )
    counter_examples = (
        snippet("""
            from acme.sdk.http import request

            def push(record):
                request(record)
        """),
        snippet("""
            from acme.sdk.auth import get_token

            def token(secret):
                return get_token(secret, headers={"X-Tenant": "a"})
        """),
        snippet("""
            from acme.sdk.queue import send

            def push(record):
                send(topic="records", value=record)
        """),
        snippet("""
            def request(method, url):
                return method, url

            request(method="get", url="/local")
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is None or "." not in call.func:
            return None
        fetching = fetch_verb(call.name)
        first = call.arg(0)
        verb = first.text if isinstance(first, Lit) else None
        keywords = frozenset(k for k, _ in call.kwargs)
        method: str | None
        if fetching is not None and "headers" in keywords:
            method = fetching
            url, url_src = argument(call, 0, "url")
            if not _names_a_url(url):
                return None
        elif not looks_like_a_request(call.name, keywords, verb):
            return None
        elif "url" in keywords:
            method = lit_upper(call.kwarg("method")) or lit_upper(first)
            url, url_src = argument(call, None, "url")
        else:
            method = verb.upper() if verb else None
            url, url_src = argument(call, 1, "url")
        return Match(
            client=call.func,
            method=method,
            url=url,
            url_src=url_src,
            has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
            payload=payload_of(call, "json", "data", "files"),
            library_only=True,
        )
