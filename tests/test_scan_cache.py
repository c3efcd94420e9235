"""The scan cache: a rerun gives exactly what a scan without cache gives, whatever changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import decouple_services
import decouple_services.app.cache
import decouple_services.app.pipeline
import decouple_services.app.rereads
import decouple_services.detect.extract
from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.cli import main
from decouple_services.core import model
from decouple_services.render.json import render_json

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
CLIENTS = "services/frontend/frontend/clients.py"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root, symlinks=True, ignore=shutil.ignore_patterns(".decouple-cache"))
    return root


def uncached(root: Path) -> str:
    return render_json(scan(root, ScanOptions(use_cache=False, jobs=1)))


def cached(root: Path, cache: Path) -> str:
    return render_json(scan(root, ScanOptions(cache_dir=cache, jobs=1)))


def test_an_unchanged_tree_returns_the_previous_result_without_analysing(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    expected = uncached(repo)
    assert cached(repo, cache) == expected

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was analysed again")

    monkeypatch.setattr(decouple_services.detect.extract, "extract_facts", fail)
    monkeypatch.setattr(decouple_services.app.pipeline, "content_digest", fail)
    assert cached(repo, cache) == expected


def test_other_decouple_code_reuses_nothing_from_the_cache(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editable install changed under the same version number: results are recomputed."""
    cache = tmp_path / "cache"
    expected = cached(repo, cache)
    analysed: list[str] = []
    real = decouple_services.detect.extract.extract_facts

    def counting(source: bytes, path: str, *args: object, **kwargs: object) -> object:
        analysed.append(path)
        return real(source, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decouple_services.detect.extract, "extract_facts", counting)
    monkeypatch.setattr(decouple_services.app.cache, "code_version", lambda: "0.1.0+other")
    monkeypatch.setattr(decouple_services.app.pipeline, "code_version", lambda: "0.1.0+other")
    assert cached(repo, cache) == expected
    assert CLIENTS in analysed


def test_the_code_stamp_follows_the_installed_modules() -> None:
    stamp = decouple_services.app.cache.code_version()
    assert stamp.startswith(decouple_services.__version__ + "+")
    decouple_services.app.cache.code_version.cache_clear()
    assert decouple_services.app.cache.code_version() == stamp


@pytest.mark.parametrize(
    "edit",
    [
        "url",
        "new file",
        "deleted file",
        "compose",
        "config",
        "helper",
        "gitignore rule",
        "renamed directory",
    ],
)
def test_after_an_edit_the_cached_scan_equals_a_fresh_one(
    repo: Path, tmp_path: Path, edit: str
) -> None:
    cache = tmp_path / "cache"
    cached(repo, cache)
    clients = repo / CLIENTS
    if edit == "url":
        text = clients.read_text(encoding="utf-8")
        assert "/items/" in text
        clients.write_text(text.replace("/items/", "/products/"), encoding="utf-8")
    elif edit == "new file":
        (repo / "services/frontend/frontend/extra.py").write_text(
            "import requests\n\ndef ping():\n    requests.get('http://orders:8000/health', timeout=1)\n",
            encoding="utf-8",
        )
    elif edit == "deleted file":
        clients.unlink()
    elif edit == "compose":
        compose = repo / "docker-compose.yml"
        compose.write_text(
            compose.read_text(encoding="utf-8").replace("orders:", "purchasing:", 1),
            encoding="utf-8",
        )
    elif edit == "config":
        (repo / "decouple.toml").write_text('exclude = ["services/frontend/**"]\n')
    elif edit == "gitignore rule":
        # the root directory's mtime stays: only the .gitignore's tells
        with (repo / ".gitignore").open("a", encoding="utf-8") as handle:
            handle.write(f"\n{CLIENTS}\n")
    elif edit == "renamed directory":
        (repo / "services/frontend").rename(repo / "services/storefront")
    elif edit == "helper":
        with clients.open("a", encoding="utf-8") as handle:
            handle.write("\n\ndef fetch(host):\n    return requests.get(f'http://{host}/x')\n")
    assert cached(repo, cache) == uncached(repo)
    # and once more, now from the cache alone
    assert cached(repo, cache) == uncached(repo)


