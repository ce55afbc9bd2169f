-- Voice session liveness: the server that holds a call refreshes `last_seen_at` while it lives
-- (voice_server/voice/manager.py), so a session whose server crashed stops counting against the
-- plan's concurrent sessions once it is not seen for PARLEY_VOICE_LIVENESS_S, and the restarted
-- server (same `instance_id`) closes it at once (voice_server/voice/liveness.py).
ALTER TABLE voice_sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE voice_sessions ADD COLUMN instance_id text;
UPDATE voice_sessions SET last_seen_at = coalesce(ended_at, started_at);
CREATE INDEX voice_sessions_open_idx ON voice_sessions (tenant_id, last_seen_at)
    WHERE ended_at IS NULL;
