"""Run each corpus repository's own tests before and after its migration.

    python bench/migrate_repo_tests.py --keep DIR [--corpus-dir DIR] [--repo owner/name ...]
        [--work DIR] [--venvs DIR] [--timeout SECONDS] [--test-timeout SECONDS]

``DIR`` is the folder ``bench/migrate_corpus.py --keep DIR`` filled with migrated copies.
For each repository the manifest (bench/repo_tests.toml) names, this script:

- makes a venv of its own, ``<venvs>/rt-<name>`` (``/tmp``), outside the project, with the
  Python the manifest names, and installs the packages it lists (the repository's
  requirements, with pins that still install here) and every requirement the migration
  added to a ``requirements*.txt`` or ``pyproject.toml`` of the copy (the Kafka client);
- makes the PostgreSQL databases the manifest names, on a server started beforehand;
- copies the original (the corpus) and the migrated copy under ``<work>`` so neither is
  written to, and runs each suite of the manifest in both, under ``nice`` and ``timeout``,
  with pytest's JUnit XML report (or, for a service with no tests, the check the manifest
  gives: one outcome);
- prints one row per suite: tests collected, passed, failed, errors and skipped, before
  and after, and on stderr every test whose outcome differs, with its first message (a
  test only the migration added, such as the generated consumer tests, counts too).

Repositories the manifest lists with ``skip`` are printed with the reason their tests
cannot run here. bench/README.md says which servers the manifest expects to be running.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "accuracy"))

from corpus_dir import default_corpus_dir  # noqa: E402

MANIFEST = HERE / "repo_tests.toml"

#: What a copy leaves out: caches and what the tests never read.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", "node_modules")


#: Put first on the path of every run: tests that open files at the path their container
#: mounts them at (``/app/app/tests/x.json``) open them from the copy (``remap = {"/app/" =
#: "{dir}/"}`` in the manifest), so the repository's code is left as it is.
SITECUSTOMIZE = """\
import builtins, io, os

_PAIRS = [p.split("=", 1) for p in os.environ.get("RT_REMAP", "").split(os.pathsep) if p]
_open = builtins.open


def _remapped(file, *args, **kwargs):
    if isinstance(file, str):
        for old, new in _PAIRS:
            if file.startswith(old):
                file = new + file[len(old):]
                break
    return _open(file, *args, **kwargs)


if _PAIRS:
    builtins.open = io.open = _remapped
"""


@dataclass
class Outcome:
    """One suite's run: each test's id and its outcome."""

    tests: dict[str, str] = field(default_factory=dict)
    #: The first line of each failure's or error's message.
    messages: dict[str, str] = field(default_factory=dict)
    #: Why the run has no report (a collection crash, a timeout), else empty.
    note: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.tests.values() if o == outcome)

    def render(self) -> str:
        if not self.tests:
            return self.note or "no tests"
        return (
            f"{len(self.tests)} collected, {self.count('passed')} passed, "
            f"{self.count('failed')} failed, {self.count('error')} errors, "
            f"{self.count('skipped')} skipped"
        )


def read_junit(report: Path) -> Outcome:
    """Each test's outcome (passed, failed, error, skipped) from a pytest JUnit XML report."""
    found = Outcome()
    for case in ET.parse(report).getroot().iter("testcase"):
        ident = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "").strip().split("\n")[0][:200]
        # a test that fails in its teardown has two entries: the worse one stands
        if found.tests.get(ident) in ("failed", "error"):
            continue
        found.tests[ident] = outcome
        if outcome in ("failed", "error"):
            found.messages[ident] = message
    return found


def added_requirements(original: Path, migrated: Path) -> list[str]:
    """The requirements the migration added to the copy's requirements files and
    pyproject.toml dependencies (what the generated code imports)."""
    added: list[str] = []
    for path in sorted(migrated.rglob("*")):
        if "node_modules" in path.parts or not path.is_file():
            continue
        rel = path.relative_to(migrated)
        if re.fullmatch(r"requirements.*\.txt", path.name):
            before = _requirement_lines(original / rel)
            added += [r for r in _requirement_lines(path) if r not in before]
        elif path.name == "pyproject.toml":
            before = _pyproject_dependencies(original / rel)
            added += [r for r in _pyproject_dependencies(path) if r not in before]
    return sorted(set(added))


