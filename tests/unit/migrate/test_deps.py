from __future__ import annotations

from decouple_services.migrate.deps import VERSIONS, add_requirement

KP = VERSIONS["kafka-python"]


def test_a_pinned_requirements_file_gets_a_pin_at_the_end() -> None:
    text = "--extra-index-url https://x/simple\nflask==3.0.3\nrequests==2.32.3\nhttpx==0.27.2\n"
    assert (
        add_requirement("requirements.txt", text, "kafka-python") == text + f"kafka-python=={KP}\n"
    )


def test_a_sorted_file_gets_the_requirement_in_its_place() -> None:
    text = "flask==3.0.3\nrequests==2.32.3\n"
    assert add_requirement("requirements.txt", text, "kafka-python") == (
        f"flask==3.0.3\nkafka-python=={KP}\nrequests==2.32.3\n"
    )


def test_lower_bounds_and_bare_names_are_kept_as_the_file_writes_them() -> None:
    assert add_requirement("r.txt", "flask>=3\nrequests>=2\n", "kafka-python") == (
        f"flask>=3\nkafka-python>={KP}\nrequests>=2\n"
    )
    assert add_requirement("r.txt", "flask\nrequests\n", "kafka-python") == (
        "flask\nkafka-python\nrequests\n"
    )


def test_crlf_and_a_missing_final_newline_are_kept() -> None:
    assert add_requirement("r.txt", "zeep==1\r\nflask==3\r\n", "aiokafka") == (
        f"zeep==1\r\nflask==3\r\naiokafka=={VERSIONS['aiokafka']}\r\n"
    )
    assert add_requirement("r.txt", "zeep==1\nflask==3", "aiokafka") == (
        f"zeep==1\nflask==3\naiokafka=={VERSIONS['aiokafka']}"
    )


def test_a_listed_requirement_is_left_alone_whatever_its_spelling() -> None:
    assert add_requirement("r.txt", "Kafka_Python[crc32c]==2.0\n", "kafka-python") is None
    assert (
        add_requirement(
            "pyproject.toml", '[project]\ndependencies = ["kafka-python"]\n', "kafka-python"
        )
        is None
    )


def test_pyproject_arrays_one_per_line_and_inline() -> None:
    multi = '[project]\nname = "x"\ndependencies = [\n    "fastapi==0.115.4",\n    "numpy==2.1.3",\n]\n\n[build-system]\n'
    assert add_requirement("pyproject.toml", multi, "kafka-python") == (
        '[project]\nname = "x"\ndependencies = [\n    "fastapi==0.115.4",\n    "numpy==2.1.3",\n'
        f'    "kafka-python=={KP}",\n]\n\n[build-system]\n'
    )
    inline = "[project]\ndependencies = ['requests>=2.31']\n"
    assert add_requirement("pyproject.toml", inline, "kafka-python") == (
        f"[project]\ndependencies = ['requests>=2.31', 'kafka-python>={KP}']\n"
    )


def test_poetry_dependencies() -> None:
    text = '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3.0"\n\n[tool.ruff]\n'
    assert add_requirement("pyproject.toml", text, "kafka-python") == (
        f'[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3.0"\nkafka-python = "^{KP}"\n\n[tool.ruff]\n'
    )


def test_setup_cfg_install_requires() -> None:
    text = "[metadata]\nname = x\n\n[options]\ninstall_requires =\n    flask==3.0.3\n    requests==2.32.3\n\n[flake8]\n"
    assert add_requirement("setup.cfg", text, "kafka-python") == (
        "[metadata]\nname = x\n\n[options]\ninstall_requires =\n    flask==3.0.3\n    requests==2.32.3\n"
        f"    kafka-python=={KP}\n\n[flake8]\n"
    )


def test_a_file_without_a_dependency_list_is_not_touched() -> None:
    assert (
        add_requirement("pyproject.toml", "[tool.ruff]\nline-length = 100\n", "kafka-python")
        is None
    )
    assert add_requirement("setup.cfg", "[flake8]\nmax-line-length = 100\n", "kafka-python") is None
