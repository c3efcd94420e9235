"""File changes as a unified diff, an all-or-nothing write, or a git branch with one commit.

The diff is made on bytes, so a Latin-1 file or a CRLF file comes out of ``git apply`` as it
went in. Writes stage every file next to its target first and rename them into place after;
if anything fails, the files already replaced get their old bytes back and new folders go.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from decouple_services.core.errors import DecoupleError
from decouple_services.core.git import git_argv, git_env
from decouple_services.core.text import printable


class OutsideRepositoryError(DecoupleError):
    pass


class GitError(DecoupleError):
    pass


@dataclass(frozen=True, slots=True)
class FileChange:
    #: Repo-relative path with ``/``.
    path: str
    #: The bytes now (``None``: a new file).
    before: bytes | None
    after: bytes
    #: ``rewrite``, ``generated`` or ``dependencies``.
    kind: str
    executable: bool = False


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def render_diff(changes: Sequence[FileChange]) -> bytes:
    """A unified diff of ``changes`` in git's format (``git apply`` takes it)."""
    out: list[bytes] = []
    for change in changes:
        old, new = _diff_path("a/", change.path), _diff_path("b/", change.path)
        out.append(b"diff --git " + old + b" " + new + b"\n")
        mode = b"100755" if change.executable else b"100644"
        if change.before is None:
            out.append(b"new file mode " + mode + b"\n")
            out.append(b"--- /dev/null\n")
        else:
            out.append(b"--- " + old + b"\n")
        out.append(b"+++ " + new + b"\n")
        out.extend(_hunks(_lines(change.before or b""), _lines(change.after)))
    return b"".join(out)


_C_ESCAPES = {7: b"\\a", 8: b"\\b", 9: b"\\t", 10: b"\\n", 11: b"\\v", 12: b"\\f", 13: b"\\r"}
_C_ESCAPES |= {ord('"'): b'\\"', ord("\\"): b"\\\\"}


def _diff_path(prefix: str, path: str) -> bytes:
    """A path in a diff header, quoted as git quotes it when it holds control characters,
    quotes or backslashes: ``git apply`` reads it back, and a terminal shows it inert."""
    raw = (prefix + path).encode("utf-8", "surrogateescape")
    if printable(path) == path and '"' not in path and "\\" not in path:
        return raw
    out = bytearray(b'"')
    for byte in raw:
        if byte in _C_ESCAPES:
            out += _C_ESCAPES[byte]
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _hunks(a: list[bytes], b: list[bytes], context: int = 3) -> list[bytes]:
    out: list[bytes] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        a_start, a_end = first[1], last[2]
        b_start, b_end = first[3], last[4]
        out.append(
            b"@@ -"
            + _range(a_start, a_end - a_start)
            + b" +"
            + _range(b_start, b_end - b_start)
            + b" @@\n"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(b" ", line) for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend(_line(b"-", line) for line in a[i1:i2])
            if tag in ("replace", "insert"):
                out.extend(_line(b"+", line) for line in b[j1:j2])
    return out


def _range(start: int, length: int) -> bytes:
    if length == 0:
        return f"{start},0".encode()
    if length == 1:
        return f"{start + 1}".encode()
    return f"{start + 1},{length}".encode()


def _line(prefix: bytes, line: bytes) -> bytes:
    if line.endswith(b"\n"):
        return prefix + line
    return prefix + line + b"\n\\ No newline at end of file\n"


_COLOURS = {b"+": b"\x1b[32m", b"-": b"\x1b[31m", b"@": b"\x1b[36m"}


def colourise(diff: bytes) -> bytes:
    """ANSI colours for a terminal: additions green, removals red, hunks cyan, headers bold."""
    out = []
    for line in diff.splitlines(keepends=True):
        if line.startswith((b"diff --git", b"--- ", b"+++ ", b"new file mode")):
            out.append(b"\x1b[1m" + line.rstrip(b"\n") + b"\x1b[0m\n")
        elif line[:1] in _COLOURS:
            out.append(_COLOURS[line[:1]] + line.rstrip(b"\n") + b"\x1b[0m\n")
        else:
            out.append(line)
    return b"".join(out)


def _target(root: Path, path: str) -> Path:
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, path))
    if os.path.isabs(path) or os.path.commonpath([real_root, target]) != real_root:
        raise OutsideRepositoryError(f"{path}: outside the repository; nothing was written")
    return Path(target)


def _read_only(path: Path) -> bool:
    """No write permission for us, or none for anyone (a superuser could write it anyway)."""
    return not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222


