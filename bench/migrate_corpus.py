"""Migrate every eligible call site of the accuracy corpus and check the result builds.

    python bench/migrate_corpus.py [--corpus-dir DIR] [--repo owner/name ...] [--keep DIR]

For each repository of the accuracy corpus (bench/accuracy/README.md says how to extract
it), scans it, takes every call site a migration can take in principle (a production call
from one service to another whose ``response_use`` is ``none`` or ``status``, not a stream
nor spans a tracing library exports),
and migrates them all at once, as ``decouple migrate --select`` would. Then, on a copy of
the repository:

- applies the patch with ``git apply`` (the patch applies);
- compiles every Python file the patch adds or changes (the patch compiles);
- runs ``ruff check`` on the files the migration generates, with the rules generated code is
  held to (tests/fixtures/golden/generated/ruff.toml);
- runs ``ruff check --select F821,F811,F841`` on every file the migration rewrote, before and
  after, and counts the findings the original did not have (a name left undefined, a
  redefinition, a local nobody reads): code that compiles and fails when it runs.

Prints one row per repository: eligible sites, migrated, refused by the plan (with the
reason codes), failed rewrites, files changed, and whether apply, compile and ruff passed.
"""

from __future__ import annotations

import argparse
import json
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "accuracy"))

from corpus_dir import default_corpus_dir  # noqa: E402

from decouple_services.app.pipeline import ScanOptions, scan  # noqa: E402
from decouple_services.core.model import Category, ResponseUse, Role  # noqa: E402
from decouple_services.graph.migratability import assess  # noqa: E402
from decouple_services.migrate.changes import render_diff  # noqa: E402
from decouple_services.migrate.plan import PlanOptions  # noqa: E402
from decouple_services.migrate.run import migrate_scanned  # noqa: E402
from decouple_services.migrate.select import Criteria, select_sites  # noqa: E402

#: What generated code is held to (the same file the golden tests use).
RUFF = HERE.parent / "tests" / "fixtures" / "golden" / "generated" / "ruff.toml"

TAKEN = {ResponseUse.NONE, ResponseUse.STATUS}


@dataclass
class Row:
    repo: str
    eligible: int = 0
    migrated: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    failed_notes: list[str] = field(default_factory=list)
    files: int = 0
    applies: bool | None = None
    compile_errors: list[str] = field(default_factory=list)
    ruff_errors: int | None = None
    #: Undefined/redefined/unused names the rewritten files have and the originals did not.
    new_names: list[str] = field(default_factory=list)


def eligible_ids(result: object) -> list[str]:
    sites = result.call_sites  # type: ignore[attr-defined]
    return [
        s.id
        for s in sites
        if s.role is Role.CALL
        and s.category is Category.PRODUCTION
        and s.response_use in TAKEN
        and not {"streaming", "telemetry"} & {b.code for b in assess(s).blockers}
        and s.callee not in ("unknown", s.caller)
        and not s.callee.startswith("external:")
    ]


