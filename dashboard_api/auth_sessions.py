"""Sessions: start one (access + refresh token), rotate its refresh token, end it.

A session is one log-in. Its refresh tokens form a family: each is used once and replaced by
the next. If a used token comes back, it was copied, so the whole session is revoked and both
the thief and the user must log in again (RFC 9700 section 4.14.2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from dashboard_api.repositories import refresh_tokens, sessions, tenants, users
from dashboard_api.repositories.tenants import TenantRow
from dashboard_api.repositories.users import UserRow
from dashboard_api.services import DashboardServices
from dashboard_api.tokens import IssuedToken
from voice_server.db.types import Connection
from voice_server.errors import Unauthenticated

REFRESH_TAG = "prt_"
_BAD_REFRESH = "the refresh token is not valid; log in again"


@dataclass(frozen=True)
class SessionGrant:
    tenant: TenantRow
    user: UserRow
    session_id: UUID
    access: IssuedToken
    refresh_token: str


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _new_refresh_token(
    conn: Connection, tenant_id: UUID, session_id: UUID, ttl_s: int
) -> tuple[UUID, str]:
    token = REFRESH_TAG + secrets.token_urlsafe(32)
    token_id = await refresh_tokens.create(
        conn,
        tenant_id=tenant_id,
        session_id=session_id,
        token_hash=_hash(token),
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
    )
    return token_id, token


async def start_session(
    conn: Connection,
    services: DashboardServices,
    tenant: TenantRow,
    user: UserRow,
    *,
    user_agent: str | None = None,
) -> SessionGrant:
    async with conn.transaction():
        expires_at = datetime.now(UTC) + timedelta(seconds=services.session_ttl_s)
        session_id = await sessions.create(
            conn, tenant_id=tenant.id, user_id=user.id, expires_at=expires_at, user_agent=user_agent
        )
        _, refresh = await _new_refresh_token(conn, tenant.id, session_id, services.session_ttl_s)
    access = services.tokens.issue(user_id=user.id, tenant_id=tenant.id, session_id=session_id)
    return SessionGrant(
        tenant=tenant, user=user, session_id=session_id, access=access, refresh_token=refresh
    )


async def refresh(conn: Connection, services: DashboardServices, token: str) -> SessionGrant:
    """A new access token and the next refresh token; a reused token ends the session."""
    if not token.startswith(REFRESH_TAG):
        raise Unauthenticated(_BAD_REFRESH)
    row = await refresh_tokens.find_by_hash(conn, _hash(token))
    if row is None:
        raise Unauthenticated(_BAD_REFRESH)
    async with conn.transaction():
        if not await refresh_tokens.mark_used(conn, row.tenant_id, row.id):
            # Reuse: the revocation commits with this transaction, then the caller is refused.
            await sessions.revoke(conn, row.tenant_id, row.session_id, "refresh_token_reuse")
            reused = True
        else:
            reused = False
            if row.expires_at <= datetime.now(UTC):
                raise Unauthenticated(_BAD_REFRESH)
            active = await sessions.get_active(conn, row.tenant_id, row.session_id)
            if active is None:
                raise Unauthenticated("this session has ended; log in again")
            new_id, new_token = await _new_refresh_token(
                conn, row.tenant_id, row.session_id, services.session_ttl_s
            )
            await refresh_tokens.set_replacement(conn, row.tenant_id, row.id, new_id)
            user = await users.get(conn, row.tenant_id, active.user_id)
            tenant = await tenants.get(conn, row.tenant_id)
    if reused:
        raise Unauthenticated(
            "this refresh token was already used; the session is revoked, log in again",
            reason="refresh_token_reuse",
        )
    assert user is not None
    assert tenant is not None
    access = services.tokens.issue(user_id=user.id, tenant_id=tenant.id, session_id=row.session_id)
    return SessionGrant(
        tenant=tenant, user=user, session_id=row.session_id, access=access, refresh_token=new_token
    )


async def end_session(conn: Connection, tenant_id: UUID, session_id: UUID, reason: str) -> None:
    await sessions.revoke(conn, tenant_id, session_id, reason)


async def end_all_sessions(conn: Connection, tenant_id: UUID, user_id: UUID, reason: str) -> int:
    return await sessions.revoke_all_for_user(conn, tenant_id, user_id, reason)
