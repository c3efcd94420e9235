"""Which files a scan parses: the candidates up front, then what resolution asks for.

A call to another service sits in a file that names its client: the client library (as
code: imported, or the base of an attribute; :func:`names_as_code`), a configured client, a
learned helper, or a client object defined elsewhere. Routes sit in files
that use a route-declaring construct, and code ports in ``run(port=...)``. Those files are
the *candidates*, parsed first (:func:`candidate_prefilter`); in a large codebase they are a
few percent of it. Everything else is parsed only when it is asked for:

- :func:`asked_paths`: resolution runs on what is parsed, through an index that records
  every lookup (``app/asking.py``); the modules it looked in are parsed (a lookup of
  ``shop.config.USERS_URL`` asks for ``shop/config.py``), Django settings modules when it
  read ``settings.X``, files naming a Flask ``config[...]`` key or application slot it
  read; then resolution runs again, until it asks for nothing new.
- :func:`client_names`: the client objects found so far (a module-level ``session =
  requests.Session()``, an attribute holding a stub); a file naming one and connected to its
  module by imports (``app/rereads.py``, as for helpers) may call it without naming the
  client library (``from .http import session; session.get(url)``).

Both are followed until nothing new is asked. The broad prefilter of older versions
(:func:`broad_prefilter`: settings, ``environ``, ``://``, framework names...) is kept behind
``ScanOptions.full_parse``; the benchmark compares the call sites of the two.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.needles import Holds, holding, present
from decouple_services.core.records import record

if TYPE_CHECKING:
    from decouple_services.detect.base import Detector
    from decouple_services.detect.extract import ExtractOptions
    from decouple_services.detect.facts import FileFacts
    from decouple_services.detect.values import Value
    from decouple_services.resolve.calls import FilePass
    from decouple_services.resolve.index import ProjectIndex


#: A regular expression over bytes, tried only on a file containing one of its needles
#: (``bytes in`` is a fast scan; a regular expression over every file is not).
Pattern = tuple[tuple[bytes, ...], bytes]
#: A pattern with the frameworks one of which a file must be able to import for a match to
#: mean anything (:func:`may_import`).
Framed = tuple[tuple[bytes, ...], Pattern]


@record(slots=False)
class Prefilter:
    """Byte-level test of whether a file is worth parsing: any of ``tokens`` as a
    substring, or any of ``patterns`` matching. No tokens and no patterns: every file
    passes."""

    tokens: tuple[bytes, ...]
    patterns: tuple[Pattern, ...] = ()
    #: Names that pass a file only where it names one as code that can bind it
    #: (:func:`names_as_code`): the client libraries' modules.
    names: tuple[bytes, ...] = ()
    #: Those of ``names`` that pass a file only where it may also make a request of the
    #: library (``MAY_CALL``: aiohttp's files mostly import it for its errors or its server).
    calls: tuple[bytes, ...] = ()
    #: Whether a package's ``__init__.py`` importing names passes whatever else it holds
    #: (``pipeline.reexports``): the everything-parsed path reads what it re-exports up
    #: front; on-demand parsing parses it when resolution asks for its package, as any
    #: module (homeassistant: 626 such files, a quarter of the first pass, most never asked).
    reexports: bool = True
    #: Patterns read only in a file that may import one of their frameworks: a route
    #: extractor finds nothing in a module importing none of its own (``ROUTE_FRAMED``).
    framed: tuple[Framed, ...] = ()
    #: Whether a call of a request helper of another package passes a file
    #: (:func:`calls_a_library_helper`).
    library_helpers: bool = False

    @property
    def everything(self) -> bool:
        return (
            not self.tokens
            and not self.patterns
            and not self.names
            and not self.framed
            and not self.library_helpers
        )

    def passes(self, source: bytes, module: str = "") -> bool:
        """Whether ``source`` passes; ``module`` (its dotted name) tells whether a relative
        import in it may name a framework of ``framed``."""
        if self.everything:
            return True
        found = present(_needles(self), source)
        if not found.isdisjoint(self.tokens):
            return True
        if self.names:
            plain = _plain_names(self.names, self.calls)
            if plain and names_as_code(plain, source, found):
                return True
            if any(
                # named as code first: most files holding the name hold it in a longer one
                # (homeassistant: 923 files hold `aiohttp`, 414 name it as code)
                name in found and names_as_code((name,), source, found) and MAY_CALL[name](source)
                for name in self.calls
            ):
                return True
        return (
            any(_matches(pattern, source, found=found) for pattern in self.patterns)
            or any(
                _matches(pattern, source, frameworks, module, found)
                for frameworks, pattern in self.framed
            )
            or (self.library_helpers and calls_a_library_helper(source, found))
        )

    def packages(self) -> tuple[str, ...]:
        """The packages a module may lie in to pass where the same text elsewhere does not
        (a relative import naming a framework of ``framed``: :func:`may_import`)."""
        return tuple(sorted({f.decode() for frameworks, _ in self.framed for f in frameworks}))

    def key(self) -> list[str]:
        """What the prefilter is, for cache keys of what it rejected."""
        return [
            *(t.decode("utf-8", "replace") for t in self.tokens),
            *(r.decode("utf-8", "replace") for _, r in self.patterns),
            *(f"<code> {n.decode('utf-8', 'replace')}" for n in self.names),
            *(f"<calls> {n.decode('utf-8', 'replace')}" for n in self.calls),
            *(
                f"<in {b','.join(f).decode()}> {r.decode('utf-8', 'replace')}"
                for f, (_, r) in self.framed
            ),
            *([] if self.reexports else ["<no re-exports>"]),
            *(["<library helpers>"] if self.library_helpers else []),
        ]


EVERYTHING = Prefilter(())


def _matches(
    pattern: Pattern,
    source: bytes,
    frameworks: tuple[bytes, ...] = (),
    module: str = "",
    found: Holds | None = None,
) -> bool:
    """Whether ``source`` holds one of ``pattern``'s needles, may import one of
    ``frameworks`` (when given) and matches its expression, in that order: the needles
    are the rarest. ``found``: the needles and frameworks ``source`` holds, when known
    (:func:`present`)."""
    needles, regex = pattern
    held = source if found is None else found
    return (
        any(n in held for n in needles)
        and (not frameworks or may_import(frameworks, source, module, found))
        and _compiled(regex).search(source) is not None
    )


def may_import(
    frameworks: tuple[bytes, ...],
    source: bytes,
    module: str,
    found: Holds | None = None,
) -> bool:
    """Whether a module may import one of ``frameworks`` (top package names, or their
    leading part: ``fastapi`` for ``fastapi_users`` too): its text names one, or the module
    is inside such a package, where a relative import names it without its text
    (``from .routing import Route`` in ``starlette/applications.py``)."""
    held = source if found is None else found
    return any(f in held for f in frameworks) or module.encode().startswith(frameworks)


@lru_cache(maxsize=16)
def _needles(prefilter: Prefilter) -> tuple[bytes, ...]:
    """Every string whose presence anywhere in a file :meth:`Prefilter.passes` tests,
    for one scan of the file to find them all."""
    plain = _plain_names(prefilter.names, prefilter.calls)
    return tuple(
        sorted(
            {
                *prefilter.tokens,
                *(lead for lead, _ in _name_plan(plain)),
                *prefilter.calls,
                *(lead for name in prefilter.calls for lead, _ in _name_plan((name,))),
                *(n for needles, _ in prefilter.patterns for n in needles),
                *(n for frameworks, (needles, _) in prefilter.framed for n in needles),
                *(HELPER_NEEDLES if prefilter.library_helpers else ()),
                *(f for frameworks, _ in prefilter.framed for f in frameworks),
            }
        )
    )


@lru_cache(maxsize=16)
def _plain_names(names: tuple[bytes, ...], calls: tuple[bytes, ...]) -> tuple[bytes, ...]:
    return tuple(n for n in names if n not in calls)


@lru_cache(maxsize=64)
def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern, re.MULTILINE)


#: Bytes that continue an identifier: ASCII word characters, and every byte of a non-ASCII
#: character (an identifier may hold letters of any script, a library's name never does).
_IDENTIFIER_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
) | {*range(0x80, 0x100)}
#: What follows a name used as an attribute base: ``x.get``, ``x . Session``.
_ATTRIBUTE = re.compile(rb"[ \t]*\.[ \t]*[A-Za-z_\x80-\xff]")
#: The names an ``import`` keyword binds: ``import a, x as y`` (lines joined by ``\``), and
#: the names of a from-import, parenthesised over several lines with comments between.
_IMPORTED_NAMES = re.compile(
    rb"import(?:[ \t]*\((?:[\w\s.,\\]|#[^\n]*)*|(?:[ \t]|\\\r?\n)+(?:[\w. \t,]|\\\r?\n)*)"
)
#: The module a from-import reads: ``from x.sub import``, ``from . x import`` (as far as its
#: ``import``, which ends the match).
_FROM_MODULE = lazy_pattern(
    rb"from(?:[ \t]|\\\r?\n)+(?:\.[ \t]*)*(?:\w+(?:[ \t]*\.[ \t]*\w+)*)?"
    rb"(?:[ \t]|\\\r?\n)+import(?![\w\x80-\xff])"
)


def _code_names(names: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """``names`` and the names a compatibility layer gives one of them (``from six.moves
    import urllib_request`` binds ``urllib.request``: see ``detect.context.standard_name``)."""
    from decouple_services.detect.context import moved_names

    found = set(names)
    for moved, standard in moved_names():
        if standard.split(".", 1)[0].encode() in names:
            found.add(moved.encode())
    return tuple(sorted(found))


@lru_cache(maxsize=16)
def _name_plan(names: tuple[bytes, ...]) -> tuple[tuple[bytes, re.Pattern[bytes]], ...]:
    """``names`` as scans: each name under the shortest of them it holds (``urllib3``,
    ``urllib_request`` under ``urllib``; ``requests_oauthlib`` under ``requests``), found by
    one substring test for that one and then one regular expression for any of them as a
    name (no identifier byte after it: the byte before is tested by hand, a look-behind
    first would cost the literal scan)."""
    every = _code_names(names)
    groups: dict[bytes, list[bytes]] = {}
    for name in every:
        lead = min((o for o in every if o in name), key=lambda o: (len(o), o))
        groups.setdefault(lead, []).append(name)
    plan = []
    for lead, members in sorted(groups.items()):
        longest_first = sorted(members, key=lambda m: (-len(m), m))
        if all(m.startswith(lead) for m in members):
            tails = b"|".join(re.escape(m[len(lead) :]) for m in longest_first if m != lead)
            body = re.escape(lead) + (
                b"(?:" + tails + b")" + (b"?" if lead in members else b"") if tails else b""
            )
        else:
            body = b"(?:" + b"|".join(re.escape(m) for m in longest_first) + b")"
        pattern = re.compile(body + rb"(?![\w\x80-\xff])")
        plan.append((lead, pattern))
    return tuple(plan)


def names_as_code(names: tuple[bytes, ...], source: bytes, found: Holds | None = None) -> bool:
    """Whether ``source`` names one of ``names`` (modules) where code can bind it or use
    it: as a whole name (not inside ``aiohttp_client`` or ``my_requests_helper``) in an
    import statement (``import x``, ``import a, x as y``, ``from x.sub import``, ``from pkg
    import x``, from-imports over several lines), or as an attribute base (``x.get``, not
    ``self.x.get``). A name is bound to a module only by an import (``detect.context``'s
    ``build_imports``): the word in a docstring or a comment, or inside a longer
    identifier, binds nothing. ``found``: the leads of :func:`_name_plan` ``source`` holds,
    when known (:func:`present`)."""
    held = source if found is None else found
    for lead, pattern in _name_plan(names):
        if lead not in held:
            continue
        starts = []
        for match in pattern.finditer(source):
            start, end = match.span()
            if start and source[start - 1] in _IDENTIFIER_BYTES:
                continue
            if _ATTRIBUTE.match(source, end) is not None and not _after_dot(source, start):
                return True
            starts.append(start)
        if starts and _imported(source, starts):
            return True
    return False


def _after_dot(source: bytes, start: int) -> bool:
    """Whether a ``.`` comes before ``start`` (spaces and tabs between): ``self.x``."""
    i = start - 1
    while i >= 0 and source[i] in b" \t":
        i -= 1
    return i >= 0 and source[i] == 0x2E


def _imported(source: bytes, found: list[int]) -> bool:
    """Whether one of the names starting at ``found`` (in order) is in an import statement:
    among the names an ``import`` binds, or in a from-import's module."""
    for pattern, skip, back in ((_IMPORTED_NAMES, 6, 0), (_FROM_MODULE(), 4, 6)):
        for match in pattern.finditer(source):
            start = match.start()
            if start and source[start - 1] in _IDENTIFIER_BYTES:
                continue
            first, last = start + skip, match.end() - back
            at = bisect.bisect_left(found, first)
            if at < len(found) and found[at] < last:
                return True
    return False


