"""What the helper a call goes through adds to the request it makes, read with ``ast``.

A call made through the repository's own client (``client.post("/case/accesses",
json=data)`` into ``APIClient._request``) sends what the call site names and what the
helper adds on its own: ``headers=``, ``auth=`` and ``params=`` on its request, what it
writes into the ``**kwargs`` it passes on (``kwargs["headers"] = ...``), and headers or
auth set on the session it sends through (``self.session``, a module-level session, one
it opens; an OAuth session holds a credential of its own). The send carries only what the call site names (the
codemod reads its ``headers=``), so what the helper adds is lost, and the consumer calls
the callee without it. Read like the call site's own headers (``codemod._call_headers``):

* a credential (``Authorization``, ``Cookie``, a header named like a secret, ``auth=``)
  made per call or per client (from a parameter, ``self``, a function's answer: a token
  the helper fetches and refreshes) refuses the site: no consumer setting can give it;
* a credential of fixed values (literals, capitals, the environment) is the same for every
  call: a note names ``DECOUPLE_REQUEST_HEADERS``, the consumer's own credential;
* a ``Content-Type`` other than JSON (``application/vnd.api+json``, a form) is part of the
  request: the consumer hands the callee the event's data as ``application/json``, which
  the callee's parsers read differently (a JSON:API parser is not chosen, a form parser
  finds nothing), so every event would be refused; the site is refused;
* headers the rewrite cannot see into (made by a function), or a header written under a
  name that is not a literal (it may be the credential), refuse the site, as they do at
  a call site;
* any other header is named in a note.

A request made through a parameter (``method(url, ...)`` in ``_request(self, method, url,
...)``) goes through what the caller gives it, read in the caller's scope
(:class:`_Caller`): the HTTP library's function adds nothing, a session's method is read
as that session, anything else refuses the site.

A parameter of the helper is the call site's own (read by the codemod at the site, not
here) only while the helper never rebinds it, writes into it or aliases it, and passes it
on under its own name; anything else it does to one is read as what the helper adds
(:func:`_changes`, the one walk every rule here shares). A write into ``**kwargs`` or a
session the rewrite cannot read refuses the site.

A session is read only when the rewrite sees it built (:meth:`_Reader._unread_session`):
a name the function or module binds to a constructor of an HTTP library (also through
what only enters it: ``with contextlib.closing(requests.Session()) as s``,
``s = stack.enter_context(requests.Session())``, :func:`_entered`), ``self.<attr>``
the class binds to one, the library's own function, or a module session the call's file
imports from another module of the service, read there by the same rules and changed by
no file of the service (:func:`_imported_session`). Anything else (a factory's answer,
an attribute chain, an item, an alias, a name of the package's ``__init__``) refuses the
site, as does a setting of the constructor or session that changes every request and is
not read (``event_hooks=``, ``mount(...)`` of an adapter but the library's own retrying
one, hooks), and a hand-off of the session to a function before the send
(``_authorize(s)``), which may set a credential on it.

The call site's own session is read by the same rules (:func:`client_request`), where a
parameter of the call's function is always a value made per call.

Each reason names the helper and its ``file:line``. Helpers are followed from the site's
``via_wrapper`` through the helpers the scan found (``Role.WRAPPER`` sites); a helper the
scan did not record as a site (``_request(method, url, ...)`` calling the method it is
given) is looked for in the file of the helper that calls it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from decouple_services.core.errors import DecoupleError
from decouple_services.core.model import CallSite
from decouple_services.detect import aiohttp_, httpx_, requests_, urllib3_
from decouple_services.detect.context import ENTER_METHODS, ENTERED_AS_GIVEN
from decouple_services.migrate.codemod import (
    CREDENTIAL_HEADERS,
    TRANSPORT_HEADERS,
    is_json_media_type,
)
from decouple_services.migrate.fields import innermost_function, module_file
from decouple_services.migrate.refusals import secret_name

ReadFile = Callable[[str], bytes | None]

_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class HelperRequest:
    """Why the site cannot be rewritten (``None``: it can), and the notes for its review."""

    refusal: str | None = None
    notes: tuple[str, ...] = ()
    #: What the consumer's request would go without, for the refusal's explanation: the
    #: call's own ``auth=``/``cookies=`` involve no session.
    lost: str = "what its session adds"
    #: The sessions the call sends through that it imports from a module of the service
    #: (``session``, ``http.session``), read there and found plain
    #: (:func:`_imported_session`): the call's own reader takes them as read.
    read_sessions: tuple[str, ...] = ()
    #: The methods the call's class takes from a base of the service that the planner
    #: read there and found to leave its session alone (``self.session.close``,
    #: :class:`_Bases`): the call's own reader takes them as read.
    read_inherited: tuple[str, ...] = ()


def helper_request(
    site: CallSite,
    wrappers: Mapping[str, CallSite],
    read: ReadFile,
    others: Callable[[], Sequence[str]] | None = None,
) -> HelperRequest:
    """What the helpers ``site`` goes through add to its request (module docstring).
    ``others`` lists the service's other files, where a module session may be imported
    and changed."""
    unread = _package_session(site, read)
    if unread is None and others is not None:
        unread = _changed_elsewhere(site, read, others)
    imported = _ImportedSession()
    if unread is None and others is not None:
        imported = _imported_session(site, read, others)
        unread = imported.refusal
    if unread is not None:
        return _unread(unread)
    problems: list[str] = []
    notes: list[str] = []
    # the SSL contexts the request is given (``verify=``, ``ssl=``), at the call, on the
    # session it imports (in that session's module) and in each helper, which another
    # file may load a client certificate into
    site_bases = _Bases(site.file, read, others)
    own_contexts, inherited, changed = _site_contexts(site, read, imported.read, site_bases)
    if changed:
        return _unread("; ".join(dict.fromkeys(changed)))
    contexts = [*own_contexts, *imported.contexts]
    passed = _passed(site, read)
    # who calls the helper being read: the call site, then each helper in turn
    caller = _site_caller(site, read)
    for index, (name, path, line) in enumerate(_chain(site, wrappers)):
        source = read(path)
        tree = _parse(source) if source is not None else None
        found = _function(tree, name) if tree is not None else None
        if tree is None or found is None:
            caller = None  # the next helper's caller is not known
            continue
        function, cls = found
        if caller is not None and index > 0:
            caller = caller.into(name)
        helper = name.rsplit(".", 2)
        label = ".".join(helper[-2:]) if cls is not None else helper[-1]
        given = _given(function, cls, passed) if index == 0 else None
        where = f"the helper `{label}` ({path}:{{line}})"
        submodule = _submodules(path, read)
        reader = _Reader(
            tree,
            function,
            cls,
            where,
            given,
            caller=caller,
            submodule=submodule,
            bases=_Bases(path, read, others),
        )
        for call in _requests(function, line):
            reader.request(call)
        problems.extend(reader.problems)
        notes.extend(reader.notes)
        contexts.extend(_Context(path, tree, k, v) for k, v in reader.contexts)
        caller = _Caller(tree, function, cls, where, given, False, (), caller, line, submodule)
    if others is not None:
        unread = _certificate_elsewhere(contexts, read, others)
        if unread is not None:
            return _unread(unread)
    unique = list(dict.fromkeys(problems))
    if unique:
        return HelperRequest(
            "; ".join(unique)
            + ": the send carries only what the call site names, and the consumer's "
            "request would go to the callee without what the helper adds, which the "
            "callee would refuse for every event",
            tuple(dict.fromkeys(notes)),
        )
    return HelperRequest(
        None,
        tuple(dict.fromkeys([*imported.notes, *notes])),
        read_sessions=imported.read,
        read_inherited=inherited,
    )


def _unread(reason: str) -> HelperRequest:
    return HelperRequest(
        f"{reason}: the send carries only what the call names, and the consumer's "
        "request would go to the callee without what its session adds, which the "
        "callee would refuse for every event"
    )


def client_request(
    source: bytes,
    line: int,
    column: int,
    read_sessions: Sequence[str] = (),
    read_inherited: Sequence[str] = (),
) -> HelperRequest:
    """What the session or client the call at ``line``:``column`` is made on adds to its
    request, and the call's own ``auth=``, read by the rules a helper's are (module
    docstring): the call site's own ``headers=`` the codemod carries, these it cannot.
    ``read_sessions`` are the sessions it imports that the planner read in their module
    and found plain (:attr:`HelperRequest.read_sessions`); ``read_inherited`` the methods
    its class takes from a base of the service that the planner read there
    (:attr:`HelperRequest.read_inherited`)."""
    tree = _parse(source)
    if tree is None:
        return HelperRequest()
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == line]
    call = next((c for c in calls if c.col_offset == column), None)
    if call is None:
        return HelperRequest()
    reader, own = _read_call(tree, call, read_sessions, read_inherited=read_inherited)
    problems = [*reader.problems, *own.problems]
    lost = [
        what
        for what, found in (
            ("the client certificate the call presents", own.presented),
            ("the credential the call gives", len(own.problems) > own.presented),
            ("what its session adds", reader.problems),
        )
        if found
    ]
    return HelperRequest(
        "; ".join(dict.fromkeys(problems)) or None,
        tuple(dict.fromkeys([*own.notes, *reader.notes])),
        " and ".join(lost) or "what its session adds",
    )


def _read_call(
    tree: ast.Module,
    call: ast.Call,
    read_sessions: Sequence[str] = (),
    *,
    bases: _Bases | None = None,
    read_inherited: Sequence[str] = (),
) -> tuple[_Reader, _Reader]:
    """The readers of what the session or client ``call`` is made on adds (a session of
    ``read_sessions`` was read in its own module: :func:`_imported_session`), and of the
    call's own keywords the send does not carry."""
    function, cls = _around(tree, call)
    reader = _Reader(
        tree,
        function,
        cls,
        "the call's session (line {line})",
        None,
        at_call=True,
        read_sessions=frozenset(read_sessions),
        bases=bases,
        read_inherited=frozenset(read_inherited),
    )
    reader.client(call)
    # the call's own ``auth=``/``cookies=`` and the certificate it presents (``cert=``,
    # a context given as ``verify=``), which the send does not carry either
    own = _Reader(tree, function, cls, "the call (line {line})", None, at_call=True)
    for keyword in call.keywords:
        if keyword.arg in ("auth", "cookies"):
            own.credential(keyword.value, f"`{keyword.arg}=`", keyword.value)
        elif keyword.arg in _PRESENTS:
            own.presents(keyword.arg, keyword.value)
    return reader, own


@dataclass(frozen=True, slots=True)
class _Context:
    """An SSL context a request is given (``verify=ctx``, ``ssl=TLS_CTX``), and the file
    it is given in."""

    path: str
    tree: ast.Module
    keyword: str
    value: ast.expr


def _site_contexts(
    site: CallSite, read: ReadFile, read_sessions: Sequence[str], bases: _Bases
) -> tuple[list[_Context], tuple[str, ...], list[str]]:
    """The SSL contexts the site's call is given: its own keywords, and its session's or
    client's (its constructor, transport, connector, ``s.verify = ...``); those of a
    session it imports (``read_sessions``) are read in that session's module
    (:attr:`_ImportedSession.contexts`). With them, the methods its class takes from a
    base of the service read there (:class:`_Bases`): those that leave its session
    alone, and why the others may change it."""
    found = _site_call(site, read)
    if found is None:
        return [], (), []
    tree, call = found
    readers = _read_call(tree, call, read_sessions, bases=bases)
    contexts = [_Context(site.file, tree, k, v) for reader in readers for k, v in reader.contexts]
    return contexts, tuple(readers[0].plain_inherited), readers[0].base_problems


@dataclass(frozen=True, slots=True)
class _Caller:
    """The function that calls a helper, and its calls into it: what it gives the
    parameter a helper makes its request through (``method(url, ...)`` in ``_request(self,
    method, url, ...)``) is read in its scope (``self.session.post`` is that session)."""

    tree: ast.Module
    function: _Function | ast.Module
    cls: ast.ClassDef | None
    where: str
    passed: frozenset[str] | None
    at_call: bool
    #: Its calls into the helper being read.
    calls: tuple[ast.Call, ...]
    #: Who calls it in turn (a value it passes on from its own parameter).
    caller: _Caller | None
    #: The line of its request the scan recorded, where it calls the next helper.
    line: int | None = None
    #: Whether its file's ``from . import <name>`` imports a module of the package.
    submodule: Callable[[str, int], bool] | None = None

    def into(self, helper: str) -> _Caller:
        """This caller with its calls into ``helper`` (a qualified name): those at the
        line the scan recorded, else every call of that name in the function."""
        short = helper.rpartition(".")[2]
        calls = [
            n
            for n in ast.walk(self.function)
            if isinstance(n, ast.Call)
            and (
                (isinstance(n.func, ast.Name) and n.func.id == short)
                or (isinstance(n.func, ast.Attribute) and n.func.attr == short)
            )
        ]
        at_line = tuple(c for c in calls if c.lineno == self.line)
        return dataclasses.replace(self, calls=at_line or tuple(calls))

    def reader(self) -> _Reader:
        return _Reader(
            self.tree,
            self.function,
            self.cls,
            self.where,
            self.passed,
            at_call=self.at_call,
            caller=self.caller,
            submodule=self.submodule,
        )


def _site_call(site: CallSite, read: ReadFile) -> tuple[ast.Module, ast.Call] | None:
    """The site's file and its call, ``None`` when the file cannot be read or parsed."""
    source = read(site.file)
    tree = _parse(source) if source is not None else None
    if tree is None:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == site.line]
    if not calls:
        return None
    # the outermost: ``api_request(build_url(x), ...)`` holds a call of its own
    return tree, min(calls, key=lambda c: (c.col_offset, -(c.end_col_offset or 0)))


def _around(tree: ast.Module, call: ast.Call) -> tuple[_Function | ast.Module, ast.ClassDef | None]:
    """The function holding ``call`` (the module when none does) and that function's
    class, ``None`` when it is no method."""
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    scope: ast.AST | None = parents.get(call)
    while scope is not None and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        scope = parents.get(scope)
    function = scope if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else tree
    owner = parents.get(function)
    return function, owner if isinstance(owner, ast.ClassDef) else None


def _site_caller(site: CallSite, read: ReadFile) -> _Caller | None:
    """The call site as the caller of its first helper: its call, in its function."""
    found = _site_call(site, read)
    if found is None:
        return None
    tree, call = found
    function, cls = _around(tree, call)
    where = f"the call ({site.file}:{{line}})"
    submodule = _submodules(site.file, read)
    return _Caller(tree, function, cls, where, None, True, (call,), None, None, submodule)


def _argument(
    function: _Function, cls: ast.ClassDef | None, call: ast.Call, name: str
) -> ast.expr | None:
    """What ``call`` gives ``function``'s parameter ``name`` (its default when it gives
    none), ``None`` when that cannot be read (``*args``, ``**kwargs``)."""
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if cls is not None and positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    if name in positional:
        index = positional.index(name)
        if any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
            return None
        if index < len(call.args):
            return call.args[index]
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if any(k.arg is None for k in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    ):
        return None
    return _default(function, name)


def _submodules(path: str, read: ReadFile) -> Callable[[str, int], bool]:
    """Whether ``from <level dots> import <name>`` in the file at ``path`` imports a
    module of the package (``from . import sendinblue``: ``sendinblue.py`` beside it),
    not a name the package's ``__init__`` defines."""
    find = module_file(path, read)
    return lambda name, level: find(name, level) is not None


