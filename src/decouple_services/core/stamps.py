"""What tells that a path, or decouple's own code, changed since it was last seen.

Standard library only: a rerun whose inputs did not change decides that before importing
anything else (see ``app/replay.py``), so these must cost nothing to import.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat

from decouple_services import __version__

#: A file modified this close to the moment its stat is recorded may be modified again in
#: the same timestamp tick, keeping its size and mtime: its stat then proves nothing.
RACY_NS = 100_000_000
#: The same on a filesystem whose mtimes have whole seconds only.
RACY_COARSE_NS = 2_000_000_000


def is_racy(mtime_ns: int, now_ns: int) -> bool:
    """Whether a file modified at ``mtime_ns`` is too recent at ``now_ns`` for its size and
    mtime to prove it unchanged later (see :data:`RACY_NS`)."""
    window = RACY_COARSE_NS if mtime_ns % 1_000_000_000 == 0 else RACY_NS
    return mtime_ns > now_ns - window


def stamp_of(path: str) -> list[int] | None:
    """What tells a path changed: mtime, size, inode and type (None: missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino, stat.S_IFMT(st.st_mode)]


@functools.cache
def code_version() -> str:
    """decouple's version and a stamp of its own code (size and mtime of each module).

    Part of every key: an editable install, or a release rebuilt without a version bump,
    must never hand back facts or results that older code produced.
    """
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    stamp = hashlib.sha256(__version__.encode())
    for line in sorted(_module_stamps(package)):
        stamp.update(line.encode())
    return f"{__version__}+{stamp.hexdigest()[:12]}"


def _module_stamps(package: str) -> list[str]:
    """``path\\0size\\0mtime_ns\\n`` for each ``.py`` file under ``package`` (path relative
    to it, ``/``-separated), ``__pycache__`` folders left out."""
    start = len(os.path.join(package, ""))
    lines = []
    # every run asks (a nothing-changed rerun is a few times its cost): os.scandir and
    # the paths cut, not os.walk and os.path.relpath (3.7 ms against 1.4 ms); as os.walk,
    # a link to a folder is not followed, and a folder that cannot be listed is passed over
    folders = [package]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                found = list(entries)
        except OSError:
            continue
        for entry in found:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if name != "__pycache__" and not entry.is_symlink():
                    folders.append(entry.path)
                continue
            if not name.endswith(".py"):
                continue
            try:
                info = os.stat(entry.path)
            except OSError:
                continue
            rel = entry.path[start:].replace(os.sep, "/")
            lines.append(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n")
    return lines


def may_be_in_work_tree(root: str | os.PathLike[str]) -> bool:
    """Whether git may find a work tree around ``root``: a ``.git`` in it or a folder above
    it, or the environment naming one. Without either, git would answer no, and a tree
    unpacked from an archive is listed without starting it."""
    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return True
    folder = os.path.abspath(root)
    while True:
        if os.path.lexists(os.path.join(folder, ".git")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
