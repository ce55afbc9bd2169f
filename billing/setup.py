"""`parley billing setup`: create in Stripe what the plans file describes, idempotently.

Meters are found by event name, products by their fixed id, prices by lookup key; whatever
exists is kept, whatever is missing is created, and a price whose amount changed in the plans
file gets a new price that takes over the lookup key. Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import stripe

from billing.catalog import (
    CURRENCY,
    METERS,
    monthly_key,
    overage_key,
    overage_tiers,
    product_id,
)
from billing.plans import Plan, PlanCatalog

WEBHOOK_PATH = "/v1/billing/webhooks/stripe"
WEBHOOK_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)


@dataclass
class SetupReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


async def setup_stripe(client: stripe.StripeClient, catalog: PlanCatalog) -> SetupReport:
    report = SetupReport()
    meters = await _ensure_meters(client, report)
    for plan in catalog.sold():
        await _ensure_product(client, plan, report)
        await _ensure_prices(client, plan, meters, report)
    return report


async def _ensure_meters(client: stripe.StripeClient, report: SetupReport) -> dict[str, str]:
    existing: dict[str, str] = {}
    page = await client.v1.billing.meters.list_async({"status": "active", "limit": 100})
    for found in page.data:
        existing[found.event_name] = found.id
    ids: dict[str, str] = {}
    for name, meter in METERS.items():
        if meter.event_name in existing:
            report.kept.append(f"meter {meter.event_name}")
            ids[name] = existing[meter.event_name]
            continue
        created = await client.v1.billing.meters.create_async(
            {
                "display_name": meter.display_name,
                "event_name": meter.event_name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                "value_settings": {"event_payload_key": "value"},
            },
            {"idempotency_key": f"parley-setup-meter-{meter.event_name}"},
        )
        report.created.append(f"meter {meter.event_name}")
        ids[name] = created.id
    return ids


async def _ensure_product(client: stripe.StripeClient, plan: Plan, report: SetupReport) -> None:
    try:
        await client.v1.products.retrieve_async(product_id(plan))
        report.kept.append(f"product {product_id(plan)}")
        return
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            raise
    await client.v1.products.create_async(
        {"id": product_id(plan), "name": f"Parley {plan.name}", "metadata": {"plan": plan.id}}
    )
    report.created.append(f"product {product_id(plan)}")


async def _ensure_prices(
    client: stripe.StripeClient, plan: Plan, meters: dict[str, str], report: SetupReport
) -> None:
    wanted: dict[str, dict[str, Any]] = {
        monthly_key(plan): {
            "unit_amount": plan.price_cents,
            "recurring": {"interval": "month", "usage_type": "licensed"},
        }
    }
    for name in plan.overage:
        wanted[overage_key(plan, name)] = {
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": overage_tiers(plan, name),
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meters[name]},
        }
    page = await client.v1.prices.list_async(
        {"lookup_keys": list(wanted), "active": True, "limit": 10}
    )
    existing = {price.lookup_key: price for price in page.data if price.lookup_key}
    for key, spec in wanted.items():
        price = existing.get(key)
        if price is not None and _same(price, spec):
            report.kept.append(f"price {key}")
            continue
        params: dict[str, Any] = {
            "product": product_id(plan),
            "currency": CURRENCY,
            "lookup_key": key,
            "transfer_lookup_key": price is not None,
            "nickname": key,
            **spec,
        }
        await client.v1.prices.create_async(params)  # type: ignore[arg-type]
        report.created.append(f"price {key}" + (" (new amount)" if price is not None else ""))


def _same(found: Any, spec: dict[str, Any]) -> bool:
    price = found.to_dict(for_json=True)
    if "unit_amount" in spec:
        return bool(price.get("unit_amount") == spec["unit_amount"])
    tiers = price.get("tiers")
    if not tiers:
        return True  # Stripe only lists tiers when expanded; keep the price
    return [(t.get("up_to"), str(t.get("unit_amount_decimal"))) for t in tiers] == [
        (None if t["up_to"] == "inf" else t["up_to"], t["unit_amount_decimal"])
        for t in spec["tiers"]
    ]


def webhook_url(public_url: str) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH
