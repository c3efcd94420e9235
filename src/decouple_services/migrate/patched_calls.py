"""The caller's own tests that patch the call a rewrite replaces.

A unit test that stands in for the callee with ``mock.patch("app.utils.kernel_request")``
(or ``mock.patch("requests.post")``) and asserts that it was called tests the call, not
the outcome: once the call is a send, nothing calls the patched name, the send goes
unpatched (and raises ``EventNotAccepted`` where no broker is configured), and the test
fails. Run on real code (bench/README.md, the corpus's own tests before and after), such
tests were the one failure the rewrite caused. The migration cannot keep them passing, so
it names them: each is to patch the producer's send instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from decouple_services.core.model import CallSite

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
            text = path.read_text(encoding="utf-8", errors="replace")
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
