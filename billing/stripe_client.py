"""The Stripe SDK client Parley uses: async (httpx), pointed at ``PARLEY_STRIPE_API_BASE``.

Vendor errors are mapped at this seam: :func:`retryable` says which Stripe failures are worth
another try (network, 409, 429, 5xx) and which are permanent (auth, invalid request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import stripe

from voice_server.settings import Settings

TIMEOUT_S = 20.0


@asynccontextmanager
async def open_stripe(
    settings: Settings, *, max_network_retries: int | None = None
) -> AsyncIterator[stripe.StripeClient]:
    if settings.stripe_secret_key is None:
        raise RuntimeError("Stripe is not configured (PARLEY_STRIPE_SECRET_KEY)")
    http_client = stripe.HTTPXClient(timeout=TIMEOUT_S)
    client = stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=(
            settings.stripe_max_network_retries
            if max_network_retries is None
            else max_network_retries
        ),
        http_client=http_client,
    )
    try:
        yield client
    finally:
        await http_client.close_async()


def retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    status = exc.http_status or 0
    return status == 409 or status >= 500
