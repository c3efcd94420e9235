"""Sites a send must not replace, though their response is not read, and payloads whose
events keep secrets. Everything here reads names and source text; nothing is run.

* **An unresolved endpoint** (``unresolved-endpoint``): part of the callee's path is not
  known statically (``/{?}.IdentityService/Logout``, ``/{?}/orders``). A consumer would
  subscribe to, or call, a path nothing serves. Likewise an HTTP route that answers any
  method (``* /submissions/``) for a call not made with ``POST``: the consumer, given no
  method, would ``POST`` to it.
* **A read** (``read-call``): an HTTP ``GET``, ``HEAD`` or ``OPTIONS``, or an RPC whose name
  starts with ``get``, ``list``, ``find``, ``check``, ``exists``, ``fetch``, ``read``,
  ``search``, ``validate`` or ``verify`` (``get_user_by_id``, ``GetUser``, ``listOrders``).
  A read changes nothing: a read whose answer nobody takes is there for its failure (the
  callee raising ``NOT_FOUND``), which a send never reports.
* **A check** (``check-call``): the call's only effect the caller sees is its exception. Its
  function returns nothing, its name says it checks (a word of it is ``check``,
  ``validate``, ``ensure``, ``verify`` or ``require``: ``ensure_user_exists``,
  ``validateAddress``), and the call is a statement of its own, its result bound to ``_``
  or only passed to ``raise_for_status()``.
* **Authentication and sessions** (``auth-call``): a word of the callee's path or RPC is
  ``login``, ``logout``, ``signin``, ``signout`` (or ``log in``, ``sign out``...), ``token``,
  ``revoke``, ``password``, ``session``, ``auth`` (``authenticate``, ``authorization``,
  ``oauth``...), ``otp`` or ``mfa``. A logout or a revocation that waits in a topic leaves
  the session valid until a consumer gets to it, and the event carries the credential.
* **A servicer the consumer cannot construct** (``servicer-needs-arguments``): the generated
  consumer builds the callee's gRPC servicer with no arguments (``Servicer()``), and this
  one's ``__init__`` (or that of a base class in its module) requires some. A servicer
  factory (``--servicer-factory``, :func:`servicer_factory`) lifts the refusal: the consumer
  calls the factory instead of the class, and so does one generated from the server's
  bootstrap (``servicers.py``) when the repository adds the servicer to its server in a way
  that can be mirrored safely; when it cannot, the reason says why, with the file and line.
  The reason names the class, so that sites of different servicers read apart.
* **A handler that needs the script's state** (``script-state``): the callee's handler reads
  a module-level name its module binds only under ``if __name__ == "__main__":``
  (``args, controller = create_controller()``). The consumer imports the module; it never
  runs it as a script, so every event would fail on the missing name.
* **A read of the callee after the call** (``read-after``, decided by the planner, which
  sees every call site): the same function calls the same service again later and uses its
  answer, so it relies on this call's work being done first (``refresh`` then ``list``),
  which an event handled later does not give.

The caution (the site is migrated, the reviewer is told):

* **Secrets in the payload** (``secret-in-payload``): a field of the sent data is named like
  a secret (``token``, ``access_token``, ``password``, ``secret``, ``api_key``,
  ``credentials``, ``private_key``...): the topic keeps every event for its retention, and
  its dead-letter topic keeps the failed ones for ever.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Mapping

from decouple_services.core.model import CallSite, Endpoint, ResponseUse
from decouple_services.discover.entrypoints import is_main_test
from decouple_services.graph.migratability import Finding
from decouple_services.migrate.payload import payload_fields
from decouple_services.migrate.servicers import Bootstrap, service_of
from decouple_services.migrate.syntax import Function
from decouple_services.migrate.syntax import function_at as _function_at
from decouple_services.migrate.syntax import own_nodes as _own_nodes
from decouple_services.migrate.syntax import parse_module as _parse
from decouple_services.migrate.syntax import span as _span

__all__ = [
    "payload_cautions",
    "secret_name",
    "servicer_factory",
    "site_refusals",
]

UNRESOLVED_ENDPOINT = "unresolved-endpoint"
READ_CALL = "read-call"
CHECK_CALL = "check-call"
AUTH_CALL = "auth-call"
SERVICER_NEEDS_ARGUMENTS = "servicer-needs-arguments"
SCRIPT_STATE = "script-state"
READ_AFTER = "read-after"
SECRET_IN_PAYLOAD = "secret-in-payload"

#: What the resolver writes for a part of a path it could not know.
_UNKNOWN_PART = "{?}"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The first word of an RPC that reads.
_READ_WORDS = frozenset(
    {
        "get",
        "list",
        "find",
        "check",
        "exists",
        "exist",
        "fetch",
        "read",
        "search",
        "validate",
        "verify",
    }
)
#: A word of a function's name that says it checks.
_CHECK_WORDS = frozenset(
    {
        "check",
        "checks",
        "validate",
        "validates",
        "ensure",
        "ensures",
        "verify",
        "verifies",
        "require",
        "requires",
    }
)
_AUTH_WORDS = frozenset(
    {
        "login",
        "logout",
        "logon",
        "logoff",
        "signin",
        "signout",
        "token",
        "tokens",
        "revoke",
        "password",
        "passwords",
        "session",
        "sessions",
        "auth",
        "authn",
        "authz",
        "authenticate",
        "authentication",
        "authorize",
        "authorise",
        "authorization",
        "authorisation",
        "oauth",
        "oauth2",
        "otp",
        "mfa",
    }
)
#: Two words that read as one of the above (``log_in``, ``signOut``).
_AUTH_PAIRS = frozenset({("log", "in"), ("log", "out"), ("sign", "in"), ("sign", "out")})
#: Words of a field's name that say it holds a secret, alone or as a pair.
_SECRET_WORDS = frozenset(
    {"token", "password", "passwd", "secret", "credential", "credentials", "apikey"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})


def words(name: str) -> list[str]:
    """``get_user_by_id`` / ``GetUserById`` / ``/api/v1/log-in/`` -> lower-case words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _pairs(found: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(found))


