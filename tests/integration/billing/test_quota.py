"""The usage ledger and the quota check against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from billing.ledger import record_usage
from billing.plans import load_plans, parse_plans
from billing.quota import QuotaService
from tests.integration.billing.conftest import insert_bot, insert_tenant, open_voice_session
from voice_server.errors import QuotaExceeded

TINY = {
    "bots": 2,
    "documents": 1,
    "storage_bytes": 1000,
    "messages_per_month": 3,
    "voice_minutes_per_month": 1,
    "concurrent_voice_sessions": 1,
}


def _service(pool: asyncpg.Pool, *, subscriptions: bool = False) -> QuotaService:
    catalog = parse_plans(
        {
            "plans": {
                "tiny": {"name": "Tiny", **TINY},
                "big": {
                    "name": "Big",
                    "price_cents": 1000,
                    **{k: v * 100 for k, v in TINY.items()},
                    "overage": {"messages": "0.5"},
                },
            }
        }
    )
    return QuotaService(pool, catalog, default_plan="tiny", subscriptions_enabled=subscriptions)


async def _messages(pool: asyncpg.Pool, tenant_id: UUID, count: int, start: int = 0) -> None:
    async with pool.acquire() as conn:
        for i in range(start, start + count):
            await record_usage(conn, tenant_id, "message", 1, f"message:{i}")


async def test_recording_twice_with_one_key_counts_once(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    async with pool.acquire() as conn:
        assert await record_usage(conn, tenant_id, "message", 1, "message:a") is True
        assert await record_usage(conn, tenant_id, "message", 1, "message:a") is False
    summary = await _service(pool).usage_summary(tenant_id)
    messages = next(u for u in summary.limits if u.name == "messages_per_month")
    assert messages.used == 1


async def test_usage_recorded_in_a_rolled_back_transaction_never_counts(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await record_usage(conn, tenant_id, "message", 1, "message:lost")
        await transaction.rollback()  # e.g. the message insert failed
    await _service(pool).check(tenant_id, "message", 3)  # all three still available


async def test_messages_up_to_the_limit_then_402_with_plan_limit_and_used(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    quota = _service(pool)
    for i in range(3):
        allowance = await quota.check(tenant_id, "message")
        assert allowance.remaining == 3 - i
        await _messages(pool, tenant_id, 1, start=i)
    with pytest.raises(QuotaExceeded) as refused:
        await quota.check(tenant_id, "message")
    assert refused.value.status == 402
    assert refused.value.extensions == {
        "plan": "tiny",
        "limit_name": "messages_per_month",
        "limit": 3,
        "used": 3,
        "unit": "messages",
    }
    assert "Tiny plan allows 3 messages per month" in refused.value.detail


async def test_other_tenants_and_last_month_do_not_count(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    other = await insert_tenant(pool, "Other")
    await _messages(pool, other, 3)
    last_month = datetime.now(UTC) - timedelta(days=40)
    async with pool.acquire() as conn:
        for i in range(3):
            await record_usage(conn, tenant_id, "message", 1, f"old:{i}", occurred_at=last_month)
    assert (await _service(pool).check(tenant_id, "message")).used == 0


async def test_a_metered_plan_keeps_answering_past_its_limit(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status) VALUES ($1, 'big', 'active')",
        tenant_id,
    )
    await _messages(pool, tenant_id, 301)
    allowance = await _service(pool, subscriptions=True).check(tenant_id, "message")
    assert allowance.plan == "big"
    assert allowance.metered
    assert allowance.remaining is None


async def test_a_lapsed_grace_period_falls_back_to_the_default_plan(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status, grace_until) "
        "VALUES ($1, 'big', 'past_due', now() - interval '1 minute')",
        tenant_id,
    )
    await _messages(pool, tenant_id, 3)
    with pytest.raises(QuotaExceeded) as refused:
        await _service(pool, subscriptions=True).check(tenant_id, "message")
    assert refused.value.extensions["plan"] == "tiny"


async def test_voice_session_start_counts_open_sessions_and_returns_seconds_left(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    quota = _service(pool)
    async with pool.acquire() as conn:
        await record_usage(conn, tenant_id, "voice_seconds", 45, "voice:s1:0")
    allowance = await quota.check(tenant_id, "voice_session")
    assert allowance.remaining == 15
    session = await open_voice_session(pool, tenant_id)
    with pytest.raises(QuotaExceeded) as refused:
        await quota.check(tenant_id, "voice_session")
    assert refused.value.extensions["limit_name"] == "concurrent_voice_sessions"
    await pool.execute("UPDATE voice_sessions SET ended_at = now() WHERE id = $1", session)
    await quota.check(tenant_id, "voice_session")


async def test_no_voice_minutes_left_refuses_a_session_in_minutes(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    async with pool.acquire() as conn:
        await record_usage(conn, tenant_id, "voice_seconds", 60.5, "voice:s1:0")
    with pytest.raises(QuotaExceeded) as refused:
        await _service(pool).check(tenant_id, "voice_session")
    assert refused.value.extensions["limit_name"] == "voice_minutes_per_month"
    assert refused.value.extensions["limit"] == 1
    assert refused.value.extensions["unit"] == "minutes"


async def test_bots_documents_and_storage_are_counted_from_their_tables(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    quota = _service(pool)
    await insert_bot(pool, tenant_id)
    await quota.check(tenant_id, "bot")
    await insert_bot(pool, tenant_id)
    with pytest.raises(QuotaExceeded):
        await quota.check(tenant_id, "bot")
    await quota.check(tenant_id, "storage_bytes", 1000)
    with pytest.raises(QuotaExceeded):
        await quota.check(tenant_id, "storage_bytes", 1001)


async def test_usage_summary_warns_from_80_percent(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    catalog = load_plans()
    quota = QuotaService(pool, catalog, default_plan="free", subscriptions_enabled=False)
    async with pool.acquire() as conn:
        for i in range(400):
            await record_usage(conn, tenant_id, "message", 1, f"m:{i}")
        await record_usage(conn, tenant_id, "voice_seconds", 600, "v:1")
    body = (await quota.usage_summary(tenant_id)).as_json()
    limits = {item["name"]: item for item in body["limits"]}
    assert body["plan"] == {"id": "free", "name": "Free"}
    assert limits["messages_per_month"] | {"name": None} == {
        "name": None,
        "unit": "messages",
        "limit": 500,
        "used": 400,
        "percent": 80.0,
        "warning": True,
        "exceeded": False,
        "metered_overage": False,
    }
    assert limits["voice_minutes_per_month"]["used"] == 10
    assert limits["voice_minutes_per_month"]["warning"] is False
    assert body["warnings"] == ["messages_per_month at 80% (400 of 500)"]


async def test_unlimited_default_plan_never_refuses(pool: asyncpg.Pool, tenant_id: UUID) -> None:
    quota = QuotaService(pool, load_plans(), default_plan="unlimited", subscriptions_enabled=False)
    await _messages(pool, tenant_id, 5)
    allowance = await quota.check(tenant_id, "message", 10_000_000)
    assert allowance.remaining is None


async def test_a_mid_hour_period_start_counts_exactly_from_that_instant(
    pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2, minutes=-30)
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status, current_period_start, "
        "current_period_end) VALUES ($1, 'big', 'active', $2, $3)",
        tenant_id,
        start,
        start + timedelta(days=30),
    )
    async with pool.acquire() as conn:
        # Same hour bucket as the period start: one event before it, one after.
        await record_usage(
            conn, tenant_id, "message", 5, "before", occurred_at=start - timedelta(minutes=10)
        )
        await record_usage(
            conn, tenant_id, "message", 7, "after", occurred_at=start + timedelta(minutes=10)
        )
        await record_usage(conn, tenant_id, "message", 11, "later", occurred_at=now)
    allowance = await _service(pool, subscriptions=True).check(tenant_id, "message")
    assert allowance.used == 18
