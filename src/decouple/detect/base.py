"""What a client detector is: a small class that recognises one client library's calls.

Extraction (``detect/extract.py``) records every call that *may* be a request as a
:class:`RawCall`, with its receiver and arguments as symbolic values. A detector then decides,
given the receiver resolved across files, whether the call is a request of its library and
which argument is the url, the method, the payload. Detectors never touch syntax trees, so
they are cheap, pure and easy to test from examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from decouple.detect.facts import RawCall
from decouple.detect.values import Dyn, Lit, Obj, Value
from decouple.model import Category


@dataclass(frozen=True, slots=True)
class Match:
    """A call recognised as a request."""

    #: Client label shown to users: ``requests``, ``requests.Session``, ``httpx.AsyncClient``...
    client: str
    #: HTTP method (upper case), the RPC name for gRPC, or ``None`` when not known statically.
    method: str | None
    #: The url, path or (gRPC) nothing: ``Lit("")`` when the target is all in ``base``.
    url: Value
    #: The url argument as written in the source.
    url_src: str
    #: A base url (``base_url=``), a host, or a gRPC channel target, combined with ``url``.
    base: Value | None = None
    protocol: str = "http"
    has_timeout: bool = False
    #: The payload argument as written (``json=order``).
    payload: str | None = None
    #: The client itself is asynchronous (its calls are awaited).
    is_async: bool = False
    #: For clients that name the callee service rather than a url (configured custom clients).
    service: Value | None = None
    #: Overrides the file's category (locust's client is load generation wherever it is).
    category: Category | None = None
    #: gRPC: the stub's qualified name, used to find the ``/pkg.Service/Method`` path.
    grpc_stub: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """Code a detector must find, with what it must report. ``line`` is 1-based in ``code``."""

    code: str
    client: str
    method: str | None
    url_src: str
    line: int


class Detector:
    """Base class of client detectors. Subclasses set the class variables and ``match``."""

    #: Short name, also the module name under ``detect/``.
    name: ClassVar[str] = ""
    #: Top-level modules whose functions or classes the detector recognises; a file that
    #: mentions none of them (and no known client object) is not parsed for this detector.
    modules: ClassVar[tuple[str, ...]] = ()
    #: Method names that make a request when called on one of this library's objects. Calls of
    #: these names on values defined in other files are kept for cross-file resolution.
    method_names: ClassVar[frozenset[str]] = frozenset()
    #: Whether any method of a recognised object is a call (gRPC stubs: any ``PascalCase``).
    any_pascal_method: ClassVar[bool] = False
    examples: ClassVar[tuple[Example, ...]] = ()
    #: Code that looks similar but must produce no call site.
    counter_examples: ClassVar[tuple[str, ...]] = ()

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        """Recognise ``call``; ``receiver`` is its receiver resolved to an object, if any."""
        raise NotImplementedError


HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})


def lit_upper(value: Value | None) -> str | None:
    """An HTTP method from a value: its upper-cased text when it is a literal."""
    if isinstance(value, Lit) and value.text.strip():
        return value.text.strip().upper()
    return None


def has_kwarg(call: RawCall, *names: str) -> bool:
    """True when one of ``names`` is passed and is not a literal ``None``."""
    for key, value in call.kwargs:
        if key in names and not (isinstance(value, Dyn) and value.text == "None"):
            return True
    return False


def payload_of(call: RawCall, *keys: str) -> str | None:
    """The first payload keyword present, as written: ``json=order``."""
    for key, text in call.kwarg_src:
        if key in keys:
            return f"{key}={text}"
    return None
