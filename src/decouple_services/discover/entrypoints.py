"""Which Python file a container runs, from its command line.

Compose services built from one shared context (``context: .`` with a Dockerfile each)
would all own the whole tree; the module their command runs says which part is theirs:
``python -m scripts.workers.submission_worker`` runs ``scripts/workers/``.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
from collections.abc import Callable, Collection, Mapping

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


def entry_file(
    command: str,
    context: str,
    python_files: Collection[str],
    scripts: Mapping[str, str] | None = None,
) -> str | None:
    """The repo-relative file ``python -m pkg.mod`` or ``python path/to/file.py`` runs in
    ``command``, when it is one of ``python_files`` under the build ``context``. With
    ``scripts`` (console script name -> module, from :func:`console_scripts`), a command
    that runs an installed script (``metadata_service --port 8080``) runs its module."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        module = scripts.get(posixpath.basename(word)) if scripts else None
        if module is not None:
            found = _module_file(module, context, python_files)
            if found is not None:
                return found
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


def _module_file(module: str, context: str, python_files: Collection[str]) -> str | None:
    stem = module.replace(".", "/")
    for candidate in (f"{stem}.py", f"{stem}/__main__.py", f"{stem}/__init__.py"):
        path = posixpath.normpath(posixpath.join(context, candidate))
        if path in python_files:
            return path
    return None


_SCRIPT_ENTRY = re.compile(r"""["']\s*([A-Za-z0-9_][\w.-]*)\s*=\s*([A-Za-z_][\w.]*)\s*:""")


def console_scripts(text: str, file: str) -> dict[str, str]:
    """Console script name -> module, as a package's metadata declares them:
    ``[project.scripts]`` or ``[tool.poetry.scripts]`` in pyproject.toml,
    ``[options.entry_points] console_scripts`` in setup.cfg, ``entry_points`` in
    setup.py (read, not run: the ``"name=module:function"`` strings). Nothing for a file
    that cannot be read as its kind."""
    name = posixpath.basename(file)
    found: dict[str, str] = {}
    # the parsers are imported for a file of their kind: most trees discovery reads hold none
    if name == "pyproject.toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}
        tables = [
            data.get("project", {}).get("scripts"),
            data.get("tool", {}).get("poetry", {}).get("scripts"),
        ]
        for table in tables:
            if isinstance(table, dict):
                for script, target in table.items():
                    if isinstance(target, str) and ":" in target:
                        found[script] = target.partition(":")[0].strip()
    elif name == "setup.cfg":
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            block = parser.get("options.entry_points", "console_scripts", fallback="")
        except configparser.Error:
            return {}
        for line in block.splitlines():
            script, equals, target = line.partition("=")
            if equals and ":" in target:
                found[script.strip()] = target.partition(":")[0].strip()
    elif name == "setup.py" and "console_scripts" in text:
        for line in text.splitlines():
            # one entry a line, also inside the triple-quoted form: `name=module:function`
            match = _SCRIPT_ENTRY.search(line) or _SCRIPT_ENTRY.search(f'"{line.strip()}')
            if match is not None:
                found[match.group(1)] = match.group(2)
    return found


#: A command that runs a shell script (``sh start.sh``, ``./docker/entrypoint.sh``).
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash"})


def shell_scripts(command: str) -> list[str]:
    """The shell scripts ``command`` runs, as written (``/code/docker/start.sh``): its
    words ending in ``.sh``, and the first argument of a shell that is not an option."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    found = [w for w in words if w.endswith(".sh")]
    for index, word in enumerate(words[:-1]):
        if posixpath.basename(word) in _SHELLS:
            nxt = words[index + 1]
            if not nxt.startswith("-") and nxt not in found:
                found.append(nxt)
    return found


def script_in_tree(path: str, context: str, exists: Callable[[str], bool]) -> str | None:
    """The repo-relative file a script path of the image stands for: relative paths are
    read from the build context; an absolute one (``/code/docker/start.sh``, the context
    copied to ``/code``) loses leading folders until what remains is a file of the
    context."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    tries = [parts] if not path.startswith("/") else [parts[i:] for i in range(len(parts))]
    for rest in tries:
        candidate = posixpath.normpath(posixpath.join(context, *rest))
        if exists(candidate):
            return candidate
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


