"""The usage outbox delivers metered usage to Stripe exactly once, outages included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
import httpx
import pytest
import stripe

from billing.ledger import record_usage
from billing.metering import MeterReporter
from billing.plans import load_plans
from tests.fakes.stripe import FakeStripe
from tests.integration.billing.conftest import insert_tenant
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.settings import Settings


async def _subscribed(
    pool: asyncpg.Pool, client: stripe.StripeClient, plan: str = "pro"
) -> tuple[UUID, str]:
    """A tenant with an active subscription to ``plan`` and its Stripe customer id."""
    tenant_id = await insert_tenant(pool)
    customer = await client.v1.customers.create_async({"metadata": {"tenant_id": str(tenant_id)}})
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status, stripe_customer_id) "
        "VALUES ($1, $2, 'active', $3)",
        tenant_id,
        plan,
        customer.id,
    )
    return tenant_id, customer.id


async def _use(pool: asyncpg.Pool, tenant_id: UUID, messages: int, voice_s: list[float]) -> None:
    async with pool.acquire() as conn:
        for i in range(messages):
            await record_usage(conn, tenant_id, "message", 1, f"message:{i}")
        for i, seconds in enumerate(voice_s):
            await record_usage(conn, tenant_id, "voice_seconds", seconds, f"voice:{i}")


@pytest.fixture
async def reporter(
    pool: asyncpg.Pool, stripe_client: stripe.StripeClient, stripe_products: None
) -> MeterReporter:
    return MeterReporter(
        pool,
        stripe_client,
        load_plans(),
        batch_size=100,
        interval_s=0.05,
        max_backoff_s=0.2,
        default_plan="free",
    )


async def _pending(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM usage_events WHERE reported_at IS NULL"))


async def test_an_outage_queues_usage_and_recovery_delivers_each_event_once(
    reporter: MeterReporter,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    pool: asyncpg.Pool,
) -> None:
    tenant_id, customer = await _subscribed(pool, stripe_client)
    fake_stripe.outage = True
    await _use(pool, tenant_id, messages=5, voice_s=[12.5, 30])
    for _ in range(3):
        result = await reporter.report_once()
        assert (result.sent, result.retryable_failures) == (0, 7)
    assert await _pending(pool) == 7
    assert fake_stripe.meter_events == {}

    fake_stripe.outage = False
    result = await reporter.report_once()
    assert result.sent == 7
    assert await _pending(pool) == 0
    assert len(fake_stripe.meter_events) == 7
    assert fake_stripe.metered_total("parley_messages", customer) == 5
    assert fake_stripe.metered_total("parley_voice_seconds", customer) == 42.5
    assert (await reporter.report_once()).sent == 0
    assert fake_stripe.meter_event_posts == 7
    attempts = await pool.fetchval("SELECT max(report_attempts) FROM usage_events")
    assert attempts == 4


async def test_a_lost_answer_is_retried_without_billing_twice(
    reporter: MeterReporter,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    pool: asyncpg.Pool,
) -> None:
    tenant_id, customer = await _subscribed(pool, stripe_client)
    await _use(pool, tenant_id, messages=3, voice_s=[])
    fake_stripe.lose_responses = True  # Stripe records the events, the answers get lost
    assert (await reporter.report_once()).sent == 0
    assert await _pending(pool) == 3
    fake_stripe.lose_responses = False
    assert (await reporter.report_once()).sent == 3
    assert fake_stripe.metered_total("parley_messages", customer) == 3


async def test_usage_stripe_does_not_bill_is_settled_locally(
    reporter: MeterReporter,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    pool: asyncpg.Pool,
) -> None:
    starter, _ = await _subscribed(pool, stripe_client, plan="starter")  # no metered overage
    free = await insert_tenant(pool, "Free")
    await _use(pool, starter, messages=2, voice_s=[5])
    await _use(pool, free, messages=2, voice_s=[])
    result = await reporter.report_once()
    assert (result.sent, result.not_metered) == (0, 5)
    assert await _pending(pool) == 0
    assert fake_stripe.meter_event_posts == 0


async def test_a_refused_event_waits_and_does_not_block_the_others(
    reporter: MeterReporter,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    pool: asyncpg.Pool,
) -> None:
    good, customer = await _subscribed(pool, stripe_client)
    broken = await insert_tenant(pool, "Broken")
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status, stripe_customer_id) "
        "VALUES ($1, 'pro', 'active', 'cus_deleted_in_stripe')",
        broken,
    )
    await _use(pool, broken, messages=1, voice_s=[])
    await _use(pool, good, messages=2, voice_s=[])
    result = await reporter.report_once()
    assert (result.sent, result.failed, result.retryable_failures) == (2, 1, 0)
    error = await pool.fetchval(
        "SELECT last_report_error FROM usage_events WHERE tenant_id = $1", broken
    )
    assert "No such customer" in error
    # Parked until the operator fixes it: the next pass does not hammer Stripe with it.
    assert (await reporter.report_once()).failed == 0
    assert fake_stripe.metered_total("parley_messages", customer) == 2


async def _until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 20) -> None:
    """Poll the database until ``condition`` holds (the worker gives no other signal)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def test_the_server_reports_in_the_background_through_an_outage(
    billing_settings: Settings,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    stripe_products: None,
    pool: asyncpg.Pool,
) -> None:
    tenant_id, customer = await _subscribed(pool, stripe_client)
    fake_stripe.outage = True
    async with serve_app(create_app(billing_settings)) as url:
        await _use(pool, tenant_id, messages=4, voice_s=[])

        async def tried_twice() -> bool:
            attempts = await pool.fetchval("SELECT min(report_attempts) FROM usage_events")
            return bool(attempts and attempts >= 2)

        await _until(tried_twice)
        assert fake_stripe.meter_events == {}
        fake_stripe.outage = False

        async def drained() -> bool:
            return await _pending(pool) == 0

        await _until(drained)
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert fake_stripe.metered_total("parley_messages", customer) == 4
    assert len(fake_stripe.meter_events) == 4


async def test_the_worker_moves_tenants_whose_grace_lapsed_to_the_default_plan(
    billing_settings: Settings, stripe_products: None, pool: asyncpg.Pool
) -> None:
    tenant_id = await insert_tenant(pool)
    await pool.execute("UPDATE tenants SET plan = 'pro' WHERE id = $1", tenant_id)
    await pool.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status, grace_until) "
        "VALUES ($1, 'pro', 'past_due', now() - interval '1 minute')",
        tenant_id,
    )

    async def downgraded() -> bool:
        plan = await pool.fetchval("SELECT plan FROM tenants WHERE id = $1", tenant_id)
        return bool(plan == "free")

    async with serve_app(create_app(billing_settings)):
        await _until(downgraded)
