from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from decouple_services.core.config import Config
from decouple_services.core.model import Service
from decouple_services.discover.files import list_files
from decouple_services.discover.grpc_servers import (
    GoLinker,
    assign_services,
    cpp_registrations,
    find_registrations,
    go_imports,
    go_main_dirs,
    go_registrations,
    java_registrations,
    language_of,
    node_registrations,
)
from decouple_services.discover.services import discover_services, service_for_path

from .conftest import Tree


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- Go -----------------------------------------------------------------------------------


def test_go_registration_calls_name_the_proto_service() -> None:
    text = dedent(
        """
        func Serve(s *grpc.Server) {
            pb.RegisterPaymentServer(s, &server{})
            api.RegisterQueueServiceServer(grpcServer, queues)
            RegisterLocalServer(s, impl)
        }
        """
    )
    assert go_registrations(text) == [("Payment", 2), ("QueueService", 3), ("Local", 4)]


def test_go_generated_definitions_gateway_handlers_and_comments_are_not_registrations() -> None:
    text = dedent(
        """
        func RegisterPaymentServer(s grpc.ServiceRegistrar, srv PaymentServer) {
        }
        // pb.RegisterOldServer(s, impl)
        gw.RegisterPaymentHandlerServer(ctx, mux, impl)
        pb.RegisterEmptyServer()
        """
    )
    assert go_registrations(text) == []


def test_go_imports_read_blocks_and_single_imports() -> None:
    text = dedent(
        """
        package main

        import "fmt"
        import (
            "github.com/acme/shop/internal/payment"
            log "github.com/acme/shop/internal/logging"
        )
        """
    )
    assert sorted(go_imports(text)) == [
        "fmt",
        "github.com/acme/shop/internal/logging",
        "github.com/acme/shop/internal/payment",
    ]


GO_TREE = {
    "go.mod": "module github.com/acme/shop\n",
    "cmd/payments/main.go": 'package main\n\nimport "github.com/acme/shop/internal/app"\n',
    "cmd/ledger/main.go": 'package main\n\nimport "github.com/acme/shop/internal/ledger"\n',
    "cmd/tool/main.go": 'package main\n\nimport "github.com/acme/shop/internal/common"\n',
    "internal/app/app.go": 'package app\n\nimport "github.com/acme/shop/internal/payment"\n',
    "internal/payment/server.go": "package payment\n\nfunc S() { pb.RegisterPaymentServer(s, x) }\n",
    "internal/ledger/server.go": 'package ledger\n\nimport "github.com/acme/shop/internal/common"\n',
    "internal/common/health.go": "package common\n\nfunc H() { pb.RegisterHealthServer(s, x) }\n",
    "internal/orphan/server.go": "package orphan\n\nfunc S() { pb.RegisterOrphanServer(s, x) }\n",
}


def _reader(files: dict[str, str]) -> Callable[[str], str | None]:
    return files.get


def test_a_go_package_outside_every_root_belongs_to_the_one_binary_linking_it() -> None:
    services = [Service("payments", "cmd/payments"), Service("ledger", "cmd/ledger")]
    linker = GoLinker(sorted(GO_TREE), _reader(GO_TREE), services)
    assert linker.binaries_linking("internal/payment") == {"payments": "cmd/payments"}
    # linked by two binaries (ledger through internal/ledger; tool has no service): ledger
    assert linker.binaries_linking("internal/common") == {"ledger": "cmd/ledger"}
    assert linker.binaries_linking("internal/orphan") == {}


def test_servicers_are_assigned_only_when_exactly_one_service_may_serve_them() -> None:
    services = [
        Service("payments", "cmd/payments"),
        Service("ledger", "cmd/ledger"),
        Service("tool", "cmd/tool"),
    ]
    found = find_registrations(sorted(GO_TREE), lambda rel: GO_TREE[rel].encode())
    assigned = {
        s.name: s
        for s in assign_services(
            found,
            services,
            lambda path: service_for_path(services, path),
            sorted(GO_TREE),
            _reader(GO_TREE),
        )
    }
    assert assigned["Payment"].service == "payments"
    assert "cmd/payments imports" in assigned["Payment"].how
    # internal/common is linked by ledger and tool: no owner, with the reason
    assert assigned["Health"].service is None
    assert "2 services (ledger, tool)" in assigned["Health"].how
    assert assigned["Orphan"].service is None