#: What a file naming aiohttp must name besides for a call in it to be taken as aiohttp's
#: through its own text (``detect/aiohttp_.py``): a request is a method of a
#: ``ClientSession`` (built, annotated, subclassed: the class named) or the function
#: ``aiohttp.request`` (``aiohttp.client``'s); an unannotated ``session`` parameter holds
#: the session of the one client library its module imports (``ModuleContext.session_type``),
#: whatever it imports of it. A file importing only ``ClientError``, ``web`` or a type makes
#: none: a session it uses from elsewhere is found as any client object is
#: (``client_names``). Homeassistant: 365 of its 807 candidates passed through aiohttp.
_AIOHTTP_SESSION = re.compile(rb"ClientSession(?![\w\x80-\xff])")
_AIOHTTP_CALLS = rb"request|client"
#: An unannotated parameter's name, as ``ModuleContext.session_type`` types it (a default
#: or the end of the parameter next).
_SESSION_PARAMETERS = tuple(
    re.compile(name + rb"(?![\w\x80-\xff])[ \t]*(?:[,)=#]|\\?\r?\n)")
    for name in (rb"session", rb"http(?:_session|_client)?")
)
_DEF = lazy_pattern(rb"def[ \t]+[\w\x80-\xff]+[ \t]*(?:\[[^\]\n]*\][ \t]*)?\(")


def may_call_aiohttp(source: bytes) -> bool:
    """Whether a file naming aiohttp as code may make a request of it through its own
    text: it names ``ClientSession``, imports ``request``, ``client`` or ``*`` from aiohttp,
    writes ``aiohttp.request`` or ``aiohttp.client`` (under any name it binds aiohttp or
    one of its modules to), or has an unannotated ``session`` parameter."""
    for match in _AIOHTTP_SESSION.finditer(source):
        if not match.start() or source[match.start() - 1] not in _IDENTIFIER_BYTES:
            return True
    return _library_used(source, b"aiohttp", _AIOHTTP_CALLS) or _session_parameter(source)


#: What a request of requests is made with (``detect/requests_.py``): a module function
#: (``requests.get``, ``requests.api.request``) or a method of a ``Session`` (built,
#: annotated, subclassed; ``requests.session()``, ``requests.sessions.Session``).
_REQUESTS_CALLS = rb"get|post|put|patch|delete|head|options|request|Session|session|api|sessions"
#: The same of httpx (``detect/httpx_.py``): a module function (``httpx.stream`` too) or
#: a method of a ``Client`` or ``AsyncClient`` (``httpx._client.Client`` where defined).
_HTTPX_CALLS = (
    rb"get|post|put|patch|delete|head|options|request|stream|Client|AsyncClient|_api|_client"
)


