"""Score ``decouple scan`` against the hand-made labels of the accuracy corpus.

    python bench/accuracy/score.py [--corpus-dir DIR] [--repo owner/name ...] [--details]

For each labelled repository extracted under the corpus folder (see README.md), runs
``decouple scan --no-cache --format json`` and prints, per repository and overall:

- recall, callee accuracy and precision, for direct calls and wrapper uses (and both);
- caller attribution and result_used agreement on the matched calls;
- service discovery: labelled services found, found with a wrong root, found twice;
- the scan's wall time.

A labelled call matches a reported call site in the same file whose lines overlap it (one
to one, nearest first, and among equally near ones the one naming the same callee). Labelled ``role: "wrapper"`` requests (inside helpers whose url
comes from their parameters) are not counted either way: a reported site there is neither
a hit nor a false alarm.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_dir import default_corpus_dir  # noqa: E402

KINDS = ("direct", "wrapper_use")


@dataclass
class Tally:
    labels: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    callee_ok: Counter[str] = field(default_factory=Counter)
    caller_ok: int = 0
    result_ok: int = 0
    result_known: int = 0
    reported: int = 0
    false_alarms: int = 0
    services: int = 0
    services_found: int = 0
    wrong_roots: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)
    wrong_callees: list[str] = field(default_factory=list)
    wrong_callers: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("labels", "found", "callee_ok"):
            getattr(self, name).update(getattr(other, name))
        for name in (
            "caller_ok",
            "result_ok",
            "result_known",
            "reported",
            "false_alarms",
            "services",
            "services_found",
            "wrong_roots",
            "duplicates",
            "seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def norm_root(root: str | None) -> str | None:
    if root is None:
        return None
    root = root.strip("/").removeprefix("./")
    return root or "."


def service_map(labels: dict[str, Any], scan: dict[str, Any], tally: Tally) -> dict[str, str]:
    """Reported service name -> labelled service name (by name, else by root)."""
    labelled = labels["services"]
    by_name = {s["name"]: s for s in labelled}
    by_root: dict[str, str] = {}
    for s in labelled:
        root = norm_root(s.get("root"))
        if root is not None:
            by_root.setdefault(root, s["name"])
    mapping: dict[str, str] = {}
    for s in scan["services"]:
        name, root = s["name"], norm_root(s.get("root"))
        if name in by_name:
            mapping[name] = name
        elif root is not None and root in by_root:
            mapping[name] = by_root[root]
    hits = Counter(mapping.values())
    tally.services = len(labelled)
    tally.services_found = len(hits)
    tally.duplicates = sum(n - 1 for n in hits.values())
    for s in scan["services"]:
        name = s["name"]
        if name in by_name and mapping.get(name) == name:
            want = norm_root(by_name[name].get("root"))
            if want is not None and norm_root(s.get("root")) != want:
                tally.wrong_roots += 1
    return mapping


def same_callee(label: str, reported: str, mapping: dict[str, str]) -> bool:
    if label.startswith("external:"):
        return reported.startswith("external:") and (
            reported.split(":", 1)[1].lower().split(":")[0] == label.split(":", 1)[1].lower()
        )
    if label in {"unknown", "generic"}:
        return reported == "unknown"
    return mapping.get(reported, reported) == label


def overlap(label: dict[str, Any], site: dict[str, Any]) -> int | None:
    """Distance between a label and a site in the same file, or None if they do not overlap."""
    if label["file"] != site["file"]:
        return None
    if site["line"] > label["end_line"] or site["end_line"] < label["line"]:
        return None
    return abs(site["line"] - label["line"])


def score_repo(labels: dict[str, Any], scan: dict[str, Any], tally: Tally) -> None:
    mapping = service_map(labels, scan, tally)
    counted = [c for c in labels["calls"] if c["role"] == "call"]
    wrappers = [c for c in labels["calls"] if c["role"] == "wrapper"]
    sites = [s for s in scan["call_sites"] if s.get("role", "call") in {"call", "event"}]
    tally.reported = len(sites)
    # Nearest first; among equally near pairs (a call reaching one of several services is
    # labelled, and reported, once per target on the same lines) the same callee first.
    pairs = sorted(
        (d, not same_callee(str(label["callee"]), site["callee"], mapping), i, j)
        for i, label in enumerate(counted)
        for j, site in enumerate(sites)
        if (d := overlap(label, site)) is not None
    )
    used_labels: set[int] = set()
    used_sites: set[int] = set()
    for _, _, i, j in pairs:
        if i in used_labels or j in used_sites:
            continue
        used_labels.add(i)
        used_sites.add(j)
        label, site = counted[i], sites[j]
        kind = label["kind"]
        tally.found[kind] += 1
        where = f"{label['file']}:{label['line']}"
        if same_callee(str(label["callee"]), site["callee"], mapping):
            tally.callee_ok[kind] += 1
        else:
            tally.wrong_callees.append(f"{where} want {label['callee']} got {site['callee']}")
        if mapping.get(site["caller"], site["caller"]) == label["caller"]:
            tally.caller_ok += 1
        else:
            tally.wrong_callers.append(f"{where} want {label['caller']} got {site['caller']}")
        if isinstance(label.get("result_used"), bool):
            tally.result_known += 1
            tally.result_ok += label["result_used"] == site.get("result_used")
    for i, label in enumerate(counted):
        tally.labels[label["kind"]] += 1
        if i not in used_labels:
            tally.misses.append(
                f"{label['file']}:{label['line']} {label['kind']} {label['caller']}->{label['callee']}"
                f" ({label.get('client', '?')})"
            )
    for j, site in enumerate(sites):
        if j in used_sites:
            continue
        if any(overlap(w, site) is not None for w in wrappers):
            tally.reported -= 1  # a helper's own request: neither a hit nor a false alarm
            continue
        tally.false_alarms += 1
        tally.extras.append(f"{site['file']}:{site['line']} {site['caller']}->{site['callee']}")


def run_scan(tree: Path) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "decouple_services",
            "scan",
            str(tree),
            "--no-cache",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(
            f"scan of {tree} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return json.loads(done.stdout), seconds


def pct(num: int, den: int) -> str:
    return f"{100 * num / den:5.1f}" if den else "    -"


def row(name: str, t: Tally) -> str:
    labels = sum(t.labels.values())
    found = sum(t.found.values())
    ok = sum(t.callee_ok.values())
    correct_reports = found
    return (
        f"| {name} | {labels} | {pct(t.found['direct'], t.labels['direct'])} | "
        f"{pct(t.found['wrapper_use'], t.labels['wrapper_use'])} | {pct(found, labels)} | "
        f"{pct(ok, found)} | {pct(correct_reports, t.reported)} | {pct(t.caller_ok, found)} | "
        f"{pct(t.result_ok, t.result_known)} | {t.services_found}/{t.services} | "
        f"{t.wrong_roots} | {t.duplicates} | {t.seconds:.1f} |"
    )


HEADER = (
    "| repository | calls | recall direct | recall wrapper | recall | callee | precision | "
    "caller | result_used | services | wrong roots | dup | scan s |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir())
    parser.add_argument("--repo", action="append", default=[], help="owner/name (repeatable)")
    parser.add_argument("--details", action="store_true", help="list misses and wrong answers")
    parser.add_argument("--save", type=Path, help="keep each scan's JSON in this folder")
    args = parser.parse_args()
    total = Tally()
    lines = [HEADER]
    for path in sorted((HERE / "labels").glob("*.json")):
        labels = json.loads(path.read_text(encoding="utf-8"))
        if args.repo and labels["repo"] not in args.repo:
            continue
        if "calls" not in labels or "services" not in labels:
            print(f"{labels['repo']}: labels not finished, skipped", file=sys.stderr)
            continue
        tree = args.corpus_dir / path.stem
        if not tree.is_dir():
            print(f"{labels['repo']}: not extracted in {tree} (see README.md)", file=sys.stderr)
            continue
        tally = Tally()
        scan, tally.seconds = run_scan(tree)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{path.stem}.json").write_text(json.dumps(scan, indent=1))
        score_repo(labels, scan, tally)
        total.add(tally)
        lines.append(row(labels["repo"], tally))
        if args.details:
            for title, items in (
                ("missed", tally.misses),
                ("wrong callee", tally.wrong_callees),
                ("wrong caller", tally.wrong_callers),
                ("not labelled", tally.extras),
            ):
                for item in items:
                    print(f"  {labels['repo']} {title}: {item}", file=sys.stderr)
    lines.append(row("**all**", total))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
