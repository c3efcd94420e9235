"""Check label files against LABELS.md and against the extracted repositories.

    python bench/accuracy/check_labels.py [--corpus-dir DIR] [labels/owner__name.json ...]

Every problem is printed as ``FILE: message``; the exit status is 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_dir import default_corpus_dir  # noqa: E402

KINDS = {"direct", "wrapper_use"}
ROLES = {"call", "wrapper"}
CATEGORIES = {"production", "test", "loadgen", "script"}
CALL_FIELDS = {
    "file",
    "line",
    "end_line",
    "caller",
    "callee",
    "kind",
    "role",
    "category",
    "result_used",
}


def check(path: Path, corpus: Path) -> list[str]:
    problems: list[str] = []
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"cannot read: {exc}"]
    repo = data.get("repo", "")
    if path.stem != repo.replace("/", "__"):
        problems.append(f"file name does not match repo {repo!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", str(data.get("commit", ""))):
        problems.append("commit is not 40 hex digits")
    for key in ("licence", "python_files", "services", "calls", "endpoints"):
        if key not in data:
            problems.append(f"missing {key!r}")
    tree = corpus / path.stem
    names = {s.get("name") for s in data.get("services", [])}
    for service in data.get("services", []):
        root = service.get("root")
        if root is not None and not (tree / root).is_dir():
            problems.append(f"service {service.get('name')!r}: root {root!r} is not a folder")
    for n, call in enumerate(data.get("calls", []), 1):
        where = f"call {n} ({call.get('file')}:{call.get('line')})"
        missing = CALL_FIELDS - call.keys()
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if call["kind"] not in KINDS:
            problems.append(f"{where}: kind {call['kind']!r}")
        if call["role"] not in ROLES:
            problems.append(f"{where}: role {call['role']!r}")
        if call["category"] not in CATEGORIES:
            problems.append(f"{where}: category {call['category']!r}")
        callee = str(call["callee"])
        if not (
            callee in names or callee.startswith("external:") or callee in {"unknown", "generic"}
        ):
            problems.append(f"{where}: callee {callee!r} is not a labelled service")
        source = tree / call["file"]
        if tree.is_dir():
            if not source.is_file():
                problems.append(f"{where}: no such file in {tree}")
                continue
            lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
            if not 1 <= call["line"] <= call["end_line"] <= len(lines):
                problems.append(
                    f"{where}: lines {call['line']}-{call['end_line']} outside 1-{len(lines)}"
                )
            elif not lines[call["line"] - 1].strip():
                problems.append(f"{where}: line {call['line']} is blank")
    for n, endpoint in enumerate(data.get("endpoints", []), 1):
        if endpoint.get("service") not in names:
            problems.append(f"endpoint {n}: service {endpoint.get('service')!r} is not labelled")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*", type=Path)
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir())
    args = parser.parse_args()
    files = args.labels or sorted((HERE / "labels").glob("*.json"))
    bad = 0
    for path in files:
        for problem in check(path, args.corpus_dir):
            print(f"{path.name}: {problem}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
