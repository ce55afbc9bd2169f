"""Adding documents, and the background worker that turns them into embedded chunks.

Submitting checks what can be checked at once (empty, type, encryption, page count, size,
storage quota, duplicates) so that the caller gets a clear error immediately; the rest
(parsing, chunking, embedding) runs in the worker. Work lives in the database, not in memory:
queued documents and Drive folders are claimed with ``FOR UPDATE SKIP LOCKED``, so a restart
picks them up again and several servers can share the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rag.chunker import chunk_blocks
from rag.embeddings import Embedder
from rag.errors import IngestionError, TooManyPages
from rag.metrics import RagMetrics
from rag.parsers import PDF, parse, pdf_page_count, sniff
from rag.sources.drive import DriveClient, DriveFile
from rag.sources.drive_sync import DriveSource, DriveSourceStore, content_hash, sync_folder
from rag.sources.web import FetchedPage, check_address, fetch_page
from rag.store import DocumentRow, DocumentStore
from voice_server.errors import Conflict, NotFound, ParleyError, QuotaExceeded
from voice_server.settings import Settings

_log = logging.getLogger("parley.rag.ingestion")

LEASE_S = 300.0  # a document 'processing' for longer than this was left by a crashed server
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
        self.metrics: RagMetrics | None = None
        self._wake = asyncio.Event()

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
        mime = sniff(data)
        if mime == PDF:
            pages = await asyncio.to_thread(pdf_page_count, data)
            if pages > self.settings.rag_max_pages:
                raise TooManyPages(
                    f"the PDF has {pages} pages; the limit is {self.settings.rag_max_pages}"
                )
        return mime

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
        await check_address(url, allow_private=self.settings.rag_allow_private_urls)
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
        await self.store.release_stale(LEASE_S)
        await self.drive_sources.release_stale(LEASE_S)
        async with asyncio.TaskGroup() as group:
            for _ in range(self.settings.rag_ingest_workers):
                group.create_task(self._work_loop())
            group.create_task(self._reembed_loop())

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
        document = await self.store.claim_next()
        if document is not None:
            await self.process(document)
            return True
        claimed = await self.drive_sources.claim_next()
        if claimed is not None:
            await self._sync_drive(*claimed)
            return True
        return False

    async def process(self, document: DocumentRow) -> None:
        try:
            data = await self.store.blob(document.tenant_id, document.id)
            if data is None:
                raise IngestionError("the document's bytes are missing; add it again")
            parsed = await asyncio.to_thread(parse, data, max_pages=self.settings.rag_max_pages)
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
            # Shutting down: hand the document back to the queue for the next start.
            await asyncio.shield(self.store.release_one(document))
            raise
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
