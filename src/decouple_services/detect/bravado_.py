"""Detector for API clients bravado builds from a Swagger (OpenAPI 2) description."""

from __future__ import annotations

from decouple_services.detect.base import (
    MISSING,
    Detector,
    Example,
    Match,
    argument,
    payload_of,
    snippet,
)
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Lit, Obj, Value, show

_CLIENT = "bravado.client.SwaggerClient"
#: Building a client from a description fetched from a url: the fetch is a request.
_FROM_URL = f"{_CLIENT}.from_url"
#: Building one from a description already loaded: the second argument is the url it came
#: from, which the operations are sent to unless the description names another host.
_FROM_SPEC = f"{_CLIENT}.from_spec"
#: ``bravado_core.spec.Spec.from_dict(spec_dict, origin_url)``, handed to the constructor.
_SPEC_FROM_DICT = "bravado_core.spec.Spec.from_dict"
_LOADERS = frozenset({"bravado.swagger_model.Loader"})
_LOAD_FUNCTIONS = frozenset({"bravado.swagger_model.load_url"})
#: The keyword a project's subclass most often takes its service's address by.
_URL_KEYWORDS = ("url", "base_url", "spec_url", "origin_url", "api_url", "host")


class BravadoDetector(Detector):
    """Calls of API clients built by `bravado <https://bravado.readthedocs.io/>`_.

    bravado reads a Swagger description and builds a client whose resources and operations
    are attributes: ``client.pet.getPetById(petId=42)`` sends the operation's request. Each
    such call on a client is a call site (the operation's name is the method column's
    stand-in, since its HTTP method is in the description). The client is
    ``SwaggerClient.from_url(spec_url)``, ``SwaggerClient.from_spec(spec, origin_url)``,
    ``SwaggerClient(Spec.from_dict(spec, origin_url))``, or an instance of a class of the
    project deriving from ``SwaggerClient``; its operations go to the host the description
    was read from: the spec url, the origin url, or, for a subclass, the constructor's
    ``url=`` (or first) argument.

    Fetching the description is a request too: ``SwaggerClient.from_url(spec_url)``,
    ``Loader(http_client).load_spec(spec_url)`` and ``load_url(spec_url)`` are GETs of the
    spec url.

    bravado's futures wait forever unless ``.response(timeout=...)`` or ``.result(timeout=...)``
    is called on them, which is not the operation's call: ``has_timeout`` stays false. The
    payload is the ``body=`` argument, else the first keyword argument.

    Deliberately ignored: ``client.get_model(...)`` and other methods of the client itself,
    attributes of a resource that are not called, and the description's own host and base
    path (not read: the spec url's host stands for the service).
    """

    name = "bravado"
    modules = ("bravado",)
    method_names = frozenset({"load_spec"})
    subclass_bases = frozenset({_CLIENT})
    examples = (
        Example(
            snippet("""
                from bravado.client import SwaggerClient

                petstore = SwaggerClient.from_spec(PETSTORE_SPEC, "http://petstore:8080")

                def pet(pet_id):
                    return petstore.pet.getPetById(petId=pet_id).response().result
            """),
            client="bravado",
            method="pet.getPetById",
            url_src="'http://petstore:8080'",
            line=6,
        ),
        Example(
            snippet("""
                from bravado.client import SwaggerClient

                def client():
                    return SwaggerClient.from_url(SPEC_URL, config={"use_models": False})
            """),
            client="bravado",
            method="GET",
            url_src="SPEC_URL",
            line=4,
        ),
    )
    counter_examples = (
        snippet("""
            from bravado.client import SwaggerClient

            def models(spec):
                client = SwaggerClient.from_spec(spec)
                return client.get_model("Pet")
        """),
        snippet("""
            from shop.cache import cache

            def forget(key):
                cache.entries.delete(key)
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        if call.func in (_FROM_URL, *_LOAD_FUNCTIONS) or (
            call.func is None
            and receiver is not None
            and receiver.type in _LOADERS
            and call.name == "load_spec"
        ):
            url, src = argument(call, 0, "spec_url")
            return Match(client="bravado", method="GET", url=url, url_src=src)
        if call.func is not None or receiver is None:
            return None
        resource, dot, operation = call.name.partition(".")
        if not dot or not resource.isidentifier() or not operation.isidentifier():
            return None
        origin = _origin(receiver)
        if origin is None:
            return None
        body = call.kwarg("body")
        return Match(
            client="bravado",
            method=call.name,
            url=Lit(""),
            url_src=_source(origin),
            base=origin,
            payload=payload_of(call, "body") if body is not None else _first_keyword(call),
        )


def _origin(client: Obj) -> Value | None:
    """The url a client's description was read from (:data:`MISSING` when not known); None
    when ``client`` is no client."""
    if client.type == _FROM_URL:
        return client.arg(0, "spec_url") or MISSING
    if client.type == _FROM_SPEC:
        return client.arg(1, "origin_url") or MISSING
    if client.type != _CLIENT:
        return None
    for key in _URL_KEYWORDS:
        found = client.kwarg(key)
        if found is not None:
            return found
    first = client.arg(0, "swagger_spec")
    if isinstance(first, Obj):
        spec_origin = first.arg(1, "origin_url") if first.type == _SPEC_FROM_DICT else None
        return spec_origin or MISSING
    return first or MISSING


def _source(value: Value) -> str:
    # The operation names no url; the description's, quoted like other calls' url sources.
    if isinstance(value, Lit):
        return repr(value.text)
    return show(value)


def _first_keyword(call: RawCall) -> str | None:
    for key, src in call.kwarg_src:
        if key not in ("**", "_request_options"):
            return f"{key}={src}"
    return None