def run_repo(repo_dir: Path, name: str, keep: Path | None) -> Row:
    row = Row(name)
    result = scan(repo_dir, ScanOptions(use_cache=False))
    ids = eligible_ids(result)
    row.eligible = len(ids)
    if not ids:
        return row
    selection = select_sites(result, Criteria(ids=tuple(ids)))
    migration = migrate_scanned(result, selection, PlanOptions())
    row.migrated = len(migration.migrated)
    for refusal in migration.plan.refused:
        for reason in refusal.reasons:
            row.refused[reason.code] += 1
            where = f"{refusal.site.file}:{refusal.site.line}" if refusal.site else ""
            row.failed_notes.append(
                f"refused {refusal.site_id} {where} [{reason.code}]: {reason.reason}; "
                f"instead: {reason.suggestion}"
            )
    row.failed = [f"{ident}: {why}" for ident, why in migration.failed]
    row.failed_notes.extend(
        f"dependencies of {service}: {note}" for service, note in migration.dependency_notes
    )
    row.files = len(migration.changes)
    if not migration.changes:
        return row
    work = Path(tempfile.mkdtemp(prefix="decouple-migrate-corpus-"))
    try:
        copy = work / "repo"
        shutil.copytree(repo_dir, copy, symlinks=True)
        patch = work / "migration.patch"
        patch.write_bytes(render_diff(migration.changes))
        applied = subprocess.run(
            ["git", "apply", str(patch)], cwd=copy, capture_output=True, text=True
        )
        row.applies = applied.returncode == 0
        if not row.applies:
            row.compile_errors.append(applied.stderr.strip()[:300])
            return row
        changed = [c.path for c in migration.changes if c.path.endswith(".py")]
        for path in changed:
            try:
                py_compile.compile(str(copy / path), doraise=True)
            except py_compile.PyCompileError as exc:
                row.compile_errors.append(f"{path}: {exc.msg.strip()[:200]}")
        generated = [
            c.path for c in migration.changes if c.kind == "generated" and c.path.endswith(".py")
        ]
        if generated:
            ruff = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ruff",
                    "check",
                    "--no-cache",
                    "--config",
                    str(RUFF),
                    *generated,
                ],
                cwd=copy,
                capture_output=True,
                text=True,
            )
            row.ruff_errors = ruff.stdout.count("\n") if ruff.returncode else 0
            if ruff.returncode:
                sys.stderr.write(ruff.stdout)
        rewritten = [
            c.path for c in migration.changes if c.kind != "generated" and c.path.endswith(".py")
        ]
        row.new_names = new_name_findings(
            repo_dir, copy, [p for p in rewritten if (repo_dir / p).is_file()]
        )
        if keep is not None:
            target = keep / name.replace("/", "__")
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(copy, target, symlinks=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return row


#: Findings that mean rewritten code fails when it runs, or lost what it did.
NAME_RULES = "F821,F811,F841"


def _name_findings(root: Path, paths: list[str]) -> Counter[tuple[str, str, str]]:
    """``(file, code, message)`` of each finding, counted, with no line number in it: lines
    move in a rewrite."""
    if not paths:
        return Counter()
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            NAME_RULES,
            "--output-format",
            "json",
            *paths,
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    out: Counter[tuple[str, str, str]] = Counter()
    for finding in json.loads(found.stdout or "[]"):
        path = str(Path(finding["filename"]).resolve().relative_to(root.resolve()))
        # "redefinition of unused `f` from line 412": the rewrite moves that line
        message = re.sub(r"\bline \d+", "line N", finding["message"])
        out[(path, finding["code"], message)] += 1
    return out


def new_name_findings(original: Path, rewritten: Path, paths: list[str]) -> list[str]:
    """The F821/F811/F841 findings of the rewritten files that the originals did not have."""
    before = _name_findings(original, paths)
    after = _name_findings(rewritten, paths)
    return [f"{path}: {code} {message}" for (path, code, message) in (after - before).elements()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir())
    parser.add_argument("--repo", action="append", default=[])
    parser.add_argument("--keep", type=Path, help="keep each migrated copy under this folder")
    args = parser.parse_args(argv)
    labels = sorted((HERE / "accuracy" / "labels").glob("*.json"))
    names = [p.stem.replace("__", "/", 1) for p in labels]
    if args.repo:
        names = [n for n in names if n in args.repo]
    print(
        "| repository | eligible | migrated | refused (codes) | failed | files | applies "
        "| compiles | ruff on generated | new F821/F811/F841 |"
    )
    print("|---|---:|---:|---|---:|---:|---|---|---|---:|")
    total = Row("**all**")
    for name in names:
        repo_dir = args.corpus_dir / name.replace("/", "__")
        if not repo_dir.is_dir():
            print(f"| {name} | not extracted |||||||", flush=True)
            continue
        try:
            row = run_repo(repo_dir, name, args.keep)
        except Exception as exc:  # a crash is a result here, not the end of the run
            print(f"| {name} | crashed: {type(exc).__name__}: {exc} |||||||", flush=True)
            continue
        for line in row.failed_notes + row.failed + row.compile_errors + row.new_names:
            print(f"  {name}: {line}", file=sys.stderr)
        total.eligible += row.eligible
        total.migrated += row.migrated
        total.refused.update(row.refused)
        total.failed += row.failed
        total.files += row.files
        total.compile_errors += row.compile_errors
        total.new_names += row.new_names
        print(_render(row), flush=True)
    print(_render(total))
    return 0


def _render(row: Row) -> str:
    refused = ", ".join(f"{code} {n}" for code, n in sorted(row.refused.items())) or "-"
    applies = "-" if row.applies is None else ("yes" if row.applies else "NO")
    compiles = "-" if row.applies is None else ("yes" if not row.compile_errors else "NO")
    ruff = "-" if row.ruff_errors is None else ("clean" if not row.ruff_errors else "errors")
    return (
        f"| {row.repo} | {row.eligible} | {row.migrated} | {refused} | {len(row.failed)} "
        f"| {row.files} | {applies} | {compiles} | {ruff} | {len(row.new_names)} |"
    )


if __name__ == "__main__":
    sys.exit(main())
