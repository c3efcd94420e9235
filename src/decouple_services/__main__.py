"""``python -m decouple_services``: the same as the ``decouple`` command."""

from __future__ import annotations

from decouple_services.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