GO_SERVER = Path(__file__).parent / "fixtures" / "patterns" / "grpc-server-in-go"


@pytest.mark.parametrize("edit", ["registration", "new server file", "import"])
def test_after_an_edit_of_another_language_the_cached_scan_equals_a_fresh_one(
    tmp_path: Path, edit: str
) -> None:
    """Servicers registered in Go are inputs of the scan as much as Python files are."""
    root = tmp_path / "repo"
    shutil.copytree(GO_SERVER, root)
    cache = tmp_path / "cache"
    before = cached(root, cache)
    server = root / "internal/payments/server.go"
    if edit == "registration":
        server.write_text(
            server.read_text().replace("RegisterPaymentsServer", "RegisterBillsServer")
        )
    elif edit == "new server file":
        (root / "internal/reports/server.go").write_text(
            "package reports\n\nfunc Serve() { pb.RegisterPaymentsServer(s, impl) }\n"
        )
    elif edit == "import":
        main_go = root / "cmd/payments/main.go"
        main_go.write_text(main_go.read_text().replace("internal/payments", "internal/reports"))
    after = cached(root, cache)
    assert after == uncached(root)
    assert after != before


PROTOS = Path(__file__).parent / "fixtures" / "patterns" / "grpc-proto-without-package"


def test_after_an_edit_of_a_proto_file_the_cached_scan_equals_a_fresh_one(tmp_path: Path) -> None:
    """The ``.proto`` files give the paths of services whose generated modules are not in
    the repository: a package added to one changes the endpoints."""
    root = tmp_path / "repo"
    shutil.copytree(PROTOS, root)
    cache = tmp_path / "cache"
    before = cached(root, cache)
    proto = root / "protos/accounts.proto"
    proto.write_text(
        proto.read_text().replace('syntax = "proto3";', 'syntax = "proto3";\npackage acct;')
    )
    after = cached(root, cache)
    assert after == uncached(root)
    assert "/acct.Accounts/CloseAccount" in after and after != before


def test_an_edit_within_the_same_timestamp_tick_is_still_seen(repo: Path, tmp_path: Path) -> None:
    """On a file system with whole-second timestamps, a second edit in the same second keeps
    size and mtime: a file modified that recently is not trusted by its timestamps (as git
    does with racily clean index entries)."""
    cache = tmp_path / "cache"
    clients = repo / CLIENTS
    text = clients.read_text(encoding="utf-8")
    second = int(time.time()) * 1_000_000_000
    os.utime(clients, ns=(second, second))
    cached(repo, cache)
    same_size = text.replace("/items/", "/itmes/")
    assert len(same_size) == len(text) and same_size != text
    clients.write_text(same_size, encoding="utf-8")
    os.utime(clients, ns=(second, second))
    assert cached(repo, cache) == uncached(repo)


