"""Billing: the plan in force, this period's usage against its limits, upgrade through Stripe
Checkout, the Stripe Portal; a plain explanation when Stripe is not configured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from billing import subscriptions as subs
from billing.routes import BILLING
from dashboard_api.console.forms import Form
from dashboard_api.console.web import ConsoleUser, page
from dashboard_api.guards import require_scope
from voice_server.db import Database
from voice_server.errors import Forbidden
from voice_server.runtime import runtime_of

LIMIT_LABELS = {
    "messages_per_month": "Messages this period",
    "voice_minutes_per_month": "Voice minutes this period",
    "concurrent_voice_sessions": "Calls at the same time",
    "bots": "Bots",
    "documents": "Documents",
    "storage_bytes": "Document storage (bytes)",
}


def _owner(user: ConsoleUser) -> None:
    if not user.may("billing:write"):
        raise Forbidden("only an owner of the organisation manages billing")


class BillingPages(Controller):
    path = "/billing"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Template:
        require_scope(console_user.principal, "analytics:read")
        billing = runtime_of(request.app).get(BILLING)
        summary = await billing.quota.usage_summary(console_user.tenant_id)
        async with database.pool.acquire() as conn:
            row = await subs.get_subscription(conn, console_user.tenant_id)
        status = row.status if row else "none"
        plan = summary.plan
        if row is not None:
            plan = billing.quota.plan_for(row.plan, row.status, row.grace_until, datetime.now(UTC))
        sold = [p for p in billing.catalog.plans.values() if p.sold and p.id != plan.id]
        usage = summary.as_json()
        return page(
            request,
            "billing.html",
            user=console_user,
            plan=plan,
            status=status,
            usage=usage,
            labels=LIMIT_LABELS,
            stripe=billing.stripe is not None,
            sold=sold,
            subscribed=row is not None and row.stripe_customer_id is not None,
        )

    @post("/checkout")
    async def checkout(
        self, request: Request[Any, Any, Any], console_user: NamedDependency[ConsoleUser]
    ) -> Response[Any]:
        _owner(console_user)
        form = await Form.read(request)
        stripe = runtime_of(request.app).get(BILLING).require_stripe()
        session = await stripe.checkout(console_user.tenant_id, form.text("plan", max_length=64))
        return Redirect(path=str(session["url"]), status_code=303)

    @post("/portal")
    async def portal(
        self, request: Request[Any, Any, Any], console_user: NamedDependency[ConsoleUser]
    ) -> Response[Any]:
        _owner(console_user)
        stripe = runtime_of(request.app).get(BILLING).require_stripe()
        session = await stripe.portal(console_user.tenant_id)
        return Redirect(path=str(session["url"]), status_code=303)
