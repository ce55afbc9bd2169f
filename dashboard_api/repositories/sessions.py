"""Log-in sessions: access tokens name one, and die with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection


@dataclass(frozen=True)
class ActiveSession:
    session_id: UUID
    user_id: UUID
    role: str


async def create(
    conn: Connection,
    *,
    tenant_id: UUID,
    user_id: UUID,
    expires_at: datetime,
    user_agent: str | None = None,
) -> UUID:
    session_id: UUID = await conn.fetchval(
        """INSERT INTO auth_sessions (tenant_id, user_id, expires_at, user_agent)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        tenant_id,
        user_id,
        expires_at,
        (user_agent or "")[:300] or None,
    )
    return session_id


async def get_active(
    conn: Connection, tenant_id: UUID, session_id: UUID, user_id: UUID | None = None
) -> ActiveSession | None:
    """The session and its user's current role, if neither was revoked nor deleted."""
    row = await conn.fetchrow(
        """SELECT s.id, u.id AS user_id, u.role
           FROM auth_sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
           WHERE s.tenant_id = $1 AND s.id = $2 AND ($3::uuid IS NULL OR s.user_id = $3)
             AND s.revoked_at IS NULL AND s.expires_at > now()""",
        tenant_id,
        session_id,
        user_id,
    )
    if row is None:
        return None
    return ActiveSession(session_id=row["id"], user_id=row["user_id"], role=row["role"])


async def revoke(conn: Connection, tenant_id: UUID, session_id: UUID, reason: str) -> bool:
    status = await conn.execute(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3
           WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL""",
        tenant_id,
        session_id,
        reason,
    )
    return status != "UPDATE 0"


async def revoke_all_for_user(
    conn: Connection, tenant_id: UUID, user_id: UUID, reason: str, *, keep: UUID | None = None
) -> int:
    status = await conn.execute(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3
           WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
             AND ($4::uuid IS NULL OR id <> $4)""",
        tenant_id,
        user_id,
        reason,
        keep,
    )
    return int(status.split()[-1])