def test_corrupt_and_foreign_cache_files_are_ignored_and_rebuilt(
    repo: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    expected = uncached(repo)
    cached(repo, cache)
    manifests = list(cache.glob("manifest-*.json"))
    assert len(manifests) == 1
    data = json.loads(manifests[0].read_text(encoding="utf-8"))
    data["version"] = "0.0.0-other"
    manifests[0].write_text(json.dumps(data), encoding="utf-8")
    assert cached(repo, cache) == expected
    # right format and version, damaged entries and result
    data = json.loads(manifests[0].read_text(encoding="utf-8"))
    data["files"] = {path: [1, "x"] for path in data["files"]}
    data["rejected"] = {fp: [3, None] for fp in data["rejected"]}
    manifests[0].write_text(json.dumps(data), encoding="utf-8")
    (results,) = cache.glob("result-*.json")
    stored = json.loads(results.read_text(encoding="utf-8"))
    stored["value"] = {"@": "NoSuchClass"}
    results.write_text(json.dumps(stored), encoding="utf-8")
    assert cached(repo, cache) == expected
    stored = json.loads(results.read_text(encoding="utf-8"))
    stored["value"] = {"@": "ScanResult", "root": 1, "bogus": []}
    results.write_text(json.dumps(stored), encoding="utf-8")
    assert cached(repo, cache) == expected
    # a result file of another result than the manifest names
    stored = json.loads(results.read_text(encoding="utf-8"))
    stored["id"] = "0" * 64
    results.write_text(json.dumps(stored), encoding="utf-8")
    assert cached(repo, cache) == expected
    for entry in cache.rglob("*.json"):
        entry.write_text('{"path": 3, "files": []}', encoding="utf-8")
    assert cached(repo, cache) == expected
    for entry in cache.rglob("*.json"):
        entry.write_bytes(b"\xff\x00 not json")
    assert cached(repo, cache) == expected
    assert cached(repo, cache) == expected


def test_a_stale_stored_result_is_not_returned_for_another_tree(repo: Path, tmp_path: Path) -> None:
    """Two checkouts sharing one --cache-dir keep their own manifests."""
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    shutil.copytree(repo, other, symlinks=True)
    (other / CLIENTS).unlink()
    assert cached(repo, cache) == uncached(repo)
    assert cached(other, cache) == uncached(other)
    assert cached(repo, cache) == uncached(repo)


def _scan_json(args: tuple[str, str]) -> str:
    root, cache = args
    return render_json(scan(root, ScanOptions(cache_dir=Path(cache), jobs=1)))


def test_concurrent_runs_share_a_cache_without_corrupting_it(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = uncached(repo)
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_scan_json, [(str(repo), str(cache))] * 6))
    assert all(r == expected for r in results)
    assert not list(cache.rglob("*.tmp"))
    assert cached(repo, cache) == expected


def test_cache_dir_option_keeps_the_tree_clean(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "elsewhere"
    out = tmp_path / "scan.json"
    status = main(["scan", str(repo), "-f", "json", "-o", str(out), "--cache-dir", str(cache)])
    assert status == 0
    assert list(cache.glob("manifest-*.json"))
    assert not (repo / ".decouple-cache").exists()
    assert out.read_text(encoding="utf-8") == uncached(repo)
    status = main(["scan", str(repo), "-f", "json", "-o", str(out), "--no-cache"])
    assert status == 0 and not (repo / ".decouple-cache").exists()


@pytest.mark.parametrize("made", [False, True], ids=["made by the scan", "made empty beforehand"])
def test_a_folder_made_for_the_cache_is_ignored_by_git(
    repo: Path, tmp_path: Path, made: bool
) -> None:
    cache = tmp_path / "cache"
    if made:
        cache.mkdir()
    cached(repo, cache)
    assert (cache / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"


def test_a_cache_dir_that_already_holds_files_is_given_no_gitignore(repo: Path) -> None:
    # `--cache-dir services`: a `*` written there would hide the folder's code from git and
    # from the next scan's own listing
    folder = repo / "services"
    expected = uncached(repo)
    assert cached(repo, folder) == expected
    assert not (folder / ".gitignore").exists()
    assert cached(repo, folder) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["hotspots", "--format", "json"],
        ["graph", "--mermaid", "{out}"],
        ["migrate", "--select", "cs-3cefa2af", "--patch", "{out}"],
    ],
    ids=lambda args: args[0],
)
def test_every_scanning_command_keeps_its_cache_where_it_is_told(
    repo: Path, tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "elsewhere"
    out = str(tmp_path / "out")
    argv = [a.replace("{out}", out) for a in args]
    assert main([*argv[:1], str(repo), *argv[1:], "--cache-dir", str(cache)]) == 0
    assert list(cache.glob("manifest-*.json"))
    assert not (repo / ".decouple-cache").exists()
    assert main([*argv[:1], str(repo), *argv[1:], "--no-cache"]) == 0
    assert not (repo / ".decouple-cache").exists()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}