def _package_session(site: CallSite, read: ReadFile) -> str | None:
    """Why the call at the site, made on a name it imports from its package (``from ..
    import session``), cannot be read: the name is no module of the package, so it is
    what the package's ``__init__`` defines, a session whose headers the rewrite does not
    see. The codemod reading the call site has no file to resolve it by."""
    source = read(site.file)
    tree = _parse(source) if source is not None else None
    if tree is None:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == site.line]
    for call in calls:
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in _VERBS
            and not _bound(tree, func.value.id, tree)
        ):
            continue
        node = _package_name(tree, func.value.id, _submodules(site.file, read))
        if node is not None:
            return _package_refusal(f"the call ({site.file}:{site.line})", func.value.id, node)
    return None


def _changed_elsewhere(
    site: CallSite, read: ReadFile, others: Callable[[], Sequence[str]]
) -> str | None:
    """Why a call sent through a module session (``session = requests.Session()`` at
    the top of the site's file) cannot be read: another file of the service imports it
    (``from .views.admin import session``, ``from .views import admin`` or ``admin =
    importlib.import_module("frontend.views.admin")`` then ``admin.session``) and does
    more with it than send through it
    (``session.headers.update(...)``), which may set a credential."""
    source = read(site.file)
    tree = _parse(source) if source is not None else None
    if tree is None:
        return None
    top = ast.Module(body=[s for s in tree.body if not _defines(s)], type_ignores=[])
    names = {
        call.func.value.id
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and call.lineno == site.line
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.attr in _VERBS
    }
    names = {
        n
        for n in names
        if any(
            isinstance(v, ast.Call) and _qualified(tree, v.func) in _CONSTRUCTORS
            for v in _bound(top, n, tree)
        )
    }
    if not names:
        return None
    reached = {name: _reached_as(site.file, name, read) for name in names}
    for path in others():
        if path == site.file:
            continue
        text = read(path)
        if text is None:
            continue
        for name in sorted(names):
            # only a file naming the module, or a package re-exporting the session, can
            # reach it (:func:`_reached_as`): the rest are not parsed
            other = _parse(text) if _names_any(text, reached[name]) else None
            found = _changes_imported(other, reached[name], path) if other is not None else None
            if found is not None:
                return (
                    f"the call ({site.file}:{site.line}) sends through `{name}`, which "
                    f"{path} (line {found.lineno}) imports and changes "
                    f"(`{ast.unparse(found)}`): the rewrite cannot see what it adds"
                )
    return None


def _certificate_elsewhere(
    contexts: Sequence[_Context], read: ReadFile, others: Callable[[], Sequence[str]]
) -> str | None:
    """Why an SSL context the request is given (``verify=``, aiohttp's ``ssl=``, at the
    call, on its client, in a helper, or on a session it imports, in that session's
    module: :attr:`_ImportedSession.contexts`) cannot be read as harmless: a file of the service
    loads a client certificate chain (:func:`_client_chain`), and the context
    (``from ..tls import TLS_CTX``, ``make_ctx()``) may be that one, which the consumer's
    request does not present. A value that is text (a CA bundle's path, from the
    environment or a settings module: :func:`_may_be_context`) is no context; a call
    given none is not asked."""
    given = [c for c in contexts if _may_be_context(c.value, c.tree, c.path, read)]
    if not given:
        return None
    for other in others():
        text = read(other)
        if text is None or not any(m in text for m in (b"load_cert_chain", b"cert=", b"certfile=")):
            continue
        tree = _parse(text)
        chain = _client_chain(tree) if tree is not None else None
        if chain is not None:
            first = given[0]
            return (
                f"the call goes through `{first.keyword}={ast.unparse(first.value)}` "
                f"({first.path}:{first.value.lineno}), an SSL context that may hold the "
                f"client certificate {other} loads (line {chain.lineno}), which the event "
                "does not carry"
            )
    return None


#: Calls whose answer is text, not an SSL context: a CA bundle's path.
_TEXT_CALLS = frozenset(
    {
        "os.getenv",
        "os.environ.get",
        "str",
        "os.path.join",
        "pathlib.Path",
        "Path",
        "certifi.where",
        "aiohttp.Fingerprint",
        "aiohttp.client_reqrep.Fingerprint",
    }
)


def _may_be_context(
    value: ast.expr, tree: ast.Module, path: str, read: ReadFile, depth: int = 0
) -> bool:
    """Whether ``value``, given as ``verify=``/``ssl=`` in ``tree`` (the file at
    ``path``), may be an SSL context: not a constant, text (an f-string, ``os.environ[...]``,
    ``os.getenv(...)``), a Django setting, nor a name every binding of which is text,
    followed into the module of the project it is imported from (``config.CA_BUNDLE``,
    ``from ..config import CA_BUNDLE``)."""
    if depth > 3:
        return True
    if isinstance(value, ast.Constant | ast.JoinedStr | ast.BinOp):
        return False
    if isinstance(value, ast.Subscript):
        return ast.unparse(value.value) != "os.environ"
    if isinstance(value, ast.Call):
        return _qualified(tree, value.func) not in _TEXT_CALLS
    if isinstance(value, ast.Name):
        bound = _bound(tree, value.id, tree)
        if bound:
            return any(v is None or _may_be_context(v, tree, path, read, depth + 1) for v in bound)
        imported = _imported_from(tree, value.id, path, read)
        if imported is None:
            return True
        other, name = imported
        return _may_be_context(ast.Name(id=name, ctx=ast.Load()), *other, read, depth + 1)
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
        owner = value.value.id
        if _qualified(tree, value.value) == "django.conf.settings":
            return False  # a setting: Django's hold text
        imported = _imported_from(tree, owner, path, read, module=True)
        if imported is None:
            return True
        other, _ = imported
        return _may_be_context(ast.Name(id=value.attr, ctx=ast.Load()), *other, read, depth + 1)
    return True


def _imported_from(
    tree: ast.Module, name: str, path: str, read: ReadFile, *, module: bool = False
) -> tuple[tuple[ast.Module, str], str] | None:
    """``((tree, path) of the module of the project, the name there)`` that ``name`` is
    imported from (``from ..tls import TLS_CTX``); with ``module``, the module ``name``
    itself is (``from .. import config``, ``import config``). ``None``: not imported, or
    not from a file of the project."""
    find = module_file(path, read)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) != name:
                    continue
                if module:
                    dotted = f"{node.module}.{alias.name}" if node.module else alias.name
                    found = find(dotted, node.level)
                    target = alias.name
                else:
                    found = find(node.module or "", node.level)
                    target = alias.name
                if found is not None:
                    other = _parse(found[1])
                    if other is not None:
                        return (other, found[0]), target
        elif isinstance(node, ast.Import) and module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    found = find(alias.name, 0)
                    if found is not None:
                        other = _parse(found[1])
                        if other is not None:
                            return (other, found[0]), alias.name
    return None


#: What makes an SSL context a server's: built for ``ssl.Purpose.CLIENT_AUTH`` (to
#: authenticate the clients that connect) or for ``ssl.PROTOCOL_TLS_SERVER``.
_SERVER_SIDE = frozenset({"CLIENT_AUTH", "PROTOCOL_TLS_SERVER"})

#: Calls that serve with the SSL context they are given (``app.run(ssl_context=ctx)``,
#: ``web.run_app(app, ssl_context=ctx)``, ``loop.create_server(..., ssl=ctx)``).
_SERVES = frozenset(
    {"run", "run_simple", "run_app", "TCPSite", "serve", "create_server", "start_server"}
)


def _client_chain(tree: ast.Module) -> ast.Call | None:
    """The first ``ctx.load_cert_chain(...)`` in ``tree`` that may give a client its
    certificate, or context built with one (``httpx.create_ssl_context(cert=...)``, any
    call given ``cert=``/``certfile=`` but a request's own): not one into a server's
    context (built for ``Purpose.CLIENT_AUTH`` or ``PROTOCOL_TLS_SERVER``, handed to a
    server's ``run(ssl_context=...)``, or wrapping a socket with ``server_side=True``),
    whose certificate is the server's own."""
    made: dict[str, list[bool]] = {}
    served: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            server = isinstance(node.value, ast.Call) and any(
                ast.unparse(a).rpartition(".")[2] in _SERVER_SIDE
                for a in [*node.value.args, *(k.value for k in node.value.keywords)]
            )
            for target in targets:
                made.setdefault(ast.unparse(target), []).append(server)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else ast.unparse(func)
            if name in _SERVES:
                served.update(
                    ast.unparse(k.value) for k in node.keywords if k.arg in _CONTEXT_KEYWORDS
                )
            if isinstance(func, ast.Attribute) and any(
                k.arg == "server_side"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in node.keywords
            ):
                served.add(ast.unparse(func.value))
    servers = served | {n for n, kinds in made.items() if kinds and all(kinds)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "load_cert_chain":
            if ast.unparse(func.value) not in servers:
                return node
            continue
        name = func.attr if isinstance(func, ast.Attribute) else ast.unparse(func)
        if (
            any(k.arg in ("cert", "certfile") for k in node.keywords)
            # a request's own certificate is read with that request
            and name not in _VERBS
            and name not in _SERVES
            and not any(k.arg == "server_side" for k in node.keywords)
        ):
            return node
    return None


@dataclass(frozen=True, slots=True)
class _ImportedSession:
    """What :func:`_imported_session` found: a refusal, or the sessions it read."""

    refusal: str | None = None
    #: The sessions read (``session``, ``http.session``), as the call names them.
    read: tuple[str, ...] = ()
    #: The SSL contexts their module gives them (``requests.Session(verify=ctx)``,
    #: ``session.verify = TLS_CTX``), which another file may load a client certificate
    #: into (:func:`_certificate_elsewhere`).
    contexts: tuple[_Context, ...] = ()
    notes: tuple[str, ...] = ()


def _imported_session(
    site: CallSite, read: ReadFile, others: Callable[[], Sequence[str]]
) -> _ImportedSession:
    """The session the call sends through when its file imports it from a module of the
    service (``from ..http import session``, or ``from .. import http`` then
    ``http.session``), read there by the rules a module session of the call's own file
    is: every binding of it a known constructor (``session = requests.Session()``), read
    with what that module sets on it and hands it to, and no file of the service (the
    call's own too) doing more with it than send through it. Anything else refuses, as a
    session the rewrite cannot see into; a name that is no such import is left to the
    call's own reader, which refuses what it cannot read."""
    found = _site_call(site, read)
    if found is None:
        return _ImportedSession()
    tree, _ = found
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and n.lineno == site.line
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in _VERBS
    ]
    files = others()
    find = _Finder(site.file, read)
    read_names: list[str] = []
    contexts: list[_Context] = []
    notes: list[str] = []
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        owner = call.func.value
        source = _session_source(tree, owner, find)
        if source is None:
            continue
        shown, path, module, name = source
        if path not in files:
            continue  # a module outside the service: its other users are not listed
        refusal, reader = _read_imported(site, shown, path, module, name)
        if refusal is None:
            refusal = _changed_in_service(site, shown, path, name, read, files)
        if refusal is not None or reader is None:
            return _ImportedSession(refusal)
        read_names.append(shown)
        contexts.extend(_Context(path, module, k, v) for k, v in reader.contexts)
        notes.extend(reader.notes)
    return _ImportedSession(None, tuple(read_names), tuple(contexts), tuple(notes))


class _Finder:
    """The module files a file imports (:func:`module_file`), ``None`` for one that
    cannot be read safely (a link out of the tree)."""

    def __init__(self, path: str, read: ReadFile) -> None:
        self._find = module_file(path, read)

    def __call__(self, module: str, level: int) -> tuple[str, bytes] | None:
        try:
            return self._find(module, level)
        except DecoupleError:
            return None


def _session_source(
    tree: ast.Module, owner: ast.expr, find: _Finder
) -> tuple[str, str, ast.Module, str] | None:
    """``(as the call names it, its module's path, that module, its name there)`` of a
    session the file imports from a module of the project: ``session`` of ``from ..http
    import session`` (nothing in the file binds it), or ``http.session`` of ``from ..
    import http`` when ``http`` is a module; ``None`` for any other owner."""
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0 and (node.module or "").partition(".")[0] in _HTTP:
            continue
        for alias in node.names:
            bound = alias.asname or alias.name
            module: str | None = None
            name = ""
            if isinstance(owner, ast.Name) and owner.id == bound and node.module is not None:
                module, name = node.module, alias.name
            elif (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == bound
            ):
                module = f"{node.module}.{alias.name}" if node.module else alias.name
                name = owner.attr
            # a name the file binds anywhere (a local, a parameter, a loop's target) may
            # be another session where the call is made: only one bound by the import
            # alone is read
            if (
                module is None
                or _bound(tree, bound, tree)
                or any(
                    isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                    and bound in {a.arg for a in ast.walk(f.args) if isinstance(a, ast.arg)}
                    for f in ast.walk(tree)
                )
            ):
                continue
            located = find(module, node.level)
            if located is None:
                continue
            path, data = located
            parsed = _parse(data)
            if parsed is None:
                continue
            return ast.unparse(owner), path, parsed, name
    return None


def _read_imported(
    site: CallSite, shown: str, path: str, module: ast.Module, name: str
) -> tuple[str | None, _Reader | None]:
    """``(why not, the reader)`` of the session ``name`` of ``module`` (at ``path``), read
    as a module session of the call's own file is: bound only to known constructors
    (``None`` until built), read for what the module sets on it or hands it to. The
    reader holds its notes and the SSL contexts the module gives it."""
    where = f"`{shown}` ({path}:{{line}})"
    top = ast.Module(body=[s for s in module.body if not _defines(s)], type_ignores=[])
    values = _bound(top, name, module)
    if not values or not any(
        isinstance(v, ast.Call) and _qualified(module, v.func) in _CONSTRUCTORS for v in values
    ):
        return (
            f"the call ({site.file}:{site.line}) sends through `{shown}`, which {path} "
            "does not build by a constructor of an HTTP library: the rewrite cannot see "
            "what that session adds"
        ), None
    reader = _Reader(module, module, None, where, None, at_call=True)
    reader.session(name, module)
    if reader.problems:
        return (
            f"the call ({site.file}:{site.line}) sends through `{shown}`, which it imports "
            f"from {path}, where {'; '.join(dict.fromkeys(reader.problems))}"
        ), None
    return None, reader


def _changed_in_service(
    site: CallSite,
    shown: str,
    path: str,
    name: str,
    read: ReadFile,
    files: Sequence[str],
) -> str | None:
    """Why the session ``name`` of the module at ``path`` cannot be read: a file of the
    service, the call's own too, imports it and does more with it than send through it
    (:func:`_changes_imported`)."""
    reached = _reached_as(path, name, read)
    for other in dict.fromkeys([site.file, *files]):
        if other == path:
            continue
        text = read(other)
        tree = _parse(text) if text is not None and _names_any(text, reached) else None
        if tree is None:
            continue
        found = _changes_imported(tree, reached, other)
        if found is not None:
            return (
                f"the call ({site.file}:{site.line}) sends through `{shown}`, which "
                f"{other} (line {found.lineno}) imports and changes "
                f"(`{ast.unparse(found)}`): the rewrite cannot see what it adds"
            )
    return None


#: A name another file may reach a module session by: the dotted parts of the module or
#: package holding it (``("frontend", "frontend", "views", "admin")``, from its path),
#: and its name there.
_Reached = tuple[tuple[str, ...], str]