def _static_path(path: str) -> str:
    """A path without its ``{parameters}``: a value is no name of the endpoint."""
    return re.sub(r"\{[^{}]*\}", "/", path)


def servicer_factory(endpoint: Endpoint | None, factories: Mapping[str, str] | None) -> str | None:
    """The factory (``module:function``) named for the gRPC endpoint's servicer, by its
    service's name (``InviteService``), its full name (``invite.InviteService``) or its
    servicer class (``InviteServiceImpl``); ``None`` when none is."""
    if endpoint is None or endpoint.framework != "grpc" or not factories:
        return None
    service = endpoint.path.strip("/").partition("/")[0]
    parts = endpoint.handler.split(".")
    names = [service, service.rpartition(".")[2]]
    if len(parts) >= 2:
        names.append(parts[-2])
    return next((factories[n] for n in names if n in factories), None)


def site_refusals(
    site: CallSite,
    endpoint: Endpoint | None,
    read: Callable[[str], bytes | None],
    factories: Mapping[str, str] | None = None,
    mirrored: Callable[[Endpoint], Bootstrap | str | None] | None = None,
) -> tuple[Finding, ...]:
    """Why the site must not become a send (module docstring), most telling first; empty
    when nothing here refuses it. ``factories``: the servicer factories the user named
    (:func:`servicer_factory`); ``mirrored``: the factory made from the server's bootstrap
    for a servicer that needs arguments (``servicers.derive_servicer_factory``), or why it
    cannot be made."""
    out: list[Finding] = []
    path = endpoint.path if endpoint is not None else _url_path(site.url_template)
    if endpoint is not None and _UNKNOWN_PART in endpoint.path:
        out.append(
            Finding(
                UNRESOLVED_ENDPOINT,
                f"part of the callee's endpoint is not known statically ({endpoint.label}), so "
                "its consumer would subscribe to or call a path nothing serves",
                "make the path known to the scan (the gRPC service's generated module or its "
                ".proto file in the repository, the route's prefix as a constant) and scan "
                "again, or rewrite this call by hand",
            )
        )
    auth = _auth_word(path or "")
    if auth is not None:
        out.append(
            Finding(
                AUTH_CALL,
                f"the callee's endpoint is about authentication or sessions (`{auth}` in "
                f"{endpoint.label if endpoint else path}): a login, logout or revocation left in "
                "a topic takes effect only when a consumer gets to it, and the event carries "
                "the credential to every reader of the topic and its dead-letter topic",
                "keep the call synchronous",
            )
        )
    reads = _read(site, endpoint)
    if reads is not None:
        out.append(
            Finding(
                READ_CALL,
                f"the call reads ({reads}) and changes nothing: whoever made it wants its "
                "answer or its failure (not found, not allowed), and a send gives neither",
                "keep the call synchronous; if nothing needs it, delete it",
            )
        )
    method = _method_left_open(site, endpoint) if reads is None else None
    if method is not None:
        out.append(
            Finding(
                UNRESOLVED_ENDPOINT,
                method,
                "give the callee's route its method (one route per method, or the view's "
                "methods named where the scan reads them) and scan again, or rewrite this call "
                "by hand",
            )
        )
    if reads is None and site.response_use is not ResponseUse.BODY:
        check = _check(site, read)
        if check is not None:
            out.append(
                Finding(
                    CHECK_CALL,
                    f"the call is a check: {check}, so the exception it raises is its only "
                    "effect, and a send never raises the callee's answer",
                    "keep the call synchronous",
                )
            )
    script = _script_state(endpoint, read)
    if script is not None:
        out.append(
            Finding(
                SCRIPT_STATE,
                f"the callee's handler reads {script}, which its module binds only when it "
                'runs as a script (`if __name__ == "__main__":`): the consumer imports the '
                "module, so every event would fail on the missing name",
                "keep the call synchronous: state its module makes only when it runs is "
                "that process's memory, which a consumer in another process never shares "
                "(creating it at import would give the consumer a copy of its own); a "
                "handler whose state lives in a database or a cache can be migrated once "
                "it reads it from there",
            )
        )
    servicer = (
        None if servicer_factory(endpoint, factories) else _servicer_arguments(endpoint, read)
    )
    bootstrap = mirrored(endpoint) if servicer is not None and endpoint and mirrored else None
    if servicer is not None and not isinstance(bootstrap, Bootstrap):
        cls, requirement = servicer
        service = service_of(endpoint) if endpoint else cls
        if isinstance(bootstrap, str):
            why = f"; the server builds it, but not in a way a generated factory can mirror: {bootstrap}"
        elif mirrored is not None:
            why = (
                f"; no `add_{service}Servicer_to_server(...)` call in the service's code shows "
                "how the server builds it"
            )
        else:
            why = ""
        out.append(
            Finding(
                SERVICER_NEEDS_ARGUMENTS,
                f"the generated consumer constructs the servicer `{cls}` with no arguments, "
                f"and {requirement}{why}",
                "name a function that builds it as the server does (its repositories and "
                "clients), importable from the service's import root: `--servicer-factory "
                f"{service}=module:function` (or `servicer-factories` in "
                "[tool.decouple.migrate]); the consumer calls it once, at start. Or keep "
                "the call synchronous",
            )
        )
    return tuple(out)


