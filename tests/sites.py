"""A call site with every field set, for the tests of the forms a site is kept in."""

from __future__ import annotations

from typing import Any

from decouple_services.core.model import CallSite, Category, Confidence, ResponseUse, Role


def full_site(**changes: Any) -> CallSite:
    """A wrapper's test call site: enums, tuples and optional fields all given."""
    fields: dict[str, Any] = {
        "evidence": ("a", "b"),
        "category": Category.TEST,
        "role": Role.WRAPPER,
        "via_wrapper": "orders.client.call",
        "response_use": ResponseUse.STATUS,
        "confidence": Confidence.INFERRED,
        "suppressed": ("DCP004",),
        "one_of": "orders.client.HOSTS",
    }
    fields.update(changes)
    site_id = fields.pop("id", "id1")
    return CallSite(
        site_id,
        "orders",
        "orders/client.py",
        3,
        4,
        "orders.client.go",
        "requests",
        "POST",
        '"http://users/x"',
        "http://users/x",
        "users",
        "POST /x",
        **fields,
    )
