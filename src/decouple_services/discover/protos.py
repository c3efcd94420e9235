"""The services ``.proto`` files declare: the full name of each and its RPCs.

A gRPC method's path is ``/<package>.<Service>/<Method>``, the package being the one the
file's ``package`` statement names; a file with no ``package`` statement puts its services
in no package, so their path is ``/<Service>/<Method>``. The generated Python modules
(``*_pb2_grpc.py``) spell the same paths out, and are read for them first
(``detect/servers/grpc_generated``); a repository that generates them at build time keeps
only its ``.proto`` files, which this module reads.

Reading is by regular expressions over the text with comments removed; ``service`` blocks
are matched by their braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from decouple_services.core.records import record

#: Reads a repo-relative file's bytes (None when it cannot be read).
ReadBytes = Callable[[str], "bytes | None"]


@record
class ProtoService:
    """A ``service`` block of a ``.proto`` file."""

    #: The service's own name (``IdentityService``).
    name: str
    #: The file's package (``shop.billing``), ``""`` when it has no ``package`` statement.
    package: str
    #: The RPCs it declares, in order.
    methods: tuple[str, ...]
    file: str
    line: int

    @property
    def full_name(self) -> str:
        """``shop.billing.Billing``, or the bare name in no package."""
        return f"{self.package}.{self.name}" if self.package else self.name

    def path(self, method: str) -> str:
        return f"/{self.full_name}/{method}"


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)\s*;", re.MULTILINE)
_SERVICE = re.compile(r"\bservice\s+([A-Za-z_]\w*)\s*\{")
_RPC = re.compile(r"\brpc\s+([A-Za-z_]\w*)\s*\(")


def is_proto_file(path: str) -> bool:
    return path.endswith(".proto")


def _blank(match: re.Match[str]) -> str:
    """A comment replaced by as many newlines as it held, so line numbers stay."""
    return "\n" * match.group(0).count("\n")


def proto_services(path: str, text: str) -> list[ProtoService]:
    """The services one ``.proto`` file declares."""
    code = _COMMENT.sub(_blank, text)
    package = _PACKAGE.search(code)
    out = []
    for match in _SERVICE.finditer(code):
        depth, end = 1, match.end()
        while end < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[end], 0)
            end += 1
        body = code[match.end() : end]
        out.append(
            ProtoService(
                match.group(1),
                package.group(1) if package else "",
                tuple(m.group(1) for m in _RPC.finditer(body)),
                path,
                code.count("\n", 0, match.start()) + 1,
            )
        )
    return out


def read_proto_services(paths: Iterable[str], read: ReadBytes) -> list[ProtoService]:
    """The services of every ``.proto`` file among ``paths``."""
    found: list[ProtoService] = []
    for path in paths:
        if not is_proto_file(path):
            continue
        data = read(path)
        if data is None or b"service" not in data:
            continue
        found += proto_services(path, data.decode("utf-8", "replace"))
    return found


def by_name(services: Iterable[ProtoService]) -> Mapping[str, ProtoService]:
    """The services by their own name. Copies of one file (each service keeping its own)
    count once, with the RPCs of all; a name several packages use is left out, since the
    servicer's class names only the service and the package would be a guess."""
    seen: dict[str, list[ProtoService]] = {}
    for service in services:
        seen.setdefault(service.name, []).append(service)
    out = {}
    for name, group in seen.items():
        if len({s.full_name for s in group}) != 1:
            continue
        methods = dict.fromkeys(m for s in group for m in s.methods)
        out[name] = ProtoService(
            name, group[0].package, tuple(methods), group[0].file, group[0].line
        )
    return out


_MESSAGE = re.compile(r"\bmessage\s+([A-Za-z_]\w*)\s*\{")
_NESTED = re.compile(r"\b(?:message|enum)\s+[A-Za-z_]\w*\s*\{")
_FIELD = re.compile(
    r"(?:^|[;{}\s])(?:repeated\s+|optional\s+|required\s+)?([A-Za-z_.][\w.]*)\s+"
    r"([A-Za-z_]\w*)\s*=\s*\d+"
)


def _block_end(code: str, start: int) -> int:
    """The index just past the ``}`` closing the block whose ``{`` ends at ``start``."""
    depth, end = 1, start
    while end < len(code) and depth:
        depth += {"{": 1, "}": -1}.get(code[end], 0)
        end += 1
    return end


def proto_messages(text: str) -> dict[str, dict[str, str]]:
    """The messages one ``.proto`` file declares, nested ones too, each by its own name:
    its fields' names and their types as written (``GrpcNotification``,
    ``google.protobuf.Timestamp``), those of a ``oneof`` among them. A ``map<,>`` field is
    left out."""
    code = _COMMENT.sub(_blank, text)
    out: dict[str, dict[str, str]] = {}
    for match in _MESSAGE.finditer(code):
        body = code[match.end() : _block_end(code, match.end()) - 1]
        # a nested message's or enum's fields are its own, not this message's
        own, at = [], 0
        for nested in _NESTED.finditer(body):
            if nested.start() < at:
                continue
            own.append(body[at : nested.start()])
            at = _block_end(body, nested.end())
        own.append(body[at:])
        fields = {
            m.group(2): m.group(1)
            for m in _FIELD.finditer(" ".join(own))
            if m.group(1) not in ("option", "reserved", "extensions")
        }
        out[match.group(1)] = fields
    return out


def read_proto_messages(paths: Iterable[str], read: ReadBytes) -> Mapping[str, Mapping[str, str]]:
    """The messages of every ``.proto`` file among ``paths``, by their own name. A name two
    files declare with different fields is left out: which one a module means would be a
    guess."""
    found: dict[str, dict[str, str]] = {}
    clashing: set[str] = set()
    for path in paths:
        if not is_proto_file(path):
            continue
        data = read(path)
        if data is None or b"message" not in data:
            continue
        for name, fields in proto_messages(data.decode("utf-8", "replace")).items():
            if name in found and found[name] != fields:
                clashing.add(name)
            found.setdefault(name, fields)
    return {name: fields for name, fields in found.items() if name not in clashing}
