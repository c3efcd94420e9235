"""Which files a helper pass re-reads: those that may invoke one of the new helpers.

A helper ``pkg.mod.func`` (or method ``pkg.mod.Class.meth``) is invoked through a name that
static resolution ties to its definition: ``func(...)``, ``mod.func(...)``, ``obj.meth(...)``
with ``obj`` a ``Class`` instance, ``Class.__init__(self, ...)``. Every such name reaches the
file through an import, so a file can hold an invocation only if

- it names the invocation word as a whole word (``func``, ``meth``; for ``__init__`` both
  ``__init__`` and the class name), and
- it is *connected* to the defining module: it is that module, or it imports that module,
  something from it (``from pkg.mod import func``), or a package prefix of it (``import
  pkg``, ``from pkg import mod``), relative imports resolved -- or, transitively, it imports
  a connected module the same way. The transitive step covers re-exports at any depth
  (``from .mod import func`` in ``pkg/__init__.py``, then ``from pkg import func``) and
  objects handed on through other modules (``from pkg.clients import client``, where
  ``pkg.clients`` builds a ``pkg.mod.Class``).

Imports are found in the source text by a pattern, not by parsing: files the prefilter
rejected have no facts, and a helper pass must see them too. The pattern finds every import
``ast`` sees (``from x import (a,  # comment``, continuations, ``if x: import y``, imports
in functions) and more: an import written in a string or docstring counts too, which only
ever adds a file. Text that cannot be an import (``import executor job ...`` in prose) is
skipped. Not followed, as static resolution does not follow them either: ``__import__``,
``importlib.import_module``.
"""

from __future__ import annotations

import functools
import posixpath
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat

from decouple_services.app.demand import Search, searched
from decouple_services.core.records import record

#: An import statement, matched from the start of a line or after ``;`` / ``:`` (``if x:
#: import y``). ``from`` may be followed directly by dots (``from.mod import x``); the names
#: run to the closing parenthesis, or to the end of the logical line (continuations joined).
#:
#: The names are read in runs of characters never given back (possessive: the names end
#: the pattern, nothing after them can fail): half the time of reading them a character
#: at a time. Where no ``)`` outside a comment closes a parenthesis, the names read a
#: character at a time, backtracking into the comments, find one closing it in a later
#: comment (``(a,  # b(c)``), as the possessive reading cannot.
_IMPORT = re.compile(
    r"[ \t\f]*(?:"
    r"from(?P<base>[ \t\f]*\.[\w. \t\f]*?|[ \t\f]+[\w.]+)[ \t\f]*(?:\\\r?\n[ \t\f]*)?import\b"
    r"(?P<names>[ \t\f]*+\((?:#[^\n]*+|[^)#]++)*+\)|[ \t\f]*\((?:#[^\n]*|[^)#])*\)"
    r"|(?:[^\n;\\]++|\\(?:\r?\n)?)*+)"
    r"|import\b(?P<modules>(?:[^\n;\\]++|\\(?:\r?\n)?)*+))"
)
#: The rest of a line holding nothing, and the blank lines after it.
_GAP = re.compile(r"[ \t\f\r]*\n(?:[ \t\f\r]*\n)*")
_NAME = re.compile(r"[^\W\d][\w.]*(?:\s+as\s+[^\W\d]\w*)?")
#: What a name is read through after an import binds it (``.sub.func``), and what may not
#: come before such a name.
_ATTRIBUTES = re.compile(r"(?:\.\w+)+")
_WORD_OR_DOT = re.compile(r"[\w.]")


def module_package(module: str, is_package: bool) -> str:
    """The package relative imports start from (as ``detect.context`` resolves them)."""
    return module if is_package else module.rpartition(".")[0]


