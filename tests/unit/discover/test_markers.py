from __future__ import annotations

import textwrap

import pytest

from decouple_services.core.model import EnvValue
from decouple_services.discover.markers import (
    MarkerDir,
    bazel_binaries,
    find_marker_dirs,
    marker_kind,
    parse_dockerfile,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Dockerfile", "strong"),
        ("Dockerfile.prod", "strong"),
        ("api.Dockerfile", "strong"),
        ("manage.py", "strong"),
        ("Procfile", "strong"),
        ("pyproject.toml", "weak"),
        ("setup.py", "weak"),
        ("setup.cfg", "weak"),
        ("requirements.txt", "weak"),
        ("requirements-dev.txt", "weak"),
        ("app.py", None),
        ("docker-compose.yml", None),
        ("README.md", None),
    ],
)
def test_marker_files_are_strong_or_weak(name: str, kind: str | None) -> None:
    assert marker_kind(name) == kind


def test_marker_dirs_are_grouped_shallowest_first() -> None:
    paths = [
        "services/users/app/manage.py",
        "services/users/Dockerfile",
        "services/users/requirements.txt",
        "pyproject.toml",
        "libs/core/pyproject.toml",
        "services/users/app/views.py",
    ]

    assert find_marker_dirs(paths) == (
        MarkerDir(".", ("pyproject.toml",)),
        MarkerDir("libs/core", ("pyproject.toml",)),
        MarkerDir("services/users", ("Dockerfile", "requirements.txt")),
        MarkerDir("services/users/app", ("manage.py",)),
    )
    assert not find_marker_dirs(paths)[1].is_strong
    assert find_marker_dirs(paths)[2].is_strong


def test_dockerfile_expose_env_and_command_ports() -> None:
    text = textwrap.dedent(
        """
        FROM python:3.12-slim
        ARG APP_PORT=8000
        ENV PYTHONUNBUFFERED=1 \\
            USERS_URL="http://users:8000" \\
            BIND=0.0.0.0:${APP_PORT}
        ENV LEGACY_FORM some value
        EXPOSE ${APP_PORT}/tcp 9100
        CMD ["gunicorn", "--bind", "0.0.0.0:8001", "app:wsgi"]
        """
    ).lstrip()

    facts = parse_dockerfile(text, "services/users/Dockerfile")

    assert facts.ports == (8000, 9100, 8001)
    assert facts.env == (
        EnvValue("PYTHONUNBUFFERED", "1", "services/users/Dockerfile:3"),
        EnvValue("USERS_URL", "http://users:8000", "services/users/Dockerfile:3"),
        EnvValue("BIND", "0.0.0.0:8000", "services/users/Dockerfile:3"),
        EnvValue("LEGACY_FORM", "some value", "services/users/Dockerfile:6"),
    )


def test_only_the_final_stage_of_a_multi_stage_build_counts() -> None:
    text = textwrap.dedent(
        """
        FROM node:20 AS assets
        ENV NODE_ENV=production
        EXPOSE 3000
        FROM python:3.12 AS base
        ENV SERVICE_NAME=orders
        FROM base
        CMD uvicorn orders.app:app --port 8002
        """
    )

    facts = parse_dockerfile(text, "Dockerfile")

    assert facts.ports == (8002,)
    assert [(e.name, e.value) for e in facts.env] == [("SERVICE_NAME", "orders")]


def test_a_garbled_dockerfile_yields_nothing_rather_than_failing() -> None:
    facts = parse_dockerfile(
        'ENV "unterminated\n\\\nEXPOSE notaport\nCMD [broken json\n', "Dockerfile"
    )

    assert facts.ports == ()
    assert facts.env == ()


def test_a_dockerfile_ships_what_its_final_stage_copies_from_a_build_and_runs() -> None:
    text = textwrap.dedent(
        """
        FROM golang AS build
        COPY --from=tools /bin/linter /bin/linter
        RUN go build -o /out/server ./cmd/server
        FROM debian:12
        COPY --from=build /out/server /out/migrate /usr/bin/
        COPY config.yaml /etc/app/
        CMD ["/usr/bin/server", "--port", "8080"]
        """
    )
    assert parse_dockerfile(text, "Dockerfile").binaries == ("server", "migrate")


def test_a_dockerfile_without_a_build_stage_ships_only_its_command() -> None:
    text = "FROM python:3.12\nCOPY . /app\nCMD python app.py\n"
    assert parse_dockerfile(text, "Dockerfile").binaries == ("python",)


def test_bazel_binaries_are_the_named_binary_targets() -> None:
    text = textwrap.dedent(
        """
        cc_library(name = "lib")

        cc_binary(
            # the server
            name = "model_server",
            deps = [":lib"],
        )

        go_binary(name = "tool")
        py_binary(name = "script")
        """
    )
    assert bazel_binaries(text) == [("model_server", 4), ("tool", 10)]


def test_what_the_final_stage_copies_from_the_context() -> None:
    text = textwrap.dedent(
        """
        FROM python:3.12 AS build
        COPY everything/ /src/
        FROM python:3.12
        ARG APP=orders
        COPY --chown=app:app requirements.txt /app/
        ADD /${APP}/* /app/${APP}/
        COPY ["conf/a.ini", "conf/b.ini", "/etc/"]
        COPY --from=build /src /src
        ADD https://example.com/tool.tar.gz /opt/
        """
    )

    facts = parse_dockerfile(text, "Dockerfile")

    assert facts.copied == ("requirements.txt", "orders", "conf/a.ini", "conf/b.ini")


def test_copying_the_whole_context_is_a_dot() -> None:
    facts = parse_dockerfile("FROM python\nCOPY ./ /app\nCOPY ../outside /x\n", "Dockerfile")

    assert facts.copied == (".",)
