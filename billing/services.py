"""The billing services one app holds: plans, the quota check, and Stripe when configured.

Created by the billing lifespan (billing.plugin) and kept on ``app.state.billing``; handlers get
it through the ``quota`` (app-wide) and ``billing`` (billing routes) dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from billing.plans import PlanCatalog, load_plans
from billing.quota import QuotaService
from voice_server.settings import Settings


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

    @property
    def default_plan(self) -> str:
        return self.quota.default_plan.id


def build_services(settings: Settings, pool: asyncpg.Pool) -> BillingServices:
    catalog = load_catalog(settings)
    quota = QuotaService(
        pool,
        catalog,
        default_plan=default_plan_id(settings),
        subscriptions_enabled=stripe_configured(settings),
    )
    return BillingServices(settings=settings, catalog=catalog, quota=quota)
