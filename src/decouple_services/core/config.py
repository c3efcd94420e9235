"""Configuration: ``[tool.decouple]`` in pyproject.toml, or a ``decouple.toml`` file.

```toml
[tool.decouple]
exclude = ["legacy/**", "*_generated.py"]

[tool.decouple.services.users]          # declared services come first
root = "services/users"
aliases = ["users", "users.internal"]
ports = [8001]

[tool.decouple.clients."acme.rpc.call_service"]   # a project's own client
service_arg = "service"                  # argument naming the callee service (name or index)
# url_arg = "url"                        # ...or the argument holding the URL
# path_arg = 1                           # optional: argument holding the path
method = "POST"                          # optional: fixed HTTP method
# method_arg = "method"                  # ...or the argument holding it

[tool.decouple.migrate]                  # defaults for `decouple migrate` (options override)
topic-template = "shop.{callee}.{endpoint}"
client = "confluent-kafka"               # or "kafka-python" (the default)

[tool.decouple.migrate.servicer-factories]   # gRPC servicers whose __init__ takes arguments
InviteService = "app.wiring:make_invite_servicer"   # service or class -> module:function

[tool.decouple.migrate.servicer-interceptors]  # the interceptors of a gRPC servicer's server
InviteService = "app.wiring:invite_interceptors"    # service or class -> module:function
```

Gates and rule selection for ``decouple scan`` (its options override them):

```toml
[tool.decouple]
baseline = "scan.json"                   # exit 1 on synchronous coupling the baseline lacks
fail-on-score = 20                       # exit 1 when a hotspot score is above 20
exit-zero = false                        # true: report, but always exit 0 on findings
select = ["DCP001", "DCP007"]            # report only these rules
ignore = ["DCP002"]                      # never report these

[tool.decouple.contracts]                # declared architecture; breaking it exits 1
forbid = ["orders -> users"]             # these synchronous edges must not exist
allow = ["frontend -> orders", "orders -> payments"]   # among the services named here,
                                         # only these edges may exist
layers = [["frontend"], ["orders", "payments"], ["users"]]   # call only the layers below
```

In ``decouple.toml`` the same tables sit at the top level (``[services.users]``).
All problems are collected and reported together in one :class:`ConfigError`.
"""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any

from decouple_services.core.errors import ConfigError
from decouple_services.core.fs import read_regular
from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.records import record

ArgRef = int | str


@record
class ServiceConfig:
    name: str
    root: str | None = None
    aliases: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


@record
class ClientConfig:
    """A project's own client callable: a function, or a class whose methods make calls."""

    qualname: str
    service_arg: ArgRef | None = None
    url_arg: ArgRef | None = None
    path_arg: ArgRef | None = None
    method: str | None = None
    method_arg: ArgRef | None = None


@record
class Edge:
    """``caller -> callee`` in a contract; ``*`` on either side stands for any service."""

    caller: str
    callee: str

    def __str__(self) -> str:
        return f"{self.caller} -> {self.callee}"


@record
class Contracts:
    """``[tool.decouple.contracts]``: which synchronous edges between services may exist."""

    #: Edges that must not exist.
    forbid: tuple[Edge, ...] = ()
    #: Among the services these edges name, only these edges may exist.
    allow: tuple[Edge, ...] = ()
    #: Layers from top to bottom: a service may call only services of the layers below it.
    layers: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.forbid or self.allow or self.layers)

    def services(self) -> list[tuple[str, str]]:
        """Every service a contract names, with where it is named (``forbid[0]``)."""
        named: list[tuple[str, str]] = []
        for key, edges in (("forbid", self.forbid), ("allow", self.allow)):
            for index, edge in enumerate(edges):
                named.extend(
                    (f"{key}[{index}]", name) for name in (edge.caller, edge.callee) if name != "*"
                )
        for index, layer in enumerate(self.layers):
            named.extend((f"layers[{index}]", name) for name in layer)
        return named


