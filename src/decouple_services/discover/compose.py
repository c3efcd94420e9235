"""docker-compose files: which services are built from this repository, and how to reach them.

A compose service with a ``build:`` is code in this repository: it becomes a
:class:`~decouple_services.core.model.Service` rooted at its build context. A service that only runs an
image (postgres, kafka, redis) is infrastructure: its names are recorded so a call to it is
recognised rather than reported as an unknown host.

Parsing is pure: the caller supplies the file text, the project's ``.env`` values for
``${VAR}`` interpolation, and a function reading the ``env_file:`` files it names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from decouple_services.core.fs import ReadRefused
from decouple_services.core.model import Diagnostic, EnvValue, Service, Severity
from decouple_services.discover import _yaml
from decouple_services.discover._ports import parse_port_spec, ports_in_command
from decouple_services.discover.dotenv import DotenvFile, interpolate, parse_dotenv

#: Reads a repo-relative file; ``None`` when it does not exist or cannot be read.
ReadText = Callable[[str], "str | None"]

_MAX_EXTENDS = 8

#: Compose profiles that start services only to test the others.
_TEST_PROFILES = frozenset({"test", "tests", "testing", "unit", "unittest", "ci", "e2e"})


#: Endings of the template a setup step copies to a missing env file.
_TEMPLATE_SUFFIXES = (".dist", ".example", ".sample", ".template")
#: What a template puts where the real value goes: ``x``, ``xxx``, ``changeme``,
#: ``<your-token>``, ``your_webhook_url``, ``...``, ``TODO``, a url on a host telling the
#: reader to put theirs (``https://configure-your-url.com``, ``http://api.your-domain``).
_PLACEHOLDER = re.compile(
    r"^\s*(?:|x+|\.{3,}|\*+|-+|changeme|change[-_ ]me|todo|fixme|replace[-_ ]?me|<[^>]*>"
    r"|your[-_ ]\S*"
    r"|(?:[a-z][\w+.-]*://)?(?:[\w-]+[-_.])*your[-_.][\w.-]*(?::\d+)?(?:/\S*)?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ComposeFile:
    """What one compose file says about services."""

    file: str
    #: Services built from this repository (``build:``), in file order.
    services: tuple[Service, ...] = ()
    #: Services that only run an image, with ``root=""``. Another compose file may build a
    #: service of the same name (``docker-compose.override.yml`` adding env to ``web``);
    #: otherwise they are infrastructure.
    image_services: tuple[Service, ...] = ()
    #: Host name -> image for every name and alias of an image-only service.
    infra_hosts: dict[str, str] = field(default_factory=dict, hash=False)
    #: Service name -> repo-relative Dockerfile its build uses.
    dockerfiles: dict[str, str] = field(default_factory=dict, hash=False)
    #: Service name -> its ``entrypoint`` and ``command``, as one command line.
    commands: dict[str, str] = field(default_factory=dict, hash=False)
    #: Repo-relative ``env_file:`` paths this file reads.
    env_files: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Image-only service name -> (repo-relative compose file, service) it ``extends`` in
    #: another file: where its build is.
    extends: dict[str, tuple[str, str]] = field(default_factory=dict, hash=False)
    #: Image-only service name -> repo-relative nginx configuration mounted into it.
    nginx_configs: dict[str, str] = field(default_factory=dict, hash=False)
    #: Image-only service name -> repo-relative HAProxy configuration mounted into it.
    haproxy_configs: dict[str, str] = field(default_factory=dict, hash=False)
    #: Image-only service name -> repo-relative Caddyfile mounted into it.
    caddy_configs: dict[str, str] = field(default_factory=dict, hash=False)
    #: Image-only service name -> the ports it publishes on the host (``"8081:80"``: 8081),
    #: where a call to ``localhost:8081`` reaches it.
    published_ports: dict[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    #: Services only test profiles start (``profiles: [test]``).
    test_profile: tuple[str, ...] = ()


def parse_compose(
    text: str,
    file: str,
    *,
    environ: Mapping[str, str] | None = None,
    read_text: ReadText | None = None,
    is_code_dir: Callable[[str], bool] | None = None,
) -> ComposeFile:
    """Read one compose file.

    Args:
        text: the file's contents.
        file: its repo-relative path; build contexts and ``env_file:`` paths are relative
            to its directory.
        environ: values for ``${VAR}`` interpolation (the project's ``.env``).
        read_text: reads ``env_file:`` files (None: missing; raising ``ReadRefused``: there
            but not read, the reader reports why); without it they are reported missing.
        is_code_dir: tells whether a directory holds source code. When a build context is
            the repository root and the Dockerfile sits in a subdirectory, that
            subdirectory is the service's root if it holds code (``services/x/Dockerfile``),
            but not when it is a directory of Dockerfiles only (``docker/web.Dockerfile``).
    """
    reader = _Reader(file, environ or {}, read_text or (lambda _path: None), is_code_dir)
    documents, error = _yaml.compose_documents(text, file, "compose-invalid")
    if error is not None:
        reader.diagnostics.append(error)
    if documents:
        reader.read(documents[0])
    return ComposeFile(
        file=file,
        services=tuple(reader.services),
        image_services=tuple(reader.image_services),
        infra_hosts=reader.infra_hosts,
        dockerfiles=reader.dockerfiles,
        commands=reader.commands,
        env_files=tuple(dict.fromkeys(reader.env_files)),
        diagnostics=tuple(reader.diagnostics),
        extends=reader.extends,
        nginx_configs=reader.nginx_configs,
        haproxy_configs=reader.haproxy_configs,
        caddy_configs=reader.caddy_configs,
        published_ports=reader.published_ports,
        test_profile=tuple(reader.test_profile),
    )


class _Reader:
    def __init__(
        self,
        file: str,
        environ: Mapping[str, str],
        read_text: ReadText,
        is_code_dir: Callable[[str], bool] | None,
    ) -> None:
        self.file = file
        self.directory = posixpath.dirname(file)
        self.environ = environ
        self.read_text = read_text
        self.is_code_dir = is_code_dir
        self.services: list[Service] = []
        self.image_services: list[Service] = []
        self.infra_hosts: dict[str, str] = {}
        self.dockerfiles: dict[str, str] = {}
        self.commands: dict[str, str] = {}
        self.env_files: list[str] = []
        self.diagnostics: list[Diagnostic] = []
        self._definitions: dict[str, Node] = {}
        self.extends: dict[str, tuple[str, str]] = {}
        self.nginx_configs: dict[str, str] = {}
        self.haproxy_configs: dict[str, str] = {}
        self.caddy_configs: dict[str, str] = {}
        self.published_ports: dict[str, tuple[int, ...]] = {}
        self.test_profile: list[str] = []
        #: env_file paths: parsed once however many services name them (None: not there).
        self._env_files: dict[str, DotenvFile | None] = {}
        self._reported: set[str] = set()

    def _env_file(self, rel: str) -> DotenvFile | None:
        if rel not in self._env_files:
            parsed = None
            # An env file made at setup from the template the repository keeps
            # (`cp env.d/common.dist env.d/common`, `.env.example` -> `.env`) is read from it.
            for candidate in (rel, *(rel + suffix for suffix in _TEMPLATE_SUFFIXES)):
                try:
                    text = self.read_text(candidate)
                except ReadRefused:
                    self._reported.add(rel)  # the reader said why, on the file itself
                    break
                if text is not None:
                    parsed = parse_dotenv(text, candidate, self.environ)
                    self.diagnostics.extend(parsed.diagnostics)
                    if candidate != rel:
                        self.env_files.append(candidate)
                        # `SLACK_WEBHOOK_URL=x`: a blank to fill in says nothing
                        real = tuple(v for v in parsed.values if not _PLACEHOLDER.match(v.value))
                        parsed = replace(parsed, values=real)
                    break
            self._env_files[rel] = parsed
        return self._env_files[rel]

    def _invalid(self, node: Node | None, message: str, code: str = "compose-invalid") -> None:
        line = _yaml.line_of(node) if node is not None else 0
        self.diagnostics.append(Diagnostic(self.file, line, Severity.WARNING, code, message))

    def _text(self, node: Node | None) -> str | None:
        """A scalar with compose interpolation applied (compose interpolates every value)."""
        raw = _yaml.scalar(node)
        if raw is None:
            return None
        return interpolate(raw, self.environ.get)

    def read(self, document: Node) -> None:
        if not isinstance(document, MappingNode):
            self._invalid(document, "a compose file must be a mapping")
            return
        services_node = _yaml.get(document, "services")
        if services_node is None:
            # Compose file format 1 put services at the top level.
            if any(
                isinstance(value, MappingNode)
                and (_yaml.get(value, "build") is not None or _yaml.get(value, "image") is not None)
                for _, _, value in _yaml.items(document)
            ):
                services_node = document
            else:
                return
        if isinstance(services_node, ScalarNode) and _yaml.scalar(services_node) is None:
            return  # ``services:`` with nothing under it yet
        if not isinstance(services_node, MappingNode):
            self._invalid(services_node, "'services' must be a mapping of service names")
            return
        self._definitions = {name: spec for name, _, spec in _yaml.items(services_node)}
        for name, key_node, spec in _yaml.items(services_node):
            if not isinstance(spec, MappingNode):
                if _yaml.scalar(spec) is None and isinstance(spec, ScalarNode):
                    # ``name:`` with nothing under it: a placeholder, not an error.
                    continue
                self._invalid(spec, f"service {name!r} must be a mapping")
                continue
            self._read_service(name, key_node, spec)

    def _build_of(self, spec: MappingNode, depth: int = 0) -> Node | None:
        build = _yaml.get(spec, "build")
        if build is not None or depth >= _MAX_EXTENDS:
            return build
        # ``extends`` within the same file inherits the base service's build.
        extends = _yaml.get(spec, "extends")
        base_name = self._text(extends) if isinstance(extends, ScalarNode) else None
        if isinstance(extends, MappingNode) and _yaml.get(extends, "file") is None:
            base_name = self._text(_yaml.get(extends, "service"))
        base = self._definitions.get(base_name) if base_name else None
        if isinstance(base, MappingNode) and base is not spec:
            return self._build_of(base, depth + 1)
        return None

    def _read_service(self, name: str, key_node: Node, spec: MappingNode) -> None:
        aliases = [name]
        for key in ("hostname", "container_name"):
            value = self._text(_yaml.get(spec, key))
            if value:
                aliases.append(value)
        networks = _yaml.get(spec, "networks")
        for _, _, network in _yaml.items(networks):
            for alias_node in _yaml.sequence(_yaml.get(network, "aliases")):
                alias = self._text(alias_node)
                if alias:
                    aliases.append(alias)
        aliases = list(dict.fromkeys(aliases))
        ports = self._ports(spec)
        command = self._command(spec)
        if command:
            self.commands[name] = command
        env = self._env(name, spec)
        image = self._text(_yaml.get(spec, "image")) or ""
        profiles = [self._text(p) or "" for p in _yaml.sequence(_yaml.get(spec, "profiles"))]
        if profiles and all(p.lower() in _TEST_PROFILES for p in profiles):
            self.test_profile.append(name)

        build = self._build_of(spec)
        root = self._root(name, build) if build is not None else None
        if build is None:
            self._note_extends(name, spec)
            self._note_gateway(name, spec)
            published = self._published(spec)
            if published:
                self.published_ports[name] = tuple(published)
        if build is None and image and not profiles:
            # a service an opt-in profile starts (`profiles: [loadtest]`) is run by hand
            mounted = self._mounted_program(spec, command)
            if mounted is not None:
                root, evidence = mounted
                self.services.append(
                    Service(
                        name=name,
                        root=root,
                        aliases=tuple(aliases),
                        evidence=(evidence,),
                        ports=tuple(ports),
                        env=tuple(env),
                    )
                )
                return
        if build is None or root is None:
            if build is not None:
                # A remote or out-of-tree context: the code is not in this repository.
                image = image or f"build:{self._text(build) or name}"
            service = Service(
                name=name,
                root="",
                aliases=tuple(aliases),
                evidence=(f"{self.file}:{_yaml.line_of(key_node)} image {image or '(none)'}",),
                ports=tuple(ports),
                env=tuple(env),
            )
            self.image_services.append(service)
            for alias in aliases:
                self.infra_hosts.setdefault(alias, image)
            return
        self.services.append(
            Service(
                name=name,
                root=root,
                aliases=tuple(aliases),
                evidence=(f"{self.file}:{_build_line(spec, build)} build context",),
                ports=tuple(ports),
                env=tuple(env),
            )
        )

    def _mounted_program(self, spec: MappingNode, command: str) -> tuple[str, str] | None:
        """A stock image running code of the repository mounted into it
        (``image: locustio/locust``, ``./tests/performance:/mnt/locust``, ``-f
        /mnt/locust/locustfile.py``): the mounted folder is the service's root, when its
        command runs a Python file from it and no other service of the file runs code
        from the same folder (a load test's workers run the master's file)."""
        if not command or self.is_code_dir is None:
            return None
        workdir = self._text(_yaml.get(spec, "working_dir")) or ""
        programs = [t for t in command.replace("=", " ").split() if t.endswith(".py")]
        for node in _yaml.sequence(_yaml.get(spec, "volumes")):
            source, _, rest = (self._text(node) or "").partition(":")
            target = rest.partition(":")[0].rstrip("/")
            if not source.startswith(".") or not target.startswith("/"):
                continue
            folder = posixpath.normpath(posixpath.join(self.directory, source))
            if folder.startswith("..") or folder == "." or not self.is_code_dir(folder):
                continue
            for program in programs:
                full = program if program.startswith("/") else posixpath.join(workdir, program)
                if not full.startswith(target + "/"):
                    continue
                if any(s.root == folder for s in self.services):
                    return None
                line = _yaml.line_of(node)
                return folder, f"{self.file}:{line} mounts {source}, runs {program}"
        return None

    def _note_gateway(self, name: str, spec: MappingNode) -> None:
        """A gateway configuration from the repository, read for the paths the gateway
        forwards: ``./gateway_nginx.conf:/etc/nginx/nginx.conf`` (nginx),
        ``./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg`` (HAProxy) or
        ``./caddy/Caddyfile:/etc/caddy/Caddyfile`` (Caddy)."""
        for node in _yaml.sequence(_yaml.get(spec, "volumes")):
            source, _, rest = (self._text(node) or "").partition(":")
            target = rest.partition(":")[0]
            if not source.startswith("."):
                continue
            path = posixpath.normpath(posixpath.join(self.directory, source))
            if path.startswith(".."):
                continue
            if source.endswith(".conf") and "nginx" in target:
                self.nginx_configs.setdefault(name, path)
            elif source.endswith(".cfg") and "haproxy" in target:
                self.haproxy_configs.setdefault(name, path)
            elif posixpath.basename(target) == "Caddyfile" or (
                posixpath.basename(source).startswith("Caddyfile") and "caddy" in target
            ):
                # `./caddy/Caddyfile-dev:/etc/caddy/Caddyfile`
                self.caddy_configs.setdefault(name, path)

    def _published(self, spec: MappingNode) -> list[int]:
        """The host side of ``ports:`` (``"8081:80"`` and ``"127.0.0.1:8081:80"`` give 8081;
        a lone ``"80"`` is published on a random port, so gives nothing)."""
        ports: list[int] = []
        for item in _yaml.sequence(_yaml.get(spec, "ports")):
            if isinstance(item, MappingNode):
                value = self._text(_yaml.get(item, "published"))
                if value:
                    ports.extend(parse_port_spec(value))
                continue
            text = (self._text(item) or "").split("/", 1)[0]
            if text.startswith("["):
                text = text.partition("]")[2].lstrip(":")
            parts = text.split(":")
            if len(parts) >= 2:
                ports.extend(parse_port_spec(parts[-2]))
        return list(dict.fromkeys(ports))

    def _note_extends(self, name: str, spec: MappingNode) -> None:
        """``extends: {file: base.yml, service: web-base}``: the build is in that file."""
        extends = _yaml.get(spec, "extends")
        if not isinstance(extends, MappingNode):
            return
        other = self._text(_yaml.get(extends, "file"))
        base = self._text(_yaml.get(extends, "service"))
        if other and base:
            path = posixpath.normpath(posixpath.join(self.directory, other))
            if not path.startswith("../"):
                self.extends[name] = (path, base)

    def _root(self, name: str, build: Node) -> str | None:
        if isinstance(build, MappingNode):
            context = self._text(_yaml.get(build, "context")) or "."
            dockerfile = self._text(_yaml.get(build, "dockerfile")) or "Dockerfile"
        else:
            text = self._text(build)
            dockerfile = "Dockerfile"
            if text is None:
                self._invalid(build, f"service {name!r}: 'build' must be a path or a mapping")
                return None
            context = text
        if "://" in context or context.startswith("git@"):
            return None
        if posixpath.isabs(context):
            self._invalid(
                build,
                f"service {name!r}: absolute build context {context!r} cannot be mapped into the repository",
                "compose-context-outside",
            )
            return None
        root = posixpath.normpath(posixpath.join(self.directory, context))
        if root == ".." or root.startswith("../"):
            self._invalid(
                build,
                f"service {name!r}: build context {context!r} is outside the scanned tree",
                "compose-context-outside",
            )
            return None
        dockerfile_path = posixpath.normpath(posixpath.join(root, dockerfile))
        if not dockerfile_path.startswith("../") and not posixpath.isabs(dockerfile):
            self.dockerfiles[name] = dockerfile_path
            dockerfile_dir = posixpath.dirname(dockerfile_path) or "."
            if (
                root == "."
                and dockerfile_dir != "."
                and (self.is_code_dir is None or self.is_code_dir(dockerfile_dir))
            ):
                root = dockerfile_dir
        return root

    def _ports(self, spec: MappingNode) -> list[int]:
        ports: list[int] = []
        for item in _yaml.sequence(_yaml.get(spec, "ports")):
            if isinstance(item, MappingNode):
                for key in ("published", "target"):
                    value = self._text(_yaml.get(item, key))
                    if value:
                        ports.extend(parse_port_spec(value))
            else:
                value = self._text(item)
                if value:
                    ports.extend(parse_port_spec(value))
        for item in _yaml.sequence(_yaml.get(spec, "expose")):
            value = self._text(item)
            if value:
                ports.extend(parse_port_spec(value))
        ports.extend(ports_in_command(self._command(spec)))
        return list(dict.fromkeys(ports))

    def _command(self, spec: MappingNode) -> str:
        """``entrypoint`` then ``command``, each a string or a list, as one command line."""
        parts: list[str] = []
        for key in ("entrypoint", "command"):
            node = _yaml.get(spec, key)
            if isinstance(node, SequenceNode):
                parts.extend(t for t in (self._text(n) for n in node.value) if t)
            else:
                parts.append(self._text(node) or "")
        return " ".join(p for p in parts if p)

    def _env(self, name: str, spec: MappingNode) -> list[EnvValue]:
        by_name: dict[str, EnvValue] = {}
        env_file = _yaml.get(spec, "env_file")
        entries = _yaml.sequence(env_file) if isinstance(env_file, SequenceNode) else [env_file]
        for entry in entries:
            if entry is None:
                continue
            required = True
            path_node: Node | None = entry
            if isinstance(entry, MappingNode):
                path_node = _yaml.get(entry, "path")
                required = (_yaml.scalar(_yaml.get(entry, "required")) or "true").lower() != "false"
            path = self._text(path_node)
            if not path:
                self._invalid(entry, f"service {name!r}: env_file entry without a path")
                continue
            rel = posixpath.normpath(posixpath.join(self.directory, path))
            self.env_files.append(rel)
            parsed = self._env_file(rel)
            if parsed is None:
                if required and rel not in self._reported:
                    self._reported.add(rel)  # once, not once per service naming it
                    self._invalid(
                        path_node, f"service {name!r}: env_file {rel} not found", "env-file-missing"
                    )
                continue
            for declared in parsed.values:
                by_name[declared.name] = declared
        environment = _yaml.get(spec, "environment")
        if isinstance(environment, MappingNode):
            for key, _, value_node in _yaml.items(environment):
                value = self._text(value_node)
                if value is not None:
                    by_name[key] = EnvValue(key, value, f"{self.file}:{_yaml.line_of(value_node)}")
        elif isinstance(environment, SequenceNode):
            for item in environment.value:
                entry_text = self._text(item)
                if entry_text is None:
                    continue
                key, equals, value = entry_text.partition("=")
                if equals and key.strip():
                    by_name[key.strip()] = EnvValue(
                        key.strip(), value, f"{self.file}:{_yaml.line_of(item)}"
                    )
        elif environment is not None and _yaml.scalar(environment) is not None:
            self._invalid(
                environment, f"service {name!r}: 'environment' must be a list or a mapping"
            )
        return list(by_name.values())


def _build_line(spec: MappingNode, build: Node) -> int:
    for key, key_node, value in _yaml.items(spec):
        if key == "build" and value is build:
            return _yaml.line_of(key_node)
    return _yaml.line_of(build)
