"""Adding documents, and the background worker that turns them into embedded chunks.

Submitting checks what can be checked at once (empty, type, encryption, page count, size,
what a ZIP-based file declares it unpacks to, storage quota, duplicates) so that the caller gets
a clear error immediately; the rest (parsing, chunking, embedding) runs in the worker. Work
lives in the database, not in memory: queued documents and Drive folders are claimed with
``FOR UPDATE SKIP LOCKED``, so a restart picks them up again and several servers can share the
queue.

Parsing runs in a separate process with memory and CPU limits (:mod:`rag.parse_worker`). A
claimed document holds a lease that its worker renews every third of ``rag_lease_s``; a server
that dies leaves an expiring lease, which any server's periodic reclaim takes back
(:mod:`rag.leases`). Deleting a document cancels its work, killing the parsing process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rag.archive_limits import ZipLimits, check_declared, is_zip
from rag.chunker import chunk_blocks
from rag.embeddings import Embedder
from rag.errors import IngestionError, ParseAborted, TooManyPages
from rag.leases import IngestionLeases
from rag.metrics import RagMetrics
from rag.parse_worker import ParseLimits, parse_isolated
from rag.parsers import PDF, pdf_page_count, sniff
from rag.sources.drive import DriveClient, DriveFile
from rag.sources.drive_sync import DriveSource, DriveSourceStore, content_hash, sync_folder
from rag.sources.web import FetchedPage, fetch_page
from rag.store import DocumentRow, DocumentStore
from voice_server.errors import Conflict, NotFound, ParleyError, QuotaExceeded
from voice_server.settings import Settings

_log = logging.getLogger("parley.rag.ingestion")

DRIVE_LEASE_S = 300.0  # a Drive folder syncing for longer than this was left by a crash
IDLE_POLL_S = 5.0  # how often idle workers look for work queued by another server
REEMBED_BATCH = 128


@dataclass(frozen=True)
class Submitted:
    document: DocumentRow
    created: bool  # False: the same bytes were already there (idempotent by content hash)


class IngestionService:
    def __init__(self, store: DocumentStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.drive_sources = DriveSourceStore(store.pool)
        self.embedder = embedder
        self.settings = settings
        self.leases = IngestionLeases(store.pool)
        self.metrics: RagMetrics | None = None
        self.worker_peak_rss_bytes = 0  # the largest parsing process seen, for operators
        self._wake = asyncio.Event()
        self._running: dict[UUID, asyncio.Task[None]] = {}  # document id -> its work
        self.zip_limits = ZipLimits(
            max_unpacked_bytes=settings.rag_max_unpacked_bytes,
            max_ratio=settings.rag_max_compression_ratio,
        )
        self.parse_limits = ParseLimits(
            memory_bytes=settings.rag_parse_memory_mb * 2**20,
            cpu_s=settings.rag_parse_cpu_s,
            max_pages=settings.rag_max_pages,
            zip=self.zip_limits,
        )

    def wake(self) -> None:
        self._wake.set()

    # --- submitting ---------------------------------------------------------------------------

    async def check_bot(self, tenant_id: UUID, bot_id: UUID | None) -> None:
        if bot_id is not None and not await self.store.bot_exists(tenant_id, bot_id):
            raise NotFound("no such bot")

    async def precheck(self, data: bytes) -> str:
        """The sniffed type, after refusing what would fail anyway (in a worker thread)."""
        if not data:
            raise IngestionError("the file is empty (0 bytes)")
        mime = await asyncio.to_thread(self._sniff, data)
        if mime == PDF:
            pages = await asyncio.to_thread(pdf_page_count, data)
            if pages > self.settings.rag_max_pages:
                raise TooManyPages(
                    f"the PDF has {pages} pages; the limit is {self.settings.rag_max_pages}"
                )
        return mime

    def _sniff(self, data: bytes) -> str:
        if is_zip(data):
            # Only the directory is read: what it declares must fit before anything inflates.
            check_declared(data, self.zip_limits)
        return sniff(data)

    async def add_bytes(
        self,
        *,
        tenant_id: UUID,
        bot_id: UUID | None,
        data: bytes,
        source_kind: str,
        source_uri: str | None,
        title: str | None,
        metadata: dict[str, Any] | None = None,
        default_title: str | None = None,
    ) -> Submitted:
        """Queue ``data``; ``title`` is the owner's choice (kept), ``default_title`` a fallback
        (a file name) that the document's own title replaces when it has one."""
        await self.check_bot(tenant_id, bot_id)
        mime = await self.precheck(data)
        digest = content_hash(data)
        existing = await self.store.find_by_hash(tenant_id, bot_id, digest)
        if existing is not None:
            return Submitted(existing, created=False)
        await self._check_storage(tenant_id, len(data))
        meta = {"title_given": bool(title), **(metadata or {})}
        document = await self.store.create(
            tenant_id=tenant_id,
            bot_id=bot_id,
            source_kind=source_kind,
            source_uri=source_uri,
            title=(title or default_title or source_uri or "Untitled").strip()[:500],
            mime_type=mime,
            content=data,
            content_hash=digest,
            metadata=meta,
        )
        self.wake()
        return Submitted(document, created=True)

    async def add_url(
        self, *, tenant_id: UUID, bot_id: UUID | None, url: str, title: str | None
    ) -> Submitted:
        await self.check_bot(tenant_id, bot_id)
        page = await self._fetch(url)
        return await self.add_bytes(
            tenant_id=tenant_id,
            bot_id=bot_id,
            data=page.content,
            source_kind="url",
            source_uri=url,
            title=title,
            metadata={"url": page.url},
        )

    async def resync(self, tenant_id: UUID, document_id: UUID) -> DocumentRow:
        document = await self.store.get(tenant_id, document_id)
        if document is None:
            raise NotFound("no such document")
        if document.source_kind == "url" and document.source_uri:
            page = await self._fetch(document.source_uri)
            mime = await self.precheck(page.content)
            refreshed = await self.store.requeue(
                tenant_id,
                document_id,
                content=page.content,
                content_hash=content_hash(page.content),
                mime_type=mime,
                metadata={"url": page.url},
            )
            if refreshed is None:
                raise NotFound("no such document")
            self.wake()
            return refreshed
        if document.source_kind == "drive" and document.drive_source_id is not None:
            await self.resync_drive(tenant_id, document.drive_source_id)
            return document
        raise Conflict("an uploaded file cannot be re-synced; upload the new version instead")

    async def delete(self, tenant_id: UUID, document_id: UUID) -> None:
        if not await self.store.delete(tenant_id, document_id):
            raise NotFound("no such document")
        # Work on this server stops now (its parsing process is killed); another server's
        # worker notices at its next lease renewal.
        work = self._running.get(document_id)
        if work is not None:
            work.cancel()

    async def retry(self, tenant_id: UUID, document_id: UUID) -> DocumentRow:
        """Process a failed (or stuck) upload again from its stored bytes, attempts reset."""
        document = await self.leases.retry(tenant_id, document_id)
        if document is not None:
            self.wake()
            return document
        current = await self.store.get(tenant_id, document_id)
        if current is None:
            raise NotFound("no such document")
        if current.status == "ready":
            raise Conflict("the document is ready; nothing to retry")
        if current.status in ("queued", "processing"):
            raise Conflict(f"the document is {current.status}; wait for it to finish")
        raise Conflict(
            "the document's bytes are no longer stored; upload the file again"
            + (" or re-sync it" if current.source_kind in ("url", "drive") else "")
        )

    async def add_drive_folder(
        self,
        *,
        tenant_id: UUID,
        bot_id: UUID | None,
        folder_id: str,
        credentials: dict[str, Any],
    ) -> DriveSource:
        await self.check_bot(tenant_id, bot_id)
        source = await self.drive_sources.create(tenant_id, bot_id, folder_id, credentials)
        self.wake()
        return source

    async def resync_drive(
        self, tenant_id: UUID, source_id: UUID, credentials: dict[str, Any] | None = None
    ) -> DriveSource:
        source = await self.drive_sources.requeue(tenant_id, source_id, credentials)
        if source is None:
            raise NotFound("no such Drive source")
        self.wake()
        return source

    async def _fetch(self, url: str) -> FetchedPage:
        # fetch_page checks the address (and every redirect's) and connects to what it checked.
        return await fetch_page(
            url,
            max_bytes=self.settings.rag_max_file_bytes,
            timeout_s=self.settings.rag_url_timeout_s,
            allow_private=self.settings.rag_allow_private_urls,
        )

    async def _check_storage(self, tenant_id: UUID, adding: int) -> None:
        limit = self.settings.rag_tenant_storage_bytes
        used = await self.store.storage_used(tenant_id)
        if used + adding > limit:
            raise QuotaExceeded(
                f"storing this document ({adding} bytes) would exceed the tenant's document "
                f"storage of {limit} bytes ({used} used); delete documents or upgrade the plan",
                used_bytes=used,
                limit_bytes=limit,
            )

    # --- the worker ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Process queued work until cancelled (the plugin's lifespan owns this task)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._reclaim_loop())
            for _ in range(self.settings.rag_ingest_workers):
                group.create_task(self._work_loop())
            group.create_task(self._reembed_loop())

    async def reclaim(self) -> None:
        """Take back work whose lease ran out (its server died); wake the workers for it."""
        reclaimed = await self.leases.reclaim_expired(
            self.settings.rag_parse_attempts, self.settings.rag_lease_s
        )
        await self.drive_sources.release_stale(DRIVE_LEASE_S)
        if reclaimed.requeued or reclaimed.failed:
            _log.warning(
                "took back %d documents left by a server that stopped (%d out of attempts, failed)",
                reclaimed.requeued + reclaimed.failed,
                reclaimed.failed,
            )
            for _ in range(reclaimed.failed):
                self._count("failed")
        self.wake()  # requeued documents, and Drive folders released above

    async def _reclaim_loop(self) -> None:
        # Every half lease: a crashed server's documents wait at most 1.5 leases.
        while True:
            try:
                await self.reclaim()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not stop reclaiming
                _log.exception("reclaiming expired leases failed")
            await asyncio.sleep(self.settings.rag_lease_s / 2)

    async def _work_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                did_work = await self.work_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not kill the worker
                _log.exception("ingestion worker error")
                did_work = False
            if not did_work:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_S):
                        await self._wake.wait()

    async def work_once(self) -> bool:
        """Claim and finish one piece of queued work; False when there was none."""
        document = await self.leases.claim_next(self.settings.rag_lease_s)
        if document is not None:
            await self.process(document)
            return True
        claimed = await self.drive_sources.claim_next()
        if claimed is not None:
            await self._sync_drive(*claimed)
            return True
        return False

    async def process(self, document: DocumentRow) -> None:
        """Process a claimed document while renewing its lease; stop if the lease is lost."""
        work = asyncio.create_task(self._process(document), name=f"ingest {document.id}")
        self._running[document.id] = work
        renew_every = self.settings.rag_lease_s / 3
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=renew_every)
                if done:
                    break
                if not await self._renew(document):
                    _log.info("document %s was deleted or changed; its work stops", document.id)
                    work.cancel()
                    await asyncio.wait({work})
                    break
        except asyncio.CancelledError:
            work.cancel()
            await asyncio.wait({work})  # it hands the document back
            raise
        finally:
            self._running.pop(document.id, None)
        if not work.cancelled():
            work.result()  # _process handles its own errors; this only re-raises bugs

    async def _renew(self, document: DocumentRow) -> bool:
        try:
            return await self.leases.renew(document, self.settings.rag_lease_s)
        except Exception:  # a database hiccup: keep working, the next renewal may succeed
            _log.exception("renewing the lease of document %s failed", document.id)
            return True

    async def _process(self, document: DocumentRow) -> None:
        try:
            data = await self.store.blob(document.tenant_id, document.id)
            if data is None:
                raise IngestionError("the document's bytes are missing; add it again")
            outcome = await parse_isolated(data, self.parse_limits)
            self.worker_peak_rss_bytes = max(self.worker_peak_rss_bytes, outcome.peak_rss_bytes)
            _log.info(
                "document %s parsed in a separate process (peak %.0f MB)",
                document.id,
                outcome.peak_rss_bytes / 2**20,
                extra={"worker_peak_rss_bytes": outcome.peak_rss_bytes},
            )
            parsed = outcome.unwrap()
            chunks = await asyncio.to_thread(
                chunk_blocks,
                parsed.blocks,
                target_tokens=self.settings.rag_chunk_tokens,
                overlap=self.settings.rag_chunk_overlap,
            )
            vectors = await self.embedder.embed([c.content for c in chunks])
            title = document.title
            if not document.metadata.get("title_given") and parsed.title:
                title = parsed.title[:500]
            done = await self.store.replace_chunks(
                document,
                chunks,
                vectors,
                embedding_model=self.embedder.model,
                title=title,
                page_count=parsed.page_count,
                mime_type=parsed.mime_type,
            )
            _log.info(
                "document %s %s: %d chunks",
                document.id,
                "ready" if done else "superseded",
                len(chunks),
            )
        except asyncio.CancelledError:
            # Shutting down, or the document was deleted: hand it back (a no-op if deleted).
            await asyncio.shield(self.leases.release(document))
            raise
        except ParseAborted as exc:
            # The parsing process died or overran its limits: worth another try, a few times.
            status = await self.leases.requeue_or_fail(
                document, exc.detail, self.settings.rag_parse_attempts
            )
            _log.warning("document %s: %s (now %s)", document.id, exc.detail, status)
            if status == "failed":
                self._count("failed")
            else:
                self.wake()
        except ParleyError as exc:
            await self.store.mark_failed(document, exc.detail)
            self._count("failed")
        except Exception as exc:
            _log.exception("document %s failed", document.id)
            await self.store.mark_failed(
                document, f"unexpected error while processing ({type(exc).__name__})"
            )
            self._count("failed")
        else:
            self._count("ready")

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.documents_processed.labels(outcome).inc()

    async def _sync_drive(self, source: DriveSource, credentials: dict[str, Any]) -> None:
        async with DriveClient(
            base_url=self.settings.rag_drive_base_url,
            credentials=credentials,
            token_url=self.settings.rag_drive_token_url,
            timeout_s=self.settings.rag_url_timeout_s,
            max_bytes=self.settings.rag_max_file_bytes,
        ) as client:
            try:
                await sync_folder(
                    source,
                    client,
                    documents=self.store,
                    sources=self.drive_sources,
                    add_document=self._add_drive_document,
                )
            except asyncio.CancelledError:
                await asyncio.shield(self.drive_sources.requeue(source.tenant_id, source.id))
                raise
            except Exception as exc:
                _log.exception("drive sync %s failed", source.id)
                await self.drive_sources.finish(
                    source, status="failed", error=f"unexpected error ({type(exc).__name__})",
                    file_count=None,
                )  # fmt: skip

    async def _add_drive_document(
        self, source: DriveSource, file: DriveFile, content: bytes, current: DocumentRow | None
    ) -> None:
        meta = {"drive_file_id": file.id, "drive_version": file.version}
        if file.web_view_link:
            meta["url"] = file.web_view_link
        try:
            mime = await self.precheck(content)
        except ParleyError as exc:
            mime, meta["precheck_error"] = None, exc.detail
        if current is not None:
            await self.store.requeue(
                source.tenant_id,
                current.id,
                content=content,
                content_hash=content_hash(content),
                mime_type=mime,
                metadata=meta,
            )
        else:
            await self._check_storage(source.tenant_id, len(content))
            await self.store.create(
                tenant_id=source.tenant_id,
                bot_id=source.bot_id,
                source_kind="drive",
                source_uri=f"drive://{file.id}",
                title=file.name[:500],
                mime_type=mime,
                content=content,
                content_hash=content_hash(content),
                metadata={"title_given": True, **meta},
                drive_source_id=source.id,
            )
        self.wake()

    async def _reembed_loop(self) -> None:
        """After a change of embedding model, re-embed old chunks in the background. New chunks
        always carry the current model, so once none is left the loop ends until the next
        start (a model change needs a restart)."""
        while True:
            try:
                done = await self.reembed_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("re-embedding failed; retrying later")
                await asyncio.sleep(30)
                continue
            if not done:
                return
            _log.info("re-embedded %d chunks with %s", done, self.embedder.model)

    async def reembed_batch(self) -> int:
        rows = await self.store.stale_chunks(self.embedder.model, REEMBED_BATCH)
        if not rows:
            return 0
        vectors = await self.embedder.embed([r["content"] for r in rows])
        await self.store.set_embeddings(
            [(r["id"], r["tenant_id"], v) for r, v in zip(rows, vectors, strict=True)],
            self.embedder.model,
        )
        return len(rows)
