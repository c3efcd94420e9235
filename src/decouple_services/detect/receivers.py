"""Following references to the object they name, across files.

``self.session.get(...)`` records its receiver as ``Ref("shop.client.Client.session")``; the
class's ``__init__`` recorded ``Constant("shop.client.Client.session", Obj("requests.Session"))``.
Resolution looks the reference up, and when only a prefix is known (``shop.deps.settings`` for
``shop.deps.settings.users_url``) continues from the prefix's value.
"""

from __future__ import annotations

from collections.abc import Callable

from decouple_services.detect.values import Obj, Ref, Value

Lookup = Callable[[str], Value | None]

_MAX_HOPS = 12


def rebase_on_prefix(qualname: str, lookup: Lookup) -> Ref | None:
    """``mod.settings.users_url`` where only ``mod.settings`` is known: the same attribute on
    what the longest known prefix names (``mod.Settings.users_url`` for a ``Settings()``)."""
    head, _, tail = qualname.rpartition(".")
    rest = [tail]
    while head:
        base = lookup(head)
        if base is not None:
            suffix = ".".join(reversed(rest))
            if isinstance(base, Obj):
                return Ref(f"{base.type}.{suffix}")
            if isinstance(base, Ref):
                return Ref(f"{base.qualname}.{suffix}")
            return None
        head, _, tail = head.rpartition(".")
        rest.append(tail)
    return None


def follow(value: Value, lookup: Lookup) -> Value:
    """Replace references by what they name, as far as ``lookup`` knows."""
    for _ in range(_MAX_HOPS):
        if not isinstance(value, Ref):
            return value
        found = lookup(value.qualname)
        if found is None:
            found = rebase_on_prefix(value.qualname, lookup)
            if found is None:
                return value
        if found == value:
            return value
        value = found
    return value


def resolve_receiver(value: Value | None, lookup: Lookup) -> Obj | None:
    """The object a method is called on, if it can be known."""
    if value is None:
        return None
    found = follow(value, lookup)
    for _ in range(_MAX_HOPS):
        if not isinstance(found, Obj):
            return None
        # A call of a factory function gives what the factory returns.
        made = lookup(f"{found.type.removesuffix('()')}()")
        if made is None or made == found:
            return found
        found = follow(made, lookup)
    return found if isinstance(found, Obj) else None
