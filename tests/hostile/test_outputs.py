"""Outputs: written where asked, in place for devices and pipes, never replacing them."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from .harness import Sandbox, assert_ok, is_char_device, is_fifo

#: Callees a generated consumer can hand events to: an application serving the route.
BILLING = 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.post("/charge")\ndef handle():\n    return ""\n'
CALLER = 'import requests\n\ndef f():\n    requests.post("http://billing:8000/charge", timeout=2)\n'


def _repo(sandbox: Sandbox) -> None:
    sandbox.write("orders/app.py", CALLER)
    sandbox.write("billing/app.py", BILLING)
    sandbox.write(
        "docker-compose.yml",
        "services:\n  orders:\n    build: ./orders\n  billing:\n    build: ./billing\n",
    )


def _drain(path: Path, sink: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as handle:
            sink.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


OUTPUTS = [
    ("scan", "--format", "json", "--output"),
    ("graph", "--dot"),
    ("graph", "--mermaid"),
    ("graph", "--json"),
    ("graph", "--svg"),
    ("graph", "--html"),
    ("migrate", "--edge", "orders:billing", "--patch"),
    ("migrate", "--edge", "orders:billing", "--pr-body"),
]


@pytest.mark.parametrize("option", OUTPUTS, ids=lambda o: " ".join(o))
def test_an_output_into_a_fifo_is_written_through_it(
    sandbox: Sandbox, option: tuple[str, ...]
) -> None:
    _repo(sandbox)
    fifo = sandbox.base / "out.fifo"
    os.mkfifo(fifo)
    sink: list[bytes] = []
    reader = _drain(fifo, sink)
    outcome = sandbox.run(option[0], str(sandbox.repo), *option[1:], str(fifo), "--no-cache")
    reader.join(timeout=5)
    if reader.is_alive():  # the writer never opened the pipe: release the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert_ok(outcome)
    assert is_fifo(fifo)
    assert sink and sink[0], "nothing came through the pipe"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_an_output_onto_a_character_device_keeps_the_device(sandbox: Sandbox) -> None:
    _repo(sandbox)
    null = sandbox.base / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    outcome = sandbox.run("scan", str(sandbox.repo), "--format", "json", "--output", str(null))
    assert_ok(outcome)
    assert is_char_device(null)


def test_dash_means_stdout(sandbox: Sandbox) -> None:
    _repo(sandbox)
    outcome = sandbox.run("scan", str(sandbox.repo), "--format", "json", "--output", "-")
    assert_ok(outcome)
    assert b'"schema_version"' in outcome.stdout
    assert not (sandbox.repo / "-").exists()


def test_a_new_output_follows_the_umask_and_an_existing_one_keeps_its_mode(
    sandbox: Sandbox,
) -> None:
    _repo(sandbox)
    new = sandbox.base / "new.json"
    assert_ok(sandbox.run("scan", str(sandbox.repo), "--format", "json", "-o", str(new)))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask
    kept = sandbox.base / "kept.json"
    kept.write_text("old")
    kept.chmod(0o640)
    assert_ok(sandbox.run("scan", str(sandbox.repo), "--format", "json", "-o", str(kept)))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert kept.read_text() != "old"


def test_a_symlinked_output_is_written_where_it_points_not_replaced(sandbox: Sandbox) -> None:
    _repo(sandbox)
    target = sandbox.base / "real.json"
    target.write_text("")
    link = sandbox.base / "link.json"
    link.symlink_to(target)
    outcome = sandbox.run("scan", str(sandbox.repo), "--format", "json", "-o", str(link))
    assert_ok(outcome)
    assert link.is_symlink()
    assert b"schema_version" in target.read_bytes()
    assert f"{link} is a symlink; wrote {target}" in outcome.stderr


def test_dev_stdout_redirected_to_a_file_is_written_in_place(sandbox: Sandbox) -> None:
    _repo(sandbox)
    outcome = sandbox.run("scan", str(sandbox.repo), "--format", "json", "-o", "/dev/stdout")
    assert_ok(outcome)
    assert b'"schema_version"' in outcome.stdout
