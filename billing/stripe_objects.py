"""Stripe objects (as delivered in webhooks or returned by the API) to subscription columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billing.catalog import plan_of_lookup_key


def _get(obj: Any, key: str, default: Any = None) -> Any:
    # Plain dicts (webhook payloads) and StripeObjects (SDK answers) alike.
    try:
        value = obj[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _id(value: Any) -> str | None:
    """An id, whether the field holds the id or the expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = _get(value, "id")
    return str(found) if found else None


def _when(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else None


def subscription_items(subscription: Any) -> list[Any]:
    return list(_get(_get(subscription, "items", {}), "data", []))


def plan_of_subscription(subscription: Any) -> str | None:
    for item in subscription_items(subscription):
        plan = plan_of_lookup_key(_get(_get(item, "price", {}), "lookup_key"))
        if plan:
            return plan
    metadata_plan = _get(_get(subscription, "metadata", {}), "plan")
    return str(metadata_plan) if metadata_plan else None


def subscription_changes(subscription: Any) -> dict[str, Any]:
    """Columns of ``subscriptions`` described by a Stripe subscription object."""
    items = subscription_items(subscription)
    # Newer API versions keep the period on each item, older ones on the subscription.
    first = items[0] if items else {}
    start = _get(subscription, "current_period_start") or _get(first, "current_period_start")
    end = _get(subscription, "current_period_end") or _get(first, "current_period_end")
    changes: dict[str, Any] = {
        "status": str(_get(subscription, "status", "incomplete")),
        "stripe_subscription_id": _id(_get(subscription, "id")),
        "stripe_customer_id": _id(_get(subscription, "customer")),
        "cancel_at_period_end": bool(_get(subscription, "cancel_at_period_end", False)),
        "current_period_start": _when(start),
        "current_period_end": _when(end),
    }
    plan = plan_of_subscription(subscription)
    if plan:
        changes["plan"] = plan
    return changes


def tenant_hint(obj: Any) -> str | None:
    """The tenant id Parley put on a Stripe object (metadata or client_reference_id)."""
    hint = _get(_get(obj, "metadata", {}), "tenant_id") or _get(obj, "client_reference_id")
    if hint:
        return str(hint)
    details = _get(_get(obj, "subscription_details", {}), "metadata", {})
    found = _get(details, "tenant_id")
    return str(found) if found else None


def customer_of(obj: Any) -> str | None:
    return _id(_get(obj, "customer"))


def subscription_of_invoice(invoice: Any) -> str | None:
    direct = _id(_get(invoice, "subscription"))
    if direct:
        return direct
    details = _get(_get(invoice, "parent", {}), "subscription_details", {})
    return _id(_get(details, "subscription"))
