"""The vocabulary every output uses: services, endpoints, call sites, diagnostics.

Plain frozen dataclasses holding tuples, with no I/O and no imports from the rest of
decouple, so every layer can depend on this module and nothing here depends on them.
Field names follow the JSON scan schema (``schema_version`` 1) one to one.
"""

from __future__ import annotations

import hashlib
from dataclasses import field
from enum import Enum

from decouple_services.core.records import record

SCHEMA_VERSION = 1


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Category(str, Enum):
    """Where a call site lives, which decides whether it counts as production coupling."""

    PRODUCTION = "production"
    TEST = "test"
    LOADGEN = "loadgen"
    SCRIPT = "script"


class Role(str, Enum):
    #: A real call from one service to another (or an external host).
    CALL = "call"
    #: A call inside a generic helper whose URL comes from the helper's parameters. It stays
    #: out of the graph; each invocation of the helper is a ``CALL`` with ``via_wrapper`` set.
    WRAPPER = "wrapper"
    #: A call site already migrated to a Kafka send (recognised by its provenance marker):
    #: ``url`` is the topic, ``callee`` the consuming service. Asynchronous coupling, so it
    #: counts in no hotspot score; the graph draws it through a topic node.
    EVENT = "event"


class Confidence(str, Enum):
    #: The callee follows from values in the repository (literals, constants, deployment
    #: files, aliases, ports).
    EXACT = "exact"
    #: The value is not in the repository; the callee was inferred from a name (a variable,
    #: a setting, a stub class) or from the one service serving a gRPC stub. The evidence
    #: says which.
    INFERRED = "inferred"


class ResponseUse(str, Enum):
    """What the caller does with a call's response, which decides what a migration may do."""

    #: Nothing reads it: the call can become a fire-and-forget send.
    NONE = "none"
    #: Only its success is checked (``raise_for_status()``, ``if resp.status_code != 202``,
    #: ``if not resp.ok``, a ``try``/``except`` around the call): the call can become a send
    #: that waits for the broker's acknowledgement, which succeeds or raises likewise.
    STATUS = "status"
    #: Something reads the body, the headers, or hands the response on: no send can stand in.
    BODY = "body"


UNKNOWN = "unknown"
EXTERNAL_PREFIX = "external:"


@record
class Diagnostic:
    """Something decouple could not analyse: a file, a config entry or a construct."""

    #: Repo-relative path with ``/`` ("" for problems not tied to one file).
    file: str
    line: int
    severity: Severity
    #: Stable kebab-case code, e.g. ``parse-error``, ``undecodable``, ``compose-invalid``.
    code: str
    message: str

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.file, self.line, self.code, self.message)


@record
class EnvValue:
    """One environment variable value declared for a service, with where it was declared."""

    name: str
    value: str
    #: ``file:line`` of the declaration (compose, k8s manifest, Helm values, .env).
    source: str


@record
class Service:
    name: str
    #: Repo-relative root directory ("." for the repository itself).
    root: str
    #: Host names other services use to reach it (compose names, hostnames, k8s Services...).
    aliases: tuple[str, ...] = ()
    #: Why decouple believes this is a service, e.g. ``docker-compose.yml:12 build context``.
    evidence: tuple[str, ...] = ()
    #: Ports it listens on (compose ``ports:``/``expose:``, k8s containerPort, ``app.run``...),
    #: so ``127.0.0.1:<port>`` can be told apart.
    ports: tuple[int, ...] = ()
    #: Environment variables declared for it in deployment files.
    env: tuple[EnvValue, ...] = ()
    #: Repo-relative files its command runs (``python -m pkg.serve.api``): its own even
    #: where it shares a folder with other processes.
    entries: tuple[str, ...] = ()
    #: Known only by the files it runs (a process of a package installed into its image,
    #: beside other processes of it): its root names the package, but the package's other
    #: modules are no more its own than another process's.
    entries_only: bool = False
    #: Repo-relative Dockerfiles its image is built from (compose ``build.dockerfile``),
    #: so what the image runs (its Python) can be told.
    dockerfiles: tuple[str, ...] = ()

    def env_lookup(self, name: str) -> EnvValue | None:
        for item in self.env:
            if item.name == name:
                return item
        return None


@record
class Endpoint:
    service: str
    #: ``http`` or ``grpc``.
    protocol: str
    #: HTTP method in upper case, ``*`` for any; gRPC endpoints use ``RPC``.
    method: str
    #: Path template with ``{name}`` parameters, or ``/pkg.Service/Method`` for gRPC.
    path: str
    #: Qualified name of the handler, e.g. ``userservice.app.create_user``.
    handler: str
    file: str
    line: int
    #: The server framework that registered it (flask, fastapi, django, aiohttp, starlette,
    #: grpc), which decides how a generated consumer calls the handler.
    framework: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.service, self.path, self.method, self.handler)


