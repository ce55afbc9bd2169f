"""Voice against the real database: each turn's seconds land in the ledger once, in the turn's
own transaction, and concurrent session starts cannot overrun the concurrent-session limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from billing.ledger import record_usage
from billing.plans import parse_plans
from billing.quota import QuotaService
from tests.integration.billing.conftest import insert_bot
from voice_server.brain import BotProfile
from voice_server.db.types import Connection
from voice_server.errors import QuotaExceeded
from voice_server.voice.allowance import QuotaAllowance
from voice_server.voice.store import PgVoiceStore, TurnRow

LIMITS = {
    "bots": 5,
    "documents": 5,
    "storage_bytes": 1_000_000,
    "messages_per_month": 100,
    "voice_minutes_per_month": 10,
}


def quota_service(pool: asyncpg.Pool, concurrent: int) -> QuotaService:
    plan = {"name": "Tiny", **LIMITS, "concurrent_voice_sessions": concurrent}
    catalog = parse_plans({"plans": {"tiny": plan}})
    return QuotaService(pool, catalog, default_plan="tiny", subscriptions_enabled=False)


@pytest.fixture
async def wide_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Enough connections for every concurrent start to be in flight at once."""
    created = await asyncpg.create_pool(database_url, min_size=10, max_size=12)
    assert created is not None
    yield created
    await created.close()


async def bot_of(pool: asyncpg.Pool, store: PgVoiceStore, tenant_id: UUID) -> BotProfile:
    bot = await store.find_bot(await insert_bot(pool, tenant_id), tenant_id)
    assert bot is not None
    return bot


def spoken_turn(ordinal: int, speech_ms: int, played_ms: float) -> TurnRow:
    start = datetime.now(UTC) - timedelta(seconds=10)
    return TurnRow(
        ordinal=ordinal,
        speech_started_at=start,
        speech_ended_at=start + timedelta(milliseconds=speech_ms),
        played_ms=played_ms,
        total_ms=250.0,
    )