@record
class Gates:
    """The CI gates of ``decouple scan``, as ``[tool.decouple]`` sets them."""

    #: A previous ``scan --format json``, relative to the configuration file's folder.
    baseline: str | None = None
    fail_on_score: float | None = None
    exit_zero: bool = False
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@record
class Config:
    exclude: tuple[str, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    clients: tuple[ClientConfig, ...] = ()
    #: Where the configuration came from (``pyproject.toml``), for messages.
    source: str | None = None
    #: Glob patterns of files that are tests / load generators / scripts, on top of defaults.
    test_globs: tuple[str, ...] = ()
    loadgen_globs: tuple[str, ...] = ()
    script_globs: tuple[str, ...] = ()
    #: ``[tool.decouple.migrate]``: the topic template and the Kafka client for sync sites.
    migrate_topic_template: str | None = None
    migrate_client: str | None = None
    #: ``[tool.decouple.migrate.servicer-factories]``: gRPC service (or servicer class) ->
    #: ``module:function`` that builds its servicer; ``--servicer-factory`` adds to them.
    migrate_servicer_factories: tuple[tuple[str, str], ...] = ()
    #: ``[tool.decouple.migrate.servicer-interceptors]``: gRPC service (or servicer class)
    #: -> ``module:function`` giving its server's interceptors; ``--servicer-interceptors``
    #: adds to them.
    migrate_servicer_interceptors: tuple[tuple[str, str], ...] = ()
    gates: Gates = field(default_factory=Gates)
    contracts: Contracts = field(default_factory=Contracts)


def _arg(value: Any, where: str, problems: list[str]) -> ArgRef | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.append(f"{where}: expected an argument name or position, got {value!r}")
        return None
    return value


def _method(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isalpha():
        problems.append(f'{where}: expected an HTTP method such as "POST", got {value!r}')
        return None
    return value.upper()


def _str_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected a list of strings")
        return ()
    return tuple(value)


def parse_config(table: dict[str, Any], source: str) -> Config:
    """Build a :class:`Config` from the ``[tool.decouple]`` table, reporting every problem."""
    problems: list[str] = []
    known = {
        "exclude",
        "services",
        "clients",
        "tests",
        "loadgen",
        "scripts",
        "migrate",
        *_GATE_KEYS,
        "contracts",
    }
    for key in sorted(set(table) - known):
        problems.append(
            f"{source}: unknown key 'tool.decouple.{key}' (known: {', '.join(sorted(known))})"
        )

    services: list[ServiceConfig] = []
    raw_services = table.get("services", {})
    if not isinstance(raw_services, dict):
        problems.append(f"{source}: 'services' must be a table of service tables")
        raw_services = {}
    for name, spec in sorted(raw_services.items()):
        where = f"{source}: services.{name}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: expected a table")
            continue
        root = spec.get("root")
        if root is not None and not isinstance(root, str):
            problems.append(f"{where}.root: expected a string")
            root = None
        ports_raw = spec.get("ports", [])
        ports: tuple[int, ...] = ()
        if not isinstance(ports_raw, list) or not all(isinstance(p, int) for p in ports_raw):
            problems.append(f"{where}.ports: expected a list of integers")
        else:
            ports = tuple(ports_raw)
        services.append(
            ServiceConfig(
                name=name,
                root=root,
                aliases=_str_list(spec.get("aliases"), f"{where}.aliases", problems),
                ports=ports,
            )
        )

    clients: list[ClientConfig] = []
    raw_clients = table.get("clients", {})
    if not isinstance(raw_clients, dict):
        problems.append(f"{source}: 'clients' must be a table")
        raw_clients = {}
    for qualname, spec in sorted(raw_clients.items()):
        where = f"{source}: clients.{qualname}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: expected a table")
            continue
        client = ClientConfig(
            qualname=qualname,
            service_arg=_arg(spec.get("service_arg"), f"{where}.service_arg", problems),
            url_arg=_arg(spec.get("url_arg"), f"{where}.url_arg", problems),
            path_arg=_arg(spec.get("path_arg"), f"{where}.path_arg", problems),
            method=_method(spec.get("method"), f"{where}.method", problems),
            method_arg=_arg(spec.get("method_arg"), f"{where}.method_arg", problems),
        )
        if client.service_arg is None and client.url_arg is None:
            problems.append(f"{where}: set 'service_arg' or 'url_arg' so decouple knows the callee")
        clients.append(client)

    topic_template, sync_client, factories, interceptors = _migrate(
        table.get("migrate", {}), f"{source}: migrate", problems
    )
    exclude = _str_list(table.get("exclude"), f"{source}: exclude", problems)
    test_globs = _str_list(table.get("tests"), f"{source}: tests", problems)
    loadgen_globs = _str_list(table.get("loadgen"), f"{source}: loadgen", problems)
    script_globs = _str_list(table.get("scripts"), f"{source}: scripts", problems)
    gates = _gates(table, source, problems)
    contracts = _contracts(table.get("contracts", {}), f"{source}: contracts", problems)
    if problems:
        raise ConfigError(problems)
    return Config(
        exclude=exclude,
        services=tuple(services),
        clients=tuple(clients),
        source=source,
        test_globs=test_globs,
        loadgen_globs=loadgen_globs,
        script_globs=script_globs,
        migrate_topic_template=topic_template,
        migrate_client=sync_client,
        migrate_servicer_factories=factories,
        migrate_servicer_interceptors=interceptors,
        gates=gates,
        contracts=contracts,
    )


