from __future__ import annotations

import asyncpg
import pytest

from rag.errors import EncryptedDocument, IngestionError
from rag.services import RagServices
from tests.integration.rag.conftest import TenantBot, drain, ingest, insert_tenant
from tests.unit.rag.documents import (
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_markdown,
    make_pdf,
)
from voice_server.errors import QuotaExceeded


async def test_pdf_is_chunked_embedded_and_found_with_its_page(
    services: RagServices, tenant: TenantBot
) -> None:
    pdf = make_pdf(
        [
            ["Welcome to the Frobnicator 3000 manual."]
            + [f"Unpack part {i} carefully." for i in range(12)],
            ["The warranty lasts three years."],
        ],
        title="Frobnicator manual",
    )
    document = await ingest(services, tenant, pdf)
    assert document.status == "ready", document.error
    assert document.title == "Frobnicator manual"
    assert document.page_count == 2
    passages = await services.retriever.search(tenant.tenant_id, "how long is the warranty")
    assert passages[0].document_id == document.id
    assert passages[0].location == "page 2"
    assert "three years" in passages[0].content


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
async def test_each_mode_finds_the_right_document(
    services: RagServices, tenant: TenantBot, mode: str
) -> None:
    docs = {
        "docx": make_docx("Onboarding", [("Badges", ["Visitors collect badges at reception."])]),
        "html": make_html("Parking", [("Garage", ["The garage closes at midnight."])]),
        "md": make_markdown("Cafeteria", [("Lunch", ["Lunch is served from noon to two."])]),
    }
    ids = {key: (await ingest(services, tenant, data)).id for key, data in docs.items()}
    hits = await services.retriever.search(
        tenant.tenant_id,
        "When does the garage close?",
        mode=mode,  # type: ignore[arg-type]
    )
    assert hits
    assert hits[0].document_id == ids["html"]
    assert hits[0].location == "Parking > Garage"


async def test_another_tenant_never_sees_the_chunks(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    await ingest(
        services, tenant, make_markdown("Secrets", [("Vault", ["The vault code is 7421."])])
    )
    other = await insert_tenant(pool, "Globex")
    for mode in ("vector", "text", "hybrid"):
        assert await services.retriever.search(other.tenant_id, "vault code", mode=mode) == []  # type: ignore[arg-type]
    assert await services.retriever.search(tenant.tenant_id, "vault code")


async def test_bot_scope_shared_and_own_documents(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    second_bot = await pool.fetchval(
        "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Other') RETURNING id", tenant.tenant_id
    )
    await ingest(
        services,
        tenant,
        make_markdown("Private", [("Pricing", ["Gold tier costs 90 dollars."])]),
        shared=False,
    )
    await ingest(services, tenant, make_markdown("Shared", [("Hours", ["Open daily until 6 pm."])]))
    own = await services.retriever.search(tenant.tenant_id, "gold tier price", bot_id=tenant.bot_id)
    assert own
    assert "Gold tier" in own[0].content
    other = await services.retriever.search(tenant.tenant_id, "gold tier price", bot_id=second_bot)
    assert all("Gold tier" not in p.content for p in other)
    shared = await services.retriever.search(tenant.tenant_id, "opening hours", bot_id=second_bot)
    assert shared
    assert "6 pm" in shared[0].content


async def test_same_bytes_twice_is_one_document(services: RagServices, tenant: TenantBot) -> None:
    data = make_markdown("FAQ", [("Q", ["Answer."])])
    first = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id, bot_id=None, data=data, source_kind="upload",
        source_uri=None, title="FAQ",
    )  # fmt: skip
    again = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id, bot_id=None, data=data, source_kind="upload",
        source_uri=None, title="FAQ copy",
    )  # fmt: skip
    assert first.created
    assert not again.created
    assert again.document.id == first.document.id


async def test_bad_inputs_are_refused_with_reasons(
    services: RagServices, tenant: TenantBot
) -> None:
    async def add(data: bytes) -> None:
        await services.ingestion.add_bytes(
            tenant_id=tenant.tenant_id, bot_id=None, data=data, source_kind="upload",
            source_uri=None, title=None,
        )  # fmt: skip

    with pytest.raises(EncryptedDocument):
        await add(make_encrypted_pdf())
    with pytest.raises(IngestionError, match="empty"):
        await add(b"")


async def test_scanned_pdf_fails_with_a_readable_reason(
    services: RagServices, tenant: TenantBot
) -> None:
    document = await ingest(services, tenant, make_pdf([[], []]))
    assert document.status == "failed"
    assert document.error is not None
    assert "no extractable text" in document.error


async def test_storage_quota(services: RagServices, tenant: TenantBot, pool: asyncpg.Pool) -> None:
    small = services.settings.model_copy(update={"rag_tenant_storage_bytes": 100})
    services.ingestion.settings = small
    with pytest.raises(QuotaExceeded, match="storage"):
        await services.ingestion.add_bytes(
            tenant_id=tenant.tenant_id, bot_id=None, data=b"x" * 200, source_kind="upload",
            source_uri=None, title=None,
        )  # fmt: skip


async def test_reprocessing_swaps_chunks_atomically(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    document = await ingest(services, tenant, make_markdown("Menu", [("Soup", ["Tomato soup."])]))
    new = make_markdown("Menu", [("Soup", ["Pumpkin soup today."])])
    from rag.sources.drive_sync import content_hash

    await services.documents.requeue(
        tenant.tenant_id, document.id, content=new, content_hash=content_hash(new), mime_type=None
    )
    # Until the worker runs, the old chunks still answer.
    assert "Tomato" in (await services.retriever.search(tenant.tenant_id, "soup"))[0].content
    await drain(services)
    hits = await services.retriever.search(tenant.tenant_id, "soup")
    assert [h.content.count("Pumpkin") for h in hits] == [1]
    assert (
        await pool.fetchval("SELECT count(*) FROM chunks WHERE document_id = $1", document.id) == 1
    )


async def test_model_change_reembeds_and_queries_only_current_vectors(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    await ingest(
        services, tenant, make_markdown("Pets", [("Dogs", ["Dogs are welcome on the terrace."])])
    )
    await pool.execute("UPDATE chunks SET embedding_model = 'old-model'")
    # Vectors of another model are never compared with the query's...
    assert await services.retriever.search(tenant.tenant_id, "dogs terrace", mode="vector") == []
    # ...while full text still finds the passage during the re-embed.
    assert await services.retriever.search(tenant.tenant_id, "dogs terrace", mode="text")
    assert await services.ingestion.reembed_batch() == 1
    assert await services.retriever.search(tenant.tenant_id, "dogs terrace", mode="vector")


async def test_queued_work_survives_a_restart(
    services: RagServices, tenant: TenantBot, rag_settings: object, pool: asyncpg.Pool
) -> None:
    submitted = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id, bot_id=None, data=b"Plain text about llamas.",
        source_kind="upload", source_uri=None, title="Llamas",
    )  # fmt: skip
    await pool.execute(
        "UPDATE documents SET status = 'processing', updated_at = now() - interval '1 hour'"
    )
    # A new server (new services) starts: stale 'processing' work goes back to the queue.
    from rag.services import build_services

    restarted = build_services(services.settings, pool)
    await restarted.documents.release_stale(300)
    await drain(restarted)
    document = await restarted.documents.get(tenant.tenant_id, submitted.document.id)
    assert document is not None
    assert document.status == "ready"
