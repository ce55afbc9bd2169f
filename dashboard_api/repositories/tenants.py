"""Tenants (organisations)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from voice_server.db.types import Connection


@dataclass(frozen=True)
class TenantRow:
    id: UUID
    name: str
    slug: str
    plan: str
    created_at: datetime


_COLUMNS = "id, name, slug, plan, created_at"


def slugify(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return base or "org"


async def create(conn: Connection, *, name: str, plan: str = "free") -> TenantRow:
    base = slugify(name)
    for _ in range(5):
        slug = f"{base}-{secrets.token_hex(3)}"
        try:
            row = await conn.fetchrow(
                f"INSERT INTO tenants (name, slug, plan) VALUES ($1, $2, $3) RETURNING {_COLUMNS}",
                name,
                slug,
                plan,
            )
        except asyncpg.UniqueViolationError:
            continue
        assert row is not None
        return TenantRow(**dict(row))
    raise RuntimeError("could not find a free tenant slug")


async def get(conn: Connection, tenant_id: UUID) -> TenantRow | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tenants WHERE id = $1", tenant_id)
    return TenantRow(**dict(row)) if row else None
