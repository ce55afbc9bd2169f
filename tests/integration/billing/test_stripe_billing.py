"""Checkout, portal, plan changes, cancellation, invoices and `parley billing setup`, through
the official SDK against the fake Stripe API."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from uuid import UUID

import asyncpg
import httpx
import pytest
import stripe

from billing.cli import add_commands, run
from billing.plans import load_plans
from billing.services import BillingServices, open_services
from billing.setup import setup_stripe
from tests.fakes.stripe import FakeStripe
from tests.integration.billing.conftest import deliver
from voice_server.errors import Conflict, InvalidInput, ServiceUnavailable
from voice_server.settings import Settings


@pytest.fixture
async def services(
    billing_settings: Settings, pool: asyncpg.Pool, stripe_products: None
) -> AsyncIterator[BillingServices]:
    async with open_services(billing_settings, pool) as opened:
        yield opened


def _counts(fake: FakeStripe) -> dict[str, int]:
    return {kind: len(objects) for kind, objects in fake.objects.items()}


async def test_setup_creates_meters_products_and_prices_once(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    first = await setup_stripe(stripe_client, load_plans())
    assert _counts(fake_stripe) == {"billing.meter": 2, "product": 3, "price": 7}
    assert "price parley_pro_messages_overage" in first.created
    second = await setup_stripe(stripe_client, load_plans())
    assert second.created == []
    assert _counts(fake_stripe) == {"billing.meter": 2, "product": 3, "price": 7}
    voice = next(
        p for p in fake_stripe.all("price") if p["lookup_key"] == "parley_pro_voice_minutes_overage"
    )
    # 2000 included minutes are free, then 8 cents a minute, metered in seconds.
    assert voice["tiers"][0] == {"up_to": 120000, "unit_amount_decimal": "0"}
    assert voice["tiers"][1]["up_to"] is None
    assert float(voice["tiers"][1]["unit_amount_decimal"]) == pytest.approx(8 / 60)


async def test_setup_command_prints_what_it_did_and_the_webhook_url(
    billing_settings: Settings, fake_stripe: FakeStripe, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["billing", "setup"])
    assert await _to_thread(run, args, billing_settings) == 0
    out = capsys.readouterr().out
    assert "created meter parley_messages" in out
    assert "https://parley.example.com/v1/billing/webhooks/stripe" in out
    assert "invoice.payment_failed" in out
    assert await _to_thread(run, args, billing_settings) == 0
    again = capsys.readouterr().out
    assert "created " not in again
    assert "exists  price parley_business_monthly" in again


async def _to_thread(fn: Callable[..., int], *args: object) -> int:
    # The command runs its own event loop, as it does under `parley`.
    return await asyncio.to_thread(fn, *args)


async def test_checkout_creates_one_customer_and_a_session_with_the_plan_prices(
    services: BillingServices, fake_stripe: FakeStripe, tenant_id: UUID
) -> None:
    stripe_billing = services.require_stripe()
    first = await stripe_billing.checkout(tenant_id, "pro")
    second = await stripe_billing.checkout(tenant_id, "pro")
    assert first["url"].startswith("https://checkout.stripe.com/")
    assert len(fake_stripe.all("customer")) == 1
    customer = fake_stripe.all("customer")[0]
    assert customer["metadata"] == {"tenant_id": str(tenant_id)}
    session = fake_stripe.get("checkout.session", second["id"])
    prices = {
        fake_stripe.get("price", item["price"])["lookup_key"] for item in session["_line_items"]
    }
    assert prices == {
        "parley_pro_monthly",
        "parley_pro_messages_overage",
        "parley_pro_voice_minutes_overage",
    }
    assert session["client_reference_id"] == str(tenant_id)
    assert session["success_url"].startswith("https://parley.example.com/billing/success")


async def test_free_and_unknown_plans_cannot_be_bought(
    services: BillingServices, tenant_id: UUID
) -> None:
    with pytest.raises(InvalidInput, match="not a plan one can subscribe to"):
        await services.require_stripe().checkout(tenant_id, "free")
    with pytest.raises(InvalidInput):
        await services.require_stripe().checkout(tenant_id, "platinum")


async def test_portal_needs_a_billing_account(services: BillingServices, tenant_id: UUID) -> None:
    with pytest.raises(Conflict):
        await services.require_stripe().portal(tenant_id)
    await services.require_stripe().checkout(tenant_id, "starter")
    portal = await services.require_stripe().portal(tenant_id)
    assert portal["url"].startswith("https://billing.stripe.com/")


async def test_stripe_down_is_a_503_not_a_crash(
    services: BillingServices, fake_stripe: FakeStripe, tenant_id: UUID
) -> None:
    fake_stripe.outage = True
    with pytest.raises(ServiceUnavailable, match="Stripe is unreachable"):
        await services.require_stripe().checkout(tenant_id, "pro")


async def _subscribe(
    services: BillingServices, fake: FakeStripe, http: httpx.AsyncClient, tenant_id: UUID, plan: str
) -> None:
    session = await services.require_stripe().checkout(tenant_id, plan)
    fake.complete_checkout(session["id"])
    for event in fake.events:
        assert (await deliver(http, event)).status_code == 200
    fake.events.clear()


async def test_subscribe_change_plan_cancel_and_list_invoices(
    services: BillingServices,
    fake_stripe: FakeStripe,
    billing_http: httpx.AsyncClient,
    pool: asyncpg.Pool,
    tenant_id: UUID,
) -> None:
    await _subscribe(services, fake_stripe, billing_http, tenant_id, "pro")
    assert (await services.quota.check(tenant_id, "message")).plan == "pro"
    assert await pool.fetchval("SELECT plan FROM tenants WHERE id = $1", tenant_id) == "pro"

    changed = await services.require_stripe().change_plan(tenant_id, "starter")
    assert changed["plan"] == "starter"
    subscription = fake_stripe.all("subscription")[0]
    keys = sorted(item["price"]["lookup_key"] for item in subscription["items"]["data"])
    assert keys == ["parley_starter_monthly"]  # starter has no metered overage
    assert (await services.quota.check(tenant_id, "message")).plan == "starter"

    canceled = await services.require_stripe().cancel(tenant_id)
    assert canceled["cancel_at_period_end"] is True
    assert canceled["status"] == "active"  # paid until the period ends
    # Stripe's own events about these changes arrive later and change nothing further.
    for event in fake_stripe.events:
        assert (await deliver(billing_http, event)).status_code == 200
    row = await pool.fetchrow("SELECT plan, cancel_at_period_end FROM subscriptions")
    assert dict(row) == {"plan": "starter", "cancel_at_period_end": True}

    invoices = await services.require_stripe().invoices(tenant_id)
    assert [(i["status"], i["amount_paid"]) for i in invoices] == [("paid", 9900)]


async def test_a_second_checkout_while_subscribed_is_a_conflict(
    services: BillingServices,
    fake_stripe: FakeStripe,
    billing_http: httpx.AsyncClient,
    tenant_id: UUID,
) -> None:
    await _subscribe(services, fake_stripe, billing_http, tenant_id, "pro")
    with pytest.raises(Conflict, match="change its plan instead"):
        await services.require_stripe().checkout(tenant_id, "business")
