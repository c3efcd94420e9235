"""Keep credentials out of scan output.

Resolved urls are built from deployment files (``.env``, compose, Helm values), which
routinely hold secrets: webhook tokens in paths, passwords in ``user:pass@host``, api keys in
query strings. The host, port and the path's shape are what a reader needs; the credentials
are replaced by ``***`` before a url leaves the resolver.
"""

from __future__ import annotations

import re

from decouple_services.core.lazy import lazy_pattern

MASK = "***"

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@{}]*@)")
_SECRET_PARAM = lazy_pattern(
    r"(?i)^(?:.*[_-])?(?:token|key|secret|password|passwd|pwd|sig|signature|auth|"
    r"credentials?|apikey)$"
)
#: A path segment long and mixed enough to be a token rather than a word or a number.
_MIN_TOKEN_LENGTH = 20


def _looks_like_token(segment: str) -> bool:
    if len(segment) < _MIN_TOKEN_LENGTH or "{" in segment:
        return False
    classes = (
        any(c.islower() for c in segment),
        any(c.isupper() for c in segment),
        any(c.isdigit() for c in segment),
    )
    return sum(classes) >= 2 and not re.fullmatch(r"[a-z]+(?:[-_][a-z]+)*", segment)


def redact_url(url: str) -> str:
    """``url`` with passwords, token-like path segments and secret query values masked."""
    text = _USERINFO.sub(lambda m: m["scheme"] + MASK + "@", url, count=1)
    base, hash_mark, fragment = text.partition("#")
    base, question, query = base.partition("?")
    head, sep, path = base.partition("://")
    if sep:
        host, slash, path = path.partition("/")
        head = f"{head}://{host}{slash}"
    segments = [MASK if _looks_like_token(s) else s for s in path.split("/")]
    out = head + "/".join(segments)
    if question:
        pairs = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            masked = eq and value and _SECRET_PARAM().match(name) and "{" not in value
            pairs.append(f"{name}={MASK}" if masked else pair)
        out += "?" + "&".join(pairs)
    return out + hash_mark + fragment
