"""Analytics, and the widget's thumbs up/down."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from dashboard_api import analytics
from dashboard_api.guards import require_scope
from dashboard_api.repositories import conversations
from voice_server.db import Database
from voice_server.errors import Forbidden, NotFound
from voice_server.principal import Principal


@get("/v1/analytics", tags=["analytics"], summary="Usage, latency and questions over a range")
async def tenant_analytics(
    principal: NamedDependency[Principal],
    database: NamedDependency[Database],
    bot_id: FromQuery[UUID | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> analytics.AnalyticsOut:
    require_scope(principal, "analytics:read")
    window = analytics.window(principal.tenant_id, since, until, bot_id)
    return await analytics.report(database.pool, window)


class FeedbackBody(msgspec.Struct, forbid_unknown_fields=True):
    message_id: UUID
    rating: Literal["up", "down"]


@post(
    "/v1/feedback",
    tags=["analytics"],
    status_code=204,
    summary="Thumbs up or down on a bot's answer (the widget sends this)",
)
async def feedback(
    data: JSONBody[FeedbackBody],
    principal: NamedDependency[Principal],
    database: NamedDependency[Database],
) -> None:
    if "feedback" not in principal.scopes and "conversations:write" not in principal.scopes:
        raise Forbidden("this credential may not leave feedback", required_scope="feedback")
    async with database.pool.acquire() as conn:
        rated = await conversations.set_feedback(
            conn,
            principal.tenant_id,
            data.message_id,
            1 if data.rating == "up" else -1,
            bot_id=principal.bot_id,  # a widget key rates only its own bot's answers
        )
    if not rated:
        raise NotFound("no such answer")
