-- Call recordings (opt-in per bot): one Ogg/Opus file per voice session, kept in the recording
-- store (the data directory by default) under `storage_key`. The row goes with its conversation
-- (cascade); the recording store's sweeper deletes files whose row is gone and rows (and files)
-- older than the tenant's retention.
CREATE TABLE call_recordings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL,
    conversation_id   uuid NOT NULL,
    voice_session_id  uuid,
    storage_key       text NOT NULL UNIQUE,
    mime_type         text NOT NULL DEFAULT 'audio/ogg',
    layout            text NOT NULL CHECK (layout IN ('stereo', 'mixed')),
    duration_s        double precision NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
    size_bytes        bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX call_recordings_conversation_idx ON call_recordings (tenant_id, conversation_id);
CREATE INDEX call_recordings_created_idx ON call_recordings (created_at);

-- How many days a tenant keeps its call recordings.
ALTER TABLE tenants ADD COLUMN recording_retention_days integer NOT NULL DEFAULT 30
    CHECK (recording_retention_days BETWEEN 1 AND 3650);
