from __future__ import annotations

from pathlib import Path

import pytest

from decouple_services.core.config import Config, ServiceConfig
from decouple_services.core.model import EnvValue, Service
from decouple_services.discover.files import list_files
from decouple_services.discover.services import (
    ServiceDiscovery,
    discover_services,
    service_for_path,
)

from .conftest import Tree


def discover(root: Path, config: Config | None = None) -> ServiceDiscovery:
    return discover_services(root, list_files(root), config or Config())


def by_name(result: ServiceDiscovery) -> dict[str, Service]:
    return {s.name: s for s in result.services}


def codes(result: ServiceDiscovery) -> list[tuple[str, int, str]]:
    return [(d.file, d.line, d.code) for d in result.diagnostics]


COMPOSE = """
services:
  users:
    build: ./services/users
    hostname: users
    environment:
      ORDERS_URL: http://orders:8001
  orders:
    build: ./services/orders
    ports: ["8001:8001"]
  postgres:
    image: postgres:16
"""


# -- order of sources ---------------------------------------------------------------------------


def test_configured_services_come_first_and_compose_adds_to_them(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "services/users/app.py": "",
            "services/orders/app.py": "",
            "services/legacy/users_impl/app.py": "",
        }
    )
    config = Config(
        services=(
            ServiceConfig(
                "users", root="services/legacy", aliases=("users.internal",), ports=(9000,)
            ),
        ),
        source="pyproject.toml",
    )

    users = by_name(discover(root, config))["users"]

    assert users.root == "services/legacy"
    assert users.aliases == ("users", "users.internal")
    assert users.evidence == (
        "pyproject.toml [tool.decouple.services.users]",
        "docker-compose.yml:3 build context",
    )
    assert users.ports == (9000,)
    assert users.env == (EnvValue("ORDERS_URL", "http://orders:8001", "docker-compose.yml:6"),)


def test_a_configured_service_without_root_finds_its_directory_or_stays_elsewhere(
    make_tree: Tree,
) -> None:
    root = make_tree({"src/billing/app.py": "", "src/shop/app.py": ""})
    config = Config(
        services=(ServiceConfig("billing"), ServiceConfig("payments", aliases=("pay.acme.io",))),
        source="decouple.toml",
    )

    services = by_name(discover(root, config))

    assert services["billing"].root == "src/billing"
    assert services["billing"].evidence == ("decouple.toml [services.billing]",)
    assert services["payments"].root == ""
    assert service_for_path(list(services.values()), "src/shop/app.py") is None


def test_a_configured_root_that_does_not_exist_is_a_diagnostic(make_tree: Tree) -> None:
    root = make_tree({"app.py": ""})
    config = Config(
        services=(ServiceConfig("users", root="services/users"),), source="pyproject.toml"
    )

    result = discover(root, config)

    assert codes(result) == [("pyproject.toml", 0, "config-root-missing")]
    assert by_name(result)["users"].root == "services/users"


# -- compose ------------------------------------------------------------------------------------


def test_compose_services_are_found_and_images_are_infrastructure(make_tree: Tree) -> None:
    root = make_tree(
        {"docker-compose.yml": COMPOSE, "services/users/app.py": "", "services/orders/app.py": ""}
    )

    result = discover(root)

    assert [(s.name, s.root) for s in result.services] == [
        ("orders", "services/orders"),
        ("users", "services/users"),
    ]
    assert result.infra_hosts == {"postgres": "postgres:16"}