def _reached_as(path: str, name: str, read: ReadFile) -> tuple[_Reached, ...]:
    """Where the session ``name`` of the module at ``path`` can be imported from: the
    module, and each package above it whose ``__init__`` re-exports it (``from .admin
    import session``, ``as users_session``, ``from .admin import *``) or the module under
    another name (``from . import admin as users_admin``), a re-export of a re-export
    too. The packages are read up while each has an ``__init__``."""
    parts = tuple(path.removesuffix(".py").split("/"))
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    reached: list[_Reached] = [(parts, name)]
    package = parts[:-1]
    while package:
        source = read("/".join(package) + "/__init__.py")
        tree = _parse(source) if source is not None else None
        if tree is None:
            break
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                # a relative import from the package's own folder, or its parents
                base = package[: max(len(package) - node.level + 1, 0)] if node.level else ()
                module = (*base, *(node.module.split(".") if node.module else ()))
                bound = [(a.name, a.asname or a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                module = ()
                bound = [(a.name, a.asname) for a in node.names if a.asname]
            else:
                continue
            for imported, as_name in bound:
                for held, held_name in list(reached):
                    if _is_suffix(module, held) and imported in {held_name, "*"}:
                        found = (package, as_name if imported != "*" else held_name)
                    elif imported != "*" and _is_suffix((*module, *imported.split(".")), held):
                        found = ((*package, as_name), held_name)
                    else:
                        continue
                    if found not in reached:
                        reached.append(found)
        package = package[:-1]
    return tuple(reached)


def _is_suffix(dotted: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether the module ``dotted`` an import names may be the one at ``parts``: an
    absolute import names the module from a root the rewrite does not know, so its last
    parts are compared."""
    return 0 < len(dotted) <= len(parts) and parts[len(parts) - len(dotted) :] == dotted


#: ``from . import name`` (``from .. import``): an import from a package that need not
#: name it.
_FROM_PACKAGE = re.compile(rb"from[\s\\]*\.+[\s\\]*import")


def _names_any(text: bytes, reached: Sequence[_Reached]) -> bool:
    """Whether ``text`` may reach the session by one of ``reached``: every way
    :func:`_changes_imported` reads names the session (its name there) and the module or
    package holding it (``from .views.admin import session``, ``v.admin.session``,
    ``from .views import session`` after a re-export), or imports from a package without
    naming it (``from . import session``)."""
    package = _FROM_PACKAGE.search(text) is not None
    return any(
        name.encode() in text and (package or parts[-1].encode() in text) for parts, name in reached
    )


def _changes_imported(tree: ast.Module, reached: Sequence[_Reached], path: str) -> ast.expr | None:
    """The first use in ``tree`` (the file at ``path``) of the session, reached by any of
    ``reached`` (:func:`_reached_as`), that is not a send through it (``name.post(...)``):
    ``name`` imported from the module (``from ..admin import name``, ``from ..admin
    import *``, ``from . import name`` of a package re-exporting it), ``<module>.name``,
    or ``<package>.<module>.name`` through a package the file imports (``from frontend
    import views as v`` then ``v.admin.name``)."""
    folder = tuple(path.split("/")[:-1])
    direct: set[str] = set()  # ``from ..admin import session``
    # ``from .views import admin``, ``import views.admin``: the session's names in each
    modules: dict[str, set[str]] = {}
    # what each name bound by an import names: ``v`` of ``from frontend import views as
    # v`` is ``("frontend", "views")``
    dotted: dict[str, set[tuple[str, ...]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            # a relative import from the file's folder, or its parents
            base = folder[: max(len(folder) - node.level + 1, 0)] if node.level else ()
            module = (*base, *(node.module.split(".") if node.module else ()))
            for alias in node.names:
                bound = alias.asname or alias.name
                if alias.name != "*":
                    dotted.setdefault(bound, set()).add((*module, alias.name))
                for parts, name in reached:
                    if module[-1:] == parts[-1:] and alias.name in {name, "*"}:
                        direct.add(bound if alias.name != "*" else name)
                    elif alias.name == parts[-1]:
                        modules.setdefault(bound, set()).add(name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                full = tuple(alias.name.split("."))
                bound = alias.asname or alias.name
                dotted.setdefault(alias.asname or full[0], set()).add(
                    full if alias.asname else full[:1]
                )
                for parts, name in reached:
                    if full[-1] == parts[-1]:
                        modules.setdefault(bound, set()).add(name)
        elif (found := _module_imported(tree, node)) is not None:
            # ``importlib.import_module("frontend.views.admin").session``: the module
            # itself, as ``import frontend.views.admin`` gives it
            for parts, name in reached:
                if found[-1:] == parts[-1:]:
                    modules.setdefault(ast.unparse(node), set()).add(name)
        if (
            isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr)
            and node.value is not None
            and (found := _module_imported(tree, node.value)) is not None
        ):
            # ``admin = importlib.import_module("frontend.views.admin")`` binds the
            # module as ``import frontend.views.admin as admin`` does
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    dotted.setdefault(target.id, set()).add(found)
                    for parts, name in reached:
                        if found[-1:] == parts[-1:]:
                            modules.setdefault(target.id, set()).add(name)
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    for node in ast.walk(tree):
        if not (
            (isinstance(node, ast.Name) and node.id in direct)
            or (
                isinstance(node, ast.Attribute)
                and (
                    node.attr in modules.get(ast.unparse(node.value), ())
                    or _through_package(tree, node, dotted, reached)
                )
            )
        ):
            continue
        assert isinstance(node, ast.Name | ast.Attribute)
        used: ast.expr = node
        parent = parents.get(used)
        sends = (
            isinstance(parent, ast.Attribute)
            and parent.attr in _VERBS
            and isinstance(parents.get(parent), ast.Call)
            and parents[parent].func is parent  # type: ignore[attr-defined]
        )
        if not sends:
            statement: ast.AST = used
            while statement in parents and not isinstance(statement, ast.stmt):
                statement = parents[statement]
            return statement if isinstance(statement, ast.expr) else _first_expr(statement, used)
    return None


def _through_package(
    tree: ast.Module,
    node: ast.Attribute,
    dotted: Mapping[str, set[tuple[str, ...]]],
    reached: Sequence[_Reached],
) -> bool:
    """Whether ``node`` is the session reached by an attribute chain from a name an
    import binds (``v.admin.session`` after ``from frontend import views as v``,
    ``frontend.views.admin.session`` after ``import frontend.views``) or from
    ``importlib.import_module("frontend.views")``, to the module or a package
    re-exporting it."""
    chain: list[str] = []
    base = node.value
    while isinstance(base, ast.Attribute):
        chain.insert(0, base.attr)
        base = base.value
    if isinstance(base, ast.Name):
        starts = dotted.get(base.id, set())
    elif (found := _module_imported(tree, base)) is not None:
        starts = {found}
    else:
        return False
    return any(
        node.attr == name and _is_suffix((*start, *chain), parts)
        for start in starts
        for parts, name in reached
    )


def _module_imported(tree: ast.Module, node: ast.AST) -> tuple[str, ...] | None:
    """The dotted parts of the module ``node`` imports by name at run time:
    ``importlib.import_module("frontend.views.admin")``, or a relative name with its
    package (``import_module(".views.admin", package=__package__)``), without its
    leading dots."""
    if not (
        isinstance(node, ast.Call)
        and _qualified(tree, node.func) == "importlib.import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return None
    parts = tuple(node.args[0].value.lstrip(".").split("."))
    return parts if all(parts) else None


def _first_expr(statement: ast.AST, used: ast.expr) -> ast.expr:
    """What to show of the statement holding ``used``: an expression statement's value,
    an assignment's target, else ``used`` itself."""
    if isinstance(statement, ast.Expr):
        return statement.value
    if isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign):
        target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
        return target
    return used


def _package_name(
    tree: ast.Module, name: str, submodule: Callable[[str, int], bool]
) -> ast.ImportFrom | None:
    """The ``from . import name`` that binds ``name`` when it imports no module of the
    package but a name its ``__init__`` defines, else ``None``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is None:
            for alias in node.names:
                if (alias.asname or alias.name) == name and not submodule(alias.name, node.level):
                    return node
    return None


def _package_refusal(where: str, name: str, node: ast.ImportFrom) -> str:
    return (
        f"{where} sends through `{name}`, which it imports from `{'.' * node.level}` (line "
        f"{node.lineno}), a name the package's `__init__` defines, not a module of it: the "
        "rewrite cannot see what that session adds"
    )


#: What a site the helper's request refuses calls for.
HELPER_FIX = (
    "keep the call; or make the callee take the event as the consumer sends it (JSON, "
    "with the consumer's own credential from `DECOUPLE_REQUEST_HEADERS`) and rewrite the "
    "call by hand"
)


@functools.lru_cache(maxsize=64)
def _parse(source: bytes) -> ast.Module | None:
    """The tree of a file, parsed once for all the sites through its helpers (nothing here
    changes a tree)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _passed(site: CallSite, read: ReadFile) -> tuple[int, frozenset[str]] | None:
    """``(positional arguments, keyword names)`` of the call at the site, ``None`` when it
    cannot be read (or passes ``*args``/``**kwargs`` on)."""
    found = _site_call(site, read)
    if found is None:
        return None
    call = found[1]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    return len(call.args), frozenset(k.arg for k in call.keywords if k.arg is not None)


def _given(
    function: _Function, cls: ast.ClassDef | None, passed: tuple[int, frozenset[str]] | None
) -> frozenset[str] | None:
    """The parameters of the helper the site calls that the call gives a value."""
    if passed is None:
        return None
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if cls is not None and positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    count, keywords = passed
    return frozenset(positional[:count]) | keywords


def _chain(
    site: CallSite, wrappers: Mapping[str, CallSite]
) -> Iterator[tuple[str, str, int | None]]:
    """``(qualified name, file, line of its request or None)`` of each helper the call goes
    through, outermost first. A helper without a site of its own is looked for in the file
    of the one that calls it."""
    name = site.via_wrapper
    path: str | None = None
    seen: set[str] = set()
    while name and name not in seen:
        seen.add(name)
        wrapper = wrappers.get(name)
        if wrapper is not None:
            path = wrapper.file
        if path is None:
            return
        yield name, path, wrapper.line if wrapper is not None else None
        name = wrapper.via_wrapper if wrapper is not None else None


def _function(tree: ast.Module, qualified: str) -> tuple[_Function, ast.ClassDef | None] | None:
    """The function ``qualified`` names in ``tree`` (its module's name is the prefix, which
    the file does not say: each split is tried), with its class."""
    parts = qualified.split(".")
    for start in range(len(parts) - 1, -1, -1):
        body: list[ast.stmt] = tree.body
        cls: ast.ClassDef | None = None
        found: _Function | None = None
        for index, part in enumerate(parts[start:]):
            last = index == len(parts) - start - 1
            node = next(
                (
                    n
                    for n in body
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    and n.name == part
                    and isinstance(n, ast.ClassDef) != last
                ),
                None,
            )
            if node is None:
                break
            if isinstance(node, ast.ClassDef):
                cls, body = node, node.body
            else:
                found = node
        if found is not None:
            return found, cls
    return None


def _parameters(function: _Function) -> set[str]:
    args = function.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names - {"self", "cls"}


def _requests(function: _Function, line: int | None) -> list[ast.Call]:
    """The calls of ``function`` that make its request: the one the scan recorded at
    ``line``, and those passing on what the function is given (its url, ``**kwargs``): a
    helper that also fetches a token (``self.get_admin_token()``) is recorded at that
    call, and still makes the call site's request with the method it is given."""
    calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
    given = _parameters(function)

    def passes_on(call: ast.Call) -> bool:
        values = [*call.args, *(k.value for k in call.keywords)]
        return any(
            isinstance(n, ast.Name) and n.id in given for value in values for n in ast.walk(value)
        )

    return [c for c in calls if c.lineno == line or passes_on(c)]


#: The credential objects of the HTTP libraries that hold only what they are given (a
#: user and a password): made of fixed values, one is the same for every call.
_PLAIN_AUTH = frozenset(
    {
        "requests.auth.HTTPBasicAuth",
        "requests.auth.HTTPDigestAuth",
        "requests.auth.HTTPProxyAuth",
        "requests.HTTPBasicAuth",
        "requests.HTTPDigestAuth",
        "httpx.BasicAuth",
        "httpx.DigestAuth",
        "aiohttp.BasicAuth",
        "aiohttp.helpers.BasicAuth",
    }
)


def _fixed(value: ast.expr, tree: ast.Module | None = None) -> bool:
    """The same for every call and every client (``codemod._fixed_value``): a literal, a
    name or attribute in capitals, the environment, text made of these, or (``tree``
    given, to read its imports) a basic or digest credential of the HTTP library made of
    these (``HTTPBasicAuth(SVC_USER, SVC_PASSWORD)``, as ``auth=(SVC_USER,
    SVC_PASSWORD)`` is)."""
    if isinstance(value, ast.Constant):
        return isinstance(value.value, str | int | bytes)
    if isinstance(value, ast.Name):
        return value.id.isupper()
    if isinstance(value, ast.Attribute):
        return value.attr.isupper()
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return _fixed(value.left, tree) and _fixed(value.right, tree)
    if isinstance(value, ast.JoinedStr):
        return all(_fixed(p.value, tree) for p in value.values if isinstance(p, ast.FormattedValue))
    if isinstance(value, ast.Subscript):
        return ast.unparse(value.value) == "os.environ" and isinstance(value.slice, ast.Constant)
    if isinstance(value, ast.Call):
        if ast.unparse(value.func) in ("os.getenv", "os.environ.get"):
            return all(isinstance(a, ast.Constant) for a in value.args)
        return (
            tree is not None
            and _qualified(tree, value.func) in _PLAIN_AUTH
            and all(_fixed(a, tree) for a in value.args)
            and all(k.arg is not None and _fixed(k.value, tree) for k in value.keywords)
        )
    return False


#: Bases that define no method a client calls (``class BaseClient(abc.ABC)``).
_PLAIN_BASES = frozenset({"object", "builtins.object", "abc.ABC", "typing.Generic"})

#: What a base's method may call on the session and change nothing of it.
_CLOSES = frozenset({"close", "aclose"})

#: A class of the service: its definition, its module and its file.
_Defined = tuple[ast.ClassDef, ast.Module, str]


class _Bases:
    """Reads a method a class takes from its base classes when every base is a class
    of the service (in the class's own file, or imported from a module of the
    service): one that only closes or looks at the session (``self.session.close()``)
    adds nothing to a request. A base outside the service (a library's class), a
    metaclass or a base that cannot be read is not read here, and the method refuses."""

    def __init__(
        self, path: str, read: ReadFile, others: Callable[[], Sequence[str]] | None
    ) -> None:
        self.path = path
        self.read = read
        self.others = others

    def _in_service(self, path: str) -> bool:
        return path == self.path or (self.others is not None and path in self.others())

    def _resolve(self, tree: ast.Module, path: str, base: ast.expr, depth: int) -> _Defined | None:
        """The class of the service ``base`` names in the file at ``path`` (through
        imports and re-exports), ``None`` when it is none or cannot be read."""
        if depth > 4:
            return None
        if isinstance(base, ast.Name):
            classes = [s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == base.id]
            if classes:
                # one definition, which nothing else in the module rebinds
                rebound = any(not _defines(s) and _binds(s, base.id) for s in tree.body)
                return (classes[0], tree, path) if len(classes) == 1 and not rebound else None
            name, module = base.id, False
        elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
            name, module = base.value.id, True  # ``base.BaseClient`` of ``from . import base``
        else:
            return None
        try:
            found = _imported_from(tree, name, path, self.read, module=module)
        except DecoupleError:
            return None
        if found is None or not self._in_service(found[0][1]):
            return None
        (other, other_path), target = found
        if isinstance(base, ast.Attribute):
            target = base.attr
        return self._resolve(other, other_path, ast.Name(id=target, ctx=ast.Load()), depth + 1)

    def _above(self, tree: ast.Module, cls: ast.ClassDef) -> list[_Defined] | None:
        """Every class above ``cls``, ``None`` unless all are classes of the service
        read here, with no metaclass (which may set anything after ``__init__``) and no
        ``__getattribute__``."""
        found: list[_Defined] = []
        pending: list[_Defined] = [(cls, tree, self.path)]
        while pending:
            current, module, path = pending.pop()
            if current.keywords:
                return None  # ``metaclass=``
            for base in current.bases:
                named = base.value if isinstance(base, ast.Subscript) else base
                if _qualified(module, named) in _PLAIN_BASES:
                    continue
                resolved = self._resolve(module, path, base, 0)
                if resolved is None or len(found) > 16:
                    return None
                if all(r[0] is not resolved[0] for r in found):
                    found.append(resolved)
                    pending.append(resolved)
        if any(_defined_in(c, "__getattribute__") for c, _, _ in found):
            return None
        return found

    def method(self, tree: ast.Module, cls: ast.ClassDef, method: str, session: str) -> str | None:
        """Why the bases' ``method`` (each definition above ``cls``, and each method of
        theirs it reaches through ``self`` or ``super()``) may change ``session``,
        naming the base's file and line; ``""`` when none does, ``None`` when the bases
        cannot be read."""
        above = self._above(tree, cls)
        if above is None:
            return None
        attr = session.partition(".")[2]
        own = {n for n in map(_named, cls.body) if n is not None}
        pending = [method]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            definitions = [(s, c, p) for c, _, p in above for s in _defined_in(c, name)]
            if not definitions:
                return None  # no base defines it: a metaclass, ``__getattr__``
            for statement, owner, path in definitions:
                where = f"`{owner.name}.{name}` ({path}:{statement.lineno})"
                if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                    return f"{where} is no plain method: it may set a credential on `{session}`"
                methods = own | {n for c, _, _ in above for n in map(_named, c.body) if n}
                changed = _touches(statement, attr, methods)
                if changed is not None:
                    return (
                        f"{where} may change or hand on `{session}` (line "
                        f"{getattr(changed, 'lineno', statement.lineno)}: "
                        f"`{ast.unparse(changed).splitlines()[0]}`)"
                    )
                pending.extend(_reached(statement, own, above))
        return ""


def _defined_in(cls: ast.ClassDef, name: str) -> list[ast.stmt]:
    """The statements of ``cls``'s body that define or bind ``name``."""
    return [s for s in cls.body if _named(s) == name or (not _defines(s) and _binds(s, name))]


def _named(statement: ast.stmt) -> str | None:
    """The name a ``def`` or ``class`` statement defines."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    return None


def _first_parameter(function: _Function) -> str | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0].arg if positional else None


def _reached(function: _Function, own: set[str], above: Sequence[_Defined]) -> list[str]:
    """The bases' methods a base's ``function`` calls or takes through ``self`` (those
    the class does not define itself, whose own are read with it) or ``super()``."""
    me = _first_parameter(function)
    defined = {n for c, _, _ in above for n in map(_named, c.body) if n is not None}
    names: list[str] = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Attribute) or node.attr not in defined:
            continue
        on_self = isinstance(node.value, ast.Name) and node.value.id == me
        on_super = (
            isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "super"
        )
        if (on_self and node.attr not in own) or on_super:
            names.append(node.attr)
    return names


def _touches(function: _Function, attr: str, methods: set[str]) -> ast.AST | None:
    """Where a base's method ``function`` may change or hand on ``self.<attr>`` (the
    session): anything done with it but closing it (``self.session.close()``), looking
    at it (``if self.session is not None``, ``log.debug(...)``) or unbinding it
    (``self.session = None``); ``self`` or ``super()`` handed on (``_authorize(self)``,
    ``setattr(self, ...)``), ``self.__dict__``; a call of what no class defines
    (``self.hook()``, a function an instance holds); a decorated method (a property).
    ``methods`` are those the classes define."""
    me = _first_parameter(function)
    if function.decorator_list or me is None:
        return function
    parents = {c: p for p in ast.walk(function) for c in ast.iter_child_nodes(p)}

    def statement(node: ast.AST) -> ast.AST:
        """The statement holding ``node``, shown in the refusal."""
        while not isinstance(node, ast.stmt) and node in parents:
            node = parents[node]
        return node

    found = _touched(function, me, attr, methods, parents)
    return statement(found) if found is not None else None


def _touched(
    function: _Function,
    me: str,
    attr: str,
    methods: set[str],
    parents: Mapping[ast.AST, ast.AST],
) -> ast.AST | None:
    """The first use in ``function`` of ``me`` (its ``self``) :func:`_touches` refuses."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "super" and not isinstance(parents.get(node), ast.Attribute):
                return node  # ``super()`` handed on
            continue
        if not (isinstance(node, ast.Name) and node.id == me):
            continue
        parent = parents.get(node)
        if not isinstance(parent, ast.Attribute):
            # ``_authorize(self)``, ``getattr(self, name)``, ``client = self``
            return parent if parent is not None else node
        if parent.attr.startswith("__"):
            return parent  # ``self.__dict__``
        if parent.attr != attr:
            use = parents.get(parent)
            if isinstance(use, ast.Call) and use.func is parent and parent.attr not in methods:
                return use  # ``self.hook()``: a function the instance holds may take it
            continue  # another attribute; a method of the bases is read in turn
        use = parents.get(parent)
        call = parents.get(use) if use is not None else None
        if (
            isinstance(use, ast.Attribute)
            and use.attr in _CLOSES
            and isinstance(call, ast.Call)
            and call.func is use
        ):
            continue  # ``self.session.close()``
        if isinstance(use, ast.Compare | ast.Assert) or (
            isinstance(use, ast.If | ast.While | ast.IfExp) and use.test is parent
        ):
            continue  # ``if self.session is not None``
        if isinstance(use, ast.UnaryOp) and isinstance(use.op, ast.Not):
            continue
        if (
            isinstance(use, ast.Assign)
            and parent in use.targets
            and isinstance(use.value, ast.Constant)
            and use.value.value is None
        ):
            continue  # ``self.session = None``
        if isinstance(use, ast.Call) and parent in use.args:
            name = ast.unparse(use.func)
            if name in _LOOKS or name.rpartition(".")[2] in _LOOKS_METHODS:
                continue  # ``log.debug("closing %r", self.session)``
        return use if use is not None else parent
    return None


class _Reader:
    """Reads one helper's requests into problems (refusals) and notes."""

    def __init__(
        self,
        tree: ast.Module,
        function: _Function | ast.Module,
        cls: ast.ClassDef | None,
        where: str,
        passed: frozenset[str] | None,
        *,
        at_call: bool = False,
        caller: _Caller | None = None,
        submodule: Callable[[str, int], bool] | None = None,
        read_sessions: frozenset[str] = frozenset(),
        bases: _Bases | None = None,
        read_inherited: frozenset[str] = frozenset(),
    ) -> None:
        self.tree = tree
        self.function = function
        self.cls = cls
        self.where = where
        # a call made at module level has no parameters
        self.given = _parameters(function) if not isinstance(function, ast.Module) else set()
        #: The parameters the call site gives (``None``: not known, a helper further in).
        self.passed = passed
        #: Reading the call site's own function: its parameters are per call, never a
        #: value the codemod reads at the site.
        self.at_call = at_call
        #: Who calls this function: what it gives a parameter the request is made
        #: through (``method(url, ...)``) is read there.
        self.caller = caller
        #: Whether ``from <level dots> import <name>`` imports a module of the package
        #: (``None``: the file is not known here, and the planner resolves it).
        self.submodule = submodule
        #: Sessions imported from a module of the service that were read there
        #: (:func:`_imported_session`): sent through, they add nothing unread.
        self.read_sessions = read_sessions
        #: Reads a method the class takes from a base of the service (``None``: the
        #: bases are not read, and such a method refuses).
        self.bases = bases
        #: The inherited methods (``self.session.close``) the planner read in the bases
        #: and found to leave the session alone (:attr:`HelperRequest.read_inherited`).
        self.read_inherited = read_inherited
        #: Those this reader found so, and why the bases may change the session, as
        #: :attr:`problems` holds it too.
        self.plain_inherited: list[str] = []
        self.base_problems: list[str] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        #: The SSL contexts the requests read are given, with their keyword
        #: (``("verify", ctx)``): another file may load a client certificate into one.
        self.contexts: list[tuple[str, ast.expr]] = []
        #: How many of :attr:`problems` are a certificate the request presents.
        self.presented = 0

    def _own(self, value: ast.expr, keyword: str) -> bool:
        """Whether ``value`` is the call site's own ``keyword=``, passed on untouched: a
        parameter of the helper of that name which the helper never rebinds, writes into
        or aliases. Only then does the codemod read it at the site; any other parameter is
        read for what the helper makes of it, and in the call site's own function one is
        a value made per call."""
        return (
            not self.at_call
            and isinstance(value, ast.Name)
            and value.id == keyword
            and value.id in self.given
            and not _changes(self.function, value.id)
            # ``auth=SERVICE_AUTH``: a call site that passes nothing sends the default,
            # which is the helper's value, not the site's
            and _unset_default(self.function, value.id)
        )

    def _fallback(self, value: ast.expr) -> ast.expr | None:
        """What ``headers or default()`` sends: ``None`` (nothing of the helper's own) when
        the call site gives ``headers`` or which it does is not known, else the default."""
        if not (
            isinstance(value, ast.BoolOp)
            and isinstance(value.op, ast.Or)
            and isinstance(value.values[0], ast.Name)
            and value.values[0].id in self.given
            and not self.at_call
            and not _changes(self.function, value.values[0].id)
        ):
            return value
        if self.passed is None or value.values[0].id in self.passed:
            return None
        rest = value.values[1:]
        return rest[0] if len(rest) == 1 else ast.BoolOp(op=ast.Or(), values=rest)

    def _at(self, node: ast.AST) -> str:
        return self.where.format(line=getattr(node, "lineno", getattr(self.function, "lineno", 1)))

    def request(self, call: ast.Call) -> None:
        for keyword in call.keywords:
            if keyword.arg is not None:
                self.keyword(keyword.arg, keyword.value)
            elif isinstance(keyword.value, ast.Name):
                self.spread(keyword.value.id)
        self.client(call)

    def client(self, call: ast.Call) -> None:
        """What the session or client ``call`` is made on adds to every request made
        through it (the helper's and the call site's alike)."""
        if isinstance(call.func, ast.Name) and call.func.id in self.given and not self.at_call:
            self._through(call.func)
            return
        picked = call.func
        if (
            isinstance(picked, ast.Call)
            and isinstance(picked.func, ast.Name)
            and picked.func.id == "getattr"
            and picked.args
        ):
            # ``getattr(self.session, method)(url, ...)``: a method of that session
            method = ast.Attribute(value=picked.args[0], attr="request", ctx=ast.Load())
            call = ast.copy_location(
                ast.Call(func=ast.copy_location(method, picked), args=[], keywords=[]), call
            )
        unread = self._unread_session(call.func)
        if unread is not None:
            self.problems.append(unread)
            return
        found = self._session(call.func)
        if found is not None:
            self.session(*found)

    def _through(self, func: ast.Name) -> None:
        """A request made through a parameter (``method(url, ...)``): it is what each
        caller gives that parameter, read in the caller's scope (:meth:`sends_through`).
        A parameter the function rebinds, or a caller the rewrite cannot read, refuses."""
        name = func.id
        calls = self.caller.calls if self.caller is not None else ()
        if not calls or _changes(self.function, name) or isinstance(self.function, ast.Module):
            self.problems.append(
                f"{self._at(func)} sends through `{name}`, a parameter, which the rewrite "
                "cannot see into"
            )
            return
        assert self.caller is not None
        for call in calls:
            reader = self.caller.reader()
            given = _argument(self.function, self.cls, call, name)
            if given is None:
                reader.problems.append(
                    f"{reader._at(call)} gives `{name}` a value the rewrite cannot see into"
                )
            else:
                reader.sends_through(given)
            self.problems.extend(reader.problems)
            self.notes.extend(reader.notes)

    def sends_through(self, value: ast.expr) -> None:
        """What a request made through ``value`` adds, ``value`` given for a helper's
        ``method``: the HTTP library's own function (``requests.post``, ``httpx.post``)
        nothing; a session's or client's method (``self.session.post``, ``s.post``) what
        that session adds, read by the session rules; anything else (a function of the
        project, a session from elsewhere) refuses."""
        if isinstance(value, ast.Name) and value.id in self.given and not self.at_call:
            self._through(value)  # passed on from further out
            return
        dotted = _qualified(self.tree, value)
        head, _, verb = dotted.rpartition(".")
        if verb in _VERBS and head.partition(".")[0] in _HTTP:
            return  # ``requests.post``, ``from httpx import post``: nothing of its own
        if isinstance(value, ast.Attribute) and value.attr in _VERBS:
            owner = value.value
            made: ast.expr | None = None
            if _on_self(owner) and self.cls is not None:
                made = _assigned(self.cls, ast.unparse(owner))
            elif isinstance(owner, ast.Name):
                scope: ast.AST = (
                    self.function
                    if _binds(self.function, owner.id)
                    else ast.Module(body=self._top_level(), type_ignores=[])
                )
                made = _made_by(scope, owner.id, self.tree)
            if not (
                isinstance(made, ast.Call)
                and _qualified(self.tree, made.func) not in _CONSTRUCTORS
                and _authenticating(self.tree, made.func) is None
            ):
                # a session of the HTTP library (or one the session rules refuse): read
                # as if the request were made on it here
                self.client(ast.copy_location(ast.Call(func=value, args=[], keywords=[]), value))
                return
        self.problems.append(
            f"{self._at(value)} sends through `{ast.unparse(value)}`, which the rewrite "
            "cannot see into"
        )

    def _unread_session(self, func: ast.expr) -> str | None:
        """Why the session ``func`` is made on cannot be read, which refuses the site: it
        may add a credential. A send is read only through what the rewrite sees built: a
        name its function or module binds to a known constructor (``requests.Session()``,
        ``httpx.Client(...)``), ``self.<attr>`` the class binds to one, or the HTTP
        library's own function (``requests.post``). Anything else refuses: a session the
        class makes in a method or property (``@cached_property def session``), or does
        not build at all; one the file imports from a module of its own (``from .http
        import http``) but one the planner read there (``read_sessions``), or from its
        package's ``__init__``; one a name takes from
        elsewhere (``s = self.client``, ``_s = http.session``); a factory's answer
        (``get_session().post``), an attribute chain (``http.session.post``,
        ``Api.session.post``) or an item (``SESSIONS["users"].post``)."""
        if not isinstance(func, ast.Attribute):
            return None
        owner = func.value
        if _on_self(owner) and self.cls is not None:
            made = next(
                (
                    n
                    for n in self.cls.body
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                    and n.name == owner.attr
                ),
                None,
            )
            if made is not None:
                return (
                    f"{self._at(func)} sends through `self.{owner.attr}`, which the class "
                    f"makes in a method (line {made.lineno}) the rewrite cannot see into"
                )
            if func.attr not in _VERBS:
                return None
            values = _bound(self.cls, f"self.{owner.attr}", self.tree)
            if not values:
                return (
                    f"{self._at(func)} sends through `self.{owner.attr}`, which the class "
                    "does not build: the rewrite cannot see into it"
                )
            return self._unbuilt(func, f"self.{owner.attr}", values)
        if not isinstance(owner, ast.Name):
            if (
                func.attr in _VERBS
                and ast.unparse(owner) in self.read_sessions
                and isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id not in self.given
            ):
                return None  # ``http.session``: read in its own module, and plain
            if func.attr not in _VERBS or self._library(owner) or self._module(owner):
                return None
            if isinstance(owner, ast.Call) and _qualified(self.tree, owner.func) in _CONSTRUCTORS:
                # ``requests.Session().post(...)``: read as one bound here
                self._constructor(ast.unparse(owner), owner)
                return None
            return (
                f"{self._at(func)} sends through `{ast.unparse(owner)}`, which the rewrite "
                "cannot see into"
            )
        if owner.id in ("self", "cls"):
            return None  # a method of the class: a helper the scan reads on its own
        if owner.id in self.given:
            if func.attr not in _VERBS:
                return None
            # a session handed in: what the caller set up on it is not read here
            return (
                f"{self._at(func)} sends through `{owner.id}`, a parameter, whose headers "
                "or credential the rewrite cannot see"
            )
        if func.attr in _VERBS:
            if self._library(owner):
                return None  # ``requests.post``: the library's own function adds nothing
            # a session is read only when built here by a known constructor
            local = (
                []
                if isinstance(self.function, ast.Module)
                else _bound(self.function, owner.id, self.tree)
            )
            module = ast.Module(
                body=[s for s in self.tree.body if not _defines(s)], type_ignores=[]
            )
            values = local or _bound(module, owner.id, self.tree)
            if values:
                return self._unbuilt(func, owner.id, values)
            if owner.id in self.read_sessions:
                return None  # imported, read in its own module, and plain
            return self._imported(func, owner.id)
        if not isinstance(self.function, ast.Module):
            bound = _assigned(self.function, owner.id)
            if isinstance(bound, ast.Name | ast.Attribute | ast.Subscript):
                return (
                    f"{self._at(bound)} sends through `{owner.id}` "
                    f"(`{ast.unparse(bound)}`), which the rewrite cannot see into"
                )
        return None  # ``kernel.data_request(...)``: a module's function, read as a helper

    def _unbuilt(self, func: ast.expr, session: str, values: list[ast.expr | None]) -> str | None:
        """Why the session ``session``, bound to each of ``values``, cannot be read:
        ``None`` when each is a known constructor or a container (``URLS.get(name)`` is
        no request, ``self.session = None`` no session)."""
        for value in values:
            if value is None:
                return (
                    f"{self._at(func)} sends through `{session}`, which a loop, an unpacking "
                    "or an augmented assignment binds: the rewrite cannot see into it"
                )
            if isinstance(value, _CONTAINERS):
                continue  # ``self.session = None`` until it is built
            if isinstance(value, ast.Call):
                if not self._known(value):
                    return self._unseen(func, session, value)
                continue
            return (
                f"{self._at(value)} sends through `{session}` (`{ast.unparse(value)}`), "
                "which the rewrite cannot see into"
            )
        return None

    def _imported(self, func: ast.expr, name: str) -> str | None:
        """Why the session ``name``, which neither the function nor the module binds,
        cannot be read. A module (``import x``) is none: its ``request(...)`` is a
        function the scan reads as a helper; so is a module of the package (``from .
        import sendinblue``), but not a name its ``__init__`` defines (``from .. import
        session``). Any other import is a session made elsewhere."""
        node = next(
            (
                n
                for n in ast.walk(self.tree)
                if isinstance(n, ast.Import | ast.ImportFrom)
                and any((a.asname or a.name.partition(".")[0]) == name for a in n.names)
            ),
            None,
        )
        if node is None:
            return (
                f"{self._at(func)} sends through `{name}`, which neither its function nor "
                "its module builds: the rewrite cannot see into it"
            )
        if isinstance(node, ast.Import):
            return None
        source = f"{'.' * node.level}{node.module or ''}"
        if node.level == 0 and (node.module or "").partition(".")[0] in _HTTP:
            return None
        if node.module is None:
            # a module of the package, or a name of its ``__init__``; the planner
            # resolves it when the call site's reader cannot (:func:`_package_session`)
            if self.submodule is None or _package_name(self.tree, name, self.submodule) is None:
                return None
            return _package_refusal(self._at(node), name, node)
        return (
            f"{self._at(node)} sends through `{name}`, which it imports from "
            f"`{source}`: the rewrite cannot see what that session adds"
        )

    def _module(self, owner: ast.expr) -> bool:
        """Whether ``owner`` names a module the file imports whole (``import
        app.http``: ``app.http.post(...)`` is its function, read as a helper)."""
        text = ast.unparse(owner)
        return any(
            isinstance(n, ast.Import) and any(a.asname is None and a.name == text for a in n.names)
            for n in ast.walk(self.tree)
        )

    def _library(self, owner: ast.expr) -> bool:
        """Whether ``owner`` is the HTTP library's module (``requests``, ``httpx``,
        ``aiohttp.client``), imported as such, or a module of the standard library
        (``os.environ.get(...)`` is no request)."""
        root = owner
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return False
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if (alias.asname or alias.name.partition(".")[0]) == root.id:
                        top = alias.name.partition(".")[0]
                        return top in _HTTP or top in sys.stdlib_module_names
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module
                and any((a.asname or a.name) == root.id for a in node.names)
            ):
                top = node.module.partition(".")[0]
                return top in _HTTP or top in sys.stdlib_module_names
        return False

    def _known(self, value: ast.expr) -> bool:
        """Whether ``value`` builds a session or client of an HTTP library the scan knows
        (``requests.Session()``, ``httpx.Client(...)``): only then are its headers and
        credential read from what the scope sets on it."""
        if not isinstance(value, ast.Call):
            return False
        name = _qualified(self.tree, value.func)
        if name in _CONSTRUCTORS:
            return True
        # an instance of a class of the project (``client = APIClient()``): its methods
        # are helpers the scan records and this reader reads on their own
        last = name.rpartition(".")[2]
        return last[:1].isupper() and name.partition(".")[0] not in _HTTP

    def _unseen(self, func: ast.expr, session: str, made_by: ast.expr) -> str:
        what = (
            f"the result of `{ast.unparse(made_by)}`"
            if isinstance(made_by, ast.Call)
            else f"`{ast.unparse(made_by)}`"
        )
        return (
            f"{self._at(func)} sends through `{session}`, {what}, whose headers or "
            "credential the rewrite cannot see"
        )

    def keyword(self, name: str, value: ast.expr) -> None:
        """A keyword the request is given: written in it, or put into the ``**kwargs`` it
        passes on."""
        if name == "headers":
            self.headers(value, "its request's `headers=`")
        elif name in ("auth", "cookies"):
            self.credential(value, f"`{name}=`", value)
        elif name == "params":
            self.query(value)
        elif name in _PRESENTS:
            self.presents(name, value)

    def presents(self, name: str, value: ast.expr) -> None:
        """A keyword of the request itself that says which certificate it presents:
        ``cert=`` (requests', httpx's) is a client certificate, and ``verify=`` may be an
        SSL context holding one (:meth:`_client_certificate`). The consumer's in-process
        request presents none, so the callee's client authentication would refuse every
        event."""
        if self._own(value, name) or (isinstance(value, ast.Constant) and value.value is None):
            return
        before = len(self.problems)
        self._presents(name, value)
        self.presented += len(self.problems) - before

    def _presents(self, name: str, value: ast.expr) -> None:
        if name == "cert":
            self.problems.append(
                f"{self._at(value)} presents the client certificate "
                f"`cert={ast.unparse(value)}`, which the event does not carry"
            )
        elif name == "connector":
            if not self._plain_transport(value, value, kinds=_CONNECTORS):
                self.problems.append(
                    f"{self._at(value)} passes `connector={ast.unparse(value)}`, which may "
                    "present a client certificate and which the rewrite cannot see into"
                )
        elif self._client_certificate(value, name):
            self.problems.append(
                f"{self._at(value)} passes `{name}={ast.unparse(value)}`, an SSL context "
                "that may hold a client certificate, which the event does not carry"
            )

    def spread(self, name: str) -> None:
        """What the function writes into the dict it passes on as ``**name`` before its
        request (``kwargs["headers"] = ...``, ``kwargs.setdefault("headers", {})[...] =
        ...``, ``kwargs.update(headers=...)``, through an alias or a rebinding): it reaches
        the request as the keyword it names, and the call site's keywords do not say it.
        A change the rewrite cannot read refuses the site: it may add a credential."""
        for write in _changes(self.function, name):
            entries = write.entries
            if write.rebound is not None:
                entries = write.rebound if isinstance(write.rebound, ast.Dict) else None
            if entries is None or None in write.path or len(write.path) > 1:
                self.problems.append(
                    f"{self._at(write.node)} adds to the request's arguments "
                    f"`**{name}` (`{ast.unparse(write.node)}`), which the rewrite cannot "
                    "see into"
                )
                continue
            if write.path:  # ``kwargs["headers"]["Authorization"] = ...``
                self.keyword(write.path[0] or "", entries)
                continue
            for key, item in zip(entries.keys, entries.values, strict=True):
                named = _text_key(key) if key is not None else None
                if named is not None:
                    self.keyword(named, item)
                elif not (key is None and isinstance(item, ast.Name) and item.id == name):
                    self.problems.append(
                        f"{self._at(item)} adds `{ast.unparse(item)}` to the request's "
                        f"arguments `**{name}`, which the rewrite cannot see into"
                    )

    def query(self, given: ast.expr) -> None:
        """``params=``: a credential in the query (``access_token``, ``api_key``) is one
        as a header is; the consumer calls the route with no query at all."""
        value = self._fallback(given)
        if value is None or self._own(value, "params"):
            return
        if isinstance(value, ast.Constant) and value.value is None:
            return
        made = self._dict(value)
        if made is None:
            self.problems.append(
                f"{self._at(value)} sends the query `params={ast.unparse(value)}`, which "
                "the rewrite cannot see into"
            )
            return
        for key, item in zip(made.keys, made.values, strict=True):
            name = _text_key(key) if key is not None else None
            if name is not None and (secret_name(name) or name.lower() in QUERY_CREDENTIALS):
                self.credential(item, f"`{name}` in the query", item)
            elif key is None and not self._own(item, "params"):
                self.problems.append(
                    f"{self._at(item)} sends `**{ast.unparse(item)}` in the query, which the "
                    "rewrite cannot see into"
                )
            elif key is not None:
                self.notes.append(
                    f"query parameter `{ast.unparse(key)}` {self._at(key)} adds is not "
                    "carried: the consumer calls the route with no query"
                )

    # -- headers -------------------------------------------------------------------------

    def headers(self, given: ast.expr, what: str) -> None:
        value = self._fallback(given)
        if value is None:
            return
        if self._own(value, "headers"):
            return  # the call site's own headers, passed on: the codemod reads them there
        if isinstance(value, ast.Constant) and value.value is None:
            return
        made = self._dict(value)
        if made is None:
            local = _assigned(self.function, value.id) if isinstance(value, ast.Name) else None
            shown = ast.unparse(local if local is not None else value)
            self.problems.append(
                f"{self._at(local or value)} sends {what} `{shown}`, which the "
                "rewrite cannot see into"
            )
            return
        for key, item in zip(made.keys, made.values, strict=True):
            if key is None:
                if not self._own(item, "headers"):
                    self.problems.append(
                        f"{self._at(item)} sends `**{ast.unparse(item)}` in "
                        f"{what}, which the rewrite cannot see into"
                    )
                continue
            if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
                self._unnamed_header(key, what, item)
                continue
            self.header(key.value, item)

    def _unnamed_header(self, key: ast.expr, what: str, value: ast.expr) -> None:
        """A header written under a name that is not a literal (``for name, value in
        self.auth_headers().items(): headers[name] = value``): it may be the credential,
        so it refuses the site like any change to the headers the rewrite cannot read. A
        module constant holding the name (``TENANT_HEADER = "X-Tenant"``) is that name."""
        if isinstance(key, ast.Name):
            named = _assigned(ast.Module(body=self._top_level(), type_ignores=[]), key.id)
            text = _text_key(named) if named is not None else None
            if text is not None:
                self.header(text, value)
                return
        self.problems.append(
            f"{self._at(key)} sends a header named `{ast.unparse(key)}` in {what}, "
            "whose name the rewrite cannot see (it may be the credential)"
        )

    def header(self, name: str, value: ast.expr) -> None:
        lower = name.lower()
        if lower == "content-type":
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                self.problems.append(
                    f"{self._at(value)} sends `Content-Type: "
                    f"{ast.unparse(value)}`, which may not be JSON"
                )
            elif not is_json_media_type(value.value):
                self.problems.append(
                    f"{self._at(value)} sends `Content-Type: {value.value}`, and "
                    "the consumer hands the callee the event's data as `application/json`, "
                    "which its parsers read differently"
                )
            return
        if lower in TRANSPORT_HEADERS:
            return
        if lower in CREDENTIAL_HEADERS or secret_name(name):
            self.credential(value, f"`{name}`", value)
        else:
            self.notes.append(
                f"header `{name}` {self._at(value)} adds is not carried: name it "
                "in the send's `headers=`, or give it to the consumer with "
                "`DECOUPLE_REQUEST_HEADERS`"
            )

    def credential(self, given: ast.expr, what: str, at: ast.AST) -> None:
        value = self._fallback(given)
        if value is None:
            return
        if self._own(value, what.strip("`=")):
            return  # the call site's own, passed on: the codemod reads it there
        if isinstance(value, ast.Constant) and value.value is None:
            return
        if isinstance(value, ast.Name) and value.id in self.given:
            # a parameter the helper rebinds (``auth = auth or BearerAuth(...)``): what
            # it makes; one it passes on under another name, or the call site's own
            # function's, is made per call
            rebound = [w for w in _changes(self.function, value.id) if w.rebound is not None]
            if rebound and not self.at_call:
                for write in rebound:
                    made = write.rebound
                    assert made is not None
                    if (
                        isinstance(made, ast.BoolOp)
                        and isinstance(made.op, ast.Or)
                        and ast.unparse(made.values[0]) == value.id
                    ):
                        made = made.values[1] if len(made.values) == 2 else made
                    if ast.unparse(made) != value.id:
                        self.credential(made, what, write.node)
                return
        if _fixed(value, self.tree) or (
            isinstance(value, ast.Tuple) and all(_fixed(e, self.tree) for e in value.elts)
        ):
            self.notes.append(
                f"the credential {what} {self._at(at)} adds is not carried: the "
                "consumer calls the callee without it; give the consumer its own credential "
                "with `DECOUPLE_REQUEST_HEADERS` (docs/security.md)"
            )
            return
        self.problems.append(
            f"{self._at(at)} adds the credential {what} "
            f"(`{ast.unparse(value)}`), made per call or per client"
        )

    def _dict(self, value: ast.expr) -> ast.Dict | None:
        """The dict literal ``value`` is: written there, bound once to a local of the
        helper, to a module constant, or to an attribute its class sets once."""
        if isinstance(value, ast.Dict):
            return value
        if isinstance(value, ast.Name):
            writes = _changes(self.function, value.id)
            default = _default(self.function, value.id)
            if not writes and value.id in self.given and default is not None and not self.at_call:
                # ``headers=DEFAULT_HEADERS`` sends the default when the call gives none
                return self._dict(default)
            if writes or value.id in self.given:
                return self._changed(value.id, writes)
            module = _assigned(ast.Module(body=self._top_level(), type_ignores=[]), value.id)
            return module if isinstance(module, ast.Dict) else None
        if (
            isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id == "self"
            and self.cls is not None
        ):
            assigned = _assigned(self.cls, f"self.{value.attr}")
            return assigned if isinstance(assigned, ast.Dict) else None
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and not value.args
            and not value.keywords
        ):
            return _getter_dict(self.tree, value.func.id)
        return None

    def _top_level(self) -> list[ast.stmt]:
        return [s for s in self.tree.body if isinstance(s, ast.Assign | ast.AnnAssign)]

    def _changed(self, name: str, writes: list[_Write]) -> ast.Dict | None:
        """The headers a local or parameter ``name`` holds at the request: what each
        binding makes (``headers = {...}``, ``headers = headers or {}``, ``headers =
        get_auth_headers()``) and what is written into it after (``headers["Cookie"] =
        ...``, ``headers.update(...)``), all of which go with the request; ``None`` when
        one of these cannot be read. The parameter's own value (``**headers``) is the call
        site's, which the codemod reads there."""
        keys: list[ast.expr | None] = []
        values: list[ast.expr] = []
        for write in writes:
            made = write.entries
            if write.rebound is not None:
                made = self._rebound(name, write.rebound)
            if made is None or write.path:
                return None
            keys.extend(made.keys)
            values.extend(made.values)
        return ast.Dict(keys=keys, values=values)

    def _rebound(self, name: str, value: ast.expr) -> ast.Dict | None:
        """What ``name = value`` adds to what ``name`` held: ``headers or {...}`` the
        default, ``{**(headers or {}), ...}`` its other items, a getter what it returns."""
        if (
            isinstance(value, ast.BoolOp)
            and isinstance(value.op, ast.Or)
            and ast.unparse(value.values[0]) == name
        ):
            rest = value.values[1:]
            return self._dict(rest[0] if len(rest) == 1 else ast.BoolOp(op=ast.Or(), values=rest))
        if isinstance(value, ast.Dict):
            keys: list[ast.expr | None] = []
            values: list[ast.expr] = []
            for key, item in zip(value.keys, value.values, strict=True):
                held = item.values[0] if isinstance(item, ast.BoolOp) else item
                if key is None and ast.unparse(held) == name:
                    inner = self._rebound(name, item) if held is not item else None
                    if inner is not None:
                        keys.extend(inner.keys)
                        values.extend(inner.values)
                    continue
                keys.append(key)
                values.append(item)
            return ast.Dict(keys=keys, values=values)
        if isinstance(value, ast.Call) and ast.unparse(value) != name:
            return self._dict(value)
        return None

    # -- the session ---------------------------------------------------------------------

    def _session(self, func: ast.expr) -> tuple[str, ast.AST] | None:
        """``(session, where it is set up)`` of ``session.post(...)``: ``self.session``
        in the class, a name the function binds (``with requests.Session() as s``) in the
        function, a name the module binds in the module. Headers or auth set on it
        travel with every request made through it."""
        if not isinstance(func, ast.Attribute):
            return None
        owner = func.value
        if _on_self(owner):
            return (f"self.{owner.attr}", self.cls) if self.cls is not None else None
        if not isinstance(owner, ast.Name) or owner.id in self.given:
            return None
        if _binds(self.function, owner.id):
            return owner.id, self.function
        if any(_binds(s, owner.id) for s in self.tree.body if not _defines(s)):
            return owner.id, self.tree
        return None  # an import (``requests.post``), a parameter: nothing set up here

    def session(self, session: str, scope: ast.AST) -> None:
        if any(
            isinstance(v, ast.Call) and _qualified(self.tree, v.func) in _CONSTRUCTORS
            for v in _bound(scope, session, self.tree)
        ):
            # a session of the HTTP library (not a dict, not a client class of the
            # project, whose methods are helpers read on their own)
            if scope is self.tree and "." not in session:
                self._module_bindings(session)
            if isinstance(scope, ast.ClassDef) and session.startswith("self."):
                self._inherited(session, scope)
            for call, given in _handed(scope, session):
                # ``_authorize(s)``, ``auth.apply(self.session)``: the function may set
                # a header or a credential on it, which the rewrite does not follow
                shown = ast.unparse(given)
                if shown == "self":
                    shown = f"self` (which holds `{session}`)"
                else:
                    shown += "`"
                if not isinstance(call, ast.Call):
                    targets = call.targets if isinstance(call, ast.Assign) else [call.target]
                    self.problems.append(
                        f"{self._at(call)} aliases `{shown} as "
                        f"`{', '.join(ast.unparse(t) for t in targets)}`, through which a "
                        "credential may be added that the rewrite cannot see"
                    )
                    continue
                self.problems.append(
                    f"{self._at(call)} hands `{shown} to "
                    f"`{ast.unparse(call.func)}(...)`, which may add a credential the "
                    "rewrite cannot see"
                )
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if node.value is not None:
                        built = _entered(node.value, self.tree)
                        self._session_target(session, target, built)
                        self._session_setting(session, target, node.value)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                built = _entered(node.context_expr, self.tree, entering=True)
                self._session_target(session, node.optional_vars, built)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and ast.unparse(node.func.value) == f"{session}.headers"
            ):
                for argument in node.args:
                    self.headers(argument, f"`{session}.headers`")
                if node.keywords:  # ``headers.update(Authorization=...)``
                    named = _update_entries(
                        ast.Call(func=node.func, args=[], keywords=node.keywords)
                    )
                    self.headers(named or ast.Constant(None), f"`{session}.headers`")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._session_change(session, node)

    def _inherited(self, session: str, cls: ast.ClassDef) -> None:
        """A method called on ``self`` that the class of ``session`` does not define,
        when the class has a base other than ``object``: a base class or mixin
        (``self.authenticate()``) may set a credential on ``self.session``, which the
        rewrite does not read; so may one taken as a value and called later
        (``self.auth_hook = self.authenticate``). A base's metaclass (a ``__call__``
        that sets a header after ``__init__``) leaves no trace here and is not seen."""
        if not any(ast.unparse(b) not in ("object", "builtins.object") for b in cls.bases):
            return
        defined = {
            s.name
            for s in cls.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        for node in ast.walk(cls):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defined.add(target.id)
                elif _on_self(target):
                    defined.add(target.attr)
        # a base's ``__init__`` run before the session is built cannot touch it
        built = min(
            (
                n.lineno
                for n in ast.walk(cls)
                if isinstance(n, ast.Assign) and any(ast.unparse(t) == session for t in n.targets)
            ),
            default=0,
        )
        seen: set[str] = set()
        for held, at in _self_values(self.tree, cls):
            # ``self.auth_hook = self.authenticate; self.auth_hook()``: a base's method
            # taken as a value is called later under a name the class binds
            if held.attr not in defined and held.attr not in seen:
                seen.add(held.attr)
                self._base_method(
                    session,
                    cls,
                    held.attr,
                    f"{self._at(at)} takes `self.{held.attr}`, which its class does not "
                    "define, as a value",
                    f"a base class may set a credential on `{session}` through it",
                )
        for node in ast.walk(cls):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            if _on_self(node.func) and method not in defined and method not in seen:
                seen.add(method)
                self._base_method(
                    session,
                    cls,
                    method,
                    f"{self._at(node)} calls `self.{method}()`, which its class does not define",
                    f"a base class may set a credential on `{session}`",
                )
            elif (
                isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "super"
                and not (method == "__init__" and node.lineno < built)
            ):
                self._base_method(
                    session,
                    cls,
                    method,
                    f"{self._at(node)} calls `super().{method}()`",
                    f"a base class defines: it may set a credential on `{session}`",
                    separator=", which ",
                )

    def _base_method(
        self,
        session: str,
        cls: ast.ClassDef,
        method: str,
        what: str,
        unread: str,
        *,
        separator: str = ": ",
    ) -> None:
        """A method ``cls`` takes from a base (``what`` it does with it): read in the
        bases when they are the service's own (:class:`_Bases`), refused when they may
        change ``session`` (naming where) or cannot be read (``unread``)."""
        key = f"{session}.{method}"
        if key in self.read_inherited:
            return
        why = self.bases.method(self.tree, cls, method, session) if self.bases else None
        if why == "":
            self.plain_inherited.append(key)
            return
        if why is None:
            self.problems.append(f"{what}{separator}{unread}")
            return
        problem = f"{what}: {why}"
        self.base_problems.append(problem)
        self.problems.append(problem)

    def _module_bindings(self, session: str) -> None:
        """Every binding of the module session ``session``, at module level or under
        ``global`` in a function (an ``init_app``-style ``SESSION = _authed(token)``),
        must be a known constructor or ``None``: any other value may be a session that
        carries a credential, which the send through the name then sends too."""
        for node, value in _module_bindings(self.tree, session):
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            if isinstance(value, ast.Call) and (_qualified(self.tree, value.func) in _CONSTRUCTORS):
                continue
            shown = ast.unparse(value) if value is not None else "a value"
            self.problems.append(
                f"{self._at(node)} rebinds `{session}` to `{shown}`, which the rewrite "
                "cannot see into"
            )

    def _constructor(self, session: str, value: ast.Call) -> None:
        """What the constructor call ``value`` building ``session`` gives every request:
        its ``headers=``, ``auth=``, ``cookies=`` and ``params=``, read. Of an HTTP
        library's constructor, any other keyword (or argument) but those that only say
        how the request travels (:data:`_SETTINGS`) refuses: ``event_hooks=``,
        ``transport=``, ``cert=``, ``**options`` may add to every request what the send
        does not carry (a hook setting `Authorization`, a client certificate), but for
        the library's own retrying transport (:meth:`_plain_transport`)."""
        library = _qualified(self.tree, value.func)
        known = library in _CONSTRUCTORS
        for keyword in value.keywords:
            if keyword.arg == "headers":
                self.headers(keyword.value, f"`{session}`'s headers")
            elif keyword.arg in ("auth", "cookies"):
                self.credential(keyword.value, f"`{keyword.arg}=` of `{session}`", value)
            elif not known:
                continue  # a class of the project: its methods are helpers read on their own
            elif keyword.arg == "params":
                self.query(keyword.value)
            elif keyword.arg == "transport" and self._plain_transport(keyword.value, value):
                self._retries(session, keyword.value)
            elif keyword.arg == "transport" and (
                (held := self._transport_certificate(keyword.value, value)) is not None
            ):
                # the library's transport, plain but for the client certificate its
                # ``verify=`` may hold: say that, not that the transport is unread
                self._certificate(session, held)
            elif keyword.arg == "verify" and self._client_certificate(keyword.value):
                self._certificate(session, keyword.value)
            elif keyword.arg == "connector":
                self._connector(session, keyword.value, value)
            elif keyword.arg not in _SETTINGS:
                shown = f"{keyword.arg}=" if keyword.arg else f"**{ast.unparse(keyword.value)}"
                self.problems.append(
                    f"{self._at(keyword.value)} builds `{session}` with `{shown}`, which "
                    "changes every request it sends and which the rewrite cannot see into"
                )
        allowed = _POSITIONAL.get(library.rpartition(".")[2], 0)
        if known and (
            len(value.args) > allowed or any(isinstance(a, ast.Starred) for a in value.args)
        ):
            self.problems.append(
                f"{self._at(value)} builds `{session}` with the arguments "
                f"`{', '.join(ast.unparse(a) for a in value.args)}`, which the rewrite "
                "cannot see into"
            )

    def _connector(self, session: str, given: ast.expr, at: ast.AST) -> None:
        """aiohttp's ``connector=``: its own ``TCPConnector`` with only the keywords of
        :data:`_CONNECTORS` adds nothing; one given an SSL context that may hold a client
        certificate (``TCPConnector(ssl=ctx)``) refuses, naming it, and any other
        connector refuses too: it is not read."""
        if (isinstance(given, ast.Constant) and given.value is None) or self._plain_transport(
            given, at, kinds=_CONNECTORS
        ):
            return
        context = next(
            (
                k
                for k in (given.keywords if isinstance(given, ast.Call) else [])
                if k.arg in ("ssl", "ssl_context") and self._client_certificate(k.value, k.arg)
            ),
            None,
        )
        if context is not None and context.arg is not None:
            self._certificate(session, context.value, context.arg)
        else:
            self.problems.append(
                f"{self._at(given)} builds `{session}` with `connector={ast.unparse(given)}`, "
                "which may present a client certificate and which the rewrite cannot see into"
            )

    def _plain_transport(
        self,
        value: ast.expr,
        at: ast.AST,
        depth: int = 0,
        kinds: Mapping[str, tuple[int, frozenset[str]]] | None = None,
    ) -> bool:
        """Whether ``value`` is one of the HTTP libraries' own transport adapters or retry
        policies (:data:`_TRANSPORTS`: ``HTTPAdapter(max_retries=Retry(total=3))``,
        ``httpx.HTTPTransport(retries=3)``; or, ``kinds`` given, one of those), built in
        place or bound, in the function or module of ``at``, to one such constructor, with
        only the keywords that say how a request is retried or pooled: those add nothing
        to what a request carries. A subclass, another adapter or another keyword
        (``cert=``, ``proxy=``), or an SSL context that may hold a client certificate,
        does not."""
        kinds = _TRANSPORTS if kinds is None else kinds
        if depth > 3:
            return False
        if isinstance(value, ast.Name):
            values = self._bindings(value.id, at)
            return (
                len(values) == 1
                and values[0] is not None
                and self._plain_transport(values[0], at, depth + 1, kinds)
            )
        if not isinstance(value, ast.Call):
            return False
        known = kinds.get(_qualified(self.tree, value.func))
        if known is None:
            return False
        positional, keywords = known
        if len(value.args) > positional or any(isinstance(a, ast.Starred) for a in value.args):
            return False
        for keyword in value.keywords:
            if keyword.arg not in keywords:
                return False
            if keyword.arg in _CONTEXT_KEYWORDS and self._client_certificate(
                keyword.value, keyword.arg
            ):
                return False
            if keyword.arg == "resolver" and not (
                isinstance(keyword.value, ast.Call)
                and _qualified(self.tree, keyword.value.func) in _RESOLVERS
            ):
                return False
            if keyword.arg == "max_retries" and not (
                isinstance(keyword.value, ast.Constant)
                or self._plain_transport(keyword.value, at, depth + 1)
            ):
                return False
        # ``HTTPAdapter(10, 10, Retry(...))``: the third is ``max_retries``
        retried = value.args[2:3] if positional == 4 else []
        return all(
            isinstance(a, ast.Constant) or self._plain_transport(a, at, depth + 1) for a in retried
        )

    def _bindings(self, name: str, at: ast.AST) -> list[ast.expr | None]:
        """What ``name`` is bound to (:func:`_bound`) in the function holding ``at``, or,
        bound nowhere there, at the module's top level."""
        scope = innermost_function(self.tree, getattr(at, "lineno", 0))
        values = _bound(scope, name, self.tree) if scope is not None else []
        if not values:
            top = ast.Module(body=[s for s in self.tree.body if not _defines(s)], type_ignores=[])
            values = _bound(top, name, self.tree)
        return values

    def _transport_certificate(self, value: ast.expr, at: ast.AST) -> ast.expr | None:
        """The ``verify=`` of an HTTP library's own transport (``httpx.HTTPTransport(
        retries=3, verify=ctx)``), built in place or bound once in the function or module
        of ``at``, when it may hold a client certificate and the transport is otherwise
        plain (:meth:`_plain_transport`); else ``None``."""
        if isinstance(value, ast.Name):
            values = self._bindings(value.id, at)
            value = values[0] if len(values) == 1 and values[0] is not None else value
        if not isinstance(value, ast.Call) or _qualified(self.tree, value.func) not in _TRANSPORTS:
            return None
        held = next(
            (
                k.value
                for k in value.keywords
                if k.arg == "verify" and self._client_certificate(k.value)
            ),
            None,
        )
        rest = [k for k in value.keywords if k.arg != "verify"]
        # only when the certificate is all it holds: another setting keeps the wording
        # that the transport cannot be read
        plain = self._plain_transport(
            ast.copy_location(ast.Call(func=value.func, args=value.args, keywords=rest), value),
            at,
        )
        return held if plain else None

    def _client_certificate(self, verify: ast.expr, keyword: str = "verify") -> bool:
        """Whether ``verify=`` may hold a client certificate: an SSL context is how httpx
        takes one (``cert=`` is deprecated for it), and the consumer's in-process request
        presents none. A constant or ``certifi.where()`` (a CA bundle) holds none; a
        context holds one when it is built with ``cert=`` or the file loads a client's
        chain into one (``ctx.load_cert_chain(...)``, :func:`_client_chain`). Any other
        value is kept in :attr:`contexts`: another file may load a chain into it."""
        if isinstance(verify, ast.Constant):
            return False
        if isinstance(verify, ast.Call):
            # a CA bundle's path; aiohttp's pin of the server's certificate
            if _qualified(self.tree, verify.func) in _NO_CERTIFICATE:
                return False
            if any(k.arg in ("cert", "certfile") for k in verify.keywords):
                return True
        self.contexts.append((keyword, verify))
        return _client_chain(self.tree) is not None

    def _certificate(self, session: str, verify: ast.expr, keyword: str = "verify") -> None:
        self.problems.append(
            f"{self._at(verify)} gives `{session}` `{keyword}={ast.unparse(verify)}`, an SSL "
            "context that may hold a client certificate, which the event does not carry"
        )

    def _retries(self, session: str, adapter: ast.expr) -> None:
        self.notes.append(
            f"`{session}` retries through `{ast.unparse(adapter)}`, which the event does not "
            "carry: the consumer's own retry policy replaces it"
        )

    def _session_setting(self, session: str, target: ast.expr, value: ast.expr) -> None:
        """An attribute set on ``session`` other than its headers and credential (read by
        :meth:`_session_target`): ``params`` (an item of it) is read as a request's
        ``params=``, an item of its cookies as a credential; one that only says how the
        request travels (``verify``, ``timeout``) is nothing; any other (``hooks``,
        ``event_hooks``, ``cert``, ``proxies``) refuses: it changes every request."""
        text = ast.unparse(target)
        if not text.startswith(f"{session}."):
            return
        rest = text[len(session) + 1 :]
        attr = rest.partition(".")[0].partition("[")[0]
        item = isinstance(target, ast.Subscript) and ast.unparse(target.value) == (
            f"{session}.{attr}"
        )
        if attr in ("headers", "auth") or rest == "cookies":
            return  # read by :meth:`_session_target`
        if rest == "verify" and self._client_certificate(value):
            self._certificate(session, value)
            return
        if rest == attr and attr in _SETTINGS:
            return
        if attr == "cookies" and item:
            assert isinstance(target, ast.Subscript)
            self.credential(value, f"the cookie `{ast.unparse(target.slice)}`", value)
        elif attr == "params" and (rest == attr or item):
            if isinstance(target, ast.Subscript):
                value = ast.Dict(keys=[target.slice], values=[value])
            self.query(value)
        else:
            self.problems.append(
                f"{self._at(value)} sets `{text}`, which changes every request `{session}` "
                "sends and which the rewrite cannot see into"
            )

    def _session_change(self, session: str, call: ast.Call) -> None:
        """A method called on ``session`` or its settings that changes every request it
        sends: ``mount(...)`` (a transport adapter, which may add a credential, but for
        requests' own ``HTTPAdapter``, read by :meth:`_plain_transport`),
        ``params.update(...)`` (read as ``params=``), a change to its hooks or cookies."""
        assert isinstance(call.func, ast.Attribute)
        owner = ast.unparse(call.func.value)
        if owner == session and call.func.attr == "mount":
            adapter = call.args[1] if len(call.args) > 1 else None
            adapter = next((k.value for k in call.keywords if k.arg == "adapter"), adapter)
            if adapter is not None and self._plain_transport(adapter, call):
                self._retries(session, adapter)
                return
            self.problems.append(
                f"{self._at(call)} mounts a transport adapter on `{session}` "
                f"(`{ast.unparse(call)}`), which may add to every request what the rewrite "
                "cannot see into"
            )
            return
        attr = owner[len(session) + 1 :].partition(".")[0].partition("[")[0]
        if not owner.startswith(f"{session}.") or call.func.attr not in _CHANGES:
            return
        if owner == f"{session}.params" and call.func.attr == "update":
            self.query(_update_entries(call) or call)
        elif owner == f"{session}.headers":
            # ``headers.setdefault(k, v)`` sets ``k`` as ``headers[k] = v`` does; any
            # other change (``update`` is read in :meth:`session`) is not read
            if call.func.attr in ("setdefault", "__setitem__") and len(call.args) == 2:
                named = _text_key(call.args[0])
                if named is None:
                    self._unnamed_header(call.args[0], f"`{owner}`", call.args[1])
                else:
                    self.header(named, call.args[1])
            elif call.func.attr != "update":
                self.problems.append(
                    f"{self._at(call)} changes `{owner}` (`{ast.unparse(call)}`), which "
                    f"changes every request `{session}` sends and which the rewrite cannot "
                    "see into"
                )
        elif attr in ("params", "cookies", "hooks", "event_hooks"):
            self.problems.append(
                f"{self._at(call)} changes `{owner}` (`{ast.unparse(call)}`), which "
                f"changes every request `{session}` sends and which the rewrite cannot see "
                "into"
            )

    def _session_target(self, session: str, target: ast.expr, value: ast.expr) -> None:
        text = ast.unparse(target)
        if text == session and isinstance(value, ast.Call):
            made = _authenticating(self.tree, value.func)
            if made is not None:
                # it fetches, holds and refreshes a token of its own: never fixed
                self.problems.append(
                    f"{self._at(value)} sends through `{session}`, an `{made}`, which "
                    "adds the credential it holds to every request"
                )
            else:
                self._constructor(session, value)
        elif text == f"{session}.headers":
            self.headers(value, f"`{session}.headers`")
        elif text in (f"{session}.auth", f"{session}.cookies"):
            self.credential(value, f"`{text}`", value)
        elif isinstance(target, ast.Subscript) and ast.unparse(target.value) == (
            f"{session}.headers"
        ):
            named = _text_key(target.slice)
            if named is None:
                self._unnamed_header(target.slice, f"`{session}.headers`", value)
            else:
                self.header(named, value)


#: Query parameters that carry a credential though their name says no secret.
QUERY_CREDENTIALS = frozenset({"key", "auth", "sig", "signature", "access_key", "code"})

#: HTTP packages: a name imported from one is a function or a class, not a session set up
#: elsewhere (``from requests import post``).
_HTTP = frozenset({"requests", "httpx", "aiohttp", "urllib3", "niquests", "urllib"})

#: Keywords of a request that say which certificate it presents (:meth:`_Reader.presents`):
#: aiohttp's ``ssl=`` (``ssl_context=`` before 3.0) is its ``verify=``, and a request of
#: ``aiohttp.request(...)`` may bring its own ``connector=``.
_PRESENTS = frozenset({"cert", "verify", "ssl", "ssl_context", "connector"})

#: Keywords that give a request an SSL context: httpx's ``verify=``, aiohttp's ``ssl=``
#: (``ssl_context=`` before 3.0).
_CONTEXT_KEYWORDS = frozenset({"verify", "ssl", "ssl_context"})

#: The methods of a session or client that send a request.
_VERBS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream"}
)