def may_call_requests(source: bytes) -> bool:
    """Whether a file naming requests as code may make a request through its own text
    (:func:`_may_call`). Most of homeassistant's files naming it import its exceptions
    alone (97 of 149)."""
    return _may_call(source, b"requests", _REQUESTS_CALLS)


def may_call_httpx(source: bytes) -> bool:
    """Whether a file naming httpx as code may make a request through its own text
    (:func:`_may_call`): not one importing its errors or annotating with its ``Response``
    (homeassistant: 30 of 43 files)."""
    return _may_call(source, b"httpx", _HTTPX_CALLS)


def _may_call(source: bytes, library: bytes, names: bytes) -> bool:
    """Whether ``source`` imports one of ``names`` (or ``*``) from ``library``, writes one
    after a name it binds ``library`` or one of its modules to, or hands that name to
    ``getattr``; or has an unannotated ``session`` parameter
    (``ModuleContext.session_type``). A call of a request helper of another package
    passes any file, whatever it names (:func:`calls_a_library_helper`)."""
    return _library_used(source, library, names, getattr_too=True) or _session_parameter(source)


def _library_used(source: bytes, library: bytes, names: bytes, getattr_too: bool = False) -> bool:
    """Whether ``source`` imports one of ``names`` (an alternation) or ``*`` from
    ``library`` or one of its modules, or writes ``bound.<name>`` (or, ``getattr_too``,
    ``getattr(bound, ...)``) for a name ``bound`` to one of them."""
    for match in _from_import(library).finditer(source):
        start = match.start()
        if (not start or source[start - 1] not in _IDENTIFIER_BYTES) and (
            _imported_names(names).search(match.group(1)) is not None
        ):
            return True
    bound = {library, *(m.group(1) for m in _alias(library).finditer(source))}
    for name in bound:
        for match in _calling(name, names, getattr_too).finditer(source):
            start = match.start()
            if not start or (
                source[start - 1] not in _IDENTIFIER_BYTES and source[start - 1] != 0x2E
            ):
                return True
    return False


@lru_cache(maxsize=8)
def _from_import(library: bytes) -> re.Pattern[bytes]:
    """The names a from-import of ``library`` or one of its modules binds (``*`` included);
    a relative one too (``from .aiohttp import request`` in a top-level module names
    aiohttp)."""
    return re.compile(
        rb"from(?:[ \t]|\\\r?\n)+(?:\.[ \t]*)*"
        + re.escape(library)
        + rb"(?:[ \t]*\.[ \t]*\w+)*(?:[ \t]|\\\r?\n)+import"
        rb"((?:[ \t]*\((?:[\w\s.,\\*]|#[^\n]*)*|(?:[ \t]|\\\r?\n)+(?:[\w. \t,*]|\\\r?\n)*))"
    )


@lru_cache(maxsize=8)
def _imported_names(names: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![\w.])(?:" + names + rb")(?![\w\x80-\xff])|\*")


@lru_cache(maxsize=8)
def _alias(library: bytes) -> re.Pattern[bytes]:
    """A name ``library`` (or one of its modules) is bound to: ``import aiohttp.client as
    http``."""
    return re.compile(re.escape(library) + rb"(?:[ \t]*\.[ \t]*\w+)*[ \t]+as[ \t]+(\w+)")


@lru_cache(maxsize=256)
def _calling(name: bytes, names: bytes, getattr_too: bool) -> re.Pattern[bytes]:
    """``name.<one of names>`` (the byte before ``name`` is tested by hand: a look-behind
    first would cost the literal scan), or ``getattr(name, ...``."""
    found = re.escape(name) + rb"[ \t]*\.[ \t]*(?:" + names + rb")(?![\w\x80-\xff])"
    if getattr_too:
        found = rb"getattr[ \t]*\([ \t]*" + re.escape(name) + rb"[ \t]*,|" + found
    return re.compile(found)


def may_call_urllib(source: bytes) -> bool:
    """Whether a file naming urllib as code may make a request of it: it names one of its
    request functions or opener types (``urlopen``, ``build_opener``...). Most name it
    for ``urllib.parse`` alone (homeassistant: 79 files passed on that and nothing else,
    polar 18 holding 694 KB)."""
    return any(name in source for name in _urllib_calls())


@lru_cache(maxsize=1)
def _urllib_calls() -> tuple[bytes, ...]:
    from decouple_services.detect.urllib_request import CALL_NAMES

    return tuple(name.encode() for name in CALL_NAMES)


#: Libraries whose name passes a file only where it may also make one of their requests.
MAY_CALL: dict[bytes, Callable[[bytes], bool]] = {
    b"aiohttp": may_call_aiohttp,
    b"httpx": may_call_httpx,
    b"requests": may_call_requests,
    b"urllib": may_call_urllib,
}


def _session_parameter(source: bytes) -> bool:
    """Whether a function of ``source`` has an unannotated parameter named as a session
    (``SESSION_PARAMS``): one of those names in a ``def``'s parameters, at their top level,
    after ``(`` or ``,``."""
    defs: list[int] | None = None
    for pattern in _SESSION_PARAMETERS:
        for match in pattern.finditer(source):
            start = match.start()
            if start and (source[start - 1] in _IDENTIFIER_BYTES or source[start - 1] == 0x2E):
                continue
            if defs is None:
                defs = [
                    m.end() - 1
                    for m in _DEF().finditer(source)
                    if not m.start() or source[m.start() - 1] not in _IDENTIFIER_BYTES
                ]
            at = bisect.bisect_left(defs, start)
            if at and _in_parameters(source, defs[at - 1], start):
                return True
    return False


def _in_parameters(source: bytes, opening: int, at: int) -> bool:
    """Whether ``at`` starts a parameter of the list opening at ``opening`` (``(``): the
    list is still open there, at its top level, after ``(``, ``,`` or ``*``."""
    depth = 0
    last = 0
    i = opening
    while i < at:
        c = source[i]
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
            if depth == 0:
                return False
        elif c == 0x23:  # a comment, to the end of its line
            end = source.find(b"\n", i)
            i = at if end < 0 else end
            continue
        elif c in b"'\"":
            quote = source[i : i + 3] if source[i : i + 3] in (b"'''", b'"""') else bytes((c,))
            i += len(quote)
            while i < at and not source.startswith(quote, i):
                i += 2 if source[i] == 0x5C else 1
            i += len(quote)
            last = c
            continue
        if c not in b" \t\r\n\\":
            last = c
        i += 1
    return depth == 1 and last in b"(,*"


#: A module named ``config`` imported (``from . import config``, ``from app.config import
#: X``, ``import app.config as cfg``): its constants and client objects may be used here.
#: The bare word would match ``config_entry`` and ``ConfigEntry`` in most files of some trees.
CONFIG_IMPORT: Pattern = ((b"config",), rb"\b(?:import|from)[ \t][^\n]*\bconfig\b")

#: A request on a client object a class keeps (``self.client.post(...)``,
#: ``self._session.get(...)``): in a subclass, the object its project base class makes,
#: with no client library named in the file.
KEPT_CLIENT: Pattern = (
    (b"self.",),
    rb"self\.\w*(?:client|session|http)\w*\.(?:get|post|put|patch|delete|head|options|request"
    rb"|send|stream)\(",
)


#: A call's own arguments up to where a keyword may be: read through three levels of
#: parentheses inside them (``data=json.dumps(dict(a=f(1)))``).
_ARGUMENTS = rb"\((?:[^()]|\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*?"


