"""Server-side extraction: the routes each service serves, read per file.

Each module reads one framework and documents itself with ``EXAMPLES`` (code and the routes,
mounts or gRPC methods it must give) and ``COUNTER_EXAMPLES`` (look-alikes that must give
nothing). :data:`SERVER_EXTRACTORS` lists them for :class:`~decouple_services.detect.extract.
ExtractOptions`; resolution (``decouple_services.resolve.endpoints``) joins what they record across
files into endpoints.
"""

from __future__ import annotations

from decouple_services.core.needles import present
from decouple_services.detect.servers import (
    aiohttp_web,
    django,
    fastapi,
    flask,
    flask_restx,
    grpc_generated,
    grpc_servicer,
    starlette,
)
from decouple_services.detect.servers._common import Extracted, ServerExtractor

#: Built-in route extractors, in a fixed order.
SERVER_EXTRACTORS: tuple[ServerExtractor, ...] = (
    flask.extract,
    flask_restx.extract,
    fastapi.extract,
    starlette.extract,
    aiohttp_web.extract,
    django.extract,
    grpc_servicer.extract,
    grpc_generated.extract,
)

#: A file containing none of these strings has no routes any extractor reads, so it need not
#: be offered to them. Besides framework names, they cover modules that only import an app,
#: blueprint or router created elsewhere (``@bp.route(...)``, ``@api.get("/users")``).
FRAMEWORK_TOKENS: tuple[str, ...] = (
    "flask",
    "fastapi",
    "django",
    "rest_framework",
    "aiohttp",
    "starlette",
    "grpc",
    "Servicer",
    "urlpatterns",
    "APIRouter",
    "Blueprint",
    "router",
    "routes",
    ".route(",
    "url_rule",
    '("/',
    "('/",
    '(f"/',
)


_FRAMEWORK_BYTES = tuple(sorted({token.encode() for token in FRAMEWORK_TOKENS}))


def may_serve(source: bytes) -> bool:
    """Whether any extractor could find something in ``source`` (a cheap substring test:
    one scan for all the tokens)."""
    return bool(present(_FRAMEWORK_BYTES, source))


__all__ = ["FRAMEWORK_TOKENS", "SERVER_EXTRACTORS", "Extracted", "ServerExtractor", "may_serve"]
