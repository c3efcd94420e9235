"""The benchmark corpora: the homeassistant wheel from PyPI, the bundled sample, synthetic monorepos.

    python bench/corpus.py homeassistant      # download once, extract, print the folder
    python bench/corpus.py netbox [GIT_DIR]   # a pinned commit of a GitHub repository
    python bench/corpus.py polar [GIT_DIR]
    python bench/corpus.py synthetic 1000     # generate (once) and print the folder

Everything is kept outside the repository, under ``$DECOUPLE_BENCH_CACHE`` (default
``~/.cache/decouple-bench``). The GitHub corpora are fetched at a pinned commit (a shallow
``git fetch`` of that commit alone) unless ``GIT_DIR`` names a local clone or mirror that has
it; only one folder of each is extracted (the Python application, not its frontend).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
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


# --- large real codebases from GitHub, at a pinned commit -----------------------------------


@dataclass(frozen=True)
class GitCorpus:
    url: str
    commit: str
    #: The folder extracted: the Python application.
    folder: str
    #: The file the "changed" measurement edits (relative to the extracted folder).
    edited: str
    #: Files left out wherever they come from (data too large for some mirrors).
    leave_out: tuple[str, ...] = ()


GIT_CORPORA = {
    # Django: about 1,200 .py files, 230,000 lines (its migrations included)
    "netbox": GitCorpus(
        "https://github.com/netbox-community/netbox",
        "43fe81f9e833228c9869f7ddadb67e6c5f145060",
        "netbox",
        "netbox/core/models/data.py",
        # a 12 MB table of UN/LOCODE places, as Python literals: data, not code
        ("netbox/extras/data/un_locode.py",),
    ),
    # FastAPI (SQLAlchemy, httpx clients to payment and email providers): about 1,800 .py
    # files, 420,000 lines
    "polar": GitCorpus(
        "https://github.com/polarsource/polar",
        "c6c3645e639ee8eeaa05aa0835cf8e39e330382f",
        "server",
        "server/polar/integrations/github/client.py",
    ),
}


def _git(git_dir: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True, **kw)  # type: ignore[call-overload]


def git_corpus(name: str, source: Path | None = None) -> Path:
    """``GIT_CORPORA[name]`` extracted at its commit: from ``source`` (a clone or bare mirror
    holding the commit) or fetched from GitHub into a bare repository of its own."""
    spec = GIT_CORPORA[name]
    target = cache_root() / f"{name}-{spec.commit[:12]}"
    if (target / ".complete").exists():
        return target
    if source is not None:
        git_dir = source / ".git" if (source / ".git").exists() else source
    else:
        git_dir = cache_root() / f"{name}.git"
        if not git_dir.exists():
            subprocess.run(["git", "init", "--bare", "-q", str(git_dir)], check=True)
        _git(git_dir, "fetch", "--depth", "1", "-q", spec.url, spec.commit)
    listing = _git(
        git_dir, "ls-tree", "-r", "-z", spec.commit, "--", spec.folder, capture_output=True
    ).stdout
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        info, _, path = record.partition(b"\t")
        mode, kind, blob = info.split()
        if kind == b"blob" and mode != b"120000" and path.decode() not in spec.leave_out:
            entries.append((blob.decode(), path.decode()))
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        subprocess.run(["rm", "-rf", str(partial)], check=True)
    # One `cat-file --batch` for every blob; a blob a partial mirror lacks (large assets)
    # is reported and left out, the .py files are all small.
    batch = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin is not None and batch.stdout is not None
    missing = []
    for blob, path in entries:
        batch.stdin.write(blob.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if header[-1] == b"missing":
            missing.append(path)
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        out = partial / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    batch.stdin.close()
    batch.wait()
    if any(p.endswith(".py") for p in missing):
        raise SystemExit(f"{name}: Python files missing from {git_dir}: {missing[:5]}")
    for path in missing:
        print(f"{name}: left out (not in {git_dir}): {path}", file=sys.stderr)
    (partial / ".complete").write_text(spec.commit + "\n")
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
    if not argv or argv[0] not in {"homeassistant", "synthetic", "sample", *GIT_CORPORA}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "homeassistant":
        print(homeassistant())
    elif argv[0] in GIT_CORPORA:
        print(git_corpus(argv[0], Path(argv[1]) if len(argv) > 1 else None))
    elif argv[0] == "sample":
        print(SAMPLE)
    else:
        print(synthetic(int(argv[1]) if len(argv) > 1 else 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
