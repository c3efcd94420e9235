"""The benchmark corpora: the homeassistant wheel from PyPI, the bundled sample, synthetic monorepos.

    python bench/corpus.py homeassistant      # download once, extract, print the folder
    python bench/corpus.py synthetic 1000     # generate (once) and print the folder

Everything is kept outside the repository, under ``$DECOUPLE_BENCH_CACHE`` (default
``~/.cache/decouple-bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

HOMEASSISTANT = "homeassistant==2025.4.4"
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "fixtures" / "sample"


def cache_root() -> Path:
    root = Path(os.environ.get("DECOUPLE_BENCH_CACHE") or Path.home() / ".cache" / "decouple-bench")
    root.mkdir(parents=True, exist_ok=True)
    return root


def homeassistant() -> Path:
    """The extracted wheel (about 8,000 .py files, 1.15 million lines)."""
    name, _, version = HOMEASSISTANT.partition("==")
    target = cache_root() / f"{name}-{version}"
    if (target / name / "__init__.py").exists():
        return target
    wheels = sorted(cache_root().glob(f"{name}-{version}-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--python-version",
                "3.13",
                "--only-binary=:all:",
                HOMEASSISTANT,
                "-d",
                str(cache_root()),
            ],
            check=True,
        )
        wheels = sorted(cache_root().glob(f"{name}-{version}-*.whl"))
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(partial)
    partial.rename(target)
    return target


# --- synthetic monorepo ---------------------------------------------------------------------

_CLIENT = '''"""Client of {callee}, generated for the benchmark."""

import os

import requests

{const} = os.environ.get("{const}", "http://{callee}:8080")


def fetch_{n}(item_id):
    response = requests.get(f"{{{const}}}/items/{{item_id}}", timeout=5)
    return response.json()


def notify_{n}(event):
    requests.post({const} + "/events", json=event, timeout=5)
'''

_HANDLER = '''"""Routes of {service}, generated for the benchmark."""

from flask import Blueprint

bp_{n} = Blueprint("bp_{n}", __name__)


@bp_{n}.route("/items/<item_id>")
def get_item_{n}(item_id):
    return {{"id": item_id}}


@bp_{n}.route("/events", methods=["POST"])
def post_event_{n}():
    return {{}}
'''

_PLAIN = '''"""Plain module {n}: records and arithmetic, like most of a real codebase."""

from dataclasses import dataclass


@dataclass
class Record{n}:
    name: str
    size: int = 0

    def grow(self, by: int) -> "Record{n}":
        return Record{n}(self.name, self.size + by)


def total_{n}(records: list[Record{n}]) -> int:
    result = 0
    for record in records:
        if record.size > 0:
            result += record.size
    return result
'''


def synthetic(files: int) -> Path:
    """A monorepo of ``files`` Python files in ``files // 100`` services (at least 2):
    one in ten files calls another service, one in ten declares routes, the rest is plain."""
    target = cache_root() / f"synthetic-v2-{files}"
    if (target / ".complete").exists():
        return target
    services = max(2, files // 100)
    compose = ["services:"]
    for s in range(services):
        compose += [f"  svc{s}:", f"    build: ./services/svc{s}"]
    target.mkdir(parents=True, exist_ok=True)
    (target / "docker-compose.yml").write_text("\n".join(compose) + "\n")
    for n in range(files):
        service = n % services
        folder = target / "services" / f"svc{service}" / f"pkg{n // 50 % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")
        kind = n % 10
        if kind == 0:
            callee = f"svc{(service + 1) % services}"
            text = _CLIENT.format(callee=callee, const=f"{callee.upper()}_URL", n=n)
        elif kind == 1:
            text = _HANDLER.format(service=f"svc{service}", n=n)
        else:
            text = _PLAIN.format(n=n)
        (folder / f"mod{n}.py").write_text(text)
    (target / ".complete").write_text("")
    return target


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"homeassistant", "synthetic", "sample"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "homeassistant":
        print(homeassistant())
    elif argv[0] == "sample":
        print(SAMPLE)
    else:
        print(synthetic(int(argv[1]) if len(argv) > 1 else 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
