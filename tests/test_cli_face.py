"""The command line's manners: colour conventions, -q/-v, shell completion, ``python -m``.

Colour is checked where people see it: through typer's runner (stdout not a terminal) and
through a pseudo-terminal, for the scan table, the hotspots table, migrate's diff and the
progress bar.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decouple_services.app.terminal import Terminal, Verbosity
from decouple_services.cli import app
from decouple_services.cli.console import terminal, wants_colour

SAMPLE = Path(__file__).parent / "fixtures" / "sample"
#: Orders' receipt email: a fire-and-forget call `migrate --select` takes.
EASY_SITE = "cs-9e36f82f"
#: The frontend's read of a user: refused (`response-used`).
REFUSED_SITE = "cs-dffb77b3"
#: Any SGR colour or style sequence, or a cursor/erase control.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: What an animated progress bar writes and a plain log must not hold: cursor hidden or
#: moved up, line erased.
CURSOR = re.compile(r"\x1b\[(\?25[lh]|\d*A|2K)")
#: Environment variables that change colour decisions, cleared for every run here.
COLOUR_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "TERM", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _env(**values: str) -> dict[str, str | None]:
    """The runner's environment: every colour variable unset unless given."""
    env: dict[str, str | None] = dict.fromkeys(COLOUR_VARIABLES)
    env.update(values)
    return env


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample in a folder of its own, for migrate to rewrite."""
    root = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".decouple-cache", "__pycache__"))
    return root


def _run(args: list[str], **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=_env(**env), prog_name="decouple")
    return result.exit_code, result.stdout, result.stderr


# -- the decision ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tty", "environ", "colour"),
    [
        pytest.param(True, {}, True, id="terminal"),
        pytest.param(False, {}, False, id="pipe"),
        pytest.param(True, {"NO_COLOR": "1"}, False, id="NO_COLOR"),
        pytest.param(True, {"NO_COLOR": ""}, True, id="empty NO_COLOR is unset"),
        pytest.param(False, {"FORCE_COLOR": "1"}, True, id="FORCE_COLOR on a pipe"),
        pytest.param(False, {"FORCE_COLOR": ""}, False, id="empty FORCE_COLOR is unset"),
        pytest.param(False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, id="NO_COLOR wins"),
        pytest.param(True, {"TERM": "dumb"}, False, id="TERM=dumb"),
        pytest.param(True, {"TERM": "dumb", "FORCE_COLOR": "1"}, True, id="FORCE_COLOR on dumb"),
    ],
)
def test_colour_follows_the_conventions(
    tty: bool, environ: Mapping[str, str], colour: bool
) -> None:
    assert wants_colour(_Stream(tty), environ) is colour


@pytest.mark.parametrize(
    ("environ", "verbosity", "animated"),
    [
        ({}, Verbosity.NORMAL, True),
        ({"TERM": "dumb"}, Verbosity.NORMAL, False),
        ({"FORCE_COLOR": "1", "TERM": "dumb"}, Verbosity.NORMAL, False),
        ({"NO_COLOR": "1"}, Verbosity.NORMAL, True),
        ({}, Verbosity.QUIET, False),
    ],
)
def test_the_progress_bar_needs_a_terminal_that_can_move_its_cursor(
    environ: Mapping[str, str], verbosity: Verbosity, animated: bool
) -> None:
    chosen = terminal(verbosity, environ=environ, stdout=_Stream(True), stderr=_Stream(True))
    assert chosen.progress is animated
    assert not terminal(environ={}, stdout=_Stream(True), stderr=_Stream(False)).progress


# -- colour in every output ----------------------------------------------------------------


def _scan(cache: Path, *extra: str, **env: str) -> tuple[int, str, str]:
    return _run(["scan", str(SAMPLE), "--cache-dir", str(cache), *extra], **env)


def _hotspots(cache: Path, **env: str) -> tuple[int, str, str]:
    args = ["hotspots", str(SAMPLE), "--cache-dir", str(cache), "--no-history", "--top", "3"]
    return _run(args, **env)


def _migrate(root: Path, cache: Path, *extra: str, **env: str) -> tuple[int, str, str]:
    args = ["migrate", str(root), "--select", EASY_SITE, "--cache-dir", str(cache), *extra]
    return _run(args, **env)


@pytest.mark.parametrize("output", ["scan", "hotspots", "migrate"])
def test_force_color_colours_output_that_is_not_a_terminal(
    output: str, cache: Path, shop: Path
) -> None:
    plain = {"scan": _scan, "hotspots": _hotspots}.get(output)
    if plain is not None:
        status, text, _ = plain(cache, FORCE_COLOR="1")
        assert status == 0 and ANSI.search(text)
        status, text, _ = plain(cache)
        assert status == 0 and not ANSI.search(text)
    else:
        status, diff, summary = _migrate(shop, cache, FORCE_COLOR="1")
        assert status == 0 and "\x1b[32m+" in diff
        assert not ANSI.search(summary)
        status, diff, _ = _migrate(shop, cache)
        assert status == 0 and diff.startswith("diff --git") and not ANSI.search(diff)


@pytest.mark.parametrize("variable", [{"NO_COLOR": "1"}, {"NO_COLOR": "1", "FORCE_COLOR": "1"}])
def test_no_color_wins_everywhere(variable: dict[str, str], cache: Path, shop: Path) -> None:
    for status, text, err in (
        _scan(cache, **variable),
        _hotspots(cache, **variable),
        _migrate(shop, cache, **variable),
    ):
        assert status == 0
        assert text and not ANSI.search(text) and not ANSI.search(err)


def _on_a_terminal(args: list[str], **env: str) -> tuple[int, str, str]:
    """Run decouple with stdout and stderr each on a pseudo-terminal of its own."""
    environ = {k: v for k, v in os.environ.items() if k not in COLOUR_VARIABLES}
    environ.update({"TERM": "xterm-256color", **env})
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "decouple_services", *args],
        stdin=subprocess.DEVNULL,
        stdout=out_slave,
        stderr=err_slave,
        env=environ,
    )
    os.close(out_slave)
    os.close(err_slave)
    chunks: dict[int, list[bytes]] = {out_master: [], err_master: []}
    open_fds = set(chunks)
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError("decouple did not finish on the pseudo-terminal")
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the other end is closed
                data = b""
            if data:
                chunks[fd].append(data)
            else:
                open_fds.discard(fd)
    status = process.wait(timeout=60)
    os.close(out_master)
    os.close(err_master)
    out = b"".join(chunks[out_master]).decode("utf-8", "replace")
    err = b"".join(chunks[err_master]).decode("utf-8", "replace")
    return status, out, err


def test_on_a_terminal_the_table_is_coloured_and_the_progress_bar_drawn(tmp_path: Path) -> None:
    status, out, err = _on_a_terminal(["scan", str(SAMPLE), "--cache-dir", str(tmp_path)])
    assert status == 0
    assert ANSI.search(out)
    assert CURSOR.search(err)


@pytest.mark.parametrize(
    "env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "TERM=dumb"]
)
def test_on_a_terminal_no_color_and_a_dumb_terminal_get_no_colour(
    env: dict[str, str], tmp_path: Path
) -> None:
    status, out, err = _on_a_terminal(["scan", str(SAMPLE), "--cache-dir", str(tmp_path)], **env)
    assert status == 0
    assert "Call sites" in out and not re.search(r"\x1b\[[0-9;]*m", out)
    if env.get("TERM") == "dumb":
        assert not ANSI.search(err), "no cursor movement on a dumb terminal"


def test_on_a_dumb_terminal_migrate_shows_a_plain_diff(shop: Path, tmp_path: Path) -> None:
    args = ["migrate", str(shop), "--select", EASY_SITE, "--cache-dir", str(tmp_path)]
    status, out, err = _on_a_terminal(args, TERM="dumb")
    assert status == 0 and "diff --git" in out
    assert not ANSI.search(out) and not ANSI.search(err)
    status, out, _ = _on_a_terminal(args)
    assert status == 0 and "\x1b[32m+" in out


def test_quiet_draws_no_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    status, _, err = _on_a_terminal(["-q", "scan", str(SAMPLE), "--cache-dir", str(tmp_path)])
    assert status == 0 and err == ""


# -- -q and -v -----------------------------------------------------------------------------


def test_verbose_tells_each_phase_and_its_time(tmp_path: Path) -> None:
    status, _, err = _scan(tmp_path, "--no-cache", "-v")
    assert status == 0
    assert re.search(r"^decouple: +[\d.]+ s +listed \d+ Python files$", err, re.M)
    assert re.search(r"^decouple: +[\d.]+ s +read \d+ files, parsed \d+$", err, re.M)
    assert re.search(r"^decouple: scan: [\d.]+ s$", err, re.M)
    assert re.search(r"^decouple: \d+ Python files, 9 services, .* call sites", err, re.M)
    assert _scan(tmp_path, "--no-cache")[2] == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_and_verbose_go_before_or_after_the_command(where: str, cache: Path) -> None:
    args = ["graph", str(SAMPLE), "--cache-dir", str(cache), "--min-calls", "3", "--no-history"]
    flag = ["-v"]
    status, _, err = _run([*flag, *args] if where == "before" else [*args, *flag])
    assert status == 0 and "decouple: scan: " in err and "decouple: not shown: " in err
    flag = ["--quiet"]
    status, dot, err = _run([*flag, *args] if where == "before" else [*args, *flag])
    assert status == 0 and dot.startswith("digraph") and err == ""


def test_quiet_still_prints_errors_and_warnings(cache: Path) -> None:
    status, _, err = _run(["-q", "scan", "/nonexistent/repo"])
    assert status == 2 and "decouple: error: /nonexistent/repo: no such file" in err
    status, _, err = _scan(cache, "-q", "--callee", "nobody")
    assert status == 0 and "decouple: warning: --callee nobody matches no call site" in err


def test_quiet_and_verbose_together_are_a_usage_error(cache: Path) -> None:
    status, _, err = _run(["-q", "scan", str(SAMPLE), "-v"])
    assert status == 2 and "not both" in err


def test_quiet_migrate_drops_the_summary_but_names_a_refused_site(shop: Path, cache: Path) -> None:
    status, diff, err = _migrate(shop, cache, "-q")
    assert status == 0 and diff.startswith("diff --git") and err == ""
    status, _, err = _run(
        ["-q", "migrate", str(shop), "--select", "cs-00000000", "--cache-dir", str(cache)]
    )
    assert status == 1
    assert err == "decouple: refused cs-00000000 (run without -q for the reason)\n"


def test_no_pr_body_is_written_when_every_selected_site_is_refused(
    shop: Path, cache: Path, tmp_path: Path
) -> None:
    body = tmp_path / "pr.md"
    refused = ["migrate", str(shop), "--select", REFUSED_SITE, "--cache-dir", str(cache)]
    status, _, err = _run([*refused, "--pr-body", str(body)])
    assert status == 1
    assert not body.exists()
    assert f"decouple: no call site migrates: no PR body written to {body}" in err
    status, _, _ = _migrate(shop, cache, "--pr-body", str(body))
    assert status == 0 and body.read_text().startswith("#")


def test_library_callers_get_plain_output_whatever_the_environment(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the face reads the colour variables; a program calling the app layer decides."""
    from decouple_services.app.scan import ScanCommand, run_scan_command

    monkeypatch.setenv("FORCE_COLOR", "1")
    command = ScanCommand(path=SAMPLE, cache_dir=cache)
    assert run_scan_command(command) == 0
    plain = capsys.readouterr().out
    assert "Call sites" in plain and not ANSI.search(plain)
    assert run_scan_command(command, terminal=Terminal(color_stdout=True)) == 0
    assert ANSI.search(capsys.readouterr().out)


