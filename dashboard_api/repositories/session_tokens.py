"""Voice session tokens (hashed): issued, spent once, ended (migration 0110)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from voice_server.db.types import Connection

# Rows stay long enough to sum a visitor's last hour of voice, then go.
KEEP_FOR = timedelta(hours=6)
_PURGE_BATCH = 500


@dataclass(frozen=True)
class SpentToken:
    tenant_id: UUID
    bot_id: UUID
    key_id: UUID | None
    origin: str | None
    visitor: str
    widget: bool
    transport: str


async def create(
    conn: Connection,
    *,
    token_hash: bytes,
    tenant_id: UUID,
    bot_id: UUID,
    key_id: UUID | None,
    origin: str | None,
    visitor: str,
    widget: bool,
    transport: str,
    issued_at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO voice_session_tokens (token_hash, tenant_id, bot_id, key_id, origin,
               visitor, widget, transport, issued_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        token_hash,
        tenant_id,
        bot_id,
        key_id,
        origin,
        visitor,
        widget,
        transport,
        issued_at,
        expires_at,
    )


async def spend(conn: Connection, token_hash: bytes, now: datetime) -> SpentToken | None:
    """Mark the token used, in one statement so two replicas cannot both spend it; None when it
    is unknown, expired or already spent. The token is what tells us the tenant."""
    row = await conn.fetchrow(
        """UPDATE voice_session_tokens SET used_at = $2
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
           RETURNING tenant_id, bot_id, key_id, origin, visitor, widget, transport""",
        token_hash,
        now,
    )
    return SpentToken(**dict(row)) if row else None


async def end(conn: Connection, tenant_id: UUID, token_hash: bytes, now: datetime) -> None:
    await conn.execute(
        """UPDATE voice_session_tokens SET ended_at = $3
           WHERE tenant_id = $1 AND token_hash = $2 AND ended_at IS NULL""",
        tenant_id,
        token_hash,
        now,
    )


async def visitor_voice_seconds(
    conn: Connection, tenant_id: UUID, bot_id: UUID, visitor: str, now: datetime
) -> float:
    """Seconds of voice the visitor's sessions on this bot spent in the hour before ``now``. A
    session the server never saw end (a crash) counts only while it is under an hour old."""
    since = now - timedelta(hours=1)
    seconds = await conn.fetchval(
        """SELECT coalesce(sum(extract(epoch FROM
                      least(coalesce(ended_at, $5), $5) - greatest(used_at, $4))), 0)
           FROM voice_session_tokens
           WHERE tenant_id = $1 AND bot_id = $2 AND visitor = $3 AND widget
             AND used_at IS NOT NULL AND used_at > $4 - interval '6 hours'
             AND coalesce(ended_at, CASE WHEN used_at > $4 THEN $5 END) > $4""",
        tenant_id,
        bot_id,
        visitor,
        since,
        now,
    )
    return max(0.0, float(seconds))


async def purge(conn: Connection, now: datetime) -> None:
    """Drop a bounded batch of old rows (called on issue: no background task to own)."""
    await conn.execute(
        """DELETE FROM voice_session_tokens WHERE token_hash IN (
               SELECT token_hash FROM voice_session_tokens WHERE issued_at < $1 LIMIT $2)""",
        now - KEEP_FOR,
        _PURGE_BATCH,
    )
