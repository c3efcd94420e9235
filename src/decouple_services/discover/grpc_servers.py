"""gRPC servicers registered by code in other languages, and the service each belongs to.

A Python stub (``PaymentStub``) often calls a server written in Go, C++, Java or Node. The
proto service it serves is named where the server registers its implementation, in the
form each language's gRPC library gives it:

- Go: ``pb.RegisterPaymentServer(grpcServer, impl)``;
- C++: ``builder.RegisterService(&impl)`` where the implementation's class derives from
  ``Payment::Service`` (or ``AsyncService``, ``CallbackService``), in the registering file or
  in the headers it includes from the repository, with a ``.grpc.pb.h`` header among them;
- Java/Kotlin: a class extending ``PaymentGrpc.PaymentImplBase`` (``PaymentGrpcKt.
  PaymentCoroutineImplBase`` for Kotlin coroutines);
- Node: ``server.addService(proto.shop.Payment.service, impl)`` (or a static
  ``PaymentService`` from ``grpc-tools``).

Reading is by regular expressions over the text, and only files of the right extension
holding the byte token of their language's registration are read in full.

The servicer belongs to the service whose root holds its file. A Go package outside every
root (``internal/server``) belongs to the one service whose main package imports it,
directly or through other packages of the module (``go.mod``); when several do, it belongs
to none.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.model import Service
from decouple_services.core.records import record

#: Reads a repo-relative file's text (None when it cannot be read).
Reader = Callable[[str], "str | None"]
#: The service owning a repo-relative path by its root (None when no root holds it).
Owner = Callable[[str], "str | None"]


@record
class GrpcServicer:
    """A proto service whose implementation is registered by code in another language."""

    #: The proto service's name (``Payment``), without its package.
    name: str
    file: str
    line: int
    #: ``go``, ``cpp``, ``java``, ``kotlin`` or ``javascript``.
    language: str
    #: The service serving it, or None when no service, or several, may.
    service: str | None = None
    #: How the service was found (shown as evidence).
    how: str = ""


# -- languages ----------------------------------------------------------------------------

_GO_REGISTER = lazy_pattern(r"\bRegister([A-Z]\w*?)Server\(\s*[^\s)]")
_CPP_REGISTER = lazy_pattern(r"\bRegisterService\(")
_CPP_SERVICE = lazy_pattern(
    r"\b([A-Za-z_]\w*)::(?:Service|AsyncService|CallbackService|ExperimentalCallbackService)\b"
)
_CPP_INCLUDE = lazy_pattern(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.MULTILINE)
_JAVA_IMPL = lazy_pattern(r"\b([A-Za-z_]\w*)Grpc(?:Kt)?\.\1(?:Coroutine)?ImplBase\b")
_NODE_ADD = lazy_pattern(
    r"\baddService\(\s*(?:[\w$]+\s*\.\s*)*?([A-Za-z_$][\w$]*?)(\s*\.\s*service|Service)\s*,"
)
_COMMENT = lazy_pattern(r"[ \t]*(?://|/?\*)")

#: Extension -> (language, the bytes a registering file must hold).
_LANGUAGES: dict[str, tuple[str, bytes]] = {
    "go": ("go", b"Register"),
    "cc": ("cpp", b"RegisterService("),
    "cpp": ("cpp", b"RegisterService("),
    "cxx": ("cpp", b"RegisterService("),
    "java": ("java", b"ImplBase"),
    "kt": ("kotlin", b"ImplBase"),
    "js": ("javascript", b"addService"),
    "mjs": ("javascript", b"addService"),
    "cjs": ("javascript", b"addService"),
    "ts": ("javascript", b"addService"),
}
#: Folders of code the repository vendors rather than writes.
_VENDORED = frozenset({"vendor", "third_party", "third-party", "node_modules", "external"})


#: Each language's naming of tests and test doubles: a server they start serves no one.
_TEST_NAME = lazy_pattern(
    r"(?:_test\.(?:go|cc|cpp|cxx)|Tests?\.(?:java|kt)|\.(?:test|spec)\.(?:[cm]?js|ts))$"
)
_TEST_FOLDERS = frozenset({"__tests__", "testutil", "testutils", "testing", "mock", "mocks"})


def language_of(path: str) -> tuple[str, bytes] | None:
    """The language of a file that may register a servicer, and its byte token."""
    name = path.rpartition("/")[2]
    if name.endswith((".pb.go", ".pb.gw.go", ".d.ts")) or _TEST_NAME().search(name):
        return None
    folders = path.split("/")[:-1]
    if any(part in _VENDORED or part in _TEST_FOLDERS for part in folders):
        return None
    return _LANGUAGES.get(name.rpartition(".")[2])


def _lines(text: str, pattern: re.Pattern[str]) -> Iterable[tuple[re.Match[str], int, str]]:
    """Matches outside comment lines, with their line number and the line's text before
    them."""
    for match in pattern.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        if _COMMENT().match(text, start):
            continue
        yield match, text.count("\n", 0, start) + 1, text[start : match.start()]


def go_registrations(text: str) -> list[tuple[str, int]]:
    """``pb.RegisterPaymentServer(s, impl)`` -> ``[("Payment", line)]``; the generated
    ``func RegisterPaymentServer(...)`` and grpc-gateway's ``Register...HandlerServer``
    are not registrations."""
    found = []
    for match, line, before in _lines(text, _GO_REGISTER()):
        if re.search(r"\bfunc\s+$", before) or match.group(1).endswith("Handler"):
            continue
        found.append((match.group(1), line))
    return found


def java_registrations(text: str) -> list[tuple[str, int]]:
    """``class PaymentImpl extends PaymentGrpc.PaymentImplBase`` -> ``[("Payment", line)]``;
    also ``extends PaymentImplBase`` with ``PaymentGrpc.PaymentImplBase`` imported."""
    found = []
    for match, line, before in _lines(text, _JAVA_IMPL()):
        name = match.group(1)
        if not before.lstrip().startswith("import"):
            found.append((name, line))
            continue
        extends = re.search(rf"(?:\bextends\s+|:\s*){name}(?:Coroutine)?ImplBase\b", text)
        if extends is not None:
            found.append((name, text.count("\n", 0, extends.start()) + 1))
    return found


def node_registrations(text: str) -> list[tuple[str, int]]:
    """``server.addService(proto.shop.Payment.service, impl)`` -> ``[("Payment", line)]``;
    ``server.addService(PaymentService, impl)`` (grpc-tools' generated code) too."""
    return [(m.group(1), line) for m, line, _ in _lines(text, _NODE_ADD()) if m.group(1)]


def cpp_registrations(
    path: str, text: str, read: Reader, exists: Callable[[str], bool]
) -> list[tuple[str, int]]:
    """The proto services a C++ file registers with ``RegisterService(``: the
    ``X::Service`` classes named in it and in the headers it includes from the repository
    (two levels, its own header first), when a generated ``.grpc.pb.h`` is among them."""
    calls = [line for _, line, _ in _lines(text, _CPP_REGISTER())]
    if not calls:
        return []
    texts = {path: text}
    stem = path.rpartition(".")[0]
    frontier = [f"{stem}{ext}" for ext in (".h", ".hh", ".hpp") if exists(f"{stem}{ext}")]
    frontier += _local_includes(path, text, exists)
    for _ in range(2):
        following: list[str] = []
        for header in frontier:
            if header in texts:
                continue
            header_text = read(header)
            if header_text is None:
                continue
            texts[header] = header_text
            following += _local_includes(header, header_text, exists)
        frontier = following
    if not any(
        ".grpc.pb.h" in include for t in texts.values() for include in _CPP_INCLUDE().findall(t)
    ):
        return []
    names = dict.fromkeys(
        match.group(1) for t in texts.values() for match, _, _ in _lines(t, _CPP_SERVICE())
    )
    return [(name, calls[0]) for name in names]


def _local_includes(path: str, text: str, exists: Callable[[str], bool]) -> list[str]:
    """``#include "pkg/server.h"``: the repository's headers, by path from the root or from
    the including file's folder."""
    out = []
    folder = posixpath.dirname(path)
    for include in _CPP_INCLUDE().findall(text):
        for candidate in (include, posixpath.normpath(posixpath.join(folder, include))):
            if exists(candidate):
                out.append(candidate)
                break
    return out


def find_registrations(
    paths: Sequence[str], read_bytes: Callable[[str], bytes | None]
) -> list[GrpcServicer]:
    """The servicers registered in ``paths`` (other-language files), without their service."""
    listed = set(paths)
    texts: dict[str, str | None] = {}

    def read(rel: str) -> str | None:
        if rel not in texts:
            data = read_bytes(rel)
            texts[rel] = None if data is None else data.decode("utf-8", "replace")
        return texts[rel]

    found: list[GrpcServicer] = []
    for rel in paths:
        kind = language_of(rel)
        if kind is None:
            continue
        language, token = kind
        data = read_bytes(rel)
        if data is None or token not in data:
            continue
        text = data.decode("utf-8", "replace")
        texts[rel] = text
        if language == "go":
            names = go_registrations(text)
        elif language == "cpp":
            names = cpp_registrations(rel, text, read, listed.__contains__)
        elif language in ("java", "kotlin"):
            names = java_registrations(text)
        else:
            names = node_registrations(text)
        found += [GrpcServicer(name, rel, line, language) for name, line in dict(names).items()]
    return found


# -- owners -------------------------------------------------------------------------------


def assign_services(
    servicers: Sequence[GrpcServicer],
    services: Sequence[Service],
    owner: Owner,
    go_files: Sequence[str],
    read: Reader,
) -> list[GrpcServicer]:
    """Each servicer with the service serving it (see the module's docstring)."""
    linker: GoLinker | None = None
    out = []
    for servicer in servicers:
        name = owner(servicer.file)
        if name is not None:
            out.append(replace(servicer, service=name, how=f"{servicer.file} is in its root"))
            continue
        if servicer.language != "go":
            out.append(replace(servicer, how=f"no service's root holds {servicer.file}"))
            continue
        if linker is None:
            linker = GoLinker(go_files, read, services)
        binaries = linker.binaries_linking(posixpath.dirname(servicer.file))
        if len(binaries) == 1:
            ((service, main),) = binaries.items()
            how = f"{main} imports the package of {servicer.file}"
            out.append(replace(servicer, service=service, how=how))
        else:
            names = ", ".join(sorted(binaries)) or "none"
            how = f"the package of {servicer.file} is linked by {len(binaries)} services ({names})"
            out.append(replace(servicer, how=how))
    return out


_GO_MODULE = lazy_pattern(r"^module\s+(\S+)", re.MULTILINE)
_GO_IMPORT_BLOCK = lazy_pattern(r"^import\s*\(([^)]*)\)", re.MULTILINE)
_GO_IMPORT_ONE = lazy_pattern(r'^import\s+(?:[\w.]+\s+)?"([^"]+)"', re.MULTILINE)
_GO_QUOTED = lazy_pattern(r'"([^"]+)"')
_GO_PACKAGE_MAIN = lazy_pattern(r"^package\s+main\b", re.MULTILINE)


def go_module_path(text: str) -> str | None:
    """``module github.com/acme/shop`` in a ``go.mod``."""
    match = _GO_MODULE().search(text)
    return match.group(1) if match else None


def go_imports(text: str) -> list[str]:
    """The import paths of a Go file."""
    # imports precede every declaration: the rest of the file is not searched
    end = text.find("\nfunc ")
    text = text if end < 0 else text[:end]
    found = [_GO_QUOTED().findall(block) for block in _GO_IMPORT_BLOCK().findall(text)]
    return [p for block in found for p in block] + _GO_IMPORT_ONE().findall(text)


def is_go_main(text: str) -> bool:
    return _GO_PACKAGE_MAIN().search(text) is not None


class GoLinker:
    """Which services' Go binaries link a package, by the imports of their main packages."""

    def __init__(self, go_files: Sequence[str], read: Reader, services: Sequence[Service]) -> None:
        self.read = read
        self.by_dir: dict[str, list[str]] = {}
        for rel in go_files:
            if rel.endswith(".go") and not rel.endswith("_test.go"):
                self.by_dir.setdefault(posixpath.dirname(rel), []).append(rel)
        #: module path -> its folder (``""`` for the root), longest first.
        self.modules: list[tuple[str, str]] = []
        for rel in go_files:
            if rel.rpartition("/")[2] == "go.mod":
                text = read(rel)
                module = go_module_path(text) if text is not None else None
                if module is not None:
                    self.modules.append((module, posixpath.dirname(rel)))
        self.modules.sort(key=lambda m: -len(m[0]))
        self.services = services
        self._imports: dict[str, list[str]] = {}
        self._mains: dict[str, list[str]] = {}
        self._closures: dict[str, set[str]] = {}

    def _folder(self, import_path: str) -> str | None:
        for module, folder in self.modules:
            if import_path == module or import_path.startswith(module + "/"):
                rest = import_path[len(module) :].lstrip("/")
                return posixpath.join(folder, rest) if folder and rest else (folder or rest)
        return None

    def _package_imports(self, folder: str) -> list[str]:
        if folder not in self._imports:
            found: list[str] = []
            for rel in self.by_dir.get(folder, []):
                text = self.read(rel)
                if text is None:
                    continue
                for path in go_imports(text):
                    target = self._folder(path)
                    if target is not None and target in self.by_dir:
                        found.append(target)
            self._imports[folder] = list(dict.fromkeys(found))
        return self._imports[folder]

    def main_packages(self, root: str) -> list[str]:
        """Folders of ``package main`` in a service's root (itself or below)."""
        if root not in self._mains:
            out = []
            for folder, files in self.by_dir.items():
                inside = root == "." or folder == root or folder.startswith(root + "/")
                if inside and any((t := self.read(f)) is not None and is_go_main(t) for f in files):
                    out.append(folder)
            self._mains[root] = sorted(out)
        return self._mains[root]

    def binaries_linking(self, package: str) -> dict[str, str]:
        """Service -> the main package of it that imports ``package``, for every service
        whose binary links it."""
        out: dict[str, str] = {}
        for service in self.services:
            if service.root in ("", "."):
                continue
            for main in self.main_packages(service.root):
                if self._reaches(main, package):
                    out[service.name] = main
                    break
        return out

    def _reaches(self, start: str, package: str) -> bool:
        if start not in self._closures:
            seen = {start}
            queue = [start]
            while queue:
                for target in self._package_imports(queue.pop()):
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
            self._closures[start] = seen
        return package in self._closures[start]


def go_main_dirs(
    go_files: Sequence[str], read: Reader, keep: Callable[[str], bool] = lambda folder: True
) -> dict[str, str]:
    """``cmd/<name>`` folders holding a Go main package (and passing ``keep``): name ->
    folder, the shallowest when several share a name."""
    out: dict[str, str] = {}
    candidates: dict[str, list[str]] = {}
    for rel in go_files:
        folder, _, name = rel.rpartition("/")
        parent = folder.rpartition("/")[0]
        if (
            name.endswith(".go")
            and not name.endswith("_test.go")
            and parent.rpartition("/")[2] == "cmd"
        ):
            candidates.setdefault(folder, []).append(rel)
    for folder, files in sorted(candidates.items(), key=lambda item: (item[0].count("/"), item[0])):
        name = folder.rpartition("/")[2]
        if name in out or not keep(folder):
            continue
        if any((t := read(f)) is not None and is_go_main(t) for f in files):
            out[name] = folder
    return out


def servers_by_name(servicers: Iterable[GrpcServicer]) -> Mapping[str, set[str]]:
    out: dict[str, set[str]] = {}
    for servicer in servicers:
        if servicer.service is not None:
            out.setdefault(servicer.name, set()).add(servicer.service)
    return out
