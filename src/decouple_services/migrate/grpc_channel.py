"""What the caller's gRPC channels add to every call, read from source before a stub call
becomes a send.

A gRPC client can add metadata to every call without naming it at the call: a client
interceptor (``grpc.intercept_channel(channel, interceptor)``, ``grpc.aio.insecure_channel(
target, interceptors=[...])``) or call credentials on a secure channel
(``composite_channel_credentials(ssl, access_token_call_credentials(token))``,
``metadata_call_credentials``, google-auth's ``secure_authorized_channel``). That metadata is
usually the service's credential. The event carries none of it, so the callee's server,
which checks it, refuses every event the consumer hands on; and a planner that took "no
``metadata=`` at the call" for "no credential" would also make 401/403 final, so every event
is dead-lettered on its first attempt.

The stub's channel is often built far from the call (a generic client class,
``stub_class(self._channel)``), so the reading is of the caller service's whole code: every
channel it builds outside its tests. The verdict is:

* ``adds``: some channel is intercepted or carries call credentials; its sites are refused.
* ``certificate``: some channel presents a client certificate
  (``ssl_channel_credentials(root, private_key, certificate_chain)``): the callee's server
  authenticated the caller by it, and the consumer calls the servicer in process, where
  no peer presents one (``context.peer_identities()``, ``auth_context()``); its sites are
  refused too, since the event would drop the only proof of who asks.
* ``unseen``: a channel's credentials are an expression the reader cannot follow, or the
  service builds no channel the reader can see (it comes from a package elsewhere); its
  sites are refused too, since nothing says what they send.
* ``plain``: every channel is ``insecure_channel`` with no interceptors, or
  ``secure_channel`` whose credentials are only ``ssl_channel_credentials(...)`` with no
  client certificate (at most the root certificates). Only then is "the call sent no
  credential metadata" inferred.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from decouple_services.migrate.servicers import MAX_FILES, called_name, service_python_files

ReadFile = Callable[[str], bytes | None]

#: Channel constructors of grpc and grpc.aio, by their last name.
_PLAIN_CHANNELS = frozenset({"insecure_channel", "secure_channel"})
#: Wrappers or constructors that add metadata to every call.
_ADDING = frozenset({"intercept_channel", "secure_authorized_channel"})
#: Credentials that add metadata to every call (call credentials and what builds them).
_CALL_CREDENTIALS = frozenset(
    {
        "access_token_call_credentials",
        "metadata_call_credentials",
        "composite_call_credentials",
        "composite_channel_credentials",
    }
)


@dataclass(frozen=True, slots=True)
class ChannelVerdict:
    #: ``plain``, ``adds``, ``certificate`` or ``unseen`` (module docstring).
    kind: str
    #: Why, naming the channel's file and line, for a refusal; empty for ``plain``.
    reason: str = ""


def _empty(node: ast.expr | None) -> bool:
    return (
        node is None
        or (isinstance(node, ast.Constant) and node.value is None)
        or (isinstance(node, (ast.List, ast.Tuple)) and not node.elts)
    )


def _assigned(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Every value each plain name is assigned anywhere in the module."""
    out: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, []).append(node.value)
        elif (
            isinstance(node, ast.AnnAssign)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            out.setdefault(node.target.id, []).append(node.value)
    return out


#: The verdicts in the order one channel's outweighs another's: any channel that adds or
#: presents what the event cannot carry refuses the service's sites.
_WORST_FIRST = ("adds", "certificate", "unseen", "plain")


def _client_certificate(call: ast.Call) -> str:
    """``certificate`` when ``ssl_channel_credentials(root_certificates, private_key,
    certificate_chain)`` is given a key or a chain (by keyword or position) that is not
    ``None``, ``unseen`` when ``*``/``**`` arguments may give one, else ``plain``."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return "unseen"
    given = [
        *call.args[1:3],
        *(k.value for k in call.keywords if k.arg in ("private_key", "certificate_chain")),
    ]
    return "certificate" if any(not _empty(v) for v in given) else "plain"


def _credentials(node: ast.expr, assigned: dict[str, list[ast.expr]], depth: int = 0) -> str:
    """``plain`` (only ``ssl_channel_credentials``, no client certificate), ``adds``,
    ``certificate`` or ``unseen``."""
    if depth > 4:
        return "unseen"
    if isinstance(node, ast.Name):
        values = assigned.get(node.id, [])
        if not values:
            return "unseen"
        kinds = {_credentials(v, assigned, depth + 1) for v in values}
        return next(k for k in _WORST_FIRST if k in kinds)
    if isinstance(node, ast.Call):
        name = called_name(node.func)
        if name in _CALL_CREDENTIALS:
            return "adds"
        if name == "ssl_channel_credentials":
            return _client_certificate(node)
    return "unseen"


#: Calls whose ``credentials=`` is the channel's own, not one call's.
_CHANNEL_TAKERS = _PLAIN_CHANNELS | _ADDING | {"composite_channel_credentials"}


def _per_call(node: ast.Call, parents: dict[ast.AST, ast.AST], tree: ast.Module) -> bool:
    """Whether call credentials made at ``node`` go to one stub call's ``credentials=``
    (``stub.Get(request, credentials=access_token_call_credentials(token))``), in place
    or through a name every use of which is such an argument, not to a channel. The
    codemod refuses that call alone; the service's other calls send none of it."""
    current: ast.AST = node
    parent = parents.get(current)
    # composite_call_credentials(a, b) combines call credentials, still one call's
    while isinstance(parent, ast.Call) and called_name(parent.func) == "composite_call_credentials":
        current, parent = parent, parents.get(parent)
    if isinstance(parent, ast.keyword):
        taker = parents.get(parent)
        return (
            parent.arg == "credentials"
            and isinstance(taker, ast.Call)
            and called_name(taker.func) not in _CHANNEL_TAKERS
        )
    if not (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        return False
    name = parent.targets[0].id
    uses = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    ]
    return bool(uses) and all(
        isinstance(keyword := parents.get(use), ast.keyword)
        and keyword.arg == "credentials"
        and isinstance(taker := parents.get(keyword), ast.Call)
        and called_name(taker.func) not in _CHANNEL_TAKERS
        for use in uses
    )


def _read_channels(path: str, source: bytes) -> list[tuple[str, str]]:
    """``(kind, reason)`` of each channel the file builds."""
    if b"channel" not in source and b"call_credentials" not in source:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    assigned: dict[str, list[ast.expr]] | None = None
    parents: dict[ast.AST, ast.AST] | None = None
    out: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = called_name(node.func)
        where = f"{path}:{node.lineno}"
        if name in _ADDING:
            how = "an interceptor" if name == "intercept_channel" else "call credentials"
            out.append(
                (
                    "adds",
                    f"the call's channel adds metadata through {how} the event cannot carry "
                    f"(`{name}` at {where})",
                )
            )
        elif name in _CALL_CREDENTIALS:
            if parents is None:
                parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
            if _per_call(node, parents, tree):
                continue
            out.append(
                (
                    "adds",
                    f"the call's channel adds metadata through call credentials the event cannot "
                    f"carry (`{name}` at {where})",
                )
            )
        elif name in _PLAIN_CHANNELS:
            interceptors = next((k.value for k in node.keywords if k.arg == "interceptors"), None)
            if not _empty(interceptors):
                out.append(
                    (
                        "adds",
                        f"the call's channel adds metadata through an interceptor the event cannot "
                        f"carry (`{name}(..., interceptors=...)` at {where})",
                    )
                )
            elif name == "secure_channel":
                credentials = next(
                    (k.value for k in node.keywords if k.arg == "credentials"),
                    node.args[1] if len(node.args) > 1 else None,
                )
                if credentials is None:
                    out.append(("unseen", f"`secure_channel` at {where} names no credentials"))
                    continue
                if assigned is None:
                    assigned = _assigned(tree)
                kind = _credentials(credentials, assigned)
                if kind == "adds":
                    out.append(
                        (
                            "adds",
                            f"the call's channel adds metadata through call credentials the event "
                            f"cannot carry (`secure_channel` at {where})",
                        )
                    )
                elif kind == "certificate":
                    out.append(
                        (
                            "certificate",
                            f"the call's channel presents a client certificate the event cannot "
                            f"carry (`secure_channel` at {where}, whose `ssl_channel_credentials` "
                            "gives a `private_key` or `certificate_chain`): the callee's server "
                            "authenticated the caller by it, and its consumer calls the "
                            "servicer in process, where no peer presents one",
                        )
                    )
                elif kind == "unseen":
                    out.append(
                        (
                            "unseen",
                            f"the credentials of the call's channel (`secure_channel` at {where}) "
                            "cannot be read, so whether they add metadata the event cannot "
                            "carry is not known",
                        )
                    )
                else:
                    out.append(("plain", ""))
            else:
                out.append(("plain", ""))
    return out


def channel_verdict(root: str, service_root: str, read: ReadFile) -> ChannelVerdict:
    """What the channels the service at ``service_root`` (repo-relative, under the
    repository at ``root``) builds add to its calls (module docstring)."""
    files = service_python_files(root, service_root)
    if len(files) >= MAX_FILES:
        return ChannelVerdict("unseen", "the service has too many files to read")
    kinds: list[tuple[str, str]] = []
    for path in files:
        source = read(path)
        if source is not None:
            kinds += _read_channels(path, source)
    for wanted in _WORST_FIRST[:-1]:
        for kind, reason in kinds:
            if kind == wanted:
                return ChannelVerdict(kind, reason)
    if not kinds:
        return ChannelVerdict(
            "unseen",
            "the call's channel is not built in the service's code, so whether it adds metadata "
            "(an interceptor, call credentials) the event cannot carry is not known",
        )
    return ChannelVerdict("plain")
