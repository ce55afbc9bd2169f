"""Refresh tokens (hashed), one family per session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection


@dataclass(frozen=True)
class RefreshTokenRow:
    id: UUID
    tenant_id: UUID
    session_id: UUID
    expires_at: datetime
    used_at: datetime | None


async def create(
    conn: Connection, *, tenant_id: UUID, session_id: UUID, token_hash: bytes, expires_at: datetime
) -> UUID:
    token_id: UUID = await conn.fetchval(
        """INSERT INTO refresh_tokens (tenant_id, session_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        tenant_id,
        session_id,
        token_hash,
        expires_at,
    )
    return token_id


async def find_by_hash(conn: Connection, token_hash: bytes) -> RefreshTokenRow | None:
    """Refresh only: the token is what tells us the tenant."""
    row = await conn.fetchrow(
        """SELECT id, tenant_id, session_id, expires_at, used_at
           FROM refresh_tokens WHERE token_hash = $1""",
        token_hash,
    )
    return RefreshTokenRow(**dict(row)) if row else None


async def mark_used(conn: Connection, tenant_id: UUID, token_id: UUID) -> bool:
    """Claim the token for one rotation; False when it was already used (a reuse)."""
    status = await conn.execute(
        """UPDATE refresh_tokens SET used_at = now()
           WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL""",
        tenant_id,
        token_id,
    )
    return status == "UPDATE 1"


async def set_replacement(
    conn: Connection, tenant_id: UUID, token_id: UUID, replaced_by: UUID
) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET replaced_by = $3 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        token_id,
        replaced_by,
    )