@lru_cache(maxsize=1)
def _helper_calls() -> tuple[
    tuple[bytes, ...], re.Pattern[bytes], tuple[bytes, ...], re.Pattern[bytes]
]:
    """What :func:`calls_a_library_helper` looks for: the fetching verbs' prefixes
    (``get_``), what follows one in a call handed ``headers=``, what the request helpers'
    names hold before ``request`` (``make_``), and what follows ``request`` in a call
    handed ``url=`` or an HTTP verb first."""
    from decouple_services.detect.base import HTTP_VERBS
    from decouple_services.detect.library_helper import FETCH_VERBS, HELPER_NAMES

    verbs = b"|".join(sorted(v.encode() for v in HTTP_VERBS))
    return (
        tuple(sorted(f"{v}_".encode() for v in FETCH_VERBS)),
        re.compile(rb"\w*\s*" + _ARGUMENTS + rb"\bheaders\s*=(?!=)"),
        tuple(sorted(n.removesuffix("request").encode() for n in HELPER_NAMES if n != "request")),
        re.compile(
            rb"\s*(?:\(\s*[rRbBuU]?[\"'](?i:"
            + verbs
            + rb")[\"']|"
            + _ARGUMENTS
            + rb"\burl\s*=(?!=))"
        ),
    )


def calls_a_library_helper(source: bytes, found: Holds | None = None) -> bool:
    """Whether ``source`` may call a request helper of another package
    (``detect/library_helper.py``), whatever else it names: a helper named for fetching
    handed ``headers=`` (ansible's ``fetch_url(module, url, headers=headers)``, in files
    naming no client library), or ``request(``, ``make_request(`` or ``send_request(``
    handed ``url=`` or an HTTP verb first. Each is tried where its name starts (a search
    for the names anywhere doubled the candidate test's time on homeassistant).
    ``found``: the strings of :data:`HELPER_NEEDLES` ``source`` holds, when known."""
    held = source if found is None else found
    prefixes, fetching, fronts, requesting = _helper_calls()
    if b"headers" in held:
        for prefix in prefixes:
            at = source.find(prefix)
            while at != -1:
                if (not at or source[at - 1] not in _IDENTIFIER_BYTES) and fetching.match(
                    source, at + len(prefix)
                ):
                    return True
                at = source.find(prefix, at + 1)
    if b"request" in held:
        at = source.find(b"request")
        while at != -1:
            start = next((at - len(f) for f in fronts if source.endswith(f, 0, at)), at)
            if (not start or source[start - 1] not in _IDENTIFIER_BYTES) and requesting.match(
                source, at + 7
            ):
                return True
            at = source.find(b"request", at + 7)
    return False


#: The strings :func:`calls_a_library_helper` needs in a file to look further.
HELPER_NEEDLES = (b"headers", b"request")


def _client_tokens(options: ExtractOptions) -> set[str]:
    tokens = {*options.client_modules, *options.wrapper_names}
    if "http" in tokens:
        # http.client, not every "https://", "aiohttp" or "HTTP_OK": those have tokens of
        # their own where they matter
        tokens.discard("http")
        tokens.update({"http.client", "http import client"})
    tokens.update(q.rpartition(".")[2] for q in options.custom_clients)
    return tokens


def broad_prefilter(options: ExtractOptions) -> Prefilter:
    """Every file that may hold a call, a route or any definition a call may use (the
    everything-parsed path, ``ScanOptions.full_parse``)."""
    from decouple_services.detect.servers import FRAMEWORK_TOKENS

    tokens = _client_tokens(options) | set(FRAMEWORK_TOKENS)
    tokens.update(
        {
            "://",
            "environ",
            "getenv",
            "settings",
            "Settings",
            "Stub",
            "_HOST",
            "_URL",
            "_ADDR",
            "decouple: migrated",  # sends an earlier migration wrote
        }
    )
    return Prefilter(
        tuple(sorted(t.encode() for t in tokens if t)),
        (CONFIG_IMPORT, KEPT_CLIENT),
        library_helpers=True,
    )


#: What a route extractor reads (``detect/servers/``), as text a file must contain: Django
#: URLconfs, decorators naming a route method, route-table calls and classes, gRPC
#: servicers and generated stubs. Framework names alone (``django`` is in nearly every file
#: of a Django project) are not enough. Django views (the methods a view accepts) are not
#: candidates: the endpoints ask for their handlers' modules.
ROUTE_TOKENS: tuple[str, ...] = (
    "add_url_rule",
    "register_blueprint",
    "add_resource",
    "add_namespace",
    "add_api_route",
    "include_router",
    ".mount(",
    "add_route",
    "add_view",
    "add_subapp",
    "RouteTableDef",
    "Servicer",
    "_grpc",
    "Stub",
    *(f"add_{verb}" for verb in ("get", "post", "put", "patch", "delete", "head", "options")),
)
_VERBS = rb"(?:route|get|post|put|patch|delete|head|options|trace|api_route|view|websocket)"
# Each pattern runs only on the files holding one of its needles: a pattern that does not
# start with a literal tries every position of the file (ten times slower than a scan).
ROUTE_PATTERNS: tuple[Pattern, ...] = (
    # a decorator naming a route method: `@app.get("/")`, `@bp.route(...)`
    ((b"@",), rb"@[^\n]*\.[ \t]*" + _VERBS + rb"\b"),
    # `app.run(port=5001)`: a port only the code states
    ((b"port",), rb"port[ \t]*=[ \t]*\d"),
)
#: Route constructs named by the framework's own imports: each extractor reading them
#: returns nothing for a module importing nothing of its framework (``starlette``,
#: ``fastapi``; ``django``, ``rest_framework``; ``aiohttp``). Their words are common
#: elsewhere: netbox's 483 KB airport table names a `Mount`, homeassistant's integrations
#: a `Router` or `path(`; those files are parsed only when resolution asks for them.
ROUTE_FRAMED: tuple[Framed, ...] = (
    # Django URLconfs: `path(`, `re_path(`, `url(`, `include(` as names of their own (not
    # `os.path(`, `get_url(`, `def path(self)` or CSS's `"url(#clip)"`; the look-behinds
    # after the literal keep the fast scan for it), in a module naming the modules the
    # extractor's names come from (`django` alone passed most of netbox's models and
    # tests), or `rest_framework` (a DRF router's `urlpatterns`)
    (
        (b"django.urls", b"django.conf.urls", b"rest_framework"),
        (
            (b"path(", b"url(", b"urlpatterns", b"include("),
            rb"path\((?<![\w.]path\()(?<!def path\()|re_path\((?<![\w.]re_path\()(?<!def re_path\()"
            rb"|url\((?<![\w.\"']url\()(?<!def url\()|urlpatterns|include\((?<![\w.]include\()"
            rb"(?<!def include\()",
        ),
    ),
    # Starlette and FastAPI route tables and applications, DRF's routers
    (
        (b"starlette", b"fastapi", b"rest_framework"),
        (
            (b"Route", b"Mount", b"Starlette", b"FastAPI"),
            rb"(?:Route|Mount|Router|Starlette|FastAPI)\b",
        ),
    ),
    (
        (b"aiohttp",),
        ((b"web.",), rb"web\.(?:get|post|put|patch|delete|head|options|route|view)\b"),
    ),
)


#: Libraries whose name passes a file as a substring still. A gRPC call is made on a stub,
#: most often reached through an object whose type only resolution knows (a generic client
#: keeping a stub, read through a parameter annotated with a class holding such clients:
#: ``grpc_clients.users.request().get_user(...)``): extraction records it by its shape, and
#: nothing a resolution asks for leads to the file. Such files name gRPC in their
#: identifiers (``grpc_clients``, ``grpc_stub``), as its generated modules do (``_grpc``).
SUBSTRING_LIBRARIES = frozenset({"grpc"})


def _library_names(options: ExtractOptions) -> set[str]:
    """The client libraries' modules among ``options``' that pass a file only named as
    code (not the top modules of configured clients, nor the names of learned helpers,
    which pass a file as substrings)."""
    from decouple_services.detect.registry import DETECTORS, client_modules

    tokens = _client_tokens(options)
    configured = {q.split(".", 1)[0] for q in options.custom_clients}
    libraries = options.client_modules & client_modules(DETECTORS)
    names = {
        m
        for m in libraries
        if m in tokens
        and m not in SUBSTRING_LIBRARIES
        and m not in configured
        and m not in options.wrapper_names
    }
    if "http" in libraries and "http.client" in tokens and "http" not in configured:
        # the standard library's client, named by its module (``_client_tokens``): not
        # inside ``aiohttp.client_exceptions`` (homeassistant: 40 files passed on that alone)
        names.add("http.client")
    return names


