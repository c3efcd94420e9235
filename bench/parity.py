"""Whether on-demand parsing finds what parsing everything finds, on real trees.

    python bench/parity.py DIR [DIR ...]          # each folder scanned both ways
    python bench/parity.py --accuracy             # every repository of the accuracy corpus

Each folder is scanned with ``--no-cache`` twice, as ``decouple scan`` and as
``decouple scan --full-parse``, and the JSON results are compared: call sites (every field),
endpoints and services must be identical. Diagnostics may differ only by files the on-demand
path never parses (a syntax error in a file no call needs is not looked for). Prints one line
per folder, the differences under it, and exits 1 when any call site, endpoint or service
differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "accuracy"))


def scan(decouple: str, root: Path, out: Path, *extra: str) -> tuple[dict[str, Any], float]:
    """The JSON of a scan of ``root``, and its wall time. A scan ends with status 0, or 1
    when its findings fail the run; any other is an error (a path that is no folder):
    raised, instead of reading the output an earlier scan left."""
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        [decouple, "scan", str(root), "--no-cache", "--format", "json", "-o", str(out), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode not in (0, 1) or not out.exists():
        message = done.stderr.decode(errors="replace").strip()
        raise SystemExit(f"{root}: scan failed ({done.returncode}): {message}")
    return json.loads(out.read_text(encoding="utf-8")), took


def _keyed(items: list[dict[str, Any]]) -> dict[str, str]:
    return {json.dumps(item, sort_keys=True): json.dumps(item, sort_keys=True) for item in items}


def compare(decouple: str, root: Path, work: Path) -> bool:
    narrow, t_narrow = scan(decouple, root, work / "narrow.json")
    full, t_full = scan(decouple, root, work / "full.json", "--full-parse")
    same = True
    lines = []
    for key in ("call_sites", "endpoints", "services"):
        a, b = _keyed(narrow.get(key, [])), _keyed(full.get(key, []))
        for only in sorted(set(b) - set(a))[:10]:
            lines.append(f"  only with --full-parse: {key}: {only[:300]}")
        for only in sorted(set(a) - set(b))[:10]:
            lines.append(f"  only on demand: {key}: {only[:300]}")
        same = same and a.keys() == b.keys()
    diags = len(full.get("diagnostics", [])) - len(narrow.get("diagnostics", []))
    print(
        f"{'same' if same else 'DIFFERENT':9} {root.name}: {len(full['call_sites'])} call sites, "
        f"{len(full['endpoints'])} endpoints; {t_narrow:.2f} s on demand, {t_full:.2f} s "
        f"full parse; {diags} diagnostics only with --full-parse",
        flush=True,
    )
    for line in lines:
        print(line)
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", type=Path)
    parser.add_argument(
        "--accuracy", action="store_true", help="the accuracy corpus's repositories"
    )
    parser.add_argument("--decouple", default=str(Path(sys.executable).parent / "decouple"))
    args = parser.parse_args(argv)
    roots = list(args.roots)
    if args.accuracy:
        from corpus_dir import default_corpus_dir

        base = default_corpus_dir()
        roots += sorted(p for p in base.iterdir() if p.is_dir() and "__" in p.name)
    ok = True
    with tempfile.TemporaryDirectory(prefix="decouple-parity-") as tmp:
        for root in roots:
            ok = compare(args.decouple, root, Path(tmp)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
