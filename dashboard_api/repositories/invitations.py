"""Invitations to a tenant (token hashes only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection


@dataclass(frozen=True)
class InvitationRow:
    id: UUID
    tenant_id: UUID
    email: str
    role: str
    invited_by: UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, tenant_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at"


async def create(
    conn: Connection,
    *,
    tenant_id: UUID,
    email: str,
    role: str,
    token_hash: bytes,
    invited_by: UUID | None,
    expires_at: datetime,
) -> InvitationRow:
    row = await conn.fetchrow(
        f"""INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
        tenant_id,
        email,
        role,
        token_hash,
        invited_by,
        expires_at,
    )
    assert row is not None
    return InvitationRow(**dict(row))


async def list_pending(conn: Connection, tenant_id: UUID) -> list[InvitationRow]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM invitations
            WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
              AND expires_at > now()
            ORDER BY created_at DESC LIMIT 500""",
        tenant_id,
    )
    return [InvitationRow(**dict(r)) for r in rows]


async def find_by_hash(conn: Connection, token_hash: bytes) -> InvitationRow | None:
    """Acceptance only: the token is what tells us the tenant."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE", token_hash
    )
    return InvitationRow(**dict(row)) if row else None


async def mark_accepted(conn: Connection, tenant_id: UUID, invitation_id: UUID) -> None:
    await conn.execute(
        "UPDATE invitations SET accepted_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        invitation_id,
    )


async def revoke(conn: Connection, tenant_id: UUID, invitation_id: UUID) -> bool:
    status = await conn.execute(
        """UPDATE invitations SET revoked_at = now()
           WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL""",
        tenant_id,
        invitation_id,
    )
    return status == "UPDATE 1"
