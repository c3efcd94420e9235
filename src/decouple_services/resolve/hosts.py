"""From a resolved url (or gRPC target) to the service that receives the call."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import EXTERNAL_PREFIX, UNKNOWN, Service
from decouple_services.core.records import record
from decouple_services.discover.nginx import GatewayRoute, route_for

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1", "[::1]"})
#: Gateways in front of gateways (a load balancer before an nginx) are followed this far.
_MAX_GATEWAY_HOPS = 4
_HOSTPORT = re.compile(r"^(?P<host>\[[^\]]+\]|[^/:{}\s]+)(?::(?P<port>\d+))?$")


@record
class Target:
    """The parts of a resolved url that decide the callee."""

    host: str | None
    port: int | None
    path: str
    #: The host part holds a run-time placeholder.
    dynamic_host: bool = False


def split_url(text: str, *, grpc: bool = False) -> Target:
    """Split ``http://users:8000/users/{id}?x=1`` into host, port and path.

    gRPC targets are ``host:port`` (optionally ``dns:///host:port`` or ``ipv4:``).
    """
    if grpc:
        for prefix in ("dns:///", "dns:", "ipv4:", "ipv6:"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        text = text.split("/", 1)[0]
        return _hostport(text, "")
    if "://" in text:
        rest = text.split("://", 1)[1]
    elif text.startswith("//"):
        rest = text[2:]
    elif text.startswith("/") or (text.startswith("{") and text.find("}") == len(text) - 1):
        if text.startswith("{"):
            return Target(None, None, "", dynamic_host=True)
        return Target(None, None, text.split("?", 1)[0])
    else:
        rest = text
    hostport, slash, path = rest.partition("/")
    path = (slash + path).split("?", 1)[0].split("#", 1)[0]
    return _hostport(hostport, path or "/")


_PORT_THEN_PLACEHOLDER = lazy_pattern(r"[A-Za-z0-9_.\-]+:[0-9]{1,5}(?=\{)")
#: ``api.example.com{path}``: a whole public name, then a run-time part.
_PUBLIC_THEN_PLACEHOLDER = lazy_pattern(r"(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}(?=\{)")
#: ``{tenant}.api.example.com``: run-time labels in front of a fixed domain.
_PUBLIC_UNDER_PLACEHOLDER = lazy_pattern(
    r"(?:\{[^{}]*\}[A-Za-z0-9\-]*\.)+((?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,})"
)


def _hostport(hostport: str, path: str) -> Target:
    if "{" in hostport:
        # `f"{BASE}{request.path}"` with BASE = "http://users:8000": after an explicit port,
        # a run-time part can only be the path.
        after_port = _PORT_THEN_PLACEHOLDER().match(hostport)
        public = _PUBLIC_UNDER_PLACEHOLDER().fullmatch(hostport)
        if after_port is None and public is not None and not _may_be_internal(public.group(1)):
            # `https://{key}.rest.akismet.com/1.1/`: a run-time subdomain of a public domain
            # is still that domain's
            return Target(public.group(1).lower(), None, path)
        named = _PUBLIC_THEN_PLACEHOLDER().match(hostport) if after_port is None else None
        if named is not None and public is None and not _may_be_internal(named.group(0)):
            # `f"{self.base_url}{path}"` with the base `https://docs.example.org`: after a
            # whole public name, a run-time part is the port or the path
            rest = hostport[named.end() :]
            return Target(named.group(0).lower(), None, rest + (path if path != "/" else ""))
        if after_port is None:
            return Target(None, None, path, dynamic_host=True)
        rest = hostport[after_port.end() :]
        hostport = hostport[: after_port.end()]
        path = rest + (path if path != "/" else "")
    if "@" in hostport:
        hostport = hostport.rsplit("@", 1)[1]
    match = _HOSTPORT.match(hostport)
    if not match:
        return Target(None, None, path, dynamic_host=True)
    port = int(match.group("port")) if match.group("port") else None
    return Target(match.group("host").lower(), port, path)


#: Endings of names that only resolve inside a cluster or a private network.
_INTERNAL_SUFFIXES = (
    ".svc",
    ".cluster.local",
    ".local",
    ".internal",
    ".lan",
    ".localdomain",
    ".consul",
)
#: Top-level domains of the public names services call (a second label among them makes a
#: public name, not `<service>.<namespace>`).
_PUBLIC_TLDS = frozenset(
    {
        "com",
        "net",
        "org",
        "io",
        "dev",
        "app",
        "ai",
        "co",
        "uk",
        "de",
        "fr",
        "nl",
        "eu",
        "us",
        "ca",
        "au",
        "in",
        "jp",
        "cn",
        "ru",
        "br",
        "es",
        "it",
        "ch",
        "se",
        "no",
        "pl",
        "cloud",
        "info",
        "biz",
        "me",
        "tv",
        "gov",
        "edu",
    }
)


def _is_private_address(host: str) -> bool:
    """An IPv4 address of a private network (10/8, 172.16/12, 192.168/16)."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return address.is_private and not address.is_loopback


def _pattern(alias: str) -> re.Pattern[str]:
    """A Helm name pattern as a regular expression: each ``*`` one or more characters of a
    DNS label."""
    return re.compile("[a-z0-9-]+?".join(re.escape(part) for part in alias.split("*")))


def _may_be_internal(host: str) -> bool:
    labels = host.split(".")
    if len(labels) == 1 or host.endswith(_INTERNAL_SUFFIXES):
        return True
    return labels[-1] not in _PUBLIC_TLDS


#: How a callee's reason ends when the address is one the running program learns (a pod
#: it discovered, a backend its router picked): no configuration names it.
LEARNT_AT_RUN_TIME = "only known at run time"


@record
class Callee:
    name: str
    evidence: str | None = None
    reason: str | None = None
    #: The path the callee receives, when a gateway in between rewrites it.
    path: str | None = None


class HostMap:
    """Host aliases and ports of every service, and the known infrastructure hosts."""

    def __init__(
        self,
        services: list[Service] | tuple[Service, ...],
        infra: dict[str, str],
        gateways: Mapping[str, Sequence[GatewayRoute]] | None = None,
        infra_ports: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        #: Gateway host -> the paths it forwards (nginx ``location`` blocks, HAProxy
        #: ``use_backend`` rules).
        self.gateways = {k.lower(): list(v) for k, v in (gateways or {}).items()}
        self.by_alias: dict[str, list[str]] = {}
        self.by_port: dict[int, list[str]] = {}
        #: Helm name patterns (``*-engine``: the release's name, then the service's).
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        for service in services:
            for alias in {service.name.lower(), *(a.lower() for a in service.aliases)}:
                self.by_alias.setdefault(alias, []).append(service.name)
                if "*" in alias and alias.strip("*-_.") != "":
                    self.patterns.append((_pattern(alias), service.name))
            for port in service.ports:
                self.by_port.setdefault(port, []).append(service.name)
        self.infra = {k.lower(): v for k, v in infra.items()}
        #: Published port -> the image-only services published there.
        self.infra_by_port: dict[int, list[str]] = {}
        for host, ports in (infra_ports or {}).items():
            for port in ports:
                self.infra_by_port.setdefault(port, []).append(host.lower())
        self.names = {s.name for s in services}
        self.roots = {s.name: s.root for s in services}

    def nearest(self, owners: Sequence[str], near: str | None) -> list[str]:
        """Of several services answering to one host, those whose root shares the most
        folders with the calling file: copies of one system side by side (a course's
        chapters) each call their own copy."""
        if near is None or len(owners) < 2:
            return list(owners)
        here = near.split("/")

        def shared(owner: str) -> int:
            root = self.roots.get(owner, "")
            parts = root.split("/") if root not in ("", ".") else []
            count = 0
            for mine, theirs in zip(here, parts, strict=False):
                if mine != theirs:
                    break
                count += 1
            return count

        best = max(shared(o) for o in owners)
        return [o for o in owners if shared(o) == best] if best else list(owners)

    def _holds(self, owner: str, path: str | None) -> bool:
        root = self.roots.get(owner, "")
        if path is None or root == "":
            return False
        return root == "." or path.startswith(root + "/")

    def callee(self, target: Target, near: str | None = None) -> Callee:
        """The service a target names; ``near``, the calling file, picks among services of
        copies of one system answering to the same host."""
        found = self._callee(target, near)
        if found.name == UNKNOWN and target.host in _LOOPBACK and target.port is not None:
            by_image = self._published_at(target)
            if by_image is not None:
                return by_image
        return self._through_gateways(target, found, depth=0)

    def _published_at(self, target: Target) -> Callee | None:
        """``localhost:8081`` with no service of this repository's code on 8081: the
        image-only service compose publishes 8081 for, or past it when it is a gateway.
        Several compose files publishing it from different services (a load balancer in
        one, the nginx behind it in another) must all lead to the same service."""
        port = target.port
        if port is None or self.by_port.get(port):
            return None
        ends: list[Callee] = []
        for host in sorted(set(self.infra_by_port.get(port, []))):
            image = self.infra.get(host, "")
            built = f" ({image})" if image else ""
            published = Callee(host, evidence=f"port {port} is published by {host}{built}")
            ends.append(self._through_gateways(target, published, depth=0))
        if not ends or len({e.name for e in ends}) != 1:
            return None
        if len(ends) == 1:
            return ends[0]
        return replace(
            ends[0],
            evidence=f"port {port} is published by {len(ends)} services, each reaching "
            f"{ends[0].name}; {ends[0].evidence}",
        )

    def front_of(self, service: str) -> str | None:
        """The one gateway forwarding some path to ``service``: the address the service's
        clients reach it at, and so the host of a request it receives. None when no gateway,
        or several, front it."""
        fronts: dict[int, str] = {}
        for host, routes in sorted(self.gateways.items()):
            if any(self._callee(Target(r.host, r.port, "/")).name == service for r in routes):
                fronts.setdefault(id(routes), host)
        if len({tuple(self.gateways[h]) for h in fronts.values()}) != 1:
            return None
        return next(iter(fronts.values()))

    def _through_gateways(self, target: Target, found: Callee, depth: int) -> Callee:
        """Past a gateway to the service its route for the path names: a load balancer in
        front of an nginx in front of the api is followed to the api."""
        # `localhost:8081` reaching the gateway by its published port is the gateway too
        gateway = found.name.lower() if found.name.lower() in self.gateways else target.host
        routes = self.gateways.get((gateway or "").lower())
        routed = route_for(routes, target.path or "/") if routes else None
        if routed is None or depth >= _MAX_GATEWAY_HOPS:
            return found
        route, path = routed
        next_target = Target(route.host, route.port, path)
        behind = self._callee(next_target)
        if behind.name == UNKNOWN or behind.name.startswith(EXTERNAL_PREFIX):
            return found
        step = f"gateway {gateway} forwards {route.prefix} to {route.host} ({route.source})"
        if behind.name.lower() != (gateway or "").lower():
            deeper = self._through_gateways(next_target, behind, depth + 1)
            if deeper is not behind:
                return replace(deeper, evidence=f"{step}; {deeper.evidence}")
        return Callee(behind.name, evidence=f"{step}; {behind.evidence}", path=path)

    def _callee(self, target: Target, near: str | None = None) -> Callee:
        if target.dynamic_host:
            return Callee(UNKNOWN, reason=f"the host is {LEARNT_AT_RUN_TIME}")
        host = target.host
        if host is None:
            return Callee(UNKNOWN, reason="relative url and no base url on the client")
        if host in _LOOPBACK:
            if target.port is None:
                return Callee(UNKNOWN, reason=f"{host} without a port cannot name a service")
            owners = self.nearest(sorted(set(self.by_port.get(target.port, []))), near)
            if len(owners) == 1:
                return Callee(owners[0], evidence=f"port {target.port} -> service {owners[0]}")
            if not owners:
                return Callee(
                    UNKNOWN, reason=f"no service is known to listen on port {target.port}"
                )
            return Callee(UNKNOWN, reason=f"port {target.port} is used by {', '.join(owners)}")
        if target.port is not None and _is_private_address(host):
            # `http://10.0.10.5:8001` in a compose env file: the developer's docker host,
            # reaching the port another service of the repository publishes
            others = [
                o
                for o in sorted(set(self.by_port.get(target.port, [])))
                if not self._holds(o, near)
            ]
            owners = self.nearest(others, near)
            if len(owners) == 1:
                return Callee(
                    owners[0],
                    evidence=f"private address {host}:{target.port} -> port {target.port} "
                    f"of service {owners[0]}",
                )
        short = host.split(".")[0]
        # `users.default.svc.cluster.local` and `users.shop` name the service users;
        # `api.newrelic.com` does not name a service called api.
        for candidate in (host, short) if _may_be_internal(host) else (host,):
            owners = self.nearest(sorted(set(self.by_alias.get(candidate, []))), near)
            if len(owners) == 1:
                return Callee(owners[0], evidence=f"host {host} -> service {owners[0]}")
            if len(owners) > 1:
                if target.port is not None:
                    by_port = [o for o in owners if o in self.by_port.get(target.port, [])]
                    if len(by_port) == 1:
                        return Callee(
                            by_port[0],
                            evidence=f"host {host}:{target.port} -> service {by_port[0]}",
                        )
                return Callee(UNKNOWN, reason=f"host {host} is an alias of {', '.join(owners)}")
        internal_short = short if _may_be_internal(host) else None
        if host in self.infra or internal_short in self.infra:
            # Declared in the repository's deployment files but built elsewhere (an image):
            # still one of this system's services, whatever it is written in.
            name = host if host in self.infra else short
            image = self.infra[name]
            built = f" ({image})" if image else ""
            return Callee(
                name, evidence=f"host {host} -> service {name}{built}, declared without code here"
            )
        # `prod-engine` for a chart naming its Service `{{ .Release.Name }}-engine`
        if _may_be_internal(host):
            by_pattern = sorted({s for p, s in self.patterns if p.fullmatch(short)})
            if len(by_pattern) == 1:
                return Callee(
                    by_pattern[0],
                    evidence=f"host {host} fits the Helm name of service {by_pattern[0]}",
                )
        return Callee(f"{EXTERNAL_PREFIX}{host}", evidence=f"host {host} matches no service")

    def service_named(self, name: str) -> str | None:
        if name in self.names:
            return name
        owners = sorted(set(self.by_alias.get(name.lower(), [])))
        return owners[0] if len(owners) == 1 else None
