"""What `billing` contributes to the app (see voice_server.plugin).

App-wide dependency ``quota`` (billing.quota.QuotaService): the one call chat and voice make.
The runtime's ``USAGE_RECORDER`` (billing.ledger.record_usage), published while billing runs: voice
records each turn's seconds with it without importing billing (voice_server.voice.allowance).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from billing.ledger import record_usage
from billing.metrics import BillingMetrics
from billing.quota import QuotaService
from billing.routes import BillingController, StripeWebhookController, provide_billing
from billing.services import open_services
from voice_server.plugin import PackagePlugin
from voice_server.runtime import USAGE_RECORDER, runtime_of
from voice_server.settings import Settings


def provide_quota(state: State) -> QuotaService:
    return provide_billing(state).quota


def plugin(settings: Settings) -> PackagePlugin:
    @asynccontextmanager
    async def billing_lifespan(app: Litestar) -> AsyncIterator[None]:
        # Registered once per app, even if its lifespan runs again.
        metrics = app.state.get("billing_metrics") or BillingMetrics.register(app.state.metrics)
        app.state.billing_metrics = metrics
        async with open_services(settings, app.state.database.pool, metrics) as services:
            app.state.billing = services
            try:
                with runtime_of(app).holding(USAGE_RECORDER, record_usage):
                    yield
            finally:
                app.state.billing = None

    return PackagePlugin(
        name="billing",
        route_handlers=[BillingController, StripeWebhookController],
        dependencies={
            "quota": Provide(provide_quota, sync_to_thread=False),
            # For routes that bill work outside a voice session (the REST voice endpoints).
            "usage_recorder": Provide(lambda: record_usage, sync_to_thread=False),
        },
        lifespans=[billing_lifespan],
    )
