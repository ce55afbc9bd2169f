-- Billing (issue 6): invoice events (paid / payment_failed) are ordered among themselves, apart
-- from subscription events, so that a late invoice event never hides a newer subscription state
-- and a late subscription event is never refused because an invoice event came first.
ALTER TABLE subscriptions ADD COLUMN last_invoice_event_created bigint;
