"""The usage ledger: one row per billable unit of work, written in the caller's transaction.

``record_usage`` is called by chat and voice inside the same transaction as the message or turn
it belongs to, so usage exists exactly when the work it bills for exists. The idempotency key
(unique per tenant) makes a retried request or a replayed turn record nothing twice. The same
rows are the outbox the meter reporter sends to Stripe (billing.metering).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args
from uuid import UUID

from voice_server.db.types import Connection

UsageKind = Literal["message", "voice_seconds", "storage_bytes", "document"]
USAGE_KINDS: frozenset[str] = frozenset(get_args(UsageKind))
MAX_KEY_LENGTH = 200


async def record_usage(
    conn: Connection,
    tenant_id: UUID,
    kind: UsageKind,
    quantity: float | int | Decimal,
    idempotency_key: str,
    *,
    bot_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Record ``quantity`` of ``kind`` once per ``idempotency_key``; True if this call recorded it.

    Use a key that names the work, e.g. ``f"message:{message_id}"`` or
    ``f"voice:{session_id}:{turn_ordinal}"``, so a retry of the same work finds it already there.
    The hour's counter row stays locked until the caller commits: call this last in the
    transaction, after the slow parts, so concurrent requests of the tenant do not queue on it.
    """
    if kind not in USAGE_KINDS:
        raise ValueError(f"unknown usage kind {kind!r}; one of {sorted(USAGE_KINDS)}")
    if quantity < 0:
        raise ValueError("usage quantity must not be negative")
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency_key must be 1-{MAX_KEY_LENGTH} characters")
    row_id = await conn.fetchval(
        """
        INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key, bot_id, occurred_at)
        VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
        RETURNING id
        """,
        tenant_id,
        kind,
        Decimal(str(quantity)),
        idempotency_key,
        bot_id,
        occurred_at,
    )
    if row_id is None:
        return False
    await conn.execute(
        """
        INSERT INTO usage_counters (tenant_id, kind, hour, quantity)
        VALUES ($1, $2, date_trunc('hour', coalesce($3, now()), 'UTC'), $4)
        ON CONFLICT (tenant_id, kind, hour)
            DO UPDATE SET quantity = usage_counters.quantity + EXCLUDED.quantity
        """,
        tenant_id,
        kind,
        occurred_at,
        Decimal(str(quantity)),
    )
    return True
