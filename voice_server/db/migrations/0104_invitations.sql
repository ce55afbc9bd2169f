-- Invitations to join a tenant. The token is sent to the invitee and only its hash is kept.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email        text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
    role         text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash   bytea NOT NULL UNIQUE,
    invited_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    revoked_at   timestamptz,
    UNIQUE (tenant_id, id)
);
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, created_at DESC);
