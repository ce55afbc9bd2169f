"""Billing HTTP routes.

Owners: ``/v1/billing/...`` (plans, usage, subscription, checkout, portal, plan change,
cancellation, invoices) with the app-wide ``principal``. Reading needs a user or a secret key of
the tenant; anything that spends money or shows invoices needs the ``billing:write`` scope
(owners). Stripe: ``/v1/billing/webhooks/stripe`` needs no principal: Stripe's signature is
its proof, and the tenant comes from the event's metadata or customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from billing import subscriptions as subs
from billing.plans import LIMIT_NAMES
from billing.services import BillingServices
from billing.stripe_billing import subscription_json
from voice_server.db import Database
from voice_server.errors import Forbidden
from voice_server.principal import Principal
from voice_server.runtime import Slot, provide

PlanId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["pro"])]


BILLING: Slot[BillingServices] = Slot("billing")


def _require_reader(principal: Principal) -> None:
    if principal.kind == "publishable_key":
        raise Forbidden("a publishable widget key cannot read billing")


def _require_billing_owner(principal: Principal) -> None:
    if "billing:write" not in principal.scopes:
        raise Forbidden(
            "this credential lacks the `billing:write` scope (account owners have it)",
            required_scope="billing:write",
        )


class PlanBody(msgspec.Struct, forbid_unknown_fields=True):
    plan: PlanId


class BillingController(Controller):
    path = "/v1/billing"
    dependencies = {"billing": provide(BILLING)}

    @get("/plans", summary="Plans and their limits")
    async def plans(
        self, principal: NamedDependency[Principal], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        _require_reader(principal)
        return {
            "default_plan": billing.default_plan,
            "stripe": billing.stripe is not None,
            "plans": [
                {
                    "id": plan.id,
                    "name": plan.name,
                    "price_cents": plan.price_cents,
                    "sold": plan.sold and billing.stripe is not None,
                    "limits": {name: plan.limit(name) for name in LIMIT_NAMES},
                    "metered_overage": {k: str(v) for k, v in plan.overage.items()},
                }
                for plan in billing.catalog.plans.values()
            ],
        }

    @get("/usage", summary="This period's usage against the plan's limits, with 80% warnings")
    async def usage(
        self, principal: NamedDependency[Principal], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        _require_reader(principal)
        summary = await billing.quota.usage_summary(principal.tenant_id)
        return summary.as_json()

    @get("/subscription", summary="The plan in force and the Stripe subscription's state")
    async def subscription(
        self,
        principal: NamedDependency[Principal],
        billing: NamedDependency[BillingServices],
        database: NamedDependency[Database],
    ) -> dict[str, Any]:
        _require_reader(principal)
        async with database.pool.acquire() as conn:
            row = await subs.get_subscription(conn, principal.tenant_id)
        if row is None:
            return {"plan": billing.default_plan, "status": "none", "subscribed_plan": None}
        in_force = billing.quota.plan_for(row.plan, row.status, row.grace_until, datetime.now(UTC))
        return {**subscription_json(row), "plan": in_force.id, "subscribed_plan": row.plan}

    @post("/checkout", status_code=201, summary="Start a Stripe Checkout for a plan")
    async def checkout(
        self,
        data: JSONBody[PlanBody],
        principal: NamedDependency[Principal],
        billing: NamedDependency[BillingServices],
    ) -> dict[str, Any]:
        _require_billing_owner(principal)
        return await billing.require_stripe().checkout(principal.tenant_id, data.plan)

    @post("/portal", status_code=201, summary="Open the Stripe Customer Portal")
    async def portal(
        self, principal: NamedDependency[Principal], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        _require_billing_owner(principal)
        return await billing.require_stripe().portal(principal.tenant_id)

    @post("/subscription/plan", status_code=200, summary="Move the subscription to another plan")
    async def change_plan(
        self,
        data: JSONBody[PlanBody],
        principal: NamedDependency[Principal],
        billing: NamedDependency[BillingServices],
    ) -> dict[str, Any]:
        _require_billing_owner(principal)
        return await billing.require_stripe().change_plan(principal.tenant_id, data.plan)

    @post("/subscription/cancel", status_code=200, summary="Cancel at the end of the period")
    async def cancel(
        self, principal: NamedDependency[Principal], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        _require_billing_owner(principal)
        return await billing.require_stripe().cancel(principal.tenant_id)

    @get("/invoices", summary="The tenant's Stripe invoices, newest first")
    async def invoices(
        self, principal: NamedDependency[Principal], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        _require_billing_owner(principal)
        if billing.stripe is None:
            return {"items": []}
        return {"items": await billing.stripe.invoices(principal.tenant_id)}


class StripeWebhookController(Controller):
    path = "/v1/billing/webhooks"
    dependencies = {"billing": provide(BILLING)}

    @post("/stripe", status_code=200, summary="Stripe webhook endpoint")
    async def stripe_webhook(
        self, request: Request[Any, Any, Any], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        """Verifies Stripe's signature, logs the event, applies it once. Replays answer 200."""
        processor = billing.require_webhooks()
        event = processor.verify(await request.body(), request.headers.get("stripe-signature"))
        outcome = await processor.receive(event)
        return {"received": True, "id": event["id"], "outcome": outcome}
