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
