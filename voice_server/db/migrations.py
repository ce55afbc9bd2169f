"""Numbered ``.sql`` migrations, applied in order, each in its own transaction.

Applied versions are recorded in ``parley_schema_migrations`` with a checksum, so editing a
migration that already ran is caught instead of silently diverging. A session-level advisory
lock serialises runners: when two servers start at once against one database, the second waits,
then finds nothing left to apply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from voice_server.db.types import Connection
from voice_server.errors import DatabaseSetupError

# Arbitrary but fixed: "parley" in ASCII, as one bigint key for pg_advisory_lock.
MIGRATION_LOCK_KEY = 0x7061726C6579
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS parley_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files; reject badly named or duplicate versions."""
    root = directory or Path(str(resources.files("voice_server.db") / "migrations"))
    found: dict[int, Migration] = {}
    for path in sorted(root.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise DatabaseSetupError(
                f"migration file {path.name!r} is not named NNNN_lower_snake.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise DatabaseSetupError(f"two migrations share version {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: Connection) -> dict[int, str]:
    """Version → checksum of what the database has applied; empty if it never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('parley_schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM parley_schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


def pending(migrations: list[Migration], applied: dict[int, str]) -> list[Migration]:
    for migration in migrations:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise DatabaseSetupError(
                f"migration {migration.label} was changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )
    return [m for m in migrations if m.version not in applied]


async def migrate(conn: Connection, migrations: list[Migration]) -> list[Migration]:
    """Apply what is pending, holding the advisory lock; return what this call applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        todo = pending(migrations, await applied_versions(conn))
        for migration in todo:
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO parley_schema_migrations (version, name, checksum)"
                        " VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise DatabaseSetupError(f"migration {migration.label} failed: {exc}") from exc
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def is_current(conn: Connection, migrations: list[Migration]) -> bool:
    try:
        return not pending(migrations, await applied_versions(conn))
    except DatabaseSetupError:
        return False
