"""Where the extracted corpus repositories live: never inside this repository."""

from __future__ import annotations

import os
from pathlib import Path


def default_corpus_dir() -> Path:
    configured = os.environ.get("DECOUPLE_ACCURACY_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "decouple-bench" / "accuracy"