def candidate_prefilter(options: ExtractOptions) -> Prefilter:
    """Files that may hold a call (they name a client library as code, a configured
    client, a learned helper, call a request helper of another package, or carry a
    ``# decouple:`` directive), a route or a code port."""
    names = _library_names(options)
    tokens = (_client_tokens(options) - names) | {"decouple:", *ROUTE_TOKENS}
    return Prefilter(
        tuple(sorted(t.encode() for t in tokens if t)),
        ROUTE_PATTERNS,
        names=tuple(sorted(n.encode() for n in names)),
        framed=ROUTE_FRAMED,
        calls=tuple(sorted(n.encode() for n in names if n.encode() in MAY_CALL)),
        reexports=False,
        library_helpers=True,
    )


# --- definitions on demand ---------------------------------------------------------------


@record(frozen=False, slots=False)
class Asked:
    """What resolution looked up: qualified names (constants, functions, settings classes,
    stubs), whether it read a Django setting, Flask config keys and application slots."""

    qualnames: set[str] = field(default_factory=set)
    django_settings: bool = False
    #: Words a defining file must all name (``("state", "http")`` for ``@state.http``).
    words: set[tuple[str, ...]] = field(default_factory=set)
    #: Keys of aiohttp application slots (``app["session"] = ...``, ``app[KEY] = ...``).
    keys: set[str] = field(default_factory=set)
    #: Classes (their last name) whose objects resolution looked for, each with the field
    #: it reads of them when it reads one given by keyword (``("Organization", "id")``):
    #: the files that may build one (:func:`building`).
    built: set[tuple[str, ...]] = field(default_factory=set)


class Tap(Protocol):
    """Told every lookup an asking index makes (``app/asking.py``; see
    ``app/incremental.py``)."""

    def read(self, table: str, key: Any) -> None:
        """``key`` looked up in the index's ``table`` (``"*"``: the table was walked)."""

    def asks(self, item: Ask) -> None:
        """``item`` noted in ``Asked`` (:func:`ask`)."""


#: One thing noted in ``Asked``: ``("q", qualname)``, ``("s", framework, key)``, ``("w",
#: word, ...)``, ``("b", class name)`` or ``("b", class name, keyword)``.
Ask = tuple[str, ...]

#: The index's tables resolution reads by key, and whether a missing key reads as ``[]``.
WATCHED_TABLES: dict[str, bool] = {
    "constants": True,
    "functions": True,
    "settings": True,
    "constructions": True,
    "grpc_methods": False,
    "settings_classes": False,
    "classes": False,
}


def ask(asked: Asked, item: Ask) -> None:
    """Note ``item`` in ``asked``: a qualified name looked up, or a setting read."""
    if item[0] == "s":
        if item[1] == "django":
            asked.django_settings = True
        else:
            asked.words.add(("config", item[2]))
    elif item[0] == "w":
        asked.words.add(item[1:])
    elif item[0] == "b":
        asked.built.add(item[1:])
    else:
        _note_qualname(item[1], asked)


def _note_qualname(qualname: str, asked: Asked) -> None:
    if qualname.startswith("@"):
        if qualname.startswith("@app["):
            key = _slot_key(qualname)
            if key:
                asked.keys.add(key)
            return
        if qualname.startswith("@state."):
            words = slot_words(qualname)
            if words:
                asked.words.add(words)
        # The other names under "@" are kinds of value (`@answer.group`: a field of what a
        # request answered), which no file's text names: looking for "answer" and
        # "group" found polar's largest test modules.
    else:
        asked.qualnames.add(qualname)


def is_django_settings_module(module: str) -> bool:
    parts = module.split(".")
    return "settings" in parts or parts[-1].endswith("settings")


#: How a text search is made: ``search(kind, terms, paths, run)`` gives what ``run(paths)``
#: finds (``app/incremental.py``'s ``SearchMemo`` answers it for unchanged files).
Search = Callable[
    [str, Iterable[object], Sequence[str], Callable[[list[str]], Iterable[str]]], list[str]
]
#: The kinds of search whose answer for several terms is the files found for any one of
#: them, each file tested for each term on its own (:func:`naming`'s groups,
#: :func:`assigning`'s keys, :func:`building`'s classes): ``SearchMemo`` answers one from
#: the last scan's searches of the same kind sharing terms with it too (a rerun seeding
#: the files the last scan parsed on demand asks in one round what it asked in several,
#: or for fewer terms than a round of the last scan).
ANY_TERM = frozenset({"words", "keys", "built"})


def searched(
    kind: str,
    terms: Iterable[object],
    paths: Sequence[str],
    run: Callable[[list[str]], Iterable[str]],
) -> list[str]:
    """A text search made as it is: every file read."""
    return list(run(list(paths)))


def asked_paths(
    asked: Asked,
    modules: Mapping[str, Sequence[str]],
    unparsed: Iterable[str],
    read: Callable[[str], bytes | None],
    search: Search = searched,
) -> set[str]:
    """Files not parsed yet that may define something resolution looked up: the module of
    each qualified name (its longest prefix naming a module: ``a.b.C.x`` in ``a/b.py``),
    Django settings modules when a Django setting was read, files naming a Flask config
    key or an application slot (``@state.http``, ``@app["session"]``) that was read, and
    files that may build an object of a class whose objects were looked for.
    ``modules`` maps module names to paths (several services often have modules of the
    same name: all of them are asked for)."""
    todo = set(unparsed)
    out: set[str] = set()
    for qualname in asked.qualnames:
        # the defining module: the longest prefix that is a module of the tree; a module's
        # own name is bound by its package, if anywhere (`from . import template`)
        name = qualname.removesuffix("()")
        if name in modules:
            name = name.rpartition(".")[0]
        while name and name not in modules:
            name = name.rpartition(".")[0]
        out.update(p for p in modules.get(name, ()) if p in todo)
    if asked.django_settings:
        out.update(
            p
            for module, paths in modules.items()
            if is_django_settings_module(module)
            for p in paths
            if p in todo
        )
    words, keys, built = asked.words, asked.keys, asked.built
    if words:
        out.update(search("words", words, sorted(todo - out), lambda p: naming(p, words, read)))
    if keys:
        out.update(search("keys", keys, sorted(todo - out), lambda p: assigning(p, keys, read)))
    if built:
        out.update(search("built", built, sorted(todo - out), lambda p: building(p, built, read)))
    return out


def slot_words(qualname: str) -> tuple[str, ...]:
    """What a file assigning an application slot names: ``@state.http`` -> ``("state",
    ".http")`` (:func:`naming`: ``http`` as an attribute, or a key a lifespan yields);
    ``@app[session]`` -> ``("session",)``; nothing for a bare ``@state``."""
    body = qualname[1:]
    if body.startswith("app["):
        key = _slot_key(qualname)
        return (key,) if key else ()
    head, _, rest = body.partition(".")
    name = rest.partition(".")[0].partition("[")[0]
    if not name:
        return ()
    # extraction fills `@state.http` from `<...>.state.http = ...` and from a lifespan's
    # `yield {"http": ...}` alone
    return (head, f".{name}") if head == "state" else (head, name)


def _slot_key(qualname: str) -> str:
    """The key of the aiohttp application slot ``qualname`` (``@app[...]``) reads, as a
    file filling it writes it: ``session`` for ``@app[session]``, ``KEY_HASS`` for
    ``@app[homeassistant.const.KEY_HASS].loop.call_later()`` (not ``call_later()``)."""
    return qualname[5:].partition("]")[0].rpartition(".")[2]


# --- client objects named elsewhere ------------------------------------------------------


