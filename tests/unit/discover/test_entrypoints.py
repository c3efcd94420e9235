"""entry_file: the Python file a container's command line runs."""

from __future__ import annotations

import pytest

from decouple_services.discover.entrypoints import (
    console_scripts,
    entry_file,
    imported_files,
    runs_as_program,
    script_in_tree,
    served_module,
    served_paths,
    shell_scripts,
    starts_server,
)

FILES = {"scripts/workers/submit.py", "svc/app/__main__.py", "svc/run.py", "manage.py"}


@pytest.mark.parametrize(
    ("command", "context", "expected"),
    [
        ("python -m scripts.workers.submit", ".", "scripts/workers/submit.py"),
        (
            "./wait-for-it.sh db:5432 -- python3.12 -u -m scripts.workers.submit",
            ".",
            "scripts/workers/submit.py",
        ),
        ("python -m app", "svc", "svc/app/__main__.py"),
        ("python ./run.py --port 80", "svc", "svc/run.py"),
        ("/usr/local/bin/python run.py", "svc", "svc/run.py"),
    ],
)
def test_the_module_or_script_a_command_runs(command: str, context: str, expected: str) -> None:
    assert entry_file(command, context, FILES) == expected


@pytest.mark.parametrize(
    "command",
    [
        "gunicorn app.wsgi",  # a server importing a module, not python running one
        "sh start.sh",
        "python -m not.there",  # not a file of the tree
        "python -c 'import x'",
        'python -m "unterminated',  # not shell syntax
        "",
    ],
)
def test_no_entry_file(command: str) -> None:
    assert entry_file(command, ".", FILES) is None


@pytest.mark.parametrize(
    ("command", "context", "expected"),
    [
        ("uvicorn run:app --host 0.0.0.0 --port 8000", "svc", "svc/run.py"),
        (
            "gunicorn -w 4 -b :80 scripts.workers.submit:application",
            ".",
            "scripts/workers/submit.py",
        ),
        ("gunicorn app.wsgi", ".", None),  # a module, not module:app
        ("uvicorn not.there:app", ".", None),  # not a file of the tree
        ("python -m scripts.workers.submit", ".", None),  # not an app server
    ],
)
def test_the_module_an_app_server_serves(command: str, context: str, expected: str | None) -> None:
    assert served_module(command, context, FILES) == expected


SETUP_PY = """
setup(
    entry_points={
        "console_scripts": ["svc-run=svc.run:main", "other = not.there:main"],
    },
)
"""
SETUP_PY_TEXT_FORM = """
setup(
    entry_points=\"\"\"
        [console_scripts]
        svc-run=svc.run:main
    \"\"\",
)
"""
PYPROJECT = """
[project.scripts]
svc-run = "svc.run:main"
[tool.poetry.scripts]
migrate = "scripts.workers.submit:main"
"""
SETUP_CFG = """
[options.entry_points]
console_scripts =
    svc-run = svc.run:main
"""


@pytest.mark.parametrize(
    ("text", "file"),
    [
        (SETUP_PY, "setup.py"),
        (SETUP_PY_TEXT_FORM, "setup.py"),
        (PYPROJECT, "pyproject.toml"),
        (SETUP_CFG, "setup.cfg"),
    ],
)
def test_console_scripts_a_package_declares(text: str, file: str) -> None:
    assert console_scripts(text, file)["svc-run"] == "svc.run"


@pytest.mark.parametrize(
    ("text", "file"),
    [
        ("[project\nbroken", "pyproject.toml"),
        ("[options.entry_points\n", "setup.cfg"),
        ('setup(name="x", version="1=2:3")', "setup.py"),  # no console_scripts at all
    ],
)
def test_no_console_scripts(text: str, file: str) -> None:
    assert console_scripts(text, file) == {}


def test_a_command_running_a_console_script_runs_its_module() -> None:
    scripts = {"svc-run": "svc.run", "ghost": "not.there"}

    assert entry_file("svc-run --port 80", ".", FILES, scripts) == "svc/run.py"
    assert entry_file("/usr/local/bin/svc-run", ".", FILES, scripts) == "svc/run.py"
    assert entry_file("ghost --port 80", ".", FILES, scripts) is None
    assert entry_file("svc-run", ".", FILES) is None  # without the package's scripts