def test_an_override_file_adds_env_to_a_service_built_in_the_main_file(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "docker-compose.override.yml": """
                services:
                  users:
                    environment:
                      DEBUG_URL: http://debugger:5678
                """,
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    result = discover(root)

    users = by_name(result)["users"]
    assert (
        EnvValue("DEBUG_URL", "http://debugger:5678", "docker-compose.override.yml:4") in users.env
    )
    assert "users" not in result.infra_hosts


def test_compose_interpolates_from_the_root_env_which_is_also_global_env(make_tree: Tree) -> None:
    root = make_tree(
        {
            ".env": "USERS_HOST=users\nUSERS_URL=http://${USERS_HOST}:8000\n",
            "docker-compose.yml": """
                services:
                  web:
                    build: ./web
                    environment:
                      - USERS_URL=${USERS_URL}
                """,
            "web/app.py": "",
        }
    )

    result = discover(root)

    assert result.global_env == (
        EnvValue("USERS_HOST", "users", ".env:1"),
        EnvValue("USERS_URL", "http://users:8000", ".env:2"),
    )
    assert by_name(result)["web"].env == (
        EnvValue("USERS_URL", "http://users:8000", "docker-compose.yml:5"),
    )


def test_a_malformed_compose_file_is_a_diagnostic_and_discovery_goes_on(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": "services:\n  web:\n    build: .\n   bad: indent\n",
            "services/users/Dockerfile": "FROM python\n",
            "services/users/app.py": "",
        }
    )

    result = discover(root)

    assert codes(result) == [("docker-compose.yml", 4, "compose-invalid")]
    assert [(s.name, s.root) for s in result.services] == [("users", "services/users")]


