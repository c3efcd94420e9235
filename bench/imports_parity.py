"""Whether the import graph of the helper passes is the same as at another commit.

    python bench/imports_parity.py COMMIT DIR [DIR ...]
    python bench/imports_parity.py COMMIT --accuracy      # the accuracy corpus too

``app/rereads.py`` reads imports from the text, by pattern: a faster reading must find
exactly what the last one found. This loads that file as it is at ``COMMIT`` (``git
show``) next to the installed one and compares, for every ``.py`` file of each folder,
``import_targets`` (module and packages named as a scan names them); then the two
``ImportGraph`` s built from the same targets: ``importing`` of every module and of a
sample of import targets, ``connected`` of every module. Prints one line per folder and
exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from decouple_services.app import rereads
from decouple_services.discover.files import module_name

HERE = Path(__file__).resolve().parent


def load(commit: str, folder: Path) -> ModuleType:
    """``app/rereads.py`` as it is at ``commit``, as a module of its own."""
    text = subprocess.run(
        ["git", "show", f"{commit}:src/decouple_services/app/rereads.py"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / "reference_rereads.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("reference_rereads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference_rereads"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compare(reference: ModuleType, root: Path) -> bool:
    paths = sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
        if name.endswith(".py")
    )
    files = frozenset(paths)
    named = {path: module_name(path, files) for path in paths}
    packages = frozenset(module for module, is_package in named.values() if is_package)
    differ: list[str] = []
    targets: dict[str, frozenset[str]] = {}
    for path, (module, is_package) in named.items():
        try:
            data = (root / path).read_bytes()
        except OSError:
            continue
        new = rereads.import_targets(data, module, is_package, packages)
        if reference.import_targets(data, module, is_package, packages) != new:
            differ.append(f"  import_targets: {path}")
        targets[path] = new
    modules = {path: module for path, (module, _) in named.items() if path in targets}
    old, new_graph = reference.ImportGraph(modules, targets), rereads.ImportGraph(modules, targets)
    names = sorted({t for found in targets.values() for t in found})
    random.Random(1).shuffle(names)
    # a sample of the targets: a name no module starts as is answered by a search of all
    asked = sorted(set(modules.values()) | set(names[:1500]) | {"", "nowhere.at.all"})
    differ += [f"  importing: {m}" for m in asked if old.importing(m) != new_graph.importing(m)]
    differ += [
        f"  connected: {m}"
        for m in sorted(set(modules.values()))
        if old.connected(m) != new_graph.connected(m)
    ]
    print(
        f"{'same' if not differ else 'DIFFERENT':9} {root.name}: {len(targets)} files, "
        f"{len(asked)} names asked"
    )
    for line in differ[:20]:
        print(line)
    return not differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit")
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--accuracy", action="store_true", help="the accuracy corpus too")
    args = parser.parse_args()
    dirs = list(args.dirs)
    if args.accuracy:
        sys.path.insert(0, str(HERE / "accuracy"))
        from corpus_dir import default_corpus_dir

        base = default_corpus_dir()
        dirs += sorted(p for p in base.iterdir() if p.is_dir() and "__" in p.name)
    with tempfile.TemporaryDirectory() as work:
        reference = load(args.commit, Path(work))
        same = [compare(reference, root) for root in dirs]
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
