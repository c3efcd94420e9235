"""What discovery found, kept for a rerun (``app/edits.py``'s ``save_discovery`` and
``kept_discovery``): given back only as it was found, and only what the model's records
hold."""

from __future__ import annotations

from pathlib import Path

from decouple_services.app.cache import read_only
from decouple_services.app.edits import EditRecord, kept_discovery, save_discovery
from decouple_services.app.pipeline import _discovery_digest
from decouple_services.core.model import Diagnostic, EnvValue, Service, Severity
from decouple_services.discover.found import ServiceDiscovery
from decouple_services.discover.nginx import GatewayRoute

FOUND = ServiceDiscovery(
    services=(
        Service("users", "services/users", aliases=("users",), ports=(5000,)),
        Service("orders", "services/orders", env=(EnvValue("URL", "http://users", "c:3"),)),
    ),
    diagnostics=(Diagnostic("docker-compose.yml", 3, Severity.WARNING, "x", "y"),),
    infra_hosts={"redis": "redis:7"},
    global_env=(EnvValue("A", "1", ".env:1"),),
    files_read=("docker-compose.yml", ".env"),
    infra_ports={"redis": (6379,)},
    apart=frozenset({"scripts/run.py"}),
    unshipped=frozenset({"tools"}),
    code_read=frozenset({"services/users/app.py"}),
)


def record_of(found: ServiceDiscovery) -> EditRecord:
    return EditRecord(discovery=_discovery_digest(found), discovery_code=sorted(found.code_read))


def test_kept_as_found(tmp_path: Path) -> None:
    save_discovery(tmp_path, tmp_path, FOUND, _discovery_digest(FOUND))
    kept = kept_discovery(tmp_path, tmp_path, record_of(FOUND), _discovery_digest)
    assert kept == FOUND
    assert kept is not None and kept.files_read == FOUND.files_read
    assert kept.code_read == FOUND.code_read


def test_another_scans_or_another_roots_is_not_taken(tmp_path: Path) -> None:
    save_discovery(tmp_path, tmp_path, FOUND, _discovery_digest(FOUND))
    other = ServiceDiscovery(services=FOUND.services[:1])
    assert kept_discovery(tmp_path, tmp_path, record_of(other), _discovery_digest) is None
    assert kept_discovery(tmp_path, tmp_path / "x", record_of(FOUND), _discovery_digest) is None
    # a digest the decoded discovery does not give again
    assert kept_discovery(tmp_path, tmp_path, record_of(FOUND), lambda _: "other") is None


def test_gateway_routes_are_not_kept(tmp_path: Path) -> None:
    save_discovery(tmp_path, tmp_path, FOUND, _discovery_digest(FOUND))
    routed = ServiceDiscovery(
        services=FOUND.services,
        gateway_routes={"gateway": (GatewayRoute("/users/", "users", 5000, None, "nginx.conf:3"),)},
    )
    save_discovery(tmp_path, tmp_path, routed, _discovery_digest(routed))
    assert kept_discovery(tmp_path, tmp_path, record_of(routed), _discovery_digest) is None
    # nor the one before it, which the file no longer holds
    assert kept_discovery(tmp_path, tmp_path, record_of(FOUND), _discovery_digest) is None


def test_a_read_only_cache_is_left_as_it_is(tmp_path: Path) -> None:
    with read_only(tmp_path):
        save_discovery(tmp_path, tmp_path, FOUND, _discovery_digest(FOUND))
    assert list(tmp_path.iterdir()) == []
    save_discovery(tmp_path, tmp_path, FOUND, _discovery_digest(FOUND))
    routed = ServiceDiscovery(gateway_routes={"gateway": ()})
    with read_only(tmp_path):
        save_discovery(tmp_path, tmp_path, routed, _discovery_digest(routed))
    assert kept_discovery(tmp_path, tmp_path, record_of(FOUND), _discovery_digest) == FOUND
