"""Analytics of a tenant or one bot over a date range."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import asyncpg
import msgspec

from dashboard_api.conversations import utc
from dashboard_api.repositories import analytics, bots
from dashboard_api.repositories.analytics import Window
from voice_server.db.types import Connection
from voice_server.errors import InvalidInput, NotFound

DEFAULT_DAYS = 30
MAX_DAYS = 366
T = TypeVar("T")


class StageLatency(msgspec.Struct):
    p50_ms: float | None
    p95_ms: float | None
    samples: int


class QuestionCount(msgspec.Struct):
    question: str
    count: int


class Feedback(msgspec.Struct):
    up: int
    down: int


class AnalyticsOut(msgspec.Struct):
    since: datetime
    until: datetime
    bot_id: UUID | None
    conversations: int
    messages: int
    questions: int
    voice_minutes: float
    unique_visitors: int
    latency: dict[str, StageLatency]
    top_questions: list[QuestionCount]
    unanswered_questions: list[QuestionCount]
    feedback: Feedback


def window(
    tenant_id: UUID, since: datetime | None, until: datetime | None, bot_id: UUID | None
) -> Window:
    end = utc(until) or datetime.now(UTC)
    try:
        start = utc(since) or end - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # `until` in the first days of year 1
        raise InvalidInput("`until` is out of range", field="until") from None
    if start >= end:
        raise InvalidInput("`since` must be before `until`", field="since")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"the range may span at most {MAX_DAYS} days", field="since")
    return Window(tenant_id=tenant_id, since=start, until=end, bot_id=bot_id)


async def report(pool: asyncpg.Pool, w: Window) -> AnalyticsOut:
    """The four aggregates run at once on their own connections: the answer takes as long as
    the slowest one rather than their sum."""
    async with pool.acquire() as conn:
        if w.bot_id is not None and await bots.get(conn, w.tenant_id, w.bot_id) is None:
            raise NotFound("no such bot")

    async def on_own_connection(query: Callable[[Connection, Window], Awaitable[T]]) -> T:
        async with pool.acquire() as conn:
            return await query(conn, w)

    totals, latency, top, unanswered = await asyncio.gather(
        on_own_connection(analytics.totals),
        on_own_connection(analytics.latency_percentiles),
        on_own_connection(analytics.top_questions),
        on_own_connection(analytics.unanswered_questions),
    )
    return AnalyticsOut(
        since=w.since,
        until=w.until,
        bot_id=w.bot_id,
        conversations=totals.conversations,
        messages=totals.messages,
        questions=totals.user_messages,
        voice_minutes=totals.voice_minutes,
        unique_visitors=totals.unique_visitors,
        latency={
            stage.removesuffix("_ms"): StageLatency(
                p50_ms=_round(p50), p95_ms=_round(p95), samples=n
            )
            for stage, (p50, p95, n) in latency.items()
        },
        top_questions=[QuestionCount(q, n) for q, n in top],
        unanswered_questions=[QuestionCount(q, n) for q, n in unanswered],
        feedback=Feedback(up=totals.feedback_up, down=totals.feedback_down),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
