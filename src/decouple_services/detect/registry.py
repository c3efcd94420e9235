"""The client detectors, in the order they are tried, and what extraction needs from them.

Each detector lives in its own module under ``detect/`` (named for its library, with a
trailing underscore where the name would shadow the library itself). Adding one means
writing the module and listing an instance in :data:`DETECTORS`; a test checks that every
detector module is listed here.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

from decouple_services.core.config import Config
from decouple_services.detect.aiohttp_ import AiohttpDetector
from decouple_services.detect.base import Detector, Match
from decouple_services.detect.bravado_ import BravadoDetector
from decouple_services.detect.custom import CustomDetector, signatures_of
from decouple_services.detect.extract import ExtractOptions, ServerExtractor
from decouple_services.detect.facts import BASES, FunctionInfo, RawCall
from decouple_services.detect.gateway_route import GatewayRouteDetector
from decouple_services.detect.grpc_ import GrpcDetector
from decouple_services.detect.http_client import HttpClientDetector
from decouple_services.detect.httpx_ import HttpxDetector
from decouple_services.detect.library_helper import LibraryHelperDetector
from decouple_services.detect.locust_ import LocustDetector
from decouple_services.detect.receivers import Lookup
from decouple_services.detect.requests_ import RequestsDetector
from decouple_services.detect.span_exporter import SpanExporterDetector
from decouple_services.detect.urllib3_ import Urllib3Detector
from decouple_services.detect.urllib_request import UrllibRequestDetector
from decouple_services.detect.values import Obj, Ref

#: Every detector, in the order they are tried; the first match wins. Configured clients come
#: first, so a project's declaration is never overridden by a library detector. Here the
#: custom detector has no configuration and matches nothing: see :func:`build_detectors`.
DETECTORS: tuple[Detector, ...] = (
    CustomDetector(),
    RequestsDetector(),
    HttpxDetector(),
    AiohttpDetector(),
    Urllib3Detector(),
    UrllibRequestDetector(),
    HttpClientDetector(),
    GrpcDetector(),
    BravadoDetector(),
    LocustDetector(),
    SpanExporterDetector(),
    GatewayRouteDetector(),
    LibraryHelperDetector(),
)


def build_detectors(
    config: Config | None = None, *, functions: Iterable[FunctionInfo] = ()
) -> tuple[Detector, ...]:
    """:data:`DETECTORS` with the custom detector configured from ``config``.

    ``functions`` (from the scanned files' facts) lets a configured argument given by name
    also match when it is passed positionally; extraction does not need them, matching does.
    """
    clients = config.clients if config is not None else ()
    custom = CustomDetector(clients, signatures=signatures_of(functions))
    return tuple(custom if isinstance(d, CustomDetector) else d for d in DETECTORS)


def example_detector(detector: Detector) -> Detector:
    """``detector`` configured as its examples expect (only configured detectors differ)."""
    if isinstance(detector, CustomDetector):
        return CustomDetector.for_examples()
    return detector


def client_modules(detectors: Sequence[Detector] = DETECTORS) -> frozenset[str]:
    """Top-level modules whose calls extraction records."""
    return frozenset(module for detector in detectors for module in detector.modules)


def candidate_method_names(detectors: Sequence[Detector] = DETECTORS) -> frozenset[str]:
    """Method names extraction records when called on an object of not yet known type."""
    return frozenset(name for detector in detectors for name in detector.method_names)


def extract_options(
    detectors: Sequence[Detector] = DETECTORS,
    *,
    custom_clients: Iterable[str] = (),
    wrapper_names: Iterable[str] = (),
    server_extractors: tuple[ServerExtractor, ...] = (),
) -> ExtractOptions:
    """What extraction records for these detectors (configured clients included)."""
    return ExtractOptions(
        client_modules=client_modules(detectors),
        method_names=candidate_method_names(detectors),
        custom_clients=frozenset(custom_clients),
        wrapper_names=frozenset(wrapper_names),
        server_extractors=server_extractors,
    )


def match_call(
    call: RawCall,
    receiver: Obj | None,
    detectors: Sequence[Detector] = DETECTORS,
    defined: Container[str] = frozenset(),
    lookup: Lookup | None = None,
) -> Match | None:
    """The first detector's match for ``call``, whose receiver resolved to ``receiver``;
    ``defined`` holds the qualified names of the functions the scanned code defines.
    With ``lookup``, an instance of a project class deriving from a library class a
    detector takes subclasses of (:attr:`Detector.subclass_bases`) is matched as one of it."""
    if receiver is None and isinstance(call.receiver, Obj):
        # Built in the same expression (`requests.Session().get(...)`): nothing to resolve.
        receiver = call.receiver
    top = call.func.split(".", 1)[0] if call.func is not None else None
    for detector in detectors:
        # Extraction records a call by name only for some detector's module; skipping the
        # others keeps matching cheap on large repositories.
        if top is not None and top not in detector.modules and not detector.any_module:
            continue
        found = detector.match(call, receiver)
        if found is None and receiver is not None and lookup is not None:
            base = library_base(receiver.type, detector.subclass_bases, lookup)
            if base is not None:
                found = detector.match(call, Obj(base, receiver.args, receiver.kwargs))
        if found is not None and not (found.library_only and call.func in defined):
            return found
    return None


#: How far up a class hierarchy a library base is looked for.
_MAX_BASES = 16


def library_base(kind: str, wanted: frozenset[str], lookup: Lookup) -> str | None:
    """The one of ``wanted`` that the project class ``kind`` derives from, through the
    bases its definition (and its bases' definitions) name; None when it derives from none."""
    if not wanted or "()" in kind:
        return None
    queue, seen = [kind], {kind}
    while queue and len(seen) < _MAX_BASES:
        bases = lookup(f"{queue.pop(0)}.{BASES}")
        if not isinstance(bases, Obj):
            continue
        for base in bases.args:
            if not isinstance(base, Ref) or base.qualname in seen:
                continue
            if base.qualname in wanted:
                return base.qualname
            seen.add(base.qualname)
            queue.append(base.qualname)
    return None