def import_targets(
    source: bytes, module: str, is_package: bool, packages: Container[str] = frozenset()
) -> frozenset[str]:
    """Dotted names the file's imports refer to, relative imports resolved.

    ``import a.b.c as x`` and ``from a.b import c`` give ``a.b.c`` (a module or a name in
    ``a.b``), ``from a.b import *`` gives ``a.b``; plain ``import a.b.c`` gives ``a.b.c`` and
    binds ``a``. Dotted names the file writes through a name an import binds are added
    too, for names bound to one of ``packages``: ``a.x.func`` after ``import a.b``,
    ``mod.sub.func`` after ``from pkg import mod``.
    A package reached that way is not otherwise a target: ``from . import components``
    does not tie a file to every module under ``components``.
    """
    if b"import" not in source:
        return frozenset()
    text = source.decode("utf-8", "replace")
    package = module_package(module, is_package)
    out: set[str] = set()
    bound: list[tuple[str, str]] = []  # (local name, what it refers to), as bound
    known = _READ_STATEMENTS
    for match in _statements(text):
        statement = match.group(0)
        base = match.group("base")
        # a relative import's targets depend on the package it is written in
        key = (statement, package) if base and base.lstrip(" \t\f")[:1] == "." else statement
        read = known.get(key)
        if read is None:
            if len(known) >= _MAX_READ_STATEMENTS:
                known.clear()
            read = known[key] = _read_statement(match, package)
        targets, bindings = read
        out.update(targets)
        # kept as read (grouping them by name for every file was a tenth of its imports'
        # reading): few names are bound to a package and written before a dot
        bound += bindings
    # only a package has attributes that are modules of their own
    # (a name written before a dot somewhere: most files never write the ones they import so)
    heads = sorted(n for n in {n for n, t in bound if t in packages} if f"{n}." in text)
    # each `head.x.y` not written after a word character or a dot; no other can start
    # inside one (all word characters and dots), so one head at a time finds the same
    for head in heads:
        bound_to = {t for n, t in bound if n == head}
        written = head + "."
        at = text.find(written)
        while at != -1:
            if at == 0 or not _WORD_OR_DOT.match(text, at - 1):
                tail = _ATTRIBUTES.match(text, at + len(head))
                if tail is not None:
                    rest = tail.group(0)[1:]
                    for target in bound_to:
                        out.add(f"{target}.{rest}")
            at = text.find(written, at + 1)
    return frozenset(out)


#: An import statement's targets, and the (local name, target) pairs it binds.
_Read = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
#: An import statement's text (with the package, for a relative one) -> what
#: :func:`_read_statement` reads in it. Most files of a tree repeat the same imports
#: (homeassistant: 73,536 statements, 18,072 different), and reading the names out of a
#: statement was two thirds of finding a file's imports. Bounded: cleared when full.
_READ_STATEMENTS: dict[str | tuple[str, str], _Read] = {}
_MAX_READ_STATEMENTS = 200_000
#: A relative import's text -> its dots, its module after them, and its (name, alias)
#: pairs (``*`` for a star): read once, resolved in each package writing it (a third of
#: homeassistant's different statements are ``from .const import DOMAIN`` and the like).
_RELATIVE: dict[str, tuple[int, str, tuple[tuple[str, str], ...]]] = {}


def _read_statement(match: re.Match[str], package: str) -> _Read:
    """One import statement's targets, and the (local name, target) it binds, in order."""
    out: list[str] = []
    bound: list[tuple[str, str]] = []
    modules = match.group("modules")
    if modules is not None:
        for item in _items(modules):
            if not _NAME.fullmatch(item):
                continue  # prose: "import executor job for each platform." in a docstring
            # items come with single spaces (`_items`), names and aliases hold none
            name, _, alias = item.partition(" as ")
            out.append(name)
            if alias:
                bound.append((alias, name))
            else:
                head = name.split(".")[0]
                bound.append((head, head))
        return tuple(out), tuple(bound)
    statement = match.group(0)
    read = _RELATIVE.get(statement)
    if read is None:
        read = _read_from(*match.group("base", "names"))
        if read[0]:
            if len(_RELATIVE) >= _MAX_READ_STATEMENTS:
                _RELATIVE.clear()
            _RELATIVE[statement] = read
    level, base, items = read
    if level:
        parts = package.split(".") if package else []
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        base = ".".join([*parts, base] if base else parts)
    for name, alias in items:
        if name == "*":
            if base:
                out.append(base)
            continue
        target = f"{base}.{name}" if base else name
        out.append(target)
        bound.append((alias or name, target))
    return tuple(out), tuple(bound)


