"""Drive folder sources: their rows, and one sync pass that mirrors a folder into documents.

A sync creates documents for new files, re-queues changed ones (their old chunks stay
searchable until the new ones replace them atomically) and deletes documents whose file left
the folder. Deletions happen only after a *complete* listing: a token revoked midway stops the
sync with a readable reason and leaves every document as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rag.sources.drive import FOLDER, DriveClient, DriveFile
from rag.store import DocumentRow, DocumentStore
from voice_server.errors import ParleyError

_log = logging.getLogger("parley.rag.drive")

SOURCE_COLUMNS = """id, tenant_id, bot_id, folder_id, status, error, file_count, last_synced_at,
    created_at, updated_at"""


@dataclass(frozen=True)
class DriveSource:
    id: UUID
    tenant_id: UUID
    bot_id: UUID | None
    folder_id: str
    status: str
    error: str | None
    file_count: int
    last_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "bot_id": str(self.bot_id) if self.bot_id else None,
            "folder_id": self.folder_id,
            "status": self.status,
            "error": self.error,
            "file_count": self.file_count,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
            "created_at": self.created_at.isoformat(),
        }


class DriveSourceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(
        self, tenant_id: UUID, bot_id: UUID | None, folder_id: str, credentials: dict[str, Any]
    ) -> DriveSource:
        row = await self.pool.fetchrow(
            f"""INSERT INTO drive_sources (tenant_id, bot_id, folder_id, credentials)
                VALUES ($1, $2, $3, $4::jsonb) RETURNING {SOURCE_COLUMNS}""",
            tenant_id,
            bot_id,
            folder_id,
            json.dumps(credentials),
        )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return DriveSource(**dict(row))

    async def get(self, tenant_id: UUID, source_id: UUID) -> DriveSource | None:
        row = await self.pool.fetchrow(
            f"SELECT {SOURCE_COLUMNS} FROM drive_sources WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            source_id,
        )
        return DriveSource(**dict(row)) if row else None

    async def requeue(
        self, tenant_id: UUID, source_id: UUID, credentials: dict[str, Any] | None = None
    ) -> DriveSource | None:
        row = await self.pool.fetchrow(
            f"""UPDATE drive_sources SET status = 'queued', error = NULL, updated_at = now(),
                    credentials = coalesce($3::jsonb, credentials)
                WHERE tenant_id = $1 AND id = $2 RETURNING {SOURCE_COLUMNS}""",
            tenant_id,
            source_id,
            json.dumps(credentials) if credentials else None,
        )
        return DriveSource(**dict(row)) if row else None

    async def claim_next(self) -> tuple[DriveSource, dict[str, Any]] | None:
        row = await self.pool.fetchrow(
            f"""UPDATE drive_sources SET status = 'syncing', updated_at = now()
                WHERE id = (SELECT id FROM drive_sources WHERE status = 'queued'
                            ORDER BY updated_at FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING {SOURCE_COLUMNS}, credentials"""
        )
        if row is None:
            return None
        values = dict(row)
        credentials = values.pop("credentials")
        if isinstance(credentials, str):
            credentials = json.loads(credentials)
        return DriveSource(**values), credentials

    async def release_stale(self, lease_s: float) -> None:
        await self.pool.execute(
            """UPDATE drive_sources SET status = 'queued'
               WHERE status = 'syncing' AND updated_at < now() - make_interval(secs => $1)""",
            lease_s,
        )

    async def finish(
        self, source: DriveSource, *, status: str, error: str | None, file_count: int | None
    ) -> None:
        await self.pool.execute(
            """UPDATE drive_sources SET status = $3, error = $4,
                   file_count = coalesce($5, file_count),
                   last_synced_at = CASE WHEN $3 = 'ready' THEN now() ELSE last_synced_at END,
                   updated_at = now()
               WHERE tenant_id = $1 AND id = $2""",
            source.tenant_id,
            source.id,
            status,
            error,
            file_count,
        )


AddDocument = Callable[[DriveSource, DriveFile, bytes, DocumentRow | None], Awaitable[None]]


async def sync_folder(
    source: DriveSource,
    client: DriveClient,
    *,
    documents: DocumentStore,
    sources: DriveSourceStore,
    add_document: AddDocument,
) -> None:
    """One pass over the folder; records the outcome on the source row."""
    existing = {
        str(doc.metadata.get("drive_file_id")): doc
        for doc in await documents.list_for_drive_source(source.tenant_id, source.id)
    }
    seen: set[str] = set()
    skipped: list[str] = []
    try:
        async for file in client.list_folder(source.folder_id):
            if file.mime_type == FOLDER:
                continue
            if not file.supported:
                skipped.append(f"{file.name} ({file.mime_type})")
                continue
            seen.add(file.id)
            current = existing.get(file.id)
            if current is not None and current.metadata.get("drive_version") == file.version:
                continue
            try:
                content = await client.content(file)
            except ParleyError as exc:
                if exc.slug == "drive-unauthorized":
                    raise
                skipped.append(f"{file.name}: {exc.detail}")
                continue
            await add_document(source, file, content, current)
    except ParleyError as exc:
        # Stop without deleting anything: the listing is incomplete.
        _log.info("drive sync of %s stopped: %s", source.id, exc.detail)
        await sources.finish(source, status="failed", error=exc.detail, file_count=None)
        return
    for file_id, doc in existing.items():
        if file_id not in seen:
            await documents.delete(source.tenant_id, doc.id)
    note = ("skipped: " + "; ".join(skipped))[:1000] if skipped else None
    await sources.finish(source, status="ready", error=note, file_count=len(seen))


def content_hash(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()
