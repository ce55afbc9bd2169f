"""Bots of a tenant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from dashboard_api.pagination import Cursor
from voice_server.db.types import Connection


@dataclass(frozen=True)
class BotRow:
    id: UUID
    tenant_id: UUID
    name: str
    system_prompt: str
    greeting: str
    language: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


_COLUMNS = "id, tenant_id, name, system_prompt, greeting, language, config, created_at, updated_at"


def _bot(row: asyncpg.Record) -> BotRow:
    values = dict(row)
    config = values["config"]
    values["config"] = json.loads(config) if isinstance(config, str) else dict(config)
    return BotRow(**values)


async def create(
    conn: Connection,
    *,
    tenant_id: UUID,
    name: str,
    system_prompt: str = "",
    greeting: str = "",
    language: str = "en",
    config: dict[str, Any] | None = None,
) -> BotRow:
    row = await conn.fetchrow(
        f"""INSERT INTO bots (tenant_id, name, system_prompt, greeting, language, config)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING {_COLUMNS}""",
        tenant_id,
        name,
        system_prompt,
        greeting,
        language,
        json.dumps(config or {}),
    )
    assert row is not None
    return _bot(row)


async def get(conn: Connection, tenant_id: UUID, bot_id: UUID) -> BotRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM bots WHERE tenant_id = $1 AND id = $2", tenant_id, bot_id
    )
    return _bot(row) if row else None


async def list_page(
    conn: Connection,
    tenant_id: UUID,
    *,
    limit: int,
    after: Cursor | None = None,
    name_contains: str | None = None,
) -> list[BotRow]:
    """Newest first; ``limit + 1`` rows are read so the caller knows if a next page exists."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM bots
            WHERE tenant_id = $1
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
              AND ($4::text IS NULL OR name ILIKE '%' || $4 || '%')
            ORDER BY created_at DESC, id DESC
            LIMIT $5""",
        tenant_id,
        after.created_at if after else None,
        after.id if after else None,
        _escape_like(name_contains) if name_contains else None,
        limit + 1,
    )
    return [_bot(r) for r in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update(
    conn: Connection,
    tenant_id: UUID,
    bot_id: UUID,
    *,
    columns: dict[str, Any],
    config: dict[str, Any],
) -> BotRow | None:
    """Set the given columns and merge ``config`` keys into the config (top level)."""
    assignments = ["updated_at = now()", "config = config || $3::jsonb"]
    values: list[Any] = [tenant_id, bot_id, json.dumps(config)]
    for name in ("name", "system_prompt", "greeting", "language"):
        if name in columns:
            values.append(columns[name])
            assignments.append(f"{name} = ${len(values)}")
    row = await conn.fetchrow(
        f"""UPDATE bots SET {", ".join(assignments)}
            WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        *values,
    )
    return _bot(row) if row else None


async def delete(conn: Connection, tenant_id: UUID, bot_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM bots WHERE tenant_id = $1 AND id = $2", tenant_id, bot_id
    )
    return status == "DELETE 1"


async def count(conn: Connection, tenant_id: UUID) -> int:
    value: int = await conn.fetchval("SELECT count(*) FROM bots WHERE tenant_id = $1", tenant_id)
    return value
