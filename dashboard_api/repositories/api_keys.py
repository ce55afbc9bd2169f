"""Secret and publishable API keys (only their hashes are stored)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dashboard_api.pagination import Cursor
from voice_server.db.types import Connection


@dataclass(frozen=True)
class ApiKeyRow:
    id: UUID
    tenant_id: UUID
    kind: str
    name: str
    prefix: str
    key_hash: bytes
    scopes: list[str]
    bot_id: UUID | None
    allowed_origins: list[str]
    created_by: UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    display_key: str | None


_COLUMNS = (
    "id, tenant_id, kind, name, prefix, key_hash, scopes, bot_id, allowed_origins, created_by,"
    " created_at, last_used_at, revoked_at, display_key"
)


async def create(
    conn: Connection,
    *,
    tenant_id: UUID,
    kind: str,
    name: str,
    prefix: str,
    key_hash: bytes,
    scopes: Sequence[str],
    bot_id: UUID | None = None,
    allowed_origins: Sequence[str] = (),
    created_by: UUID | None = None,
    display_key: str | None = None,
) -> ApiKeyRow:
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (tenant_id, kind, name, prefix, key_hash, scopes, bot_id,
                                  allowed_origins, created_by, display_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}""",
        tenant_id,
        kind,
        name,
        prefix,
        key_hash,
        list(scopes),
        bot_id,
        list(allowed_origins),
        created_by,
        display_key,
    )
    assert row is not None
    return ApiKeyRow(**dict(row))


async def find_by_prefix(conn: Connection, prefix: str) -> ApiKeyRow | None:
    """Authentication only: the prefix is what tells us the tenant."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = $1", prefix)
    return ApiKeyRow(**dict(row)) if row else None


async def get(conn: Connection, tenant_id: UUID, key_id: UUID) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2", tenant_id, key_id
    )
    return ApiKeyRow(**dict(row)) if row else None


async def touch_last_used(conn: Connection, tenant_id: UUID, key_id: UUID) -> None:
    await conn.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        key_id,
    )


async def revoke(conn: Connection, tenant_id: UUID, key_id: UUID) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        tenant_id,
        key_id,
    )
    return ApiKeyRow(**dict(row)) if row else None


async def list_page(
    conn: Connection,
    tenant_id: UUID,
    *,
    limit: int,
    after: Cursor | None = None,
    kind: str | None = None,
    bot_id: UUID | None = None,
    include_revoked: bool = False,
) -> list[ApiKeyRow]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM api_keys
            WHERE tenant_id = $1
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
              AND ($4::text IS NULL OR kind = $4)
              AND ($5::uuid IS NULL OR bot_id = $5)
              AND ($6 OR revoked_at IS NULL)
            ORDER BY created_at DESC, id DESC
            LIMIT $7""",
        tenant_id,
        after.created_at if after else None,
        after.id if after else None,
        kind,
        bot_id,
        include_revoked,
        limit + 1,
    )
    return [ApiKeyRow(**dict(r)) for r in rows]


async def newest_publishable_for_bot(
    conn: Connection, tenant_id: UUID, bot_id: UUID
) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM api_keys
            WHERE tenant_id = $1 AND bot_id = $2 AND kind = 'publishable'
              AND revoked_at IS NULL AND display_key IS NOT NULL
            ORDER BY created_at DESC LIMIT 1""",
        tenant_id,
        bot_id,
    )
    return ApiKeyRow(**dict(row)) if row else None


async def set_bot_origins(
    conn: Connection, tenant_id: UUID, bot_id: UUID, origins: list[str]
) -> None:
    """A bot's allowed origins are what its publishable keys check."""
    await conn.execute(
        """UPDATE api_keys SET allowed_origins = $3
           WHERE tenant_id = $1 AND bot_id = $2 AND kind = 'publishable'""",
        tenant_id,
        bot_id,
        origins,
    )


async def origin_allowed_for_widgets(conn: Connection, origin: str, bot_id: UUID | None) -> bool:
    """Whether a live publishable key (of this bot, when given) allows ``origin``. CORS
    preflights carry no key, so this is all they can be answered from."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM api_keys
                   WHERE kind = 'publishable' AND revoked_at IS NULL
                     AND $1 = ANY (allowed_origins) AND ($2::uuid IS NULL OR bot_id = $2))""",
            origin,
            bot_id,
        )
    )