def test_dockerfile_ports_and_env_are_added_to_the_service_they_build(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "services/users/Dockerfile": "FROM python\nENV USERS_DB=postgres://db\nEXPOSE 8000\n",
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    users = by_name(discover(root))["users"]

    assert users.ports == (8000,)
    assert users.env[-1] == EnvValue("USERS_DB", "postgres://db", "services/users/Dockerfile:2")


# -- Kubernetes and Helm ----------------------------------------------------------------------------

K8S_USERS = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: users-deployment
spec:
  template:
    metadata:
      labels: {app: users}
    spec:
      containers:
        - name: users
          image: acme/users:1
          ports: [{containerPort: 8000}]
          env:
            - name: NOTIFY_URL
              value: http://notifications:8003
---
apiVersion: v1
kind: Service
metadata:
  name: users-svc
spec:
  selector: {app: users}
  ports: [{port: 80, targetPort: 8000}]
"""


def test_a_k8s_service_becomes_an_alias_of_the_compose_service_its_deployment_runs(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "k8s/users.yaml": K8S_USERS,
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    result = discover(root)

    assert [s.name for s in result.services] == ["orders", "users"]
    users = by_name(result)["users"]
    assert users.aliases == ("users", "users-svc")
    assert users.evidence == (
        "docker-compose.yml:3 build context",
        "k8s/users.yaml:1 Deployment users-deployment",
        "k8s/users.yaml:18 Service users-svc",
    )
    assert users.ports == (80, 8000)
    assert EnvValue("NOTIFY_URL", "http://notifications:8003", "k8s/users.yaml:16") in users.env


def test_a_k8s_only_deployment_finds_its_code_by_directory_name(make_tree: Tree) -> None:
    root = make_tree({"k8s/users.yaml": K8S_USERS, "src/users/app.py": "", "src/other/app.py": ""})

    result = discover(root)

    # named after the one Service in front of it: the host its callers use
    users = by_name(result)["users-svc"]
    assert users.root == "src/users"
    assert users.aliases == ("users-deployment", "users-svc")
    assert users.evidence[0] == "src/users/ holds the code of users-deployment"


def _deployment(name: str, image: str) -> str:
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec: {{containers: [{{name: {name}, image: "{image}"}}]}}
        """


def test_a_deployment_kept_with_one_dockerfile_is_built_from_it(make_tree: Tree) -> None:
    root = make_tree(
        {
            "load/k8s/master.yaml": _deployment("locust-master", "acme/stress:1"),
            "load/k8s/worker.yaml": _deployment("locust-worker", "acme/stress:1"),
            "load/image/Dockerfile": "FROM python\n",
            "load/image/tasks/tasks.py": "",
            "stress/locustfile.py": "",  # named like the image, but nothing deploys it
        }
    )

    services = by_name(discover(root))

    assert services["locust-master"].root == "load/image"
    assert "locust-master" in services and "locust-worker" not in services
    assert "load/k8s/worker.yaml:1 Deployment locust-worker" in services["locust-master"].evidence


def test_a_top_level_k8s_folder_or_several_dockerfiles_say_nothing_of_the_code(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "k8s/users.yaml": _deployment("users", "acme/users:1"),
            "deploy/k8s/orders.yaml": _deployment("orders", "acme/orders:1"),
            "deploy/a/Dockerfile": "FROM python\n",
            "deploy/a/x.py": "",
            "deploy/b/Dockerfile": "FROM python\n",
            "deploy/b/y.py": "",
            "src/users/app.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["users"].root == "src/users"  # found by its name, as before
    assert "orders" not in services


def test_a_deployment_of_an_image_built_elsewhere_is_infrastructure(make_tree: Tree) -> None:
    redis = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: cache}
        spec:
          template:
            metadata: {labels: {app: cache}}
            spec: {containers: [{name: redis, image: redis:7}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: redis}
        spec: {selector: {app: cache}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: payments-gateway}
        spec: {type: ExternalName, externalName: api.payments.example}
        """
    root = make_tree({"k8s/infra.yaml": redis, "app/main.py": ""})

    result = discover(root)

    assert result.infra_hosts == {
        "cache": "redis:7",
        "redis": "redis:7",
        "payments-gateway": "api.payments.example",
    }


def test_a_k8s_service_without_selector_matches_a_service_by_name(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "k8s/orders.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: orders, namespace: shop}\n",
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    orders = by_name(discover(root))["orders"]

    assert orders.aliases == (
        "orders",
        "orders.shop",
        "orders.shop.svc",
        "orders.shop.svc.cluster.local",
    )


def test_malformed_manifests_are_reported_and_unreadable_helm_templates_noted(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "k8s/broken.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: [x\n",
            "k8s/templated.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Values.name }}\n",
            "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\n",
            "charts/shop/templates/deployment.yaml": "{{- range .Values.services }}\nkind: Deployment\napiVersion: x\n  bad: [\n{{- end }}\n",
            "charts/shop/values.yaml": "users:\n  env:\n    ORDERS_URL: http://orders:8001\n",
            "services/users/app.py": "",
        }
    )

    result = discover(root)

    assert codes(result) == [
        ("charts/shop/templates/deployment.yaml", 4, "helm-template-unread"),
        ("k8s/broken.yaml", 4, "k8s-invalid"),
    ]
    users = by_name(result)["users"]
    assert users.root == "services/users"
    assert users.env == (EnvValue("ORDERS_URL", "http://orders:8001", "charts/shop/values.yaml:3"),)
    assert "charts/shop/values.yaml:2 Helm values users" in users.evidence


def test_helm_values_env_is_merged_into_the_compose_service(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "deploy/helm/shop/Chart.yaml": "apiVersion: v2\nname: shop\n",
            "deploy/helm/shop/values.yaml": """
                orders:
                  port: 8001
                  env:
                    USERS_URL: http://users:8000
                mailer:
                  image: {repository: acme/mailer}
                  env:
                    SMTP: smtp://relay
                """,
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    result = discover(root)

    orders = by_name(result)["orders"]
    assert (
        EnvValue("USERS_URL", "http://users:8000", "deploy/helm/shop/values.yaml:4") in orders.env
    )
    assert orders.evidence[-1] == "deploy/helm/shop/values.yaml:3 Helm values orders"
    assert result.infra_hosts["mailer"] == "acme/mailer"


# -- marker files and fallback ----------------------------------------------------------------------


def test_marker_directories_become_services_named_after_the_directory(make_tree: Tree) -> None:
    root = make_tree(
        {
            "pyproject.toml": "",
            "services/users/Dockerfile": "FROM python\n",
            "services/users/app/manage.py": "",
            "services/orders/requirements.txt": "",
            "services/orders/orders/app.py": "",
            "docs/requirements.txt": "",
            "tests/requirements.txt": "",
            ".devcontainer/Dockerfile": "",
        }
    )

    result = discover(root)

    assert [(s.name, s.root, s.evidence) for s in result.services] == [
        ("orders", "services/orders", ("services/orders/requirements.txt marker file",)),
        ("users", "services/users", ("services/users/Dockerfile marker file",)),
    ]


def test_weak_markers_do_not_add_services_next_to_compose_ones_but_strong_markers_do(
    make_tree: Tree,
) -> None:
    """A shared library with a pyproject.toml is not a service; a Dockerfile'd worker is."""
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "services/users/app.py": "",
            "services/orders/app.py": "",
            "libs/shopcore/pyproject.toml": "",
            "workers/mailer/Dockerfile": "FROM python\n",
            "services/users/sub/Dockerfile": "FROM python\n",
        }
    )

    assert [s.name for s in discover(root).services] == ["mailer", "orders", "users"]