def test_a_migration_dry_run_makes_no_cache_in_the_tree(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --write or --branch, migrate changes nothing in the scanned tree: not even
    the cache a scan would make there. A scan's own is unchanged (scan_or_known's
    ``write_cache``)."""
    out = tmp_path / "out.patch"
    argv = ["migrate", str(repo), "--select", "cs-3cefa2af", "--patch", str(out)]
    assert main(argv) == 0
    assert out.read_bytes() and not (repo / ".decouple-cache").exists()
    assert main(["scan", str(repo), "-f", "json", "-o", str(tmp_path / "scan.json")]) == 0
    assert (repo / ".decouple-cache").is_dir()  # scan's behaviour is the same as before


def test_a_scan_that_writes_no_cache_reads_the_one_there_and_leaves_it_as_it_was(
    repo: Path, tmp_path: Path
) -> None:
    cache = repo / ".decouple-cache"
    expected = uncached(repo)
    assert render_json(scan(repo, ScanOptions(jobs=1))) == expected
    kept = _files(cache)
    notes: list[str] = []
    options = ScanOptions(jobs=1, write_cache=False, notes=notes.append)
    assert render_json(scan(repo, options)) == expected
    assert any("its result reused" in n for n in notes), notes  # read
    clients = repo / CLIENTS
    clients.write_text(clients.read_text(encoding="utf-8") + "\nEXTRA = 1\n", encoding="utf-8")
    assert render_json(scan(repo, options)) == uncached(repo)
    assert _files(cache) == kept  # an edit a scan would record: nothing written
    # none there: none made, and no warning about it
    shutil.rmtree(cache)
    result = scan(repo, options)
    assert not cache.exists()
    assert not [d for d in result.diagnostics if d.code == "cache-unusable"]


#: Imported only by the commands that need them, never to parse arguments or print help.
HEAVY = ("rich", "networkx", "libcst", "jinja2", "yaml", "pathspec", "graphviz", "pygments")


@pytest.mark.parametrize(
    "code",
    [
        "import decouple_services.cli",
        "from decouple_services.cli import main; main(['--help'])",
        "from decouple_services.cli import main; main(['scan', '--help'])",
    ],
)
def test_starting_the_cli_imports_nothing_heavy(code: str) -> None:
    """`decouple --help` must stay fast: commands import their dependencies when they run."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    loaded = {name.split(".")[0] for name in done.stderr.split()}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def _graph(root: Path, cache: Path | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The import graph of ``root`` as a scan builds it, with or without the cache."""
    from decouple_services.discover.files import list_files

    python = list(list_files(root, ()).python)
    manifest = None
    if cache is not None:
        manifest = decouple_services.app.cache.Manifest(cache, root)
        # as a scan does before building the graph: the manifest knows every file's digest
        decouple_services.app.pipeline.extract_all(
            root,
            python,
            decouple_services.app.pipeline.detection_options(
                [], decouple_services.app.pipeline.Config()
            ),
            jobs=1,
            cache_dir=cache,
            manifest=manifest,
        )
        manifest.save(root, set(python))
    graph = decouple_services.app.pipeline._import_graph(root, python, cache, manifest)
    return graph.modules, graph.importers


