"""The database handle the app holds: a pool, and the embedded server when we started one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from voice_server.db.embedded import EmbeddedPostgres
from voice_server.db.pool import create_pool
from voice_server.settings import Settings

_log = logging.getLogger("parley.db")


@dataclass
class Database:
    pool: asyncpg.Pool
    url: str = field(repr=False)
    embedded: EmbeddedPostgres | None = None

    async def ping(self, timeout_s: float = 2.0) -> None:
        async with asyncio.timeout(timeout_s):
            async with self.pool.acquire(timeout=timeout_s) as conn:
                await conn.fetchval("SELECT 1")


async def resolve_database_url(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to connect to; starts the embedded server when no DATABASE_URL is set."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
    embedded = EmbeddedPostgres(settings.pgdata_dir)
    url = await asyncio.to_thread(embedded.start)
    return url, embedded


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    url, embedded = await resolve_database_url(settings)
    try:
        pool = await create_pool(
            url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout_s=settings.db_connect_timeout_s,
        )
        _log.info("database connected", extra={"database": settings.database_url_for_logs()})
        try:
            yield Database(pool=pool, url=url, embedded=embedded)
        finally:
            await _close_pool(pool)
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        async with asyncio.timeout(5):
            await pool.close()
    except TimeoutError:
        # A connection stuck in a query must not hold shutdown hostage.
        pool.terminate()
