"""Run ``decouple`` on a hostile tree in a child process with hard limits, and judge it.

Every case runs in its own temporary folder (the *sandbox*): ``repo/`` is what decouple
is pointed at, ``outside/`` stands for everything that is not the repository (links point
there), ``home/`` and ``tmp/`` replace the user's own. The child gets an address-space
limit (``RLIMIT_AS``) and a wall-clock limit, so a case that regresses fails quickly
instead of taking the machine down; its peak resident memory is read from ``wait4``.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: What a case may use at most.
WALL_SECONDS = 10.0
MEMORY_MIB = 512
#: The child's address space: above the resident limit (an interpreter maps more than it
#: touches) but low enough that runaway work dies with MemoryError instead of swapping.
ADDRESS_SPACE_MIB = 2048


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: killed at the wall-clock limit
    stdout: bytes
    stderr: str
    wall: float
    max_rss_mib: float

    @property
    def hung(self) -> bool:
        return self.status is None

    def describe(self) -> str:
        return (
            f"status={self.status} wall={self.wall:.1f}s rss={self.max_rss_mib:.0f}MiB\n"
            f"stderr:\n{self.stderr[-3000:]}"
        )


def _limit_child() -> None:
    limit = ADDRESS_SPACE_MIB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass
class Sandbox:
    base: Path
    repo: Path = field(init=False)
    outside: Path = field(init=False)
    _before: dict[str, tuple[int, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.repo = self.base / "repo"
        self.outside = self.base / "outside"
        for folder in (self.repo, self.outside, self.base / "home", self.base / "tmp"):
            folder.mkdir()
        (self.outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.base / "home" / ".gitconfig").write_text(
            "[user]\n\tname = Hostile\n\temail = hostile@example.invalid\n"
        )
        self.snapshot()

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.repo), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def git_init(self) -> None:
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "start")

    def env(self) -> dict[str, str]:
        home = str(self.base / "home")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GIT_", "DECOUPLE_", "XDG_"))
        }
        env.update(
            HOME=home,
            TMPDIR=str(self.base / "tmp"),
            XDG_CACHE_HOME=str(self.base / "home" / ".cache"),
            XDG_CONFIG_HOME=str(self.base / "home" / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            PYTHONDONTWRITEBYTECODE="1",
            MALLOC_ARENA_MAX="2",
            COLUMNS="120",
        )
        return env

    def snapshot(self) -> None:
        """Remember the state of ``outside/`` to compare after the run."""
        self._before = _tree(self.outside)

    def run(
        self,
        *args: str,
        timeout: float = WALL_SECONDS,
        cwd: Path | None = None,
        prelude: str = "",
    ) -> Outcome:
        """Run ``decouple ARGS``; ``prelude`` is Python run first in the same process (a
        test's way to plant a fault)."""
        out_path = self.base / "tmp" / "stdout"
        err_path = self.base / "tmp" / "stderr"
        start = time.monotonic()
        specials = _specials(self.base)
        stdin_path = self.base / "tmp" / "stdin"
        stdin_path.write_bytes(b"")
        # stdin is an empty file of the sandbox: the suite never opens the real /dev/null
        # w+b, read back through the same handles: what the child wrote to its stdout and
        # stderr, even if something renamed another file over these paths meanwhile.
        with (
            stdin_path.open("rb") as stdin,
            out_path.open("w+b") as out,
            err_path.open("w+b") as err,
        ):
            command = [sys.executable, "-m", "decouple_services", *args]
            if prelude:
                entry = "import sys\nfrom decouple_services.cli.entry import main\n"
                entry += "sys.exit(main(sys.argv[1:]))\n"
                command = [sys.executable, "-c", prelude + entry, *args]
            child = subprocess.Popen(
                command,
                cwd=cwd or self.repo,
                env=self.env(),
                stdin=stdin,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_limit_child,
            )
            status: int | None = None
            rss_kib = 0
            # wait4 rather than Popen.wait: it reports the child's peak resident size.
            while True:
                pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    status = os.waitstatus_to_exitcode(wait_status)
                    rss_kib = usage.ru_maxrss
                    child.returncode = status
                    break
                if time.monotonic() - start > timeout:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    break
                time.sleep(0.02)
            wall = time.monotonic() - start
            out.seek(0)
            err.seek(0)
            outcome = Outcome(
                status, out.read(), err.read().decode("utf-8", "replace"), wall, rss_kib / 1024
            )
        out_path.unlink(missing_ok=True)
        err_path.unlink(missing_ok=True)
        # Every FIFO and device the case made is still one: none was renamed over or removed.
        assert _specials(self.base) == specials, outcome.describe()
        return outcome

    def assert_outside_untouched(self) -> None:
        assert _tree(self.outside) == self._before, "something outside the repository changed"


def _specials(folder: Path) -> dict[str, int]:
    """Path -> file type of every FIFO, device and socket under ``folder``."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            kind = stat.S_IFMT(os.lstat(path).st_mode)
            if kind in (stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK):
                found[path] = kind
    return found


def _tree(folder: Path) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            found[os.path.relpath(path, folder)] = (st.st_mode, digest)
    return found


def assert_within_limits(outcome: Outcome) -> None:
    assert not outcome.hung, f"no answer within {WALL_SECONDS:.0f} s\n{outcome.describe()}"
    assert outcome.wall < WALL_SECONDS, outcome.describe()
    assert outcome.max_rss_mib < MEMORY_MIB, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()


def assert_fails_with_one_line(outcome: Outcome, status: int, *needles: str) -> None:
    """An error exit: the given status and exactly one line on stderr naming the problem."""
    assert_within_limits(outcome)
    assert outcome.status == status, outcome.describe()
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.describe()
    for needle in needles:
        assert needle in lines[0], outcome.describe()


def assert_ok(outcome: Outcome) -> None:
    assert_within_limits(outcome)
    assert outcome.status == 0, outcome.describe()


def is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)
