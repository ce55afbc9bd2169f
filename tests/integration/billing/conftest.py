"""Billing fixtures: tenants inserted directly, plan catalogs, quota services."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import stripe

from billing.plans import load_plans
from billing.setup import setup_stripe
from billing.stripe_client import open_stripe
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe, signature_header
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.settings import Settings

WEBHOOK_SECRET = "whsec_test_secret"
WEBHOOK_PATH = "/v1/billing/webhooks/stripe"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert created is not None
    yield created
    await created.close()


async def insert_tenant(conn: asyncpg.Connection | asyncpg.Pool, name: str = "Acme") -> UUID:
    tenant_id: UUID = await conn.fetchval(
        "INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id",
        name,
        f"t-{uuid.uuid4().hex[:10]}",
    )
    return tenant_id


async def insert_bot(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: UUID) -> UUID:
    bot_id: UUID = await conn.fetchval(
        "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Bot') RETURNING id", tenant_id
    )
    return bot_id


async def open_voice_session(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: UUID) -> UUID:
    bot_id = await insert_bot(conn, tenant_id)
    conversation_id = await conn.fetchval(
        "INSERT INTO conversations (tenant_id, bot_id, channel) VALUES ($1, $2, 'voice') "
        "RETURNING id",
        tenant_id,
        bot_id,
    )
    session_id: UUID = await conn.fetchval(
        "INSERT INTO voice_sessions (tenant_id, bot_id, conversation_id, transport) "
        "VALUES ($1, $2, $3, 'websocket') RETURNING id",
        tenant_id,
        bot_id,
        conversation_id,
    )
    return session_id


@pytest.fixture
async def tenant_id(pool: asyncpg.Pool) -> UUID:
    return await insert_tenant(pool)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The Stripe SDK hands httpx its form body as `data=`; httpx deprecates that spelling.
    for item in items:
        if "billing" in item.nodeid:
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
            )


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe.running() as fake:
        yield fake


def stripe_settings(
    tmp_path: Path, database_url: str, fake: FakeStripe, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "stripe_secret_key": fake.api_key,
        "stripe_api_base": fake.url,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_max_network_retries": 0,
        "billing_public_url": "https://parley.example.com",
        "billing_meter_interval_s": 0.05,
        "billing_meter_max_backoff_s": 0.2,
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


@pytest.fixture
def billing_settings(tmp_path: Path, database_url: str, fake_stripe: FakeStripe) -> Settings:
    return stripe_settings(tmp_path, database_url, fake_stripe)


@pytest.fixture
async def stripe_client(billing_settings: Settings) -> AsyncIterator[stripe.StripeClient]:
    async with open_stripe(billing_settings) as client:
        yield client


@pytest.fixture
async def stripe_products(stripe_client: stripe.StripeClient) -> None:
    """What `parley billing setup` creates, created in the fake."""
    await setup_stripe(stripe_client, load_plans())


@pytest.fixture
async def billing_http(
    billing_settings: Settings, stripe_products: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app with Stripe on (against the fake), on a real port."""
    async with (
        serve_app(create_app(billing_settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def deliver(
    http: httpx.AsyncClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST an event the way Stripe does: raw JSON and a Stripe-Signature header."""
    payload = json.dumps(event).encode()
    return await http.post(
        WEBHOOK_PATH,
        content=payload,
        headers={
            "Stripe-Signature": signature_header(payload, secret, timestamp),
            "Content-Type": "application/json",
        },
    )