#: Packages whose sessions and clients authenticate each request with a token they hold.
_OAUTH_PACKAGES = ("requests_oauthlib", "authlib", "oauthlib", "httpx_oauth")


def _on_self(node: ast.expr) -> TypeGuard[ast.Attribute]:
    """Whether ``node`` is an attribute of the instance: ``self.session``."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _self_values(tree: ast.Module, cls: ast.ClassDef) -> list[tuple[ast.Attribute, ast.AST]]:
    """Each ``self.<attr>`` in ``cls`` taken whole as a value that may be a method, with
    where: the value of a binding (``hook = self.authenticate``) or an argument
    (``register(self.login)``), alone or in a list, tuple, set or dict. One the class
    reads as data anywhere (``self.base_url.rstrip("/")``, ``self.x[0]``, in an f-string
    or an operation) is no method, nor is a capitalised constant (``self.TIMEOUT``); a
    function that only looks at it or sends with it (``log.info(...)``, ``len``, a send's
    or a known constructor's keywords) takes none."""
    data: set[str] = set()
    for node in ast.walk(cls):
        operands: list[ast.expr] = []
        if isinstance(node, ast.Attribute | ast.Subscript):
            operands = [node.value]
        elif isinstance(node, ast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.FormattedValue):
            operands = [node.value]
        data.update(o.attr for o in operands if _on_self(o))

    def held(value: ast.expr) -> list[ast.Attribute]:
        if isinstance(value, ast.Starred):
            return held(value.value)
        if _on_self(value):
            taken = value.attr not in data and not value.attr.isupper()
            return [value] if taken else []
        if isinstance(value, ast.List | ast.Tuple | ast.Set):
            return [h for e in value.elts for h in held(e)]
        if isinstance(value, ast.Dict):
            return [h for e in [*value.keys, *value.values] if e is not None for h in held(e)]
        return []

    found: list[tuple[ast.Attribute, ast.AST]] = []
    for node in ast.walk(cls):
        values: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value:
            values = [node.value]
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            verb = name.rpartition(".")[2]
            if (
                name in _LOOKS
                or verb in _LOOKS_METHODS
                or verb in _VERBS
                or _qualified(tree, node.func) in _CONSTRUCTORS
            ):
                continue
            values = [*node.args, *(k.value for k in node.keywords)]
        found.extend((h, node) for v in values for h in held(v))
    return found


def _text_key(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _binds(scope: ast.AST, name: str) -> bool:
    """Whether ``scope`` binds ``name`` by an assignment or a ``with ... as``."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = [node.optional_vars]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


#: The constructors of sessions and clients the scan's detectors know.
_CONSTRUCTORS = (
    requests_.SESSION_TYPES
    | requests_.OAUTH_SESSION_TYPES
    | httpx_.SYNC_CLIENTS
    | httpx_.ASYNC_CLIENTS
    | aiohttp_.SESSION_TYPES
    | urllib3_.MANAGERS
    | frozenset(urllib3_.POOLS)
    | urllib3_.POOLS_FROM_URL
)


def _qualified(tree: ast.Module, func: ast.expr) -> str:
    """The dotted name ``func`` stands for, through the file's imports
    (``from requests import Session`` makes ``Session`` ``requests.Session``)."""
    text = ast.unparse(func)
    head, dot, rest = text.partition(".")
    if _rebinds(tree, head):
        # ``class HTTPAdapter(HTTPAdapter)``: the module's own, not the import's
        return text
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == head:
                    return f"{node.module}.{alias.name}{dot}{rest}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname == head:
                    return f"{alias.name}{dot}{rest}"
    return text


def _rebinds(tree: ast.Module, name: str) -> bool:
    """Whether the module binds ``name`` itself at its top level (a class, a function,
    an assignment), which then stands for that, not for an import of the name."""
    for node in tree.body:
        if _defines(node) and node.name == name:  # type: ignore[attr-defined]
            return True
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def _module_bindings(tree: ast.Module, name: str) -> list[tuple[ast.AST, ast.expr | None]]:
    """Each binding of the module name ``name`` with its value (``None``: one the
    rewrite cannot tell): the module's own statements, and a function's that declares
    ``global name``."""
    scopes: list[ast.AST] = [
        ast.Module(body=[s for s in tree.body if not _defines(s)], type_ignores=[])
    ]
    scopes.extend(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(node))
    )
    found: list[tuple[ast.AST, ast.expr | None]] = []
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue  # ``SESSION: requests.Session``, a declaration
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == name:
                        value = None if isinstance(node, ast.AugAssign) else node.value
                        found.append((node, _entered(value, tree) if value is not None else None))
                    elif isinstance(target, ast.Tuple | ast.List) and any(
                        isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)
                    ):
                        found.append((node, None))
            elif (
                isinstance(node, ast.withitem)
                and node.optional_vars is not None
                and ast.unparse(node.optional_vars) == name
            ):
                entered = _entered(node.context_expr, tree, entering=True)
                found.append((node.context_expr, entered))
    return found


def _made_by(scope: ast.AST, name: str, tree: ast.Module) -> ast.expr | None:
    """What ``scope`` binds ``name`` to (by assignment or ``with ... as``, seen through
    what only enters it: :func:`_entered`), when it binds it to a call; ``None`` when not
    bound to one."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            pairs = [(t, _entered(node.value, tree)) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, _entered(node.value, tree))]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            pairs = [(node.optional_vars, _entered(node.context_expr, tree, entering=True))]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, ast.Name) and target.id == name and isinstance(value, ast.Call):
                return value
    return None


def _entered(value: ast.expr, tree: ast.Module, *, entering: bool = False) -> ast.expr:
    """The object a binding's ``value`` gives its name, seen through what only enters it:
    ``stack.enter_context(X)`` (``await stack.enter_async_context(X)``) enters ``X``; and
    ``X`` entered (``entering``: a ``with ... as``'s context, or what a stack is given)
    as ``contextlib.closing(Y)``, ``aclosing(Y)`` or ``nullcontext(Y)`` is ``Y``. A session
    or client enters as itself, so ``with closing(requests.Session()) as s`` builds ``s``
    as ``requests.Session()`` does. ``closing`` is the standard library's only through the
    file's imports (a function of the project's own of that name is not)."""
    call = value.value if isinstance(value, ast.Await) else value
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in ENTER_METHODS
        and _one_argument(call)
    ):
        value, entering = call.args[0], True
    if (
        entering
        and isinstance(value, ast.Call)
        and _one_argument(value)
        and _qualified(tree, value.func) in ENTERED_AS_GIVEN
    ):
        return value.args[0]
    return value


def _one_argument(call: ast.Call) -> bool:
    return len(call.args) == 1 and not call.keywords and not isinstance(call.args[0], ast.Starred)


def _bound(scope: ast.AST, name: str, tree: ast.Module) -> list[ast.expr | None]:
    """What ``scope`` binds ``name`` (a name, or ``self.attr``) to, one item a binding:
    an assignment's value, a ``with ... as``'s context, seen through what only enters it
    (:func:`_entered`); ``None`` for one whose value the rewrite cannot tell (a loop's
    target, an unpacking, ``+=``)."""

    def within(target: ast.expr) -> bool:
        return any(
            isinstance(n, ast.Name | ast.Attribute) and ast.unparse(n) == name
            for n in ast.walk(target)
        )

    values: list[ast.expr | None] = []
    for node in ast.walk(scope):
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(t, _entered(node.value, tree)) for t in node.targets]
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            pairs = [(node.target, _entered(node.value, tree))]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            pairs = [(node.optional_vars, _entered(node.context_expr, tree, entering=True))]
        elif isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor | ast.comprehension):
            pairs = [(node.target, None)]
        for target, value in pairs:
            if ast.unparse(target) == name:
                values.append(value)
            elif isinstance(target, ast.Tuple | ast.List) and within(target):
                values.append(None)
    return values


