"""Per-file facts: everything resolution needs to know about one file, and nothing more.

Facts are the unit of caching and of parallel work: extracted from one file's source alone,
serialisable to JSON, and small (whole syntax trees are never kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import field
from typing import Any, overload

from decouple_services.core.model import Diagnostic, Severity
from decouple_services.core.records import record
from decouple_services.detect.events import EventSend
from decouple_services.detect.values import Obj, Param, Ref, Value, decode, encode

#: The constant ``<class>.__bases__`` lists a class's project bases, as references.
BASES = "__bases__"
#: The ``name`` of a :class:`RawCall` calling a parameter of its function (``method(url)``
#: with ``method`` a parameter): a request once an invocation binds it to a client function.
CALL_PARAM = "__call__"
#: Parameter names that hold the request function a helper is handed
#: (``self._request(requests.post, url)``); calls of other parameters are callbacks.
REQUEST_FUNCTION_PARAMS = frozenset(
    {"method", "request_method", "http_method", "request", "request_func", "send", "verb"}
)


@record
class RawCall:
    """A call that may be an outgoing request, before any cross-file resolution.

    Either ``func`` is set (a function called by qualified name, ``requests.post``) or
    ``receiver`` is (a method ``name`` called on a value: a client object, or a reference to
    something defined elsewhere that may turn out to be one).
    """

    line: int
    end_line: int
    col: int
    #: Qualified name of the enclosing function, ``<module>`` at module level.
    function: str
    name: str
    func: str | None
    receiver: Value | None
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    #: Source text of each argument, then of each keyword argument (``json=order``).
    arg_src: tuple[str, ...]
    kwarg_src: tuple[tuple[str, str], ...]
    result_used: bool
    in_loop: bool
    #: Awaited: the call itself is asynchronous (a blocking call inside ``async def`` is not).
    is_async: bool
    #: ``# decouple: target=<service>`` on the call or the line above.
    target_override: str | None = None
    #: Submitted through ``executor.submit(fn, ...)`` and the like.
    submitted: bool = False
    #: Inside ``with transaction.atomic()``, ``session.begin()`` and the like.
    in_transaction: bool = False
    #: ``none``, ``status`` or ``body`` (:mod:`decouple_services.detect.response`).
    response_use: str = "none"
    #: The response's success is checked (``raise_for_status()``, ``if not resp.ok:``),
    #: whatever else reads it: a helper that does so aborts the callers that ignore it.
    status_checked: bool = False
    #: What ``mock.patch`` replaces around the call (the decorators of the enclosing
    #: functions and classes, ``with patch(...)`` blocks): dotted targets.
    patched: tuple[str, ...] = ()
    #: The method is called on a parameter of the enclosing function other than
    #: ``self``/``cls``: an object handed in, built wherever the caller built it.
    handed_in: bool = False

    @property
    def param(self) -> Param | None:
        """The receiver when it is a parameter of the enclosing function (as
        :class:`CallHead` gives it)."""
        receiver = self.receiver
        return receiver if isinstance(receiver, Param) else None

    @property
    def obj_type(self) -> str | None:
        """The class of the receiver when it is an object (as :class:`CallHead` gives it)."""
        receiver = self.receiver
        return receiver.type if isinstance(receiver, Obj) else None

    @property
    def ref_names(self) -> list[str]:
        """The last names of the references among the arguments (``submit(tasks.sync)``:
        ``sync``), in their order (as :class:`CallHead` gives them)."""
        # without a generator: asked of every call of a scan without cache, in each round
        found = [v.qualname.rpartition(".")[2] for v in self.args if isinstance(v, Ref)]
        if self.kwargs:
            found += [v.qualname.rpartition(".")[2] for _, v in self.kwargs if isinstance(v, Ref)]
        return found

    def kwarg(self, key: str) -> Value | None:
        for k, v in self.kwargs:
            if k == key:
                return v
        return None

    def arg(self, index: int | None, key: str | None = None) -> Value | None:
        if key is not None:
            found = self.kwarg(key)
            if found is not None:
                return found
        if index is not None and 0 <= index < len(self.args):
            return self.args[index]
        return None

    def src(self, index: int | None, key: str | None = None) -> str | None:
        if key is not None:
            for k, text in self.kwarg_src:
                if k == key:
                    return text
        if index is not None and 0 <= index < len(self.arg_src):
            return self.arg_src[index]
        return None


@record
class FunctionInfo:
    qualname: str
    params: tuple[str, ...]
    is_async: bool
    line: int
    #: For methods: ``self``/``cls`` is the first of ``params`` and is skipped on invocation.
    is_method: bool = False
    #: Parameter -> its default, when the default is a value the scan can follow
    #: (``def notify(webhook=settings.SLACK_URL)``): what a call leaving it out passes.
    defaults: tuple[tuple[str, Value], ...] = ()


@record
class Constant:
    """A module-level, class-level or ``self.`` attribute assignment."""

    qualname: str
    value: Value
    line: int


@record
class RawRoute:
    """A server route as written: owner object, methods, path, handler."""

    framework: str
    #: The app/router/blueprint the route is registered on (``Ref`` or ``Obj``).
    owner: Value
    methods: tuple[str, ...]
    path: Value
    handler: str
    line: int
    protocol: str = "http"


@record
class RawMount:
    """``register_blueprint``, ``include_router``, Django ``include``, aiohttp ``add_subapp``."""

    framework: str
    parent: Value
    child: Value
    prefix: Value
    line: int


@record
class GrpcMethod:
    """From a generated ``*_pb2_grpc.py``: a stub or servicer method and its full RPC path."""

    stub: str
    servicer: str
    method: str
    path: str
    #: How the stub binds it: ``unary_unary``, or a streaming kind (``unary_stream``,
    #: ``stream_unary``, ``stream_stream``), whose call reads or sends a stream.
    kind: str = "unary_unary"


@record
class Port:
    port: int
    line: int
    how: str


@record
class FileFacts:
    path: str
    module: str
    constants: tuple[Constant, ...] = ()
    functions: tuple[FunctionInfo, ...] = ()
    #: A tuple, or for facts read from the cache the calls still encoded
    #: (:class:`EncodedCalls`, decoded on first use).
    calls: Sequence[RawCall] = ()
    routes: tuple[RawRoute, ...] = ()
    mounts: tuple[RawMount, ...] = ()
    grpc_methods: tuple[GrpcMethod, ...] = ()
    ports: tuple[Port, ...] = ()
    #: Qualified names of pydantic ``BaseSettings`` classes, with their ``env_prefix``.
    settings_classes: tuple[tuple[str, str], ...] = ()
    #: Imports a load-testing framework (locust): calls here are load generation.
    is_loadgen: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Lines carrying ``# decouple: ignore``.
    ignored_lines: tuple[int, ...] = field(default=())
    #: Lines carrying ``# decouple: ignore[DCP004, ...]``, with the rule codes named there.
    suppressions: tuple[tuple[int, tuple[str, ...]], ...] = field(default=())
    #: Sends an earlier ``decouple migrate`` wrote (under their provenance marker).
    events: tuple[EventSend, ...] = ()
    #: Learned helpers' short names the file mentions other than by calling them (a
    #: function handed on as a callback).
    references: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return self._json([_call_to_json(c) for c in self.calls])

    def to_cache(self) -> str:
        """:func:`cache_text` of :meth:`to_json`, made from the calls themselves (a scan
        writes the facts of every file it parses)."""
        heads: list[list[Any]] = []
        tails: list[list[Any]] = []
        for c in self.calls:
            receiver = None if c.receiver is None else encode(c.receiver)
            heads.append(
                [
                    c.line,
                    c.col,
                    c.function,
                    c.name,
                    c.func,
                    c.status_checked,
                    _receiver_head(receiver),
                    c.ref_names,
                ]
            )
            tails.append([c.end_line, receiver, *_call_fields(c), list(c.patched), c.handed_in])
        return _joined(self._json(None), heads, tails)

    def _json(self, calls: list[Any] | None) -> dict[str, Any]:
        """The JSON form, with ``calls`` (left out when None)."""
        data = {
            "path": self.path,
            "module": self.module,
            "constants": [[c.qualname, encode(c.value), c.line] for c in self.constants],
            "functions": [
                [
                    f.qualname,
                    list(f.params),
                    f.is_async,
                    f.line,
                    f.is_method,
                    [[name, encode(value)] for name, value in f.defaults],
                ]
                for f in self.functions
            ],
            "calls": calls,
            "routes": [
                [
                    r.framework,
                    encode(r.owner),
                    list(r.methods),
                    encode(r.path),
                    r.handler,
                    r.line,
                    r.protocol,
                ]
                for r in self.routes
            ],
            "mounts": [
                [m.framework, encode(m.parent), encode(m.child), encode(m.prefix), m.line]
                for m in self.mounts
            ],
            "grpc_methods": [
                [g.stub, g.servicer, g.method, g.path, g.kind] for g in self.grpc_methods
            ],
            "ports": [[p.port, p.line, p.how] for p in self.ports],
            "settings_classes": [list(s) for s in self.settings_classes],
            "is_loadgen": self.is_loadgen,
            "diagnostics": [
                [d.file, d.line, d.severity.value, d.code, d.message] for d in self.diagnostics
            ],
            "ignored_lines": list(self.ignored_lines),
            "suppressions": [[line, list(codes)] for line, codes in self.suppressions],
            "events": [e.to_json() for e in self.events],
            "references": list(self.references),
        }
        if calls is None:
            del data["calls"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileFacts:
        return cls._from_parts(data, tuple([_call_from_json(c) for c in data["calls"]]))

    @classmethod
    def from_cache(cls, body: bytes, key: str = "") -> FileFacts:
        """Facts from their cache form (:func:`cache_text`), the calls left encoded until
        first used (:class:`EncodedCalls`); ``key`` names the entry in the error raised
        should they not decode then."""
        rest, tab, calls = body.partition(b"\t")
        heads, tab2, tails = calls.partition(b"\t")
        if not (tab and tab2):
            raise ValueError("not the facts' cache form")
        return cls._from_parts(
            json.loads(rest), () if heads == b"[]" else EncodedCalls(heads, tails, key)
        )

    @classmethod
    def _from_parts(cls, data: dict[str, Any], calls: Sequence[RawCall]) -> FileFacts:
        # lists built by comprehension, not by generators (a rerun decodes the facts of
        # every file it parsed)
        return cls(
            data["path"],
            data["module"],
            tuple([Constant(q, decode(v), ln) for q, v, ln in data["constants"]]),
            tuple(
                [
                    FunctionInfo(q, tuple(p), a, ln, m, tuple([(n, decode(v)) for n, v in d]))
                    for q, p, a, ln, m, d in data["functions"]
                ]
            ),
            calls,
            tuple(
                [
                    RawRoute(fw, decode(o), tuple(ms), decode(p), h, ln, proto)
                    for fw, o, ms, p, h, ln, proto in data["routes"]
                ]
            ),
            tuple(
                [
                    RawMount(fw, decode(p), decode(c), decode(x), ln)
                    for fw, p, c, x, ln in data["mounts"]
                ]
            ),
            tuple([GrpcMethod(*g) for g in data["grpc_methods"]]),
            tuple([Port(*p) for p in data["ports"]]),
            tuple([(q, prefix) for q, prefix in data["settings_classes"]]),
            data["is_loadgen"],
            tuple(
                [
                    Diagnostic(f, ln, Severity(s), code, msg)
                    for f, ln, s, code, msg in data["diagnostics"]
                ]
            ),
            tuple(data["ignored_lines"]),
            tuple([(line, tuple(codes)) for line, codes in data.get("suppressions", ())]),
            tuple([EventSend.from_json(e) for e in data.get("events", ())]),
            tuple(data.get("references", ())),
        )


def _call_to_json(c: RawCall) -> list[Any]:
    return [
        c.line,
        c.end_line,
        c.col,
        c.function,
        c.name,
        c.func,
        None if c.receiver is None else encode(c.receiver),
        *_call_fields(c),
        c.status_checked,
        list(c.patched),
        c.handed_in,
    ]


def _call_fields(c: RawCall) -> list[Any]:
    """A call's arguments and flags, in the order both its JSON form and its cache tail
    write them."""
    return [
        [encode(a) for a in c.args],
        [[k, encode(v)] for k, v in c.kwargs],
        list(c.arg_src),
        [list(kv) for kv in c.kwarg_src],
        c.result_used,
        c.in_loop,
        c.is_async,
        c.target_override,
        c.submitted,
        c.in_transaction,
        c.response_use,
    ]


def _call_from_json(d: list[Any]) -> RawCall:
    # positionally, in the fields' order, with ``map`` over the lists: a rerun decodes
    # the calls of every file it parsed (polar: a tenth of a rerun after a new request)
    return RawCall(
        d[0],
        d[1],
        d[2],
        d[3],
        d[4],
        d[5],
        None if d[6] is None else decode(d[6]),
        tuple([decode(a) for a in d[7]]) if d[7] else (),
        tuple([(k, decode(v)) for k, v in d[8]]) if d[8] else (),
        tuple(d[9]),
        tuple(map(tuple, d[10])) if d[10] else (),
        d[11],
        d[12],
        d[13],
        d[14],
        d[15],
        d[16],
        d[17],
        d[18],
        tuple(d[19]),
        d[20] if len(d) > 20 else False,
    )


#: A call's JSON form, as the facts cache holds it (also for helpers kept by resolution).
call_to_json = _call_to_json
call_from_json = _call_from_json


# --- the facts' cache form: the calls apart, left encoded until used -----------------------
#
# A rerun after an edit reads the facts of every file it parsed from the cache, and most
# files' calls are never resolved again: their resolution is recalled as it was
# (``app/incremental.py``). Those calls are still looked up as helpers' invocations, which
# reads a few fields of each (:class:`CallHead`). The cache form keeps those fields of
# every call apart from the rest, each part a JSON text of its own: the rest is decoded
# (and the calls made whole) only for the files whose calls are resolved or a helper's
# invocation (polar: the calls were half the cache's bytes, and decoding them two thirds
# of decoding the facts).


def cache_text(data: dict[str, Any]) -> str:
    """The cache form of facts given as :meth:`FileFacts.to_json` gives them: the facts
    but their calls, the calls' heads, the rest of the calls, as three JSON texts joined
    by tabs (JSON text holds none)."""
    calls = data["calls"]
    heads = [
        [c[0], c[2], c[3], c[4], c[5], c[18], _receiver_head(c[6]), _ref_names(c[7], c[8])]
        for c in calls
    ]
    tails = [[c[1], c[6], *c[7:18], c[19], c[20] if len(c) > 20 else False] for c in calls]
    return _joined({name: value for name, value in data.items() if name != "calls"}, heads, tails)


def _joined(rest: dict[str, Any], heads: list[list[Any]], tails: list[list[Any]]) -> str:
    # json.dumps as it is: given separators, it makes an encoder each time (slower)
    return f"{json.dumps(rest)}\t{json.dumps(heads)}\t{json.dumps(tails)}"


def _receiver_head(receiver: Any) -> Any:
    """What a call's head keeps of its receiver: a parameter whole, an object's class,
    the kind of anything else."""
    if receiver is None:
        return None
    if receiver[0] == "P":
        return receiver
    if receiver[0] == "O":
        return receiver[:2]
    return receiver[:1]


def _ref_names(args: list[Any], kwargs: list[list[Any]]) -> list[str]:
    """:attr:`RawCall.ref_names` of a call's encoded arguments."""
    values = [*args, *(value for _, value in kwargs)]
    return [value[1].rpartition(".")[2] for value in values if value[0] == "R"]


