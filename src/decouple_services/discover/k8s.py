"""Kubernetes manifests and Helm values: workloads, the Services in front of them, their env.

Everything here is pure: text in, small records out. Matching the records to services
(a k8s Service is a host alias of the Deployment its selector picks) happens in
:mod:`decouple_services.discover.services`, once every manifest of the repository is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, SequenceNode

from decouple_services.core.model import Diagnostic, EnvValue
from decouple_services.discover import _yaml
from decouple_services.discover._ports import ports_in_command

#: Kinds whose pod template runs a service's code.
WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout", "DeploymentConfig"}
)

# ``$(VAR)`` in an env value refers to a variable declared earlier in the same container.
_DEPENDENT_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass(frozen=True, slots=True)
class ConfigMapRef:
    """Env taken from a ConfigMap: one key (``valueFrom``) or all keys (``envFrom``)."""

    config_map: str
    #: The ConfigMap key, or ``None`` for ``envFrom`` (every key, with ``prefix``).
    key: str | None = None
    #: The env var name for a single key.
    env_name: str | None = None
    prefix: str = ""
    #: ``file:line`` of the reference, for messages.
    source: str = ""


@dataclass(frozen=True, slots=True)
class Workload:
    """A Deployment, StatefulSet or DaemonSet (or another pod-template kind)."""

    kind: str
    name: str
    namespace: str | None
    #: Pod template labels (what a Service selector matches), then the workload's own.
    labels: tuple[tuple[str, str], ...]
    images: tuple[str, ...]
    ports: tuple[int, ...]
    env: tuple[EnvValue, ...]
    config_refs: tuple[ConfigMapRef, ...]
    file: str
    line: int
    #: The name as a Helm template writes it, its template parts as ``*``.
    pattern: str | None = None

    def label(self, key: str) -> str | None:
        """The value of one label, or ``None``."""
        for name, value in self.labels:
            if name == key:
                return value
        return None

    @property
    def evidence(self) -> str:
        shown = f"{self.name} (Helm {self.pattern})" if self.pattern else self.name
        return f"{self.file}:{self.line} {self.kind} {shown}"

    def candidate_names(self) -> tuple[str, ...]:
        """Names a service of this workload may go by: its name, then its ``app`` labels."""
        names = [self.name]
        for key in ("app", "app.kubernetes.io/name", "app.kubernetes.io/component", "component"):
            value = self.label(key)
            if value:
                names.append(value)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class KubeService:
    """A Kubernetes Service: a stable host name in front of the pods its selector picks."""

    name: str
    namespace: str | None
    selector: tuple[tuple[str, str], ...]
    ports: tuple[int, ...]
    #: ``spec.externalName`` of an ExternalName Service.
    external_name: str | None
    file: str
    line: int
    #: The name as a Helm template writes it, its template parts as ``*``.
    pattern: str | None = None

    @property
    def evidence(self) -> str:
        shown = f"{self.name} (Helm {self.pattern})" if self.pattern else self.name
        return f"{self.file}:{self.line} Service {shown}"

    def host_aliases(self) -> tuple[str, ...]:
        """The names pods resolve this Service by (short name, and DNS forms when namespaced;
        a Helm template's name pattern)."""
        names = [self.name, *([self.pattern] if self.pattern else [])]
        if self.namespace:
            base = f"{self.name}.{self.namespace}"
            names += [base, f"{base}.svc", f"{base}.svc.cluster.local"]
        return tuple(names)

    def selects(self, workload: Workload) -> bool:
        """Whether this Service's selector picks the workload's pods."""
        if not self.selector:
            return False
        if self.namespace and workload.namespace and self.namespace != workload.namespace:
            return False
        labels = dict(workload.labels)
        return all(labels.get(key) == value for key, value in self.selector)


@dataclass(frozen=True, slots=True)
class ConfigMap:
    name: str
    namespace: str | None
    data: tuple[EnvValue, ...]


@dataclass(frozen=True, slots=True)
class Manifests:
    """What one manifest file (possibly several YAML documents) declares."""

    workloads: tuple[Workload, ...] = ()
    services: tuple[KubeService, ...] = ()
    config_maps: tuple[ConfigMap, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


def parse_manifests(text: str, file: str) -> Manifests:
    """Read the Kubernetes objects of a (multi-document) manifest file.

    A syntax error yields a ``k8s-invalid`` diagnostic with the line of the error; the
    documents before it are still read.
    """
    documents, error = _yaml.compose_documents(text, file, "k8s-invalid")
    reader = _ManifestReader(file)
    if error is not None:
        reader.diagnostics.append(error)
    for document in documents:
        reader.read_object(document, depth=0)
    return Manifests(
        workloads=tuple(reader.workloads),
        services=tuple(reader.services),
        config_maps=tuple(reader.config_maps),
        diagnostics=tuple(reader.diagnostics),
    )


class _ManifestReader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.workloads: list[Workload] = []
        self.services: list[KubeService] = []
        self.config_maps: list[ConfigMap] = []
        self.diagnostics: list[Diagnostic] = []

    def read_object(self, node: Node, depth: int) -> None:
        kind = _yaml.scalar(_yaml.get(node, "kind"))
        if kind is None or depth > 2:
            return
        if kind == "List" or kind.endswith("List"):
            for item in _yaml.sequence(_yaml.get(node, "items")):
                self.read_object(item, depth + 1)
            return
        metadata = _yaml.get(node, "metadata")
        name = _yaml.scalar(_yaml.get(metadata, "name"))
        namespace = _yaml.scalar(_yaml.get(metadata, "namespace"))
        if name is None:
            return
        spec = _yaml.get(node, "spec")
        if kind in WORKLOAD_KINDS:
            self._workload(kind, name, namespace, node, metadata, spec)
        elif kind == "Service":
            self._service(name, namespace, node, spec)
        elif kind == "ConfigMap":
            data = [
                EnvValue(key, value, f"{self.file}:{_yaml.line_of(value_node)}")
                for key, _, value_node in _yaml.items(_yaml.get(node, "data"))
                if (value := _yaml.scalar(value_node)) is not None
            ]
            self.config_maps.append(ConfigMap(name, namespace, tuple(data)))

    def _workload(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        node: Node,
        metadata: Node | None,
        spec: Node | None,
    ) -> None:
        template = _yaml.get(spec, "template")
        labels = _labels(_yaml.get_path(template, "metadata", "labels")) + _labels(
            _yaml.get(metadata, "labels")
        )
        images: list[str] = []
        ports: list[int] = []
        env: list[EnvValue] = []
        refs: list[ConfigMapRef] = []
        for container in _yaml.sequence(_yaml.get_path(template, "spec", "containers")):
            image = _yaml.scalar(_yaml.get(container, "image"))
            if image:
                images.append(image)
            for port_node in _yaml.sequence(_yaml.get(container, "ports")):
                port = _int(_yaml.scalar(_yaml.get(port_node, "containerPort")))
                if port is not None:
                    ports.append(port)
            command = " ".join(
                text
                for key in ("command", "args")
                for item in _yaml.sequence(_yaml.get(container, key))
                if (text := _yaml.scalar(item))
            )
            ports.extend(ports_in_command(command))
            env.extend(self._container_env(container, refs))
        self.workloads.append(
            Workload(
                kind=kind,
                name=name,
                namespace=namespace,
                labels=tuple(dict.fromkeys(labels)),
                images=tuple(dict.fromkeys(images)),
                ports=tuple(dict.fromkeys(ports)),
                env=tuple(env),
                config_refs=tuple(refs),
                file=self.file,
                line=_yaml.line_of(node),
            )
        )

    def _container_env(self, container: Node, refs: list[ConfigMapRef]) -> list[EnvValue]:
        values: list[EnvValue] = []
        known: dict[str, str] = {}
        for item in _yaml.sequence(_yaml.get(container, "env")):
            name = _yaml.scalar(_yaml.get(item, "name"))
            if not name:
                continue
            value_node = _yaml.get(item, "value")
            value = _yaml.scalar(value_node)
            if value is not None and value_node is not None:
                value = _DEPENDENT_VAR.sub(lambda m: known.get(m.group(1), m.group(0)), value)
                known[name] = value
                values.append(EnvValue(name, value, f"{self.file}:{_yaml.line_of(value_node)}"))
                continue
            key_ref = _yaml.get_path(item, "valueFrom", "configMapKeyRef")
            config_map = _yaml.scalar(_yaml.get(key_ref, "name"))
            key = _yaml.scalar(_yaml.get(key_ref, "key"))
            if config_map and key:
                refs.append(
                    ConfigMapRef(config_map, key, name, source=f"{self.file}:{_yaml.line_of(item)}")
                )
        for item in _yaml.sequence(_yaml.get(container, "envFrom")):
            config_map = _yaml.scalar(_yaml.get_path(item, "configMapRef", "name"))
            if config_map:
                prefix = _yaml.scalar(_yaml.get(item, "prefix")) or ""
                refs.append(
                    ConfigMapRef(
                        config_map, prefix=prefix, source=f"{self.file}:{_yaml.line_of(item)}"
                    )
                )
        return values

    def _service(self, name: str, namespace: str | None, node: Node, spec: Node | None) -> None:
        ports: list[int] = []
        for port_node in _yaml.sequence(_yaml.get(spec, "ports")):
            for key in ("port", "targetPort"):
                port = _int(_yaml.scalar(_yaml.get(port_node, key)))
                if port is not None:
                    ports.append(port)
        self.services.append(
            KubeService(
                name=name,
                namespace=namespace,
                selector=tuple(_labels(_yaml.get(spec, "selector"))),
                ports=tuple(dict.fromkeys(ports)),
                external_name=_yaml.scalar(_yaml.get(spec, "externalName")),
                file=self.file,
                line=_yaml.line_of(node),
            )
        )


def resolve_config_refs(
    workload: Workload, config_maps: Sequence[ConfigMap]
) -> tuple[EnvValue, ...]:
    """Env values a workload takes from ConfigMaps, sourced at the ConfigMap's data lines.

    A ConfigMap in the workload's namespace wins; one declared without a namespace (applied
    with ``kubectl -n``) is the next best match.
    """
    values: list[EnvValue] = []
    for ref in workload.config_refs:
        candidates = [c for c in config_maps if c.name == ref.config_map]
        ranked = sorted(
            candidates,
            key=lambda c: (c.namespace != workload.namespace, c.namespace is not None),
        )
        if not ranked or (
            workload.namespace is not None and ranked[0].namespace not in (None, workload.namespace)
        ):
            continue
        for item in ranked[0].data:
            if ref.key is None:
                values.append(EnvValue(ref.prefix + item.name, item.value, item.source))
            elif item.name == ref.key and ref.env_name:
                values.append(EnvValue(ref.env_name, item.value, item.source))
    return tuple(values)


def _labels(node: Node | None) -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, _, value_node in _yaml.items(node)
        if (value := _yaml.scalar(value_node)) is not None
    ]


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value < 65536 else None


# -- Helm ------------------------------------------------------------------------------------

_ENV_KEYS = frozenset({"env", "extraEnv", "envVars", "environment", "extraEnvVars", "envs"})
# Keys that structure a values file without naming a workload: an env map under
# ``users.container.env`` belongs to ``users``, not to ``container``.
_STRUCTURAL_KEYS = frozenset(
    {
        "container",
        "containers",
        "deployment",
        "pod",
        "podTemplate",
        "app",
        "config",
        "settings",
        "spec",
        "template",
        "main",
    }
)
_MAX_HELM_DEPTH = 5
_HELM_BUDGET = 20_000


@dataclass(frozen=True, slots=True)
class HelmWorkload:
    """Env declared in Helm values for one workload of a chart."""

    #: The values key the env sits under (``users`` in ``users.env``), or the chart's name
    #: for top-level ``env``.
    name: str
    env: tuple[EnvValue, ...]
    image: str | None
    file: str
    line: int
    #: ``port``/``containerPort``/``targetPort`` next to the env, or under ``service:``.
    ports: tuple[int, ...] = ()

    @property
    def evidence(self) -> str:
        return f"{self.file}:{self.line} Helm values {self.name}"


@dataclass(frozen=True, slots=True)
class HelmValues:
    chart: str
    workloads: tuple[HelmWorkload, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


def parse_helm_values(text: str, file: str, chart: str) -> HelmValues:
    """Find env maps in a chart's ``values.yaml``.

    Recognises ``env:`` (and ``extraEnv``, ``envVars``...) as a mapping of names to values
    or as a list of ``{name, value}``, at the top level (the chart's own workload) or under
    per-workload keys (an umbrella chart's ``users: {env: ...}``).
    """
    documents, error = _yaml.compose_documents(text, file, "helm-values-invalid")
    diagnostics = [error] if error is not None else []
    found: list[HelmWorkload] = []
    if documents:
        _helm_walk(documents[0], [], chart, file, found, depth=0, budget=[_HELM_BUDGET])
    return HelmValues(chart=chart, workloads=tuple(found), diagnostics=tuple(diagnostics))


def _helm_walk(
    node: Node,
    path: list[str],
    chart: str,
    file: str,
    found: list[HelmWorkload],
    depth: int,
    budget: list[int],
) -> None:
    # Anchors let one mapping be reached along many paths (and legitimately: two workloads
    # sharing ``*common`` env), so work is bounded by a visit budget rather than by
    # visiting each node once.
    if not isinstance(node, MappingNode) or depth > _MAX_HELM_DEPTH or budget[0] <= 0:
        return
    budget[0] -= 1
    if path and path[0] == "global":
        return
    env: list[EnvValue] = []
    env_line = 0
    children: list[tuple[str, Node]] = []
    for key, key_node, value in _yaml.items(node):
        if key in _ENV_KEYS and isinstance(value, MappingNode | SequenceNode):
            env.extend(_helm_env(value, file))
            env_line = env_line or _yaml.line_of(key_node)
        elif isinstance(value, MappingNode):
            children.append((key, value))
    if env:
        owner = next((p for p in reversed(path) if p not in _STRUCTURAL_KEYS), chart)
        found.append(
            HelmWorkload(owner, tuple(env), _helm_image(node), file, env_line, _helm_ports(node))
        )
    for key, child in children:
        _helm_walk(child, [*path, key], chart, file, found, depth + 1, budget)


def _helm_env(node: Node, file: str) -> list[EnvValue]:
    values: list[EnvValue] = []
    if isinstance(node, MappingNode):
        for key, _, value_node in _yaml.items(node):
            value = _yaml.scalar(value_node)
            if value is not None:
                values.append(EnvValue(key, value, f"{file}:{_yaml.line_of(value_node)}"))
            else:
                # ``KEY: {value: ...}`` is a common variant of the map form.
                inner = _yaml.get(value_node, "value")
                inner_value = _yaml.scalar(inner)
                if inner is not None and inner_value is not None:
                    values.append(EnvValue(key, inner_value, f"{file}:{_yaml.line_of(inner)}"))
        return values
    for item in _yaml.sequence(node):
        if isinstance(item, MappingNode):
            name = _yaml.scalar(_yaml.get(item, "name"))
            item_value = _yaml.get(item, "value")
            value = _yaml.scalar(item_value)
            if name and value is not None and item_value is not None:
                values.append(EnvValue(name, value, f"{file}:{_yaml.line_of(item_value)}"))
        else:
            text = _yaml.scalar(item)
            if text and "=" in text:
                name, _, value = text.partition("=")
                values.append(EnvValue(name.strip(), value, f"{file}:{_yaml.line_of(item)}"))
    return values


_HELM_PORT_KEYS = ("port", "containerPort", "targetPort", "servicePort", "httpPort", "grpcPort")


def _helm_ports(node: Node) -> tuple[int, ...]:
    ports: list[int] = []
    for holder in (node, _yaml.get(node, "service")):
        for key in _HELM_PORT_KEYS:
            port = _int(_yaml.scalar(_yaml.get(holder, key)))
            if port is not None and port not in ports:
                ports.append(port)
    return tuple(ports)


def _helm_image(node: Node) -> str | None:
    image = _yaml.get(node, "image")
    text = _yaml.scalar(image)
    if text:
        return text
    repository = _yaml.scalar(_yaml.get(image, "repository"))
    return repository or None
