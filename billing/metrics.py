"""Billing's Prometheus instruments, registered on the app's own registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from voice_server.metrics import Metrics


@dataclass(frozen=True)
class BillingMetrics:
    quota_refusals: Counter
    meter_events: Counter
    webhook_events: Counter
    meter_errors: Counter

    @classmethod
    def register(cls, metrics: Metrics) -> BillingMetrics:
        return cls(
            quota_refusals=metrics.counter(
                "parley_billing_quota_refusals_total",
                "Work refused because the plan's limit was reached, by limit.",
                ["limit"],
            ),
            meter_events=metrics.counter(
                "parley_billing_meter_events_total",
                "Usage events leaving the outbox: sent to Stripe, not metered, or failed.",
                ["outcome"],
            ),
            webhook_events=metrics.counter(
                "parley_billing_webhook_events_total",
                "Stripe webhook events received, by type and outcome.",
                ["type", "outcome"],
            ),
            meter_errors=metrics.counter(
                "parley_billing_meter_errors_total",
                "Usage events Stripe Billing Meters reported as not recorded, by error code.",
                ["code"],
            ),
        )
