"""The repository's own tests a rewrite affects: those that patch the call it replaces,
and those that read at once what an event now does later.

A unit test that stands in for the callee with ``mock.patch("app.utils.kernel_request")``
(or ``mock.patch("requests.post")``) and asserts that it was called tests the call, not
the outcome: once the call is a send, nothing calls the patched name, the send goes
unpatched (and raises ``EventNotAccepted`` where no broker is configured), and the test
fails. Run on real code (bench/README.md, the corpus's own tests before and after), such
tests were the one failure the rewrite caused. The migration cannot keep them passing, so
it names them: each is to patch the producer's send instead.

A test that calls the caller's endpoint and then reads the callee's state (an end-to-end
test through the gateway: check out, then read the stock) reads what a compensation used
to have done before the caller answered; as an event it is done after the consumer's lag,
so such a test may read the state before it (:func:`reading_tests`).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from decouple_services.core.fs import read_regular
from decouple_services.core.model import CallSite, Category, Role
from decouple_services.detect.extract import decode_source

#: ``patch("a.b.c")``, ``mock.patch("a.b.c", ...)``, ``mocker.patch(target="a.b.c")``.
_PATCH = re.compile(r"""\bpatch\(\s*(?:target\s*=\s*)?['"]([\w.]+)['"]""")
#: ``patch.object(utils, "kernel_request")``.
_PATCH_OBJECT = re.compile(r"""\bpatch\.object\(\s*([\w.]+)\s*,\s*['"](\w+)['"]""")

#: Folders that hold no test of the service's own.
_SKIPPED = frozenset({"node_modules", "vendor", "third_party", "dist", "build", "__pycache__"})

#: At most this many tests are named per site: past it, the note says how many more.
_SHOWN = 3


def _is_test_file(path: Path) -> bool:
    name = path.name
    return name.endswith(".py") and (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name in ("tests.py", "conftest.py")
        or "tests" in path.parts
    )


def find_test_files(folder: Path) -> Iterator[Path]:
    """The Python test files under ``folder``, in a stable order."""
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        for name in sorted(files):
            path = Path(current) / name
            if _is_test_file(path.relative_to(folder)):
                yield path


def replaced_names(site: CallSite, module: str | None) -> tuple[set[str], set[str]]:
    """``(targets, names)``: the dotted names a test patches to stand in for this site's
    call (``app.utils.kernel_request``, ``requests.post``, ``app.utils.requests.post``), and
    the attribute names ``patch.object`` gives for it (``kernel_request``)."""
    targets: set[str] = set()
    names: set[str] = set()
    if site.via_wrapper:
        # ``utils.kernel_request`` or ``clients.Api.post``: the function, or the method and
        # its class, as the module the site's file imports it from names it
        parts = site.via_wrapper.split(".")
        tail = ".".join(parts[-2:]) if len(parts) > 1 and parts[-2][:1].isupper() else parts[-1]
        names.add(parts[-1])
        targets.add(tail)
        if module:
            targets.add(f"{module}.{tail}")
        targets.add(site.via_wrapper)
    elif site.method and site.client:
        method = site.method.lower()
        client = site.client.split(".")[-1]
        targets.add(f"{site.client}.{method}")
        names.add(method)
        # the client as the caller's module names it (``app.utils.requests``, or the
        # function ``request`` it imported from an SDK), whose import the rewrite may drop
        targets.add(site.client)
        names.add(client)
        if module:
            targets.add(f"{module}.{client}.{method}")
            targets.add(f"{module}.{client}")
    return targets, names


#: A test line that patches something, with its ``file:line``: what is matched per site.
PatchLine = tuple[str, str]


def patch_lines(repo_root: str | None, service_root: str) -> list[PatchLine]:
    """``(file:line, line)`` of each line of the test files under a service's root that
    patches something (read once per service, then matched against each of its sites)."""
    if repo_root is None:
        return []
    root = Path(repo_root)
    folder = root / service_root
    if not folder.is_dir():
        return []
    out: list[PatchLine] = []
    for path in find_test_files(folder):
        try:
            # read as the scan reads it: a test file with a BOM or a coding cookie too
            text = decode_source(read_regular(path))
        except OSError:
            continue
        where = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), start=1):
            if "patch" in line:
                out.append((f"{where}:{number}", line))
    return out


