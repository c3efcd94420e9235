"""The index a scan resolves through when it parses on demand or keeps resolutions
(:func:`asking_index`): every lookup resolution makes is noted in the scan's ``Asked``
(what it needs is what it looks up, hits and misses alike; ``app/demand.py``), and told to
a tap with the table and key it read (``app/incremental.py``'s ``SiteMemo``,
``app/demand.py``'s ``RoundMemo``).

One class for every scan, whose instances are given what to report to: a class made per
scan around closures is in a cycle of references (every class is), and what its closures
reached (the scan's ``Asked``, its tap, and through the tap the last index and every fact)
stayed alive until the cycle collector's next full collection, after the output was
rendered. The tap is held weakly: it keeps the index it is told of and that index's tables
(``SiteMemo.index``, ``RoundMemo._index``), which would otherwise refer back to it. No cycle
holds a scan's memo, index or facts: they go when the scan lets go of them.

Imported when a scan resolves (it imports the index), not with ``app/demand.py``, which a
scan imports before it forks extraction's workers.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from decouple_services.app.demand import WATCHED_TABLES, Ask, Asked, Tap, ask
from decouple_services.resolve.index import ProjectIndex

#: The tables whose keys are qualified names resolution asks for.
#: (The objects built of a class are asked for by the index's methods, which know what the
#: caller reads of them.)
_ASKING_TABLES = frozenset({"functions", "grpc_methods", "settings_classes"})


class Lookups:
    """Where a scan's asking indexes report their lookups: the scan's ``Asked``, and its
    tap, if any (held weakly)."""

    __slots__ = ("_tap", "asked", "tapped")

    def __init__(self, asked: Asked, tap: Tap | None) -> None:
        self.asked = asked
        self.tapped = tap is not None
        self._tap: weakref.ref[Tap] | None = None if tap is None else weakref.ref(tap)

    def tap(self) -> Tap | None:
        """The tap, while the scan holds it."""
        return None if self._tap is None else self._tap()

    def noted(self, item: Ask) -> None:
        ask(self.asked, item)
        tap = self.tap()
        if tap is not None:
            tap.asks(item)

    def note(self, key: Any) -> None:
        if isinstance(key, tuple):
            key = key[0]
        if isinstance(key, str):
            self.noted(("q", key))

    def note_built(self, qualname: str, keyword: str | None) -> None:
        # the objects of a class are built in files naming it, wherever it is defined
        name = qualname.rpartition(".")[2]
        if name:
            self.noted(("b", name) if keyword is None else ("b", name, keyword))


class _Watched(dict[Any, Any]):
    """A table of the index that reports every key looked up in it."""

    def __init__(
        self, data: Mapping[Any, Any], lookups: Lookups, table: str, listing: bool
    ) -> None:
        super().__init__(data)
        self._lookups = lookups
        self._table = table
        self._listing = listing
        self._asking = table in _ASKING_TABLES

    def _seen(self, key: Any) -> None:
        lookups = self._lookups
        tap = lookups.tap()
        if tap is not None:
            tap.read(self._table, "*" if key is _WALKED else key)
        if self._asking and key is not _WALKED:
            lookups.note(key)

    def __missing__(self, key: Any) -> Any:
        if self._listing:
            return []
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._seen(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._seen(key)
        return super().__contains__(key)

    def __getitem__(self, key: Any) -> Any:
        self._seen(key)
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[Any]:
        self._seen(_WALKED)
        return super().__iter__()

    def keys(self) -> Any:
        self._seen(_WALKED)
        return super().keys()

    def values(self) -> Any:
        self._seen(_WALKED)
        return super().values()

    def items(self) -> Any:
        self._seen(_WALKED)
        return super().items()


_WALKED = object()


class AskingIndex(ProjectIndex):
    """A :class:`ProjectIndex` whose lookups are reported to ``lookups``:
    ``AskingIndex(lookups, *index_args)`` (see :func:`asking_index`)."""

    def __init__(self, lookups: Lookups, *args: Any, **kwargs: Any) -> None:
        self._lookups = lookups
        super().__init__(*args, **kwargs)

    def __post_init__(self) -> None:
        super().__post_init__()
        lookups = self._lookups
        for name, listing in WATCHED_TABLES.items():
            if lookups.tapped or name in _ASKING_TABLES:
                setattr(self, name, _Watched(getattr(self, name), lookups, name, listing))

    def constant(self, qualname: str, service: str | None) -> Any:
        self._lookups.note(qualname)
        return super().constant(qualname, service)

    def setting(self, framework: str, key: str, service: str | None) -> Any:
        self._lookups.noted(("s", framework, key))
        return super().setting(framework, key, service)

    def function(self, qualname: str, service: str | None) -> Any:
        self._lookups.note(qualname)
        return super().function(qualname, service)

    def constructions_of(self, qualname: str, keyword: str | None = None) -> Any:
        if "." in qualname:  # a bare name is no class the tree imports
            self._lookups.note_built(qualname, keyword)
        return super().constructions_of(qualname, keyword)

    def objects_of(self, qualname: str) -> Any:
        self._lookups.note_built(qualname, None)
        return super().objects_of(qualname)

    def _defines(self, qualname: str) -> bool:
        self._lookups.note(qualname)
        return bool(super()._defines(qualname))


def asking_index(asked: Asked, tap: Tap | None = None) -> Callable[..., ProjectIndex]:
    """What makes a scan's indexes, each taking the arguments of a :class:`ProjectIndex`:
    their lookups are recorded in ``asked``, and told to ``tap`` with the table and key
    they read. It holds ``tap`` weakly too: the scan lets go of its memo when it is done
    with it, while it still holds this."""
    return functools.partial(AskingIndex, Lookups(asked, tap))