#: The HTTP libraries' own transport adapters and retry policies, with how many
#: positional arguments and which keywords each is read with: they say only how a request
#: is retried or pooled, not what it carries (:meth:`_Reader._plain_transport`).
_RETRY = (
    1,
    frozenset(
        {
            "total",
            "connect",
            "read",
            "redirect",
            "status",
            "other",
            "allowed_methods",
            "method_whitelist",
            "status_forcelist",
            "backoff_factor",
            "backoff_max",
            "backoff_jitter",
            "raise_on_redirect",
            "raise_on_status",
            "respect_retry_after_header",
            "remove_headers_on_redirect",
        }
    ),
)
_HTTPX_TRANSPORT = (
    0,
    frozenset({"verify", "http1", "http2", "limits", "trust_env", "retries", "local_address"}),
)
_TRANSPORTS: dict[str, tuple[int, frozenset[str]]] = {
    "requests.adapters.HTTPAdapter": (
        4,
        frozenset({"pool_connections", "pool_maxsize", "max_retries", "pool_block"}),
    ),
    "urllib3.Retry": _RETRY,
    "urllib3.util.Retry": _RETRY,
    "urllib3.util.retry.Retry": _RETRY,
    "requests.adapters.Retry": _RETRY,
    "requests.packages.urllib3.util.retry.Retry": _RETRY,
    "httpx.HTTPTransport": _HTTPX_TRANSPORT,
    "httpx.AsyncHTTPTransport": _HTTPX_TRANSPORT,
}