def client_names(
    facts: Sequence[FileFacts], options: ExtractOptions, detectors: Sequence[Detector] = ()
) -> set[str]:
    """The definitions that hold a client object, by qualified name: ``shop.http.session``
    for ``session = requests.Session()``, ``shop.api.get_stub`` for a function returning a
    stub (``shop.api.get_stub()``), aliases of those, the project's classes deriving from
    a client class; application slots (``@state.http``) as they are written. A client is what one of ``detectors`` recognises a request on
    (``requests.Session``, not ``aiohttp.web.Response``), a stub, or a configured client;
    what a client's call returns (``requests.Session().get()``) is not one."""
    return ClientNames(options, detectors)(facts)


class ClientNames:
    """:func:`client_names` of one scan's facts, asked again after each round of asking:
    the facts grow by a few files a round (homeassistant: nine times over some 34,000
    constants, 4% of a cold scan), and most constants answer as they did.

    A constant's answer depends only on the constants its search looked up (hits and
    misses: a ``Ref``'s target, a type's ``T()`` and ``T.__bases__``), and the searches of
    types are remembered across constants (``is_client_type``). Every key looked up is
    kept: when no constant looked up changed (none added where one was missed, none
    removed or given another value), every earlier answer and remembered search holds,
    and only the constants added or changed are searched; otherwise everything is
    searched again, as the first time."""

    def __init__(self, options: ExtractOptions, detectors: Sequence[Detector] = ()) -> None:
        self.options = options
        self.detectors = detectors
        self._probe = _client_probe(options, detectors)
        # a configured client or a class holding one (`shop.rpc` for `shop.rpc.Client.call`)
        custom = {*options.custom_clients}
        custom.update(c[:i] for c in options.custom_clients for i, x in enumerate(c) if x == ".")
        self._custom = frozenset(custom)
        #: Each qualified name's first value among the facts, and the position of the
        #: facts giving it; the facts of the last call.
        self._constants: dict[str, Value] = {}
        self._owner: dict[str, int] = {}
        self._facts: list[FileFacts] = []
        #: The keys of ``_constants`` whose constant holds a client, and those naming a
        #: client class's bases.
        self._holders: set[str] = set()
        self._classes: set[str] = set()
        #: Every key a search looked up, found or not.
        self._consulted: set[str] = set()
        # Whether a type is a client, searched at most 6 steps deep: an answer found with
        # some steps left holds with more of them, and a refusal with fewer (kind -> the
        # deepest start that found one, the shallowest that found none). Project class
        # hierarchies share their bases; without this each was walked again for every
        # constant.
        self._found_from: dict[str, int] = {}
        self._refused_from: dict[str, int] = {}
        #: How the last call answered: searching everything, or the changed constants.
        self.full = 0
        self.partial = 0

    def __call__(self, facts: Sequence[FileFacts]) -> set[str]:
        from decouple_services.detect.facts import BASES

        changed = self._gather(facts)
        if changed is None or any(k in self._consulted for k in changed):
            self._holders.clear()
            self._classes.clear()
            self._consulted.clear()
            self._found_from.clear()
            self._refused_from.clear()
            self.full += 1
            todo: Iterable[str] = self._constants
        else:
            self._holders.difference_update(changed)
            self._classes.difference_update(changed)
            self.partial += 1
            todo = changed
        self._search(todo)
        return {q.removesuffix("()") for q in self._holders} | {
            q.removesuffix(f".{BASES}") for q in self._classes
        }

    def held(self) -> set[str]:
        """Those of the last call's names that hold a client object (``session =
        requests.Session()``, ``self.session = ...``), not a function returning one."""
        return {q for q in self._holders if not q.endswith("()")}

    def _gather(self, facts: Sequence[FileFacts]) -> list[str] | None:
        """Bring the constants (each qualified name's first value, in the order of
        ``facts``) up to ``facts``: the keys added or given another value since the last
        call, or None when one may be gone (or on the first call)."""
        last = self._facts
        self._facts = list(facts)
        constants = self._constants
        owner = self._owner
        if last and len(last) == len(facts):
            # a round of asking parses files that had no facts: the list in the same
            # order, some empty facts replaced, and their constants to add
            moved = [
                i for i, (new, old) in enumerate(zip(facts, last, strict=True)) if new is not old
            ]
            if not any(last[i].constants for i in moved):
                changed = []
                missing = _MISSING
                for i in moved:
                    for const in facts[i].constants:
                        key = const.qualname
                        at = owner.get(key)
                        if at is not None and at <= i:
                            continue  # defined first before, in a file before or in it
                        owner[key] = i
                        value = const.value
                        old = constants.get(key, missing)
                        if old is not value:
                            constants[key] = value
                            if old is missing or old != value:
                                changed.append(key)
                return changed
        fresh: dict[str, Value] = {}
        owner.clear()
        for i, f in enumerate(facts):
            for const in f.constants:
                if const.qualname not in fresh:
                    fresh[const.qualname] = const.value
                    owner[const.qualname] = i
        self._constants = fresh
        if not constants or not constants.keys() <= fresh.keys():
            return None
        missing = _MISSING
        return [
            key
            for key, value in fresh.items()
            if (old := constants.get(key, missing)) is not value
            and (old is missing or old != value)
        ]

    def _search(self, keys: Iterable[str]) -> None:
        from decouple_services.detect.facts import BASES
        from decouple_services.detect.values import Obj, Ref

        constants = self._constants
        search = _ClientSearch(self)
        suffix = f".{BASES}"
        for key in keys:
            value = constants[key]
            # only an object or a reference may be a client: the other values (most
            # constants) are not asked, a call each
            if isinstance(value, (Obj, Ref)) and search.is_client(value):
                self._holders.add(key)
            # a project's client class (`class InventoryClient(SwaggerClient)`): files
            # building objects of it are where they are used
            if key.endswith(suffix) and search.is_client_type(key.removesuffix(suffix), 0):
                self._classes.add(key)


class _ClientSearch:
    """One search of :class:`ClientNames`: whether a value or a type is a client. Methods
    rather than closures calling each other, which are in a cycle of references and kept
    the constants until the collector's next full collection."""

    __slots__ = (
        "_bases",
        "_constants",
        "_consulted",
        "_custom",
        "_found_from",
        "_obj",
        "_probe",
        "_ref",
        "_refused_from",
    )

    def __init__(self, names: ClientNames) -> None:
        from decouple_services.detect.facts import BASES
        from decouple_services.detect.values import Obj, Ref

        self._bases, self._obj, self._ref = BASES, Obj, Ref
        self._constants = names._constants
        self._consulted = names._consulted
        self._probe = names._probe
        self._custom = names._custom
        self._found_from = names._found_from
        self._refused_from = names._refused_from

    def get(self, key: str) -> Value | None:
        self._consulted.add(key)
        return self._constants.get(key)

    def is_client_type(self, kind: str, depth: int) -> bool:
        found_from, refused_from = self._found_from, self._refused_from
        if depth <= found_from.get(kind, -1):
            return True
        if depth >= refused_from.get(kind, 99):
            return False
        answer = self.search_type(kind, depth)
        if answer:
            found_from[kind] = max(depth, found_from.get(kind, -1))
        else:
            refused_from[kind] = min(depth, refused_from.get(kind, 99))
        return answer

    def search_type(self, kind: str, depth: int) -> bool:
        if "()" in kind:
            return False
        if self._probe(kind) or kind.endswith("Stub") or kind in self._custom:
            return True
        if depth > 6:
            return False
        made = self.get(kind + "()")
        if made is not None and self.is_client(made, depth + 1):
            return True
        bases = self.get(f"{kind}.{self._bases}")
        ref = self._ref
        return isinstance(bases, self._obj) and any(
            isinstance(b, ref) and self.is_client_type(b.qualname, depth + 1) for b in bases.args
        )

    def is_client(self, value: Value, depth: int = 0) -> bool:
        if isinstance(value, self._obj):
            return value.type != self._bases and self.is_client_type(value.type, depth)
        if isinstance(value, self._ref) and depth <= 6:
            found = self.get(value.qualname)
            return found is not None and self.is_client(found, depth + 1)
        return False


