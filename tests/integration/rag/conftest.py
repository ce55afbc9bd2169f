"""Fixtures for knowledge tests: a pool on the test's database, tenants with a bot, services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from rag.services import RagServices, build_services
from rag.store import DocumentRow
from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq
from voice_server.db.pool import create_pool
from voice_server.settings import Settings


@dataclass(frozen=True)
class TenantBot:
    tenant_id: UUID
    bot_id: UUID


async def insert_tenant(pool: asyncpg.Pool, name: str = "Acme", **bot: Any) -> TenantBot:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    tenant_id = await pool.fetchval(
        "INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id", name, slug
    )
    bot_id = await pool.fetchval(
        """INSERT INTO bots (tenant_id, name, system_prompt, greeting)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        tenant_id,
        bot.get("name", f"{name} bot"),
        bot.get("system_prompt", "You are the helpful assistant of " + name + "."),
        bot.get("greeting", "Hello! How can I help?"),
    )
    return TenantBot(tenant_id, bot_id)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    # The product's pool: pgvector's codec registered on every connection, as in the app.
    pool = await create_pool(database_url, min_size=1, max_size=4, timeout_s=10)
    yield pool
    await pool.close()


@pytest.fixture
async def tenant(pool: asyncpg.Pool) -> TenantBot:
    return await insert_tenant(pool)


@pytest.fixture
def rag_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, rag_chunk_tokens=200)


@pytest.fixture
def services(rag_settings: Settings, pool: asyncpg.Pool) -> RagServices:
    return build_services(rag_settings, pool)


async def drain(services: RagServices) -> None:
    """Run the worker's queue to empty, in the test's task (deterministic, no sleeping)."""
    while await services.ingestion.work_once():
        pass


async def ingest(
    services: RagServices,
    tenant: TenantBot,
    data: bytes,
    *,
    title: str | None = None,
    shared: bool = True,
) -> DocumentRow:
    submitted = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id,
        bot_id=None if shared else tenant.bot_id,
        data=data,
        source_kind="upload",
        source_uri=None,
        title=title,
    )
    await drain(services)
    document = await services.documents.get(tenant.tenant_id, submitted.document.id)
    assert document is not None
    return document


@pytest.fixture
async def groq() -> AsyncIterator[tuple[FakeGroq, str]]:
    """The Groq chat fake on a real port: (fake, base URL)."""
    fake = FakeGroq()
    async with fake.serve() as url:
        yield fake, url
