"""User-facing errors.

DecoupleError                 anything the user can fix; the CLI prints it and exits 2
├── PathError                 a path that does not exist or is not a directory
├── ConfigError               one or more problems in pyproject.toml / decouple.toml
└── SelectionError            an id, edge or service name that matches nothing
"""

from __future__ import annotations


class DecoupleError(Exception):
    """Base of every error caused by the user's input rather than by decouple itself."""


class PathError(DecoupleError):
    pass


class ConfigError(DecoupleError):
    def __init__(self, problems: list[str], file: str | None = None) -> None:
        self.problems = problems
        #: The repository's configuration file at fault (``decouple.toml``), when known.
        self.file = file
        # One line, however many problems: a message per line would read as several errors.
        super().__init__("invalid configuration: " + "; ".join(problems))


class SelectionError(DecoupleError):
    pass
