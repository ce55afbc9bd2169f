-- Ingestion leases (issue 11, item 5). A document being processed holds a lease that its worker
-- renews; any server may take back an expired one, so a crash followed by a quick restart does
-- not leave it 'processing' forever. Each claim counts an attempt, so a document that keeps
-- killing its worker (or the server) is failed after a few tries instead of looping.

ALTER TABLE documents ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE documents ADD COLUMN leased_until timestamptz;

-- Leases written before this migration: expire them now, the reclaim takes them back.
UPDATE documents SET leased_until = now() WHERE status = 'processing';

CREATE INDEX documents_lease_idx ON documents (leased_until) WHERE status = 'processing';
