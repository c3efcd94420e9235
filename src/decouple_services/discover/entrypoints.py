"""Which Python file a container runs, from its command line.

Compose services built from one shared context (``context: .`` with a Dockerfile each)
would all own the whole tree; the module their command runs says which part is theirs:
``python -m scripts.workers.submission_worker`` runs ``scripts/workers/``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Collection

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
#: Interpreter options that take no value; anything else stops the search.
_FLAGS = frozenset({"-u", "-B", "-O", "-OO", "-E", "-s", "-S", "-I", "-b", "-bb", "-q"})


#: Servers started with ``module:app`` (``uvicorn orders.main:app``).
_APP_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "granian"})
_APP_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\(\))?")


def served_module(command: str, context: str, python_files: Collection[str]) -> str | None:
    """The repo-relative file holding the app ``uvicorn orders.main:app`` (gunicorn,
    hypercorn, daphne, granian) serves in ``command``, when it is one of ``python_files``
    under the build ``context``. Unlike a module ``python -m`` runs, it says which file is
    the service's, not which folder: the app module is one part of the code it serves."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        if posixpath.basename(word) not in _APP_SERVERS:
            continue
        target = next((w for w in words[index + 1 :] if _APP_TARGET.fullmatch(w)), None)
        if target is not None:
            stem = target.partition(":")[0].replace(".", "/")
            path = posixpath.normpath(posixpath.join(context, f"{stem}.py"))
            if path in python_files:
                return path
    return None


def entry_file(command: str, context: str, python_files: Collection[str]) -> str | None:
    """The repo-relative file ``python -m pkg.mod`` or ``python path/to/file.py`` runs in
    ``command``, when it is one of ``python_files`` under the build ``context``."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        if not _PYTHON.match(posixpath.basename(word)):
            continue
        rest = words[index + 1 :]
        while rest and rest[0] in _FLAGS:
            rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "-m":
            stem = rest[1].replace(".", "/")
            candidates = [f"{stem}.py", f"{stem}/__main__.py"]
        elif rest and rest[0].endswith(".py"):
            candidates = [rest[0].removeprefix("./")]
        else:
            continue
        for candidate in candidates:
            path = posixpath.normpath(posixpath.join(context, candidate))
            if path in python_files:
                return path
    return None


#: Interpreters of other languages whose first argument is the script they run.
_OTHER_RUNTIMES = frozenset({"node", "nodejs", "deno", "bun", "ruby", "php"})


def foreign_script_folder(command: str, context: str) -> str | None:
    """The repo-relative folder of the script ``node kuma/javascript/ssr-server.js`` runs in
    ``command``: a service built from a Python tree that runs another language's script owns
    that folder, not the Python code around it. None for anything else."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words[:-1]):
        if posixpath.basename(word) not in _OTHER_RUNTIMES:
            continue
        script = next((w for w in words[index + 1 :] if not w.startswith("-")), None)
        if script is None or "/" not in script.strip("/") or script.startswith(("/", "..")):
            return None
        folder = posixpath.normpath(posixpath.join(context, posixpath.dirname(script)))
        return None if folder.startswith("..") else folder
    return None
