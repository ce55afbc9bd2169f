-- Accounts and auth (dashboard_api). The generated token-signing secret lives here when
-- PARLEY_JWT_SECRET is unset, so that restarts and replicas sharing the database agree on it.
CREATE TABLE auth_signing_secrets (
    id          smallint PRIMARY KEY CHECK (id = 1),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A log-in: every access token names its session, so revoking the session (log-out, password
-- change, refresh-token reuse) ends the tokens issued under it.
CREATE TABLE auth_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    user_agent      text,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

CREATE INDEX users_email_idx ON users (email);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at DESC);