def test_marker_services_with_the_same_directory_name_are_told_apart(make_tree: Tree) -> None:
    root = make_tree({"a/api/Dockerfile": "", "b/api/Dockerfile": ""})

    assert [(s.name, s.root) for s in discover(root).services] == [
        ("api", "a/api"),
        ("b-api", "b/api"),
    ]


def test_without_any_evidence_the_repository_is_one_service(make_tree: Tree) -> None:
    root = make_tree({"app.py": "", "lib/util.py": ""}, name="shop-monolith")

    [service] = discover(root).services

    assert (service.name, service.root) == ("shop-monolith", ".")
    assert service.evidence == (
        "fallback: no service markers found; the repository is one service",
    )


def test_root_markers_name_the_single_service_when_nothing_else_is_found(make_tree: Tree) -> None:
    root = make_tree({"manage.py": "", "requirements.txt": "", "shop/views.py": ""}, name="shop")

    [service] = discover(root).services

    assert (service.name, service.root) == ("shop", ".")
    assert service.evidence == ("manage.py marker file", "requirements.txt marker file")


def test_an_empty_repository_is_still_one_service(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = discover(tmp_path / "empty")

    assert [(s.name, s.root) for s in result.services] == [("empty", ".")]
    assert result.diagnostics == ()


# -- env files and unreadable inputs ----------------------------------------------------------------


def test_an_env_file_inside_a_service_belongs_to_that_service(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "services/users/.env": "SEARCH_URL=http://search:8004\nnot valid\n",
            "services/users/app.py": "",
            "services/orders/app.py": "",
        }
    )

    result = discover(root)

    users = by_name(result)["users"]
    assert EnvValue("SEARCH_URL", "http://search:8004", "services/users/.env:1") in users.env
    assert codes(result) == [("services/users/.env", 2, "dotenv-invalid")]
    assert result.global_env == ()


def test_undecodable_deployment_files_are_diagnostics(make_tree: Tree) -> None:
    root = make_tree({"services/users/app.py": ""})
    (root / "docker-compose.yml").write_bytes(b"services:\n  web:\n    build: \xff\xfe\n")

    result = discover(root)

    assert codes(result) == [("docker-compose.yml", 0, "undecodable")]


# -- service_for_path -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("services/users/app.py", "users"),
        ("services/users/admin/views.py", "users-admin"),
        ("services/users-extra/app.py", "monolith"),
        ("services/orders/app.py", "orders-api"),
        ("tools/x.py", "monolith"),
    ],
)
def test_the_longest_root_owns_a_path(path: str, owner: str) -> None:
    services = [
        Service("monolith", "."),
        Service("users", "services/users"),
        Service("users-admin", "services/users/admin"),
        Service("orders-api", "services/orders"),
        Service("orders-worker", "services/orders"),
        Service("external", ""),
    ]

    assert service_for_path(services, path) == owner


