"""What `billing` contributes to the app (see voice_server.plugin).

Published in the runtime while billing runs: its services (``BILLING``), the kernel's ``QUOTA``
(billing.quota.QuotaService, the one check chat and voice make) and ``USAGE_RECORDER``
(billing.ledger.record_usage): voice records each turn's seconds and chat each question with
them, without importing billing. App-wide dependencies ``quota`` and ``usage_recorder``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from billing.ledger import record_usage
from billing.metrics import BillingMetrics
from billing.routes import BILLING, BillingController, StripeWebhookController
from billing.services import open_services
from voice_server.plugin import PackagePlugin
from voice_server.runtime import DATABASE, USAGE_RECORDER, Slot, provide, runtime_of
from voice_server.settings import Settings
from voice_server.turns import QUOTA

METRICS: Slot[BillingMetrics] = Slot("billing metrics")


def plugin(settings: Settings) -> PackagePlugin:
    @asynccontextmanager
    async def billing_lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        # Registered once per app, even if its lifespan runs again.
        metrics = runtime.once(METRICS, lambda: BillingMetrics.register(runtime.metrics))
        async with open_services(settings, runtime.get(DATABASE).pool, metrics) as services:
            with (
                runtime.holding(BILLING, services),
                runtime.holding(QUOTA, services.quota),
                runtime.holding(USAGE_RECORDER, record_usage),
            ):
                yield

    return PackagePlugin(
        name="billing",
        route_handlers=[BillingController, StripeWebhookController],
        dependencies={
            "quota": provide(QUOTA),
            # For routes that bill work outside a voice session (the REST voice endpoints).
            "usage_recorder": Provide(lambda: record_usage, sync_to_thread=False),
        },
        lifespans=[billing_lifespan],
    )
