"""SQL for the processing lease of documents: claim, renew, take back, hand back, retry.

A worker claims a queued document for ``lease_s`` seconds and renews the lease while the work
lives; a lease that runs out belongs to a worker that died (a crash, ``kill -9``, a lost host),
and any server takes the document back at its next periodic reclaim. Every claim counts an
attempt, and a document whose attempts are used up is failed with a reason instead of queued
again, so one that kills its worker every time cannot loop forever. Every statement is scoped by
tenant except the queue's own (claim, reclaim), which serve all tenants by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from rag.store import DOCUMENT_COLUMNS, DocumentRow


@dataclass(frozen=True)
class Reclaimed:
    requeued: int
    failed: int


class IngestionLeases:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim_next(self, lease_s: float) -> DocumentRow | None:
        row = await self.pool.fetchrow(
            f"""UPDATE documents SET status = 'processing', attempts = attempts + 1,
                    leased_until = now() + make_interval(secs => $1), updated_at = now()
                WHERE id = (SELECT id FROM documents WHERE status = 'queued'
                            ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING {DOCUMENT_COLUMNS}""",
            lease_s,
        )
        return DocumentRow.of(row) if row else None

    async def renew(self, document: DocumentRow, lease_s: float) -> bool:
        """Extend the lease; False if the work is no longer wanted (the document was deleted,
        given new bytes, or taken back after this worker stalled past its lease)."""
        status = await self.pool.execute(
            """UPDATE documents SET leased_until = now() + make_interval(secs => $3)
               WHERE tenant_id = $1 AND id = $2 AND status = 'processing'
                 AND content_hash IS NOT DISTINCT FROM $4""",
            document.tenant_id,
            document.id,
            lease_s,
            document.content_hash,
        )
        return status.endswith(" 1")

    async def reclaim_expired(self, max_attempts: int, lease_s: float) -> Reclaimed:
        """Documents whose lease ran out go back to the queue, or fail once out of attempts.
        (A lease without an expiry was taken by a server older than leases: its age counts.)"""
        rows = await self.pool.fetch(
            """UPDATE documents SET
                   status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END,
                   error = CASE WHEN attempts >= $1 THEN
                       'processing was interrupted ' || attempts || ' times (the server or its '
                       || 'parsing process died each time); fix the file or retry it'
                       ELSE error END,
                   leased_until = NULL, updated_at = now()
               WHERE status = 'processing'
                 AND coalesce(leased_until, updated_at + make_interval(secs => $2)) < now()
               RETURNING status""",
            max_attempts,
            lease_s,
        )
        failed = sum(1 for r in rows if r["status"] == "failed")
        return Reclaimed(requeued=len(rows) - failed, failed=failed)

    async def release(self, document: DocumentRow) -> None:
        """Hand a document back on an orderly stop: the attempt it was given does not count."""
        await self.pool.execute(
            """UPDATE documents SET status = 'queued', attempts = greatest(attempts - 1, 0),
                   leased_until = NULL, updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'processing'
                 AND content_hash IS NOT DISTINCT FROM $3""",
            document.tenant_id,
            document.id,
            document.content_hash,
        )

    async def requeue_or_fail(
        self, document: DocumentRow, reason: str, max_attempts: int
    ) -> str | None:
        """After a failure worth another try (the parsing process died or overran): queue the
        document again while attempts remain, else fail it. Returns the new status."""
        status = await self.pool.fetchval(
            """UPDATE documents SET
                   status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END,
                   error = CASE WHEN attempts >= $4 THEN $3 || ' (after ' || attempts
                       || ' attempts)' ELSE $3 END,
                   leased_until = NULL, updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'processing'
                 AND content_hash IS NOT DISTINCT FROM $5
               RETURNING status""",
            document.tenant_id,
            document.id,
            reason[:900],
            max_attempts,
            document.content_hash,
        )
        return str(status) if status is not None else None

    async def retry(self, tenant_id: UUID, document_id: UUID) -> DocumentRow | None:
        """Queue a failed or stuck document again from its stored bytes, with fresh attempts.
        None when it is not in a retryable state (the caller says why)."""
        row = await self.pool.fetchrow(
            f"""UPDATE documents d SET status = 'queued', error = NULL, attempts = 0,
                    leased_until = NULL, updated_at = now()
                WHERE tenant_id = $1 AND id = $2
                  AND (status = 'failed' OR (status = 'processing' AND
                       coalesce(leased_until, updated_at) < now()))
                  AND EXISTS (SELECT 1 FROM document_blobs b
                              WHERE b.tenant_id = $1 AND b.document_id = d.id)
                RETURNING {DOCUMENT_COLUMNS}""",
            tenant_id,
            document_id,
        )
        return DocumentRow.of(row) if row else None

    async def has_bytes(self, tenant_id: UUID, document_id: UUID) -> bool:
        found = await self.pool.fetchval(
            "SELECT true FROM document_blobs WHERE tenant_id = $1 AND document_id = $2",
            tenant_id,
            document_id,
        )
        return bool(found)

    async def attempts(self, tenant_id: UUID, document_id: UUID) -> int | None:
        value = await self.pool.fetchval(
            "SELECT attempts FROM documents WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            document_id,
        )
        return int(value) if value is not None else None