def test_no_service_owns_a_path_outside_every_root() -> None:
    assert (
        service_for_path([Service("users", "services/users"), Service("x", "")], "lib/a.py") is None
    )


def test_services_sharing_a_root_prefer_the_one_named_like_it_then_a_server() -> None:
    worker = Service("celery-worker", "services/orders")
    api = Service("api", "services/orders", ports=(8000,))
    orders = Service("orders", "services/orders")

    assert service_for_path([worker, api], "services/orders/app.py") == "api"
    assert service_for_path([worker, api, orders], "services/orders/app.py") == "orders"
    assert service_for_path(
        [worker, Service("beat", "services/orders")], "services/orders/x.py"
    ) == ("celery-worker")


def test_deployment_files_of_tests_and_fixtures_do_not_describe_services(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": COMPOSE,
            "services/users/app.py": "",
            "services/orders/app.py": "",
            "tests/integration/docker-compose.yml": "services:\n  runner:\n    build: ../..\n",
            "tests/fixtures/sample/k8s/app.yaml": K8S_USERS,
            "services/users/tests/.env": "ORDERS_URL=http://localhost:1\n",
        }
    )

    result = discover(root)

    assert [s.name for s in result.services] == ["orders", "users"]
    assert by_name(result)["users"].aliases == ("users",)
    assert all(e.value != "http://localhost:1" for e in by_name(result)["users"].env)


def test_an_env_file_symlinked_out_of_the_tree_is_not_read(make_tree: Tree) -> None:
    outside = make_tree({"secrets.env": "TOKEN=s3cret\n"}, name="outside")
    root = make_tree(
        {
            "docker-compose.yml": "services:\n  web:\n    build: ./web\n    env_file: web.env\n",
            "web/app.py": "",
        }
    )
    (root / "web.env").symlink_to(outside / "secrets.env")

    result = discover(root)

    assert by_name(result)["web"].env == ()
    assert ("web.env", 0, "symlink-outside") in codes(result)


# -- roots narrowed within a shared build context ----------------------------------------------


def test_a_service_of_a_shared_context_owns_the_one_code_folder_its_dockerfile_copies(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  api:
                    build: {context: ., dockerfile: Dockerfile.api}
                  etl:
                    build: {context: ., dockerfile: Dockerfile.etl}
                  all:
                    build: {context: ., dockerfile: Dockerfile.all}
                """,
            "Dockerfile.api": "FROM python\nCOPY pyproject.toml /\nCOPY api/* /api/\n",
            "Dockerfile.etl": "FROM python\nCOPY etl /etl\nCOPY api /api\n",
            "Dockerfile.all": "FROM python\nCOPY api /api\nCOPY . /app\n",
            "api/main.py": "",
            "etl/run.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["api"].root == "api"
    assert services["etl"].root == "etl"  # api/ is api's code too: etl/ is its own
    assert services["all"].root == "."


def test_a_service_keeps_the_dockerfile_its_image_is_built_from(make_tree: Tree) -> None:
    """Migration reads it to tell which Python the image runs."""
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  web:
                    build: {context: ./web, dockerfile: docker/app/Dockerfile}
                """,
            "web/docker/app/Dockerfile": "FROM alpine:3.9\nRUN apk add python3\n",
            "web/app.py": "",
        }
    )

    assert by_name(discover(root))["web"].dockerfiles == ("web/docker/app/Dockerfile",)


