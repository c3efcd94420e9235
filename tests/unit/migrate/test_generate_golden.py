"""Every generated artefact against its golden file, and every one ruff-clean.

Regenerate with ``pytest --update-goldens`` and review the diff like code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from goldens import assert_golden

from decouple_services.migrate import gen_examples
from decouple_services.migrate.generate import (
    is_user_edited,
    render_asyncapi,
    render_consumer,
    render_consumer_test,
    render_django_outbox,
    render_producer,
    render_runtime,
    render_servicer_factory,
    render_topic_script,
)
from decouple_services.migrate.servicers import Bootstrap, derive_servicer_factory

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "generated"
#: The ruff settings generated code is held to: the project's rules, for Python 3.9 up,
#: at 88 columns.
RUFF_CONFIG = GOLDEN / "ruff.toml"


def _django_outbox_file(name: str) -> str:
    files = dict(render_django_outbox(gen_examples.PRODUCERS["outbox-django"]))
    return files[f"services/frontend/frontend/decouple_outbox/{name}"]


#: A small repository whose gRPC servicers take their repositories in ``__init__``.
SERVICERS = Path(__file__).resolve().parents[2] / "fixtures" / "migrate" / "servicers"


def _servicer_factory(service: str, handler: str) -> str:
    """The factory generated from the bootstrap of ``service`` in the servicers fixture."""
    from decouple_services.core.model import Endpoint

    cls, _, method = handler.rpartition(".")
    module = cls.rpartition(".")[0]
    endpoint = Endpoint(
        service, "grpc", "RPC", f"/{service.capitalize()}/{method}", handler,
        f"services/{service}/{module.replace('.', '/')}.py", 1, "grpc",
    )  # fmt: skip

    def read(path: str) -> bytes | None:
        target = SERVICERS / path
        return target.read_bytes() if target.is_file() else None

    def module_of(path: str) -> str:
        return path.split("/", 2)[2].removesuffix(".py").replace("/", ".")

    found = derive_servicer_factory(
        endpoint,
        repo_root=str(SERVICERS),
        service_root=f"services/{service}",
        read=read,
        module_of=module_of,
    )
    assert isinstance(found, Bootstrap), found
    name = f"{service}.decouple_consumers.servicer_{service}"
    return render_servicer_factory(found, name.replace(".", "/") + ".py", name)


ARTEFACTS: dict[str, Callable[[], str]] = {
    **{
        f"producer/{name}.py": (lambda spec=spec: render_producer(spec))
        for name, spec in gen_examples.PRODUCERS.items()
    },
    **{
        f"consumer/{name}.py": (lambda spec=spec: render_consumer(spec))
        for name, spec in gen_examples.CONSUMERS.items()
    },
    **{
        f"consumer_test/test_{name}.py": (
            lambda spec=gen_examples.CONSUMERS[name]: render_consumer_test(spec)
        )
        for name in ("flask", "django", "no-handler")
    },
    # a servicer built by its generated factory, events going through its interceptors
    "consumer/grpc-intercepted.py": lambda: render_consumer(gen_examples.GRPC_INTERCEPTED),
    "runtime/decouple_runtime.py": render_runtime,
    # a servicer's factory mirrored from its server's bootstrap: an async context manager
    # (a database connected, then closed) and a plain function
    "servicer/invites.py": lambda: _servicer_factory(
        "invites", "invites.service.InvitesImpl.CreateInvite"
    ),
    "servicer/ledger.py": lambda: _servicer_factory("ledger", "ledger.service.LedgerImpl.Record"),
    # the Django app of a --outbox producer: the table's model and migration
    **{
        f"outbox_django/{name}": (lambda name=name: _django_outbox_file(name))
        for name in (
            "apps.py",
            "models.py",
            "migrations/0001_initial.py",
            "migrations/0002_parked.py",
        )
    },
    "asyncapi.yaml": lambda: render_asyncapi(gen_examples.TOPICS),
    # orders sends and receives; emails only receives.
    **{
        f"asyncapi/{name}.yaml": (
            lambda name=name: render_asyncapi(gen_examples.TOPICS, application=name)
        )
        for name in ("orders", "emails")
    },
    "create_topics/kafka-python.py": lambda: render_topic_script(gen_examples.TOPICS),
    "create_topics/confluent-kafka.py": lambda: render_topic_script(
        gen_examples.TOPICS, client="confluent-kafka"
    ),
}


@pytest.mark.parametrize("name", sorted(ARTEFACTS))
def test_generated_file_matches_its_golden(name: str, update_goldens: bool) -> None:
    assert_golden(ARTEFACTS[name](), GOLDEN / name, update_goldens)


def test_every_golden_file_has_a_case() -> None:
    on_disk = {
        path.relative_to(GOLDEN).as_posix()
        for path in GOLDEN.rglob("*")
        if path.is_file() and path != RUFF_CONFIG and "__pycache__" not in path.parts
    }
    assert on_disk == set(ARTEFACTS)


def test_rendering_is_deterministic() -> None:
    assert {name: render() for name, render in ARTEFACTS.items()} == {
        name: render() for name, render in ARTEFACTS.items()
    }


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache"],
        capture_output=True,
        text=True,
    )


def _write_python(folder: Path) -> None:
    for name, render in ARTEFACTS.items():
        if name.endswith(".py"):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(), encoding="utf-8")


def test_generated_python_is_ruff_formatted_and_ruff_clean(tmp_path: Path) -> None:
    _write_python(tmp_path)
    config = ("--config", str(RUFF_CONFIG))
    formatted = _ruff("format", "--check", "--diff", *config, str(tmp_path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = _ruff("check", "--output-format", "concise", *config, str(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("width", [79, 100, 120])
def test_the_repositorys_formatter_is_not_an_edit(tmp_path: Path, width: int) -> None:
    """A repository that formats at another width reflows decouple's output; the files
    stay decouple's to regenerate, because their hash is of the syntax tree."""
    _write_python(tmp_path)
    result = _ruff("format", "--isolated", "--line-length", str(width), str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    reflowed = 0
    for name, render in ARTEFACTS.items():
        if name.endswith(".py"):
            text = (tmp_path / name).read_text(encoding="utf-8")
            reflowed += text != render()
            assert not is_user_edited(text), name
    assert reflowed  # the formatter did change something
