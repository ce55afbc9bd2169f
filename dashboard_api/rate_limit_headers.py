"""`RateLimit-*` headers from the decision the limiter recorded for the request.

The ``principal`` dependency counts every authenticated request (any package's route) and
``remember``s the decision in the ASGI scope; the middleware, installed app-wide by the app
factory, adds the headers to the response, 429s included.
"""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from dashboard_api.ratelimit import Decision

_STATE_KEY = "parley.rate_limit"


def remember(scope: Any, decision: Decision | None) -> None:
    if decision is not None:
        scope.setdefault("state", {})[_STATE_KEY] = decision


def recorded(scope: Any) -> Decision | None:
    decision: Decision | None = scope.get("state", {}).get(_STATE_KEY)
    return decision


def rate_limit_headers_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            decision = recorded(scope)
            if message["type"] == "http.response.start" and decision is not None:
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
