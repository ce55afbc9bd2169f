"""The Origin check of publishable widget keys: exact match, plus an opt-in localhost flag."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def normalise_origin(text: str) -> str:
    """``scheme://host[:port]`` in lower case; ValueError for anything else (paths, wildcards)."""
    value = text.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin like https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r} must be an origin only (scheme, host and port)")
    if "*" in value:
        raise ValueError(f"{text!r}: wildcards are not allowed; list each origin")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{text!r} has an invalid port") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def origin_allowed(
    origin: str | None, allowed: Collection[str], *, allow_localhost: bool = False
) -> bool:
    if not origin:
        return False
    if origin in allowed:
        return True
    if allow_localhost:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and (parts.hostname or "") in _LOCAL_HOSTS
    return False
