"""How a command talks to the person running it: colour, progress, how much it says.

The face decides once per run (``decouple_services.cli.console``: the streams, ``NO_COLOR``,
``FORCE_COLOR``, ``TERM`` and ``-q``/``-v``) and hands a :class:`Terminal` to the command;
the commands only ask it. A library caller that passes none gets plain output: no colour,
no progress animation, the normal messages.

Only the standard library here: the face imports this to parse arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import IO

from decouple_services.core.records import record

#: ``progress(done, total)``, called while files are read.
Progress = Callable[[int, int], None]


class Verbosity(IntEnum):
    #: ``-q``: errors, warnings and gate failures only.
    QUIET = -1
    NORMAL = 0
    #: ``-v``: also what each phase did and how long it took.
    VERBOSE = 1


@record(slots=False)
class Terminal:
    #: ANSI colours in what goes to stdout (tables, the diff).
    color_stdout: bool = False
    #: ANSI colours in what goes to stderr (the progress bar).
    color_stderr: bool = False
    #: An animated progress bar on stderr (it moves the cursor).
    progress: bool = False
    verbosity: Verbosity = Verbosity.NORMAL

    @property
    def quiet(self) -> bool:
        return self.verbosity <= Verbosity.QUIET

    @property
    def verbose(self) -> bool:
        return self.verbosity >= Verbosity.VERBOSE

    def info(self, message: str, *, file: IO[str] | None = None) -> None:
        """An informational stderr line (what was written, what a filter hid); not with -q."""
        if not self.quiet:
            print(message, file=file or sys.stderr)

    def detail(self, message: str, *, file: IO[str] | None = None) -> None:
        """A line only ``-v`` shows."""
        if self.verbose:
            print(f"decouple: {message}", file=file or sys.stderr)

    @contextmanager
    def phase(self, name: str, *, file: IO[str] | None = None) -> Iterator[None]:
        """With ``-v``, say how long ``name`` took once it is done."""
        started = time.perf_counter()
        yield
        self.detail(f"{name}: {time.perf_counter() - started:.2f} s", file=file)

    @contextmanager
    def progress_bar(self, label: str = "scanning") -> Iterator[Progress | None]:
        """A progress callback for a scan drawing a bar on stderr, or ``None`` when the
        terminal should not animate (not a terminal, ``TERM=dumb``, ``-q``)."""
        if not self.progress or self.quiet:
            yield None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        console = Console(
            file=sys.stderr,
            color_system="standard" if self.color_stderr else None,
            no_color=not self.color_stderr,
            force_terminal=True,
        )
        bar = Bar(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        bar.start()
        try:
            yield update
        finally:
            bar.stop()
