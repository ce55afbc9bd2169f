"""SQL for documents, their waiting bytes and their chunks. Every statement filters by tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rag.chunker import Chunk

DOCUMENT_COLUMNS = """id, tenant_id, bot_id, source_kind, source_uri, title, mime_type,
    content_hash, size_bytes, page_count, status, error, metadata, drive_source_id, created_at,
    updated_at"""
# The chunk columns a bulk COPY writes; id, tsv, embedding_dim and created_at are computed.
COPY_CHUNK_COLUMNS = ("tenant_id", "document_id", "ordinal", "content", "token_count",
                      "metadata", "embedding", "embedding_model")  # fmt: skip


@dataclass(frozen=True)
class DocumentRow:
    id: UUID
    tenant_id: UUID
    bot_id: UUID | None
    source_kind: str
    source_uri: str | None
    title: str
    mime_type: str | None
    content_hash: bytes | None
    size_bytes: int
    page_count: int | None
    status: str
    error: str | None
    metadata: dict[str, Any]
    drive_source_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: asyncpg.Record) -> DocumentRow:
        values = dict(record)
        meta = values["metadata"]
        values["metadata"] = json.loads(meta) if isinstance(meta, str) else dict(meta or {})
        return cls(**values)

    def public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "bot_id": str(self.bot_id) if self.bot_id else None,
            "source_kind": self.source_kind,
            "source_uri": self.source_uri,
            "title": self.title,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "page_count": self.page_count,
            "status": self.status,
            "error": self.error,
            "chunk_count": self.metadata.get("chunk_count"),
            "drive_source_id": str(self.drive_source_id) if self.drive_source_id else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def as_vector(vector: Sequence[float]) -> list[float]:
    """A parameter for a ``vector`` column: the pool registers pgvector's binary codec on every
    connection (voice_server.db.pool), which takes a list of floats, not a text literal."""
    return [float(x) for x in vector]


class DocumentStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def find_by_hash(
        self, tenant_id: UUID, bot_id: UUID | None, content_hash: bytes
    ) -> DocumentRow | None:
        row = await self.pool.fetchrow(
            f"""SELECT {DOCUMENT_COLUMNS} FROM documents
                WHERE tenant_id = $1 AND content_hash = $2 AND bot_id IS NOT DISTINCT FROM $3
                  AND status <> 'failed'
                ORDER BY created_at LIMIT 1""",
            tenant_id,
            content_hash,
            bot_id,
        )
        return DocumentRow.of(row) if row else None

    async def storage_used(self, tenant_id: UUID) -> int:
        value = await self.pool.fetchval(
            "SELECT coalesce(sum(size_bytes), 0) FROM documents WHERE tenant_id = $1", tenant_id
        )
        return int(value)

    async def bot_exists(self, tenant_id: UUID, bot_id: UUID) -> bool:
        found = await self.pool.fetchval(
            "SELECT true FROM bots WHERE tenant_id = $1 AND id = $2", tenant_id, bot_id
        )
        return bool(found)

    async def create(
        self,
        *,
        tenant_id: UUID,
        bot_id: UUID | None,
        source_kind: str,
        source_uri: str | None,
        title: str,
        mime_type: str | None,
        content: bytes,
        content_hash: bytes,
        metadata: dict[str, Any] | None = None,
        drive_source_id: UUID | None = None,
    ) -> DocumentRow:
        """A queued document with its bytes, in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO documents (tenant_id, bot_id, source_kind, source_uri, title,
                        mime_type, content_hash, size_bytes, metadata, drive_source_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
                    RETURNING {DOCUMENT_COLUMNS}""",
                tenant_id,
                bot_id,
                source_kind,
                source_uri,
                title,
                mime_type,
                content_hash,
                len(content),
                json.dumps(metadata or {}),
                drive_source_id,
            )
            assert row is not None  # INSERT ... RETURNING always returns the row
            await conn.execute(
                "INSERT INTO document_blobs (document_id, tenant_id, content) VALUES ($1, $2, $3)",
                row["id"],
                tenant_id,
                content,
            )
        return DocumentRow.of(row)

    async def requeue(
        self,
        tenant_id: UUID,
        document_id: UUID,
        *,
        content: bytes,
        content_hash: bytes,
        mime_type: str | None,
        metadata: dict[str, Any] | None = None,
    ) -> DocumentRow | None:
        """New bytes for an existing document; its old chunks stay searchable until replaced."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""UPDATE documents SET status = 'queued', error = NULL, content_hash = $3,
                        size_bytes = $4, mime_type = coalesce($5, mime_type),
                        metadata = metadata || $6::jsonb, updated_at = now()
                    WHERE tenant_id = $1 AND id = $2 RETURNING {DOCUMENT_COLUMNS}""",
                tenant_id,
                document_id,
                content_hash,
                len(content),
                mime_type,
                json.dumps(metadata or {}),
            )
            if row is None:
                return None
            await conn.execute(
                """INSERT INTO document_blobs (document_id, tenant_id, content) VALUES ($1, $2, $3)
                   ON CONFLICT (document_id) DO UPDATE SET content = EXCLUDED.content""",
                document_id,
                tenant_id,
                content,
            )
        return DocumentRow.of(row)

    async def get(self, tenant_id: UUID, document_id: UUID) -> DocumentRow | None:
        row = await self.pool.fetchrow(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            document_id,
        )
        return DocumentRow.of(row) if row else None

    async def list_documents(
        self, tenant_id: UUID, *, bot_id: UUID | None = None, limit: int = 100, offset: int = 0
    ) -> list[DocumentRow]:
        rows = await self.pool.fetch(
            f"""SELECT {DOCUMENT_COLUMNS} FROM documents
                WHERE tenant_id = $1 AND ($2::uuid IS NULL OR bot_id = $2 OR bot_id IS NULL)
                ORDER BY created_at DESC, id LIMIT $3 OFFSET $4""",
            tenant_id,
            bot_id,
            limit,
            offset,
        )
        return [DocumentRow.of(r) for r in rows]

    async def list_for_drive_source(self, tenant_id: UUID, source_id: UUID) -> list[DocumentRow]:
        rows = await self.pool.fetch(
            f"""SELECT {DOCUMENT_COLUMNS} FROM documents
                WHERE tenant_id = $1 AND drive_source_id = $2""",
            tenant_id,
            source_id,
        )
        return [DocumentRow.of(r) for r in rows]

    async def delete(self, tenant_id: UUID, document_id: UUID) -> bool:
        # Chunks and bytes go with the row (ON DELETE CASCADE), in the same statement.
        status = await self.pool.execute(
            "DELETE FROM documents WHERE tenant_id = $1 AND id = $2", tenant_id, document_id
        )
        return status.endswith(" 1")

    # --- the worker's side ---------------------------------------------------------------------

    async def release_stale(self, lease_s: float) -> int:
        """Documents left 'processing' by a crashed server go back to the queue."""
        status = await self.pool.execute(
            """UPDATE documents SET status = 'queued', updated_at = now()
               WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1)""",
            lease_s,
        )
        return int(status.split()[-1])

    async def claim_next(self) -> DocumentRow | None:
        row = await self.pool.fetchrow(
            f"""UPDATE documents SET status = 'processing', updated_at = now()
                WHERE id = (SELECT id FROM documents WHERE status = 'queued'
                            ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING {DOCUMENT_COLUMNS}"""
        )
        return DocumentRow.of(row) if row else None

    async def blob(self, tenant_id: UUID, document_id: UUID) -> bytes | None:
        value = await self.pool.fetchval(
            "SELECT content FROM document_blobs WHERE tenant_id = $1 AND document_id = $2",
            tenant_id,
            document_id,
        )
        return bytes(value) if value is not None else None

    async def replace_chunks(
        self,
        document: DocumentRow,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        *,
        embedding_model: str,
        title: str,
        page_count: int | None,
        mime_type: str,
    ) -> bool:
        """Swap the document's chunks and mark it ready in one transaction, so that a question
        sees either the old chunks or the new ones. False if the document was deleted or was
        given new bytes meanwhile (the newer job wins)."""
        records = [
            (
                document.tenant_id,
                document.id,
                chunk.ordinal,
                chunk.content,
                chunk.token_count,
                json.dumps(chunk_metadata(document, chunk, title)),
                as_vector(vector),
                embedding_model,
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                """SELECT status, content_hash FROM documents
                   WHERE tenant_id = $1 AND id = $2 FOR UPDATE""",
                document.tenant_id,
                document.id,
            )
            if current is None or current["content_hash"] != document.content_hash:
                return False
            if current["status"] == "queued":
                return False  # requeued with the same bytes while we worked: let it run again
            await conn.execute(
                "DELETE FROM chunks WHERE tenant_id = $1 AND document_id = $2",
                document.tenant_id,
                document.id,
            )
            await conn.executemany(
                """INSERT INTO chunks (tenant_id, document_id, ordinal, content, token_count,
                       metadata, embedding, embedding_model)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::vector, $8)""",
                records,
            )
            await conn.execute(
                """UPDATE documents SET status = 'ready', error = NULL, title = $3,
                       page_count = $4, mime_type = $5,
                       metadata = metadata || jsonb_build_object('chunk_count', $6::int),
                       updated_at = now()
                   WHERE tenant_id = $1 AND id = $2""",
                document.tenant_id,
                document.id,
                title,
                page_count,
                mime_type,
                len(records),
            )
            await conn.execute(
                "DELETE FROM document_blobs WHERE tenant_id = $1 AND document_id = $2",
                document.tenant_id,
                document.id,
            )
        return True

    async def copy_chunks(
        self,
        items: Sequence[tuple[DocumentRow, Chunk, Sequence[float]]],
        *,
        embedding_model: str,
    ) -> int:
        """Append many chunks (of one or many documents) with one binary ``COPY``, in one
        transaction: the bulk path for imports and benchmarks (one round trip for the batch
        instead of one statement per row). Unlike :meth:`replace_chunks` it neither removes a
        document's earlier chunks nor changes its status. Returns the number of chunks
        written."""
        records = [
            (
                document.tenant_id,
                document.id,
                chunk.ordinal,
                chunk.content,
                chunk.token_count,
                json.dumps(chunk_metadata(document, chunk, document.title)),
                as_vector(vector),
                embedding_model,
            )
            for document, chunk, vector in items
        ]
        if not records:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "chunks",
                records=records,
                columns=COPY_CHUNK_COLUMNS,
            )
        return len(records)

    async def mark_failed(self, document: DocumentRow, reason: str) -> None:
        await self.pool.execute(
            """UPDATE documents SET status = 'failed', error = $3, updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND content_hash IS NOT DISTINCT FROM $4""",
            document.tenant_id,
            document.id,
            reason[:1000],
            document.content_hash,
        )

    async def release_one(self, document: DocumentRow) -> None:
        await self.pool.execute(
            """UPDATE documents SET status = 'queued', updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'processing'""",
            document.tenant_id,
            document.id,
        )

    async def touch(self, document: DocumentRow) -> None:
        """Renew the processing lease of a long job."""
        await self.pool.execute(
            "UPDATE documents SET updated_at = now() WHERE tenant_id = $1 AND id = $2",
            document.tenant_id,
            document.id,
        )

    # --- re-embedding after a model change ------------------------------------------------------

    async def stale_chunks(self, model: str, limit: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT id, tenant_id, content FROM chunks
               WHERE embedding_model IS DISTINCT FROM $1 LIMIT $2""",
            model,
            limit,
        )

    async def set_embeddings(
        self, rows: Sequence[tuple[UUID, UUID, Sequence[float]]], model: str
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """UPDATE chunks SET embedding = $3::vector, embedding_model = $4
                   WHERE tenant_id = $1 AND id = $2""",
                [(t, i, as_vector(v), model) for i, t, v in rows],
            )


def chunk_metadata(document: DocumentRow, chunk: Chunk, title: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"title": title, "heading_path": list(chunk.heading_path)}
    if chunk.page is not None:
        meta["page"] = chunk.page
        meta["page_end"] = chunk.page_end
    if chunk.location:
        meta["location"] = chunk.location
    url = document.metadata.get("url") or (
        document.source_uri if document.source_kind == "url" else None
    )
    if url:
        meta["url"] = url
    return meta
