"""The sample repository split in two, as two teams with a repository each would have it:
each half scanned on its own sees the other half's services as external hosts or unknown;
merged, the calls between the halves resolve, and the graph is the graph of the whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli import main
from decouple_services.core.model import ScanResult
from decouple_services.graph import merge_scans, rank_hotspots
from decouple_services.render.json import load_scan_json, render_json

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
HALVES = {
    "shop-front": ("frontend", "orders", "users", "inventory"),
    "shop-back": ("notifications", "payments", "emails", "search", "recommendations"),
}
ALL = {s for names in HALVES.values() for s in names}


def half(tmp: Path, name: str) -> Path:
    """A copy of the sample holding only ``HALVES[name]`` and their deployment files."""
    keep = set(HALVES[name])
    root = tmp / name
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache"))
    for service in ALL - keep:
        shutil.rmtree(root / "services" / service)
        (root / "k8s" / f"{service}.yaml").unlink(missing_ok=True)
    compose = root / "docker-compose.yml"
    document = yaml.safe_load(compose.read_text(encoding="utf-8"))
    for service in ALL - keep:
        del document["services"][service]
    for service in document["services"].values():
        if isinstance(service.get("depends_on"), list):
            service["depends_on"] = [d for d in service["depends_on"] if d not in ALL - keep]
        elif isinstance(service.get("depends_on"), dict):
            for d in ALL - keep:
                service["depends_on"].pop(d, None)
    compose.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    values = root / "deploy" / "helm" / "shop" / "values.yaml"
    document = yaml.safe_load(values.read_text(encoding="utf-8"))
    for service in ALL - keep:
        document.pop(service, None)
    values.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root


def edges(result: ScanResult) -> set[tuple[str, str]]:
    return {(s.caller, s.callee) for s in result.call_sites if s.is_production_coupling}


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("split")
    out = {}
    for name in HALVES:
        result = scan(half(tmp, name), ScanOptions(use_cache=False, jobs=1))
        out[name] = tmp / f"{name}.json"
        out[name].write_text(render_json(result), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def whole() -> ScanResult:
    return scan(SAMPLE, ScanOptions(use_cache=False, jobs=1))


def load(path: Path) -> ScanResult:
    return load_scan_json(path.read_text(encoding="utf-8"), source=str(path))


def test_each_half_alone_knows_only_its_own_services(scans: dict[str, Path]) -> None:
    for name, path in scans.items():
        result = load(path)
        assert {s.name for s in result.services} == set(HALVES[name])
        across = [
            s
            for s in result.call_sites
            if s.caller in HALVES[name]
            and s.category.value == "production"
            and (s.callee == "unknown" or s.callee.startswith("external:"))
        ]
        assert across, f"{name}: no call leaves the half, the split tests nothing"


def test_merged_halves_give_the_graph_of_the_whole(
    scans: dict[str, Path], whole: ScanResult
) -> None:
    merged = merge_scans([load(p) for p in scans.values()])
    assert {s.name for s in merged.services} == ALL
    assert edges(merged) == edges(whole)
    by_id = {s.id: s for s in whole.call_sites}
    for site in merged.call_sites:
        if site.is_production_coupling:
            assert site.endpoint == by_id[site.id].endpoint, site
    assert merged.root == "shop-front+shop-back"


def test_merged_halves_rank_hotspots_like_the_whole(
    scans: dict[str, Path], whole: ScanResult
) -> None:
    merged = merge_scans([load(p) for p in scans.values()])
    assert [(h.service, h.score) for h in rank_hotspots(merged)] == [
        (h.service, h.score) for h in rank_hotspots(whole)
    ]


def test_a_resolved_call_says_the_merge_resolved_it(scans: dict[str, Path]) -> None:
    merged = merge_scans([load(p) for p in scans.values()])
    front = load(scans["shop-front"])
    outside = {s.id for s in front.call_sites if s.callee.startswith("external:")}
    resolved = [s for s in merged.call_sites if s.id in outside and s.is_production_coupling]
    assert resolved
    assert all(s.evidence[-1].endswith("(merged scans)") for s in resolved)


def test_the_same_scan_twice_merges_to_itself(scans: dict[str, Path]) -> None:
    one = load(scans["shop-back"])
    twice = merge_scans([one, one])
    assert len(twice.call_sites) == len(one.call_sites)
    assert edges(twice) == edges(one)


def test_graph_from_several_scan_files(scans: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "org.mmd"
    args = ["graph", "--mermaid", str(out)]
    for path in scans.values():
        args += ["--from", str(path)]
    assert main(args) == 0
    text = out.read_text(encoding="utf-8")
    assert "Coupling graph of shop-front+shop-back" in text
    for service in ALL:
        assert f'("{service}<br/>score ' in text


def test_path_and_from_together_are_a_usage_error(
    scans: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hotspots", str(SAMPLE), "--from", str(scans["shop-back"])]) == 2
    assert "either PATH or --from" in capsys.readouterr().err


def test_a_missing_or_malformed_from_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    assert main(["hotspots", "--from", str(missing)]) == 2
    assert f"{missing}: cannot read scan file: " in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert main(["graph", "--from", str(broken)]) == 2
    assert f"{broken} is not valid JSON" in capsys.readouterr().err
