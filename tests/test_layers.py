"""The folder tree is the architecture: each layer imports only the layers below it.

    cli (the face) → app (runs the stages) → stages → core (model, errors, config)

Stages (discover, detect, resolve, render, graph, migrate) take values in and give values
out; one that reached up into ``app`` or ``cli`` would know the pipeline above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "decouple_services"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE
STAGES = {"discover", "detect", "resolve", "render", "graph", "migrate"}
#: What each layer may import from the package (besides itself and the top-level package).
ALLOWED = {
    "core": {"core"},
    **{stage: STAGES | {"core"} for stage in STAGES},
    "app": STAGES | {"core", "app"},
    "cli": STAGES | {"core", "app", "cli"},
}


def layer_of(path: Path) -> str:
    return path.relative_to(SOURCE).parts[0].removesuffix(".py")


def imported_layers(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, layer) for every import of the package in ``path``, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    package_parts = path.relative_to(SOURCE.parent).with_suffix("").parts[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_parts[: len(package_parts) - node.level + 1]
                base = ".".join((*anchor, base) if base else anchor)
            names = [base] if base != PACKAGE else [f"{PACKAGE}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def modules() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if len(p.relative_to(SOURCE).parts) > 1)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SOURCE)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    layer = layer_of(path)
    wrong = [
        f"{path.relative_to(SOURCE)}:{line} imports {target}"
        for line, target in imported_layers(path)
        if target not in ALLOWED[layer] and target not in {"__version__"}
    ]
    assert not wrong, wrong


def test_the_package_root_holds_only_its_entry_points() -> None:
    assert sorted(p.name for p in SOURCE.glob("*.py")) == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from decouple_services.app.pipeline import scan\n",
        "def f():\n    from ..app import pipeline\n",
        "def f():\n    import decouple_services.cli\n",
        "def f():\n    from decouple_services import app\n",
    ],
)
def test_the_checker_sees_an_upward_import_however_written(source: str) -> None:
    probe = SOURCE / "graph" / "probe.py"  # never written: its text is given
    ((_, layer),) = imported_layers(probe, source)
    assert layer in {"app", "cli"} and layer not in ALLOWED[layer_of(probe)]