# -- shell completion and python -m ----------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _decouple_completion decouple"),
        ("zsh", "compdef _decouple_completion decouple"),
        ("fish", "complete --command decouple"),
    ],
)
def test_completion_prints_each_shells_script(shell: str, marker: str) -> None:
    status, script, _ = _run(["completion", shell])
    assert status == 0
    assert marker in script and f"_DECOUPLE_COMPLETE=complete_{shell}" in script


def test_the_completion_scripts_variable_makes_decouple_answer_with_candidates() -> None:
    """What the bash script runs on <TAB> gets the commands back, through `python -m`."""
    env = {
        **os.environ,
        "_DECOUPLE_COMPLETE": "complete_bash",
        "COMP_WORDS": "decouple hot",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "decouple_services"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.split() == ["hotspots"]


def test_install_and_show_completion_are_offered() -> None:
    status, text, _ = _run(["--help"])
    assert status == 0 and "--install-completion" in text and "--show-completion" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_what_show_completion_prints_for_that_shell(shell: str) -> None:
    """`completion SHELL` borrows typer's script text; it must stay what typer's own
    --show-completion gives (typer takes the shell as a value when detection is off)."""
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run(
        [sys.executable, "-m", "decouple_services", "--show-completion", shell],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == _run(["completion", shell])[1]


def test_python_dash_m_is_the_decouple_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "decouple_services", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.startswith("decouple ")
