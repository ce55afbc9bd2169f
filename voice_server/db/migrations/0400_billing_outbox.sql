-- Billing (issue 6): the usage outbox's bookkeeping and the indexes the quota check reads.

-- reported_at is set once Stripe acknowledged the meter event, or once the event turned out not
-- to be billable through Stripe (report_outcome says which); report_attempts counts tries.
ALTER TABLE usage_events
    ADD COLUMN report_outcome    text CHECK (report_outcome IN ('sent', 'not_metered')),
    ADD COLUMN next_report_at    timestamptz,
    ADD COLUMN last_report_error text;

-- The quota check sums a tenant's usage of one kind since the period start: with quantity in the
-- index that is an index-only scan, however many events the month holds.
CREATE INDEX usage_events_quota_idx ON usage_events (tenant_id, kind, occurred_at) INCLUDE (quantity);

-- Concurrent voice sessions are the tenant's open ones.
CREATE INDEX voice_sessions_open_billing_idx ON voice_sessions (tenant_id) WHERE ended_at IS NULL;

-- Hourly totals of the ledger, kept by billing.ledger.record_usage in the same transaction as the
-- event: the quota check sums at most ~750 buckets a month instead of every event.
CREATE TABLE usage_counters (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    hour       timestamptz NOT NULL,
    quantity   numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, kind, hour) INCLUDE (quantity)
);
INSERT INTO usage_counters (tenant_id, kind, hour, quantity)
SELECT tenant_id, kind, date_trunc('hour', occurred_at, 'UTC'), sum(quantity)
FROM usage_events GROUP BY 1, 2, 3;
