-- Knowledge sources (issue 4). Uploaded bytes wait in document_blobs until the background worker
-- has turned them into chunks, so that queued work survives a restart; Drive folders are
-- remembered with their credentials so that a re-sync can pick up changed and deleted files.

CREATE TABLE document_blobs (
    document_id  uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE drive_sources (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id          uuid,
    folder_id       text NOT NULL,
    -- {"access_token": ...} or {"service_account": {...}}; never returned by the API
    credentials     jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'syncing', 'ready', 'failed')),
    error           text,
    file_count      integer NOT NULL DEFAULT 0,
    last_synced_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX drive_sources_tenant_idx ON drive_sources (tenant_id, created_at DESC);

ALTER TABLE documents ADD COLUMN drive_source_id uuid;
ALTER TABLE documents ADD CONSTRAINT documents_drive_source_fk
    FOREIGN KEY (tenant_id, drive_source_id) REFERENCES drive_sources (tenant_id, id)
    ON DELETE CASCADE;
CREATE INDEX documents_drive_source_idx ON documents (drive_source_id)
    WHERE drive_source_id IS NOT NULL;

-- Re-embedding after a model change looks for chunks of another model.
CREATE INDEX chunks_model_idx ON chunks (embedding_model);
