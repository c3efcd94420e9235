"""decouple: find synchronous inter-service calls, score the coupling, migrate calls to Kafka."""

from __future__ import annotations

__version__ = "0.1.0"
