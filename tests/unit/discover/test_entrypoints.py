"""entry_file: the Python file a container's command line runs."""

from __future__ import annotations

import pytest

from decouple_services.discover.entrypoints import entry_file

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
