"""The asyncpg pool: wait for the server, require pgvector, register its codec everywhere."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from pgvector.asyncpg import register_vector

from voice_server.errors import DatabaseSetupError
from voice_server.settings import mask_password

_log = logging.getLogger("parley.db")

_NO_VECTOR = (
    "the PostgreSQL server at {url} has no pgvector extension. Install pgvector on that server "
    "(https://github.com/pgvector/pgvector), or unset DATABASE_URL to use the embedded server."
)
_CANNOT_CREATE_VECTOR = (
    "the PostgreSQL server at {url} has pgvector, but this user may not enable it ({reason}). "
    "Run `CREATE EXTENSION vector;` in that database as a superuser, then start Parley again."
)


async def connect_with_retry(url: str, *, timeout_s: float) -> asyncpg.Connection:
    """Connect, retrying while the server is still starting, up to ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        try:
            return await asyncpg.connect(url, timeout=min(5.0, timeout_s))
        except (OSError, asyncpg.CannotConnectNowError, TimeoutError) as exc:
            if time.monotonic() + delay > deadline:
                raise DatabaseSetupError(
                    f"cannot reach PostgreSQL at {mask_password(url)} after {timeout_s:g}s: {exc}"
                ) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        except asyncpg.InvalidAuthorizationSpecificationError as exc:
            raise DatabaseSetupError(
                f"PostgreSQL at {mask_password(url)} refused the credentials: {exc}"
            ) from exc
        except asyncpg.InvalidCatalogNameError as exc:
            raise DatabaseSetupError(
                f"the database in {mask_password(url)} does not exist: {exc}"
            ) from exc


async def ensure_vector_extension(conn: asyncpg.Connection, url: str) -> None:
    installed = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
    if installed:
        return
    available = await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    if not available:
        raise DatabaseSetupError(_NO_VECTOR.format(url=mask_password(url)))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise DatabaseSetupError(
            _CANNOT_CREATE_VECTOR.format(url=mask_password(url), reason=exc)
        ) from exc


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


async def create_pool(url: str, *, min_size: int, max_size: int, timeout_s: float) -> asyncpg.Pool:
    conn = await connect_with_retry(url, timeout_s=timeout_s)
    try:
        await ensure_vector_extension(conn, url)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, timeout=timeout_s
    )
    assert pool is not None
    return pool
