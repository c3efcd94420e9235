"""A rewritten call site imports the producer so that it loads however the service imports
its own package: the planner guesses the import root, and an image may copy the package
under another (``COPY extensions /app/caluma/extensions``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FILES = {
    "pyproject.toml": """\
        [tool.decouple.services.caluma]
        root = "caluma"

        [tool.decouple.services.api]
        root = "api"
        """,
    "api/app.py": """\
        from flask import Flask

        app = Flask(__name__)


        @app.post("/notify")
        def notify():
            return "", 202
        """,
    "caluma/extensions/__init__.py": "",
    "caluma/extensions/settings.py": 'API = "http://api:8000"\n',
    "caluma/extensions/events/__init__.py": "",
    # the first site the planner sees roots the package at caluma/: ``extensions``
    "caluma/extensions/events/access.py": """\
        import requests

        from ..settings import API


        def grant(case):
            requests.post(f"{API}/notify", json={"grant": case}, timeout=2)
        """,
}


def _rewritten(root: Path, imports: str) -> str:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "caluma/extensions/events/case.py").write_text(
        f"import requests\n\n{imports}\n\n\n"
        "def notify(case):\n"
        '    requests.post(f"{API}/notify", json={"case": case}, timeout=2)\n',
        encoding="utf-8",
    )
    result = scan(root, ScanOptions(use_cache=False))
    sites = tuple(s.id for s in result.call_sites if s.file.startswith("caluma/"))
    assert len(sites) == 2, result.call_sites
    migration = migrate_scanned(result, select_sites(result, Criteria(ids=sites)), PlanOptions())
    assert migration.plan.refused == ()
    (change,) = [c for c in migration.changes if c.path.endswith("events/case.py")]
    return change.after.decode()


def test_a_file_importing_its_package_under_a_longer_root_imports_the_producer_relatively(
    tmp_path: Path,
) -> None:
    """The file roots its package at the repository (``caluma.extensions``), the producer
    at ``caluma/`` (``extensions``, as the other site's file imports relatively): only a
    relative import of the producer loads under both."""
    text = _rewritten(tmp_path, "from caluma.extensions.settings import API")
    assert "from ..decouple_producer import send_event_and_wait\n" in text


def test_a_file_importing_its_package_under_the_planner_s_root_keeps_absolute_imports(
    tmp_path: Path,
) -> None:
    text = _rewritten(tmp_path, "from extensions.settings import API")
    assert "from extensions.decouple_producer import send_event_and_wait\n" in text
