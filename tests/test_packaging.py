"""A non-editable install carries the templates and the typing marker."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

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
