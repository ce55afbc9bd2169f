"""Billing HTTP routes. The Stripe webhook needs no principal: Stripe's signature is its proof."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from billing.services import BillingServices
from voice_server.errors import ServiceUnavailable


def provide_billing(state: State) -> BillingServices:
    services: BillingServices | None = state.get("billing")
    if services is None:
        raise ServiceUnavailable("the server is starting or stopping; retry shortly")
    return services


class StripeWebhookController(Controller):
    path = "/v1/billing/webhooks"
    dependencies = {"billing": Provide(provide_billing, sync_to_thread=False)}
    include_in_schema = True

    @post("/stripe", status_code=200, summary="Stripe webhook endpoint")
    async def stripe_webhook(
        self, request: Request[Any, Any, Any], billing: NamedDependency[BillingServices]
    ) -> dict[str, Any]:
        """Verifies Stripe's signature, logs the event, applies it once. Replays answer 200."""
        processor = billing.require_webhooks()
        event = processor.verify(await request.body(), request.headers.get("stripe-signature"))
        outcome = await processor.receive(event)
        return {"received": True, "id": event["id"], "outcome": outcome}
