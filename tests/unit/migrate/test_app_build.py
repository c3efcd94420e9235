"""The consumer builds a factory-made application as the service's entrypoint does."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from decouple_services.core.model import Endpoint, Service
from decouple_services.migrate import gen_examples
from decouple_services.migrate.app_build import entry_build
from decouple_services.migrate.generate import render_consumer
from decouple_services.migrate.plan import APP_FACTORY_ARGUMENTS, _entry_caution, _entry_of

RUFF = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "generated" / "ruff.toml"

FACTORY = (
    b"from flask import Flask\n\n\ndef create_app(script=False):\n"
    b"    application = Flask(__name__)\n    return application\n"
)


def module_of(path: str) -> str:
    return path.removeprefix("svc/").removesuffix(".py").replace("/", ".")


ENDPOINT = Endpoint(
    "thoughts", "http", "POST", "/x", "thoughts.ns.x", "svc/thoughts/ns.py", 1, framework="flask"
)
SERVICE = Service("thoughts", "svc")


def test_an_entrypoint_safe_to_import_gives_the_served_application() -> None:
    files = {
        "svc/thoughts/app.py": FACTORY,
        "svc/wsgi.py": b"import os\nfrom thoughts.app import create_app\n\n"
        b"NO_SYSLOG = bool(os.environ.get('NO_SYSLOG'))\n"
        b"application = create_app(script=NO_SYSLOG)\n",
    }
    app_module, app_object, entry = _entry_of(ENDPOINT, SERVICE, files.get, module_of)
    assert (app_module, app_object) == ("thoughts.app", "create_app()")
    assert entry is not None
    assert (entry.module, entry.name, entry.where) == ("wsgi", "application", "svc/wsgi.py:5")
    assert entry.unsafe is None
    assert _entry_caution(ENDPOINT, SERVICE, files.get, module_of) == ()


def test_an_entrypoint_that_serves_when_imported_has_its_call_repeated() -> None:
    files = {
        "svc/thoughts/app.py": FACTORY,
        "svc/wsgi.py": b"import os\nfrom thoughts.app import create_app as make\n\n"
        b"NO_SYSLOG = bool(os.environ.get('NO_SYSLOG'))\n"
        b"application = make(NO_SYSLOG, debug=False)\n"
        b"application.run(port=8000)\n",
    }
    entry = _entry_of(ENDPOINT, SERVICE, files.get, module_of)[2]
    assert entry is not None
    assert entry.unsafe == "`application.run(port=8000)` at line 6"
    assert entry.rebuilt == (
        "import os",
        "",
        "from thoughts.app import create_app as make",
        "",
        'NO_SYSLOG = bool(os.environ.get("NO_SYSLOG"))',
        "return make(NO_SYSLOG, debug=False)",
    )
    assert _entry_caution(ENDPOINT, SERVICE, files.get, module_of) == ()


def test_an_argument_that_cannot_be_repeated_is_a_caution_naming_the_line() -> None:
    files = {
        "svc/thoughts/app.py": FACTORY,
        "svc/main.py": b"from thoughts.app import create_app\n\n"
        b"config = load_config()\napp = create_app(script=config.script)\n\n"
        b"app.run()\n",
    }
    entry = _entry_of(ENDPOINT, SERVICE, files.get, module_of)[2]
    assert entry is not None and entry.rebuilt is None
    (caution,) = _entry_caution(ENDPOINT, SERVICE, files.get, module_of)
    assert caution.code == APP_FACTORY_ARGUMENTS
    assert "svc/main.py:4" in caution.reason
    assert "`create_app(script=config.script)`" in caution.reason


def test_a_server_started_under_main_does_not_stop_the_import() -> None:
    files = {
        "svc/thoughts/app.py": FACTORY
        + b"\n\napp = create_app(script=True)\n\nif __name__ == '__main__':\n    app.run()\n",
    }
    entry = entry_build(
        "thoughts.app", "create_app", ["svc/thoughts/app.py"], files.get, module_of, "svc"
    )
    assert entry is not None
    assert (entry.module, entry.name, entry.unsafe) == ("thoughts.app", "app", None)
    # serving on import from the factory's own module: calling the factory imports it too
    files["svc/thoughts/app.py"] = FACTORY + b"\n\napp = create_app(script=True)\napp.run()\n"
    entry = entry_build(
        "thoughts.app", "create_app", ["svc/thoughts/app.py"], files.get, module_of, "svc"
    )
    assert entry is not None and entry.unsafe is not None and entry.rebuilt is None


def test_an_entrypoint_calling_the_factory_with_nothing_changes_nothing() -> None:
    files = {
        "svc/thoughts/app.py": FACTORY,
        "svc/wsgi.py": b"from thoughts.app import create_app\n\napplication = create_app()\n",
    }
    assert _entry_of(ENDPOINT, SERVICE, files.get, module_of)[2] is None
    # the deployment's own entry is looked at first
    files["svc/serve.py"] = (
        b"from thoughts import app\n\napplication = app.create_app(script=True)\n"
    )
    service = Service("thoughts", "svc", entries=("svc/serve.py",))
    entry = _entry_of(ENDPOINT, service, files.get, module_of)[2]
    assert entry is not None and (entry.module, entry.name) == ("serve", "application")


def test_the_consumer_repeats_the_entrypoints_call_in_a_function_of_its_own(
    tmp_path: Path,
) -> None:
    flask = gen_examples.CONSUMERS["flask"]
    assert flask.handler is not None
    rebuilt = (
        "import os",
        "",
        "from emails.app import create_app",
        "",
        'NO_SYSLOG = bool(os.environ.get("NO_SYSLOG"))',
        "return create_app(script=NO_SYSLOG)",
    )
    handler = replace(
        flask.handler,
        app_object="build_app()",
        app_module=None,
        app_build=rebuilt,
        app_source="services/emails/wsgi.py:5",
    )
    text = render_consumer(replace(flask, handler=handler))
    assert f'target="{flask.module}:build_app()"' in text
    assert "(the one services/emails/wsgi.py:5 serves, built by the same call)" in text
    assert (
        "def build_app():\n"
        '    """The application as services/emails/wsgi.py:5 builds it: that module starts'
        ' the server\n    when imported, so its call of the factory is repeated here."""\n'
        "    import os\n\n    from emails.app import create_app\n"
    ) in text
    compile(text, "consumer.py", "exec")
    path = tmp_path / "consumer.py"
    path.write_text(text)
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(RUFF), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--config", str(RUFF), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_an_image_below_the_python_generated_code_needs_is_a_caution() -> None:
    from decouple_services.core.model import CallSite
    from decouple_services.migrate.images import image_python
    from decouple_services.migrate.plan import OLD_PYTHON, _image_python_cautions

    alpine = (
        "FROM alpine:3.9 AS compile-image\nRUN apk add --update python3\n"
        "FROM alpine:3.9 AS runtime-image\n# runtime\n"
        'RUN apk add --update python3 curl\nCMD ["uwsgi"]\n'
    )
    found = image_python(alpine, "front/Dockerfile")
    assert found is not None and (found.version, found.where) == ((3, 6), "front/Dockerfile:3")
    assert image_python("FROM python:3.12-slim AS base\nFROM base\n", "D") is not None
    assert image_python("FROM node:20\n", "D") is None
    assert image_python("FROM alpine:3.9\nRUN apk add curl\n", "D") is None  # no Python

    files = {"front/Dockerfile": alpine.encode(), "back/Dockerfile": b"FROM python:3.11\n"}
    services = {
        "front": Service("front", "front", dockerfiles=("front/Dockerfile",)),
        "back": Service("back", "back", dockerfiles=("back/Dockerfile",)),
    }

    def site(caller: str, callee: str) -> CallSite:
        return CallSite(
            "cs-1", caller, f"{caller}/v.py", 3, 3, "f", "requests", "POST", "u", None, callee, None
        )

    (caution,) = _image_python_cautions(site("front", "back"), services, files.get)
    assert caution.code == OLD_PYTHON
    assert "front's image runs Python 3.6 (front/Dockerfile:3: `alpine:3.9`)" in caution.reason
    assert "generated producer needs Python 3.9" in caution.reason
    (reverse,) = _image_python_cautions(site("back", "front"), services, files.get)
    assert "generated consumer needs" in reverse.reason
