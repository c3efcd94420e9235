"""The only ways decouple reads a repository's files and writes its outputs.

Reading: :func:`read_regular` opens a path without blocking (``O_NONBLOCK``, so a FIFO
cannot hang the scan), checks what it opened with ``fstat`` on the descriptor (not on the
name, which could be swapped in between), refuses anything but a regular file, and stops
at a size cap. :func:`read_in_root` adds the check that the path, links resolved, stays
inside the scanned tree.

Writing: :func:`write_output` puts text where the user asked: ``-`` is stdout; a device, a
FIFO or ``/dev/stdout`` is written in place (renaming a file over ``/dev/null`` would
replace the device for every program on the machine); a regular file is replaced through
a temporary file and a rename, so no reader ever sees half of it, keeping the mode of the
file it replaces (a new file gets ``0666 & ~umask``, as any editor would give it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator

#: What is read of one source, deployment, configuration or cache file at most.
MAX_TEXT_BYTES = 5 * 2**20


class ReadRefused(OSError):
    """A file decouple will not read; ``code`` is the diagnostic code, ``strerror`` why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.strerror = message


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def kind_of(mode: int) -> str:
    """``a FIFO``, ``a directory``...: what a non-regular file is, for a message."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


#: The last file this process opened for reading: named when an unexpected error ends the
#: command, as the likeliest cause.
last_read: str | None = None


def read_regular(path: str | os.PathLike[str], max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    Raises:
        ReadRefused: not a regular file (``not-regular``) or too large (``too-large``).
        OSError: it cannot be opened or read.
    """
    global last_read
    last_read = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadRefused("not-regular", f"{kind_of(st.st_mode)}, not a regular file; not read")
        if st.st_size > max_bytes:
            raise ReadRefused("too-large", _too_large(max_bytes))
        chunks = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 2**20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:  # it grew after the fstat
            raise ReadRefused("too-large", _too_large(max_bytes))
        return data
    finally:
        os.close(fd)


def _too_large(max_bytes: int) -> str:
    return f"larger than {max_bytes} bytes; not read"


def inside(root_real: str, real: str) -> bool:
    """Whether a resolved path is ``root_real`` or below it."""
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def read_in_root(root: str | os.PathLike[str], rel: str, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """:func:`read_regular` for a repo-relative path whose target, links resolved, is inside
    ``root``.

    Raises:
        ReadRefused: ``outside`` when the path leads out of the tree, or as read_regular.
        OSError: as read_regular.
    """
    root_real = os.path.realpath(root)
    path = os.path.join(root_real, rel)
    if os.path.isabs(rel) or not inside(root_real, os.path.realpath(path)):
        raise ReadRefused("outside", "points outside the scanned tree; not read")
    return read_regular(path, max_bytes)


#: Characters of a text encoded and written at a time (:func:`text_chunks`).
TEXT_CHUNK = 2**20


def text_chunks(text: str, size: int | None = None) -> Iterator[bytes]:
    """``text.encode()`` in pieces of ``size`` characters: the same bytes (UTF-8 encodes
    each character alone), without a copy of a large text held beside it (a large tree's
    JSON is tens of MB); ``size`` defaults to :data:`TEXT_CHUNK`."""
    size = size or TEXT_CHUNK
    for start in range(0, len(text), size):
        yield text[start : start + size].encode()


def text_pieces(text: str | list[str]) -> list[str]:
    """A text given whole or as the pieces it is joined from, as pieces."""
    return [text] if isinstance(text, str) else text


def write_output(path: str | os.PathLike[str], data: str | bytes | list[str]) -> str | None:
    """Write an output where the user asked for it (see the module docstring). A list is
    the pieces of a text, written in turn (a regular file) or joined.

    Returns the file actually replaced when ``path`` is a symlink to it (for a message:
    the link stays, its target changes), else None.

    Raises:
        OSError: it cannot be written (a directory, a dangling link, no permission...).
    """
    name = os.fspath(path)
    if name == "-":
        if isinstance(data, list):
            data = "".join(data)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return None
    try:
        st: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        st = None
        if os.path.islink(name):
            raise FileNotFoundError(
                2, f"a symlink to {os.readlink(name)}, which does not exist"
            ) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory")
    if st is not None and (not stat.S_ISREG(st.st_mode) or _is_special_path(name)):
        # Devices, FIFOs, /dev/stdout (also when it is a file the shell opened): through
        # the name, in place; never renamed over.
        flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
        if isinstance(data, list):
            data = "".join(data)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        fd = os.open(name, flags)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        return None
    target = os.path.realpath(name)  # a link to a regular file: replace the file
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    fd, tmp = temporary_file(os.path.dirname(target), f".{os.path.basename(target)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, str | list):
                # a text that cannot be encoded fails here, and the file it would replace
                # is left as it was
                for piece in text_pieces(data):
                    for chunk in text_chunks(piece):
                        handle.write(chunk)
            else:
                handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target if os.path.islink(name) else None


def temporary_file(folder: str, prefix: str = "") -> tuple[int, str]:
    """A new file in ``folder`` opened for writing, only by its owner, and its path: what
    ``tempfile.mkstemp`` makes, without importing ``tempfile`` (with ``shutil``, ``random``
    and the compression modules under it: a rerun writes files but needs none of them)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(17, f"no unused temporary name in {folder}")


def _is_special_path(name: str) -> bool:
    real = os.path.abspath(name)
    return real.startswith(("/dev/", "/proc/"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