def _url_path(template: str | None) -> str | None:
    if not template:
        return None
    rest = template.split("://", 1)[1] if "://" in template else template
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else None


def _auth_word(path: str) -> str | None:
    found = words(_static_path(path))
    hit = next((w for w in found if w in _AUTH_WORDS), None)
    if hit is not None:
        return hit
    pair = next((p for p in itertools.pairwise(found) if p in _AUTH_PAIRS), None)
    return " ".join(pair) if pair is not None else None


def _rpc_name(site: CallSite, endpoint: Endpoint | None) -> str | None:
    if endpoint is not None and endpoint.protocol == "grpc":
        return endpoint.path.rsplit("/", 1)[-1] or None
    if site.client == "grpc":
        return site.method
    return None


def _method_left_open(site: CallSite, endpoint: Endpoint | None) -> str | None:
    """Why the consumer would call the callee with another HTTP method than the call's, or
    ``None``. A route that answers any method (``*``, a view taking every verb) gives the
    consumer none to use, and it calls with ``POST``: a call made with another method, or
    with one the scan could not read, would reach another action of the view (a ``DELETE``
    of ``/submissions/{id}/`` becoming a create)."""
    if endpoint is None or endpoint.protocol != "http" or endpoint.method != "*":
        return None
    if site.method is not None and site.method.upper() == "POST":
        return None
    called = (
        f"with `{site.method.upper()}`" if site.method else "with a method the scan could not read"
    )
    return (
        f"the callee's route answers any method ({endpoint.label}), so its consumer would "
        f"call it with `POST`, and the call was made {called}"
    )


def _read(site: CallSite, endpoint: Endpoint | None) -> str | None:
    rpc = _rpc_name(site, endpoint)
    if rpc is not None:
        first = (words(rpc) or [""])[0]
        return f"the RPC `{rpc}`" if first in _READ_WORDS else None
    method = site.method or (endpoint.method if endpoint and endpoint.method != "*" else "")
    method = method.upper()
    return f"HTTP {method}" if method in _READ_METHODS else None


def _discarded(statement: ast.stmt) -> bool:
    """``call(...)``, ``await call(...)``, ``_ = call(...)``, ``call(...).raise_for_status()``."""
    if isinstance(statement, ast.Expr) or (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == "_"
    ):
        value = statement.value
    else:
        return False
    if isinstance(value, ast.Await):
        value = value.value
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "raise_for_status"
        and isinstance(value.func.value, ast.Call | ast.Await)
    ):
        return True
    return isinstance(value, ast.Call)


