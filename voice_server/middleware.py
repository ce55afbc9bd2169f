"""ASGI middleware: request id, one access log line per request, HTTP metrics; and the request
class that checks JSON bodies before they are decoded."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from voice_server.errors import InvalidInput
from voice_server.json_nesting import NestingGuard, TooDeep
from voice_server.metrics import Metrics
from voice_server.request_context import reset_request_id, set_request_id
from voice_server.runtime import runtime_if_any

_access = logging.getLogger("parley.access")
# A caller's request id is echoed only if it is short and plain, so it cannot forge log fields.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DEFAULT_MAX_JSON_DEPTH = 64  # when an app is built without settings in its state


def request_context_middleware(metrics: Metrics) -> Callable[[ASGIApp], ASGIApp]:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            request_id = _incoming_request_id(scope) or uuid.uuid4().hex
            token = set_request_id(request_id)
            started = time.perf_counter()
            status = 500

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
                await send(message)

            try:
                # A WebSocket has no response start to tag: its frames go out unwrapped.
                await app(scope, receive, send_with_id if scope["type"] == "http" else send)
            finally:
                elapsed = time.perf_counter() - started
                if scope["type"] == "http":
                    route = scope.get("path_template") or "unmatched"
                    method = scope.get("method", "GET")
                    metrics.http_requests.labels(method, route, str(status)).inc()
                    metrics.http_duration.labels(method, route).observe(elapsed)
                    _access.info(
                        "%s %s %s",
                        method,
                        scope["path"],
                        status,
                        extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                    )
                reset_request_id(token)

        return middleware

    return factory


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


class ParleyRequest(Request[Any, Any, Any]):
    """The app's request class: every JSON body passes the nesting check before it is decoded.

    Litestar decodes a handler's ``data`` through :meth:`json`, whatever the Content-Type says,
    so this is the one place that sees every JSON body and no binary upload (audio, multipart
    files never go through it). A body nested deeper than ``PARLEY_MAX_JSON_DEPTH`` is a 400
    problem document instead of a ``RecursionError`` (500) from the decoder or later code."""

    async def json(self) -> Any:
        body = await self.body()
        runtime = runtime_if_any(self.app)
        guard = NestingGuard(runtime.settings.max_json_depth if runtime else DEFAULT_MAX_JSON_DEPTH)
        try:
            guard.feed(body)
        except TooDeep as exc:
            raise InvalidInput(str(exc), max_depth=exc.limit) from None
        return await super().json()
