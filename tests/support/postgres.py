"""One PostgreSQL for the whole test run, and a fresh database per test cloned from a migrated
template. With DATABASE_URL set the suite uses that server instead (its user needs CREATEDB)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from voice_server.db.embedded import EmbeddedPostgres
from voice_server.db.migrations import load_migrations, migrate
from voice_server.db.pool import ensure_vector_extension


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name`` (query string, e.g. a socket dir, kept)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_user(url: str, user: str) -> str:
    """The same URL logging in as ``user`` with no password (the test server trusts local users)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@contextmanager
def test_server(external_url: str | None) -> Iterator[str]:
    """Yield an admin URL for the run's server: the external one, or a throwaway embedded one."""
    if external_url:
        yield external_url
        return
    # A short path: the Unix socket lives in the data directory and its path is length-limited.
    with tempfile.TemporaryDirectory(prefix="parley-pg-", dir="/tmp") as tmp:
        embedded = EmbeddedPostgres(Path(tmp) / "pgdata")
        url = embedded.start()
        try:
            yield url
        finally:
            embedded.stop()


async def create_template(admin_url: str) -> str:
    name = f"parley_tpl_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await ensure_vector_extension(conn, url)
        await migrate(conn, load_migrations())
    finally:
        await conn.close()
    return name


async def create_database(admin_url: str, *, template: str | None) -> str:
    name = f"parley_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        # Cloning the template is serialised by PostgreSQL; retry while another clone holds it.
        for attempt in range(20):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"{clause}')
                break
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.05 * (attempt + 1))
    finally:
        await admin.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
