"""Callee inference: one fitting service or none."""

from __future__ import annotations

import pytest

from decouple_services.core.model import Endpoint, EnvValue, Service
from decouple_services.discover.grpc_servers import GrpcServicer
from decouple_services.resolve.infer import (
    CalleeInference,
    by_api_vendor,
    by_collector,
    by_presigned_url,
    by_webhook_vendor,
    host_names,
    words,
)

SERVICES = [
    Service("users", "users"),
    Service("meet-summary", "summary"),
    Service("fastchat-controller", "controller"),
    Service("celery-worker", "worker"),
    Service("model-worker", "models"),
    Service("web", "."),
]


def test_words_drop_what_only_says_address() -> None:
    assert words("USERS_SERVICE_URL") == {"user"}
    assert words("settings.SUMMARY_SERVICE_ENDPOINT") == {"summary"}
    assert words("CartServiceStub") == {"cart"}
    assert words("api_base_url") == frozenset()


@pytest.mark.parametrize(
    ("names", "callee"),
    [
        (["USERS_SERVICE_URL"], "users"),
        (["settings.SUMMARY_SERVICE_ENDPOINT"], "meet-summary"),
        (["controller_address"], "fastchat-controller"),
        (["UsersServiceStub"], "users"),
        (['SERVICE_URLS["users"]'], "users"),  # a quoted key names the entry
    ],
)
def test_one_fitting_service(names: list[str], callee: str) -> None:
    found = CalleeInference(SERVICES, []).by_name(names)
    assert found is not None and found.callee == callee


@pytest.mark.parametrize(
    "names",
    [
        ["worker_addr"],  # two services fit: celery-worker and model-worker
        ["API_URL"],  # nothing distinctive
        ["PAYMENTS_URL"],  # no service fits
        ["WEB_URL"],  # "web" is generic: a name made only of it proves nothing
        ["service_urls[users_kind]"],  # an index known at run time may pick any entry
    ],
)
def test_no_inference_when_none_or_several_fit(names: list[str]) -> None:
    assert CalleeInference(SERVICES, []).by_name(names) is None


def rpc(service: str, file: str) -> Endpoint:
    return Endpoint(
        service, "grpc", "RPC", "/pkg.Ledger/GetBalance", "x.Ledger.GetBalance", file, 1
    )


def test_a_stub_goes_to_the_one_service_serving_it_in_production() -> None:
    inference = CalleeInference(
        SERVICES,
        [rpc("users", "users/server.py"), rpc("web", "tests/mock_server.py")],
        lambda path: not path.startswith("tests/"),
    )
    found = inference.by_grpc_server("gen.ledger_pb2_grpc.LedgerStub")
    assert found is not None and found.callee == "users"


def test_a_stub_served_by_several_services_is_not_inferred() -> None:
    inference = CalleeInference(SERVICES, [rpc("users", "a.py"), rpc("web", "b.py")])
    assert inference.by_grpc_server("LedgerStub") is None


def test_a_stub_goes_to_the_one_service_registering_it_in_another_language() -> None:
    servicers = [
        GrpcServicer("Ledger", "internal/ledger/server.go", 7, "go", "users", "cmd/users imports"),
        GrpcServicer("Orphan", "internal/orphan/server.go", 3, "go", None, "linked by none"),
    ]
    inference = CalleeInference(SERVICES, [], servicers=servicers)
    found = inference.by_grpc_server("gen.ledger_pb2_grpc.LedgerStub")
    assert found is not None and found.callee == "users"
    assert "internal/ledger/server.go:7, go" in found.reason
    assert inference.by_grpc_server("OrphanStub") is None