def test_go_main_dirs_are_cmd_folders_with_a_main_package() -> None:
    files = {
        "cmd/server/main.go": "package main\n",
        "cmd/lib/lib.go": "package lib\n",
        "tools/cmd/gen/main.go": "package main\n",
        "server/main.go": "package main\n",
    }
    assert go_main_dirs(sorted(files), _reader(files)) == {
        "server": "cmd/server",
        "gen": "tools/cmd/gen",
    }


def test_generated_test_and_vendored_files_are_not_read() -> None:
    assert language_of("api/payment_grpc.pb.go") is None
    assert language_of("internal/server_test.go") is None
    assert language_of("vendor/google.golang.org/grpc/server.go") is None
    assert language_of("web/types.d.ts") is None
    assert language_of("web/server.test.js") is None
    assert language_of("web/__tests__/server.ts") is None
    assert language_of("server/server_test.cc") is None
    assert language_of("src/main/java/LedgerServiceTest.java") is None
    assert language_of("internal/testutil/server.go") is None
    assert language_of("web/server.js") == ("javascript", b"addService")
    assert language_of("internal/server.go") == ("go", b"Register")


def test_files_without_the_token_are_not_parsed() -> None:
    files = {"a.go": "package a\n// nothing here\n", "b.py": "RegisterXServer(s, x)\n"}
    assert find_registrations(sorted(files), lambda rel: files[rel].encode()) == []


# -- C++ ------------------------------------------------------------------------------------


CPP = {
    "srv/server.cc": dedent(
        """
        #include "srv/server.h"
        void Server::Start() {
          builder.RegisterService(payment_.get());
        }
        """
    ),
    "srv/server.h": dedent(
        """
        #include "srv/payment_impl.h"
        class Server { std::unique_ptr<PaymentImpl> payment_; };
        """
    ),
    "srv/payment_impl.h": dedent(
        """
        #include "api/payment.grpc.pb.h"
        class PaymentImpl final : public Payment::Service {};
        """
    ),
}


def test_cpp_registers_the_services_its_classes_derive_from_through_local_headers() -> None:
    exists = CPP.__contains__
    found = cpp_registrations("srv/server.cc", CPP["srv/server.cc"], _reader(CPP), exists)
    assert found == [("Payment", 3)]


def test_cpp_without_a_generated_grpc_header_registers_nothing() -> None:
    files = dict(CPP)
    files["srv/payment_impl.h"] = "class PaymentImpl : public Payment::Service {};\n"
    found = cpp_registrations(
        "srv/server.cc", files["srv/server.cc"], _reader(files), files.__contains__
    )
    assert found == []


def test_cpp_without_register_service_registers_nothing() -> None:
    text = '#include "api/payment.grpc.pb.h"\nclass P : public Payment::Service {};\n'
    assert cpp_registrations("a.cc", text, _reader({}), lambda rel: False) == []


# -- Java, Kotlin, Node --------------------------------------------------------------------------


def test_java_and_kotlin_servicers_extend_the_generated_impl_base() -> None:
    java = "public class PaymentImpl extends PaymentGrpc.PaymentImplBase {\n}\n"
    kotlin = "class LedgerImpl : LedgerGrpcKt.LedgerCoroutineImplBase() {\n}\n"
    assert java_registrations(java) == [("Payment", 1)]
    assert java_registrations(kotlin) == [("Ledger", 1)]
    assert java_registrations("class A extends FooGrpc.BarImplBase {}") == []


def test_a_java_servicer_may_extend_the_impl_base_it_imports() -> None:
    text = "import shop.LedgerGrpc.LedgerImplBase;\n\nclass Impl extends LedgerImplBase {}\n"
    assert java_registrations(text) == [("Ledger", 3)]
    # imported for something else, extended by nothing here
    assert java_registrations("import shop.LedgerGrpc.LedgerImplBase;\nclass Other {}\n") == []


def test_node_add_service_names_the_service_from_the_loaded_proto_or_generated_code() -> None:
    text = dedent(
        """
        server.addService(shopProto.shop.Payment.service, { charge });
        server.addService(services.LedgerServiceService, impl);
        server.addService(CartService, impl);
        app.addService(something);
        """
    )
    assert node_registrations(text) == [("Payment", 1), ("LedgerService", 2), ("Cart", 3)]


