"""Write manifest.json (repository, commit, licence, size, what it covers) from the labels.

python bench/accuracy/manifest.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIELDS = ("repo", "commit", "licence", "python_files", "covers")


def main() -> int:
    entries = []
    for path in sorted((HERE / "labels").glob("*.json")):
        labels = json.loads(path.read_text(encoding="utf-8"))
        entry = {key: labels.get(key) for key in FIELDS}
        calls = [c for c in labels.get("calls", []) if c.get("role") == "call"]
        entry["services"] = len(labels.get("services", []))
        entry["endpoints"] = len(labels.get("endpoints", []))
        entry["calls"] = {
            kind: sum(1 for c in calls if c.get("kind") == kind)
            for kind in ("direct", "wrapper_use")
        }
        entries.append(entry)
    text = json.dumps({"repositories": entries}, indent=2) + "\n"
    (HERE / "manifest.json").write_text(text, encoding="utf-8")
    print(f"{len(entries)} repositories")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
