"""entry_file: the Python file a container's command line runs."""

from __future__ import annotations

import pytest

from decouple_services.discover.entrypoints import entry_file, served_module

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