def test_two_code_folders_each_copied_by_another_process_narrow_none(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  api:
                    build: {context: ., dockerfile: Dockerfile.api}
                  etl:
                    build: {context: ., dockerfile: Dockerfile.etl}
                  jobs:
                    build: {context: ., dockerfile: Dockerfile.jobs}
                """,
            "Dockerfile.api": "FROM python\nCOPY api /api\nCOPY lib /lib\n",
            "Dockerfile.etl": "FROM python\nCOPY etl /etl\nCOPY lib /lib\n",
            "Dockerfile.jobs": "FROM python\nCOPY api /api\nCOPY etl /etl\n",
            "api/main.py": "",
            "etl/run.py": "",
            "lib/util.py": "",
        }
    )

    services = by_name(discover(root))

    assert {s.root for s in services.values()} == {"."}


def test_a_build_context_missing_from_the_tree_is_its_dockerfiles_folder(make_tree: Tree) -> None:
    root = make_tree(
        {
            "deploy/docker-compose.yml": """
                services:
                  checks:
                    build: {context: ../old-name, dockerfile: ../checks/Dockerfile}
                  lost:
                    build: {context: ../gone}
                """,
            "checks/Dockerfile": "FROM python\n",
            "checks/smoke.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["checks"].root == "checks"
    assert services["lost"].root == "gone"  # no Dockerfile to go by either


def test_a_module_only_one_process_of_a_folder_imports_is_that_processs(
    make_tree: Tree,
) -> None:
    files = {
        "docker-compose.yml": """
            services:
              resize:
                build: .
                command: python -m jobs.resize
              index:
                build: .
                command: python -m jobs.index
            """,
        "jobs/resize.py": "from .client import fetch\nfrom jobs import common\n",
        "jobs/index.py": "import jobs.common\n",
        "jobs/client.py": "",
        "jobs/common.py": "",
    }
    services = by_name(discover(make_tree(files)))

    assert set(services["resize"].entries) == {"jobs/resize.py", "jobs/client.py"}
    assert services["index"].entries == ("jobs/index.py",)  # common.py is both's


def test_imports_claim_nothing_while_a_process_of_the_folder_runs_nothing_known(
    make_tree: Tree,
) -> None:
    files = {
        "docker-compose.yml": """
            services:
              resize:
                build: .
                command: python resize.py
              web:
                build: .
                command: ./start.sh
            """,
        "resize.py": "from client import fetch\n",
        "client.py": "",
    }
    services = by_name(discover(make_tree(files)))

    assert services["resize"].entries == ("resize.py",)


def test_a_code_folder_every_process_of_a_context_copies_narrows_none(make_tree: Tree) -> None:
    root = make_tree(
        {
            "svc/docker-compose.yml": """
                services:
                  web:
                    build: {context: ., dockerfile: Dockerfile}
                  worker:
                    build: {context: ., dockerfile: Dockerfile.worker}
                """,
            "svc/Dockerfile": "FROM python\nCOPY pyproject.toml /\nCOPY app /app/app\n",
            "svc/Dockerfile.worker": "FROM python\nCOPY app /app/app\n",
            "svc/app/main.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["web"].root == "svc"
    assert services["worker"].root == "svc"


def test_a_test_profile_service_built_like_another_is_that_service_run_for_tests(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  api:
                    build: ./api
                  api-unit:
                    profiles: [test]
                    build: {context: ./api, dockerfile: unit.Dockerfile}
                  e2e:
                    profiles: [test]
                    build: ./e2e
                """,
            "api/app.py": "",
            "e2e/test_flow.py": "",
        }
    )

    services = by_name(discover(root))

    assert sorted(services) == ["api", "e2e"]  # e2e builds code of its own: a service
    assert services["api"].aliases == ("api", "api-unit")


def test_a_test_file_service_extending_a_running_service_is_that_service(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "client/docker-compose.yml": "services:\n  client:\n    build: .\n",
            "docker-compose-test.yml": """
                services:
                  client-test:
                    extends: {file: ./client/docker-compose.yml, service: client}
                """,
            "docker-compose-dev.yml": """
                services:
                  client-dev:
                    extends: {file: ./client/docker-compose.yml, service: client}
                """,
            "client/lib.py": "",
        }
    )

    services = by_name(discover(root))

    assert sorted(services) == ["client", "client-dev"]
    assert "client-test" in services["client"].aliases


