from __future__ import annotations

import textwrap

import pytest

from decouple_services.core.model import EnvValue, Service
from decouple_services.discover.compose import ComposeFile, parse_compose


def compose(
    text: str,
    file: str = "docker-compose.yml",
    environ: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    code_dirs: set[str] | None = None,
) -> ComposeFile:
    return parse_compose(
        textwrap.dedent(text).lstrip("\n"),
        file,
        environ=environ,
        read_text=(files or {}).get,
        is_code_dir=None if code_dirs is None else code_dirs.__contains__,
    )


def only(result: ComposeFile) -> Service:
    [service] = result.services
    return service


SHOP = """
x-defaults: &defaults
  restart: unless-stopped
  networks: [shop]

services:
  users:
    <<: *defaults
    build:
      context: ./services/users
      dockerfile: Dockerfile
    hostname: users-host
    container_name: shop-users
    command: gunicorn app:wsgi --bind 0.0.0.0:8000
    ports:
      - "8001:8000"
      - target: 9000
        published: "9001"
    expose:
      - "7000/tcp"
    networks:
      shop:
        aliases:
          - accounts
          - users.internal
  orders:
    build: services/orders
    command: ["uvicorn", "orders.app:app", "--port", "${ORDERS_PORT:-8002}"]
  postgres:
    image: postgres:16
    hostname: db
  kafka:
    image: bitnami/kafka:3.7
    networks:
      shop:
        aliases: [broker]
"""


def test_services_with_a_build_become_services_rooted_at_their_context() -> None:
    result = compose(SHOP)

    assert [(s.name, s.root) for s in result.services] == [
        ("users", "services/users"),
        ("orders", "services/orders"),
    ]
    assert result.services[0].evidence == ("docker-compose.yml:8 build context",)
    assert result.services[1].evidence == ("docker-compose.yml:26 build context",)


def test_names_hostnames_container_names_and_network_aliases_are_aliases() -> None:
    users = compose(SHOP).services[0]

    assert users.aliases == ("users", "users-host", "shop-users", "accounts", "users.internal")


def test_ports_come_from_both_sides_of_mappings_expose_and_the_command() -> None:
    users, orders = compose(SHOP).services

    assert users.ports == (8001, 8000, 9001, 9000, 7000)
    assert orders.ports == (8002,)


def test_image_only_services_are_infrastructure_hosts() -> None:
    result = compose(SHOP)

    assert result.infra_hosts == {
        "postgres": "postgres:16",
        "db": "postgres:16",
        "kafka": "bitnami/kafka:3.7",
        "broker": "bitnami/kafka:3.7",
    }
    assert [s.name for s in result.image_services] == ["postgres", "kafka"]
    assert all(s.root == "" for s in result.image_services)


def test_environment_as_list_and_mapping_records_file_and_line() -> None:
    result = compose(
        """
        services:
          a:
            build: ./a
            environment:
              - USERS_URL=http://users:8000
              - EMPTY=
              - PASSED_THROUGH
          b:
            build: ./b
            environment:
              ORDERS_URL: http://orders:8001
              RETRIES: 3
              UNSET:
        """
    )

    a, b = result.services
    assert a.env == (
        EnvValue("USERS_URL", "http://users:8000", "docker-compose.yml:5"),
        EnvValue("EMPTY", "", "docker-compose.yml:6"),
    )
    assert b.env == (
        EnvValue("ORDERS_URL", "http://orders:8001", "docker-compose.yml:11"),
        EnvValue("RETRIES", "3", "docker-compose.yml:12"),
    )


def test_env_file_values_come_from_the_file_relative_to_the_compose_file() -> None:
    result = compose(
        """
        services:
          web:
            build: ../services/web
            env_file:
              - ./web.env
              - path: ./optional.env
                required: false
            environment:
              OVERRIDDEN: from-compose
        """,
        file="deploy/docker-compose.yml",
        files={"deploy/web.env": "# web\nUSERS_URL=http://users:8000\nOVERRIDDEN=from-file\n"},
    )

    web = only(result)
    assert web.root == "services/web"
    assert web.env == (
        EnvValue("USERS_URL", "http://users:8000", "deploy/web.env:2"),
        EnvValue("OVERRIDDEN", "from-compose", "deploy/docker-compose.yml:9"),
    )
    assert result.env_files == ("deploy/web.env", "deploy/optional.env")
    assert result.diagnostics == ()


def test_a_missing_env_file_is_a_diagnostic_at_its_line() -> None:
    result = compose(
        """
        services:
          web:
            build: .
            env_file: missing.env
        """
    )

    assert [(d.file, d.line, d.code) for d in result.diagnostics] == [
        ("docker-compose.yml", 4, "env-file-missing")
    ]
    assert only(result).env == ()


def test_values_are_interpolated_from_the_project_env() -> None:
    result = compose(
        """
        services:
          web:
            build:
              context: ${WEB_DIR:-./web}
            ports:
              - "${WEB_PORT}:8000"
            environment:
              USERS_URL: http://${USERS_HOST}:${USERS_PORT:-8000}
              PRICE: $$5
              UNKNOWN: ${NOT_SET}
        """,
        environ={"WEB_PORT": "8080", "USERS_HOST": "users"},
    )

    web = only(result)
    assert web.root == "web"
    assert web.ports == (8080, 8000)
    assert [(e.name, e.value) for e in web.env] == [
        ("USERS_URL", "http://users:8000"),
        ("PRICE", "$5"),
        ("UNKNOWN", "${NOT_SET}"),
    ]


