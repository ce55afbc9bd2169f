"""Stripe webhooks through the real server: signatures, the event log, idempotency, ordering."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from billing.plans import load_plans
from billing.quota import QuotaService
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe
from tests.integration.billing.conftest import WEBHOOK_PATH, deliver
from tests.support.server import serve_app
from voice_server.app import create_app


def _subscription(
    fake: FakeStripe, tenant_id: UUID, plan: str = "pro", **fields: Any
) -> dict[str, Any]:
    """A Stripe subscription object for the tenant, on the plan's monthly price."""
    price = next(p for p in fake.all("price") if p["lookup_key"] == f"parley_{plan}_monthly")
    now = int(time.time())
    subscription = {
        "id": "sub_test_1",
        "object": "subscription",
        "customer": "cus_test_1",
        "status": "active",
        "cancel_at_period_end": False,
        "metadata": {"tenant_id": str(tenant_id)},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "price": price,
                    "current_period_start": now - 3600,
                    "current_period_end": now + 30 * 86400,
                }
            ],
        },
    }
    subscription.update(fields)
    return subscription


async def _row(pool: asyncpg.Pool, tenant_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT s.plan, s.status, s.cancel_at_period_end, s.grace_until IS NOT NULL AS in_grace, "
        "t.plan AS tenant_plan FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id "
        "WHERE s.tenant_id = $1",
        tenant_id,
    )
    return dict(row) if row else {}


