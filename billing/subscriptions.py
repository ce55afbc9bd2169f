"""The subscriptions aggregate: each tenant's Stripe subscription state and the plan it grants.

Stripe's webhooks write these rows (billing.webhooks); the quota check reads them. A row only
moves forward: every write carries the ``created`` time of the Stripe event it comes from and is
skipped when an equal-or-newer event was already applied (see :func:`apply_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from voice_server.db.types import Connection

# Statuses that grant the subscribed plan; past_due keeps it until the grace period ends.
GRANTING = frozenset({"active", "trialing"})
IN_GRACE = frozenset({"past_due", "unpaid"})


@dataclass(frozen=True)
class Subscription:
    tenant_id: UUID
    plan: str
    status: str
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_until: datetime | None
    last_event_created: int | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Subscription:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def granted_plan(
    plan: str | None, status: str | None, grace_until: datetime | None, now: datetime
) -> str | None:
    """The plan a subscription grants right now, or None (the tenant gets the default plan)."""
    if plan is None or status is None:
        return None
    if status in GRANTING:
        return plan
    if status in IN_GRACE and (grace_until is None or grace_until > now):
        return plan
    return None


_COLUMNS = ", ".join(Subscription.__dataclass_fields__)


async def get_subscription(conn: Connection, tenant_id: UUID) -> Subscription | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE tenant_id = $1", tenant_id
    )
    return Subscription.from_row(row) if row else None


async def tenant_for_customer(conn: Connection, customer_id: str) -> UUID | None:
    tenant_id: UUID | None = await conn.fetchval(
        "SELECT tenant_id FROM subscriptions WHERE stripe_customer_id = $1", customer_id
    )
    return tenant_id


async def tenant_exists(conn: Connection, tenant_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id))


async def attach_customer(
    conn: Connection, tenant_id: UUID, customer_id: str, default_plan: str
) -> str:
    """Remember the tenant's Stripe customer (a row with status ``none`` until it subscribes);
    returns the customer id on record, which wins if another request stored one first."""
    stored: str = await conn.fetchval(
        """
        INSERT INTO subscriptions (tenant_id, plan, status, stripe_customer_id)
        VALUES ($1, $2, 'none', $3)
        ON CONFLICT (tenant_id) DO UPDATE
            SET stripe_customer_id =
                coalesce(subscriptions.stripe_customer_id, EXCLUDED.stripe_customer_id)
        RETURNING stripe_customer_id
        """,
        tenant_id,
        default_plan,
        customer_id,
    )
    return stored


async def apply_state(
    conn: Connection,
    tenant_id: UUID,
    *,
    event_created: int,
    changes: dict[str, Any],
    default_plan: str,
) -> bool:
    """Apply ``changes`` (column -> value) if the event is not older than the row's last one.

    An event of the same second as the last applied one still applies (Stripe's ``created`` has
    one-second resolution), but nothing revives a canceled subscription of the same id.
    Returns whether the row changed.
    """
    allowed = set(Subscription.__dataclass_fields__) - {"tenant_id", "last_event_created"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown subscription columns {sorted(unknown)}")
    # Make sure the row exists, then update it under its lock.
    await conn.execute(
        """
        INSERT INTO subscriptions (tenant_id, plan, status) VALUES ($1, $2, 'none')
        ON CONFLICT (tenant_id) DO NOTHING
        """,
        tenant_id,
        default_plan,
    )
    current = await conn.fetchrow(
        "SELECT status, stripe_subscription_id, last_event_created FROM subscriptions "
        "WHERE tenant_id = $1 FOR UPDATE",
        tenant_id,
    )
    assert current is not None
    last = current["last_event_created"]
    if last is not None and event_created < last:
        return False
    same_subscription = (
        changes.get("stripe_subscription_id", current["stripe_subscription_id"])
        == current["stripe_subscription_id"]
    )
    if (
        current["status"] == "canceled"
        and same_subscription
        and changes.get("status")
        not in (
            None,
            "canceled",
        )
    ):
        # A canceled Stripe subscription never comes back (a new one has a new id), so a late
        # `updated` of the same second as the `deleted` must not revive it.
        return False
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    await conn.execute(
        f"UPDATE subscriptions SET {assignments}, last_event_created = $2, updated_at = now() "
        "WHERE tenant_id = $1",
        tenant_id,
        event_created,
        *[changes[name] for name in names],
    )
    return True


async def mirror_tenant_plan(conn: Connection, tenant_id: UUID, plan: str) -> None:
    """Keep ``tenants.plan`` (what the dashboard shows) equal to the plan in force."""
    await conn.execute(
        "UPDATE tenants SET plan = $2, updated_at = now() WHERE id = $1 AND plan <> $2",
        tenant_id,
        plan,
    )


async def link_subscription(
    conn: Connection, tenant_id: UUID, changes: dict[str, Any], *, default_plan: str
) -> None:
    """Record a subscription first seen in a completed Checkout, without advancing the event
    clock, so the subscription's own earlier-dated events still apply after it."""
    await conn.execute(
        "INSERT INTO subscriptions (tenant_id, plan, status) VALUES ($1, $2, 'none') "
        "ON CONFLICT (tenant_id) DO NOTHING",
        tenant_id,
        default_plan,
    )
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE subscriptions SET {assignments}, updated_at = now() WHERE tenant_id = $1",
        tenant_id,
        *[changes[name] for name in names],
    )


async def apply_invoice(
    conn: Connection,
    tenant_id: UUID,
    *,
    event_created: int,
    paid: bool,
    grace: datetime | None,
) -> bool:
    """A paid invoice ends the grace period; a failed one starts it (once). Invoice events are
    ordered among themselves, and change the status only when newer than the subscription
    state, which Stripe also reports through subscription events."""
    if paid:
        statement = """
            UPDATE subscriptions SET
                grace_until = NULL,
                status = CASE WHEN status IN ('past_due', 'unpaid')
                              AND $2 >= coalesce(last_event_created, 0) THEN 'active'
                              ELSE status END,
                last_invoice_event_created = $2, updated_at = now()
            WHERE tenant_id = $1 AND status <> 'canceled'
              AND $2 >= coalesce(last_invoice_event_created, 0)
        """
        result = await conn.execute(statement, tenant_id, event_created)
    else:
        statement = """
            UPDATE subscriptions SET
                grace_until = coalesce(grace_until, $3),
                status = CASE WHEN status IN ('active', 'trialing')
                              AND $2 >= coalesce(last_event_created, 0) THEN 'past_due'
                              ELSE status END,
                last_invoice_event_created = $2, updated_at = now()
            WHERE tenant_id = $1 AND status <> 'canceled'
              AND $2 >= coalesce(last_invoice_event_created, 0)
        """
        result = await conn.execute(statement, tenant_id, event_created, grace)
    return result.endswith(" 1")


async def mirror_lapsed_grace(conn: Connection, default_plan: str) -> int:
    """Tenants whose grace period ended fall back to the default plan in ``tenants.plan`` too
    (the quota check already resolves it at read time). Returns how many were updated."""
    result = await conn.execute(
        """
        UPDATE tenants t SET plan = $1, updated_at = now()
        FROM subscriptions s
        WHERE s.tenant_id = t.id AND s.status IN ('past_due', 'unpaid')
          AND s.grace_until <= now() AND t.plan <> $1
        """,
        default_plan,
    )
    return int(result.split()[-1])
