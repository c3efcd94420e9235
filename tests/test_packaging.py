"""A non-editable install carries the templates, the typing marker and the licence."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

from decouple_services.render.rules import REPOSITORY_URL

ROOT = Path(__file__).parent.parent


def test_the_wheel_ships_templates_and_py_typed(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("decouple_services-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "decouple_services/templates/README.md" in names
    assert "decouple_services/py.typed" in names
    assert "decouple_services/cli/__init__.py" in names
    wheel_file = zipfile.ZipFile(wheel)
    (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    license_text = wheel_file.read(license_name).decode()
    assert license_text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel_file.read(metadata_name).decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Repository", "Documentation", "Issues"}


def test_project_urls_name_the_repository_the_outputs_link_to() -> None:
    """SARIF's informationUri and every helpUri point into this repository."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert project["urls"]["Repository"] == REPOSITORY_URL
    assert all(url.startswith(REPOSITORY_URL) for url in project["urls"].values())