async def test_a_signed_event_is_logged_and_applied(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    event = fake_stripe.event(
        "customer.subscription.created", _subscription(fake_stripe, tenant_id)
    )
    response = await deliver(billing_http, event)
    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    assert await _row(pool, tenant_id) == {
        "plan": "pro",
        "status": "active",
        "cancel_at_period_end": False,
        "in_grace": False,
        "tenant_plan": "pro",
    }
    logged = await pool.fetchrow("SELECT type, tenant_id, processed_at FROM stripe_events")
    assert logged["type"] == "customer.subscription.created"
    assert logged["tenant_id"] == tenant_id
    assert logged["processed_at"] is not None
    metrics = (await billing_http.get("/metrics")).text
    assert (
        'parley_billing_webhook_events_total{outcome="processed",'
        'type="customer.subscription.created"} 1.0' in metrics
    )


async def test_a_forged_signature_is_refused_and_not_logged(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    event = fake_stripe.event(
        "customer.subscription.created", _subscription(fake_stripe, tenant_id)
    )
    response = await deliver(billing_http, event, secret="whsec_someone_else")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "signature" in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 0
    assert await _row(pool, tenant_id) == {}


async def test_a_stale_timestamp_is_refused(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    event = fake_stripe.event(
        "customer.subscription.created", _subscription(fake_stripe, tenant_id)
    )
    response = await deliver(billing_http, event, timestamp=int(time.time()) - 600)
    assert response.status_code == 400
    assert "timestamp" in response.json()["detail"].lower()
    assert await _row(pool, tenant_id) == {}


async def test_a_missing_signature_is_refused(billing_http: httpx.AsyncClient) -> None:
    response = await billing_http.post(WEBHOOK_PATH, content=b'{"id": "evt_1"}')
    assert response.status_code == 400


async def test_a_replayed_event_is_a_no_op(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    now = int(time.time())
    created = fake_stripe.event(
        "customer.subscription.created", _subscription(fake_stripe, tenant_id), created=now - 10
    )
    assert (await deliver(billing_http, created)).json()["outcome"] == "processed"
    # The owner moves to cancel at period end; then Stripe delivers the first event again.
    updated = fake_stripe.event(
        "customer.subscription.updated",
        _subscription(fake_stripe, tenant_id, cancel_at_period_end=True),
        created=now,
    )
    await deliver(billing_http, updated)
    replay = await deliver(billing_http, created)
    assert replay.status_code == 200
    assert replay.json()["outcome"] == "duplicate"
    assert (await _row(pool, tenant_id))["cancel_at_period_end"] is True
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 2


async def test_an_older_update_arriving_late_does_not_regress(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    now = int(time.time())
    newer = fake_stripe.event(
        "customer.subscription.updated",
        _subscription(fake_stripe, tenant_id, "business"),
        created=now,
    )
    older = fake_stripe.event(
        "customer.subscription.updated",
        _subscription(fake_stripe, tenant_id, "starter"),
        created=now - 30,
    )
    assert (await deliver(billing_http, newer)).status_code == 200
    assert (await deliver(billing_http, older)).status_code == 200
    assert (await _row(pool, tenant_id))["plan"] == "business"


@pytest.mark.parametrize("late_by", [1, 0], ids=["older-second", "same-second"])
async def test_an_update_arriving_after_the_delete_does_not_revive(
    billing_http: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    pool: asyncpg.Pool,
    tenant_id: UUID,
    late_by: int,
) -> None:
    now = int(time.time())
    deleted = fake_stripe.event(
        "customer.subscription.deleted",
        _subscription(fake_stripe, tenant_id, status="canceled"),
        created=now,
    )
    updated = fake_stripe.event(
        "customer.subscription.updated",
        _subscription(fake_stripe, tenant_id, status="active"),
        created=now - late_by,
    )
    await deliver(billing_http, deleted)
    await deliver(billing_http, updated)
    row = await _row(pool, tenant_id)
    assert row["status"] == "canceled"
    assert row["tenant_plan"] == "free"  # back on the default plan


async def test_a_failed_payment_keeps_the_plan_for_the_grace_period_then_a_paid_one_clears_it(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    now = int(time.time())
    subscription = _subscription(fake_stripe, tenant_id)
    await deliver(
        billing_http,
        fake_stripe.event("customer.subscription.created", subscription, created=now - 100),
    )
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_test_1",
        "subscription": "sub_test_1",
        "metadata": {},
    }
    failed = fake_stripe.event("invoice.payment_failed", invoice, created=now - 50)
    assert (await deliver(billing_http, failed)).status_code == 200
    row = await _row(pool, tenant_id)
    assert (row["status"], row["in_grace"], row["tenant_plan"]) == ("past_due", True, "pro")

    paid = fake_stripe.event("invoice.paid", invoice, created=now)
    late_failure = fake_stripe.event("invoice.payment_failed", invoice, created=now - 40)
    await deliver(billing_http, paid)
    await deliver(billing_http, late_failure)
    row = await _row(pool, tenant_id)
    assert (row["status"], row["in_grace"], row["tenant_plan"]) == ("active", False, "pro")


async def test_when_the_grace_period_ends_the_tenant_is_downgraded(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    subscription = _subscription(fake_stripe, tenant_id, status="past_due")
    await deliver(billing_http, fake_stripe.event("customer.subscription.updated", subscription))
    await pool.execute(
        "UPDATE subscriptions SET grace_until = now() - interval '1 second' WHERE tenant_id = $1",
        tenant_id,
    )
    quota = QuotaService(pool, load_plans(), default_plan="free", subscriptions_enabled=True)
    assert (await quota.check(tenant_id, "message")).plan == "free"


async def test_checkout_completed_links_the_subscription_without_blocking_its_older_events(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool, tenant_id: UUID
) -> None:
    now = int(time.time())
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "customer": "cus_test_1",
        "subscription": "sub_test_1",
        "client_reference_id": str(tenant_id),
        "metadata": {"tenant_id": str(tenant_id), "plan": "pro"},
    }
    await deliver(
        billing_http, fake_stripe.event("checkout.session.completed", session, created=now)
    )
    assert (await _row(pool, tenant_id))["tenant_plan"] == "pro"
    created = fake_stripe.event(
        "customer.subscription.created", _subscription(fake_stripe, tenant_id), created=now - 2
    )
    await deliver(billing_http, created)
    period_end = await pool.fetchval(
        "SELECT current_period_end FROM subscriptions WHERE tenant_id = $1", tenant_id
    )
    assert period_end is not None


async def test_events_for_unknown_customers_are_acknowledged_and_change_nothing(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool
) -> None:
    stranger = _subscription(fake_stripe, UUID(int=0), customer="cus_unknown")
    response = await deliver(
        billing_http, fake_stripe.event("customer.subscription.created", stranger)
    )
    assert response.status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM subscriptions") == 0


async def test_unhandled_event_types_are_logged_and_ignored(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, pool: asyncpg.Pool
) -> None:
    event = fake_stripe.event("customer.created", {"id": "cus_1", "object": "customer"})
    response = await deliver(billing_http, event)
    assert response.json()["outcome"] == "ignored"
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 1


async def test_without_a_webhook_secret_the_endpoint_says_so(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post(WEBHOOK_PATH, content=b"{}", headers={"Stripe-Signature": "x"})
    assert response.status_code == 503
    assert "PARLEY_STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
