"""The broker the end-to-end tests share: started once per session, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Broker, start_broker

_started_in: list[float] = []


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = start_broker(tmp_path_factory.mktemp("broker"))
    _started_in.append(running.started_in)
    try:
        yield running
    finally:
        running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _started_in:
        terminalreporter.write_line(
            f"e2e: the Tansu broker accepted connections after {_started_in[0]:.2f} s"
        )