_GATE_KEYS = ("baseline", "fail-on-score", "exit-zero", "select", "ignore")
#: A rule code as ``select``/``ignore`` and ``# decouple: ignore[...]`` name it.
RULE_CODE = re.compile(r"DCP\d{3}")


def rule_codes(values: tuple[str, ...], where: str, problems: list[str]) -> tuple[str, ...]:
    """Rule codes, upper-cased; anything that is not shaped like ``DCP001`` is a problem."""
    codes = []
    for value in values:
        code = value.strip().upper()
        if RULE_CODE.fullmatch(code):
            codes.append(code)
        else:
            problems.append(f"{where}: {value!r} is not a rule code such as DCP001")
    return tuple(codes)


def _gates(table: dict[str, Any], source: str, problems: list[str]) -> Gates:
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline):
        problems.append(f"{source}: baseline: expected the path of a `scan --format json` file")
        baseline = None
    score = table.get("fail-on-score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        problems.append(f"{source}: fail-on-score: expected a number, got {score!r}")
        score = None
    exit_zero = table.get("exit-zero", False)
    if not isinstance(exit_zero, bool):
        problems.append(f"{source}: exit-zero: expected true or false, got {exit_zero!r}")
        exit_zero = False
    select = _str_list(table.get("select"), f"{source}: select", problems)
    ignore = _str_list(table.get("ignore"), f"{source}: ignore", problems)
    return Gates(
        baseline=baseline,
        fail_on_score=float(score) if score is not None else None,
        exit_zero=exit_zero,
        select=rule_codes(select, f"{source}: select", problems),
        ignore=rule_codes(ignore, f"{source}: ignore", problems),
    )


def _edges(value: Any, where: str, problems: list[str]) -> tuple[Edge, ...]:
    edges = []
    for index, text in enumerate(_str_list(value, where, problems)):
        caller, arrow, callee = text.partition("->")
        caller, callee = caller.strip(), callee.strip()
        if not arrow or not caller or not callee or "->" in callee:
            problems.append(f'{where}[{index}]: expected "caller -> callee", got {text!r}')
            continue
        edges.append(Edge(caller, callee))
    return tuple(edges)


def _contracts(value: Any, where: str, problems: list[str]) -> Contracts:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a table")
        return Contracts()
    for key in sorted(set(value) - {"forbid", "allow", "layers"}):
        problems.append(f"{where}: unknown key {key!r} (known: allow, forbid, layers)")
    layers: list[tuple[str, ...]] = []
    raw_layers = value.get("layers", [])
    if not isinstance(raw_layers, list):
        problems.append(f"{where}.layers: expected a list of layers, top first")
        raw_layers = []
    seen: dict[str, int] = {}
    for index, layer in enumerate(raw_layers):
        # A layer of one service may be written as its bare name.
        names = [layer] if isinstance(layer, str) else layer
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            problems.append(f"{where}.layers[{index}]: expected a list of service names")
            continue
        for name in names:
            if name in seen:
                problems.append(
                    f"{where}.layers[{index}]: {name!r} is already in layers[{seen[name]}]"
                )
            seen.setdefault(name, index)
        layers.append(tuple(names))
    return Contracts(
        forbid=_edges(value.get("forbid"), f"{where}.forbid", problems),
        allow=_edges(value.get("allow"), f"{where}.allow", problems),
        layers=tuple(layers),
    )


#: The Kafka clients ``decouple migrate`` generates synchronous producers for.
MIGRATE_CLIENTS = ("kafka-python", "confluent-kafka")


#: What a servicer factory is named by: ``package.module:function`` (a dotted attribute
#: allowed: ``wiring:Servers.invite``), as the consumer's runtime loads it.
FACTORY_TARGET = lazy_pattern(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _migrate(
    value: Any, where: str, problems: list[str]
) -> tuple[str | None, str | None, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a table")
        return None, None, (), ()
    known = ("client", "servicer-factories", "servicer-interceptors", "topic-template")
    for key in sorted(set(value) - set(known)):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
    template = value.get("topic-template")
    if template is not None and not isinstance(template, str):
        problems.append(f"{where}.topic-template: expected a string")
        template = None
    client = value.get("client")
    if client is not None and client not in MIGRATE_CLIENTS:
        problems.append(f"{where}.client: expected one of {', '.join(MIGRATE_CLIENTS)}")
        client = None
    factories = _targets(value, "servicer-factories", where, problems)
    interceptors = _targets(value, "servicer-interceptors", where, problems)
    return template, client, factories, interceptors


def _targets(
    value: dict[str, Any], key: str, where: str, problems: list[str]
) -> tuple[tuple[str, str], ...]:
    """A table of gRPC service (or servicer class) -> ``module:function``."""
    raw = value.get(key, {})
    out: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        problems.append(f"{where}.{key}: expected a table of name = module:function")
        raw = {}
    for name, target in sorted(raw.items()):
        if not isinstance(target, str) or not FACTORY_TARGET().fullmatch(target):
            problems.append(f"{where}.{key}.{name}: expected 'module:function', not {target!r}")
            continue
        out.append((name, target))
    return tuple(out)


def load_config(root: Path, explicit: Path | None = None) -> Config:
    """Read the configuration for the repository at ``root``.

    An explicit file must exist and parse; a pyproject.toml without ``[tool.decouple]`` is
    simply no configuration.
    """
    if explicit is not None:
        if explicit.is_dir():
            raise ConfigError([f"{explicit}: is a directory, not a config file"])
        if not explicit.exists():
            raise ConfigError([f"{explicit}: config file not found"])
        return _load_file(explicit, explicit.name)
    for candidate in (root / "decouple.toml", root / "pyproject.toml"):
        if candidate.is_file():
            try:
                config = _load_file(candidate, candidate.name)
            except ConfigError as exc:
                raise ConfigError(exc.problems, candidate.name) from None
            if config.source is not None:
                return config
    return Config()


def _load_file(path: Path, label: str) -> Config:
    # imported here: a tree without a configuration file never needs the TOML parser
    import tomllib

    try:
        data = tomllib.loads(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}"]
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: invalid TOML: {exc}"]) from exc
    except RecursionError:
        raise ConfigError([f"{label}: invalid TOML: nested too deeply"]) from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError([f"{label}: [tool] must be a table"])
        table = tool.get("decouple")
        if table is None:
            return Config()
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError([f"{label}: [tool.decouple] must be a table"])
    return parse_config(table, label)