SERVER_PROGRAM = 'from aiohttp import web\nif __name__ == "__main__":\n    web.run_app(app)\n'


def test_without_deployment_files_the_programs_starting_servers_are_the_services(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "setup.py": "",
            "lib/core.py": "",
            "examples/a/server.py": SERVER_PROGRAM,
            "examples/b/server.py": SERVER_PROGRAM,
            "examples/b/worker.py": SERVER_PROGRAM,
            "tests/test_app.py": SERVER_PROGRAM,
        }
    )

    services = {s.name: (s.root, s.entries) for s in discover(root).services}

    assert services == {
        "examples-a-server": ("examples/a", ("examples/a/server.py",)),
        "examples-b-server": ("examples/b", ("examples/b/server.py",)),
        "worker": ("examples/b", ("examples/b/worker.py",)),
    }


def test_server_programs_are_not_services_beside_deployment_files(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": "services:\n  api:\n    build: ./api\n",
            "api/main.py": "",
            "examples/demo.py": SERVER_PROGRAM,
        }
    )

    assert [s.name for s in discover(root).services] == ["api"]


def test_a_celery_worker_sharing_a_folder_runs_its_task_modules(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  web:
                    build: .
                    command: gunicorn proj.wsgi:application
                  worker:
                    build: .
                    command: ./start-worker.sh
                  beat:
                    build: .
                    command: celery -A proj beat
                """,
            "start-worker.sh": "#!/bin/sh\nexec celery -A proj \\\n  worker --concurrency=2\n",
            "proj/wsgi.py": "",
            "proj/orders/tasks.py": "",
            "proj/orders/views.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["worker"].entries == ("proj/orders/tasks.py",)
    assert services["beat"].entries == ()  # beat schedules tasks, it does not run them


def test_task_modules_stay_put_with_two_workers_or_none(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": """
                services:
                  fast:
                    build: .
                    command: celery -A proj worker -Q fast
                  slow:
                    build: .
                    command: celery -A proj worker -Q slow
                """,
            "proj/tasks.py": "",
        }
    )

    services = by_name(discover(root))

    assert services["fast"].entries == services["slow"].entries == ()


@pytest.mark.parametrize(
    ("dockerfile", "root"),
    [
        # a builder stage copies the code, the final stage takes it from there
        (
            "FROM python AS build\nCOPY src/api /app\nFROM python\nCOPY --from=build /app /app\n"
            "COPY deploy/conf/gunicorn.py /etc/gunicorn.py\n",
            "src/api",
        ),
        ("FROM python\nCOPY . /app\n", "."),  # the whole tree
        ("FROM python\nCOPY src/api /app\nCOPY tools /tools\n", "."),  # two code folders
        ("FROM python\nCOPY src/api /app\nCOPY manage.py /app/\n", "."),  # a top-level module
    ],
)
def test_a_service_built_alone_from_the_whole_tree_is_rooted_at_the_code_it_copies(
    make_tree: Tree, dockerfile: str, root: str
) -> None:
    tree = make_tree(
        {
            "docker-compose.yml": "services:\n  api:\n    build: .\n",
            "Dockerfile": dockerfile,
            "src/api/main.py": "",
            "tools/lint.py": "",
            "deploy/conf/gunicorn.py": "",
            "manage.py": "",
        }
    )

    assert by_name(discover(tree))["api"].root == root


@pytest.mark.parametrize(
    ("files", "command", "kept"),
    [
        ({"docker-compose.test.yml"}, "/app/wait-for-db.sh tox", False),
        ({"docker-compose.test.yml"}, "python -m http.server", True),  # no test runner
        ({"docker-compose.yml"}, "pytest", True),  # the main compose file runs it
    ],
)
def test_a_test_run_of_the_whole_tree_is_no_service(
    make_tree: Tree, files: set[str], command: str, kept: bool
) -> None:
    tree = {
        "docker-compose.yml": "services:\n  api:\n    build: ./api\n",
        "api/main.py": "",
        "tools.py": "",
    }
    runner = f"services:\n  checks:\n    build: .\n    command: {command}\n"
    for name in files:
        tree[name] = tree.get(name, "services:\n") + runner.removeprefix("services:\n")
    root = make_tree(tree)

    assert ("checks" in by_name(discover(root))) is kept


# -- folders the image of a whole-repository service leaves out --------------------------------

ROOT_DOCKERFILE = """
FROM python:3.12 AS build
COPY src/shop /app
COPY manage.py /app/
FROM python:3.12
COPY --from=build /app /app
CMD ["python", "/app/main.py"]
"""


def test_top_level_folders_no_stage_of_the_image_copies_are_unshipped(make_tree: Tree) -> None:
    root = make_tree(
        {
            "docker-compose.yml": "services:\n  web:\n    build: .\n"
            "  translations:\n    image: acme/cli\n    volumes: ['.:/work']\n",
            "Dockerfile": ROOT_DOCKERFILE,
            "src/shop/main.py": "",
            "manage.py": "",  # two code places copied: the service stays rooted at the top
            "lint/plugin.py": "",
            "tools/report.py": "",
        }
    )

    assert discover(root).unshipped == frozenset({"lint", "tools"})


@pytest.mark.parametrize(
    ("compose", "dockerfile"),
    [
        ("services:\n  web:\n    build: .\n    volumes: ['./:/app']\n", ROOT_DOCKERFILE),
        (
            "services:\n  web:\n    build: .\n    volumes:\n"
            "      - type: bind\n        source: .\n        target: /app\n",
            ROOT_DOCKERFILE,
        ),
        ("services:\n  web:\n    build: .\n", "FROM python:3.12\nCOPY . /app\n"),
    ],
)
def test_a_tree_mounted_or_copied_whole_ships_every_folder(
    make_tree: Tree, compose: str, dockerfile: str
) -> None:
    root = make_tree(
        {
            "docker-compose.yml": compose,
            "Dockerfile": dockerfile,
            "src/shop/main.py": "",
            "lint/plugin.py": "",
        }
    )

    assert discover(root).unshipped == frozenset()


def test_programs_beside_a_server_program_that_it_does_not_import_are_apart(
    make_tree: Tree,
) -> None:
    main = 'if __name__ == "__main__":\n    main()\n'
    root = make_tree(
        {
            "demo/server.py": "import helpers\nfrom aiohttp import web\n\n"
            'if __name__ == "__main__":\n    web.run_app(web.Application(), port=9000)\n',
            "demo/helpers.py": "def main():\n    pass\n\n" + main,
            "demo/smoke.py": "def main():\n    pass\n\n" + main,
            "demo/common.py": "VALUE = 1\n",
        }
    )

    result = discover(root)

    assert [s.name for s in result.services] == ["server"]
    assert result.apart == frozenset({"demo/smoke.py"})


def test_package_metadata_alone_beside_deployed_folders_is_no_service(make_tree: Tree) -> None:
    """An SDK's setup.py next to Dockerfile'd services is a library; requirements.txt still
    marks a folder that is run."""
    root = make_tree(
        {
            "cmd/ledger/Dockerfile": "FROM python\n",
            "cmd/ledger/main.py": "",
            "sdk/python/setup.py": "",
            "sdk/python/ledger_sdk/client.py": "",
            "models/pyproject.toml": "",
            "models/models/user.py": "",
            "reports/requirements.txt": "",
            "reports/report.py": "",
        }
    )

    result = discover(root)

    assert [(s.name, s.root) for s in result.services] == [
        ("ledger", "cmd/ledger"),
        ("reports", "reports"),
    ]
