"""Plans and their limits, read from a TOML file (see billing/plans.toml).

A limit of ``None`` means unlimited. Parsing is strict: an unknown key or a misspelt limit is an
error naming the plan and the key, never a silently unlimited plan.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

BUNDLED_PLANS = Path(__file__).with_name("plans.toml")

LimitName = Literal[
    "bots",
    "documents",
    "storage_bytes",
    "messages_per_month",
    "voice_minutes_per_month",
    "concurrent_voice_sessions",
]
LIMIT_NAMES: tuple[LimitName, ...] = (
    "bots",
    "documents",
    "storage_bytes",
    "messages_per_month",
    "voice_minutes_per_month",
    "concurrent_voice_sessions",
)
# What may be billed past the included amount, and the limit it extends.
OverageName = Literal["messages", "voice_minutes"]
OVERAGE_LIMITS: dict[str, LimitName] = {
    "messages": "messages_per_month",
    "voice_minutes": "voice_minutes_per_month",
}


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    price_cents: int
    limits: dict[LimitName, int | None]
    # Unit price in (decimal) cents of each metered overage: per message, per voice minute.
    overage: dict[OverageName, Decimal] = field(default_factory=dict)

    @property
    def sold(self) -> bool:
        """Whether owners can subscribe to it through Stripe."""
        return self.price_cents > 0

    def limit(self, name: LimitName) -> int | None:
        return self.limits[name]

    def metered(self, name: OverageName) -> bool:
        return name in self.overage


@dataclass(frozen=True)
class PlanCatalog:
    plans: dict[str, Plan]

    def get(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise KeyError(f"unknown plan {plan_id!r}") from None

    def __contains__(self, plan_id: object) -> bool:
        return plan_id in self.plans

    def sold(self) -> list[Plan]:
        return [plan for plan in self.plans.values() if plan.sold]


def load_plans(path: Path | None = None) -> PlanCatalog:
    """Read and validate a plans file; raises ``ValueError`` naming the bad plan and key."""
    source = path or BUNDLED_PLANS
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read plans file {source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"plans file {source} is not valid TOML: {exc}") from None
    return parse_plans(data, source=str(source))


def parse_plans(data: dict[str, Any], *, source: str = "plans") -> PlanCatalog:
    extra = set(data) - {"plans"}
    if extra:
        raise ValueError(f"{source}: unknown top-level keys {sorted(extra)}")
    raw_plans = data.get("plans")
    if not isinstance(raw_plans, dict) or not raw_plans:
        raise ValueError(f"{source}: no [plans.<id>] tables")
    plans = {plan_id: _parse_plan(plan_id, raw, source) for plan_id, raw in raw_plans.items()}
    return PlanCatalog(plans)


def _parse_plan(plan_id: str, raw: Any, source: str) -> Plan:
    where = f"{source}: plan {plan_id!r}"
    if not plan_id.replace("_", "").isalnum() or not plan_id.islower():
        raise ValueError(f"{where}: ids are lower-case letters, digits and underscores")
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a table")
    allowed = {"name", "price_cents", "overage", *LIMIT_NAMES}
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    limits: dict[LimitName, int | None] = {}
    for name in LIMIT_NAMES:
        if name not in raw:
            raise ValueError(f'{where}: missing {name} (a number or "unlimited")')
        value = raw[name]
        if value == "unlimited":
            limits[name] = None
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            limits[name] = value
        else:
            raise ValueError(f'{where}: {name} must be a non-negative integer or "unlimited"')
    price = raw.get("price_cents", 0)
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise ValueError(f"{where}: price_cents must be a non-negative integer")
    overage: dict[OverageName, Decimal] = {}
    raw_overage = raw.get("overage", {})
    if not isinstance(raw_overage, dict):
        raise ValueError(f"{where}: overage must be a table")
    for key, value in raw_overage.items():
        if key not in OVERAGE_LIMITS:
            raise ValueError(f"{where}: overage.{key} is not one of {sorted(OVERAGE_LIMITS)}")
        try:
            unit = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{where}: overage.{key} must be a decimal number of cents") from None
        if unit <= 0:
            raise ValueError(f"{where}: overage.{key} must be positive")
        if limits[OVERAGE_LIMITS[key]] is None:
            raise ValueError(f"{where}: overage.{key} needs a finite {OVERAGE_LIMITS[key]}")
        overage[key] = unit
    if overage and price == 0:
        raise ValueError(f"{where}: metered overage needs a paid plan (price_cents > 0)")
    return Plan(
        id=plan_id,
        name=str(raw.get("name", plan_id)),
        price_cents=price,
        limits=limits,
        overage=overage,
    )
