"""Detector for a project's own client functions, declared in configuration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from decouple_services.core.config import ArgRef, ClientConfig
from decouple_services.detect.base import (
    MISSING,
    Detector,
    Example,
    Match,
    lit_upper,
    payload_of,
    sets_timeout,
    snippet,
)
from decouple_services.detect.facts import FunctionInfo, RawCall
from decouple_services.detect.values import Lit, Obj, Value

#: Parameter names taken as the payload of a configured client, in order of preference.
_PAYLOAD_NAMES = ("json", "data", "payload", "body")


class CustomDetector(Detector):
    """Calls of a project's own client functions, declared in ``[tool.decouple.clients]``.

    Many codebases wrap their HTTP or RPC library in a helper that names the callee service
    instead of a url, which no library detector can see through. Declaring the helper by its
    qualified name makes each call of it a call site::

        [tool.decouple.clients."acme.rpc.call_service"]
        service_arg = "service"
        path_arg = "path"
        method = "POST"

        [tool.decouple.clients."acme.http.ApiClient.send"]
        url_arg = "url"
        method_arg = "method"

    A function is found when called by its qualified name (through any import alias); a
    method ``pkg.Class.method`` when called on an instance of ``pkg.Class``, wherever the
    instance is kept. ``service_arg`` names the argument holding the callee service's name;
    ``url_arg`` the one holding a url; ``path_arg`` a path, appended to the url when both are
    given. ``method`` fixes the HTTP method, ``method_arg`` reads it from an argument. An
    argument is named either by its position (``0`` is the first argument after ``self``) or
    by its parameter name; a name also matches a positional argument when the helper's
    definition is among the scanned files.

    ``has_timeout`` needs a ``timeout`` argument other than ``None``; the payload is the
    argument named ``json``, ``data``, ``payload`` or ``body``.

    A configured helper's calls are reported as calls of the helper, labelled with its
    qualified name; the library call inside the helper's body is then only the wrapper.

    Deliberately ignored: other functions of the configured module, methods called on
    instances of subclasses of a configured class, and a configured class reached through a
    re-export under another name (configure the name the callers import).
    """

    name = "custom"
    #: The configuration the examples below are found with (the one in the docstring).
    example_clients: ClassVar[tuple[ClientConfig, ...]] = (
        ClientConfig(
            "acme.rpc.call_service", service_arg="service", path_arg="path", method="POST"
        ),
        ClientConfig("acme.http.ApiClient.send", url_arg="url", method_arg="method"),
    )
    #: The parameters of the example helpers, as their definitions would give them.
    example_signatures: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "acme.rpc.call_service": ("service", "path", "payload"),
        "acme.http.ApiClient.send": ("method", "url", "body", "timeout"),
    }
    examples = (
        Example(
            snippet("""
                from acme.rpc import call_service

                def place(order):
                    call_service("payments", "/charges", order)
            """),
            client="acme.rpc.call_service",
            method="POST",
            url_src='"/charges"',
            line=4,
        ),
        Example(
            snippet("""
                from acme.http import ApiClient

                api = ApiClient()

                def cancel(order_id):
                    api.send("DELETE", url=f"{ORDERS_URL}/orders/{order_id}", timeout=2)
            """),
            client="acme.http.ApiClient.send",
            method="DELETE",
            url_src='f"{ORDERS_URL}/orders/{order_id}"',
            line=6,
        ),
    )
    counter_examples = (
        snippet("""
            from acme.rpc import call_service, service_base_url

            base = service_base_url("payments")
        """),
        snippet("""
            from acme.http import ApiClient, Cache

            cache = Cache()
            cache.send("DELETE", "/orders/1")
            ApiClient().close()
        """),
    )

    def __init__(
        self,
        clients: Iterable[ClientConfig] = (),
        *,
        signatures: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.clients = {client.qualname: client for client in clients}
        self.modules = tuple(sorted({q.split(".", 1)[0] for q in self.clients}))
        self.method_names = frozenset(q.rpartition(".")[2] for q in self.clients)
        self.signatures = {
            q: tuple(params) for q, params in (signatures or {}).items() if q in self.clients
        }

    @classmethod
    def for_examples(cls) -> CustomDetector:
        """The detector configured as the examples expect."""
        return cls(cls.example_clients, signatures=cls.example_signatures)

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func is not None:
            qualname = call.func
        elif receiver is not None:
            qualname = f"{receiver.type}.{call.name}"
        else:
            return None
        config = self.clients.get(qualname)
        if config is None:
            return None
        params = self.signatures.get(qualname, ())
        service = _argument(call, params, config.service_arg)
        url = _argument(call, params, config.url_arg)
        path = _argument(call, params, config.path_arg)
        # A path the call leaves out is the helper's default, unknown here but irrelevant to
        # the callee, which the service or url decides; a url left out decides nothing.
        url_value, url_src = path or (Lit(""), "")
        base: Value | None = None
        if config.url_arg is not None:
            if config.path_arg is None:
                url_value, url_src = url or (MISSING, "")
            else:
                base = url[0] if url else MISSING
        if config.method is not None:
            method: str | None = config.method.upper()
        else:
            found = _argument(call, params, config.method_arg)
            method = lit_upper(found[0]) if found else None
        timeout = _argument(call, params, "timeout")
        return Match(
            client=config.qualname,
            method=method,
            url=url_value,
            url_src=url_src,
            base=base,
            has_timeout=bool(sets_timeout(timeout[0] if timeout else None)),
            payload=payload_of(
                call,
                *_PAYLOAD_NAMES,
                positional={i: p for i, p in enumerate(params) if p in _PAYLOAD_NAMES},
            ),
            service=None if service is None else service[0],
        )


def signatures_of(functions: Iterable[FunctionInfo]) -> dict[str, tuple[str, ...]]:
    """Parameter names as callers pass them (without ``self``/``cls``), by qualified name."""
    found: dict[str, tuple[str, ...]] = {}
    for function in functions:
        params = function.params
        if function.is_method and params and params[0] in ("self", "cls"):
            params = params[1:]
        found[function.qualname] = params
    return found


def _argument(call: RawCall, params: Sequence[str], ref: ArgRef | None) -> tuple[Value, str] | None:
    """The value and source of the configured argument, or None when the call lacks it."""
    if ref is None:
        return None
    if isinstance(ref, int):
        index: int | None = ref
        key = params[ref] if 0 <= ref < len(params) else None
    else:
        key = ref
        index = params.index(ref) if ref in params else None
    value = call.arg(index, key)
    if value is None:
        return None
    return value, call.src(index, key) or ""
