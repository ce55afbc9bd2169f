from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billing.plans import load_plans
from billing.setup import setup_stripe
from billing.stripe_client import open_stripe
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe
from tests.support.server import free_port
from voice_server.settings import Settings


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe.running() as fake:
        yield fake


@pytest.fixture
async def settings(tmp_path: Path, database_url: str, fake_stripe: FakeStripe) -> Settings:
    """The whole app as deployed with Stripe (the fake, with `parley billing setup` done), except
    what would make fuzzing measure something else: rate limits (a fuzzer is one very busy
    client; 429s would hide the endpoints behind them) and unreachable cloud endpoints (a closed
    local port fails at once instead of after a timeout)."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        rate_limit_key_per_minute=0,
        rate_limit_ip_per_minute=0,
        rate_limit_tenant_per_minute=0,
        rate_limit_auth_per_minute=0,
        rag_drive_base_url=closed,
        rag_drive_token_url=f"{closed}/token",
        rag_url_timeout_s=2,
        stripe_secret_key=fake_stripe.api_key,
        stripe_api_base=fake_stripe.url,
        stripe_webhook_secret="whsec_fuzz",
        stripe_max_network_retries=0,
    )
    async with open_stripe(settings) as client:
        await setup_stripe(client, load_plans())
    return settings
