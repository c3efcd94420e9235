"""Callees inferred when the value is not in the repository.

A url read from a Secret or a CI variable has no value to follow, but its name usually says
where it goes: ``USERS_SERVICE_URL`` goes to ``users``, ``settings.PAYMENT_API`` to
``payment``, a ``CartServiceStub`` to ``cart``. And a gRPC stub goes to the service that
registers its servicer, whatever the stub's channel says. Such callees are marked
``inferred`` with the reason; an inference is made only when exactly one service fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from decouple_services.core.model import EXTERNAL_PREFIX, UNKNOWN, Endpoint, EnvValue, Service
from decouple_services.core.records import record
from decouple_services.discover.grpc_servers import GrpcServicer

#: Words that say "this is an address" rather than which service it is.
GENERIC = frozenset(
    {
        "url",
        "urls",
        "uri",
        "host",
        "hostname",
        "base",
        "api",
        "apis",
        "endpoint",
        "endpoints",
        "address",
        "addr",
        "server",
        "service",
        "services",
        "svc",
        "http",
        "https",
        "port",
        "root",
        "prefix",
        "path",
        "internal",
        "external",
        "public",
        "private",
        "remote",
        "settings",
        "setting",
        "config",
        "conf",
        "cfg",
        "env",
        "environ",
        "os",
        "getenv",
        "get",
        "self",
        "cls",
        "app",
        "state",
        "client",
        "clients",
        "conn",
        "connection",
        "target",
        "dsn",
        "link",
        "domain",
        "name",
        "value",
        "default",
        "local",
        "localhost",
        "stub",
        "channel",
        "grpc",
        "rest",
        "v1",
        "v2",
        "v3",
        "the",
        "to",
        "of",
        "for",
        "and",
        "web",
        "backend",
        "frontend",
        "main",
        "core",
        "common",
    }
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: What an environment variable's name looks like: ``EVALAI_API_SERVER``.
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def words(text: str) -> frozenset[str]:
    """The distinctive words of a name: split at case changes and punctuation, singular,
    generic words dropped."""
    out = set()
    for raw in _WORD.findall(text):
        word = raw.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in GENERIC and not word.isdigit():
            out.add(word)
    return frozenset(out)


@record(slots=False)
class Inferred:
    callee: str
    reason: str


class CalleeInference:
    def __init__(
        self,
        services: Sequence[Service],
        endpoints: Iterable[Endpoint],
        is_production: Callable[[str], bool] = lambda path: True,
        servicers: Iterable[GrpcServicer] = (),
        images: Iterable[str] = (),
    ) -> None:
        self.words = {
            s.name: frozenset().union(words(s.name), *(words(a) for a in s.aliases))
            for s in services
        }
        #: The words of each name a service goes by, apart: `payment-service` also known
        #: as `user-service` is exactly what `PAYMENT_URL` names.
        self.names = {s.name: {frozenset(words(n)) for n in (s.name, *s.aliases)} for s in services}
        #: Services the deployment files run from an image, with no code here (a Helm
        #: Deployment of a stock server, a compose `image:`): named after what they are,
        #: as code services are. Their cluster DNS forms say no more than the short name.
        self.images = {
            host: own
            for host in images
            if "." not in host and "*" not in host and (own := words(host))
        }
        #: gRPC service (``pkg.Service`` and bare ``Service``) -> services serving it.
        self.grpc_servers: dict[str, set[str]] = {}
        for endpoint in endpoints:
            # A servicer registered by a test's mock server, or by code outside every
            # service, serves nothing in production.
            if endpoint.protocol != "grpc" or endpoint.service not in self.words:
                continue
            if not is_production(endpoint.file):
                continue
            full = endpoint.path.strip("/").rpartition("/")[0]
            for key in {full, full.rpartition(".")[2]}:
                self.grpc_servers.setdefault(key, set()).add(endpoint.service)
        #: (gRPC service, serving service) -> where code in another language registers it.
        self.foreign: dict[tuple[str, str], GrpcServicer] = {}
        for servicer in servicers:
            if servicer.service is None or servicer.service not in self.words:
                continue
            self.grpc_servers.setdefault(servicer.name, set()).add(servicer.service)
            self.foreign.setdefault((servicer.name, servicer.service), servicer)

    def by_grpc_server(self, stub_type: str) -> Inferred | None:
        """The one service registering the servicer of ``stub_type`` (``...FooStub``)."""
        name = stub_type.rpartition(".")[2].removesuffix("Stub")
        servers = self.grpc_servers.get(name, set())
        if len(servers) != 1:
            return None
        (server,) = servers
        foreign = self.foreign.get((name, server))
        if foreign is not None:
            return Inferred(
                server,
                f"{name} is served by {server} only (registered at {foreign.file}:"
                f"{foreign.line}, {foreign.language}; {foreign.how})",
            )
        return Inferred(
            server, f"{name} is served by {server} only (its servicer is registered there)"
        )

    def by_name(self, names: Iterable[str]) -> Inferred | None:
        """The one service whose name fits the words of ``names`` (variables, settings,
        stub classes), or None when none or several do."""
        for name in names:
            wanted = words(_own_name(name))
            if not wanted:
                continue
            fits = [s for s, own in self.words.items() if own and (wanted <= own or own <= wanted)]
            if len(fits) > 1:
                exact = [s for s in fits if self.words[s] == wanted or wanted in self.names[s]]
                fits = exact
            if len(fits) == 1:
                return Inferred(fits[0], f"inferred from the name {name!r}")
            if not fits:
                image = self._image_named(wanted)
                if image is not None:
                    return Inferred(
                        image, f"inferred from the name {name!r} ({image} runs an image)"
                    )
        return None

    def _image_named(self, wanted: frozenset[str]) -> str | None:
        """The one image-only service whose name fits ``wanted``, when no service of code
        does: a discovery helper's ``engine_ip`` speaks of the chart's ``engine-service``."""
        fits = [h for h, own in self.images.items() if wanted <= own or own <= wanted]
        if len(fits) > 1:
            fits = [h for h in fits if self.images[h] == wanted]
        return fits[0] if len(fits) == 1 else None

    def by_env_value(
        self,
        names: Iterable[str],
        declared: Callable[[str], Sequence[EnvValue]],
        callee_of: Callable[[str], str],
    ) -> Inferred | None:
        """``self.API_HOST`` set from a constructor argument: an environment variable of
        that name, declared for some process of the repository (``declared``), says where it
        points when every declaration naming a service or infrastructure of the repository names
        the same one.
        ``callee_of`` names the callee of a url (``unknown`` or ``external:...`` otherwise)."""
        for name in names:
            var = name.split("(")[0].rpartition(".")[2]
            if not _ENV_NAME.fullmatch(var):
                continue
            services: dict[str, EnvValue] = {}
            for item in declared(var):
                callee = callee_of(item.value)
                if callee != UNKNOWN and not callee.startswith(EXTERNAL_PREFIX):
                    services.setdefault(callee, item)
            if len(services) == 1:
                ((callee, item),) = services.items()
                return Inferred(
                    callee, f"{var} is {item.value!r} where it is declared ({item.source})"
                )
        return None


#: Vendors whose incoming webhooks all live on one host: a url held in a variable named
#: after them (``SLACK_WEBHOOK_URL``, ``challenge.slack_url``) is posted there.
_WEBHOOK_HOSTS = {"slack": "hooks.slack.com", "discord": "discord.com"}
_HOOK_WORDS = frozenset({"hook", "webhook"})


def by_webhook_vendor(names: Iterable[str], whole_url: bool) -> Inferred | None:
    """``external:hooks.slack.com`` for a url named after Slack's (or Discord's) webhooks:
    the name says ``webhook``, or the variable is the whole url (a vendor's API is called
    at a path of its own, a webhook at the url it gave)."""
    for name in names:
        said = words(_own_name(name))
        for vendor, host in _WEBHOOK_HOSTS.items():
            if vendor in said and (whole_url or said & _HOOK_WORDS):
                return Inferred(
                    f"{EXTERNAL_PREFIX}{host}",
                    f"{name!r} names a {vendor} webhook, and {vendor} webhooks live on {host}",
                )
    return None


#: API vendors and the host their official clients send to when no base url is given
#: (for a public data API with no official client, the host its documentation gives).
_API_HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "mistral": "api.mistral.ai",
    "groq": "api.groq.com",
    "deepseek": "api.deepseek.com",
    "omdb": "www.omdbapi.com",
    "tmdb": "api.themoviedb.org",
    "themoviedb": "api.themoviedb.org",
}
#: Vendors whose endpoints are the customer's own (an Azure OpenAI resource's host).
_OWN_ENDPOINTS = ("azure",)


def by_api_vendor(names: Iterable[str], function: str | None) -> Inferred | None:
    """``external:api.openai.com`` for a base url with no value here that is named for
    OpenAI's API (``OPENAI_BASE_URL``), or that only says it is a base (``api_base``,
    ``base_url``) and is read by a class named for the vendor (``OpenAIProvider``): where
    the vendor's own client sends when no base is configured."""
    owner = (function or "").rpartition(".")[0].rpartition(".")[2]
    if owner.startswith("Test"):
        owner = ""  # a test class names what it tests, not whom it asks
    for name in names:
        if "/" in name:
            continue  # a url's source text (`f"{CATALOG}/omdb/{page}"`): its path names no API
        own = _own_name(name)
        said = re.sub(r"[^a-z]", "", own.lower())
        if words(own):
            # a name of its own: it names the vendor, or it is not the vendor's base
            scopes = [said] if any(v in said for v in _API_HOSTS) else []
        else:
            scopes = [re.sub(r"[^a-z]", "", owner.lower())]
        for scope in scopes:
            if any(o in scope for o in _OWN_ENDPOINTS):
                continue
            for vendor, host in _API_HOSTS.items():
                if vendor in scope:
                    where = repr(name) if scope == said else f"{name!r} of {owner}"
                    return Inferred(
                        f"{EXTERNAL_PREFIX}{host}",
                        f"{where} is {vendor}'s API base, {host} unless configured otherwise",
                    )
    return None


