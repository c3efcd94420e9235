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
        "pyproject.toml: migrate: unknown key 'topics' (known: client, topic-template)",
        "pyproject.toml: migrate.topic-template: expected a string",
        "pyproject.toml: migrate.client: expected one of kafka-python, confluent-kafka",
    ]