@record
class CallSite:
    id: str
    caller: str
    file: str
    line: int
    end_line: int
    #: Qualified name of the enclosing function (``<module>`` at module level).
    function: str
    client: str
    #: HTTP method (upper case), the RPC name for gRPC, or ``None`` when not known.
    method: str | None
    #: The url (or gRPC target) expression as written in the source.
    url: str
    #: The resolved url, with ``{...}`` for parts only known at run time, or ``None``.
    url_template: str | None
    #: A service name, ``external:<host>`` or ``unknown``.
    callee: str
    #: Matched callee endpoint as ``"METHOD /path"``, or ``None``.
    endpoint: str | None
    #: The chain of constants, env vars and config files that led to the url.
    evidence: tuple[str, ...] = ()
    category: Category = Category.PRODUCTION
    role: Role = Role.CALL
    #: Qualified name of the helper this call was propagated through.
    via_wrapper: str | None = None
    #: The response is read in any way (``response_use`` is not ``none``).
    result_used: bool = False
    is_async: bool = False
    in_loop: bool = False
    has_timeout: bool = False
    in_handler: bool = False
    #: The response is read as a stream (``stream=True``, ``httpx.stream``, websockets).
    streaming: bool = False
    #: Inside a database transaction (``with transaction.atomic()``, ``session.begin()``...):
    #: an event sent from there escapes a rollback.
    in_transaction: bool = False
    #: The payload argument as written (``json=order``), or ``None``.
    payload: str | None = None
    #: Why the callee is ``unknown`` and the annotation or config line that would fix it.
    unknown_reason: str | None = None
    fix_hint: str | None = None
    #: How the callee was found: from values (``exact``) or inferred from names (``inferred``).
    confidence: Confidence = Confidence.EXACT
    #: Rule codes (``DCP004``) suppressed at this call by ``# decouple: ignore[DCP004]`` on
    #: the call or the line above: the findings of those rules are reported as suppressed.
    suppressed: tuple[str, ...] = ()
    #: What the caller does with the response: ``none``, ``status`` (a success check only)
    #: or ``body``.
    response_use: ResponseUse = ResponseUse.NONE
    #: The mapping the running code picks the target from (``SERVICES[name]`` with ``name``
    #: known only at run time), when this site is one of the targets it holds: the call
    #: reaches one of them per request, each reported as a site of its own.
    one_of: str | None = None

    def __post_init__(self) -> None:
        # The two say one thing: a site built with ``result_used`` alone (older scans, tests)
        # reads its response in some way nobody classified, which is ``body``.
        if self.result_used and self.response_use is ResponseUse.NONE:
            object.__setattr__(self, "response_use", ResponseUse.BODY)
        elif not self.result_used and self.response_use is not ResponseUse.NONE:
            object.__setattr__(self, "result_used", True)

    @property
    def is_inter_service(self) -> bool:
        return (
            self.role is Role.CALL
            and self.callee != UNKNOWN
            and not self.callee.startswith(EXTERNAL_PREFIX)
        )

    @property
    def is_production_coupling(self) -> bool:
        """A production call from one service to another: what the scores and the CI
        ratchet count (tests, load generators, scripts, helpers and self-calls do not)."""
        return (
            self.is_inter_service
            and self.category is Category.PRODUCTION
            and self.caller != self.callee
        )


@record
class ContractViolation:
    """A synchronous call site that a declared contract (``[tool.decouple.contracts]``)
    forbids."""

    #: The id of the call site that breaks the contract.
    call_site: str
    caller: str
    callee: str
    #: The contract as the configuration states it: ``forbid "orders -> users"``,
    #: ``allow [...]``, ``layers [...]``.
    contract: str
    #: Why this call breaks it, in one sentence.
    reason: str


@record
class ScanResult:
    root: str
    services: tuple[Service, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    call_sites: tuple[CallSite, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Number of Python files looked at, for summaries.
    files_scanned: int = 0
    #: Call sites that break a declared contract, one entry per call site and contract.
    contract_violations: tuple[ContractViolation, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


def normalise_url_for_id(url: str) -> str:
    """Strip what changes without the call's meaning changing: case of scheme/host, trailing /."""
    text = url.strip()
    if "://" in text:
        scheme, _, rest = text.partition("://")
        host, slash, path = rest.partition("/")
        text = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return text.rstrip("/") or "/"


def call_site_id(
    caller: str, file: str, function: str, client: str, method: str | None, url: str, nth: int = 0
) -> str:
    """Stable id: independent of line numbers, so unrelated edits keep it.

    ``nth`` tells apart identical calls in the same function (the second ``requests.post`` to
    the same url in one function gets ``nth=1``).
    """
    key = "\x1f".join(
        [
            caller,
            file,
            function,
            client,
            (method or "").upper(),
            normalise_url_for_id(url),
            str(nth),
        ]
    )
    return "cs-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
