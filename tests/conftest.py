"""Options and fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

# Fixtures are scanned, never run: the sample repositories hold their own test files,
# which import packages (requests, their own services) that the suite does not install.
collect_ignore = ["fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing (review the diff)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to regenerate golden files."""
    return bool(request.config.getoption("--update-goldens"))
