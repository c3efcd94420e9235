"""SVG through a Graphviz layout engine, found without any system installation.

Engines, in order:

1. ``DECOUPLE_DOT``: the path (or command name) of a ``dot`` you choose. Set, it is used
   and must work: an override that silently fell back would hide a broken setup.
2. ``graphviz-pure``, installed with decouple as a dependency: a static port of Graphviz
   16.1 shipped as a wheel for Linux, macOS and Windows, found next to the running Python
   (a virtualenv need not be activated) or on ``PATH``.
3. ``dot`` on ``PATH``, a system Graphviz.

Nothing found is a :class:`EngineNotFound` naming every place that was looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from decouple_services.core.errors import DecoupleError
from decouple_services.graph.render_dot import render_dot
from decouple_services.graph.view import GraphView

ENV_VAR = "DECOUPLE_DOT"
BUNDLED = "graphviz-pure"
#: A layout of thousands of nodes takes seconds; minutes means something is wrong.
LAYOUT_TIMEOUT = 300
#: What ``links=True`` adds to each service node of the SVG (Graphviz writes ``URL`` so).
_HOTSPOT_LINK = re.compile(rb' (?:xlink:)?href="#hotspot-\d+"')


class EngineNotFound(DecoupleError):
    pass


class LayoutError(DecoupleError):
    pass


@dataclass(frozen=True, slots=True)
class Engine:
    path: str
    #: How it was found: ``DECOUPLE_DOT``, ``bundled`` or ``system``.
    source: str


def _scripts_dirs() -> list[Path]:
    dirs = [Path(sys.executable).parent]
    for scheme in (None, f"{os.name}_user"):
        try:
            path = (
                sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
            )
        except KeyError:
            continue
        if path:
            dirs.append(Path(path))
    return list(dict.fromkeys(dirs))


def find_engine(environ: dict[str, str] | None = None) -> Engine:
    env = os.environ if environ is None else environ
    override = env.get(ENV_VAR, "").strip()
    if override:
        found = shutil.which(override)
        if found is None:
            raise EngineNotFound(
                f"{ENV_VAR}={override!r} is not an executable; point it at a Graphviz `dot` "
                f"or unset it to use the bundled {BUNDLED}"
            )
        return Engine(found, ENV_VAR)
    suffix = ".exe" if os.name == "nt" else ""
    for folder in _scripts_dirs():
        candidate = folder / f"{BUNDLED}{suffix}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return Engine(str(candidate), "bundled")
    on_path = shutil.which(BUNDLED)
    if on_path:
        return Engine(on_path, "bundled")
    system = shutil.which("dot")
    if system:
        return Engine(system, "system")
    looked = ", ".join(str(d) for d in _scripts_dirs())
    raise EngineNotFound(
        f"no Graphviz layout engine found: {ENV_VAR} is not set, {BUNDLED} is not installed "
        f"(looked in {looked} and PATH) and there is no `dot` on PATH. Install it with "
        f"`pip install {BUNDLED}` (a wheel, no system packages), or set {ENV_VAR} to a "
        "Graphviz `dot`. The --dot, --mermaid and --json outputs need no engine."
    )


def layout(dot_source: str, fmt: str = "svg", engine: Engine | None = None) -> bytes:
    """Run the engine on DOT source and return its output (``fmt`` is ``-T``'s value)."""
    engine = engine or find_engine()
    try:
        done = subprocess.run(
            [engine.path, f"-T{fmt}"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=LAYOUT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LayoutError(f"{engine.path} ({engine.source}) failed to run: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise LayoutError(f"{engine.path} ({engine.source}) could not lay out the graph: {message}")
    return done.stdout


def render_svg(view: GraphView, engine: Engine | None = None, *, links: bool = False) -> bytes:
    """The view as SVG (UTF-8 bytes), laid out by :func:`find_engine`'s engine. ``links``
    makes each service a link to its row of :func:`render_html`'s hotspot table."""
    return layout(render_dot(view, links=links), "svg", engine)


def without_links(svg: bytes) -> bytes:
    """``render_svg(view, links=True)`` as ``render_svg(view)`` gives it. The links change no
    position, so the page and the standalone SVG can share one layout, the slow part."""
    return _HOTSPOT_LINK.sub(b"", svg)