#: Servers that collect spans, as a name of an address says them (``jaeger_url``): one
#: speaking another's protocol (Jaeger's all-in-one takes Zipkin's) is still itself.
_COLLECTORS = ("zipkin", "jaeger", "tempo")


def by_collector(collector: str, names: Iterable[str]) -> Inferred:
    """The collector a span exporter sends to when its address names no service of the
    tree: the one a name of the address says (``jaeger_url`` -> ``jaeger``), else the one
    its protocol talks to (``zipkin`` for a Zipkin exporter)."""
    for name in names:
        said = words(_own_name(name))
        for known in _COLLECTORS:
            if known in said:
                return Inferred(known, f"{name!r} names a {known} span collector")
    return Inferred(
        collector, f"the exporter sends spans to a {collector}, and no service has its address"
    )


#: Images of S3-compatible object stores a deployment may run beside its services.
_OBJECT_STORE_IMAGES = ("minio", "localstack", "seaweedfs", "s3mock")
_S3_HOST = "s3.amazonaws.com"
#: The store's command-line client run once to create buckets (``minio/mc``): no store.
_STORE_CLIENT_IMAGE = re.compile(r"(?:^|/)mc(?::|$)")


def by_presigned_url(
    names: Iterable[str], infra: Mapping[str, str], services: Iterable[str]
) -> Inferred | None:
    """A presigned url (``presigned_url``, ``response["presigned_urls"][0]["url"]``) is
    an S3 object's, signed for one request: the S3-compatible store the deployment runs
    (a MinIO image), else Amazon S3 itself. Several stores leave it unknown."""
    for name in names:
        said = words(name)
        presigned = "presigned" in said
        # `cloud_storage_url`, `bucket_url`, `s3_object_url`: an object's url in a store,
        # the deployed one's when the deployment runs one
        if not presigned and not ({"cloud", "storage"} <= said or said & {"bucket", "s3"}):
            continue
        found = {
            h: image.lower()
            for h, image in infra.items()
            if any(s in image.lower() for s in _OBJECT_STORE_IMAGES)
            and not _STORE_CLIENT_IMAGE.search(image.lower())
        }
        # a name standing for another host (a Kubernetes ExternalName `media` ->
        # `minio.shop.svc.cluster.local`) is that store under another name
        stores = sorted(
            {
                image.split(".")[0] if "/" not in image and image.split(".")[0] in found else h
                for h, image in found.items()
            }
            | {s for s in services if any(s.lower().startswith(i) for i in _OBJECT_STORE_IMAGES)}
        )
        if len(stores) > 1:
            return None
        if stores:
            kind = "a presigned url" if presigned else "an object's url"
            return Inferred(
                stores[0], f"{name!r} is {kind} of {stores[0]}, the object store deployed here"
            )
        if not presigned:
            continue
        return Inferred(
            f"{EXTERNAL_PREFIX}{_S3_HOST}",
            f"{name!r} is a presigned S3 url and no S3-compatible store is deployed here",
        )
    return None


#: ``[product_type]``: an index known only at run time (a quoted key is kept).
_RUN_TIME_INDEX = re.compile(r"\[[^\]\"']*\]")


def _own_name(name: str) -> str:
    """The name itself, not the modules it lives in (``app.kernel_utils.get_odk_url()``
    speaks of odk, not of kernel), nor a run-time index (``SERVICE_URLS[kind]`` is any of
    them; ``SERVICE_URLS["users"]`` is users')."""
    return _RUN_TIME_INDEX.sub("", name.split("(")[0]).rpartition(".")[2]


def host_names(url_text: str) -> list[str]:
    """The names standing for the host in a rendered url: ``{settings.USERS_URL}/users`` ->
    ``["settings.USERS_URL"]``; nothing when the host is written out."""
    host = host_part(url_text)
    return [m.group(1) for m in _PLACEHOLDER.finditer(host) if m.group(1).strip()]


def host_part(url_text: str) -> str:
    """The host (and port) of a rendered url, scheme dropped: it ends at the first ``/``
    outside a ``{...}`` placeholder."""
    rest = url_text.split("://", 1)[1] if "://" in url_text else url_text
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "/" and depth == 0:
            return rest[:i]
    return rest
