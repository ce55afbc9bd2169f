"""Bots of a tenant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

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
