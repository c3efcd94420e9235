"""SVG after `pip install decouple` alone: a fresh virtualenv, the built wheel, its
dependencies from the package index, no Graphviz on PATH and the virtualenv not activated."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "sample"


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX virtualenv layout")
def test_a_fresh_install_draws_svg_without_system_graphviz(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("decouple-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    out = tmp_path / "sample.svg"
    bare = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(venv / "bin" / "decouple"), "graph", str(SAMPLE), "--no-cache", "--svg", str(out)],
        env=bare,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    svg = out.read_bytes()
    assert b"graphviz-pure" in svg.split(b"<svg", 1)[0]
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
