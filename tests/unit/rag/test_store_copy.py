"""DocumentStore.copy_chunks: the bulk path writes searchable chunks with one COPY."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from rag.chunker import Chunk
from rag.services import RagServices, build_services
from rag.store import DocumentRow
from tests.conftest import make_settings
from voice_server.db.pool import create_pool


@pytest.fixture
async def services(tmp_path: Path, database_url: str) -> AsyncIterator[RagServices]:
    pool = await create_pool(database_url, min_size=1, max_size=2, timeout_s=10)
    yield build_services(make_settings(tmp_path, database_url=database_url), pool)
    await pool.close()


async def document(services: RagServices, tenant_id: object, title: str) -> DocumentRow:
    body = title.encode()
    return await services.documents.create(
        tenant_id=tenant_id, bot_id=None, source_kind="text", source_uri=None, title=title,
        mime_type="text/plain", content=body, content_hash=hashlib.sha256(body).digest(),
    )  # type: ignore[arg-type]  # fmt: skip


async def test_copied_chunks_of_many_documents_are_found_by_vector_and_by_text(
    services: RagServices,
) -> None:
    pool: asyncpg.Pool = services.documents.pool
    tenant_id = await pool.fetchval(
        "INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme-copy') RETURNING id"
    )
    manual = await document(services, tenant_id, "Frobnicator manual")
    faq = await document(services, tenant_id, "Shop FAQ")
    texts = [
        (manual, 0, "The Frobnicator warranty covers three years from purchase."),
        (manual, 1, "Tighten every screw of the Frobnicator before first use."),
        (faq, 0, "Orders arrive within five working days across Europe."),
    ]
    vectors = await services.embedder.embed([text for _, _, text in texts])
    items = [
        (doc, Chunk(ordinal=ordinal, content=text, token_count=len(text) // 4,
                    heading_path=("Intro",)), vector)
        for (doc, ordinal, text), vector in zip(texts, vectors, strict=True)
    ]  # fmt: skip

    written = await services.documents.copy_chunks(items, embedding_model=services.embedder.model)

    assert written == 3
    for mode in ("vector", "text", "hybrid"):
        [best, *_] = await services.retriever.search(tenant_id, "warranty years", mode=mode)
        assert best.content == texts[0][2], mode
        assert best.title == "Frobnicator manual"
    [delivery, *_] = await services.retriever.search(tenant_id, "when do orders arrive")
    assert delivery.document_id == faq.id
    # Appending leaves the chunks already there, and an empty batch writes nothing.
    assert await services.documents.copy_chunks([], embedding_model="m") == 0
    count = await pool.fetchval("SELECT count(*) FROM chunks WHERE tenant_id = $1", tenant_id)
    assert count == 3
    dims = await pool.fetchval("SELECT array_agg(DISTINCT embedding_dim) FROM chunks")
    assert dims == [384]  # generated columns computed as for row inserts