_MISSING: Any = object()


#: An operation of one of a client's resources (``client.pet.getPetById(...)``), as
#: extraction records it: a client generated from an API description is a client too.
_OPERATION = "resource.operation"


def _client_probe(options: ExtractOptions, detectors: Sequence[Detector]) -> Callable[[str], bool]:
    """Whether some detector takes a request method called on an object of a type (of a
    client library's module); without detectors, every type of such a module."""
    from decouple_services.detect.facts import RawCall
    from decouple_services.detect.registry import match_call
    from decouple_services.detect.values import Lit, Obj

    shapes = ((Lit("http://decouple.invalid/"),), (Lit("GET"), Lit("http://decouple.invalid/")))
    known: dict[str, bool] = {}

    def probe(kind: str) -> bool:
        if kind.split(".", 1)[0] not in options.client_modules:
            return False
        if not detectors:
            return True
        if kind not in known:
            receiver = Obj(kind)
            known[kind] = any(
                match_call(
                    RawCall(
                        1,
                        1,
                        0,
                        "<module>",
                        name,
                        None,
                        receiver,
                        args,
                        (),
                        tuple(f"a{i}" for i in range(len(args))),
                        (),
                        False,
                        False,
                        False,
                    ),
                    receiver,
                    detectors,
                )
                is not None
                for name in (*sorted(options.method_names), _OPERATION)
                for args in shapes
            )
        return known[kind]

    return probe


def assigning(
    paths: Sequence[str], keys: Iterable[str], read: Callable[[str], bytes | None]
) -> list[str]:
    """Those of ``paths`` that assign a subscript with one of ``keys`` (``x["key"] = ...``,
    ``x[KEY]: T = ...``): where an application slot is filled."""
    patterns = [(k.encode(), _assigning_pattern(k.encode())) for k in sorted(keys)]
    out = []
    for path in paths:
        data = read(path)
        if data is None:
            continue
        # Each key's pattern ends with a subscript's `]` and an assignment: a key is tested
        # only when it is written just before one. Half of homeassistant's files assign no
        # subscript, and most name `get` (a key it asks about) dozens of times, each a
        # match tried.
        ends = _subscript_assignments(data)
        if ends and any(
            any(_key_before(data, end, needle) for end in ends) and _whole(data, pattern, b".")
            for needle, pattern in patterns
        ):
            out.append(path)
    return out


#: What follows a key in an assignment of its subscript: a quote, the `]`, `=` (not `==`).
_ASSIGNED = rb"['\"]?[ \t]*\][ \t]*(?::[^=\n]*)?=(?!=)"
#: The `]` of every subscript's assignment (each only consumed: none hides the next).
_SUBSCRIPT_ASSIGNED = lazy_pattern(rb"\](?=[ \t]*(?::[^=\n]*)?=(?!=))")


@lru_cache(maxsize=256)
def _assigning_pattern(key: bytes) -> re.Pattern[bytes]:
    return re.compile(re.escape(key) + _ASSIGNED)


def _subscript_assignments(data: bytes) -> list[int]:
    """Where the text before each assigned subscript's `]` ends, its spaces and tabs left
    out: every match of a key's pattern has its `]` at one of them."""
    ends = []
    for match in _SUBSCRIPT_ASSIGNED().finditer(data):
        end = match.start()
        while end and data[end - 1] in b" \t":
            end -= 1
        ends.append(end)
    return ends


def _key_before(data: bytes, end: int, key: bytes) -> bool:
    """Whether ``data`` up to ``end`` may end with ``key`` and a quote or not: what a match
    of the key's pattern there needs (a key ending with spaces lost them to the strip)."""
    if data.endswith(key.rstrip(b" \t"), 0, end):
        return True
    return end > 0 and data[end - 1] in b"'\"" and data.endswith(key, 0, end - 1)


def building(
    paths: Sequence[str],
    classes: Iterable[tuple[str, ...]],
    read: Callable[[str], bytes | None],
) -> list[str]:
    """Those of ``paths`` that may build an object of one of ``classes`` (last names, each
    alone or with a keyword the object must be given): they call it (``Organization(``,
    ``models.Organization(``, ``(Organization)(``, ``Generic[T](``), or import it under
    another name (``Organization as Org``), which a call may use; and they pass the
    keyword (``id=``) somewhere. Extraction records an object's type through imports and
    attributes only, never through a name assigned in the module (``Org = Organization``
    makes ``Org(...)`` an object of ``mod.Org``), so a file that names the class otherwise
    cannot hold one. Naming the class is far more common than building it: polar's model
    classes are named by hundreds of files that only annotate with them, and built with
    their ``id`` by a few (the field a test's address reads)."""
    wanted = sorted({c for c in classes if c and all(c)})
    if not wanted:
        return []
    needles = [
        (c[0].encode(), _building_pattern(c[0].encode()), [_keyword_pattern(k) for k in c[1:]])
        for c in wanted
    ]
    # homeassistant asks for 14 classes of its 7,761 files left: one scan for all of them
    names = tuple(sorted({needle for needle, _, _ in needles}))
    out = []
    for path in paths:
        data = read(path)
        if data is None:
            continue
        held = holding(names, data)
        if any(
            needle in held
            and _whole(data, pattern)
            and all(_whole(data, keyword) for keyword in keywords)
            for needle, pattern, keywords in needles
        ):
            out.append(path)
    return out


@lru_cache(maxsize=256)
def _building_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(re.escape(name) + rb"\b(?:[\s)]*[(\[]|\s+as\s)")


@lru_cache(maxsize=256)
def _keyword_pattern(name: str) -> re.Pattern[bytes]:
    # `id=1` and `id = 1`, not `id == 1`
    return re.compile(re.escape(name.encode()) + rb"\b\s*=(?!=)")


@lru_cache(maxsize=1024)
def _word_pattern(word: bytes) -> re.Pattern[bytes]:
    if word[:1] and word[0] in _WORD_BYTES:
        return re.compile(re.escape(word) + rb"\b")
    # `\b` before a word that starts with no word character needs one before it
    return re.compile(rb"(?<=[\w])" + re.escape(word) + rb"\b")


def _names(data: bytes, word: bytes) -> bool:
    """Whether ``data`` names ``word`` as a whole word (``\\b`` on both sides)."""
    pattern = _word_pattern(word)
    if word[:1] and word[0] in _WORD_BYTES:
        return _whole(data, pattern)
    return pattern.search(data) is not None


_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _whole(data: bytes, pattern: re.Pattern[bytes], also: bytes = b"") -> bool:
    """Whether ``pattern`` (a literal word first) matches in ``data`` where no word
    character (nor one of ``also``) comes before it: ``\\b`` in front, tested by hand. A
    pattern starting with ``\\b``, a look-behind or an alternation has no literal for the
    engine to scan for and is tried at every position of the file, several times slower."""
    for match in pattern.finditer(data):
        start = match.start()
        if start == 0 or (data[start - 1] not in _WORD_BYTES and data[start - 1] not in also):
            return True
    return False


def naming(
    paths: Sequence[str],
    groups: Iterable[str | tuple[str, ...]],
    read: Callable[[str], bytes | None],
) -> list[str]:
    """Those of ``paths`` whose text names, as whole words, every word of one of ``groups``
    (a lone string is a group of one). A word written ``.http`` is named as an attribute
    (``app.state.http``) or as a string in a file that yields (``yield {"http": ...}``):
    polar's largest test modules name ``state`` and ``context``, none that way."""
    wanted = [(g,) if isinstance(g, str) else g for g in groups]
    wanted = [g for g in wanted if g and all(w.strip(".") for w in g)]
    if not wanted:
        return []
    words = sorted({w for g in wanted for w in g})
    needles = [(w, w.lstrip(".").encode()) for w in words]
    out = []
    for path in paths:
        data = read(path)
        if data is None:
            continue
        # a word named as a whole word is a substring first: the fast scan for each word
        # leaves the regular expression the few files holding one (one scan for all of
        # them, `holding`, gives each occurrence of common words such as `client`: slower)
        present = [(w, n) for w, n in needles if n in data]
        if not present or not any(all(w in dict(present) for w in g) for g in wanted):
            continue
        named = {w for w, n in present if (_filled(data, n) if w[0] == "." else _names(data, n))}
        if any(all(w in named for w in g) for g in wanted):
            out.append(path)
    return out


