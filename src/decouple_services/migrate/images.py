"""Which Python a service's image runs, from its Dockerfile.

Generated producers, consumers and the runtime need Python 3.9 (``str.removesuffix``,
builtin generics at run time). An image whose final stage runs an older Python
(``FROM python:3.6-slim``, or ``FROM alpine:3.9`` with ``apk add python3``, which is 3.6)
would fail on the generated code's first import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from decouple_services.discover.markers import dockerfile_instructions

#: The oldest Python generated code runs on.
MINIMUM_PYTHON = (3, 9)

#: ``python3`` of a distribution's release, for images that install it with the package
#: manager (``apk add python3``, ``apt-get install python3``).
_DISTRIBUTION_PYTHON: dict[str, dict[str, tuple[int, int]]] = {
    "alpine": {
        "3.7": (3, 6),
        "3.8": (3, 6),
        "3.9": (3, 6),
        "3.10": (3, 7),
        "3.11": (3, 8),
        "3.12": (3, 8),
        "3.13": (3, 8),
        "3.14": (3, 8),
        "3.15": (3, 9),
    },
    "ubuntu": {
        "16.04": (3, 5),
        "xenial": (3, 5),
        "18.04": (3, 6),
        "bionic": (3, 6),
        "20.04": (3, 8),
        "focal": (3, 8),
    },
    "debian": {"stretch": (3, 5), "9": (3, 5), "buster": (3, 7), "10": (3, 7)},
}

_PYTHON_TAG = re.compile(r"^(\d+)\.(\d+)")
_INSTALLS_PYTHON = re.compile(r"\b(?:apk|apt-get|apt|yum|dnf)\b.*\bpython3?\b")


@dataclass(frozen=True, slots=True)
class ImagePython:
    """The Python an image's final stage runs, and the ``FROM`` that decides it."""

    version: tuple[int, int]
    dockerfile: str
    line: int
    base: str

    @property
    def where(self) -> str:
        return f"{self.dockerfile}:{self.line}"

    @property
    def shown(self) -> str:
        return ".".join(map(str, self.version))


def image_python(text: str, dockerfile: str) -> ImagePython | None:
    """The Python the final stage of ``text`` runs, where its base image tells it: a
    ``python:X.Y`` tag, or a distribution release whose ``python3`` a ``RUN`` of the stage
    (or of a stage it is built from) installs. ``None`` when it cannot be told."""
    stages: dict[str, ImagePython | tuple[str, int, str]] = {}
    current: ImagePython | tuple[str, int, str] | None = None
    name: str | None = None
    for line, instruction in dockerfile_instructions(text):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            if name is not None and current is not None:
                stages[name] = current
            words = [w for w in rest.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            current = stages.get(base.lower()) or _from_base(base, line, dockerfile)
        elif keyword == "RUN" and isinstance(current, tuple) and _INSTALLS_PYTHON.search(rest):
            distribution, at, base = current
            current = ImagePython(
                _DISTRIBUTION_PYTHON[distribution][_tag(base)], dockerfile, at, base
            )
    return current if isinstance(current, ImagePython) else None


def _tag(image: str) -> str:
    return image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""


def _from_base(base: str, line: int, dockerfile: str) -> ImagePython | tuple[str, int, str] | None:
    """A ``python:X.Y`` base's version, or ``(distribution, line, base)`` for a release
    whose ``python3`` is known, pending a ``RUN`` that installs it."""
    repository = base.rpartition(":")[0] if ":" in base.rpartition("/")[2] else base
    image = repository.rpartition("/")[2].lower()
    tag = _tag(base)
    if image in ("python", "pypy"):
        found = _PYTHON_TAG.match(tag)
        if found and image == "python":
            return ImagePython((int(found.group(1)), int(found.group(2))), dockerfile, line, base)
        return None
    if tag in _DISTRIBUTION_PYTHON.get(image, {}):
        return image, line, base
    return None
