-- Voice session tokens: what a browser trades its publishable key for before it opens a voice
-- session. Only the hash is kept. A token is bound to one bot, its tenant, an Origin and an
-- expiry, and is spent once (used_at); ended_at is written when the session it opened ends, so
-- a visitor's voice seconds per hour can be summed on every replica.
CREATE TABLE voice_session_tokens (
    token_hash  bytea PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id      uuid NOT NULL,
    key_id      uuid,
    origin      text,
    visitor     text NOT NULL,             -- the visitor's IP address, as the limits see it
    widget      boolean NOT NULL,          -- issued to a publishable key: visitor caps apply
    transport   text NOT NULL DEFAULT 'websocket' CHECK (transport IN ('websocket', 'webrtc')),
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    ended_at    timestamptz,
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX voice_session_tokens_visitor_idx
    ON voice_session_tokens (tenant_id, bot_id, visitor, used_at) WHERE used_at IS NOT NULL;
CREATE INDEX voice_session_tokens_expiry_idx ON voice_session_tokens (issued_at);
