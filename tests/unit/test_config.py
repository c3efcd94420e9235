"""Configuration: [tool.decouple] in pyproject.toml or decouple.toml, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from decouple_services.core.config import ClientConfig, Config, ServiceConfig, load_config
from decouple_services.core.errors import ConfigError

VALID = """
[tool.decouple]
exclude = ["legacy/**"]

[tool.decouple.services.billing]
root = "services/billing"
aliases = ["billing.internal"]
ports = [8010]

[tool.decouple.clients."acme.rpc.call_service"]
service_arg = "service"
path_arg = 1
method = "post"
"""


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(VALID)
    config = load_config(tmp_path)
    assert config.exclude == ("legacy/**",)
    assert config.services == (
        ServiceConfig("billing", "services/billing", ("billing.internal",), (8010,)),
    )
    assert config.clients == (
        ClientConfig("acme.rpc.call_service", service_arg="service", path_arg=1, method="POST"),
    )
    assert config.source == "pyproject.toml"


def test_decouple_toml_uses_top_level_tables_and_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(VALID)
    (tmp_path / "decouple.toml").write_text('exclude = ["x/**"]\n')
    assert load_config(tmp_path).exclude == ("x/**",)


def test_a_pyproject_without_the_table_is_no_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path) == Config()


def test_every_problem_is_reported_in_one_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.decouple]
exclude = "not-a-list"
colour = "blue"

[tool.decouple.services.billing]
ports = ["8010"]

[tool.decouple.clients."acme.call"]
method = 3
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "unknown key 'tool.decouple.colour'" in text
    assert "services.billing.ports" in text
    assert "set 'service_arg' or 'url_arg'" in text
    assert "clients.acme.call.method" in text
    assert "exclude: expected a list of strings" in text


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.decouple\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: invalid TOML"):
        load_config(tmp_path)


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path, tmp_path / "missing.toml")


def test_an_explicit_config_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, tmp_path)


GATES = """
[tool.decouple]
baseline = "ci/scan.json"
fail-on-score = 20
exit-zero = true
select = ["dcp001", "DCP007"]
ignore = ["DCP002"]

[tool.decouple.contracts]
forbid = ["orders -> users", "* -> legacy"]
allow = ["frontend -> orders"]
layers = [["frontend"], ["orders", "payments"], "users"]
"""


def test_gates_and_contracts_are_read(tmp_path: Path) -> None:
    from decouple_services.core.config import Contracts, Edge, Gates

    (tmp_path / "pyproject.toml").write_text(GATES)
    config = load_config(tmp_path)

    assert config.gates == Gates(
        baseline="ci/scan.json",
        fail_on_score=20.0,
        exit_zero=True,
        select=("DCP001", "DCP007"),
        ignore=("DCP002",),
    )
    assert config.contracts == Contracts(
        forbid=(Edge("orders", "users"), Edge("*", "legacy")),
        allow=(Edge("frontend", "orders"),),
        layers=(("frontend",), ("orders", "payments"), ("users",)),
    )


def test_every_gate_and_contract_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.decouple]
baseline = 3
fail-on-score = "high"
exit-zero = "yes"
select = ["E501"]

[tool.decouple.contracts]
forbid = ["orders users"]
allow = "frontend -> orders"
layers = [["a"], ["a"]]
cycles = true
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)

    text = "\n".join(caught.value.problems)
    for expected in (
        "baseline: expected the path",
        "fail-on-score: expected a number",
        "exit-zero: expected true or false",
        "'E501' is not a rule code",
        'contracts.forbid[0]: expected "caller -> callee"',
        "contracts.allow: expected a list of strings",
        "contracts.layers[1]: 'a' is already in layers[0]",
        "contracts: unknown key 'cycles'",
    ):
        assert expected in text
