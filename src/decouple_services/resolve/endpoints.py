"""Endpoints: the routes each service serves, with full paths, and matching calls to them.

:func:`build_endpoints` joins what the route extractors (``detect/servers``) recorded per file:

- a route's owner (app, blueprint, router, route list) lends its own prefix, read from the
  object it was created as (``Blueprint(url_prefix=...)``, ``APIRouter(prefix=...)``);
- mounts (``register_blueprint``, ``include_router``, Django ``include``, aiohttp
  ``add_subapp``, Starlette ``Mount``) put an owner's routes under a parent's path, through as
  many levels as the code has; an owner mounted nowhere is a root (a Django ``urlpatterns``
  nobody includes is a root URLconf). Flask's ``url_prefix=`` given at registration replaces
  the blueprint's own, as Flask does; other frameworks add the mount prefix in front of it;
- Django views that accept only some methods (``@require_POST``, class-based views) restrict
  the routes naming them;
- gRPC servicer methods get their ``/package.Service/Method`` path from the generated stubs,
  or, when those are generated at build time, from the ``.proto`` file declaring the
  service (``discover/protos``): a file with no ``package`` statement gives
  ``/Service/Method``; a method the service does not declare is no RPC;
- an endpoint belongs to the service of its file, or, for a route of a shared library that an
  application mounts, to the application's service. Names are looked up in the service's own
  files first, since services often share module names (``app.api``).

Paths are normalised to ``{name}`` parameters (Flask/Django ``<int:id>``, regex ``(?P<id>..)``,
Starlette ``{id:int}``), with one leading ``/`` and no doubled slashes. A part that cannot be
known statically stays as ``{?}`` and the endpoint is still reported, with a note.

:func:`match_endpoint` finds the endpoint a call's path reaches: a ``{x}`` segment of a template
matches any one segment, literal segments must be equal, trailing slashes and query strings
do not matter, and the most specific template wins.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from decouple_services.core.model import UNKNOWN, Diagnostic, Endpoint, Severity
from decouple_services.core.records import record
from decouple_services.detect.facts import Constant, FileFacts, RawMount, RawRoute
from decouple_services.detect.receivers import follow
from decouple_services.detect.values import Concat, Dyn, Env, Lit, Obj, Ref, Value, concat

if TYPE_CHECKING:
    from decouple_services.discover.protos import ProtoService

#: Qualified name -> recorded constant value (``ProjectIndex.lookup``).
Lookup = Callable[[str], Value | None]
#: A service name for a repo-relative file path.
ServiceOf = Callable[[str], str | None]

#: The path pieces in front of an owner's routes, and the root it is reached from.
_Chain = tuple[list[Value], tuple[object, ...]]
#: Identity of a route owner: ``("ref", service, qualname)`` or ``("local", service, module,
#: value)``.
_Key = tuple[object, ...]

UNKNOWN_PART = "{?}"
#: Framework name of the facts carrying a Django view's accepted methods (``detect/servers/django``).
_DJANGO_VIEW = "django-view"
#: A DRF router's registration and a viewset's extra action (``detect/servers/django``).
_DRF_ROUTER = "drf-router"
_DRF_ACTION = "drf-action"
#: Owner of the ``drf-action`` fact giving a viewset's ``lookup_field`` as ``<name>/``.
_DRF_LOOKUP = Dyn("lookup")
#: A mount given no prefix (``detect/servers/_common.NO_PREFIX``).
_NO_PREFIX = Dyn("None")
#: Packages whose ``Namespace(path=...)`` and ``Api(prefix=...)`` lend their routes a prefix
#: (``detect/servers/flask_restx``).
_RESTFUL = frozenset({"flask_restx", "flask_restplus", "flask_restful"})
_MAX_DEPTH = 16
_MAX_CHAINS = 32
_MAX_HOPS = 12


# --- building ----------------------------------------------------------------------------


def build_endpoints(
    facts: Sequence[FileFacts],
    service_of: ServiceOf,
    lookup: Lookup,
    noted: Callable[[str], None] | None = None,
    protos: Sequence[ProtoService] = (),
    defined: dict[str, list[tuple[str, Constant]]] | None = None,
) -> tuple[list[Endpoint], list[Diagnostic]]:
    """Every endpoint the files serve, sorted, with notes on what could not be resolved.
    ``noted`` is told each constant looked up in the files' own tables (``lookup`` is
    asked only when a service does not define it). ``protos`` name the gRPC services whose
    generated modules are not in the repository. ``defined``: the definitions of the
    files' constants by qualified name, in the order of the files and then of their
    definitions (the index's ``constants`` table, read without a lookup), when the
    caller has them: a service's own constants are then found there rather than in a
    table of every constant made again."""
    return _Builder(facts, service_of, lookup, noted, protos, defined).build()


def _service_lookup(
    service: str | None,
    noted: Callable[[str], None] | None,
    constants: Mapping[tuple[str | None, str], Value],
    defined: dict[str, list[tuple[str, Constant]]] | None,
    service_of: ServiceOf,
    lookup: Lookup,
) -> Lookup:
    """Constants as ``service`` sees them (:meth:`_Builder._lookup_in`). It holds what it
    reads, not the builder that keeps it: a closure over the builder made a cycle of
    references, which kept the index and the scan's memo (behind ``lookup`` and
    ``noted``) until the cycle collector's next full collection, long after the endpoints
    were built."""

    def found(qualname: str) -> Value | None:
        if noted is not None:
            noted(qualname)
        own = (
            constants.get((service, qualname))
            if defined is None
            else _own(defined, service_of, service, qualname)
        )
        return own if own is not None else lookup(qualname)

    return found


def _own(
    defined: dict[str, list[tuple[str, Constant]]],
    service_of: ServiceOf,
    service: str | None,
    qualname: str,
) -> Value | None:
    """The value of the first definition of ``qualname`` in a file of ``service`` (the
    first in the order of the files, as the table of every constant holds it)."""
    # dict.get: the index's raw table, without reporting the lookup (``noted`` is told)
    for path, constant in dict.get(defined, qualname) or ():
        if service_of(path) == service:
            return constant.value
    return None


@record
class _Edge:
    """An owner mounted on ``parent`` under ``prefix``."""

    parent: _Key
    prefix: Value
    framework: str
    file: str
    line: int


class _Builder:
    def __init__(
        self,
        facts: Sequence[FileFacts],
        service_of: ServiceOf,
        lookup: Lookup,
        noted: Callable[[str], None] | None = None,
        protos: Sequence[ProtoService] = (),
        defined: dict[str, list[tuple[str, Constant]]] | None = None,
    ) -> None:
        self.facts = facts
        #: Each file's service, in the order of the files; None for a file giving nothing a
        #: service is asked for (most of a large tree's files, which the scan never parsed:
        #: finding each one's service was a twentieth of homeassistant's rerun after an edit).
        self.services = [
            service_of(f.path) if f.routes or f.mounts or f.constants or f.grpc_methods else None
            for f in facts
        ]
        self.protos: Mapping[str, ProtoService] = {}
        if protos:  # the reader of .proto files imported for a tree that has some
            from decouple_services.discover.protos import by_name

            self.protos = by_name(protos)
        self.noted = noted
        self.service_of = service_of
        self.lookup = lookup
        #: Constants by (service, qualname): services often share module names (``app.api``),
        #: and a service's own definition is the one its routes mean.
        self.constants: dict[tuple[str | None, str], Value] = {}
        self.defined = defined
        if defined is None:
            for f, service in zip(facts, self.services, strict=True):
                for constant in f.constants:
                    self.constants.setdefault((service, constant.qualname), constant.value)
        self._lookups: dict[str | None, Lookup] = {}
        self.diagnostics: list[Diagnostic] = []
        #: Owner key -> the value it was recorded as (for its own prefix) and its service.
        self.owners: dict[_Key, tuple[Value, str | None]] = {}
        self.edges: dict[_Key, list[_Edge]] = defaultdict(list)
        self.view_methods: dict[str, tuple[str, ...]] = {}
        #: Viewset qualname -> its extra actions (path below the prefix, methods).
        self.actions: dict[str, list[RawRoute]] = defaultdict(list)
        #: Viewset qualname -> its detail route's part when it is not ``<pk>/``.
        self.lookups: dict[str, Value] = {}
        #: Servicer qualname -> method -> (path, service of the generated file).
        self.rpcs: dict[str, dict[str, str]] = defaultdict(dict)
        self.rpc_services: dict[str, str | None] = {}
        self._chains: dict[_Key, list[_Chain]] = {}
        self._reported_cycles: set[tuple[str, int]] = set()

    def build(self) -> tuple[list[Endpoint], list[Diagnostic]]:
        for f, service in zip(self.facts, self.services, strict=True):
            for g in f.grpc_methods:
                self.rpcs[g.servicer][g.method] = g.path
                self.rpc_services.setdefault(g.servicer, service)
            for route in f.routes:
                if route.framework == _DJANGO_VIEW:
                    self.view_methods[route.handler] = route.methods
                elif route.framework == _DRF_ACTION and route.owner == _DRF_LOOKUP:
                    self.lookups[route.handler] = route.path
                elif route.framework == _DRF_ACTION:  # handler: the viewset's method
                    self.actions[route.handler.rpartition(".")[0]].append(route)
                elif route.protocol != "grpc":
                    key = self._key(route.owner, f.module, service)
                    self.owners.setdefault(key, (route.owner, service))
            for mount in f.mounts:
                self.owners.setdefault(
                    self._key(mount.parent, f.module, service), (mount.parent, service)
                )
        for f, service in zip(self.facts, self.services, strict=True):
            for mount in f.mounts:
                self._add_edge(mount, f, service)
        found: dict[tuple[str, str, str, str, str], Endpoint] = {}
        for f, of in zip(self.facts, self.services, strict=True):
            service = of or UNKNOWN
            for raw in f.routes:
                if raw.framework in (_DJANGO_VIEW, _DRF_ACTION):
                    continue
                for route in self._viewset_routes(raw) if raw.framework == _DRF_ROUTER else [raw]:
                    for endpoint in self._endpoints(route, f, service):
                        key = (
                            endpoint.service,
                            endpoint.protocol,
                            endpoint.method,
                            endpoint.path,
                            endpoint.handler,
                        )
                        found.setdefault(key, endpoint)
        endpoints = sorted(found.values(), key=lambda e: (*e.sort_key(), e.file, e.line))
        return endpoints, sorted(set(self.diagnostics), key=lambda d: d.sort_key())

    def _viewset_routes(self, registration: RawRoute) -> list[RawRoute]:
        """A viewset registered on a DRF router under ``prefix``: its list route
        (``prefix/``), its detail route (``prefix/<pk>/``, or the viewset's ``lookup_field``)
        and one route per extra action, whose handler is the action's method; served by
        Django as the router's patterns are."""

        def route(
            methods: tuple[str, ...], path: Value, line: int, handler: str = registration.handler
        ) -> RawRoute:
            return RawRoute("django", registration.owner, methods, path, handler, line)

        prefix = registration.path
        line = registration.line
        out = [
            route(("*",), concat(prefix, Lit("/")), line),
            route(
                ("*",),
                concat(prefix, Lit("/"), self.lookups.get(registration.handler, Lit("<pk>/"))),
                line,
            ),
        ]
        for action in self.actions.get(registration.handler, ()):
            path = concat(prefix, Lit("/"), action.path)
            out.append(route(action.methods, path, line, action.handler))
        return out

    # --- owners and mounts ---------------------------------------------------------------

    def _lookup_in(self, service: str | None) -> Lookup:
        """Constants as ``service`` sees them: its own first, then the project's."""
        found = self._lookups.get(service)
        if found is None:
            found = self._lookups[service] = _service_lookup(
                service, self.noted, self.constants, self.defined, self.service_of, self.lookup
            )
        return found

    def _key(self, owner: Value, module: str, service: str | None) -> _Key:
        """Identity of an owner: a module-level name by its qualified name (through aliases)
        within its service, anything else (an object created in a function, a parameter)
        within its module of its service: copies of one program in several services share
        module names and their factories' objects (``def create_app(): app = Flask(...)``)."""
        if isinstance(owner, Ref):
            lookup = self._lookup_in(service)
            qualname = owner.qualname
            for _ in range(_MAX_HOPS):
                value = lookup(qualname)
                if not isinstance(value, Ref) or value.qualname == qualname:
                    break
                qualname = value.qualname
            return ("ref", service, qualname)
        return ("local", service, module, owner)

    def _add_edge(self, mount: RawMount, f: FileFacts, service: str | None) -> None:
        child = self._known(self._key(mount.child, f.module, service), service)
        parent = self._key(mount.parent, f.module, service)
        if child == parent:
            return
        self.owners.setdefault(child, (mount.child, service))
        self.edges[child].append(_Edge(parent, mount.prefix, mount.framework, f.path, mount.line))

    def _known(self, key: _Key, service: str | None) -> _Key:
        """The owner a mounted name means: itself, its module's ``urlpatterns`` (Django's
        ``include(urls_module)``), the same name in another service (a shared library), or a
        known owner whose name ends the same way (module names seen from inside a service,
        ``users.urls``, against ``services.users.users.urls``); this service's first."""
        if key in self.owners or key[0] != "ref":
            return key
        qualname = str(key[2])
        refs = [k for k in self.owners if k[0] == "ref"]
        for wanted in (qualname, f"{qualname}.urlpatterns"):
            if ("ref", service, wanted) in self.owners:
                return ("ref", service, wanted)
            suffix = "." + wanted
            for matches in (
                [k for k in refs if k[2] == wanted],
                [k for k in refs if str(k[2]).endswith(suffix)],
            ):
                same = [k for k in matches if k[1] == service]
                if len(same) == 1 or (not same and len(matches) == 1):
                    return (same or matches)[0]
        return key

    def _own_prefix(self, key: _Key) -> Value | None:
        """``Blueprint(url_prefix=...)``, ``APIRouter(prefix=...)``, a Flask-RESTX
        ``Namespace(path=...)`` or ``Api(prefix=...)`` of an owner."""
        recorded = self.owners.get(key)
        if recorded is None:
            return None
        obj = follow(recorded[0], self._lookup_in(recorded[1]))
        if not isinstance(obj, Obj):
            return None
        kind = obj.type.rpartition(".")[2]
        prefix: Value | None = None
        package = obj.type.partition(".")[0]
        if package in _RESTFUL and kind == "Namespace":
            # the library strips the trailing slash and defaults to the name
            prefix = obj.arg(2, "path")
            name = obj.arg(0, "name")
            if (prefix is None or prefix == _NO_PREFIX) and name is not None:
                prefix = concat(Lit("/"), name)
        elif package in _RESTFUL and kind == "Api":
            # Flask-RESTful takes the prefix second; RESTX and RESTPlus only by keyword
            prefix = obj.arg(1, "prefix") if package == "flask_restful" else obj.kwarg("prefix")
        elif kind.endswith("Blueprint"):
            prefix = obj.arg(5, "url_prefix")
        elif kind.endswith("Router"):
            prefix = obj.kwarg("prefix")
        if prefix is None or prefix == _NO_PREFIX:
            return None
        return prefix

    def _prefix_chains(self, key: _Key, stack: tuple[_Key, ...] = ()) -> list[_Chain]:
        """Each way the owner is reached from a root: the path pieces before its routes."""
        if key in self._chains:
            return self._chains[key]
        own = self._own_prefix(key)
        mine = [own] if own is not None else []
        chains: list[_Chain] = []
        for edge in self.edges.get(key, []):
            if edge.parent in stack or edge.parent == key or len(stack) >= _MAX_DEPTH:
                self._cycle(edge)
                continue
            given = edge.prefix != _NO_PREFIX
            if edge.framework == "flask":
                # register_blueprint(url_prefix=...) replaces the blueprint's own prefix
                here = [edge.prefix] if given else mine
            else:
                here = ([edge.prefix] if given else []) + mine
            for outer, root in self._prefix_chains(edge.parent, (*stack, key)):
                if len(chains) < _MAX_CHAINS:
                    chains.append((outer + here, root))
        if not chains:
            chains = [(mine, key)]
        if not stack:
            self._chains[key] = chains
        return chains

    def _cycle(self, edge: _Edge) -> None:
        if (edge.file, edge.line) in self._reported_cycles:
            return
        self._reported_cycles.add((edge.file, edge.line))
        self.diagnostics.append(
            Diagnostic(
                edge.file,
                edge.line,
                Severity.WARNING,
                "mount-cycle",
                "routes mounted in a cycle; mount skipped",
            )
        )

    # --- endpoints -----------------------------------------------------------------------

    def _endpoints(self, route: RawRoute, f: FileFacts, service: str) -> list[Endpoint]:
        if route.protocol == "grpc":
            return self._rpc(route, f, service)
        methods = route.methods
        if route.framework == "django" and methods == ("*",):
            methods = self.view_methods.get(route.handler, methods)
        found: list[Endpoint] = []
        owner = self._key(route.owner, f.module, self.service_of(f.path))
        lookup = self._lookup_in(self.service_of(f.path))
        for chain, root in self._prefix_chains(owner):
            pieces = [*chain, route.path]
            # a route of a shared library is served by the service whose app mounts it
            served_by = self.owners[root][1] if root in self.owners else None
            path = join_path([normalise_template(self._render(p, lookup)) for p in pieces])
            if UNKNOWN_PART in path:
                self.diagnostics.append(
                    Diagnostic(
                        f.path,
                        route.line,
                        Severity.NOTE,
                        "route-path-unresolved",
                        f"part of the route path is not known statically: {path}",
                    )
                )
            found.extend(
                Endpoint(
                    served_by or service,
                    "http",
                    method.upper(),
                    path,
                    route.handler,
                    f.path,
                    route.line,
                    route.framework,
                )
                for method in methods
            )
        return found

    def _render(self, value: Value, lookup: Lookup, depth: int = 0) -> str:
        """A path piece as text; what is not known statically becomes ``{?}``."""
        if depth > _MAX_DEPTH:
            return UNKNOWN_PART
        if isinstance(value, Lit):
            return value.text
        if isinstance(value, Concat):
            return "".join(self._render(p, lookup, depth + 1) for p in value.parts)
        if isinstance(value, Ref):
            found = follow(value, lookup)
            return (
                UNKNOWN_PART if isinstance(found, Ref) else self._render(found, lookup, depth + 1)
            )
        if isinstance(value, Env) and value.default is not None:
            return self._render(value.default, lookup, depth + 1)
        return UNKNOWN_PART

    def _rpc(self, route: RawRoute, f: FileFacts, service: str) -> list[Endpoint]:
        method = route.path.text if isinstance(route.path, Lit) else ""
        base = route.owner.qualname if isinstance(route.owner, Ref) else ""
        if not method or not base:
            return []
        rpcs = self._rpcs_of(base, service)
        name = base.rpartition(".")[2].removesuffix("Servicer")
        if rpcs is None and name in self.protos:
            # generated at build time: the ``.proto`` file gives the package, or none
            proto = self.protos[name]
            rpcs = {m: proto.path(m) for m in proto.methods}
        if rpcs is None:
            path = f"/{UNKNOWN_PART}.{name}/{method}"
            self.diagnostics.append(
                Diagnostic(
                    f.path,
                    route.line,
                    Severity.NOTE,
                    "grpc-path-unresolved",
                    f"generated module of {base} not found; its package is unknown",
                )
            )
        elif method in rpcs:
            path = rpcs[method]
        else:
            return []  # a public helper of the servicer, not an RPC of the service
        return [Endpoint(service, "grpc", "RPC", path, route.handler, f.path, route.line, "grpc")]

    def _rpcs_of(self, servicer: str, service: str) -> dict[str, str] | None:
        if servicer in self.rpcs:
            return self.rpcs[servicer]
        # `import users_pb2_grpc` at top level while the file is scanned as `svc.users_pb2_grpc`
        tail = ".".join(servicer.split(".")[-2:])
        matches = [s for s in self.rpcs if s == tail or s.endswith("." + tail)]
        same = [s for s in matches if self.rpc_services.get(s) == service]
        chosen = same or matches
        return self.rpcs[chosen[0]] if chosen else None


# --- path templates ----------------------------------------------------------------------

_ANGLE = re.compile(r"<(?:[^<>:]+:)?(\w+)>")
_BRACED = re.compile(r"\{(\w+):[^{}/]*\}")


def normalise_template(text: str) -> str:
    """One path piece in ``{name}`` style, whichever framework wrote it.

    >>> normalise_template("users/<int:pk>/")
    'users/{pk}/'
    >>> normalise_template(r"^orders/(?P<id>\\d+)/$")
    'orders/{id}/'
    >>> normalise_template("/items/{item_id:path}")
    '/items/{item_id}'
    """
    if _is_regex(text):
        text = _regex_template(text)
    text = _ANGLE.sub(r"{\1}", text)
    return _BRACED.sub(r"{\1}", text)


def join_path(pieces: Sequence[str]) -> str:
    """Pieces joined with ``/``: one leading slash, no doubled ones, the last piece's
    trailing slash kept."""
    kept = [p for p in pieces if p]
    joined = "/" + "/".join(kept)
    return re.sub(r"/{2,}", "/", joined)


def _is_regex(text: str) -> bool:
    return text.startswith("^") or text.endswith("$") or "(?P<" in text or "\\" in text


def _regex_template(text: str) -> str:
    """``^users/(?P<id>[0-9]+)/$`` -> ``users/{id}/``; other variable parts -> ``{?}``."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "^$":
            i += 1
            continue
        if ch == "(":
            end = _group_end(text, i)
            inner = text[i + 1 : end]
            named = re.match(r"\?P<(\w+)>", inner)
            out.append("{" + named.group(1) + "}" if named else UNKNOWN_PART)
            i = _after_quantifier(text, end + 1)
            continue
        if ch == "[":
            end = text.find("]", i + 2 if text.startswith("[]", i) else i + 1)
            i = _after_quantifier(text, (end if end >= 0 else n - 1) + 1)
            out.append(UNKNOWN_PART)
            continue
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "dwsDWS":
                out.append(UNKNOWN_PART)
                i = _after_quantifier(text, i + 2)
            elif nxt in "AZz":
                i += 2
            else:
                out.append(nxt)
                i += 2
            continue
        if ch == "." and i + 1 < n and text[i + 1] in "*+":
            out.append(UNKNOWN_PART)
            i = _after_quantifier(text, i + 1)
            continue
        if ch == "?":
            # an optional character before it (`/?`): keep the character, drop the mark
            i += 1
            continue
        out.append(ch)
        i += 1
    return re.sub(r"(\{\?\})+", UNKNOWN_PART, "".join(out))


def _group_end(text: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text) - 1


def _after_quantifier(text: str, i: int) -> int:
    if i < len(text) and text[i] in "*+?":
        i += 1
        if i < len(text) and text[i] == "?":
            i += 1
    elif i < len(text) and text[i] == "{":
        end = text.find("}", i)
        if end >= 0 and re.fullmatch(r"\{\d*(,\d*)?\}", text[i : end + 1]):
            i = end + 1
    return i


# --- matching ----------------------------------------------------------------------------


def match_endpoint(
    method: str | None, path: str, candidates: Sequence[Endpoint]
) -> Endpoint | None:
    """The endpoint among ``candidates`` that a call with ``method`` to ``path`` reaches.

    ``path`` is a resolved url path (a full url is cut to its path); parts known only at run
    time appear as ``{anything}``. gRPC endpoints match on their exact path. Among HTTP
    endpoints of the right method (``*`` takes any; a call of unknown method takes any), the
    one with the most literal segments wins, then an exact method over ``*``.
    """
    wanted = _path_only(path)
    segments = _segments(wanted)
    best: Endpoint | None = None
    best_score: tuple[int, int] | None = None
    # Of equal scores the first in endpoint order wins: the order is asked of ties only,
    # not sorted for each of thousands of calls.
    upper = method.upper() if method is not None else None
    for endpoint in candidates:
        if endpoint.protocol == "grpc":
            score: tuple[int, int] | None = (1_000, 1) if endpoint.path == wanted else None
        else:
            template = _segments(endpoint.path)
            if len(template) != len(segments):
                continue  # what _specificity says first, before the methods are compared
            exact = upper is not None and endpoint.method.upper() == upper
            if (
                method is not None
                and endpoint.method != "*"
                and not exact
                and not _answers_head(method, endpoint)
            ):
                continue
            literal = _specificity(template, segments)
            score = None if literal is None else (literal, 1 if exact else 0)
        if score is None:
            continue
        if (
            best is None
            or best_score is None
            or score > best_score
            or (score == best_score and _order(endpoint) < _order(best))
        ):
            best, best_score = endpoint, score
    return best


def _order(endpoint: Endpoint) -> tuple[str, str, str, str, str, int]:
    return (*endpoint.sort_key(), endpoint.file, endpoint.line)


def path_length(path: str) -> int:
    """How many segments :func:`match_endpoint` reads in a call's ``path``: an HTTP endpoint
    whose :func:`template_length` differs never matches it."""
    return len(_segments(_path_only(path)))


def template_length(endpoint: Endpoint) -> int:
    """How many segments the template of ``endpoint`` has."""
    return len(_segments(endpoint.path))


#: Frameworks whose GET routes answer HEAD by themselves (werkzeug, Django's ``View``,
#: Starlette's ``Route``, aiohttp's ``add_get``); FastAPI's ``APIRoute`` does not.
_HEAD_FROM_GET = frozenset({"flask", "django", "starlette", "aiohttp"})


def _answers_head(method: str, endpoint: Endpoint) -> bool:
    """A HEAD request reaches a GET route of a framework that answers HEAD for it."""
    return (
        method.upper() == "HEAD"
        and endpoint.method.upper() == "GET"
        and endpoint.framework in _HEAD_FROM_GET
    )


def _path_only(url: str) -> str:
    text = url.strip()
    if "://" in text.split("?", 1)[0]:
        rest = text.split("://", 1)[1]
        slash = rest.find("/")
        text = rest[slash:] if slash >= 0 else "/"
    for mark in ("?", "#"):
        cut = _outside_braces(text, mark)
        if cut >= 0:
            text = text[:cut]
    return text or "/"


def _outside_braces(text: str, mark: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == mark and depth == 0:
            return i
    return -1


@functools.lru_cache(maxsize=8192)
def _segments(path: str) -> tuple[str, ...]:
    """Non-empty segments, not splitting inside ``{...}`` (run-time parts may hold a ``/``).
    Remembered: every call is matched against every endpoint's template."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in path:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        if ch == "/" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return tuple(p for p in parts if p)


_PARAM = re.compile(r"\{[^{}]*\}")


def _specificity(template: tuple[str, ...], segments: tuple[str, ...]) -> int | None:
    """How specifically ``template`` matches the call's segments: two points per literal
    segment, one per segment mixing literal text and a parameter; ``None`` when it does not."""
    if len(template) != len(segments):
        return None
    score = 0
    for expected, actual in zip(template, segments, strict=True):
        if _PARAM.fullmatch(expected):
            continue
        if "{" not in expected:
            if expected != actual:
                return None
            score += 2
            continue
        pattern = "".join(
            "[^/]+" if _PARAM.fullmatch(piece) else re.escape(piece)
            for piece in re.split(r"(\{[^{}]*\})", expected)
        )
        if not re.fullmatch(pattern, actual):
            return None
        score += 1
    return score


__all__ = [
    "build_endpoints",
    "join_path",
    "match_endpoint",
    "normalise_template",
    "path_length",
    "template_length",
]
