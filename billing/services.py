"""The billing services one app holds: plans, the quota check, Stripe and webhooks when
configured, and the metering outbox worker.

Opened by the billing lifespan (billing.plugin) and published in the runtime
(``billing.routes.BILLING``); handlers get it through the ``quota`` (app-wide) and ``billing``
(billing routes) dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from billing.metering import MeterReporter
from billing.metrics import BillingMetrics
from billing.plans import PlanCatalog, load_plans
from billing.quota import QuotaService
from billing.stripe_billing import StripeBilling
from billing.stripe_client import open_stripe
from billing.webhooks import WebhookProcessor
from voice_server.errors import ServiceUnavailable
from voice_server.settings import Settings

_log = logging.getLogger("parley.billing")


def stripe_configured(settings: Settings) -> bool:
    return settings.stripe_secret_key is not None


def default_plan_id(settings: Settings) -> str:
    if settings.billing_default_plan:
        return settings.billing_default_plan
    return "free" if stripe_configured(settings) else "unlimited"


def load_catalog(settings: Settings) -> PlanCatalog:
    """The plans file, checked against the default plan setting; ValueError says what is wrong."""
    catalog = load_plans(settings.billing_plans_file)
    default = default_plan_id(settings)
    if default not in catalog:
        raise ValueError(
            f"PARLEY_BILLING_DEFAULT_PLAN={default!r} is not a plan of the plans file "
            f"(plans: {', '.join(sorted(catalog.plans))})"
        )
    return catalog


@dataclass
class BillingServices:
    settings: Settings
    catalog: PlanCatalog
    quota: QuotaService
    stripe: StripeBilling | None = None
    webhooks: WebhookProcessor | None = None
    reporter: MeterReporter | None = None

    @property
    def default_plan(self) -> str:
        return self.quota.default_plan.id

    def require_stripe(self) -> StripeBilling:
        if self.stripe is None:
            raise ServiceUnavailable(
                "billing through Stripe is not enabled on this server "
                "(PARLEY_STRIPE_SECRET_KEY is unset)"
            )
        return self.stripe

    def require_webhooks(self) -> WebhookProcessor:
        if self.webhooks is None:
            raise ServiceUnavailable(
                "Stripe webhooks are not enabled on this server "
                "(PARLEY_STRIPE_WEBHOOK_SECRET is unset)"
            )
        return self.webhooks


@asynccontextmanager
async def open_services(
    settings: Settings, pool: asyncpg.Pool, metrics: BillingMetrics | None = None
) -> AsyncIterator[BillingServices]:
    catalog = load_catalog(settings)
    default = default_plan_id(settings)
    quota = QuotaService(
        pool,
        catalog,
        default_plan=default,
        subscriptions_enabled=stripe_configured(settings),
        metrics=metrics,
        voice_liveness_s=settings.voice_liveness_s,
    )
    services = BillingServices(settings=settings, catalog=catalog, quota=quota)
    if settings.stripe_webhook_secret is not None:
        services.webhooks = WebhookProcessor(
            pool,
            catalog,
            secret=settings.stripe_webhook_secret.get_secret_value(),
            tolerance_s=settings.stripe_webhook_tolerance_s,
            default_plan=default,
            grace=timedelta(days=settings.billing_grace_period_days),
            metrics=metrics,
        )
    async with AsyncExitStack() as stack:
        if stripe_configured(settings):
            client = await stack.enter_async_context(open_stripe(settings))
            services.stripe = StripeBilling(client, pool, catalog, settings, default_plan=default)
            services.reporter = MeterReporter(
                pool,
                client,
                catalog,
                batch_size=settings.billing_meter_batch_size,
                interval_s=settings.billing_meter_interval_s,
                max_backoff_s=settings.billing_meter_max_backoff_s,
                default_plan=default,
                metrics=metrics,
            )
            worker = asyncio.create_task(_run_reporter(services.reporter), name="usage-outbox")
            stack.push_async_callback(_stop, worker)
        yield services


async def _run_reporter(reporter: MeterReporter) -> None:
    try:
        await reporter.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        _log.exception("the usage outbox worker stopped; usage stays queued until a restart")
        raise


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
