"""Extract a corpus repository at its pinned commit, outside this repository.

    python bench/accuracy/extract.py owner/name GIT_DIR [--corpus-dir DIR]

GIT_DIR is a bare clone or mirror of the repository (``git clone --mirror``, or any git
directory that has the pinned commit). The tree lands in ``DIR/owner__name``; an existing
extraction is left as it is. The commit comes from ``labels/owner__name.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_dir import default_corpus_dir  # noqa: E402


def extract_present_blobs(git_dir: Path, commit: str, target: Path) -> list[str]:
    git = ["git", "--git-dir", str(git_dir)]
    listing = subprocess.run(
        [*git, "ls-tree", "-r", "-z", "--full-tree", commit],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    missing: list[str] = []
    for entry in filter(None, listing):
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind != "blob":
            continue  # submodules have no content here
        blob = subprocess.run([*git, "cat-file", "blob", sha], capture_output=True)
        if blob.returncode != 0:
            missing.append(path)
            continue
        destination = target / path
        if ".." in Path(path).parts:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            destination.symlink_to(blob.stdout.decode("utf-8", "surrogateescape"))
        else:
            destination.write_bytes(blob.stdout)
            if mode == "100755":
                destination.chmod(0o755)
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="owner/name, as in the labels")
    parser.add_argument("git_dir", type=Path)
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir())
    args = parser.parse_args()
    stem = args.repo.replace("/", "__")
    commit = json.loads((HERE / "labels" / f"{stem}.json").read_text(encoding="utf-8"))["commit"]
    target = args.corpus_dir / stem
    if target.is_dir():
        print(target)
        return 0
    args.corpus_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{stem}.", dir=args.corpus_dir))
    with tempfile.TemporaryFile() as archive:
        done = subprocess.run(
            ["git", "--git-dir", str(args.git_dir), "archive", "--format=tar", commit],
            stdout=archive,
            stderr=subprocess.PIPE,
        )
        if done.returncode == 0:
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(partial, filter="data")
        else:
            # Partial clones and snapshots may lack their largest blobs (data files, never
            # the code the labels point at): take the tree blob by blob and name what is absent.
            missing = extract_present_blobs(args.git_dir, commit, partial)
            for path in missing:
                print(f"absent from {args.git_dir}: {path}", file=sys.stderr)
    try:
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial)
        raise
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
