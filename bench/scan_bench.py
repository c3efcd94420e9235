"""Time ``decouple scan`` against the ast floor and semgrep, on real and synthetic corpora.

    python bench/scan_bench.py                       # homeassistant, 3 rounds
    python bench/scan_bench.py --corpus netbox --corpus polar:/path/to/a/clone
    python bench/scan_bench.py --corpus sample --corpus synthetic:100,1000,10000
    python bench/scan_bench.py --semgrep ~/.cache/decouple-bench/venv/bin/semgrep

Each round runs every measurement once, interleaved (cold, changed, warm, floor, semgrep,
then again), and the table shows medians:

- cold: ``decouple scan`` with an empty cache directory (a first CI run);
- no-cache: ``--no-cache`` (nothing read or written);
- full-parse: ``--no-cache --full-parse``, the everything-parsed path: its call sites must be
  those of the cold run (every field compared, not only ``file:line``);
- changed: one file edited since the previous run (a different edit every round): a new
  function nothing calls appended, an edit that changes nothing of the last result;
- changed-call: with ``--edit call`` or ``--edit both``, the edited file given a new request
  instead (a different url every round), an edit that changes the result;
- warm: nothing changed since the previous run;
- floor: ``bench/floor.py``, read and ``ast.parse`` of every .py file in one process;
- semgrep: ``bench/semgrep-rules.yml``, the same call patterns, with 2 jobs.

With ``--git``, each corpus is measured as a git work tree (a copy, every file committed):
what a scan of a repository meets, where git is asked for the files on every run (its
answers decide whether the last listing and output still hold), instead of the walk's
stamps alone.

Wall and CPU time (user + system of the whole process tree) are measured from outside; peak
memory is the largest sum of resident memory over the process tree, sampled every 10 ms.
Call sites are compared by ``file:line``: what semgrep's rules find that decouple does not
is listed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

BENCH = Path(__file__).resolve().parent
RULES = BENCH / "semgrep-rules.yml"
PAGE = os.sysconf("SC_PAGE_SIZE")
#: Every measurement, in the order a round runs them.
ROWS = ("cold", "no-cache", "full-parse", "changed-call", "changed", "warm", "floor", "semgrep")
#: Appended for "changed": a function nothing calls (the last result still holds).
NEUTRAL_EDIT = "\n\ndef _bench_edit_{i}(value):\n    return value + {i}\n"
#: Appended for "changed-call": a request to a new host (the result gains a call site).
CALL_EDIT = (
    "\n\nimport requests as _bench_requests\n\n\n"
    "def _bench_call_{i}(value):\n"
    '    return _bench_requests.post("http://bench-edit-{i}.example/items", json=value)\n'
)
#: The file edited for the "changed" measurement, per corpus (relative path).
EDITED = {
    "homeassistant": "homeassistant/components/rest/data.py",
    "sample": "services/frontend/frontend/clients.py",
}


@dataclass
class Sample:
    wall: float
    cpu: float
    rss: int  # bytes
    status: int


@dataclass
class Row:
    samples: list[Sample] = field(default_factory=list)
    found: set[tuple[str, int]] | None = None
    #: Call sites, endpoints and services in full, for the comparison with --full-parse.
    sites: list[str] | None = None

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, ()))
    return out


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def measure(cmd: list[str], *, env: dict[str, str] | None = None) -> Sample:
    """Run ``cmd`` to completion: wall, CPU of the tree, peak resident memory of the tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, close_fds=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(_tree(proc.pid)))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, usage.ru_maxrss * 1024)
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak, proc.returncode)


def decouple_found(path: Path) -> set[tuple[str, int]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(site["file"], site["line"]) for site in data["call_sites"]}


