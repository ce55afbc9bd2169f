"""Owner-facing Stripe operations: Checkout, the Customer Portal, plan changes, cancellation,
invoices. Stripe's answers are applied to the local subscription row at once (with the current
time as their event time), so the owner sees the change before the webhook confirms it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import asyncpg
import stripe

from billing import subscriptions as subs
from billing.catalog import lookup_keys, monthly_key, overage_key, plan_of_lookup_key
from billing.plans import Plan, PlanCatalog
from billing.stripe_client import retryable
from billing.stripe_objects import subscription_changes
from voice_server.errors import Conflict, InvalidInput, ServiceUnavailable
from voice_server.settings import Settings

_log = logging.getLogger("parley.billing")

# Subscription statuses after which the tenant may start a new Checkout.
ENDED = frozenset({"canceled", "incomplete_expired"})


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe failures become our error tree at this one seam."""
    try:
        yield
    except stripe.StripeError as exc:
        if retryable(exc):
            raise ServiceUnavailable("Stripe is unreachable right now; retry shortly") from exc
        _log.error("Stripe refused a request: %s", exc.user_message or exc, exc_info=exc)
        raise ServiceUnavailable(
            "billing is misconfigured on this server (Stripe refused the request); "
            "the operator should run `parley billing setup`"
        ) from exc


