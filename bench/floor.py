"""The floor: read and ``ast.parse`` every .py file under a folder, in one process.

Any analysis that looks at every file's syntax tree costs at least this much; decouple's
scan is measured against it. Files the running Python cannot parse are counted and skipped.
"""

from __future__ import annotations

import ast
import os
import sys
import warnings


def main(root: str) -> int:
    warnings.simplefilter("ignore")
    parsed = failed = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name), "rb") as handle:
                source = handle.read()
            try:
                ast.parse(source)
                parsed += 1
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                failed += 1
    print(f"{parsed} parsed, {failed} rejected by this Python's ast")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
