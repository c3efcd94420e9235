"""The built wheel in a fresh virtualenv: `pip install decouple-services` alone.

It draws SVG with no Graphviz on PATH, and it lives beside python-decouple, Django and
FastAPI without taking python-decouple's module name (Django settings do
``from decouple import config``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "sample"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name == "nt", reason="POSIX virtualenv layout"),
]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel, python-decouple, Django and FastAPI."""
    tmp = tmp_path_factory.mktemp("install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp.glob("decouple_services-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # python-decouple first, then the wheel: the order that broke before.
    pip = [str(venv / "bin" / "pip"), "install", "-q"]
    subprocess.run([*pip, "python-decouple", "django", "fastapi"], check=True)
    subprocess.run([*pip, str(wheel)], check=True)
    return venv


def bare_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


def test_a_fresh_install_draws_svg_without_system_graphviz(venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample.svg"
    done = subprocess.run(
        [str(venv / "bin" / "decouple"), "graph", str(SAMPLE), "--no-cache", "--svg", str(out)],
        env=bare_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    svg = out.read_bytes()
    assert b"graphviz-pure" in svg.split(b"<svg", 1)[0]
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"


def test_python_decouple_still_works_beside_it(venv: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET_KEY=from-dotenv\nDEBUG=true\n")
    probe = (
        "from decouple import config\n"
        "assert config('SECRET_KEY') == 'from-dotenv', config('SECRET_KEY')\n"
        "assert config('DEBUG', cast=bool) is True\n"
        "import django, fastapi, decouple_services\n"
        "print(decouple_services.__version__)\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env=bare_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", [["decouple"], ["python", "-m", "decouple_services"]])
def test_the_installed_command_scans_the_sample(
    venv: Path, tmp_path: Path, command: list[str]
) -> None:
    executable = [str(venv / "bin" / command[0]), *command[1:]]
    done = subprocess.run(
        [*executable, "scan", str(SAMPLE), "--no-cache", "--format", "json"],
        env=bare_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert '"call_sites"' in done.stdout and '"callee": "users"' in done.stdout