def decouple_sites(path: Path) -> list[str]:
    """Every call site, endpoint and service of a JSON result, each as canonical text."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return sorted(
        f"{key}: {json.dumps(item, sort_keys=True)}"
        for key in ("call_sites", "endpoints", "services")
        for item in data[key]
    )


def semgrep_found(path: Path, root: Path) -> set[tuple[str, int]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    found = set()
    for result in data["results"]:
        file = os.path.relpath(result["path"], root).replace(os.sep, "/")
        found.add((file, result["start"]["line"]))
    return found


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.decouple = args.decouple
        self.python = args.python
        self.semgrep = args.semgrep
        self.jobs = args.jobs
        self.edit: str = args.edit
        self.only: set[str] = set(args.only.split(",")) if args.only else set()
        self.work = work

    def scan(self, root: Path, out: Path, *extra: str) -> list[str]:
        cmd = [self.decouple, "scan", str(root), "--format", "json", "-o", str(out), *extra]
        return cmd + (["--jobs", str(self.jobs)] if self.jobs else [])

    def semgrep_cmd(self, root: Path, out: Path) -> list[str]:
        assert self.semgrep is not None
        return [
            self.semgrep,
            "scan",
            "--config",
            str(RULES),
            "--metrics=off",
            "--disable-version-check",
            "--jobs",
            "2",
            "--no-git-ignore",
            "--x-ignore-semgrepignore-files",
            "--json",
            "-o",
            str(out),
            "--quiet",
            str(root),
        ]

    def run_corpus(self, name: str, root: Path, rounds: int, edited: str | None) -> dict[str, Row]:
        rows: dict[str, Row] = {k: Row() for k in ROWS}
        if self.semgrep is None:
            del rows["semgrep"]
        if self.edit == "neutral":
            del rows["changed-call"]
        elif self.edit == "call":
            del rows["changed"]
        for key in list(rows):
            if self.only and key not in self.only:
                del rows[key]
        warm_cache = self.work / f"{name}-warm"
        shutil.rmtree(warm_cache, ignore_errors=True)
        out = self.work / f"{name}.json"
        # the warm cache starts populated, as after any first run
        measure(self.scan(root, out, "--cache-dir", str(warm_cache)))
        target = root / edited if edited else None
        original = target.read_bytes() if target is not None else None
        try:
            for i in range(rounds):
                if "cold" in rows:
                    cold_cache = self.work / f"{name}-cold"
                    shutil.rmtree(cold_cache, ignore_errors=True)
                    rows["cold"].samples.append(
                        measure(self.scan(root, out, "--cache-dir", str(cold_cache)))
                    )
                    rows["cold"].found = decouple_found(out)
                    rows["cold"].sites = decouple_sites(out)
                if "no-cache" in rows:
                    rows["no-cache"].samples.append(measure(self.scan(root, out, "--no-cache")))
                if "full-parse" in rows:
                    rows["full-parse"].samples.append(
                        measure(self.scan(root, out, "--no-cache", "--full-parse"))
                    )
                    rows["full-parse"].found = decouple_found(out)
                    rows["full-parse"].sites = decouple_sites(out)
                if target is not None and original is not None:
                    # The request edit first, the neutral one on top of it: each is then
                    # measured against the state it claims (the neutral edit leaves the
                    # last result as it was, the request edit changes it every round).
                    text = original
                    if "changed-call" in rows:
                        text += CALL_EDIT.format(i=i).encode()
                        target.write_bytes(text)
                        rows["changed-call"].samples.append(
                            measure(self.scan(root, out, "--cache-dir", str(warm_cache)))
                        )
                    if "changed" in rows:
                        text += NEUTRAL_EDIT.format(i=i).encode()
                        target.write_bytes(text)
                        rows["changed"].samples.append(
                            measure(self.scan(root, out, "--cache-dir", str(warm_cache)))
                        )
                if "warm" in rows:
                    rows["warm"].samples.append(
                        measure(self.scan(root, out, "--cache-dir", str(warm_cache)))
                    )
                    rows["warm"].found = decouple_found(out)
                if "floor" in rows:
                    rows["floor"].samples.append(
                        measure([self.python, str(BENCH / "floor.py"), str(root)])
                    )
                if "semgrep" in rows:
                    sg_out = self.work / f"{name}-semgrep.json"
                    rows["semgrep"].samples.append(measure(self.semgrep_cmd(root, sg_out)))
                    rows["semgrep"].found = semgrep_found(sg_out, root)
        finally:
            if target is not None and original is not None:
                target.write_bytes(original)
        for key in ("changed", "changed-call"):
            if key in rows and not rows[key].samples:
                del rows[key]
        return rows


def startup(bench: Bench, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"decouple --help": [], "decouple scan --help": []}
    for _ in range(max(rounds, 5)):
        times["decouple --help"].append(measure([bench.decouple, "--help"]).wall)
        times["decouple scan --help"].append(measure([bench.decouple, "scan", "--help"]).wall)
    return {k: statistics.median(v) for k, v in times.items()}


def table(name: str, files: int, rounds: int, rows: dict[str, Row]) -> str:
    floor = rows["floor"].median("wall") if "floor" in rows else None
    semgrep = rows["semgrep"].median("wall") if "semgrep" in rows else None
    lines = [
        f"### {name} ({files} .py files, {rounds} rounds, medians)",
        "",
        "| run | wall s | CPU s | peak RSS MiB | x floor | x floor (CPU) | x semgrep | call sites |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floor_cpu = rows["floor"].median("cpu") if "floor" in rows else None
    for key, row in rows.items():
        wall, cpu = row.median("wall"), row.median("cpu")
        ratio_sg = f"{wall / semgrep:.3f}" if semgrep else "-"
        ratio = f"{wall / floor:.3f}" if floor else "-"
        ratio_cpu = f"{cpu / floor_cpu:.3f}" if floor_cpu else "-"
        found = len(row.found) if row.found is not None else "-"
        lines.append(
            f"| {key} | {wall:.3f} | {cpu:.3f} | {row.median('rss') / 2**20:.0f} "
            f"| {ratio} | {ratio_cpu} | {ratio_sg} | {found} |"
        )
    failed = [k for k, r in rows.items() if any(s.status != 0 for s in r.samples)]
    if failed:
        lines.append(f"\nnon-zero exit status: {', '.join(failed)}")
    full = rows["full-parse"].sites if "full-parse" in rows else None
    cold = rows["cold"].sites if "cold" in rows else None
    if full is not None and cold is not None:
        lines.append("")
        if full == cold:
            lines.append(
                f"Call sites, endpoints and services identical to --full-parse's ({len(cold)})."
            )
        else:
            lines.append("DIFFERENT from --full-parse:")
            lines += [f"- only with --full-parse: {x[:200]}" for x in sorted(set(full) - set(cold))]
            lines += [f"- only on demand: {x[:200]}" for x in sorted(set(cold) - set(full))]
    if "semgrep" in rows and "cold" in rows and rows["semgrep"].found is not None:
        assert rows["cold"].found is not None
        missed = sorted(rows["semgrep"].found - rows["cold"].found)
        extra = len(rows["cold"].found - rows["semgrep"].found)
        lines.append("")
        lines.append(
            f"semgrep's rules find {len(rows['semgrep'].found)} call sites, decouple "
            f"{len(rows['cold'].found)}: {len(missed)} found only by semgrep, {extra} only by "
            "decouple (receivers across functions and modules, wrappers, gRPC stubs...)."
        )
        for file, line in missed:
            lines.append(f"- only semgrep: {file}:{line}")
    return "\n".join(lines)


def corpora(specs: list[str]) -> list[tuple[str, Path, str | None]]:
    out: list[tuple[str, Path, str | None]] = []
    for spec in specs:
        kind, _, sizes = spec.partition(":")
        if kind == "homeassistant":
            out.append(("homeassistant", corpus.homeassistant(), EDITED["homeassistant"]))
        elif kind in corpus.GIT_CORPORA:
            # `netbox` (fetched from GitHub) or `netbox:/path/to/a/clone`
            local = Path(sizes) if sizes else None
            spec = corpus.GIT_CORPORA[kind]
            out.append((kind, corpus.git_corpus(kind, local), spec.edited))
        elif kind == "sample":
            # a copy: the "changed" run edits a file, and the fixture belongs to the tests
            copy = corpus.cache_root() / "sample"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(
                corpus.SAMPLE, copy, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache")
            )
            out.append(("sample", copy, EDITED["sample"]))
        elif kind == "synthetic":
            for size in (sizes or "100,1000,10000").split(","):
                out.append(
                    (f"synthetic-{size}", corpus.synthetic(int(size)), "services/svc0/pkg0/mod0.py")
                )
        else:
            raise SystemExit(f"unknown corpus {spec!r}")
    return out


def git_work_tree(root: Path, into: Path) -> Path:
    """A copy of ``root`` under ``into``, a git work tree with every file committed."""
    tree = into / f"{root.name}-git"
    shutil.copytree(root, tree, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    git = ["git", "-C", str(tree), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A", "-f"], check=True)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", "corpus"], check=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        action="append",
        help="homeassistant, netbox[:GIT_DIR], polar[:GIT_DIR], sample, synthetic:N,M",
    )
    parser.add_argument("--rounds", type=int, default=3)
    here = Path(sys.executable).parent
    parser.add_argument("--decouple", default=str(here / "decouple"))
    parser.add_argument("--python", default=sys.executable, help="Python for the floor")
    parser.add_argument("--semgrep", default=shutil.which("semgrep"), help="semgrep executable")
    parser.add_argument("--no-semgrep", action="store_true")
    parser.add_argument("--jobs", type=int, default=None, help="decouple --jobs (default: its own)")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    parser.add_argument(
        "--only",
        help=f"measure only these rows, comma-separated (of {', '.join(ROWS)})",
    )
    parser.add_argument(
        "--edit",
        choices=("neutral", "call", "both"),
        default="neutral",
        help="the edit of the changed rows: a function nothing calls (changed), a new request "
        "(changed-call), or both each round",
    )
    parser.add_argument("--no-startup", action="store_true", help="skip timing --help")
    parser.add_argument(
        "--git",
        action="store_true",
        help="measure each corpus as a git work tree (a committed copy), as a repository is",
    )
    args = parser.parse_args(argv)
    if args.no_semgrep:
        args.semgrep = None
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="decouple-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        print(f"# decouple scan benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load}\n")
        if not args.no_startup:
            starts = startup(bench, args.rounds)
            print("| startup | wall s |\n|---|---:|")
            for k, v in starts.items():
                print(f"| `{k}` | {v:.3f} |")
            raw["startup"] = starts
        for name, root, edited in corpora(args.corpus or ["homeassistant"]):
            label = name
            if args.git:
                root = git_work_tree(root, Path(tmp))
                label = f"{name}, a git work tree"
            files = sum(1 for _ in root.rglob("*.py"))
            rows = bench.run_corpus(name, root, args.rounds, edited)
            print()
            print(table(label, files, args.rounds, rows), flush=True)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"\n(load average after {name}: {load})", flush=True)
            raw[name] = {k: [s.__dict__ for s in r.samples] for k, r in rows.items()}
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