def _filled(data: bytes, name: bytes) -> bool:
    """Whether ``data`` names ``name`` as an attribute, or as a string beside a ``yield``."""
    if _attribute_pattern(name).search(data):
        return True
    return _names(data, b"yield") and _string_pattern(name).search(data) is not None


@lru_cache(maxsize=256)
def _attribute_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\.\s*" + re.escape(name) + rb"\b")


@lru_cache(maxsize=256)
def _string_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"[\"']" + re.escape(name) + rb"[\"']")


def naming_parameter(
    paths: Sequence[str], name: str, read: Callable[[str], bytes | None]
) -> list[str]:
    """Those of ``paths`` that may have a parameter ``name``: they name it as a whole word
    followed by what can follow a parameter's name in a signature (past blanks and line
    ends): ``:``, ``,``, ``)``, ``=``, a comment's ``#``, a continuation's backslash. A
    pytest fixture reaches a test only as a parameter of that name. The name of a package
    (``polar``, a fixture of polar's tests) is followed by ``.`` wherever a module imports
    from it (``from polar.models import User``), in nearly every file of its tests; a
    fixture's name is often a word of strings, comments and imports (``"polar"``,
    ``import redis``) in files that never take it."""
    needle = name.encode()
    pattern = _word_pattern(needle)
    out = []
    for path in paths:
        data = read(path)
        if data is None or needle not in data:
            continue
        for match in pattern.finditer(data):
            start, end = match.span()
            if start and data[start - 1] in _WORD_BYTES:
                continue
            rest = data[end : end + 200].lstrip(b" \t\f\r\n")
            if not rest or rest[0] in _AFTER_PARAMETER:
                out.append(path)
                break
    return out


#: What may follow a parameter's name in a signature, past blanks and line ends.
_AFTER_PARAMETER = frozenset(b":,)=#\\")


# --- resolution between rounds -------------------------------------------------------------


#: One lookup a file's resolution made: the index's table and the key.
Read = tuple[str, Any]
#: The table of a :class:`Read` of whether a client checks its requests' success.
_CHECKING = " checking"


class _Kept:
    """One file's resolution in the last round that made it: the facts it was made from,
    every table and key it read with the value found there (the object itself: the
    index's tables keep a definition's list from one round to the next while no file of
    it changed, ``resolve.index.IndexTables``), and whether it holds a call site (which
    reads the endpoints too)."""

    __slots__ = ("facts", "idle", "reads", "result", "sites")

    def __init__(
        self, facts: FileFacts, result: FilePass, reads: list[tuple[Read, Any]], sites: bool
    ) -> None:
        self.facts = facts
        self.result = result
        self.reads = reads
        self.sites = sites
        #: What looking up helpers read when none was known (``recall_idle``), or None.
        self.idle: list[tuple[Read, Any]] | None = None


class RoundMemo:
    """Each file's resolution kept from one round of asking to the next of the same scan,
    and reused while what it read is the same (a ``resolve.calls.ResolutionMemo``, told
    every lookup as a :class:`Tap`): a round parses a few more files and resolves the whole
    tree again, and most files read nothing the new files define (polar: 1,574 of 2,235
    resolutions of a scan; homeassistant 8,291 of 9,771).

    What ``app/incremental.py``'s ``SiteMemo`` does across scans, within one and without
    encoding anything: a file's facts are the same object (a helper pass extracting it
    again gives new ones), every table and key its resolution read holds the same object
    (misses included: ``None`` both times), the global inputs are equal (for a file with
    a call site, the endpoints too), each client it asked about checks its requests'
    success or not as then (``checked``), and it walked no table whole. The scan's asks
    are kept in one ``Asked`` that only grows, so a reused resolution's asks are there."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        #: The global inputs of the round (``context``) and of the round before.
        self._matching: object = None
        self._sites: object = None
        self._same_matching = False
        self._same_sites = False
        self._checking: frozenset[str] = frozenset()
        self._index: ProjectIndex | None = None
        #: What the file being resolved read, and whether it walked a table.
        self._reads: set[Read] | None = None
        self._walked = False
        #: Files whose kept resolution this round made or reused (what ``idle`` extends).
        self._current: set[str] = set()
        self.fresh = 0
        self.reused = 0

    def context(self, matching: object, sites: object) -> None:
        """The global inputs of the next resolution: what matching depends on, and what
        call sites depend on besides (compared with ``==`` to the last round's)."""
        self._same_matching = matching == self._matching
        self._same_sites = self._same_matching and sites == self._sites
        self._matching, self._sites = matching, sites

    # -- ResolutionMemo ---------------------------------------------------------------------

    def start(self, index: ProjectIndex, checking: frozenset[str]) -> None:
        self._index = index
        self._current.clear()
        # the functions checking their requests' success decide how a call site reads: a
        # read of its own for each client a resolution asked about (``checked``), not one
        # of them all (a round adds functions of the files it parses, polar's each round,
        # and its call sites were then all resolved again for clients none of them checks)
        self._checking = checking

    def recall(self, facts: FileFacts) -> FilePass | None:
        kept = self._kept.get(facts.path)
        if (
            kept is None
            or kept.facts is not facts
            or not (self._same_sites if kept.sites else self._same_matching)
            or not self._unchanged(kept.reads)
        ):
            return None
        self._current.add(facts.path)
        self.reused += 1
        return kept.result

    def enter(self, facts: FileFacts) -> None:
        self._reads, self._walked = set(), False

    def keep(self, facts: FileFacts, result: FilePass) -> None:
        reads, self._reads = self._reads, None
        self.fresh += 1
        if reads is None or self._walked:
            self._kept.pop(facts.path, None)
            return
        sites = any(o is not None and o.site is not None for o in result.outcomes)
        self._kept[facts.path] = _Kept(facts, result, self._values(reads), sites)
        self._current.add(facts.path)

    def recall_idle(self, facts: FileFacts) -> bool:
        kept = self._kept.get(facts.path)
        return (
            kept is not None
            and facts.path in self._current
            and kept.idle is not None
            and self._unchanged(kept.idle)
        )

    def enter_idle(self, facts: FileFacts) -> None:
        self._reads, self._walked = set(), False

    def keep_idle(self, facts: FileFacts) -> None:
        reads, self._reads = self._reads, None
        kept = self._kept.get(facts.path)
        if kept is None or facts.path not in self._current:
            return
        kept.idle = None if reads is None or self._walked else self._values(reads)

    # -- Tap --------------------------------------------------------------------------------

    def read(self, table: str, key: Any) -> None:
        if self._reads is not None:
            if key == "*":
                self._walked = True
            else:
                self._reads.add((table, key))

    def asks(self, item: Ask) -> None:
        """Noted in the scan's ``Asked``, which keeps it: nothing to add."""

    def checked(self, client: str) -> None:
        self.read(_CHECKING, client)

    # -- comparing --------------------------------------------------------------------------

    def _value(self, read: Read) -> Any:
        if read[0] == _CHECKING:
            return read[1] in self._checking
        assert self._index is not None
        # dict.get: the raw table, without reporting the lookup
        return dict.get(self._index.table(read[0]), read[1])

    def _values(self, reads: Iterable[Read]) -> list[tuple[Read, Any]]:
        return [(read, self._value(read)) for read in reads]

    def _unchanged(self, reads: list[tuple[Read, Any]]) -> bool:
        return all(self._value(read) is value for read, value in reads)
