"""Following references to the object they name, across files.

``self.session.get(...)`` records its receiver as ``Ref("shop.client.Client.session")``; the
class's ``__init__`` recorded ``Constant("shop.client.Client.session", Obj("requests.Session"))``.
Resolution looks the reference up, and when only a prefix is known (``shop.deps.settings`` for
``shop.deps.settings.users_url``) continues from the prefix's value.
"""

from __future__ import annotations

from collections.abc import Callable

from decouple.detect.values import Obj, Ref, Value

Lookup = Callable[[str], Value | None]

_MAX_HOPS = 12


def follow(value: Value, lookup: Lookup, trail: list[str] | None = None) -> Value:
    """Replace references by what they name, as far as ``lookup`` knows.

    ``trail`` collects the qualified names passed through, for evidence.
    """
    for _ in range(_MAX_HOPS):
        if not isinstance(value, Ref):
            return value
        found = lookup(value.qualname)
        if found is not None:
            if trail is not None:
                trail.append(value.qualname)
            if found == value:
                return value
            value = found
            continue
        # Longest known prefix: `mod.settings.users_url` where `mod.settings` is known.
        head, _, tail = value.qualname.rpartition(".")
        prefix_tail = [tail]
        resolved = False
        while head:
            base = lookup(head)
            if base is not None:
                base = follow(base, lookup, trail)
                rest = ".".join(reversed(prefix_tail))
                if isinstance(base, Obj):
                    value = Ref(f"{base.type}.{rest}")
                elif isinstance(base, Ref):
                    value = Ref(f"{base.qualname}.{rest}")
                else:
                    return value
                resolved = True
                break
            head, _, tail = head.rpartition(".")
            prefix_tail.append(tail)
        if not resolved:
            return value
    return value


def resolve_receiver(value: Value | None, lookup: Lookup) -> Obj | None:
    """The object a method is called on, if it can be known."""
    if value is None:
        return None
    found = follow(value, lookup)
    if isinstance(found, Obj):
        return found
    return None
