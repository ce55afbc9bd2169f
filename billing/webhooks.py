"""Stripe webhooks: verify, log, then apply each event exactly once and never backwards.

1. The signature (and its timestamp, within the tolerance) is checked with the Stripe SDK.
2. The event is written to ``stripe_events`` before anything else, in its own transaction.
3. Under that row's lock, an already processed event is a no-op (replays answer 200); otherwise
   its handler runs and the event is marked processed in the same transaction.

Ordering: subscription events carry the whole subscription and are applied only if not older
than the last one applied (``subscriptions.last_event_created``); invoice events are ordered
among themselves (``last_invoice_event_created``) and only change the status when they are newer
than the subscription state. ``checkout.session.completed`` only links a new subscription.

Stripe Billing Meter error reports (``v1.billing.meter.error_report_triggered``, a v2 "thin"
event from an event destination: ``created`` is an ISO timestamp, the details are in ``data``
only when the event was fetched) are logged as a warning naming the meter and the error codes,
kept in the event log like every event, and counted in
``parley_billing_meter_errors_total{code}``: usage Stripe refused is revenue lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import stripe

from billing import subscriptions as subs
from billing.metrics import BillingMetrics
from billing.plans import PlanCatalog
from billing.stripe_objects import (
    customer_of,
    subscription_changes,
    subscription_of_invoice,
    tenant_hint,
)
from voice_server.db.types import Connection
from voice_server.errors import InvalidInput

_log = logging.getLogger("parley.billing.webhooks")

Handler = Callable[[Connection, dict[str, Any], int], Awaitable[UUID | None]]


class WebhookProcessor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: PlanCatalog,
        *,
        secret: str,
        tolerance_s: int,
        default_plan: str,
        grace: timedelta,
        metrics: BillingMetrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._pool = pool
        self._catalog = catalog
        # Several signing secrets, comma-separated: the webhook endpoint's and the event
        # destination's (thin events), or an old and a new one while rotating.
        self._secrets = [part.strip() for part in secret.split(",") if part.strip()]
        if not self._secrets:
            raise ValueError("the Stripe webhook secret is empty")
        self._tolerance_s = tolerance_s
        self._default_plan = default_plan
        self._grace = grace
        self._handlers: dict[str, Handler] = {
            "checkout.session.completed": self._checkout_completed,
            "customer.subscription.created": self._subscription_changed,
            "customer.subscription.updated": self._subscription_changed,
            "customer.subscription.deleted": self._subscription_changed,
            "invoice.paid": self._invoice_paid,
            "invoice.payment_failed": self._invoice_failed,
            METER_ERROR_REPORT: self._meter_errors,
        }

    def verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event, if Stripe signed it recently enough; InvalidInput (400) otherwise."""
        if not signature:
            raise InvalidInput("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("webhook payload is not UTF-8") from None
        failures: list[stripe.SignatureVerificationError] = []
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(text, signature, secret, self._tolerance_s)
                break
            except stripe.SignatureVerificationError as exc:
                failures.append(exc)
        else:
            detail = failures[-1].user_message or failures[-1]
            raise InvalidInput(f"invalid Stripe signature: {detail}") from None
        try:
            event = json.loads(text)
        except ValueError:
            raise InvalidInput("webhook payload is not JSON") from None
        if not isinstance(event, dict) or not all(k in event for k in ("id", "type", "created")):
            raise InvalidInput("webhook payload is not a Stripe event")
        try:
            created_epoch(event["created"])
        except ValueError:
            raise InvalidInput("webhook event has no valid `created` time") from None
        return event

    async def receive(self, event: dict[str, Any]) -> str:
        """Log and apply one verified event: ``processed``, ``ignored`` or ``duplicate``."""
        try:
            outcome = await self._receive(event)
        except Exception:
            outcome = "failed"
            raise
        finally:
            if self._metrics is not None:
                self._metrics.webhook_events.labels(str(event["type"]), outcome).inc()
        return outcome

    async def _receive(self, event: dict[str, Any]) -> str:
        event_id, event_type = str(event["id"]), str(event["type"])
        created = created_epoch(event["created"])
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO stripe_events (id, type, created, payload) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (id) DO NOTHING",
                event_id,
                event_type,
                created,
                json.dumps(event),
            )
            try:
                async with conn.transaction():
                    processed = await conn.fetchval(
                        "SELECT processed_at FROM stripe_events WHERE id = $1 FOR UPDATE",
                        event_id,
                    )
                    if processed is not None:
                        return "duplicate"
                    handler = self._handlers.get(event_type)
                    tenant_id = None
                    if handler is not None:
                        tenant_id = await handler(conn, _object_of(event), created)
                    await conn.execute(
                        "UPDATE stripe_events SET processed_at = now(), tenant_id = $2, "
                        "error = NULL WHERE id = $1",
                        event_id,
                        tenant_id,
                    )
            except Exception as exc:
                # Logged and answered 500, so that Stripe delivers the event again later.
                await conn.execute(
                    "UPDATE stripe_events SET error = $2 WHERE id = $1", event_id, repr(exc)[:500]
                )
                raise
        return "processed" if handler is not None else "ignored"

    # --- tenant resolution -----------------------------------------------------------------

    async def _tenant(self, conn: Connection, obj: dict[str, Any]) -> UUID | None:
        hint = tenant_hint(obj)
        if hint:
            try:
                tenant_id = UUID(hint)
            except ValueError:
                tenant_id = None
            if tenant_id is not None and await subs.tenant_exists(conn, tenant_id):
                return tenant_id
        customer = customer_of(obj)
        if customer:
            return await subs.tenant_for_customer(conn, customer)
        return None

    async def _after(self, conn: Connection, tenant_id: UUID) -> None:
        row = await subs.get_subscription(conn, tenant_id)
        if row is None:
            return
        granted = subs.granted_plan(row.plan, row.status, row.grace_until, datetime.now(UTC))
        plan = granted if granted in self._catalog else self._default_plan
        await subs.mirror_tenant_plan(conn, tenant_id, plan or self._default_plan)

    def _known_plan(self, changes: dict[str, Any]) -> None:
        plan = changes.get("plan")
        if plan is not None and plan not in self._catalog:
            _log.warning("subscription for unknown plan %r; keeping the stored plan", plan)
            del changes["plan"]

    # --- handlers ---------------------------------------------------------------------------

    async def _checkout_completed(
        self, conn: Connection, session: dict[str, Any], created: int
    ) -> UUID | None:
        if session.get("mode") != "subscription" or not session.get("subscription"):
            return None
        tenant_id = await self._tenant(conn, session)
        if tenant_id is None:
            _log.warning("checkout session %s for no known tenant", session.get("id"))
            return None
        subscription_id = str(session["subscription"])
        current = await subs.get_subscription(conn, tenant_id)
        if current is not None and current.stripe_subscription_id == subscription_id:
            return tenant_id  # the subscription's own events already described it
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        plan = (session.get("metadata") or {}).get("plan")
        changes: dict[str, Any] = {
            "stripe_customer_id": customer_of(session),
            "stripe_subscription_id": subscription_id,
            "status": "active" if paid else "incomplete",
            "cancel_at_period_end": False,
            "grace_until": None,
        }
        if plan:
            changes["plan"] = plan
        self._known_plan(changes)
        # Linking only: the subscription's own (possibly older) events must still apply.
        await subs.link_subscription(conn, tenant_id, changes, default_plan=self._default_plan)
        await self._after(conn, tenant_id)
        return tenant_id

    async def _subscription_changed(
        self, conn: Connection, subscription: dict[str, Any], created: int
    ) -> UUID | None:
        tenant_id = await self._tenant(conn, subscription)
        if tenant_id is None:
            _log.warning("subscription %s for no known tenant", subscription.get("id"))
            return None
        changes = subscription_changes(subscription)
        self._known_plan(changes)
        current = await subs.get_subscription(conn, tenant_id)
        if changes["status"] in subs.IN_GRACE:
            existing = current.grace_until if current else None
            changes["grace_until"] = existing or datetime.now(UTC) + self._grace
        else:
            changes["grace_until"] = None
        await subs.apply_state(
            conn, tenant_id, event_created=created, changes=changes,
            default_plan=self._default_plan,
        )  # fmt: skip
        await self._after(conn, tenant_id)
        return tenant_id

    async def _invoice_tenant(self, conn: Connection, invoice: dict[str, Any]) -> UUID | None:
        tenant_id = await self._tenant(conn, invoice)
        if tenant_id is None:
            return None
        current = await subs.get_subscription(conn, tenant_id)
        subscription_id = subscription_of_invoice(invoice)
        if current is None or subscription_id != current.stripe_subscription_id:
            return None  # not the subscription we know (one-off, or an old one)
        return tenant_id

    async def _invoice_paid(
        self, conn: Connection, invoice: dict[str, Any], created: int
    ) -> UUID | None:
        tenant_id = await self._invoice_tenant(conn, invoice)
        if tenant_id is not None:
            await subs.apply_invoice(conn, tenant_id, event_created=created, paid=True, grace=None)
            await self._after(conn, tenant_id)
        return tenant_id

    async def _invoice_failed(
        self, conn: Connection, invoice: dict[str, Any], created: int
    ) -> UUID | None:
        tenant_id = await self._invoice_tenant(conn, invoice)
        if tenant_id is not None:
            await subs.apply_invoice(
                conn, tenant_id, event_created=created, paid=False,
                grace=datetime.now(UTC) + self._grace,
            )  # fmt: skip
            await self._after(conn, tenant_id)
        return tenant_id

    async def _meter_errors(
        self, conn: Connection, report: dict[str, Any], created: int
    ) -> UUID | None:
        meter = (report.get("related_object") or {}).get("id") or "an unknown meter"
        reason = report.get("reason") or {}
        error_types = [t for t in reason.get("error_types") or [] if isinstance(t, dict)]
        counts = {
            str(t.get("code") or "unknown"): int(t.get("error_count") or 1) for t in error_types
        }
        if self._metrics is not None:
            for code, count in (counts or {"unknown": 1}).items():
                self._metrics.meter_errors.labels(code).inc(count)
        if not counts:
            _log.warning(
                "Stripe reports meter errors for %s (event %s); the details are in the Stripe "
                "Dashboard (Billing > Meters)", meter, report.get("event_id"),
            )  # fmt: skip
            return None
        samples = [
            str(e.get("error_message"))
            for t in error_types
            for e in (t.get("sample_errors") or [])[:1]
            if isinstance(e, dict)
        ]
        _log.warning(
            "Stripe could not record %s usage event(s) for meter %s between %s and %s: %s%s",
            reason.get("error_count", sum(counts.values())), meter,
            report.get("validation_start"), report.get("validation_end"),
            ", ".join(f"{code} x{count}" for code, count in counts.items()),
            f" (e.g. {samples[0]})" if samples else "",
        )  # fmt: skip
        return None


METER_ERROR_REPORT = "v1.billing.meter.error_report_triggered"


def created_epoch(value: Any) -> int:
    """``created`` of a v1 event (Unix seconds) or of a v2 event (ISO 8601) as Unix seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    raise ValueError(f"not a time: {value!r}")


def _object_of(event: dict[str, Any]) -> dict[str, Any]:
    """What a handler works on: ``data.object`` of a v1 (snapshot) event; of a v2 (thin) event,
    its ``data`` (present when fetched) with the ``related_object`` reference and the id."""
    data = event.get("data") or {}
    if event.get("object") == "v2.core.event":
        return {
            **(data if isinstance(data, dict) else {}),
            "related_object": event.get("related_object") or {},
            "event_id": event.get("id"),
        }
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}