class CallHead:
    """What looking a call up as a helper's invocation reads of it (``resolve/calls.py``'s
    ``_wrapper_for``), decoded alone from the cache: the fields of :class:`RawCall` of
    the same names, its receiver when that is a parameter (``param``) or the class of the
    object it is (``obj_type``), the last names of the references it is given
    (``ref_names``), and its place among the file's calls (``index``)."""

    __slots__ = (
        "col",
        "func",
        "function",
        "index",
        "line",
        "name",
        "obj_type",
        "param",
        "ref_names",
        "status_checked",
    )

    def __init__(self, row: list[Any], index: int) -> None:
        self.line: int = row[0]
        self.col: int = row[1]
        self.function: str = row[2]
        self.name: str = row[3]
        self.func: str | None = row[4]
        self.status_checked: bool = row[5]
        receiver = row[6]
        self.param: Param | None = None
        self.obj_type: str | None = None
        if receiver is not None:
            if receiver[0] == "P":
                self.param = Param(receiver[1], receiver[2])
            elif receiver[0] == "O":
                self.obj_type = receiver[1]
        self.ref_names: list[str] = row[7]
        self.index = index


class UndecodableFacts(ValueError):
    """Facts read from the cache whose calls, left encoded, do not decode (a damaged or
    foreign entry, found only when its calls are first used): ``key`` names the entry."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the cached facts {key} do not decode")
        self.key = key


class EncodedCalls(Sequence[RawCall]):
    """A file's calls as the facts cache holds them (:func:`cache_text`): their heads
    decoded on first use (:func:`call_heads`), the calls whole only when one is read.
    Equal to, hashed and shown as the tuple of the calls."""

    __slots__ = ("_calls", "_heads", "_raw_heads", "_raw_tails", "key")

    def __init__(self, heads: bytes, tails: bytes, key: str = "") -> None:
        self._raw_heads = heads
        self._raw_tails = tails
        self.key = key
        self._heads: list[CallHead] | None = None
        self._calls: tuple[RawCall, ...] | None = None

    def heads(self) -> list[CallHead]:
        found = self._heads
        if found is None:
            try:
                rows = json.loads(self._raw_heads)
                found = [CallHead(row, i) for i, row in enumerate(rows)]
            except Exception as exc:  # any content at all: see UndecodableFacts
                raise UndecodableFacts(self.key) from exc
            self._heads = found
        return found

    def heads_unless_decoded(self) -> Sequence[RawCall | CallHead]:
        """The calls when decoded already, else their heads."""
        return self._calls if self._calls is not None else self.heads()

    def decoded(self) -> tuple[RawCall, ...]:
        found = self._calls
        if found is None:
            heads = self.heads()
            try:
                tails = json.loads(self._raw_tails)
                found = tuple([_call_from_parts(h, t) for h, t in zip(heads, tails, strict=True)])
            except Exception as exc:  # any content at all: see UndecodableFacts
                raise UndecodableFacts(self.key) from exc
            self._calls = found
        return found

    def __len__(self) -> int:
        return len(self._calls if self._calls is not None else self.heads())

    @overload
    def __getitem__(self, index: int) -> RawCall: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[RawCall, ...]: ...

    def __getitem__(self, index: int | slice) -> RawCall | tuple[RawCall, ...]:
        return self.decoded()[index]

    def __iter__(self) -> Iterator[RawCall]:
        return iter(self.decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EncodedCalls):
            return self.decoded() == other.decoded()
        if isinstance(other, tuple):
            return self.decoded() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.decoded())

    def __repr__(self) -> str:
        return repr(self.decoded())

    def __reduce__(self) -> tuple[Any, ...]:
        return EncodedCalls, (self._raw_heads, self._raw_tails, self.key)


def _call_from_parts(h: CallHead, t: list[Any]) -> RawCall:
    """A call from its head and the rest of its cache form (``_call_from_json``'s order)."""
    return RawCall(
        h.line,
        t[0],
        h.col,
        h.function,
        h.name,
        h.func,
        None if t[1] is None else decode(t[1]),
        tuple([decode(a) for a in t[2]]) if t[2] else (),
        tuple([(k, decode(v)) for k, v in t[3]]) if t[3] else (),
        tuple(t[4]),
        tuple(map(tuple, t[5])) if t[5] else (),
        t[6],
        t[7],
        t[8],
        t[9],
        t[10],
        t[11],
        t[12],
        h.status_checked,
        tuple(t[13]),
        t[14],
    )


def call_heads(calls: Sequence[RawCall]) -> Sequence[RawCall | CallHead]:
    """What resolution reads of calls it may not resolve (their functions, names,
    receivers' kinds): the calls themselves, or the heads of calls still encoded, the
    rest left so."""
    if type(calls) is EncodedCalls:
        return calls.heads_unless_decoded()
    return calls


def whole_call(calls: Sequence[RawCall], call: RawCall | CallHead) -> RawCall:
    """The call of ``calls`` that ``call`` (from :func:`call_heads`) is."""
    return call if isinstance(call, RawCall) else calls[call.index]