def imported_files(
    source: str, path: str, python_files: Collection[str], bases: Collection[str]
) -> set[str]:
    """The files of ``python_files`` the module at ``path`` imports: relative imports
    from its package, absolute ones from each of ``bases`` (the folders its process may
    run from: the build context, the repository). ``from pkg import mod`` gives
    ``pkg/mod.py`` when that is a module, else ``pkg/__init__.py``. Nothing for source
    that does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = posixpath.dirname(path)
    found: set[str] = set()

    def add(stem: str, names: Collection[str] = ()) -> None:
        for name in names:
            module = _module_file_at(f"{stem}/{name}" if stem else name, python_files)
            if module is not None:
                found.add(module)
        module = _module_file_at(stem, python_files) if stem else None
        if module is not None:
            found.add(module)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                for base in bases:
                    add(_join(base, alias.name.replace(".", "/")))
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if a.name != "*"]
            dotted = (node.module or "").replace(".", "/")
            if node.level:
                start = package
                for _ in range(node.level - 1):
                    start = posixpath.dirname(start)
                add(_join(start, dotted), names)
            elif dotted:
                for base in bases:
                    add(_join(base, dotted), names)
    return found


def _join(base: str, stem: str) -> str:
    if not stem:
        return "" if base in ("", ".") else base
    return stem if base in ("", ".") else f"{base}/{stem}"


def _module_file_at(stem: str, python_files: Collection[str]) -> str | None:
    for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
        if candidate in python_files:
            return candidate
    return None


#: Calls that start a server and block: the process is that server.
_SERVE_CALLS = frozenset(
    {"run_app", "uvicorn.run", "hypercorn.run", "waitress.serve", "wait_for_termination"}
)
#: Web frameworks whose application object has a blocking ``run(host=..., port=...)``.
_RUN_FRAMEWORKS = ("flask", "quart", "sanic", "bottle", "fastapi")
#: Cheap test before parsing: only a module mentioning one of these may start a server.
_SERVE_HINT = re.compile(
    r"run_app|uvicorn\.run|hypercorn|waitress|wait_for_termination|\.run\(|\.launch\("
)
#: UI frameworks whose application's ``launch(server_name=..., server_port=...)`` serves it.
_LAUNCH_FRAMEWORKS = ("gradio",)


def starts_server(source: str) -> bool:
    """Whether a module run as a program starts a server: its ``if __name__ ==
    "__main__":`` block calls ``web.run_app(...)``, ``uvicorn.run(...)``,
    ``waitress.serve(...)``, a gRPC server's ``wait_for_termination()``, or, in a module
    importing a web framework, ``app.run(...)`` with a ``host`` or ``port`` (Gradio's
    ``demo.launch(...)`` with a ``server_name`` or ``server_port``)."""
    if "__main__" not in source or _SERVE_HINT.search(source) is None:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    imported = {
        name.split(".")[0]
        for n in tree.body
        for name in (
            [a.name for a in n.names]
            if isinstance(n, ast.Import)
            else [n.module or ""]
            if isinstance(n, ast.ImportFrom) and not n.level
            else []
        )
    }
    framework = bool(imported.intersection(_RUN_FRAMEWORKS))
    launches = bool(imported.intersection(_LAUNCH_FRAMEWORKS))
    functions = {
        n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    for block in tree.body:
        if not (isinstance(block, ast.If) and is_main_test(block.test)):
            continue
        calls = [n for n in ast.walk(block) if isinstance(n, ast.Call)]
        # one level down: `if __name__ == "__main__": run()`, the server started in run()
        local = [
            functions[c.func.id]
            for c in calls
            if isinstance(c.func, ast.Name) and c.func.id in functions
        ]
        calls += [n for f in local for n in ast.walk(f) if isinstance(n, ast.Call)]
        if any(_serves(call, framework, launches) for call in calls):
            return True
    return False


def runs_as_program(source: str) -> bool:
    """Whether a module has an ``if __name__ == "__main__":`` block of its own."""
    if "__main__" not in source:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, ast.If) and is_main_test(n.test) for n in tree.body)


#: Decorators and calls registering a route, whose first argument is its path.
_ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "route", "api_route", "websocket", "add_api_route"}
)


def served_paths(source: str) -> set[str]:
    """The literal paths a module registers routes for (``@app.post("/worker_generate")``,
    ``router.add_api_route("/x", ...)``): what tells two implementations of one server
    apart from two servers. Nothing for source that does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _ROUTE_METHODS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("/")
        ):
            found.add(node.args[0].value)
    return found


def _serves(call: ast.Call, framework: bool, launches: bool) -> bool:
    name = _dotted(call.func)
    if name in _SERVE_CALLS or name.rpartition(".")[2] in ("run_app", "wait_for_termination"):
        return True
    if launches and name.rpartition(".")[2] == "launch":
        return any(k.arg in ("server_name", "server_port") for k in call.keywords)
    return (
        framework
        and name.endswith(".run")
        and name != "asyncio.run"
        and any(k.arg in ("host", "port") for k in call.keywords)
    )


def is_main_test(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""