def test_a_root_context_with_a_dockerfile_in_a_code_directory_roots_at_that_directory() -> None:
    result = compose(
        """
        services:
          users:
            build:
              context: .
              dockerfile: services/users/Dockerfile
          web:
            build:
              context: .
              dockerfile: docker/web.Dockerfile
        """,
        code_dirs={"services/users"},
    )

    assert [(s.name, s.root) for s in result.services] == [
        ("users", "services/users"),
        ("web", "."),
    ]
    assert result.dockerfiles == {
        "users": "services/users/Dockerfile",
        "web": "docker/web.Dockerfile",
    }


@pytest.mark.parametrize(
    "build",
    ["https://github.com/acme/users.git#main", "git@github.com:acme/users.git", "../../elsewhere"],
)
def test_a_build_context_outside_the_repository_is_not_a_service_here(build: str) -> None:
    result = compose(
        f"""
        services:
          users:
            build: "{build}"
        """,
        file="deploy/docker-compose.yml",
    )

    assert result.services == ()
    assert "users" in result.infra_hosts


def test_extends_in_the_same_file_inherits_the_build() -> None:
    result = compose(
        """
        services:
          base:
            build: ./app
          worker:
            extends: base
            command: celery -A app worker
        """
    )

    assert [(s.name, s.root) for s in result.services] == [("base", "app"), ("worker", "app")]


def test_services_only_test_profiles_start_are_marked() -> None:
    result = compose(
        """
        services:
          api:
            build: ./api
            profiles: [debug]
          api-unit:
            build: ./api
            profiles: ["test"]
          e2e:
            build: ./e2e
            profiles: [test, full]
          lint:
            image: ruff
            profiles: [CI]
        """
    )

    assert result.test_profile == ("api-unit", "lint")


def test_version_1_files_have_services_at_the_top_level() -> None:
    result = compose(
        """
        web:
          build: .
          links: [db]
        db:
          image: postgres
        """
    )

    assert [(s.name, s.root) for s in result.services] == [("web", ".")]
    assert result.infra_hosts == {"db": "postgres"}


def test_a_malformed_file_is_a_diagnostic_with_the_line_of_the_error() -> None:
    result = compose(
        """
        services:
          web:
            build: .
            ports: [8000
          other:
            build: ./other
        """
    )

    assert result.services == ()
    [diagnostic] = result.diagnostics
    assert (diagnostic.file, diagnostic.code) == ("docker-compose.yml", "compose-invalid")
    assert diagnostic.line == 5


def test_a_wrongly_shaped_file_is_a_diagnostic_not_a_crash() -> None:
    result = compose(
        """
        services:
          - web
        """
    )

    assert result.services == ()
    assert [(d.line, d.code) for d in result.diagnostics] == [(2, "compose-invalid")]


@pytest.mark.parametrize(
    "text", ["x-note: nothing here\n", "services:\n", "", "# only a comment\n"]
)
def test_a_file_without_services_yields_nothing_and_no_diagnostic(text: str) -> None:
    assert compose(text) == ComposeFile(file="docker-compose.yml")


def test_image_services_publish_host_ports_and_mount_gateway_configurations() -> None:
    result = compose(
        """
        services:
          lb:
            image: haproxy:2.9
            volumes:
              - ./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro
            ports:
              - "8081:80"
              - "127.0.0.1:8443:443/tcp"
              - target: 9000
                published: 9001
          proxy:
            image: nginx
            volumes:
              - ./proxy.conf:/etc/nginx/conf.d/default.conf
              - ./app.cfg:/srv/app.cfg
            ports:
              - "80"
          db:
            image: postgres
            expose:
              - "5432"
        """
    )
    assert result.published_ports == {"lb": (8081, 8443, 9001)}
    assert result.haproxy_configs == {"lb": "deploy/haproxy.cfg"}
    # a .cfg mounted anywhere else is no HAProxy configuration
    assert result.nginx_configs == {"proxy": "proxy.conf"}


def test_a_missing_env_file_is_read_from_the_template_the_repository_keeps() -> None:
    result = compose(
        """
        services:
          web:
            build: ./web
            env_file:
              - env.d/development/common
              - env.d/development/secrets
        """,
        files={
            "env.d/development/common.dist": (
                "USERS_URL=http://users:8000\nSLACK_WEBHOOK_URL=x\nTOKEN=<your-token>\n"
                "SENTRY_DSN=\nORDERS_HOST=orders\n"
            )
        },
    )
    # the blanks a template leaves to fill in (`x`, `<your-token>`, empty) are not values
    declared = {v.name: v for v in only(result).env}
    assert {n: v.value for n, v in declared.items()} == {
        "USERS_URL": "http://users:8000",
        "ORDERS_HOST": "orders",
    }
    assert declared["USERS_URL"].source == "env.d/development/common.dist:1"
    assert "env.d/development/common.dist" in result.env_files
    # with no template either, the missing file is still reported
    missing = [d for d in result.diagnostics if d.code == "env-file-missing"]
    assert [d.message for d in missing] == [
        "service 'web': env_file env.d/development/secrets not found"
    ]


def test_a_caddyfile_mounted_into_a_service_is_its_gateway_configuration() -> None:
    result = compose(
        """
        services:
          web:
            image: caddy:2
            volumes:
              - ./caddy/Caddyfile-dev:/etc/caddy/Caddyfile:ro
              - ./caddy/data:/data
          edge:
            image: caddy:2
            volumes:
              - ./edge/Caddyfile:/srv/config/Caddyfile
          files:
            image: nginx
            volumes:
              - ./Caddyfile.md:/usr/share/nginx/html/readme.md
        """
    )
    assert result.caddy_configs == {"web": "caddy/Caddyfile-dev", "edge": "edge/Caddyfile"}