def _requirement_lines(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-")}


def _pyproject_dependencies(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    data = tomllib.loads(path.read_text())
    project = data.get("project", {})
    found = set(project.get("dependencies", []))
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    # poetry's table: ``confluent-kafka = "2.16.1"``; pip reads it as ``==``
    for name, spec in poetry.items():
        if name != "python" and isinstance(spec, str):
            bound = spec.lstrip("^~")
            if bound[:1].isdigit():
                # ``^2.16.1``/``~2.16.1``: the lower bound is what the code was written for
                found.add(f"{name}{'==' if bound == spec else '>='}{bound}")
            else:
                found.add(f"{name}{spec}")
    return found


def project_requirements(path: Path, extras: list[str]) -> list[str]:
    """What a ``pyproject.toml`` lists in ``[project]``: its dependencies and those of the
    ``extras`` (optional dependencies or dependency groups) named, without installing
    the project itself (the copies are run from their own folders)."""
    data = tomllib.loads(path.read_text())
    project = data.get("project", {})
    found = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    groups = data.get("dependency-groups", {})
    for extra in extras:
        found += [r for r in optional.get(extra, groups.get(extra, [])) if isinstance(r, str)]
    return found


def find_python(name: str) -> str | None:
    """``python3.9`` as pyenv installs it (its shim runs only the selected version), else
    on the PATH."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    version = name.removeprefix("python")
    for found in sorted(root.glob(f"versions/{version}.*/bin/{name}"), reverse=True):
        return str(found)
    return shutil.which(name)


def make_venv(venv: Path, base: str, packages: list[str], options: list[str], timeout: int) -> str:
    """Create the venv once with ``base`` (``python3.9``; this interpreter if empty) and
    install ``packages``; the pip output's tail on failure."""
    python = venv / "bin" / "python"
    if not python.exists():
        interpreter = find_python(base) if base else sys.executable
        if interpreter is None:
            return f"no {base} here"
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    if not packages:
        return ""
    done = subprocess.run(
        ["timeout", str(timeout), str(python), "-m", "pip", "install", "-q", *options, *packages],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else done.stderr.strip()[-600:]


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a compose env file (quotes around the value dropped)."""
    found = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            found[name.strip()] = value
    return found


def run_suite(
    root: Path,
    suite: dict[str, object],
    venv: Path,
    report: Path,
    timeout: int,
    test_timeout: int,
) -> Outcome:
    cwd = root / str(suite.get("dir", "."))
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    for rel in suite.get("env_files", []):  # type: ignore[attr-defined]
        env.update(read_env_file(root / str(rel)))
    extra = suite.get("env", {})
    assert isinstance(extra, dict)
    env.update({str(k): str(v).replace("{dir}", str(cwd)) for k, v in extra.items()})
    remap = suite.get("remap", {})
    assert isinstance(remap, dict)
    if remap:
        shim = report.parent / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env["PYTHONPATH"] = str(shim)
        env["RT_REMAP"] = os.pathsep.join(
            f"{old}={str(new).replace('{dir}', str(cwd))}" for old, new in remap.items()
        )
    args = suite.get("args", [])
    assert isinstance(args, list)
    # a folder only the migration adds (its generated tests) is absent before it
    paths = [a for a in map(str, args) if not a.startswith("-")]
    args = [a for a in map(str, args) if a.startswith("-") or (cwd / a).exists()]
    if paths and not any(not a.startswith("-") for a in args):
        return Outcome(note="no tests")  # not pytest's default of every file under cwd
    for step in suite.get("setup", []):  # type: ignore[attr-defined]
        # what the service's image does before it runs (generate its gRPC modules)
        done = subprocess.run(
            ["timeout", str(timeout), *map(str, step)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
            return Outcome(note=f"setup failed: {' '.join(map(str, step))}: {' '.join(tail)}")
    if "command" in suite:
        # a check that is not a test suite (``manage.py check`` of a caller with no tests):
        # one outcome, named by the command
        command = [str(c) for c in suite["command"]]  # type: ignore[attr-defined]
        done = subprocess.run(
            ["timeout", str(timeout), "nice", *command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        result = "passed" if done.returncode == 0 else "failed"
        last = (done.stdout + done.stderr).strip().splitlines()[-1:]
        note = "" if done.returncode == 0 else " ".join(last)[:200]
        ident = " ".join(command)
        return Outcome({ident: result}, {ident: note} if note else {})
    report.unlink(missing_ok=True)
    command = [
        "timeout",
        str(timeout),
        "nice",
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={report}",
        f"--timeout={test_timeout}",
        *args,
    ]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if not report.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        return Outcome(note=f"no report (exit {done.returncode}): {' / '.join(tail)}")
    outcome = read_junit(report)
    if done.returncode == 124:
        outcome.note = "timed out"
    return outcome


#: Makes each database that does not exist yet, with the venv's own PostgreSQL driver.
CREATE_DATABASES = """\
import sys
try:
    import psycopg2 as driver
except ImportError:
    import psycopg as driver
host, port, user, *names = sys.argv[1:]
connection = driver.connect(host=host, port=int(port), user=user, dbname="postgres")
connection.autocommit = True
cursor = connection.cursor()
for name in names:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    if cursor.fetchone() is None:
        cursor.execute('CREATE DATABASE "%s"' % name)
"""


def create_databases(venv: Path, postgres: dict[str, object], timeout: int) -> str:
    """Make the databases a repository's settings connect to before its tests make their
    own (``postgres = { host, port, user, databases }`` in the manifest: a server the
    runner started, such as a throwaway ``initdb``/``pg_ctl`` cluster)."""
    names = [str(n) for n in postgres.get("databases", [])]  # type: ignore[attr-defined]
    done = subprocess.run(
        [
            "timeout",
            str(timeout),
            str(venv / "bin" / "python"),
            "-c",
            CREATE_DATABASES,
            str(postgres.get("host", "127.0.0.1")),
            str(postgres.get("port", 5432)),
            str(postgres.get("user", "postgres")),
            *names,
        ],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else done.stderr.strip()[-300:]


def differences(before: Outcome, after: Outcome) -> list[str]:
    out = []
    for ident in sorted(set(before.tests) | set(after.tests)):
        old, new = before.tests.get(ident, "absent"), after.tests.get(ident, "absent")
        if old != new:
            why = after.messages.get(ident, "")
            out.append(f"{ident}: {old} -> {new}" + (f" ({why})" if why else ""))
    return out


def run_repo(
    name: str,
    spec: dict[str, object],
    corpus: Path,
    keep: Path,
    work: Path,
    venvs: Path,
    timeout: int,
    test_timeout: int,
) -> list[str]:
    """The report lines of one repository."""
    # a repository whose services pin conflicting versions has one entry per service,
    # each with a venv of its own: ``["owner/name kernel"]`` with ``repo = "owner/name"``
    repo = str(spec.get("repo", name))
    slug = repo.replace("/", "__")
    original, migrated = corpus / slug, keep / slug
    own = re.sub(r"[^\w.-]+", "-", name.replace("/", "__"))
    if "skip" in spec:
        return [f"| {name} | - | not run: {spec['skip']} | - | - |"]
    if not migrated.is_dir():
        return [f"| {name} | - | no migrated copy in {keep} | - | - |"]
    if not original.is_dir():
        return [f"| {name} | - | not extracted in {corpus} | - | - |"]
    # ``{repo}``: a package of the repository itself (``{repo}/shared/errors_package``)
    pip = spec.get("pip", [])
    packages = [str(p).replace("{repo}", str(original)) for p in pip]  # type: ignore[attr-defined]
    for rel in spec.get("requirements", []):  # type: ignore[attr-defined]
        packages += ["-r", str(original / rel)]
    for entry in spec.get("pyproject", []):  # type: ignore[attr-defined]
        packages += project_requirements(original / entry["path"], entry.get("extras", []))
    added = added_requirements(original, migrated)
    venv = venvs / f"rt-{own}"
    options = [str(o) for o in spec.get("pip_options", [])]  # type: ignore[attr-defined]
    base = f"python{spec['python']}" if "python" in spec else ""
    # a test that waits on a service that is not there stops at --test-timeout
    failed = make_venv(venv, base, [*packages, *added, "pytest-timeout"], options, timeout)
    if failed:
        return [f"| {name} | - | pip failed: {failed} | - | - |"]
    postgres = spec.get("postgres")
    if isinstance(postgres, dict):
        failed = create_databases(venv, postgres, timeout)
        if failed:
            return [f"| {name} | - | databases not made: {failed} | - | - |"]
    copies = {}
    for label, source in (("before", original), ("after", migrated)):
        copies[label] = work / own / label
        shutil.rmtree(copies[label], ignore_errors=True)
        shutil.copytree(source, copies[label], symlinks=True, ignore=IGNORED)
    lines = []
    suites = spec.get("suite", [])
    assert isinstance(suites, list)
    for number, suite in enumerate(suites):
        outcomes = {
            label: run_suite(
                root, suite, venv, work / own / f"{label}-{number}.xml", timeout, test_timeout
            )
            for label, root in copies.items()
        }
        diff = differences(outcomes["before"], outcomes["after"])
        lines.append(
            f"| {name} | {suite.get('name', suite.get('dir', '.'))} "
            f"| {outcomes['before'].render()} | {outcomes['after'].render()} | {len(diff)} |"
        )
        lines += [f"  {name}: {d}" for d in diff]
    if added:
        lines.append(f"  {name}: installed for the migration: {', '.join(added)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, required=True, help="migrate_corpus.py's --keep")
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir())
    parser.add_argument("--repo", action="append", default=[])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rt-work"))
    parser.add_argument("--venvs", type=Path, default=Path("/tmp"), help="rt-<name> venvs here")
    parser.add_argument("--timeout", type=int, default=1800, help="per install and per run")
    parser.add_argument("--test-timeout", type=int, default=60, help="per test")
    args = parser.parse_args(argv)
    manifest = tomllib.loads(MANIFEST.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    print("| repository | suite | before | after | differences |")
    print("|---|---|---|---|---:|")
    for name, spec in manifest.items():
        if args.repo and name not in args.repo and spec.get("repo") not in args.repo:
            continue
        for line in run_repo(
            name,
            spec,
            args.corpus_dir,
            args.keep,
            args.work,
            args.venvs,
            args.timeout,
            args.test_timeout,
        ):
            print(line, file=sys.stderr if line.startswith("  ") else sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
