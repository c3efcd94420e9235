from __future__ import annotations

import pytest

from decouple_services.core.config import parse_config
from decouple_services.core.errors import ConfigError


def test_migrate_defaults_come_from_tool_decouple_migrate() -> None:
    config = parse_config(
        {"migrate": {"topic-template": "shop.{callee}.{endpoint}", "client": "confluent-kafka"}},
        "pyproject.toml",
    )
    assert config.migrate_topic_template == "shop.{callee}.{endpoint}"
    assert config.migrate_client == "confluent-kafka"
    assert parse_config({}, "pyproject.toml").migrate_client is None


def test_every_migrate_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {"migrate": {"topic-template": 3, "client": "aiokafka", "topics": []}},
            "pyproject.toml",
        )
    assert raised.value.problems == [
        "pyproject.toml: migrate: unknown key 'topics' "
        "(known: client, servicer-factories, servicer-interceptors, topic-template)",
        "pyproject.toml: migrate.topic-template: expected a string",
        "pyproject.toml: migrate.client: expected one of kafka-python, confluent-kafka",
    ]


def test_servicer_factories_name_a_function_by_module_and_attribute() -> None:
    config = parse_config(
        {"migrate": {"servicer-factories": {"InviteService": "app.wiring:make_invites"}}},
        "pyproject.toml",
    )
    assert config.migrate_servicer_factories == (("InviteService", "app.wiring:make_invites"),)
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {"migrate": {"servicer-factories": {"A": "app.wiring", "B": 3, "C": "m:f"}}},
            "pyproject.toml",
        )
    assert raised.value.problems == [
        "pyproject.toml: migrate.servicer-factories.A: expected 'module:function', "
        "not 'app.wiring'",
        "pyproject.toml: migrate.servicer-factories.B: expected 'module:function', not 3",
    ]


def test_a_servicer_factory_option_adds_to_the_configured_ones_and_is_checked() -> None:
    from decouple_services.app.migrate import _factories
    from decouple_services.core.errors import SelectionError

    given = ("InviteService=svc.wiring:invites", "Z = z:f")
    configured = (("InviteService", "old:f"), ("EventService", "e:f"))
    assert _factories(given, configured, "--servicer-factory") == (
        ("EventService", "e:f"),
        ("InviteService", "svc.wiring:invites"),
        ("Z", "z:f"),
    )
    for wrong in ("InviteService", "=m:f", "InviteService=m", "I=m:f()"):
        with pytest.raises(SelectionError, match=r"--servicer-factory .*NAME=MODULE:FUNCTION"):
            _factories((wrong,), (), "--servicer-factory")


def test_servicer_interceptors_are_configured_and_named_as_factories_are() -> None:
    config = parse_config(
        {"migrate": {"servicer-interceptors": {"InviteService": "app.wiring:interceptors"}}},
        "pyproject.toml",
    )
    assert config.migrate_servicer_interceptors == (("InviteService", "app.wiring:interceptors"),)
    assert config.migrate_servicer_factories == ()
    with pytest.raises(ConfigError) as raised:
        parse_config({"migrate": {"servicer-interceptors": {"A": "app"}}}, "pyproject.toml")
    assert raised.value.problems == [
        "pyproject.toml: migrate.servicer-interceptors.A: expected 'module:function', not 'app'"
    ]
