from __future__ import annotations

import tomllib
from collections.abc import Callable

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


def test_pyproject_array_whose_last_entry_has_a_comment() -> None:
    """The comma goes after the last entry's string, not inside its comment (which would
    leave two strings with nothing between them: an array TOML cannot read); a bracket or
    a quote in a comment is not the array's."""
    text = (
        "[project]\ndependencies = [\n"
        '    "django (>=5.2.7,<6.0.0)",  # "LTS" [see #12]\n'
        '    "setuptools (>=80.9.0,<81.0.0)"  # needed for django-excel. See issues/1176\n'
        "]\n"
    )
    changed = add_requirement("pyproject.toml", text, "kafka-python")
    assert changed == (
        "[project]\ndependencies = [\n"
        '    "django (>=5.2.7,<6.0.0)",  # "LTS" [see #12]\n'
        '    "setuptools (>=80.9.0,<81.0.0)",  # needed for django-excel. See issues/1176\n'
        f'    "kafka-python>={KP}",\n'
        "]\n"
    )
    assert tomllib.loads(changed)["project"]["dependencies"][-1] == f"kafka-python>={KP}"
    listed = text.replace("See issues/1176", 'not "kafka-python"')
    assert add_requirement("pyproject.toml", listed, "kafka-python") is not None


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


def _files(tree: dict[str, str]) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        text = tree.get(path)
        return None if text is None else text.encode()

    return read


def test_the_requirements_a_dockerfile_installs_are_found_through_its_copy() -> None:
    """No requirements.txt beside the code: the Dockerfile's ``pip install -r`` names the
    file, its ``COPY`` says where it comes from (the service's folder or the build context
    above it)."""
    from decouple_services.migrate.run import dependency_files

    read = _files(
        {
            "rpl_users/Dockerfile": (
                "COPY ./base_requirements.txt /rpl_users/base_requirements.txt\n"
                "COPY ./rpl_users/extra_requirements.txt /rpl_users/extra_requirements.txt\n"
                "RUN pip install -r /rpl_users/base_requirements.txt \\\n"
                "    -r /rpl_users/extra_requirements.txt\n"
            ),
            "base_requirements.txt": "fastapi\n",
            "rpl_users/extra_requirements.txt": "httpx\n",
            "odk/Dockerfile": (
                "WORKDIR /code\nCOPY --chown=a:a ./conf/pip /code/conf/pip\n"
                "RUN pip install -q -r /code/conf/pip/requirements.txt\n"
            ),
            "odk/setup.cfg": "[metadata]\nname = odk\n",
            "odk/conf/pip/requirements.txt": "django\n",
            "ch10/frontend/Dockerfile": "COPY requirements.txt .\nRUN pip install -r requirements.txt\n",
            "ch10/frontend/requirements.txt": "django\n",
        }
    )
    assert dependency_files("rpl_users", read)[-2:] == [
        "rpl_users/extra_requirements.txt",
        "base_requirements.txt",
    ]
    assert dependency_files("odk", read)[-1] == "odk/conf/pip/requirements.txt"
    # the code is in ch10/frontend/mythoughts, the image is built one folder up
    assert dependency_files("ch10/frontend/mythoughts", read)[0] == "ch10/frontend/requirements.txt"


def test_a_lock_file_beside_an_edited_pyproject_is_named() -> None:
    from decouple_services.migrate.run import stale_lock

    read = _files({"gateway/pyproject.toml": "", "gateway/poetry.lock": ""})
    note = stale_lock("gateway/pyproject.toml", read)
    assert note is not None and "gateway/poetry.lock" in note and "`poetry lock`" in note
    assert stale_lock("other/pyproject.toml", read) is None
    assert stale_lock("gateway/requirements.txt", read) is None
