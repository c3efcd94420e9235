"""Package attributes imported, and patterns compiled, on first use: importing stays cheap."""

from __future__ import annotations

import importlib
import re

#: ``typing.TYPE_CHECKING`` without importing ``typing`` (see ``cli/__init__.py``)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, AnyStr


def lazy_attributes(
    package: str, homes: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` is imported from its
    module when first asked for, then kept in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__


def lazy_pattern(pattern: AnyStr, flags: int = 0) -> Callable[[], re.Pattern[AnyStr]]:
    """``re.compile(pattern, flags)`` on the first call, then kept: the patterns of a module
    that reads one kind of file are compiled only when a file of that kind is read, and
    those a run may not need (a rerun after one edit imports most of decouple, and
    compiling the module-level patterns it never used was a thirtieth of netbox's) only
    when it does."""
    compiled: list[re.Pattern[AnyStr]] = []

    def get() -> re.Pattern[AnyStr]:
        if not compiled:
            compiled.append(re.compile(pattern, flags))
        return compiled[0]

    return get
