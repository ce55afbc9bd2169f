from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from voice_server.db.migrations import applied_versions, is_current, load_migrations, migrate
from voice_server.db.pool import ensure_vector_extension

PRODUCT_TABLES = {
    "tenants", "users", "api_keys", "bots", "documents", "chunks", "conversations", "messages",
    "voice_sessions", "turns", "usage_events", "subscriptions", "stripe_events",
}  # fmt: skip


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await ensure_vector_extension(conn, url)
    return conn


async def test_second_run_applies_nothing(empty_database_url: str) -> None:
    migrations = load_migrations()
    conn = await _connect(empty_database_url)
    try:
        first = await migrate(conn, migrations)
        second = await migrate(conn, migrations)
        assert [m.version for m in first] == [m.version for m in migrations]
        assert second == []
        assert await is_current(conn, migrations)
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_migration_once(empty_database_url: str) -> None:
    migrations = load_migrations()
    conns = [await _connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, migrations) for c in conns))
        applied_counts = sorted(len(r) for r in results)
        assert applied_counts == [0, 0, len(migrations)]
        rows = await conns[0].fetch("SELECT version FROM parley_schema_migrations")
        assert sorted(r["version"] for r in rows) == [m.version for m in migrations]
    finally:
        for conn in conns:
            await conn.close()


async def test_schema_has_the_product_tables(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert {r["table_name"] for r in rows} >= PRODUCT_TABLES
        indexes = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks'")
        assert any("USING hnsw" in r["indexdef"] for r in indexes)
        assert any("USING gin (tsv)" in r["indexdef"] for r in indexes)
        assert await applied_versions(conn)
    finally:
        await conn.close()


async def test_rows_cannot_reference_another_tenants_parent(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        insert = "INSERT INTO tenants (name, slug) VALUES ($1, $1) RETURNING id"
        tenant_a = await conn.fetchval(insert, f"a-{uuid.uuid4().hex[:6]}")
        tenant_b = await conn.fetchval(insert, f"b-{uuid.uuid4().hex[:6]}")
        bot_a = await conn.fetchval(
            "INSERT INTO bots (tenant_id, name) VALUES ($1, 'A bot') RETURNING id", tenant_a
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO conversations (tenant_id, bot_id, channel) VALUES ($1, $2, 'text')",
                tenant_b,
                bot_a,
            )
    finally:
        await conn.close()


async def test_chunks_store_vectors_and_full_text(database_url: str) -> None:
    from voice_server.db.pool import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2, timeout_s=5)
    try:
        async with pool.acquire() as conn:
            tenant = await conn.fetchval(
                "INSERT INTO tenants (name, slug) VALUES ('T', 't') RETURNING id"
            )
            doc = await conn.fetchval(
                "INSERT INTO documents (tenant_id, source_kind, title) VALUES ($1, 'text', 'Doc')"
                " RETURNING id",
                tenant,
            )
            vector = [1.0] + [0.0] * 383
            await conn.execute(
                "INSERT INTO chunks (tenant_id, document_id, ordinal, content, embedding)"
                " VALUES ($1, $2, 0, 'Opening hours are nine to five', $3)",
                tenant,
                doc,
                vector,
            )
            row = await conn.fetchrow(
                "SELECT embedding, embedding_dim, tsv @@ websearch_to_tsquery('english', 'hours')"
                " AS matches FROM chunks"
            )
            assert row["embedding_dim"] == 384
            assert row["matches"] is True
            assert row["embedding"].to_list()[:2] == [1.0, 0.0]
    finally:
        await pool.close()
