"""CORS for the routes a publishable key may use, answered from the keys' allowed origins only.

A widget on ``https://shop.example`` calls the session-token, chat (SSE) and feedback routes
with ``X-Parley-Key``, which makes the browser send a preflight first - without the key. So the
question a preflight can answer is "does a live publishable key for this bot (for feedback: any
bot) allow this Origin?"; the exact Origin is echoed, never ``*``, with ``Vary: Origin``. Any
other origin gets no ``Access-Control-Allow-*`` header at all, and the browser stops there (the
server still checks the key and its origins on the real request). No cookies are involved, so
credentials are never allowed. Answers are cached for a short while, bounded in size.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from uuid import UUID

from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from dashboard_api.origins import origin_allowed
from dashboard_api.repositories import api_keys
from dashboard_api.services import DASHBOARD, DashboardServices
from voice_server.runtime import DATABASE, Runtime, runtime_of

_log = logging.getLogger("parley.cors")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# The widget's routes: path pattern -> the methods a browser may use there.
WIDGET_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^/v1/bots/(?P<bot>{_UUID})/sessions$"), "POST"),
    (re.compile(rf"^/v1/bots/(?P<bot>{_UUID})/chat$"), "POST"),
    (re.compile(rf"^/v1/bots/(?P<bot>{_UUID})/public$"), "GET"),
    (re.compile(r"^/v1/feedback$"), "POST"),
)
ALLOWED_HEADERS = "Content-Type, X-Parley-Key, X-Request-Id, Last-Event-Id"
EXPOSED_HEADERS = "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
MAX_AGE_S = 600
_CACHE_TTL_S = 30.0
_CACHE_MAX = 10_000


def widget_route(path: str) -> tuple[UUID | None, str] | None:
    """(the bot id in the path or None, the route's method), or None for other routes."""
    for pattern, method in WIDGET_ROUTES:
        match = pattern.match(path)
        if match:
            bot = match.groupdict().get("bot")
            return (UUID(bot) if bot else None), method
    return None


class OriginCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._answers: dict[tuple[str, UUID | None], tuple[float, bool]] = {}

    def get(self, key: tuple[str, UUID | None]) -> bool | None:
        found = self._answers.get(key)
        if found is None or self._clock() - found[0] > _CACHE_TTL_S:
            return None
        return found[1]

    def put(self, key: tuple[str, UUID | None], allowed: bool) -> None:
        if len(self._answers) >= _CACHE_MAX:
            self._answers.clear()  # forget rather than grow
        self._answers[key] = (self._clock(), allowed)


async def origin_may_call(
    runtime: Runtime, origin: str, bot_id: UUID | None, cache: OriginCache
) -> bool:
    services: DashboardServices | None = runtime.find(DASHBOARD)
    database = runtime.find(DATABASE)
    if services is None or database is None:
        return False
    if origin_allowed(origin, (), allow_localhost=services.allow_localhost_origins):
        return True
    cached = cache.get((origin, bot_id))
    if cached is not None:
        return cached
    async with database.pool.acquire() as conn:
        allowed = await api_keys.origin_allowed_for_widgets(conn, origin, bot_id)
    cache.put((origin, bot_id), allowed)
    return allowed


def cors_middleware(app: ASGIApp) -> ASGIApp:
    cache = OriginCache()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        route = widget_route(scope["path"])
        if route is None:
            await app(scope, receive, send)
            return
        bot_id, method = route
        origin = _header(scope, b"origin")
        preflight = scope.get("method") == "OPTIONS" and _header(
            scope, b"access-control-request-method"
        )
        allowed = False
        if origin:
            try:
                allowed = await origin_may_call(runtime_of(scope["app"]), origin, bot_id, cache)
            except Exception:
                # Without an answer the browser is refused; the API itself is unaffected.
                _log.warning("could not check a CORS origin", exc_info=True)
        if preflight:
            await _preflight(send, origin if allowed else None, method)
            return
        extra: list[tuple[bytes, bytes]] = [(b"vary", b"Origin")]
        if allowed and origin:
            extra += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await app(scope, receive, send_with_cors)

    return middleware


async def _preflight(send: Send, origin: str | None, method: str) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"vary", b"Origin"), (b"content-length", b"0")]
    if origin is not None:
        headers += [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", f"{method}, OPTIONS".encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", str(MAX_AGE_S).encode()),
        ]
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 204,
        "headers": headers,
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
    await send(start)
    await send(body)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