def patching_tests(lines: list[PatchLine], site: CallSite, module: str | None) -> list[str]:
    """``file:line`` of each of ``lines`` (:func:`patch_lines` of the caller service) that
    patches the name this site called: ``mock.patch("app.utils.kernel_request")`` matches
    ``kernel_request`` called from ``app/utils.py`` through the helper."""
    targets, names = replaced_names(site, module)
    if not targets:
        return []
    owner = (module or "").rsplit(".", 1)[-1]
    found: list[str] = []
    for where, line in lines:
        hit = any(
            m.group(1) in targets or any(m.group(1).endswith("." + t) for t in targets)
            for m in _PATCH.finditer(line)
        ) or any(
            m.group(2) in names and m.group(1).rsplit(".", 1)[-1] in (owner, "requests")
            for m in _PATCH_OBJECT.finditer(line)
        )
        if hit:
            found.append(where)
    return found


def patching_note(found: list[str], module: str | None, send: str) -> str | None:
    """The site's note naming the tests that patch its replaced call, or None."""
    if not found:
        return None
    shown = ", ".join(found[:_SHOWN])
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    where = f"`{module}.{send}`" if module else f"`{send}`"
    return (
        f"tests that patch the call this site made ({shown}{more}) stand in for a call "
        f"that no longer happens here: where they run this site, patch {where} instead, "
        "or they fail (the send raises `EventNotAccepted` where no broker is configured)"
    )


#: HTTP methods that only read, and the first words of an RPC that only reads.
_READ_METHODS = frozenset({"GET", "HEAD"})
_READ_RPC = re.compile(r"^(?:get|list|find|search|read|fetch|lookup)(?:[A-Z_]|$)")


def _reads(site: CallSite) -> bool:
    method = site.method or ""
    if site.client == "grpc":
        return bool(_READ_RPC.match(method))
    return method.upper() in _READ_METHODS


def _test_calls(
    sites: Sequence[CallSite], service: str, reads: bool
) -> tuple[set[tuple[str, int]], set[str]]:
    """``(positions, helpers)``: where the repository's tests call ``service`` (its reads,
    or its other calls), and the names of the test helpers that make such a call
    (``checkout_order`` in ``test/utils.py``), which tests call instead."""
    positions: set[tuple[str, int]] = set()
    helpers: set[str] = set()
    for site in sites:
        if site.category is not Category.TEST or site.role is not Role.CALL:
            continue
        if site.callee != service or _reads(site) != reads:
            continue
        positions.add((site.file, site.line))
        name = site.function.rsplit(".", 1)[-1]
        if not name.startswith(("test", "<")):
            helpers.add(name)
    return positions, helpers


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def reading_tests(
    repo_root: str | None, sites: Sequence[CallSite], caller: str, callee: str
) -> list[str]:
    """``file:line`` of each read of ``callee`` that a test function of the repository
    makes after it called ``caller`` (its endpoints that are not reads), found through the
    scan's call sites in tests (``sites``): directly, or through the test helper that holds
    one (``tu.checkout_order(order_id)``, then ``tu.find_item(item_id)``)."""
    if repo_root is None:
        return []
    writes, write_helpers = _test_calls(sites, caller, reads=False)
    reads, read_helpers = _test_calls(sites, callee, reads=True)
    if not (writes and reads):
        return []
    root = Path(repo_root)
    names = write_helpers | read_helpers
    found: list[str] = []
    for path in find_test_files(root):
        where = path.relative_to(root).as_posix()
        try:
            # read as the scan reads it: a test file with a BOM or a coding cookie too
            text = decode_source(read_regular(path))
        except OSError:
            continue
        if not any(name in text for name in names) and not any(f == where for f, _ in writes):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = sorted(
                (n for n in ast.walk(function) if isinstance(n, ast.Call)),
                key=lambda n: (n.lineno, n.col_offset),
            )
            wrote = False
            for call in calls:
                at = (where, call.lineno)
                if at in writes or _called(call) in write_helpers:
                    wrote = True
                elif wrote and (at in reads or _called(call) in read_helpers):
                    found.append(f"{where}:{call.lineno}")
    return sorted(set(found), key=_by_file_and_line)


def _by_file_and_line(where: str) -> tuple[str, int]:
    file, _, line = where.rpartition(":")
    return file, int(line)
