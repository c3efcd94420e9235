"""Port numbers from compose port specs and from server command lines."""

from __future__ import annotations

import re

#: Ranges wider than this (``30000-32767``) say nothing about which service listens where.
_MAX_RANGE = 64

_COMMAND_PORT = re.compile(
    r"""
    (?<![\w-])(?:--port|--http-port|-p)(?:=|\s+)["']?(?P<port>\d{2,5})\b     # uvicorn/flask/hypercorn
    | (?<![\w-])(?:--bind|-b|--listen)(?:=|\s+)["']?[\w.\-\[\]:]*?:(?P<bind>\d{2,5})\b  # gunicorn host:port
    | \brunserver\s+(?:[\w.\-\[\]:]*?:)?(?P<django>\d{2,5})\b       # django runserver [host:]port
    """,
    re.VERBOSE,
)


def parse_port_spec(spec: str) -> list[int]:
    """Ports named by a compose short port spec, host side and container side.

    ``"8001:8000"`` gives ``[8001, 8000]``; ``"127.0.0.1:8001:8000/tcp"`` the same;
    ``"9000-9001"`` both ports. Anything unreadable gives no ports.
    """
    text = spec.strip().split("/", 1)[0]
    if text.startswith("["):
        # IPv6 host address: ``[::1]:8001:8000``.
        text = text.partition("]")[2].lstrip(":")
    parts = text.split(":")
    if len(parts) == 3:
        parts = parts[1:]
    ports: list[int] = []
    for part in parts:
        ports.extend(_port_range(part))
    return ports


def _port_range(text: str) -> list[int]:
    text = text.strip()
    if not text:
        return []
    low, dash, high = text.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        return []
    start = int(low)
    end = int(high) if dash else start
    if end < start or end - start >= _MAX_RANGE:
        return []
    return [p for p in range(start, end + 1) if 0 < p < 65536]


def ports_in_command(command: str) -> list[int]:
    """Ports a server command line listens on: ``--port N``, ``-p N``, ``--bind h:N``, ``runserver h:N``."""
    ports: list[int] = []
    for match in _COMMAND_PORT.finditer(command):
        value = match.group("port") or match.group("bind") or match.group("django")
        port = int(value)
        if 0 < port < 65536 and port not in ports:
            ports.append(port)
    return ports