def write_changes(root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change or none: stage all, then rename into place, rolling back on error.

    A read-only file is refused before anything is written: replacing it would go around
    its permission, and putting its old bytes back on error would fail.
    """
    targets = [(_target(root, c.path), c) for c in changes]
    read_only = [c.path for t, c in targets if t.exists() and _read_only(t)]
    if read_only:
        raise DecoupleError(
            f"read-only: {', '.join(read_only)}; make them writable or leave their call sites "
            "out of the migration; nothing was written"
        )
    made_dirs: list[Path] = []
    staged: list[tuple[str, Path, FileChange]] = []
    replaced: list[tuple[Path, FileChange]] = []
    try:
        for target, change in targets:
            missing = []
            parent = target.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                folder.mkdir()
                made_dirs.append(folder)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(change.after)
            mode = 0o644
            if target.exists():
                mode = stat.S_IMODE(target.stat().st_mode)
            if change.executable:
                mode |= 0o111
            os.chmod(tmp, mode)
            staged.append((tmp, target, change))
        for tmp, target, change in staged:
            os.replace(tmp, target)
            replaced.append((target, change))
    except BaseException:
        for target, change in reversed(replaced):
            if change.before is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(change.before)
        for tmp, _, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        for folder in reversed(made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


@contextlib.contextmanager
def repository_lock(root: Path) -> Iterator[None]:
    """Hold the repository (its git work tree's top folder, else ``root``) for one writing
    migration. Two at once would each plan from the files as they were and the second write
    would drop the first one's topics from the shared AsyncAPI document and topic script; the
    second is refused instead. An advisory ``flock`` on the folder itself: no lock file is
    left behind, and the lock goes with the process however it ends.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        yield
        return
    top = git_toplevel(root) or root
    fd = os.open(top, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DecoupleError(
                f"another decouple migrate is writing to {top}; run this one when it has "
                "finished, so it plans from that migration's result"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


# --- git ------------------------------------------------------------------------------------


def _git(
    root: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None
) -> str:
    try:
        done = subprocess.run(
            git_argv(None, *args),
            cwd=root,
            input=data,
            capture_output=True,
            env=git_env(env),
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed"
        raise GitError(message)
    return done.stdout.decode("utf-8", "replace")


def git_toplevel(root: Path) -> Path | None:
    try:
        return Path(_git(root, "rev-parse", "--show-toplevel").strip())
    except GitError:
        return None


def dirty_paths(root: Path) -> list[str] | None:
    """Uncommitted changes under ``root`` (``None`` when it is not in a git work tree)."""
    if git_toplevel(root) is None:
        return None
    status = _git(root, "status", "--porcelain", "--", ".")
    return [line[3:] for line in status.splitlines() if line.strip()]


def check_new_branch(root: Path, branch: str) -> Path:
    """The work tree's top folder, once ``branch`` is known to be a valid name that no
    branch has yet; else a :class:`GitError` saying which of the two it is not."""
    top = git_toplevel(root)
    if top is None:
        raise GitError(f"{root}: not inside a git work tree; --branch needs git")
    try:
        _git(root, "check-ref-format", "--branch", branch)
    except GitError as exc:
        raise GitError(f"--branch {branch!r}: not a valid branch name ({exc})") from exc
    exists = subprocess.run(
        git_argv(None, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"),
        cwd=root,
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if exists.returncode == 0:
        raise GitError(f"branch {branch} exists already; pick another name or delete it")
    return top


def commit_to_branch(
    root: Path,
    branch: str,
    changes: Sequence[FileChange],
    message: str,
    *,
    parent: str = "HEAD",
) -> str:
    """Create ``branch`` at a new commit on ``parent`` holding ``changes``; the work tree,
    the index and the current branch are left as they are. Returns the commit id."""
    top = check_new_branch(root, branch)
    prefix = os.path.relpath(os.path.realpath(root), os.path.realpath(top)).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix + "/"
    fd, index = tempfile.mkstemp(prefix="decouple-index-")
    os.close(fd)
    env = {"GIT_INDEX_FILE": index}
    try:
        os.unlink(index)
        _git(top, "read-tree", parent, env=env)
        for change in changes:
            blob = _git(top, "hash-object", "-w", "--stdin", data=change.after).strip()
            mode = "100755" if change.executable else "100644"
            _git(
                top,
                "update-index",
                "--add",
                "--cacheinfo",
                f"{mode},{blob},{prefix}{change.path}",
                env=env,
            )
        tree = _git(top, "write-tree", env=env).strip()
        commit = _git(top, "commit-tree", tree, "-p", parent, "-m", message).strip()
        _git(top, "branch", branch, commit)
        return commit
    finally:
        if os.path.exists(index):
            os.unlink(index)