def _read_from(base: str, names: str) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    """A ``from`` statement's dots, its module after them, and its (name, alias) pairs."""
    base = "".join(base.split())
    level = len(base) - len(base.lstrip("."))
    items = []
    for item in _items(names.strip().removeprefix("(").removesuffix(")")):
        if item == "*":
            items.append(("*", ""))
            continue
        name, _, alias = item.partition(" as ")
        if not _NAME.fullmatch(item) or "." in name:
            continue  # prose again
        items.append((name, alias))
    return level, base[level:], tuple(items)


def _statements(text: str) -> Iterator[re.Match[str]]:
    """The import statements of ``text``: tried where a statement can start before each
    ``import`` (the line's start, after a ``;`` or ``:``). Searching for the word first is
    several times faster than trying the pattern at every line."""
    done = 0
    pos = text.find("import")
    while pos != -1:
        start = text.rfind("\n", 0, pos) + 1
        while start > 1:  # a continued line: the statement began on the line before
            end = start - 2
            if text[end] == "\r" and end > 0:
                end -= 1
            if text[end] != "\\":
                break
            start = text.rfind("\n", 0, end) + 1
        if start >= done:
            # most imports are statements of their own line: one matched from the line's
            # start past this `import` leaves no other start to try
            match = _IMPORT.match(text, start)
            if match is not None and match.end() > pos:
                done = match.end()
                yield match
                # Imports come in blocks, a statement a line: the next line's start (past
                # blank lines, where no statement starts) is the next place one can start,
                # and one matched there the next statement. Tried before looking for the
                # next `import` and its line's start: a sixth of finding a file's statements.
                while (gap := _GAP.match(text, done)) is not None:
                    at = gap.end()
                    if text[at - 2] == "\\" or (
                        text[at - 2] == "\r" and at > 2 and text[at - 3] == "\\"
                    ):
                        break  # a continued line: no statement starts there
                    match = _IMPORT.match(text, at)
                    if match is None:
                        break
                    done = match.end()
                    yield match
                pos = text.find("import", max(pos + 6, done))
                continue
        candidates = [start]
        for separator in ";:":
            at = text.find(separator, start, pos)
            while at != -1:
                candidates.append(at + 1)
                at = text.find(separator, at + 1, pos)
        for candidate in sorted(candidates):
            if candidate < done:
                continue
            match = _IMPORT.match(text, candidate)
            if match is not None:
                done = match.end()
                yield match
        pos = text.find("import", max(pos + 6, done))


def _items(names: str) -> list[str]:
    """``a as b, c`` (comments, continuations and a trailing comma allowed) -> items."""
    if "#" in names or "\\" in names:
        lines = [line.partition("#")[0] for line in names.replace("\\\n", " ").splitlines()]
        names = " ".join(lines)
    # (line breaks are white space, to `split` too)
    items = [" ".join(i.split()) for i in names.split(",")]
    if items and items[-1] == "":
        items.pop()  # trailing comma
    return items


@record(slots=False)
class Helper:
    """A learned helper: its qualified name and whether it is a method."""

    qualname: str
    is_method: bool

    @property
    def holder(self) -> str | None:
        """For a method, the name of a parameter holding an object of its class: the class's
        name in snake case (``users_client`` for ``UsersClient.get``)."""
        # imported here: a rerun reading import targets only needs no resolution module
        from decouple_services.resolve.index import snake_case

        prefix, _, short = self.qualname.rpartition(".")
        if not self.is_method or short == "__init__" or not prefix:
            return None
        return snake_case(prefix.rpartition(".")[2])

    @property
    def words(self) -> tuple[str, ...]:
        """What an invocation names: the helper's own name; for a constructor also the
        class (``Client(url)``)."""
        prefix, _, short = self.qualname.rpartition(".")
        if short == "__init__" and prefix:
            return (short, prefix.rpartition(".")[2])
        return (short,)

    def attribute_of(self, module: str) -> bool:
        """For an object held in a variable (a client object), whether another file names
        it only as an attribute (``coordinator.session``, ``getattr(c, "session")``), given
        the module defining it: it is held by a class of that module, not at its top level
        (``from .http import session``). (Not said of a function or a method: a module may
        alias one for other files to import, ``fetch = _client.fetch``.)"""
        return self.qualname.rpartition(".")[0] != module


