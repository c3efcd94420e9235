"""Declared contracts (``[tool.decouple.contracts]``) checked against a scan.

Three kinds, as import-linter and tach know them for modules, here for services and their
synchronous calls:

- ``forbid = ["orders -> users"]``: the edge must not exist (``*`` stands for any service);
- ``allow = ["frontend -> orders", ...]``: among the services these edges name, only these
  edges may exist (calls to or from a service not named are not constrained);
- ``layers = [["frontend"], ["orders", "payments"], ["users"]]``: top first; a service may
  call only services of the layers below its own (not its own layer, not above).

Only production coupling counts (``CallSite.is_production_coupling``): a call between two
services in production code. Tests, scripts, external hosts, unknown callees and calls that
were migrated to events break no contract. Each call site that breaks a contract is a
violation of its own, so a report points at every line to change.
"""

from __future__ import annotations

from collections.abc import Iterable

from decouple_services.core.config import Contracts, Edge
from decouple_services.core.model import CallSite, ContractViolation, ScanResult, Service


def unknown_services(contracts: Contracts, services: Iterable[Service]) -> list[str]:
    """Problems for contract entries naming a service the scan does not know (a typo, most
    often, which would otherwise make the contract silently true)."""
    known = sorted({service.name for service in services})
    shown = ", ".join(known) or "none found"
    return [
        f"contracts.{where}: unknown service {name!r} (known services: {shown})"
        for where, name in contracts.services()
        if name not in known
    ]


def check_contracts(result: ScanResult, contracts: Contracts) -> tuple[ContractViolation, ...]:
    """Every (call site, contract) pair where a production call breaks a contract."""
    if not contracts:
        return ()
    violations: list[ContractViolation] = []
    allowed = set(contracts.allow)
    governed = {name for edge in contracts.allow for name in (edge.caller, edge.callee)}
    layer_of = {name: index for index, layer in enumerate(contracts.layers) for name in layer}
    sites = sorted(result.call_sites, key=lambda c: (c.file, c.line, c.id))
    for site in sites:
        if not site.is_production_coupling:
            continue
        for edge in contracts.forbid:
            if _matches(edge, site):
                violations.append(
                    _violation(
                        site,
                        f'forbid "{edge}"',
                        f"{site.caller} must not call {site.callee} synchronously",
                    )
                )
        if (
            contracts.allow
            and _in(site.caller, governed)
            and _in(site.callee, governed)
            and not any(_matches(edge, site) for edge in allowed)
        ):
            violations.append(
                _violation(
                    site,
                    "allow [" + ", ".join(f'"{edge}"' for edge in contracts.allow) + "]",
                    f"{site.caller} -> {site.callee} is not one of the allowed edges",
                )
            )
        caller_layer = layer_of.get(site.caller)
        callee_layer = layer_of.get(site.callee)
        if caller_layer is not None and callee_layer is not None and callee_layer <= caller_layer:
            where = "its own layer" if callee_layer == caller_layer else "a layer above"
            violations.append(
                _violation(
                    site,
                    "layers " + _layers_text(contracts.layers),
                    f"{site.caller} (layer {caller_layer + 1}) calls {site.callee} in {where}"
                    f" (layer {callee_layer + 1}); a service may call only the layers below it",
                )
            )
    return tuple(violations)


def _in(name: str, governed: set[str]) -> bool:
    return "*" in governed or name in governed


def _matches(edge: Edge, site: CallSite) -> bool:
    return edge.caller in ("*", site.caller) and edge.callee in ("*", site.callee)


def _violation(site: CallSite, contract: str, reason: str) -> ContractViolation:
    return ContractViolation(
        call_site=site.id,
        caller=site.caller,
        callee=site.callee,
        contract=contract,
        reason=reason,
    )


def _layers_text(layers: tuple[tuple[str, ...], ...]) -> str:
    return "[" + ", ".join("[" + ", ".join(f'"{n}"' for n in layer) + "]" for layer in layers) + "]"


__all__ = ["check_contracts", "unknown_services"]
