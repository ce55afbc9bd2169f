"""``POST /v1/bots/{bot_id}/sessions``: a short-lived, single-use voice session token.

The widget calls this with its publishable key from an allowed Origin and connects to the
voice WebSocket with ``?token=``; servers may call it with a secret key for their own browser
clients. See docs/voice-protocol.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from dashboard_api.authentication import visitor_ip
from dashboard_api.guards import require_bot_access, require_scope
from dashboard_api.repositories import bots
from dashboard_api.services import DashboardServices
from dashboard_api.voice_access import enforce_voice_starts
from voice_server.db import Database
from voice_server.errors import InvalidInput, NotFound
from voice_server.principal import Principal

_MAX_BODY_BYTES = 1024


class SessionRequest(msgspec.Struct, forbid_unknown_fields=True):
    transport: Literal["websocket", "webrtc"] = "websocket"


class VoiceSessionOut(msgspec.Struct):
    token: str
    token_type: str
    bot_id: UUID
    expires_in: int
    expires_at: datetime
    ws_path: str


@post(
    "/v1/bots/{bot_id:uuid}/sessions",
    tags=["voice"],
    status_code=201,
    summary="A single-use voice session token (the widget trades its publishable key for it)",
)
async def issue_voice_session(
    bot_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    database: NamedDependency[Database],
    dashboard_services: NamedDependency[DashboardServices],
) -> VoiceSessionOut:
    services = dashboard_services
    body = await _body(request)
    require_scope(principal, "chat")
    require_bot_access(principal, bot_id)
    widget = principal.kind == "publishable_key"
    visitor = visitor_ip(request, services)
    async with database.pool.acquire() as conn:
        if await bots.get(conn, principal.tenant_id, bot_id) is None:
            raise NotFound("no such bot")
        if widget:
            services.visitor_sessions.check(bot_id, visitor)
            await services.voice_tokens.check_voice_allowance(
                conn, principal.tenant_id, bot_id, visitor, services.visitor_voice_seconds_per_hour
            )
        await enforce_voice_starts(
            request, principal, services, visitor=visitor if widget else None
        )
        issued = await services.voice_tokens.issue(
            conn,
            tenant_id=principal.tenant_id,
            bot_id=bot_id,
            key_id=principal.key_id,
            origin=request.headers.get("origin") or None,
            visitor=visitor,
            widget=widget,
            transport=body.transport,
        )
    return VoiceSessionOut(
        token=issued.token,
        token_type="voice_session",
        bot_id=bot_id,
        expires_in=issued.expires_in,
        expires_at=issued.expires_at,
        ws_path=f"/v1/voice/ws?token={issued.token}",
    )


async def _body(request: Request[Any, Any, Any]) -> SessionRequest:
    """The optional JSON body (a browser may send none at all)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY_BYTES:
            raise InvalidInput("the request body is too large")
    if not raw.strip():
        return SessionRequest()
    try:
        return msgspec.json.decode(raw, type=SessionRequest)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"invalid body: {exc}") from None