def defining_module(qualname: str, modules: Iterable[str]) -> str | None:
    """The longest module name that is a dotted prefix of ``qualname``."""
    known = modules if isinstance(modules, (set, frozenset)) else set(modules)
    parts = qualname.split(".")
    for end in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


class ImportGraph:
    """Which files are connected, through imports, to a module (see the module docstring)."""

    def __init__(self, modules: Mapping[str, str], targets: Mapping[str, frozenset[str]]) -> None:
        """``modules``: path -> module name; ``targets``: path -> its ``import_targets``."""
        self.modules = dict(modules)
        self.files_of: dict[str, list[str]] = {}
        for path, module in self.modules.items():
            self.files_of.setdefault(module, []).append(path)
        #: target -> files importing it, and the targets sorted (those under ``m`` are the
        #: range from ``m.`` to ``m/``, "/" following "." in code point order)
        importers: defaultdict[str, list[str]] = defaultdict(list)
        for path, names in targets.items():
            for name in names:
                importers[name].append(path)
        self.importers: dict[str, list[str]] = dict(importers)
        self.targets = sorted(self.importers)
        #: the first parts of the targets: a name none starts with has no importers
        self._starts = {target.partition(".")[0] for target in self.targets}
        #: the first parts of the modules' names (see ``_prefixed``)
        self._firsts = {module.partition(".")[0] for module in self.files_of}
        self._tails: dict[str, list[str]] | None = None
        #: every module's place in the tree and the folders above (see ``_elsewhere``),
        #: and each module's own places
        self._places: set[str] | None = None
        self._own_places: dict[str, frozenset[str]] = {}
        self._connected: dict[str, frozenset[str]] = {}
        #: module -> the modules of the files ``importing`` gives for it, and those files
        #: of no module (see ``_connect``)
        self._adjacent: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}

    def importing(self, module: str) -> set[str]:
        """Files importing ``module`` or a name in it (``module.func``, ``module.sub``).

        Also files of the same package importing it without the package's prefix: a
        service run from its own folder writes ``from network import x`` for the module
        ``gateway.network``; and any file importing it by a dotted tail that names no
        other module (``from jobs.utils import x`` for ``apps.jobs.utils``); and files
        naming it with more package in front, where that front does not lead elsewhere in
        the tree (:meth:`_elsewhere`).

        Each target's importers are added at once (a package's range of targets holds
        most of a tree's imports: yielding each importer of each was most of following
        homeassistant's closures).
        """
        found: set[str] = set()
        self._add_importing(module, found)
        head, _, tail = module.partition(".")
        of = self.modules
        while tail:
            # A dotted tail no module of the scan is named (`jobs.utils` of
            # `apps.jobs.utils`) is that module to code run with the folder above it on
            # the path (`apps/` in a Django project, imported by top-level tests too).
            if "." in tail and tail not in self.files_of:
                self._add_importing(tail, found)
            else:
                within: set[str] = set()
                self._add_importing(tail, within)
                prefix = head + "."
                found.update(p for p in within if of.get(p, "").startswith(prefix))
            step, _, tail = tail.partition(".")
            head = f"{head}.{step}"
        # The scan names modules from the nearest folder without __init__.py
        # (`clients.base`), code run from above it imports `src.clients.base`.
        importers = self.importers
        for target in self._prefixed(module):
            if not self._elsewhere(target, module):
                found.update(importers[target])
        return found

    def _elsewhere(self, target: str, module: str) -> bool:
        """Whether ``target``, which names ``module`` with more package in front, names a
        place in the tree other than ``module``'s: read as a path, the front it names
        ``module`` with (or the longest tail of that front that is a folder or module of
        the tree) leads elsewhere. A tree of projects whose packages are named alike
        (ansible's collections, each with a `plugins` package) imports one project's
        modules as `ansible_collections.kubernetes.core.plugins.module_utils.client...`,
        which is not hetzner's `plugins.module_utils.client`: counted as an import of it,
        every helper pass followed every project's imports. A front the tree has no path
        for (a package installed under another name) still counts."""
        if self._places is None:
            places: set[str] = set()
            for path in self.modules:
                places.add(path.removesuffix(".py"))
                folder = posixpath.dirname(path)
                while folder and folder not in places:
                    places.add(folder)
                    folder = posixpath.dirname(folder)
            self._places = places
        own = self._own_places.get(module)
        if own is None:
            stems = (p.removesuffix(".py") for p in self.files_of.get(module, ()))
            own = self._own_places[module] = frozenset(
                stem.removesuffix("/__init__") for stem in stems
            )
        parts = target.split(".")
        named = module.split(".")
        size = len(named)
        somewhere = False
        for start in range(1, len(parts) - size + 1):
            if parts[start : start + size] != named:
                continue
            for first in range(start):
                place = "/".join(parts[first:start] + named)
                if place in self._places:
                    if place in own:
                        return False
                    somewhere = True
                    break
            else:
                return False  # a front the tree has no path for
        return somewhere

    def _prefixed(self, module: str) -> list[str]:
        """The import targets naming ``module`` with more package in front: ``b.c`` is
        a dotted tail of ``a.b.c`` and of the names in it (``a.b.c.d``)."""
        first = module.partition(".")[0]
        if first not in self._firsts:
            # asked of no module of the scan: each target tested (every caller asks of
            # modules, and those are answered from the tails kept below)
            within = f".{module}."
            return [t for t in self.targets if f".{t}.".find(within, 1) != -1]
        if self._tails is None:
            # Only the tails starting with a part some module's name starts with: the
            # only ones a module can be. Every tail of every target was a fifth of
            # following homeassistant's imports, and almost none start so (its targets
            # start with `homeassistant`, their tails with `components`, `const`, ...).
            tails: dict[str, list[str]] = {}
            firsts = self._firsts
            for target in self.targets:
                parts = target.split(".")
                for start in range(1, len(parts)):
                    if parts[start] not in firsts:
                        continue
                    for end in range(start + 1, len(parts) + 1):
                        tails.setdefault(".".join(parts[start:end]), []).append(target)
            self._tails = tails
        return self._tails.get(module, [])

    def _add_importing(self, module: str, found: set[str]) -> None:
        """Files importing ``module`` or a name in it, added to ``found``."""
        if module.partition(".")[0] not in self._starts:
            # no target starts as it does (most dotted tails of a module's name: `hue.light`)
            return
        importers = self.importers
        direct = importers.get(module)
        if direct:
            found.update(direct)
        first = bisect_left(self.targets, module + ".")
        last = bisect_left(self.targets, module + "/")
        for target in self.targets[first:last]:
            found.update(importers[target])

    def kept_bits(self, module: str, python: Sequence[str]) -> bytes | None:
        """The files connected to ``module`` as :class:`RecordedGraph` keeps them (a bit
        per file of ``python``), when a last scan's record holds them: none here."""
        return None

    def connected(self, module: str) -> frozenset[str]:
        """Files connected to ``module``: itself, and its importers, transitively
        (remembered: the helper passes and the client objects of a scan ask again)."""
        found = self._connected.get(module)
        if found is None:
            found = self._connected[module] = frozenset(self._connect(module))
        return found

    def _connect(self, module: str) -> set[str]:
        """The files of every module reached from ``module`` through the modules of
        their importers (and the importers without a module): the importers of a module
        reached are files of modules reached. Each module's importing modules are found
        once and followed as sets: each closure walking its importers file by file was
        most of a helper pass's selection on homeassistant (forty closures of some 1,400
        modules each, over the same few thousand importing files)."""
        seen = {module}
        files = set(self.files_of.get(module, ()))
        queue = [module]
        adjacent = self._adjacent
        while queue:
            current = queue.pop()
            found = adjacent.get(current)
            if found is None:
                found = adjacent[current] = self._importing_modules(current)
            modules, orphans = found
            if orphans:
                files.update(orphans)
            new = modules - seen
            if new:
                seen |= new
                queue.extend(new)
        # (each module's files looked up in C: a closure reaches thousands of modules)
        files.update(chain.from_iterable(map(self.files_of.get, seen, repeat((), len(seen)))))
        return files

    def _importing_modules(self, module: str) -> tuple[frozenset[str], tuple[str, ...]]:
        """The modules of the files importing ``module``, and those files of no module."""
        of = self.modules
        modules = set()
        orphans = []
        for path in self.importing(module):
            importer = of.get(path)
            if importer is None:
                orphans.append(path)
            else:
                modules.add(importer)
        return frozenset(modules), tuple(orphans)