class StripeBilling:
    def __init__(
        self,
        client: stripe.StripeClient,
        pool: asyncpg.Pool,
        catalog: PlanCatalog,
        settings: Settings,
        *,
        default_plan: str,
    ) -> None:
        self._client = client
        self._pool = pool
        self._catalog = catalog
        self._settings = settings
        self._default_plan = default_plan
        self._prices: dict[str, str] = {}  # lookup key -> price id

    @property
    def client(self) -> stripe.StripeClient:
        return self._client

    def _return_url(self, path: str = "") -> str:
        return self._settings.billing_public_url.rstrip("/") + "/" + path.lstrip("/")

    def _sold_plan(self, plan_id: str) -> Plan:
        if plan_id not in self._catalog or not self._catalog.get(plan_id).sold:
            sold = ", ".join(plan.id for plan in self._catalog.sold())
            raise InvalidInput(f"{plan_id!r} is not a plan one can subscribe to ({sold})")
        return self._catalog.get(plan_id)

    async def price_ids(self, plan: Plan) -> dict[str, str]:
        """Lookup key -> price id of the plan's prices (created by `parley billing setup`)."""
        keys = lookup_keys(plan)
        missing = [key for key in keys if key not in self._prices]
        if missing:
            with stripe_errors():
                found = await self._client.v1.prices.list_async(
                    {"lookup_keys": missing, "active": True, "limit": 10}
                )
            for price in found.data:
                if price.lookup_key:
                    self._prices[price.lookup_key] = price.id
        absent = [key for key in keys if key not in self._prices]
        if absent:
            raise ServiceUnavailable(
                f"Stripe has no price {', '.join(absent)}; the operator should run "
                "`parley billing setup`"
            )
        return {key: self._prices[key] for key in keys}

    async def ensure_customer(self, tenant_id: UUID) -> str:
        async with self._pool.acquire() as conn:
            current = await subs.get_subscription(conn, tenant_id)
            if current and current.stripe_customer_id:
                return current.stripe_customer_id
            name = await conn.fetchval("SELECT name FROM tenants WHERE id = $1", tenant_id)
        with stripe_errors():
            # One key per tenant: two concurrent first checkouts create one customer.
            customer = await self._client.v1.customers.create_async(
                {"name": name or "", "metadata": {"tenant_id": str(tenant_id)}},
                {"idempotency_key": f"parley-customer-{tenant_id}"},
            )
        async with self._pool.acquire() as conn:
            return await subs.attach_customer(conn, tenant_id, customer.id, self._default_plan)

    async def _current(self, tenant_id: UUID) -> subs.Subscription | None:
        async with self._pool.acquire() as conn:
            return await subs.get_subscription(conn, tenant_id)

    async def checkout(self, tenant_id: UUID, plan_id: str) -> dict[str, Any]:
        plan = self._sold_plan(plan_id)
        current = await self._current(tenant_id)
        if current and current.stripe_subscription_id and current.status not in ENDED:
            raise Conflict(
                "this account already has a subscription; change its plan instead",
                plan=current.plan,
            )
        prices = await self.price_ids(plan)
        customer = await self.ensure_customer(tenant_id)
        line_items: list[dict[str, Any]] = [{"price": prices[monthly_key(plan)], "quantity": 1}]
        line_items += [{"price": prices[overage_key(plan, name)]} for name in plan.overage]
        metadata = {"tenant_id": str(tenant_id), "plan": plan.id}
        with stripe_errors():
            session = await self._client.v1.checkout.sessions.create_async(
                {  # type: ignore[arg-type]
                    "mode": "subscription",
                    "customer": customer,
                    "client_reference_id": str(tenant_id),
                    "line_items": line_items,
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                    "success_url": self._return_url(
                        "billing/success?session_id={CHECKOUT_SESSION_ID}"
                    ),
                    "cancel_url": self._return_url("billing/canceled"),
                }
            )
        return {"id": session.id, "url": session.url, "plan": plan.id}

    async def portal(self, tenant_id: UUID) -> dict[str, Any]:
        current = await self._current(tenant_id)
        if current is None or current.stripe_customer_id is None:
            raise Conflict("this account has no billing account yet; subscribe to a plan first")
        with stripe_errors():
            session = await self._client.v1.billing_portal.sessions.create_async(
                {"customer": current.stripe_customer_id, "return_url": self._return_url("billing")}
            )
        return {"url": session.url}

    async def _active_subscription(self, tenant_id: UUID) -> str:
        current = await self._current(tenant_id)
        if current is None or not current.stripe_subscription_id or current.status in ENDED:
            raise Conflict("this account has no active subscription; subscribe first")
        return current.stripe_subscription_id

    async def change_plan(self, tenant_id: UUID, plan_id: str) -> dict[str, Any]:
        plan = self._sold_plan(plan_id)
        subscription_id = await self._active_subscription(tenant_id)
        prices = await self.price_ids(plan)
        with stripe_errors():
            found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        subscription = found.to_dict()
        items: list[dict[str, Any]] = []
        wanted_overage = {prices[overage_key(plan, name)] for name in plan.overage}
        for item in subscription["items"]["data"]:
            key = item["price"].get("lookup_key")
            if plan_of_lookup_key(key):
                items.append({"id": item["id"], "price": prices[monthly_key(plan)]})
            elif item["price"]["id"] in wanted_overage:
                wanted_overage.discard(item["price"]["id"])
            else:
                items.append({"id": item["id"], "deleted": True})
        items += [{"price": price} for price in sorted(wanted_overage)]
        with stripe_errors():
            updated = await self._client.v1.subscriptions.update_async(
                subscription_id,
                {  # type: ignore[arg-type]
                    "items": items,
                    "proration_behavior": "create_prorations",
                    "cancel_at_period_end": False,
                    "metadata": {"plan": plan.id},
                },
            )
        return await self.apply(tenant_id, updated)

    async def cancel(self, tenant_id: UUID) -> dict[str, Any]:
        subscription_id = await self._active_subscription(tenant_id)
        with stripe_errors():
            updated = await self._client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": True}
            )
        return await self.apply(tenant_id, updated)

    async def apply(self, tenant_id: UUID, subscription: Any) -> dict[str, Any]:
        changes = subscription_changes(subscription)
        async with self._pool.acquire() as conn, conn.transaction():
            await subs.apply_state(
                conn,
                tenant_id,
                event_created=int(time.time()),
                changes=changes,
                default_plan=self._default_plan,
            )
            row = await subs.get_subscription(conn, tenant_id)
            assert row is not None
            await subs.mirror_tenant_plan(conn, tenant_id, row.plan)
        return subscription_json(row)

    async def invoices(self, tenant_id: UUID, limit: int = 20) -> list[dict[str, Any]]:
        current = await self._current(tenant_id)
        if current is None or current.stripe_customer_id is None:
            return []
        with stripe_errors():
            page = await self._client.v1.invoices.list_async(
                {"customer": current.stripe_customer_id, "limit": limit}
            )
        invoices = [invoice.to_dict(for_json=True) for invoice in page.data]
        return [
            {
                "id": invoice["id"],
                "number": invoice.get("number"),
                "status": invoice.get("status"),
                "currency": invoice.get("currency"),
                "amount_due": invoice.get("amount_due"),
                "amount_paid": invoice.get("amount_paid"),
                "created": invoice.get("created"),
                "period_start": invoice.get("period_start"),
                "period_end": invoice.get("period_end"),
                "hosted_invoice_url": invoice.get("hosted_invoice_url"),
                "invoice_pdf": invoice.get("invoice_pdf"),
            }
            for invoice in invoices
        ]


def subscription_json(row: subs.Subscription) -> dict[str, Any]:
    return {
        "plan": row.plan,
        "status": row.status,
        "cancel_at_period_end": row.cancel_at_period_end,
        "current_period_start": _iso(row.current_period_start),
        "current_period_end": _iso(row.current_period_end),
        "grace_until": _iso(row.grace_until),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
