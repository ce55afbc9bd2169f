"""Analytics: per-day conversations and messages, voice minutes (as billing counts them), p50
and p95 per voice stage, unanswered questions (to fix the docs), feedback. The figures come
from dashboard_api.analytics, the same report the JSON API returns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from dashboard_api import analytics
from dashboard_api.console.charts import day_bars
from dashboard_api.console.web import ConsoleUser, page
from dashboard_api.guards import require_scope
from dashboard_api.repositories import analytics as analytics_repo
from dashboard_api.repositories import bots
from voice_server.db import Database
from voice_server.errors import InvalidInput

STAGE_LABELS = {
    "end_of_turn_wait": "End-of-turn wait",
    "stt_final": "Speech to text",
    "llm_first_token": "Model first token",
    "first_clause": "First clause",
    "tts_first_byte": "Speech first byte",
    "first_audio": "First audio out (voice to voice)",
    "total": "Whole turn",
}


class AnalyticsPages(Controller):
    path = "/analytics"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        days: FromQuery[int] = 30,
        bot_id: FromQuery[UUID | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "analytics:read")
        if not 1 <= days <= analytics.MAX_DAYS:
            raise InvalidInput(f"days must be 1 to {analytics.MAX_DAYS}", field="days")
        until = datetime.now(UTC)
        window = analytics.window(
            console_user.tenant_id, until - timedelta(days=days), until, bot_id
        )

        async def daily() -> list[analytics_repo.Day]:
            async with database.pool.acquire() as conn:
                return await analytics_repo.per_day(conn, window)

        # The per-day series runs beside the report's own queries, on its own connection.
        report, series = await asyncio.gather(analytics.report(database.pool, window), daily())
        async with database.pool.acquire() as conn:
            bot_rows = await bots.list_page(conn, console_user.tenant_id, limit=500)
        return page(
            request,
            "analytics.html",
            user=console_user,
            r=report,
            series=series,
            conversations_chart=day_bars([(d.day, float(d.conversations)) for d in series]),
            minutes_chart=day_bars([(d.day, d.voice_minutes) for d in series]),
            stage_labels=STAGE_LABELS,
            days=days,
            bots=bot_rows,
            bot_id=bot_id,
        )