#: The bits set in each byte, by position.
_SET_BITS = tuple(tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256))


class RecordedGraph:
    """What :func:`select` asks of an :class:`ImportGraph` (the files of a module, the files
    connected to it), for the helpers of one scan, kept with the scan's record of what it
    read (``app/edits.py``): the next scan, when no file's imports changed, asks it instead
    of reading every file's imports and following them again (homeassistant: the graph
    and the closures of its helpers' modules were half of a rerun after a neutral edit).

    Only the modules defining the helpers are kept. :func:`defining_module` picks the
    same one among them as among all modules: a longer prefix of a helper's name that is
    a module would have been that helper's module.
    """

    def __init__(self, python: Sequence[str], modules: Mapping[str, tuple[list[str], bytes]]):
        """``python``: the scan's Python files in order; ``modules``: module -> its files
        and the files connected to it, as a bit per file of ``python``."""
        self.python = python
        self.files_of: dict[str, list[str]] = {m: files for m, (files, _) in modules.items()}
        self._bits = {m: bits for m, (_, bits) in modules.items()}

    @classmethod
    def of(cls, graph: ImportGraph, python: Sequence[str], modules: Iterable[str]) -> RecordedGraph:
        """``graph``'s answers for ``modules`` (each a module of ``graph``)."""
        index: dict[str, int] | None = None
        kept: dict[str, tuple[list[str], bytes]] = {}
        for module in modules:
            found = graph.kept_bits(module, python)
            if found is None:
                if index is None:
                    index = {path: i for i, path in enumerate(python)}
                bits = bytearray((len(python) + 7) // 8)
                for path in graph.connected(module):
                    i = index[path]
                    bits[i >> 3] |= 1 << (i & 7)
                found = bytes(bits)
            kept[module] = (list(graph.files_of[module]), found)
        return cls(python, kept)

    def modules(self) -> dict[str, tuple[list[str], bytes]]:
        return {m: (self.files_of[m], self._bits[m]) for m in self.files_of}

    def bits(self, module: str) -> bytes:
        """The files connected to ``module``, a bit per file of :attr:`python`."""
        return self._bits[module]

    def connected(self, module: str) -> frozenset[str]:
        # the bytes with a bit set only (a module is connected to few of a tree's files),
        # their bits looked up (testing each of the eight: 22 ms for homeassistant's 39
        # modules, 14 ms so)
        python = self.python
        return frozenset(
            [
                python[at * 8 + bit]
                for at, byte in enumerate(self._bits[module])
                if byte
                for bit in _SET_BITS[byte]
            ]
        )


class KeptGraph(ImportGraph):
    """The import graph of a rerun whose edits changed no file's imports of the tree's
    modules: :class:`RecordedGraph`'s answers for the modules the last scan kept, and for
    any other module the graph built as usual (on first need).

    An import edge ties a file to a module only through a name sharing a dotted part with
    that module's name (the module itself, a name in it, a dotted tail of it, or it with
    more package in front: :meth:`ImportGraph.importing`). An edited file whose import
    targets changed only in names sharing no part with any module of the tree
    (``import requests``) ties and unties nothing, so every module's connected files are
    the last scan's (same listing, every other file's imports unchanged). On
    homeassistant, building the graph and following it for the client objects and helpers
    was a sixth of a rerun after an edit adding a request.
    """

    def __init__(
        self,
        modules: Mapping[str, str],
        recorded: RecordedGraph,
        build: Callable[[], ImportGraph],
    ) -> None:
        """``modules``: path -> module name, in the listing's order; ``build``: the graph
        built from every file's imports, for the modules ``recorded`` does not hold."""
        self.modules = dict(modules)
        self.files_of = {}
        for path, module in self.modules.items():
            self.files_of.setdefault(module, []).append(path)
        self._recorded = recorded
        #: the listing :meth:`kept_bits` was last asked for, and whether it is the record's
        self._same_listing: tuple[Sequence[str], bool] | None = None
        self._build = build
        self._built: ImportGraph | None = None
        self._connected = {}

    @property
    def built(self) -> bool:
        """Whether the whole graph was built (it then wrote every file's imports)."""
        return self._built is not None

    def _graph(self) -> ImportGraph:
        if self._built is None:
            self._built = self._build()
        return self._built

    def importing(self, module: str) -> set[str]:
        return self._graph().importing(module)

    def kept_bits(self, module: str, python: Sequence[str]) -> bytes | None:
        # the last scan's bits as they are, for the same listing: made into a set of paths
        # and back to bits, homeassistant's 39 modules took 10 ms of a rerun
        recorded = self._recorded
        if module not in recorded.files_of:
            return None
        same = self._same_listing
        if same is None or same[0] is not python:
            same = self._same_listing = (python, list(recorded.python) == list(python))
        return recorded.bits(module) if same[1] else None

    def connected(self, module: str) -> frozenset[str]:
        found = self._connected.get(module)
        if found is None:
            if module in self._recorded.files_of:
                found = self._recorded.connected(module)
            else:
                found = self._graph().connected(module)
            self._connected[module] = found
        return found


def imports_kept(
    edits: Iterable[tuple[frozenset[str], frozenset[str]]], modules: Iterable[str]
) -> bool:
    """Whether edits changing files' import targets (each before, after) leave the import
    graph of a tree of ``modules`` as it was: every target added or removed shares no
    dotted part with any module's name (see :class:`KeptGraph`)."""
    changed = {part for old, new in edits for target in old ^ new for part in target.split(".")}
    if not changed:
        return True
    return not any(part in changed for module in modules for part in module.split("."))


def words_pattern(words: Iterable[str]) -> re.Pattern[bytes]:
    """Any mention of one of ``words`` as a whole word except a ``def`` of it: a call, an
    import (``from x import name as alias``), an alias or an argument (``submit(name)``),
    or a string of the word alone (``getattr(x, "name")``). A substring would also find
    ``async_update`` for ``update``, in most files. Not the end of a longer string
    (``mocker.patch("pkg.service.webhook.send")``: a name followed by a quote is no name
    of the code, and such a string invokes nothing; polar's tests patch a `send` in
    eighteen files, 1.1 MB, otherwise extracted again for a helper of that name)."""
    alternatives = b"|".join(re.escape(w.encode()) for w in sorted(set(words)))
    return re.compile(
        rb"(?<!def )(?:(?<=[\"'])(?:" + alternatives + rb")(?=[\"'])"
        rb"|\b(?:" + alternatives + rb")\b(?![\"']))"
    )


@functools.lru_cache(maxsize=256)
def attributes_pattern(words: tuple[str, ...]) -> re.Pattern[bytes]:
    """A mention of one of ``words`` as an attribute (``x.session``, ``x\n    .session``)
    or a string (``getattr(x, "session")``). homeassistant names ``session`` as a
    variable in hundreds of files that never read a class's ``session``. Not the end of
    a dotted string (``mocker.patch("pkg.Client.session")``, see :func:`words_pattern`)."""
    alternatives = b"|".join(re.escape(w.encode()) for w in sorted(set(words)))
    return re.compile(
        rb"(?:\.\s*(?:" + alternatives + rb")\b(?![\"'])|[\"'](?:" + alternatives + rb")\b)"
    )


def select(
    paths: Sequence[str],
    helpers: Iterable[Helper],
    graph: ImportGraph | RecordedGraph,
    read: Callable[[str], bytes | None],
    search: Search = searched,
    *,
    objects: Container[str] = frozenset(),
) -> list[str]:
    """The files of ``paths`` (in their order) that may invoke one of ``helpers``, or use
    one of them that is among ``objects``, client objects held in a variable.

    Each file's text is tested for the words it must name and the holders it may have
    (what the import graph says of it): files tested alike are one text search of
    ``search`` (``app/demand.py``'s ``Search``), which may answer it from an earlier one."""
    # The helpers by defining module: a file is connected to a module's helpers alike, so
    # each module's connected files are walked once (homeassistant asks for some thirty
    # helpers of twenty modules, each connected to thousands of files).
    #: module (None: outside every known module) -> its helpers' words (``.name`` for one
    #: other files name only as an attribute, :meth:`Helper.attribute_of`)
    words_of: dict[str | None, set[str]] = {}
    #: module -> the words of those, as its own files may name them (``session`` in the
    #: function defining it)
    own_of: dict[str, set[str]] = {}
    #: module -> (class name in snake case, method words) a parameter may hold and call
    holders_of: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    modules = set(graph.files_of)
    for helper in helpers:
        module = defining_module(helper.qualname, modules)
        words = helper.words
        if helper.qualname in objects and module is not None and helper.attribute_of(module):
            words_of.setdefault(module, set()).update(f".{w}" for w in words)
            own_of.setdefault(module, set()).update(words)
        else:
            words_of.setdefault(module, set()).update(words)
        holder = helper.holder
        if holder is not None and module is not None:
            holders_of.setdefault(module, []).append((holder, words))
    among = set(paths)
    #: path -> the word sets (by position in ``named_by``) it must name one of
    wanted: dict[str, list[int]] = {}
    named_by: list[set[str]] = []
    for module, module_words in words_of.items():
        # a helper outside every known module (cannot happen for facts of this scan):
        # every file may name it
        files = graph.connected(module) if module is not None else among
        at = len(named_by)
        named_by.append(module_words)
        # only the files of ``paths`` are tested: a rerun selects among its edited files
        # alone, whose helpers' modules may be connected to thousands
        for path in files if len(files) <= len(among) else among.intersection(files):
            if path in among:
                wanted.setdefault(path, []).append(at)
    for module, module_words in own_of.items():
        at = len(named_by)
        named_by.append(module_words)
        for path in graph.files_of.get(module, ()):
            if path in among:
                wanted.setdefault(path, []).append(at)
    #: path -> (class name in snake case, method words) a parameter may hold and call
    held: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for module, pairs in holders_of.items():
        # `def load(self, fetcher): fetcher.fetch(path)` in a module that need not
        # import the class (the object is handed in): one of the package's files
        package = {posixpath.dirname(p) for p in graph.files_of.get(module, ())}
        # one prefix test per path (a tree's paths for each module with a holder)
        inside = "" in package
        prefixes = tuple(f"{d}/" for d in package)
        for path in paths:
            if inside or path.startswith(prefixes):
                held.setdefault(path, []).extend(pairs)
    #: the words named by the word sets of each combination a file has, sorted
    combined: dict[tuple[int, ...], tuple[str, ...]] = {}
    #: (words, holders) -> the files to test for them, in order
    alike: dict[tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]], list[str]] = {}
    for path in paths:
        sets = tuple(wanted.get(path, ()))
        named = combined.get(sets)
        if named is None:
            named = combined[sets] = tuple(sorted(set().union(*(named_by[i] for i in sets))))
        holding = held.get(path, [])
        if named or holding:
            alike.setdefault((named, tuple(sorted(set(holding)))), []).append(path)
    found: set[str] = set()
    for (words, holders), group in alike.items():
        test = functools.partial(_invoking, words=words, holders=holders, read=read)
        found.update(
            search("invokes", [[list(words), [[h, list(n)] for h, n in holders]]], group, test)
        )
    return [p for p in paths if p in found]


def _invoking(
    paths: list[str],
    words: tuple[str, ...],
    holders: tuple[tuple[str, tuple[str, ...]], ...],
    read: Callable[[str], bytes | None],
) -> list[str]:
    """Those of ``paths`` naming one of ``words`` (``.name``: as an attribute), or one of
    ``holders`` with its words."""
    plain = [w for w in words if not w.startswith(".")]
    attributes = tuple(w[1:] for w in words if w.startswith("."))
    needles = [w.encode() for w in (*plain, *attributes)]
    # each pattern made once for the group, not for each file that holds a needle
    patterns = [
        *([words_pattern(plain)] if plain else []),
        *([attributes_pattern(attributes)] if attributes else []),
    ]
    held = [
        (holder.encode(), words_pattern([holder]), words_pattern(names))
        for holder, names in holders
    ]
    out = []
    for path in paths:
        data = read(path)
        if data is None:
            continue
        if any(n in data for n in needles) and any(p.search(data) for p in patterns):
            out.append(path)
            continue
        if any(
            needle in data and holder.search(data) and named.search(data)
            for needle, holder, named in held
        ):
            out.append(path)
    return out
