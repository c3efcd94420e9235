"""What a client detector is: a small class that recognises one client library's calls.

Extraction (``detect/extract.py``) records every call that *may* be a request as a
:class:`RawCall`, with its receiver and arguments as symbolic values. A detector then decides,
given the receiver resolved across files, whether the call is a request of its library and
which argument is the url, the method, the payload. Detectors never touch syntax trees, so
they are cheap, pure and easy to test from examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from decouple_services.core.model import Category
from decouple_services.core.records import record
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Dyn, Lit, Obj, Value


@record
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
    #: The response is consumed as a stream (``stream=True``, ``httpx.stream``, websockets):
    #: a migration blocker, since a fire-and-forget send has no stream to read.
    streaming: bool = False
    #: Only a function some other package provides matches this way: a function of the same
    #: name defined in the scanned repository is read as a helper instead.
    library_only: bool = False
    #: The kind of server the library's protocol talks to (``zipkin`` for a Zipkin span
    #: exporter): the callee's name when the address names no service of the tree.
    collector: str | None = None
    #: The library sends on its own schedule (a batching exporter): the caller never sees
    #: an answer, whatever it does with what the call returns.
    background: bool = False


@record
class Example:
    """Code a detector must find, with what it must report. ``line`` is 1-based in ``code``."""

    code: str
    client: str
    method: str | None
    url_src: str
    line: int


def snippet(code: str) -> str:
    """Example code written indented inside a class body, as it will be scanned: dedented,
    starting at line 1 (the newline after the opening quotes is dropped). The text
    ``textwrap.dedent`` makes of it, which every run's import of the detectors paid for in
    regular expressions over their 130 examples (3 ms, and 1.5 ms to import textwrap); a
    margin of tabs is left to it."""
    if "\t" in code:
        import textwrap

        return textwrap.dedent(code).lstrip("\n")
    lines = code.split("\n")
    # as dedent: lines of spaces alone are emptied and set no margin
    margin = min(
        (len(line) - len(line.lstrip(" ")) for line in lines if line.strip(" ")), default=0
    )
    return "\n".join(line[margin:] if line.strip(" ") else "" for line in lines).lstrip("\n")


class Detector:
    """Base class of client detectors. Subclasses set the class variables and ``match``."""

    #: Short name: the module name under ``detect/`` without the trailing underscore that
    #: keeps it from shadowing its library (``requests_.py`` -> ``requests``).
    name: ClassVar[str] = ""
    # ``modules`` and ``method_names`` are plain attributes rather than ClassVars so that a
    # detector built from configuration (``custom``) can set them per instance.
    #: Top-level modules whose functions or classes the detector recognises; a file that
    #: mentions none of them (and no known client object) is not parsed for this detector.
    modules: tuple[str, ...] = ()
    #: Method names that make a request when called on one of this library's objects. Calls of
    #: these names on values defined in other files are kept for cross-file resolution.
    method_names: frozenset[str] = frozenset()
    #: Library classes whose subclasses defined in the project the detector also takes: a
    #: call on an instance of such a subclass is matched as if on the library class, built
    #: with the subclass's constructor arguments.
    subclass_bases: frozenset[str] = frozenset()
    #: Whether any method of a recognised object is a call (gRPC stubs: any ``PascalCase``).
    any_pascal_method: ClassVar[bool] = False
    #: Whether functions of any module may match (helpers recognised by their shape).
    any_module: ClassVar[bool] = False
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


def is_none(value: Value | None) -> bool:
    """Whether ``value`` is the literal ``None`` (extraction records it as ``Dyn("None")``)."""
    return isinstance(value, Dyn) and value.text == "None"


def is_true(value: Value | None) -> bool:
    """Whether ``value`` is the literal ``True`` (booleans are kept as their text)."""
    return isinstance(value, Lit) and value.text == "True"


#: What a missing url argument (``requests.get(**kwargs)``) is recorded as.
MISSING = Dyn("?")


def argument(call: RawCall, index: int | None, key: str | None) -> tuple[Value, str]:
    """An argument's value and source text, by position or keyword; :data:`MISSING` and ``""``
    when the call does not pass it."""
    value = call.arg(index, key)
    if value is None:
        return MISSING, ""
    return value, call.src(index, key) or ""


def method_and_url(call: RawCall, method_first: bool) -> tuple[str | None, Value, str]:
    """The HTTP method and the url of a request call: ``request("POST", url)`` when
    ``method_first``, else ``post(url)`` (the method is the call's name)."""
    if method_first:
        return (lit_upper(call.arg(0, "method")), *argument(call, 1, "url"))
    return (call.name.upper(), *argument(call, 0, "url"))


def sets_timeout(value: Value | None) -> bool | None:
    """What a ``timeout=`` value says: ``None`` when it is absent (the library default
    applies), ``False`` when it disables timeouts (``None``, or a timeout object such as
    ``aiohttp.ClientTimeout()`` built with nothing but ``None``), ``True`` otherwise."""
    if value is None:
        return None
    if is_none(value):
        return False
    if isinstance(value, Obj) and value.type.rpartition(".")[2].endswith("Timeout"):
        given = [*value.args, *(v for _, v in value.kwargs)]
        return any(not is_none(v) for v in given)
    return True


def payload_of(
    call: RawCall, *keys: str, positional: Mapping[int, str] | None = None
) -> str | None:
    """The payload argument as written (``json=order``), preferring ``keys`` in the order
    given; a literal ``None`` is no payload. ``positional`` maps positions to parameter names
    for payloads that may be passed positionally (``requests.post(url, data)``); such a
    payload is shown as its source text alone.
    """
    for key in keys:
        for name, text in call.kwarg_src:
            if name == key and text != "None":
                return f"{key}={text}"
        for index, name in (positional or {}).items():
            if name == key and index < len(call.arg_src) and call.arg_src[index] != "None":
                return call.arg_src[index]
    return None
