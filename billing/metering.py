"""The metering outbox: usage_events not yet reported go to Stripe Billing Meters.

Each pass takes a batch of unreported rows under ``FOR UPDATE SKIP LOCKED`` (replicas never
send the same row at once), sends one meter event per row carrying an identifier derived from
the row's idempotency key (Stripe keeps the first event of an identifier, so a retry after a
lost answer never bills twice) and marks the rows it delivered. While Stripe fails, rows stay
unreported and the worker backs off exponentially; nothing is dropped.

Rows that Stripe does not bill (no subscription, a plan without metered overage, a kind with
no meter) are marked ``not_metered``: included usage is free, so there is nothing to send.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import stripe

from billing.catalog import METER_BY_KIND
from billing.metrics import BillingMetrics
from billing.plans import PlanCatalog
from billing.stripe_client import retryable
from billing.subscriptions import granted_plan, mirror_lapsed_grace

_log = logging.getLogger("parley.billing.metering")

# Stripe takes meter events up to 35 days old.
MAX_EVENT_AGE = timedelta(days=35) - timedelta(hours=1)
CONCURRENT_SENDS = 8

_BATCH = """
    SELECT u.id, u.tenant_id, u.kind, u.quantity, u.idempotency_key, u.occurred_at,
           s.plan, s.status, s.grace_until, s.stripe_customer_id
    FROM usage_events u LEFT JOIN subscriptions s ON s.tenant_id = u.tenant_id
    WHERE u.reported_at IS NULL AND (u.next_report_at IS NULL OR u.next_report_at <= now())
    ORDER BY u.id
    LIMIT $1
    FOR UPDATE OF u SKIP LOCKED
"""


def meter_identifier(tenant_id: object, idempotency_key: str) -> str:
    """Stable per usage event, across retries, restarts and replicas (Stripe allows 100 chars)."""
    digest = hashlib.sha256(f"{tenant_id}:{idempotency_key}".encode()).hexdigest()
    return f"parley_{digest[:48]}"


@dataclass
class PassResult:
    sent: int = 0
    not_metered: int = 0
    failed: int = 0
    retryable_failures: int = 0
    batch_full: bool = False


class MeterReporter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        client: stripe.StripeClient,
        catalog: PlanCatalog,
        *,
        batch_size: int,
        interval_s: float,
        max_backoff_s: float,
        default_plan: str,
        metrics: BillingMetrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._default_plan = default_plan
        self._pool = pool
        self._client = client
        self._catalog = catalog
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s

    async def run(self) -> None:
        """Report forever: every interval, at once while batches are full, backing off on
        failures; also moves tenants whose grace period lapsed to the default plan in
        ``tenants.plan``. Cancel the task to stop it."""
        failures = 0
        while True:
            try:
                result = await self.report_once()
                async with self._pool.acquire() as conn:
                    await mirror_lapsed_grace(conn, self._default_plan)
            except (OSError, asyncpg.PostgresError) as exc:
                _log.warning("usage outbox pass failed: %s", exc)
                result = PassResult(retryable_failures=1)
            if result.retryable_failures:
                failures += 1
                delay = min(self._max_backoff_s, self._interval_s * 2**failures)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                continue
            failures = 0
            await asyncio.sleep(0 if result.batch_full else self._interval_s)

    async def report_once(self) -> PassResult:
        result = PassResult()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_BATCH, self._batch_size)
            result.batch_full = len(rows) == self._batch_size
            now = datetime.now(UTC)
            to_send: list[tuple[asyncpg.Record, dict[str, Any]]] = []
            skipped: list[int] = []
            for row in rows:
                params = self._meter_event(row, now)
                if params is None:
                    skipped.append(row["id"])
                else:
                    to_send.append((row, params))
            if skipped:
                await conn.execute(
                    "UPDATE usage_events SET reported_at = now(), report_outcome = 'not_metered' "
                    "WHERE id = ANY($1::bigint[])",
                    skipped,
                )
                result.not_metered = len(skipped)
            outcomes = await self._send_all([params for _, params in to_send])
            for (row, _), error in zip(to_send, outcomes, strict=True):
                if error is None:
                    result.sent += 1
                    await conn.execute(
                        "UPDATE usage_events SET reported_at = now(), report_outcome = 'sent', "
                        "report_attempts = report_attempts + 1, last_report_error = NULL "
                        "WHERE id = $1",
                        row["id"],
                    )
                    continue
                result.failed += 1
                transient = retryable(error)
                result.retryable_failures += transient
                # A refused event (bad customer, missing meter) waits for the operator to fix
                # the setup; an outage is retried on the worker's own backoff.
                await conn.execute(
                    "UPDATE usage_events SET report_attempts = report_attempts + 1, "
                    "last_report_error = $2, next_report_at = $3 WHERE id = $1",
                    row["id"],
                    _describe(error),
                    None if transient else now + timedelta(seconds=self._max_backoff_s),
                )
        if self._metrics is not None:
            for outcome in ("sent", "not_metered", "failed"):
                if count := getattr(result, outcome):
                    self._metrics.meter_events.labels(outcome).inc(count)
        if result.failed:
            _log.warning(
                "usage outbox: %d meter events not delivered (%d retryable)",
                result.failed,
                result.retryable_failures,
            )
        return result

    def _meter_event(self, row: asyncpg.Record, now: datetime) -> dict[str, Any] | None:
        meter = METER_BY_KIND.get(row["kind"])
        customer = row["stripe_customer_id"]
        if meter is None or customer is None:
            return None
        plan_id = granted_plan(row["plan"], row["status"], row["grace_until"], now)
        if plan_id is None or plan_id not in self._catalog:
            return None
        if not self._catalog.get(plan_id).metered(meter.overage):
            return None
        occurred: datetime = row["occurred_at"]
        if now - occurred > MAX_EVENT_AGE:
            _log.error("usage event %s is too old for Stripe meters; not billed", row["id"])
            return None
        quantity: Decimal = row["quantity"]
        return {
            "event_name": meter.event_name,
            "identifier": meter_identifier(row["tenant_id"], row["idempotency_key"]),
            "timestamp": int(occurred.timestamp()),
            "payload": {"stripe_customer_id": customer, "value": _number(quantity)},
        }

    async def _send_all(self, events: list[dict[str, Any]]) -> list[stripe.StripeError | None]:
        gate = asyncio.Semaphore(CONCURRENT_SENDS)

        async def send(params: dict[str, Any]) -> stripe.StripeError | None:
            async with gate:
                try:
                    await self._client.v1.billing.meter_events.create_async(
                        params,  # type: ignore[arg-type]
                        {"idempotency_key": params["identifier"]},
                    )
                except stripe.StripeError as exc:
                    return exc
                return None

        return list(await asyncio.gather(*(send(params) for params in events)))


def _number(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


def _describe(error: stripe.StripeError) -> str:
    return f"{type(error).__name__} {error.http_status or '-'}: {error.user_message or error}"[:500]