#: aiohttp's own connector, with the keywords that say only how connections are pooled,
#: resolved and checked: its ``ssl=`` (``ssl_context=``) is read as ``verify=`` is, its
#: ``resolver=`` only when it is one of aiohttp's own resolvers built in place
#: (:data:`_RESOLVERS`: they look names up, and send nothing). A ``socket_factory=`` or
#: another connector is not read.
_AIOHTTP_CONNECTOR = (
    0,
    frozenset(
        {
            "ssl",
            "ssl_context",
            "verify_ssl",
            "fingerprint",
            "limit",
            "limit_per_host",
            "ttl_dns_cache",
            "use_dns_cache",
            "force_close",
            "enable_cleanup_closed",
            "keepalive_timeout",
            "family",
            "local_addr",
            "happy_eyeballs_delay",
            "interleave",
            "timeout_ceil_threshold",
            "ssl_shutdown_timeout",
            "loop",
            "resolver",
        }
    ),
)
_RESOLVERS = frozenset(
    {
        "aiohttp.AsyncResolver",
        "aiohttp.ThreadedResolver",
        "aiohttp.DefaultResolver",
        "aiohttp.resolver.AsyncResolver",
        "aiohttp.resolver.ThreadedResolver",
        "aiohttp.resolver.DefaultResolver",
    }
)
_CONNECTORS: dict[str, tuple[int, frozenset[str]]] = {
    "aiohttp.TCPConnector": _AIOHTTP_CONNECTOR,
    "aiohttp.connector.TCPConnector": _AIOHTTP_CONNECTOR,
}

