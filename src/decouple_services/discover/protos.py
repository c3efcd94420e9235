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