def test_a_stub_registered_by_python_and_by_another_language_elsewhere_is_not_inferred() -> None:
    servicers = [GrpcServicer("Ledger", "cmd/web/main.go", 7, "go", "web")]
    inference = CalleeInference(SERVICES, [rpc("users", "users/server.py")], servicers=servicers)
    assert inference.by_grpc_server("LedgerStub") is None


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("{settings.USERS_URL}/users/{id}", ["settings.USERS_URL"]),
        ("http://{USERS_HOST}:8000/x", ["USERS_HOST"]),
        ("http://users:8000/x/{id}", []),
    ],
)
def test_host_names(url: str, names: list[str]) -> None:
    assert host_names(url) == names


def _declared(values: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def find(name: str) -> list[EnvValue]:
        return [EnvValue(name, v, f"w{i}.env:1") for i, v in enumerate(values.get(name, []))]

    return find


def _callee(value: str) -> str:
    host = value.split("://")[-1].split(":")[0].split("/")[0]
    return host if host in {s.name for s in SERVICES} else "unknown"


def test_an_env_named_attribute_goes_where_its_declarations_agree() -> None:
    declared = _declared({"USERS_API_HOST": ["http://users:8000", "http://localhost:8000"]})
    found = CalleeInference(SERVICES, []).by_env_value(["self.USERS_API_HOST"], declared, _callee)
    assert found is not None and found.callee == "users"
    assert "w0.env:1" in found.reason


@pytest.mark.parametrize(
    ("names", "values"),
    [
        (["self.API_HOST"], {"API_HOST": ["http://users:8000", "http://web:8000"]}),  # disagree
        (["self.API_HOST"], {"API_HOST": ["http://localhost:8000"]}),  # names no service
        (["self.api_host"], {"api_host": ["http://users:8000"]}),  # not an env var's name
        (["self.API_HOST"], {}),  # declared nowhere
    ],
)
def test_no_env_inference_when_declarations_do_not_name_one_service(
    names: list[str], values: dict[str, list[str]]
) -> None:
    assert CalleeInference(SERVICES, []).by_env_value(names, _declared(values), _callee) is None


@pytest.mark.parametrize(
    ("names", "whole", "callee"),
    [
        (["MONITORING_SLACK_WEBHOOK_URL"], False, "external:hooks.slack.com"),
        (["settings.SLACK_WEB_HOOK_URL"], False, "external:hooks.slack.com"),
        (["challenge.slack_url"], True, "external:hooks.slack.com"),
        (["DISCORD_WEBHOOK"], True, "external:discord.com"),
    ],
)
def test_a_url_named_after_a_vendors_webhook_goes_to_its_host(
    names: list[str], whole: bool, callee: str
) -> None:
    found = by_webhook_vendor(names, whole)
    assert found is not None
    assert found.callee == callee


@pytest.mark.parametrize(
    ("names", "whole"),
    [
        (["SLACK_API_URL"], False),  # the Web API, at a path of its own
        (["SLACKWARE_MIRROR"], True),
        (["ORDERS_WEBHOOK_URL"], True),
        (["DISCORD_BOT_URL"], False),
    ],
)
def test_no_vendor_webhook_without_the_vendor_and_the_hook(names: list[str], whole: bool) -> None:
    assert by_webhook_vendor(names, whole) is None


def test_a_name_fitting_one_of_a_services_names_exactly_is_that_service() -> None:
    # `payment` is also deployed as `user-service`; its consumer adds a word of its own
    services = [
        Service("payment-service", "payment", aliases=("payment-service", "user-service")),
        Service("payment-consumer", "consumer", aliases=("user-consumer-service",)),
    ]
    found = CalleeInference(services, []).by_name(["PAYMENT_URL"])
    assert found is not None and found.callee == "payment-service"


@pytest.mark.parametrize(
    ("infra", "services", "callee"),
    [
        ({}, [], "external:s3.amazonaws.com"),
        ({"minio": "minio/minio:latest", "db": "postgres"}, [], "minio"),
        ({}, ["minio-store", "web"], "minio-store"),
        ({"minio": "minio/minio", "s3": "localstack/localstack"}, [], None),
    ],
)
def test_a_presigned_url_goes_to_the_object_store(
    infra: dict[str, str], services: list[str], callee: str | None
) -> None:
    found = by_presigned_url(['answer["presigned_url"]'], infra, services)
    assert (found.callee if found else None) == callee


def test_a_url_not_named_presigned_is_no_object_store_url() -> None:
    assert by_presigned_url(['answer["signed_url"]', "upload_url"], {}, []) is None


IMAGES = ["engine-service", "deployment-engine", "cache-primary", "cache-replica", "users-db"]


@pytest.mark.parametrize(
    ("names", "callee"),
    [
        (["engine_ip"], "engine-service"),
        # `engine` fits both engine names: the one that is nothing else wins
        (["engine_name"], "engine-service"),
        # a service of code fits first
        (["users_host"], "users"),
    ],
)
def test_an_image_only_service_fits_a_name_no_code_service_does(
    names: list[str], callee: str
) -> None:
    found = CalleeInference(SERVICES, [], images=IMAGES).by_name(names)
    assert found is not None and found.callee == callee


@pytest.mark.parametrize(
    "names",
    [
        ["cache_host"],  # cache-primary and cache-replica
        ["pod_ip"],
        ["store_url"],
    ],
)
def test_no_image_only_service_when_none_or_several_fit(names: list[str]) -> None:
    assert CalleeInference(SERVICES, [], images=IMAGES).by_name(names) is None


def test_a_cluster_dns_form_is_no_second_image_service() -> None:
    images = ["engine", "engine.default.svc.cluster.local"]
    found = CalleeInference(SERVICES, [], images=images).by_name(["engine_ip"])
    assert found is not None and found.callee == "engine"


@pytest.mark.parametrize(
    ("names", "function", "host"),
    [
        (["OPENAI_BASE_URL"], None, "api.openai.com"),
        (["settings.ANTHROPIC_API_URL"], "app.jobs.summarise", "api.anthropic.com"),
        (["self.config.api_base"], "app.providers.OpenAIProvider.models", "api.openai.com"),
        (["base_url"], "app.llm.MistralClient.chat", "api.mistral.ai"),
    ],
)
def test_an_api_base_named_for_a_vendor_goes_to_its_host(
    names: list[str], function: str | None, host: str
) -> None:
    found = by_api_vendor(names, function)
    assert found is not None and found.callee == f"external:{host}"


@pytest.mark.parametrize(
    ("names", "function"),
    [
        (["self.config.api_base"], "app.providers.LocalModel.generate"),
        (["self.config.api_base"], "app.providers.AzureOpenAIProvider.chat"),
        # a name of its own that is not the vendor's says the class is beside the point
        (["settings.SEARCH_URL"], "app.providers.OpenAIProvider.search"),
        (["AZURE_OPENAI_ENDPOINT"], None),
        (["self.base_url"], "tests.test_compat.TestOpenAICompat.test_models"),
    ],
)
def test_no_api_vendor_without_the_vendor_or_for_own_endpoints(
    names: list[str], function: str | None
) -> None:
    assert by_api_vendor(names, function) is None


@pytest.mark.parametrize(
    ("names", "callee"),
    [
        (["jaeger_url"], "jaeger"),
        (["settings.TEMPO_ENDPOINT"], "tempo"),
        (["@fixture.zipkin_url(…)"], "zipkin"),
        (["collector_address"], "zipkin"),
        ([], "zipkin"),
    ],
)
def test_a_span_collector_is_the_one_the_address_names_else_the_protocols(
    names: list[str], callee: str
) -> None:
    assert by_collector("zipkin", names).callee == callee


@pytest.mark.parametrize(
    ("names", "callee"),
    [
        (["$OMDB_API", "imdb_id"], "external:www.omdbapi.com"),
        (["$TMDB_BASE_URL"], "external:api.themoviedb.org"),
        (["$GITHUB_TOKEN"], None),
    ],
)
def test_a_public_data_api_is_named_by_its_vendor(names: list[str], callee: str | None) -> None:
    found = by_api_vendor(names, None)
    assert (found.callee if found is not None else None) == callee