#: Calls whose answer, given as ``verify=``/``ssl=``, holds no client certificate: a CA
#: bundle's path, aiohttp's pin of the server's certificate.
_NO_CERTIFICATE = frozenset(
    {"certifi.where", "aiohttp.Fingerprint", "aiohttp.client_reqrep.Fingerprint"}
)

#: Functions that take a session without changing what it sends.
_LOOKS = frozenset(
    {"isinstance", "len", "id", "repr", "str", "type", "print", "hash", "callable", "bool"}
    # a copy: ``dict(s.headers)`` logged changes nothing of the session
    | {"dict", "list", "sorted"}
)
_LOOKS_METHODS = frozenset(
    {
        "closing",
        "enter_context",
        "enter_async_context",
        # a logger's methods format it, nothing more (``log.debug("using %r", s)``)
        "debug",
        "info",
        "warning",
        "error",
        "exception",
        "critical",
    }
)


def _handed(
    scope: ast.AST, session: str
) -> list[tuple[ast.Call | ast.Assign | ast.AnnAssign | ast.NamedExpr, ast.expr]]:
    """The calls in ``scope`` that take ``session``, or its headers, credential, cookies
    or query, as an argument (``_authorize(s)``, ``auth.apply(self.session)``), with what
    each is given: a function the rewrite does not follow may set a credential on it.
    The send itself takes none; a function that only looks at it (``isinstance``,
    ``closing``) is none; a function that binds a name ``session`` of its own is another
    session's scope. A binding that aliases it (``t = s``, ``h = s.headers``) is one
    too: what is set through the alias the rewrite does not follow."""
    handed = {session} | {f"{session}.{a}" for a in ("headers", "auth", "cookies", "params")}
    if session.startswith("self."):
        # the owning object (``_authorize(self)``) hands on ``self.session`` with it
        handed.add("self")
    found: list[tuple[ast.Call | ast.Assign | ast.AnnAssign | ast.NamedExpr, ast.expr]] = []

    def shadows(function: ast.AST) -> bool:
        if "." in session or function is scope:
            return False
        if isinstance(function, ast.Lambda):
            return session in {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        declared = any(
            isinstance(n, ast.Global | ast.Nonlocal) and session in n.names
            for n in ast.walk(function)
        )
        return not declared and (session in _parameters(function) or _binds(function, session))

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and shadows(
                child
            ):
                continue
            if isinstance(child, ast.Call):
                name = ast.unparse(child.func)
                owner, _, verb = name.rpartition(".")
                if (
                    name not in _LOOKS
                    and verb not in _LOOKS_METHODS
                    # the send itself (``s.post(url, auth=s.auth)``)
                    and not (owner == session and verb in _VERBS)
                ):
                    for argument in [*child.args, *(k.value for k in child.keywords)]:
                        found.extend((child, given) for given in held(argument))
            elif isinstance(child, ast.Assign | ast.AnnAssign | ast.NamedExpr) and (
                child.value is not None
            ):
                # ``t = s``, ``h = s.headers``: a change through the alias is one to it
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                if not any(ast.unparse(t) in handed for t in targets):
                    found.extend((child, given) for given in held(child.value))
            visit(child)

    def held(value: ast.expr) -> list[ast.expr]:
        """The session, or a part of it, that ``value`` is or holds in a list, tuple,
        set or dict (``_authorize_all([s])``, ``_configure({"users": s})``)."""
        if isinstance(value, ast.Starred):
            return held(value.value)
        if isinstance(value, ast.Name | ast.Attribute):
            return [value] if ast.unparse(value) in handed else []
        if isinstance(value, ast.List | ast.Tuple | ast.Set):
            return [g for e in value.elts for g in held(e)]
        if isinstance(value, ast.Dict):
            return [g for e in [*value.keys, *value.values] if e is not None for g in held(e)]
        return []

    visit(scope)
    return found


#: What a name holds that is no session: ``URLS.get(name)`` is no request.
_CONTAINERS = (
    ast.Dict,
    ast.List,
    ast.Set,
    ast.Tuple,
    ast.Constant,
    ast.JoinedStr,
    ast.DictComp,
    ast.ListComp,
    ast.SetComp,
)

#: Keywords of an HTTP library's constructor (and attributes of what it builds) that say
#: only how a request travels, not what it carries (httpx's ``Client``, aiohttp's
#: ``ClientSession``, urllib3's managers and pools, ``requests.Session``'s attributes):
#: the consumer's request does without them. Any other (``event_hooks``, ``transport``,
#: ``mounts``, ``cert``, ``proxy``, ``trace_configs``, ``middlewares``, ``cookie_jar``)
#: may add to every request what the send does not carry.
_SETTINGS = frozenset(
    {
        # httpx
        "timeout",
        "base_url",
        "verify",
        "follow_redirects",
        "limits",
        "http1",
        "http2",
        "trust_env",
        "max_redirects",
        "default_encoding",
        # aiohttp (``connector=`` is read: :data:`_CONNECTORS`)
        "connector_owner",
        "loop",
        "conn_timeout",
        "read_timeout",
        "raise_for_status",
        "json_serialize",
        "version",
        "auto_decompress",
        "requote_redirect_url",
        "read_bufsize",
        "max_line_size",
        "max_field_size",
        "fallback_charset_resolver",
        # urllib3
        "num_pools",
        "maxsize",
        "block",
        "retries",
        "cert_reqs",
        "ca_certs",
        "ca_cert_dir",
        "assert_hostname",
        "assert_fingerprint",
        "ssl_minimum_version",
        "ssl_maximum_version",
        "host",
        "port",
        # requests.Session
        "stream",
    }
)

#: How many positional arguments a constructor takes before its headers: aiohttp's
#: ``base_url``, urllib3's ``num_pools``, ``proxy_url``, a pool's host, port, timeout,
#: maxsize and block.
_POSITIONAL = {
    "ClientSession": 1,
    "PoolManager": 1,
    "ProxyManager": 2,
    "proxy_from_url": 1,
    "connection_from_url": 1,
    "HTTPConnectionPool": 5,
    "HTTPSConnectionPool": 5,
}

#: Methods that change a session's settings in place.
_CHANGES = frozenset(
    {"update", "append", "extend", "insert", "set", "setdefault", "__setitem__", "set_cookie"}
)


def _default(function: _Function | ast.Module, name: str) -> ast.expr | None:
    """The default of the parameter ``name`` other than ``None``, if it has one."""
    if isinstance(function, ast.Module):
        return None
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    pairs = list(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    pairs += [
        (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    ]
    for arg, default in pairs:
        if arg.arg == name:
            return None if isinstance(default, ast.Constant) and default.value is None else default
    return None


def _unset_default(function: _Function | ast.Module, name: str) -> bool:
    """Whether the parameter ``name`` has no default or defaults to ``None``."""
    return _default(function, name) is None


def _defines(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)


def _authenticating(tree: ast.Module, func: ast.expr) -> str | None:
    """The class ``func`` names when it is a session or client of an OAuth package
    (``OAuth2Session`` of requests_oauthlib, authlib's ``OAuth2Client``), else ``None``."""
    dotted = ast.unparse(func)
    root, _, _ = dotted.partition(".")
    origin = root
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if any((a.asname or a.name) == root for a in node.names):
                origin = node.module
        elif isinstance(node, ast.Import):
            origin = next(
                (a.name for a in node.names if (a.asname or a.name.partition(".")[0]) == root),
                origin,
            )
    if origin.partition(".")[0] in _OAUTH_PACKAGES:
        return dotted.rpartition(".")[2]
    return None


def _assigned(scope: ast.AST, name: str) -> ast.expr | None:
    """The value ``name`` (a local, or ``self.attr``) is bound to when ``scope`` binds it
    exactly once by a plain assignment, else ``None``."""
    values: list[ast.expr | None] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            if any(ast.unparse(t) == name for t in node.targets):
                values.append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and ast.unparse(node.target) == name:
            values.append(node.value if isinstance(node, ast.AnnAssign) else None)
    return values[0] if len(values) == 1 else None


def _getter_dict(tree: ast.Module, name: str) -> ast.Dict | None:
    """The dict literal a module function of no parameter returns as its one statement
    (``def get_auth_headers(): return {"Authorization": ...}``), as the call site's
    ``headers=get_auth_headers()`` is read (``codemod._fixed_dict``): its values say whether
    it is the same for every call."""
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(found) != 1 or found[0].decorator_list:
        return None
    function = found[0]
    args = function.args
    if args.posonlyargs or args.args or args.kwonlyargs or args.vararg or args.kwarg:
        return None
    body = [
        s
        for s in function.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) == 1 and isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.Dict):
        return body[0].value
    return None


@dataclass(frozen=True, slots=True)
class _Write:
    """One change a function makes to a name or to what it holds. ``path`` is the keys
    it goes through (``kwargs.setdefault("headers", {})["Authorization"] = v`` writes
    ``{"Authorization": v}`` at ``("headers",)``; a key that is not a literal is
    ``None``); ``entries`` is what it sets there (``None``: nothing the rewrite can read,
    as ``kwargs |= extra``); ``rebound`` is the value of ``name = ...``."""

    node: ast.AST
    path: tuple[str | None, ...]
    entries: ast.Dict | None
    rebound: ast.expr | None = None


def _changes(scope: ast.AST, name: str) -> list[_Write]:
    """Every change ``scope`` makes to ``name``: rebinding it, writing into it (an item
    set, ``update``, ``setdefault``, ``|=``), or into an alias of it or of an item it
    holds (``h = kwargs.setdefault("headers", {}); h["Authorization"] = ...``). What is
    passed on as ``name`` then holds these too: one walk, read by every rule here."""
    aliases: dict[str, tuple[str | None, ...]] = {name: ()}

    def path(expr: ast.expr) -> tuple[str | None, ...] | None:
        if isinstance(expr, ast.Name):
            return aliases.get(expr.id)
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            return path(expr.values[0])  # ``headers or {}`` is ``headers`` when given
        if isinstance(expr, ast.Subscript):
            base = path(expr.value)
            return None if base is None else (*base, _text_key(expr.slice))
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr in ("setdefault", "get")
            and expr.args
        ):
            base = path(expr.func.value)
            return None if base is None else (*base, _text_key(expr.args[0]))
        return None

    nodes = list(ast.walk(scope))
    for _ in range(2):  # an alias of an alias
        for node in nodes:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id != name
            ):
                held = path(node.value)
                if held is not None:
                    aliases[node.targets[0].id] = held
    writes: list[_Write] = []
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == name:
                    if isinstance(node, ast.AugAssign):
                        # ``kwargs |= {...}`` is readable, any other operand is not
                        entries = (
                            node.value
                            if isinstance(node.op, ast.BitOr) and isinstance(node.value, ast.Dict)
                            else None
                        )
                        writes.append(_Write(node, (), entries))
                    else:
                        writes.append(_Write(node, (), None, node.value))
                elif isinstance(target, ast.Name) and target.id in aliases:
                    if isinstance(node, ast.AugAssign):
                        writes.append(_Write(node, aliases[target.id], None))
                elif isinstance(target, ast.Subscript):
                    base = path(target.value)
                    if base is not None and node.value is not None:
                        item = ast.Dict(keys=[target.slice], values=[node.value])
                        plain = not isinstance(node, ast.AugAssign)
                        writes.append(_Write(node, base, item if plain else None))
        elif isinstance(node, ast.NamedExpr | ast.For | ast.comprehension) and any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.target)
        ):
            writes.append(_Write(node, (), None))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.optional_vars)):
                writes.append(_Write(node, (), None))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = path(node.func.value)
            if base is None:
                continue
            if node.func.attr == "setdefault" and node.args:
                default = node.args[1] if len(node.args) > 1 else ast.Constant(None)
                writes.append(_Write(node, base, ast.Dict(keys=[node.args[0]], values=[default])))
            elif node.func.attr in ("update", "__setitem__", "__ior__"):
                writes.append(_Write(node, base, _update_entries(node)))
    return writes


def _update_entries(call: ast.Call) -> ast.Dict | None:
    """What ``d.update({...}, Name=...)`` sets in ``d``, ``None`` when an argument is not
    a dict written there. ``d.update(other)`` is ``{**other}``: the readers decide whether
    ``other`` is the call site's own."""
    if isinstance(call.func, ast.Attribute) and call.func.attr == "__setitem__":
        return ast.Dict(keys=[call.args[0]], values=[call.args[1]]) if len(call.args) == 2 else None
    keys: list[ast.expr | None] = []
    values: list[ast.expr] = []
    for argument in call.args:
        if isinstance(argument, ast.Name):
            keys.append(None)
            values.append(argument)
            continue
        if not isinstance(argument, ast.Dict):
            return None
        keys.extend(argument.keys)
        values.extend(argument.values)
    for keyword in call.keywords:
        keys.append(ast.Constant(keyword.arg) if keyword.arg is not None else None)
        values.append(keyword.value)
    return ast.Dict(keys=keys, values=values)