def _check(site: CallSite, read: Callable[[str], bytes | None]) -> str | None:
    tree = _parse(read(site.file))
    if tree is None:
        return None
    function = _function_at(tree, site.line)
    if function is None:
        return None
    named = [w for w in words(function.name) if w in _CHECK_WORDS]
    if not named:
        return None
    statements = [
        n
        for n in _own_nodes(function)
        if isinstance(n, ast.Expr | ast.Assign) and _span(n)[0] <= site.line <= _span(n)[1]
    ]
    if not statements or not _discarded(statements[0]):
        return None
    for node in _own_nodes(function):
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return None
        if isinstance(node, ast.Return) and not (
            node.value is None
            or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            return None
    return (
        f"`{function.name}` returns nothing, its name says it checks (`{named[0]}`), and the "
        "call's result is thrown away"
    )


def _servicer_arguments(
    endpoint: Endpoint | None, read: Callable[[str], bytes | None]
) -> tuple[str, str] | None:
    """The servicer's class and what its ``__init__`` requires, when it requires anything."""
    if endpoint is None or endpoint.framework != "grpc":
        return None
    parts = endpoint.handler.split(".")
    if len(parts) < 2:
        return None
    tree = _parse(read(endpoint.file))
    if tree is None:
        return None
    classes = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    cls = classes.get(parts[-2])
    seen: set[str] = set()
    while cls is not None and cls.name not in seen:
        seen.add(cls.name)
        init = next(
            (
                n
                for n in cls.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "__init__"
            ),
            None,
        )
        if init is not None:
            required = _required(init)
            if not required:
                return None
            names = ", ".join(f"`{n}`" for n in required)
            requirement = f"`{cls.name}.__init__` ({endpoint.file}:{init.lineno}) requires {names}"
            return parts[-2], requirement
        # an ``__init__`` inherited from a base class of the same module
        bases = [b.id for b in cls.bases if isinstance(b, ast.Name)]
        cls = next((classes[b] for b in bases if b in classes), None)
    return None


def _script_state(endpoint: Endpoint | None, read: Callable[[str], bytes | None]) -> str | None:
    r"""The module-level names the handler reads that its module binds only in its
    ``if __name__ == "__main__":`` block, as ``\`name\` (file:line)``; None when none."""
    if endpoint is None or endpoint.framework == "grpc":
        return None
    tree = _parse(read(endpoint.file))
    if tree is None:
        return None
    name = endpoint.handler.rsplit(".", 1)[-1]
    handler = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ),
        None,
    )
    if handler is None:
        return None
    main: dict[str, int] = {}
    bound: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.If) and is_main_test(statement.test):
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    main.setdefault(node.id, node.lineno)
        else:
            bound |= _bound_names(statement)
    # a function may bind it as a global (a startup hook): then it is not the script's alone
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            bound |= set(node.names)
    local = _bound_names(handler, inside=True)
    read_names = sorted(
        {
            n.id
            for n in ast.walk(handler)
            if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and n.id in main
            and n.id not in bound
            and n.id not in local
        }
    )
    if not read_names:
        return None
    return ", ".join(f"`{n}` ({endpoint.file}:{main[n]})" for n in read_names)


def _bound_names(node: ast.AST, *, inside: bool = False) -> set[str]:
    """The names a module-level statement binds (or, ``inside``, a function binds for
    itself: its parameters and assignments)."""
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not inside:
        return {node.name}
    if inside and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            names.add(arg.arg)
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                names.add(extra.arg)
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in child.names}
        elif (
            isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and child is not node
        ):
            names.add(child.name)
    return names


def _required(init: Function) -> list[str]:
    args = init.args
    positional = [*args.posonlyargs, *args.args][1:]  # self
    without = positional[: len(positional) - len(args.defaults)] if args.defaults else positional
    keyword = [a for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return [a.arg for a in [*without, *keyword]]


# --- payloads ----------------------------------------------------------------------------


def secret_name(name: str) -> bool:
    """Whether a name says it holds a secret (``access_token``, ``X-Api-Key``)."""
    found = words(name)
    return any(w in _SECRET_WORDS for w in found) or bool(_pairs(found) & _SECRET_PAIRS)


def payload_cautions(payload: str | None) -> tuple[Finding, ...]:
    """``secret-in-payload`` when a field of the sent data is named like a secret."""
    secrets = [name for name, _ in payload_fields(payload) if secret_name(name)]
    if not secrets:
        return ()
    shown = ", ".join(f"`{n}`" for n in secrets)
    return (
        Finding(
            SECRET_IN_PAYLOAD,
            f"the event's data carries {shown}, named like a secret: the topic keeps every "
            "event for its retention, its dead-letter topic keeps failed ones for ever, and "
            "anyone allowed to read either reads the secret",
            "send an id the consumer can look the secret up by instead; or restrict who may "
            "read the topic and its dead-letter topic, and give both a short retention",
        ),
    )
