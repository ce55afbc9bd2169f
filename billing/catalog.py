"""How Parley's plans are named in Stripe: products, prices (by lookup key) and meters.

One product per sold plan (``parley_<plan>``), a monthly licensed price
(``parley_<plan>_monthly``) and, per metered overage, a graduated metered price
(``parley_<plan>_<overage>_overage``) whose first tier, the plan's included amount, is free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.plans import OVERAGE_LIMITS, OverageName, Plan

CURRENCY = "usd"


@dataclass(frozen=True)
class Meter:
    event_name: str
    display_name: str
    usage_kind: str  # usage_events.kind reported to it
    overage: OverageName
    units_per_limit_unit: int  # meter units in one unit of the plan's limit


METERS: dict[OverageName, Meter] = {
    "messages": Meter("parley_messages", "Parley messages", "message", "messages", 1),
    "voice_minutes": Meter(
        "parley_voice_seconds", "Parley voice seconds", "voice_seconds", "voice_minutes", 60
    ),
}
METER_BY_KIND = {meter.usage_kind: meter for meter in METERS.values()}

_MONTHLY = re.compile(r"^parley_([a-z0-9_]+)_monthly$")


def product_id(plan: Plan) -> str:
    return f"parley_{plan.id}"


def monthly_key(plan: Plan) -> str:
    return f"parley_{plan.id}_monthly"


def overage_key(plan: Plan, overage: str) -> str:
    return f"parley_{plan.id}_{overage}_overage"


def lookup_keys(plan: Plan) -> list[str]:
    return [monthly_key(plan), *(overage_key(plan, name) for name in plan.overage)]


def plan_of_lookup_key(key: str | None) -> str | None:
    match = _MONTHLY.match(key or "")
    return match.group(1) if match else None


def overage_tiers(plan: Plan, overage: OverageName) -> list[dict[str, Any]]:
    """Graduated tiers in meter units: the included amount free, then the unit price."""
    meter = METERS[overage]
    included = plan.limit(OVERAGE_LIMITS[overage])
    assert included is not None, "parse_plans guarantees a finite limit for metered overage"
    per_unit = plan.overage[overage] / meter.units_per_limit_unit
    return [
        {"up_to": included * meter.units_per_limit_unit, "unit_amount_decimal": "0"},
        {"up_to": "inf", "unit_amount_decimal": _decimal(per_unit)},
    ]


def _decimal(value: Decimal) -> str:
    # Stripe takes at most 12 decimal places.
    return format(value.quantize(Decimal("0.000000000001")).normalize(), "f")