@pytest.mark.parametrize(
    "edit",
    ["import", "new file", "deleted file", "new package", "renamed directory", "corrupt"],
)
def test_cached_imports_equal_fresh_ones_after_an_edit(
    repo: Path, tmp_path: Path, edit: str
) -> None:
    cache = tmp_path / "cache"
    assert _graph(repo, cache) == _graph(repo, None)
    clients = repo / CLIENTS
    frontend = repo / "services/frontend/frontend"
    if edit == "import":
        with clients.open("a", encoding="utf-8") as handle:
            handle.write("\nimport shopcore.http\nfrom . import extra_mod\n")
    elif edit == "new file":
        (frontend / "extra.py").write_text("from shopcore import http\n", encoding="utf-8")
    elif edit == "deleted file":
        clients.unlink()
    elif edit == "new package":
        # module names and the set of packages change: `services.frontend` becomes one
        (repo / "services/frontend/__init__.py").write_text("", encoding="utf-8")
    elif edit == "renamed directory":
        frontend.rename(repo / "services/frontend/storefront")
    elif edit == "corrupt":
        for entry in cache.glob("imports-*.json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            data["files"] = {path: [1, None, "x", 3] for path in data["files"]}
            entry.write_text(json.dumps(data), encoding="utf-8")
    fresh = _graph(repo, None)
    assert _graph(repo, cache) == fresh
    # and once more, now from the cache alone
    assert _graph(repo, cache) == fresh


def test_unchanged_files_imports_come_from_the_cache(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    expected = _graph(repo, cache)
    read: list[str] = []
    real = decouple_services.app.pipeline._read

    def counting(path: str) -> bytes | None:
        read.append(path)
        return real(path)

    monkeypatch.setattr(decouple_services.app.pipeline, "_read", counting)
    original = (repo / CLIENTS).read_bytes()
    (repo / CLIENTS).write_bytes(original + b"\nimport shopcore.http\n")
    assert _graph(repo, cache) != expected
    assert [os.path.relpath(p, repo) for p in read] == [CLIENTS]
    (repo / CLIENTS).write_bytes(original)
    assert _graph(repo, cache) == expected


def test_a_scan_writes_one_pack_and_packs_are_merged_past_the_limit(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decouple_services.app.cache, "MAX_PACKS", 3)
    cache = tmp_path / "cache"
    cached(repo, cache)
    assert len(list((cache / "packs").glob("pack-*.jsonl"))) == 1
    assert not list(cache.rglob("*.tmp"))
    clients = repo / CLIENTS
    original = clients.read_text(encoding="utf-8")
    for n in range(6):
        clients.write_text(original + f"\n\ndef extra_{n}():\n    return {n}\n", encoding="utf-8")
        assert cached(repo, cache) == uncached(repo)
        assert 1 <= len(list((cache / "packs").glob("pack-*.jsonl"))) <= 3


def test_a_pack_searched_for_a_few_keys_gives_what_loading_every_pack_gives(
    tmp_path: Path,
) -> None:
    """A rerun checking one edited file searches the packs' bytes for its key; the answer is
    the one loading them gives: the first line for the key in the packs by name."""
    from decouple_services.app.cache import MAX_PACK_SEARCHES, _Packs

    def key(n: int) -> str:
        return f"{n:064x}"

    folder = str(tmp_path)
    older = _Packs(folder)
    older.write([(key(1), '{"v":1}'), (key(2), '{"v":2}')])
    newer = _Packs(folder)
    newer.write([(key(2), '{"v":"two"}'), (key(3), '{"v":3}')])
    asked = [key(1), key(2), key(3), key(4)]
    loaded = _Packs(folder)
    loaded.refresh()
    expected = [loaded.get(k) for k in asked]
    assert expected == [b'{"v":1}', b'{"v":2}', b'{"v":3}', None]
    searched = _Packs(folder)
    assert [searched.find(k) for k in asked] == expected
    assert not searched.loaded and not searched.entries  # nothing kept of a search
    for k in asked[: max(0, MAX_PACK_SEARCHES - len(asked))]:
        searched.find(k)
    # past the searches, every pack is loaded once and asked as a dict
    assert searched.find(key(1)) == b'{"v":1}' and searched.loaded
    assert [searched.find(k) for k in asked] == expected


def test_damaged_packs_are_ignored_and_their_facts_rebuilt(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    expected = uncached(repo)
    cached(repo, cache)
    # what another process would see: nothing loaded yet, and no stored result to reuse
    monkeypatch.setattr(decouple_services.app.cache, "_PACKS", {})
    for manifest in cache.glob("manifest-*.json"):
        manifest.unlink()
    (pack,) = (cache / "packs").glob("pack-*.jsonl")
    lines = pack.read_bytes().split(b"\n")
    damaged = [
        lines[0].replace(b'"path"', b'"nopath"'),  # foreign content under a right key
        b"\xff\x00 not json\tat all",
        b"x" * 64 + b"\t{}",
        lines[1][: len(lines[1]) // 2],  # half a line
        *lines[2:],
    ]
    pack.write_bytes(b"\n".join(damaged))
    os.mkfifo(cache / "packs" / "pack-0-fifo.jsonl")  # never read, never waited on
    assert cached(repo, cache) == expected


def test_entries_whose_calls_do_not_decode_are_dropped_when_used_and_written_again(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun leaves the calls of the facts it reads encoded: a damaged entry whose other
    facts decode shows only when its calls are first used. The scan then runs again
    without it, and its facts are written again in place of the damaged ones."""
    cache = tmp_path / "cache"
    expected = uncached(repo)
    cached(repo, cache)
    monkeypatch.setattr(decouple_services.app.cache, "_PACKS", {})
    for stale in [*cache.glob("manifest-*.json"), *cache.glob("sites-*.json")]:
        stale.unlink()  # every file read again, and resolved afresh (its calls decoded)
    (pack,) = (cache / "packs").glob("pack-*.jsonl")
    lines = pack.read_bytes().split(b"\n")
    with_calls = [i for i, line in enumerate(lines) if not line.endswith(b"\t[]\t[]")]
    assert len(with_calls) >= 2
    first, second = with_calls[:2]
    lines[first] = lines[first].rsplit(b"\t", 1)[0] + b"\t[[1,2]"  # its calls' rest cut
    key, rest, heads, tails = lines[second].split(b"\t")
    lines[second] = b"\t".join([key, rest, heads.replace(b"[", b"{", 2), tails])
    pack.write_bytes(b"\n".join(lines))
    dropped: list[str] = []
    drop = decouple_services.app.pipeline.drop_facts

    def dropping(key: str) -> None:
        dropped.append(key)
        drop(key)

    monkeypatch.setattr(decouple_services.app.pipeline, "drop_facts", dropping)
    assert cached(repo, cache) == expected
    assert sorted(dropped) == sorted(
        line.split(b"\t")[0].decode() for line in (lines[first], lines[second])
    )
    # another process: the entries were written again, and decode
    monkeypatch.setattr(decouple_services.app.cache, "_PACKS", {})
    for stale in [*cache.glob("manifest-*.json"), *cache.glob("sites-*.json")]:
        stale.unlink()
    dropped.clear()
    assert cached(repo, cache) == expected
    assert dropped == []


def test_one_entry_of_the_imports_cache_is_read_and_replaced_in_its_text(tmp_path: Path) -> None:
    """``ImportsEntries`` finds an entry by its path as a key of the file ``ImportsCache``
    writes, whatever the path holds, and replaces it leaving every other entry as it was;
    another tree's packages or a damaged file give nothing."""
    from decouple_services.app.cache import ImportsCache, ImportsEntries

    root = tmp_path / "repo"
    packages = ["pkg", "pkg.sub"]
    paths = ['a "quoted", path.py', "pkg/é.py", "pkg/sub/x.py", 'x.py":["', "pkg/sub/x.py.bak"]
    cache = ImportsCache(tmp_path, root, packages)
    for n, path in enumerate(paths):
        cache.put(path, f"d{n}", f"m{n}", n % 2 == 0, frozenset({f"t{n}", "os"}))
    cache.save(paths)

    entries = ImportsEntries(tmp_path, root, packages)
    for n, path in enumerate(paths):
        assert entries.get(path, f"d{n}", f"m{n}", n % 2 == 0) == {f"t{n}", "os"}
        assert entries.get(path, "other", f"m{n}", n % 2 == 0) is None
    assert entries.get("missing.py", "d0", "m0", True) is None
    assert entries.put("pkg/sub/x.py", "new", "m2", True, frozenset({"json"}))
    assert not entries.put("missing.py", "new", "m", True, frozenset())
    entries.save()

    again = ImportsCache(tmp_path, root, packages)
    assert again.get("pkg/sub/x.py", "new", "m2", True) == {"json"}
    for n, path in enumerate(paths):
        if path != "pkg/sub/x.py":
            assert again.get(path, f"d{n}", f"m{n}", n % 2 == 0) == {f"t{n}", "os"}
    assert ImportsEntries(tmp_path, root, ["pkg"]).get("pkg/é.py", "d1", "m1", False) is None
    (written,) = tmp_path.glob("imports-*.json")
    written.write_text(written.read_text()[:-1], encoding="utf-8")
    assert ImportsEntries(tmp_path, root, packages).get("pkg/é.py", "d1", "m1", False) is None


def test_the_kept_import_graph_answers_a_helper_search_as_the_graph_does(tmp_path: Path) -> None:
    """``RecordedGraph`` keeps what ``select`` asks of an ``ImportGraph`` for the modules of
    the helpers asked about: over the sample, for helpers in every module (functions,
    methods, constructors), each file is selected by one exactly when by the other."""
    from decouple_services.app.rereads import Helper, RecordedGraph, defining_module, select

    root = SAMPLE
    python = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.py") if ".decouple-cache" not in p.parts
    )
    graph = decouple_services.app.pipeline._import_graph(root, python)
    helpers = [
        Helper(f"{module}.{name}", method)
        for module in sorted(graph.files_of)
        for name, method in (("get", False), ("Client.post", True), ("Client.__init__", True))
    ]
    modules = {defining_module(h.qualname, set(graph.files_of)) for h in helpers}
    kept = RecordedGraph.of(graph, python, sorted(m for m in modules if m is not None))

    def read(path: str) -> bytes | None:
        return (root / path).read_bytes()

    selected = 0
    for path in python:
        for helper in helpers:
            found = select([path], [helper], graph, read)
            assert select([path], [helper], kept, read) == found, (path, helper)
            selected += bool(found)
    assert selected > 0


def test_the_kept_import_graph_is_recorded_again_from_its_bits_for_the_same_listing() -> None:
    """A rerun's graph kept from the last scan (``KeptGraph``) is recorded for the next one
    with the last record's bits as they are, without the graph built nor its files turned
    into paths and back; for another listing, or another module, the graph is built."""
    from decouple_services.app.rereads import KeptGraph, RecordedGraph

    root = SAMPLE
    python = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.py") if ".decouple-cache" not in p.parts
    )
    graph = decouple_services.app.pipeline._import_graph(root, python)
    modules = sorted(m for m in graph.files_of if graph.connected(m))[:6]
    recorded = RecordedGraph.of(graph, python, modules)
    assert all(recorded.connected(m) == graph.connected(m) for m in modules)
    built: list[bool] = []

    def build() -> decouple_services.app.rereads.ImportGraph:
        built.append(True)
        return graph

    kept = KeptGraph(graph.modules, recorded, build)
    assert RecordedGraph.of(kept, list(python), modules).modules() == recorded.modules()
    assert not built
    other = sorted(m for m in graph.files_of if m not in modules)[0]
    again = RecordedGraph.of(kept, python, [*modules, other]).modules()
    assert again == RecordedGraph.of(graph, python, [*modules, other]).modules()
    assert built
    built.clear()
    listing = [*python, "zz_new.py"]
    assert kept.kept_bits(modules[0], listing) is None
    assert kept.kept_bits(modules[0], python) == recorded.bits(modules[0])


def test_a_rerun_taking_the_first_helper_pass_as_the_last_scans_searches_the_edited_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun whose edit leaves the helper passes as they were searches only the edited
    files for the helpers a kept pass learned, from the first pass on: the import graph,
    kept from the last scan, is made before the pass asks whether it was kept (it was
    asked before the graph was first made, and the first pass searched every file)."""
    root = tmp_path / "tree"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "lib.py").write_text(
        "import requests\n\n\ndef call(url):\n    return requests.get(url)\n"
    )
    for n in range(1, 7):
        (root / "app" / f"m{n}.py").write_text(
            f'from app.lib import call\n\n\ndef f{n}():\n    return call("http://svc{n}:8000/x")\n'
        )
    other = root / "app" / "other.py"
    other.write_text("def g():\n    return 1\n")
    cache = tmp_path / "cache"
    cached(root, cache)
    with other.open("a") as handle:
        handle.write(
            '\n\nimport requests as _r\n\n\ndef e(v):\n    return _r.post("http://x.example/i", json=v)\n'
        )
    expected = uncached(root)
    searched: list[list[str]] = []
    select = decouple_services.app.rereads.select

    def watched(paths: list[str], *args: object, **kwargs: object) -> list[str]:
        if "objects" not in kwargs:  # a helper pass's search, not asking's for client objects
            searched.append(list(paths))
        return select(paths, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decouple_services.app.rereads, "select", watched)
    assert cached(root, cache) == expected
    assert searched == [["app/other.py"]]


def test_the_collector_is_paused_while_the_cache_is_decoded_and_its_state_kept() -> None:
    import gc

    from decouple_services.app.cache import collector_paused

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError
    assert gc.isenabled()


def test_a_cached_rerun_moves_the_facts_it_reads_out_of_the_collectors_sight_until_it_ends(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    cache = tmp_path / "cache"
    cached(repo, cache)
    with (repo / CLIENTS).open("a") as handle:
        handle.write('\n\ndef added(requests):\n    return requests.get("http://orders:8000/x")\n')
    expected = uncached(repo)
    during: list[int] = []
    extract_all = decouple_services.app.pipeline.extract_all

    def watched(*args: object, **kwargs: object) -> object:
        found = extract_all(*args, **kwargs)  # type: ignore[arg-type]
        during.append(gc.get_freeze_count())
        return found

    monkeypatch.setattr(decouple_services.app.pipeline, "extract_all", watched)
    assert gc.get_freeze_count() == 0
    # a scan with nothing in its cache parses: it freezes nothing (its garbage stays in
    # the collector's sight)
    assert cached(repo, tmp_path / "empty") == expected
    assert during and max(during) == 0
    during.clear()
    assert cached(repo, cache) == expected
    assert during and during[0] > 0  # the facts read from the cache: frozen
    assert gc.get_freeze_count() == 0  # and back in sight when the scan ends
    # something else keeps objects frozen: the scan freezes and unfreezes nothing
    with (repo / CLIENTS).open("a") as handle:
        handle.write('\n\ndef again(requests):\n    return requests.get("http://orders:8000/y")\n')
    expected = uncached(repo)
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        during.clear()
        assert cached(repo, cache) == expected
        # (frozen objects freed meanwhile leave the permanent generation)
        assert during and max(during) <= before
        assert 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()


def test_the_stored_result_is_the_text_json_gives_its_encoding(repo: Path, tmp_path: Path) -> None:
    from decouple_services.app.cache import code_version, encode_model

    cache = tmp_path / "cache"
    result = scan(repo, ScanOptions(cache_dir=cache, jobs=1))
    (stored,) = cache.glob("result-*.json")
    data = json.loads(stored.read_bytes())
    document = {
        "format": decouple_services.app.cache.FORMAT,
        "version": code_version(),
        "root": str(repo),
        "id": data["id"],
        "value": encode_model(result),
    }
    assert stored.read_bytes() == json.dumps(document, separators=(",", ":")).encode()


_model_texts = st.text(alphabet=st.characters(codec=None), max_size=8) | st.sampled_from(
    ["", "%s", "%", '"q"\\', "\ud800", "é\u2028"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.builds(
        model.CallSite,
        id=_model_texts,
        caller=_model_texts,
        file=_model_texts,
        line=st.integers(),
        end_line=st.integers(),
        function=_model_texts,
        client=_model_texts,
        method=st.none() | _model_texts,
        url=_model_texts,
        url_template=st.none() | _model_texts,
        callee=_model_texts,
        endpoint=st.none() | _model_texts,
        evidence=st.lists(_model_texts, max_size=3).map(tuple),
        suppressed=st.lists(_model_texts, max_size=2),
    ),
    st.lists(
        st.builds(
            model.Diagnostic,
            file=_model_texts,
            line=st.integers(),
            severity=st.sampled_from(model.Severity),
            code=_model_texts,
            message=_model_texts,
        ),
        max_size=2,
    ),
    st.none() | st.floats(allow_nan=False) | st.integers() | _model_texts,
)
def test_a_records_text_is_json_of_its_encoding(
    site: model.CallSite, diagnostics: list[model.Diagnostic], plain: object
) -> None:
    from decouple_services.app.cache import encode_model, model_json

    result = model.ScanResult(
        root="r", call_sites=(site,), diagnostics=tuple(diagnostics), extra={"x": plain}
    )
    for value in (result, site, [site, plain], (plain,), model.Role.CALL):
        assert model_json(value) == json.dumps(encode_model(value), separators=(",", ":"))
