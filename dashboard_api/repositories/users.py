"""Users of a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection


@dataclass(frozen=True)
class UserRow:
    id: UUID
    tenant_id: UUID
    email: str
    display_name: str | None
    role: str
    password_hash: str | None
    created_at: datetime
    last_login_at: datetime | None


_COLUMNS = "id, tenant_id, email, display_name, role, password_hash, created_at, last_login_at"


async def create(
    conn: Connection,
    *,
    tenant_id: UUID,
    email: str,
    role: str,
    password_hash: str | None,
    display_name: str | None = None,
    external_issuer: str | None = None,
    external_subject: str | None = None,
) -> UserRow:
    row = await conn.fetchrow(
        f"""INSERT INTO users (tenant_id, email, role, password_hash, display_name,
                               external_issuer, external_subject)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        tenant_id,
        email,
        role,
        password_hash,
        display_name,
        external_issuer,
        external_subject,
    )
    assert row is not None
    return UserRow(**dict(row))


async def get(conn: Connection, tenant_id: UUID, user_id: UUID) -> UserRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2", tenant_id, user_id
    )
    return UserRow(**dict(row)) if row else None


async def find_for_login(conn: Connection, email: str) -> list[UserRow]:
    """Every account with this email (one per tenant), for log-in only: it finds the tenant."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM users
            WHERE email = $1 AND password_hash IS NOT NULL ORDER BY created_at""",
        email,
    )
    return [UserRow(**dict(r)) for r in rows]


async def record_login(conn: Connection, tenant_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "UPDATE users SET last_login_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        user_id,
    )


async def set_password_hash(
    conn: Connection, tenant_id: UUID, user_id: UUID, password_hash: str
) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        user_id,
        password_hash,
    )


async def find_by_external(conn: Connection, issuer: str, subject: str) -> UserRow | None:
    """External sign-in only: the identity is what tells us the tenant."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE external_issuer = $1 AND external_subject = $2",
        issuer,
        subject,
    )
    return UserRow(**dict(row)) if row else None


async def list_for_tenant(conn: Connection, tenant_id: UUID) -> list[UserRow]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY created_at LIMIT 1000",
        tenant_id,
    )
    return [UserRow(**dict(r)) for r in rows]


async def set_role(conn: Connection, tenant_id: UUID, user_id: UUID, role: str) -> UserRow | None:
    row = await conn.fetchrow(
        f"UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        tenant_id,
        user_id,
        role,
    )
    return UserRow(**dict(row)) if row else None


async def delete(conn: Connection, tenant_id: UUID, user_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM users WHERE tenant_id = $1 AND id = $2", tenant_id, user_id
    )
    return status == "DELETE 1"


async def count_owners(conn: Connection, tenant_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM users WHERE tenant_id = $1 AND role = 'owner'", tenant_id
    )
    return value


async def any_exist(conn: Connection) -> bool:
    """Whether this server has any account yet (the first one may always sign up)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"))
