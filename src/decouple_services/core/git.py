"""How decouple runs git in a repository it scans or migrates.

A repository's own ``.git/config`` can name programs git runs on the way: ``core.fsmonitor``
is run by any command that looks at the work tree (``status``, ``ls-files``...). A tree
from someone else (an unpacked archive, a shared folder) must not run anything because
decouple listed its files, so every git call goes through :func:`git_argv`, which turns
those settings off on the command line (``-c`` wins over every configuration file), and
:func:`git_env`, which keeps git from writing the index behind a read and from prompting.

The commands decouple runs (``rev-parse``, ``ls-files``, ``check-ignore``, ``log``,
``status``, ``check-ref-format``, ``read-tree``, ``hash-object --stdin``, ``update-index``,
``write-tree``, ``commit-tree``, ``branch``) run no hooks; ``hash-object --stdin`` without
``--path`` applies no filters; output is captured, so no pager starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: ``typing.TYPE_CHECKING`` without importing ``typing`` (see ``cli/__init__.py``)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence
    from typing import Any, TypeAlias

#: ``-c`` settings given to every git call into a scanned repository.
HARDENING = (
    # a program git would run to learn which files changed
    "core.fsmonitor=",
    # nor its built-in daemon, which would outlive the command
    "core.useBuiltinFSMonitor=false",
)


def git_argv(root: str | os.PathLike[str] | None, *args: str) -> list[str]:
    """``git`` with :data:`HARDENING`, run in ``root`` (``-C``) when given."""
    argv = ["git", "--no-pager"]
    for setting in HARDENING:
        argv += ["-c", setting]
    if root is not None:
        argv += ["-C", os.fspath(root)]
    return [*argv, *args]


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: no optional index writes, no prompts, C messages."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if extra:
        env.update(extra)
    return env


#: The commands a listing asks git, which a rerun asks again (``app/replay.py``): a record
#: of answers naming any other is not trusted (the cache may be the scanned tree's own
#: ``.decouple-cache``, and a command's options could name a program to run).
IN_WORK_TREE = ("rev-parse", "--is-inside-work-tree")
IGNORE_FILES = ("ls-files", "-z", "--cached", "--", ".gitignore", "**/.gitignore")
INFO_EXCLUDE = ("rev-parse", "--git-path", "info/exclude")
ROOT_IGNORED = ("check-ignore", "-q", ".")
LISTED = ("ls-files", "--cached", "--others", "--exclude-standard", "-z")
TRACKED_IGNORED = ("ls-files", "--cached", "--ignored", "--exclude-standard", "-z")
LISTING_COMMANDS = (IN_WORK_TREE, IGNORE_FILES, INFO_EXCLUDE, ROOT_IGNORED, LISTED, TRACKED_IGNORED)


#: What git answered a listing: each command run (its arguments), its exit status and the
#: digest of its output (:func:`git_answer`), in the order they ran.
GitAnswers: TypeAlias = "list[list[Any]]"


def run_git(
    root: str | os.PathLike[str], *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``git args`` in ``root`` (:func:`git_argv`), its output captured, within two minutes
    (``subprocess.TimeoutExpired`` past them); ``env`` defaults to :func:`git_env`."""
    import subprocess

    return subprocess.run(
        git_argv(root, *args),
        capture_output=True,
        timeout=120,
        check=False,
        env=git_env() if env is None else env,
    )


def git_answer(args: Sequence[str], done: subprocess.CompletedProcess[bytes]) -> list[Any]:
    """What a listing keeps of a command's answer (an item of :data:`GitAnswers`): its
    arguments, exit status and a digest of what it wrote to stdout, then to stderr. The
    listing (``discover/files.py``) keeps them, a replay (``app/replay.py``) compares them
    with the answers of the same commands run again."""
    import hashlib

    hashed = hashlib.sha256(done.stdout)
    hashed.update(b"\0")
    hashed.update(done.stderr)
    return [list(args), done.returncode, hashed.hexdigest()]