def test_the_shell_scripts_a_command_runs() -> None:
    assert shell_scripts("sh /code/docker/start.sh") == ["/code/docker/start.sh"]
    assert shell_scripts("./entrypoint.sh web") == ["./entrypoint.sh"]
    assert shell_scripts("bash run-worker") == ["run-worker"]
    assert shell_scripts('sh -c "pytest -q"') == []
    assert shell_scripts("python -m app") == []


def test_a_script_of_the_image_is_found_in_the_tree() -> None:
    files = {"ctx/docker/start.sh", "ctx/start.sh"}

    assert script_in_tree("/code/docker/start.sh", "ctx", files.__contains__) == (
        "ctx/docker/start.sh"
    )
    assert script_in_tree("./start.sh", "ctx", files.__contains__) == "ctx/start.sh"
    assert script_in_tree("docker/missing.sh", "ctx", files.__contains__) is None
    assert script_in_tree("../start.sh", "ctx/docker", files.__contains__) is None


def test_the_files_a_module_imports() -> None:
    files = {
        "jobs/__init__.py",
        "jobs/resize.py",
        "jobs/client.py",
        "jobs/common.py",
        "pkg/__init__.py",
        "pkg/util.py",
        "lib/tools.py",
    }
    source = (
        "import os\n"
        "from .client import fetch\n"
        "from jobs import common\n"
        "import pkg.util\n"
        "from tools import x\n"
    )

    found = imported_files(source, "jobs/resize.py", files, [".", "lib"])

    assert found == {
        "jobs/client.py",
        "jobs/common.py",
        "jobs/__init__.py",
        "pkg/util.py",
        "lib/tools.py",
    }
    assert imported_files("def (", "jobs/resize.py", files, ["."]) == set()


@pytest.mark.parametrize(
    "source",
    [
        'from aiohttp import web\nif __name__ == "__main__":\n    web.run_app(app, port=8080)\n',
        'import uvicorn\nif __name__ == "__main__":\n    uvicorn.run("m:app", port=8000)\n',
        "from flask import Flask\napp = Flask(__name__)\n"
        'if __name__ == "__main__":\n    app.run(host="0.0.0.0")\n',
        "def serve():\n    server.start()\n    server.wait_for_termination()\n"
        'if __name__ == "__main__":\n    serve()\n',
        'import gradio as gr\nif __name__ == "__main__":\n'
        "    demo.queue().launch(server_name=args.host, server_port=args.port)\n",
    ],
)
def test_a_program_that_starts_a_server(source: str) -> None:
    assert starts_server(source)


@pytest.mark.parametrize(
    "source",
    [
        'import asyncio\nif __name__ == "__main__":\n    asyncio.run(main())\n',
        "from aiohttp import web\nweb.run_app(app)\n",  # not run as a program
        'import unittest\nif __name__ == "__main__":\n    unittest.main()\n',
        'if __name__ == "__main__":\n    app.run(port=5000)\n',  # imports no web framework
        'from flask import Flask\nif __name__ == "__main__":\n    app.run()\n',  # CLI run
        'if __name__ == "__main__":\n    web.run_app(\n',  # does not parse
        'if __name__ == "__main__":\n    rocket.launch(server_port=1)\n',  # not gradio
        'import gradio\nif __name__ == "__main__":\n    ship.launch(at=1)\n',  # no server
    ],
)
def test_a_program_that_starts_no_server(source: str) -> None:
    assert not starts_server(source)


def test_the_paths_a_module_serves() -> None:
    source = (
        "@app.post('/generate')\ndef generate(): ...\n"
        "@router.get('/items/{item_id}')\ndef item(): ...\n"
        "app.add_api_route('/health', health)\n"
        "cache.get('key')\n"  # not a path
    )

    assert served_paths(source) == {"/generate", "/items/{item_id}", "/health"}
    assert served_paths("@app.post(") == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('import sys\n\nif __name__ == "__main__":\n    sys.exit(0)\n', True),
        ("if '__main__' == __name__:\n    pass\n", False),
        ('def main():\n    if __name__ == "__main__":\n        pass\n', False),
        ('NAME = "__main__"\n', False),
        ('if __name__ == "__main__"\n', False),
    ],
)
def test_a_program_has_a_main_block_at_its_top_level(source: str, expected: bool) -> None:
    assert runs_as_program(source) is expected