# -- discovery ----------------------------------------------------------------------------------


def test_image_only_compose_services_named_like_a_go_command_have_its_folder_as_root(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "go.mod": "module github.com/acme/shop\n",
            "cmd/payments/main.go": "package main\n",
            "cmd/redis/main.go": "package main\n",
            "deploy/stack.yaml": """
                services:
                  payments:
                    image: acme/shop-bundle:latest
                    command: ./payments
                  redis:
                    image: redis:7
                  payments-migration:
                    image: acme/shop-bundle:latest
                """,
        }
    )
    result = discover_services(root, list_files(root), Config())
    roots = {s.name: s.root for s in result.services}
    assert roots == {"payments": "cmd/payments"}
    # an official library image is never the repository's code, whatever its name
    assert "redis" in result.infra_hosts
    assert "payments-migration" in result.infra_hosts


def test_a_bazel_binary_a_dockerfile_ships_is_a_service_at_its_build_folder(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "server/BUILD": 'cc_binary(\n    name = "model_server",\n    srcs = ["main.cc"],\n)\n',
            "server/main.cc": "int main() {}\n",
            "tools/BUILD": 'cc_binary(name = "lint_tool")\n',
            "docker/Dockerfile": dedent(
                """
                FROM builder AS build
                RUN bazel build //server:model_server
                FROM ubuntu:22.04
                COPY --from=build /bazel-bin/server/model_server /usr/bin/model_server
                EXPOSE 9000
                ENTRYPOINT ["/usr/bin/run.sh"]
                """
            ),
            "client/query.py": "import grpc\n",
        }
    )
    result = discover_services(root, list_files(root), Config())
    services = {s.name: s for s in result.services}
    assert list(services) == ["model_server"]
    assert services["model_server"].root == "server"
    assert services["model_server"].ports == (9000,)


def test_a_bazel_binary_no_dockerfile_ships_is_not_a_service(make_tree: Tree) -> None:
    root = make_tree(
        {
            "server/BUILD": 'cc_binary(name = "model_server")\n',
            "docker/Dockerfile": 'FROM ubuntu\nCOPY run.sh /run.sh\nCMD ["/run.sh"]\n',
            "app.py": "print()\n",
        }
    )
    result = discover_services(root, list_files(root), Config())
    assert "model_server" not in {s.name for s in result.services}
    assert "server" not in {s.root for s in result.services}


def test_discovery_reports_servicers_with_their_service(tmp_path: Path, make_tree: Tree) -> None:
    root = make_tree({**GO_TREE, "docker-compose.yml": COMPOSE_GO})
    result = discover_services(root, list_files(root), Config())
    served = {s.name: s.service for s in result.grpc_servicers}
    assert served["Payment"] == "payments"
    assert served["Orphan"] is None


COMPOSE_GO = """
services:
  payments:
    image: acme/payments:1
  ledger:
    image: acme/ledger:1
"""


def test_a_workload_is_matched_to_a_go_command_by_its_own_name_not_its_labels(
    make_tree: Tree,
) -> None:
    root = make_tree(
        {
            "go.mod": "module example.com/mesh\n",
            "cmd/server/main.go": "package main\n",
            "cmd/authz/main.go": "package main\n",
            "pkg/test/echo/cmd/echo/main.go": "package main\n",
            "deploy/k8s.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: prometheus
                  labels: {app.kubernetes.io/component: server}
                spec:
                  template:
                    spec:
                      containers:
                        - name: server
                          image: quay.io/prometheus/prometheus:v2
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: authz
                spec:
                  template:
                    spec:
                      containers:
                        - name: authz
                          image: example/authz:1
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: echo
                spec:
                  template:
                    spec:
                      containers:
                        - name: echo
                          image: example/echo:1
                """,
        }
    )
    result = discover_services(root, list_files(root), Config())
    roots = {s.name: s.root for s in result.services}
    assert roots.get("authz") == "cmd/authz"
    assert "prometheus" not in roots
    # a test server's command is not a deployed service's code
    assert roots.get("echo") != "pkg/test/echo/cmd/echo"
