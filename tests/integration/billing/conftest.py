"""Billing fixtures: tenants inserted directly, plan catalogs, quota services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert created is not None
    yield created
    await created.close()


async def insert_tenant(conn: asyncpg.Connection | asyncpg.Pool, name: str = "Acme") -> UUID:
    tenant_id: UUID = await conn.fetchval(
        "INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id",
        name,
        f"t-{uuid.uuid4().hex[:10]}",
    )
    return tenant_id


async def insert_bot(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: UUID) -> UUID:
    bot_id: UUID = await conn.fetchval(
        "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Bot') RETURNING id", tenant_id
    )
    return bot_id


async def open_voice_session(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: UUID) -> UUID:
    bot_id = await insert_bot(conn, tenant_id)
    conversation_id = await conn.fetchval(
        "INSERT INTO conversations (tenant_id, bot_id, channel) VALUES ($1, $2, 'voice') "
        "RETURNING id",
        tenant_id,
        bot_id,
    )
    session_id: UUID = await conn.fetchval(
        "INSERT INTO voice_sessions (tenant_id, bot_id, conversation_id, transport) "
        "VALUES ($1, $2, $3, 'websocket') RETURNING id",
        tenant_id,
        bot_id,
        conversation_id,
    )
    return session_id


@pytest.fixture
async def tenant_id(pool: asyncpg.Pool) -> UUID:
    return await insert_tenant(pool)
