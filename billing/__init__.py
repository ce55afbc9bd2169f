"""Plans, quotas, Stripe subscriptions, metering and webhooks (issue #6)."""