async def test_each_turn_bills_its_seconds_once_even_when_written_again(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    store = PgVoiceStore(pool, usage=record_usage)
    bot = await bot_of(pool, store, tenant_id)
    stored = await store.start_session(bot, "websocket", 16_000, 24_000)
    first = spoken_turn(0, speech_ms=1800, played_ms=3400.0)  # 5.2 s: bills 6
    second = spoken_turn(1, speech_ms=900, played_ms=1100.0)  # 2.0 s: bills 2
    turn_id = await store.add_turn(tenant_id, stored.session_id, first)
    await store.add_turn(tenant_id, stored.session_id, second)
    # A replayed write (a retried persistence job) stores and bills nothing more.
    assert await store.add_turn(tenant_id, stored.session_id, first) == turn_id

    events = await pool.fetch(
        "SELECT idempotency_key, quantity FROM usage_events "
        "WHERE tenant_id = $1 AND kind = 'voice_seconds' ORDER BY idempotency_key",
        tenant_id,
    )
    assert [(e["idempotency_key"], e["quantity"]) for e in events] == [
        (f"voice:{stored.session_id}:0", 6),
        (f"voice:{stored.session_id}:1", 2),
    ]
    assert await pool.fetchval("SELECT count(*) FROM turns WHERE tenant_id = $1", tenant_id) == 2
    # The quota reads the same seconds: 8 of the plan's 600.
    allowance = await quota_service(pool, 5).check(tenant_id, "voice_session")
    assert (allowance.used, allowance.remaining) == (8.0, 592.0)


async def test_usage_and_turn_are_written_together_or_not_at_all(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    async def ledger_fails_after_writing(conn: Connection, *args: Any, **kwargs: Any) -> bool:
        await record_usage(conn, *args, **kwargs)
        raise RuntimeError("the ledger write failed")

    store = PgVoiceStore(pool, usage=ledger_fails_after_writing)
    bot = await bot_of(pool, store, tenant_id)
    stored = await store.start_session(bot, "websocket", 16_000, 24_000)
    with pytest.raises(RuntimeError):
        await store.add_turn(tenant_id, stored.session_id, spoken_turn(0, 1000, 1000.0))
    turns = await pool.fetchval("SELECT count(*) FROM turns WHERE tenant_id = $1", tenant_id)
    usage = await pool.fetchval("SELECT count(*) FROM usage_events WHERE tenant_id = $1", tenant_id)
    assert (turns, usage) == (0, 0)


async def test_without_billing_turns_are_stored_and_nothing_is_billed(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    store = PgVoiceStore(pool)
    bot = await bot_of(pool, store, tenant_id)
    stored = await store.start_session(bot, "websocket", 16_000, 24_000)
    await store.add_turn(tenant_id, stored.session_id, spoken_turn(0, 1000, 1000.0))
    assert await pool.fetchval("SELECT count(*) FROM turns WHERE tenant_id = $1", tenant_id) == 1
    assert await pool.fetchval("SELECT count(*) FROM usage_events") == 0


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrent_starts_never_pass_the_concurrent_session_limit(
    wide_pool: asyncpg.Pool, tenant_id: UUID, limit: int
) -> None:
    quota = quota_service(wide_pool, limit)
    store = PgVoiceStore(wide_pool, usage=record_usage)
    bot = await bot_of(wide_pool, store, tenant_id)
    everyone_checking = asyncio.Barrier(8)

    async def start() -> QuotaAllowance:
        granted: list[QuotaAllowance] = []

        async def admit(conn: Connection) -> None:
            granted.append(await quota.check(bot.tenant_id, "voice_session", conn=conn))

        await everyone_checking.wait()
        await store.start_session(bot, "websocket", 16_000, 24_000, admit=admit)
        return granted[0]

    results = await asyncio.gather(*(start() for _ in range(8)), return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(admitted) == limit
    assert len(refused) == 8 - limit
    assert {r.extensions["limit_name"] for r in refused} == {"concurrent_voice_sessions"}
    open_sessions = await wide_pool.fetchval(
        "SELECT count(*) FROM voice_sessions WHERE tenant_id = $1 AND ended_at IS NULL", tenant_id
    )
    assert open_sessions == limit
    # Refused starts leave no conversation behind either.
    assert await wide_pool.fetchval("SELECT count(*) FROM conversations") == limit


async def test_other_tenants_do_not_wait_on_or_count_against_each_other(
    wide_pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    from tests.integration.billing.conftest import insert_tenant

    quota = quota_service(wide_pool, 1)
    store = PgVoiceStore(wide_pool)
    tenants = [tenant_id, *[await insert_tenant(wide_pool, f"T{n}") for n in range(3)]]
    bots = [await bot_of(wide_pool, store, t) for t in tenants]

    async def start(bot: BotProfile) -> None:
        async def admit(conn: Connection) -> None:
            await quota.check(bot.tenant_id, "voice_session", conn=conn)

        await store.start_session(bot, "websocket", 16_000, 24_000, admit=admit)

    await asyncio.gather(*(start(bot) for bot in bots))  # one each: nobody is refused
    assert await wide_pool.fetchval("SELECT count(DISTINCT tenant_id) FROM voice_sessions") == 4


async def test_other_sessions_seconds_are_what_a_live_session_catches_up_with(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    store = PgVoiceStore(pool, usage=record_usage)
    bot = await bot_of(pool, store, tenant_id)
    mine = await store.start_session(bot, "websocket", 16_000, 24_000)
    theirs = await store.start_session(bot, "websocket", 16_000, 24_000)
    await store.add_turn(tenant_id, mine.session_id, spoken_turn(0, 1000, 2000.0))  # 3 s
    await store.add_turn(tenant_id, theirs.session_id, spoken_turn(0, 2000, 3000.0))  # 5 s
    await record_usage(pool, tenant_id, "voice_seconds", 7, "rest:voice:1")  # another channel
    # Last month's seconds are not this period's.
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=2)
    await record_usage(pool, tenant_id, "voice_seconds", 100, "old", occurred_at=last_month)
    quota = quota_service(pool, 5)
    assert await quota.voice_seconds_used(tenant_id, excluding_session=mine.session_id) == 12.0
    assert await quota.voice_seconds_used(tenant_id, excluding_session=theirs.session_id) == 10.0
