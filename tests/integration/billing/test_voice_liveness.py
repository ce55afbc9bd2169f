"""Only live voice sessions hold a line: one whose server stopped marking it seen is let go after
the liveness window, and a starting server closes what its previous run left open."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest

from billing.plans import parse_plans
from billing.quota import QuotaService
from tests.integration.billing.conftest import insert_bot
from voice_server.errors import QuotaExceeded
from voice_server.voice.liveness import PgLiveness, close_leftovers
from voice_server.voice.store import PgVoiceStore

PLAN = {
    "name": "One line",
    "bots": 5,
    "documents": 5,
    "storage_bytes": 1_000_000,
    "messages_per_month": 100,
    "voice_minutes_per_month": 10,
    "concurrent_voice_sessions": 1,
}


def one_line(pool: asyncpg.Pool, liveness_s: float = 30) -> QuotaService:
    catalog = parse_plans({"plans": {"one": PLAN}})
    return QuotaService(
        pool, catalog, default_plan="one", subscriptions_enabled=False, voice_liveness_s=liveness_s
    )


async def open_call(pool: asyncpg.Pool, tenant_id: UUID) -> UUID:
    store = PgVoiceStore(pool)
    bot = await store.find_bot(await insert_bot(pool, tenant_id), tenant_id)
    assert bot is not None
    return (await store.start_session(bot, "websocket", 16_000, 24_000)).session_id


async def seen_ago(pool: asyncpg.Pool, session_id: UUID, seconds: float) -> None:
    await pool.execute(
        "UPDATE voice_sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE id = $1",
        session_id,
        seconds,
    )


async def test_a_session_not_seen_within_the_window_frees_its_line(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    quota = one_line(pool, liveness_s=30)
    session = await open_call(pool, tenant_id)
    with pytest.raises(QuotaExceeded):  # seen just now: the line is taken
        await quota.check(tenant_id, "voice_session")
    await seen_ago(pool, session, 20)
    with pytest.raises(QuotaExceeded):  # within the window: still a live call
        await quota.check(tenant_id, "voice_session")
    await seen_ago(pool, session, 31)
    await quota.check(tenant_id, "voice_session")  # its server is gone: the line is free
    # The heartbeat brings a live call back into the count.
    await PgLiveness(pool, "server-a").touch([(tenant_id, session)])
    with pytest.raises(QuotaExceeded):
        await quota.check(tenant_id, "voice_session")


async def test_a_starting_server_closes_its_own_leftovers_at_once_and_others_when_expired(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    mine, other_live, other_dead, unstamped_old = [await open_call(pool, tenant_id) for _ in "abcd"]
    await PgLiveness(pool, "server-a").touch([(tenant_id, mine)])
    await PgLiveness(pool, "server-b").touch([(tenant_id, other_live), (tenant_id, other_dead)])
    await seen_ago(pool, other_dead, 120)
    await seen_ago(pool, unstamped_old, 120)  # e.g. rows from before this migration

    closed = await close_leftovers(pool, "server-a", liveness_s=45)

    assert closed == 3
    rows = {
        r["id"]: r
        for r in await pool.fetch(
            "SELECT v.id, v.ended_at, v.end_reason, c.ended_at AS conversation_ended"
            " FROM voice_sessions v JOIN conversations c ON c.id = v.conversation_id"
        )
    }
    for session in (mine, other_dead, unstamped_old):
        assert rows[session]["end_reason"] == "server_restart"
        assert rows[session]["conversation_ended"] is not None
    # Another replica's call that is still being marked seen is left alone.
    assert rows[other_live]["ended_at"] is None
    assert rows[other_live]["conversation_ended"] is None
    assert await close_leftovers(pool, "server-a", liveness_s=45) == 0
