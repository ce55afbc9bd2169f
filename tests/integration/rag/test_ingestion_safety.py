"""Bounded parsing and crash-proof leases, against the real database and real child processes.

- a document that needs more memory than the parsing process may have fails with that reason
  after the configured attempts, and the server's own process is untouched;
- deleting a document kills the process parsing it;
- a lease is renewed while the work lives, and an expired one (its server died) is taken back,
  then failed once its attempts are used up; retry queues it again from its stored bytes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from rag.services import RagServices, build_services
from rag.store import DocumentRow
from tests.conftest import make_settings
from tests.integration.rag.conftest import TenantBot, drain
from tests.support.zip_bombs import docx_bomb, slow_docx
from voice_server.errors import Conflict, NotFound
from voice_server.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def rag_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        rag_chunk_tokens=200,
        rag_lease_s=1.5,
        rag_parse_attempts=2,
        rag_parse_memory_mb=300,
        rag_max_compression_ratio=100_000,  # let bombs through to the process limits
        rag_max_unpacked_bytes=2_000_000_000,
    )


async def queue_raw(services: RagServices, tenant: TenantBot, data: bytes) -> DocumentRow:
    """Store bytes as if queued before any check existed (the worker must hold on its own)."""
    return await services.documents.create(
        tenant_id=tenant.tenant_id, bot_id=None, source_kind="upload", source_uri=None,
        title="hostile", mime_type=None, content=data, content_hash=os.urandom(32),
    )  # fmt: skip


def parse_workers() -> set[int]:
    """Pids of this process's parsing children, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"rag.parse_worker" in command:
            found.add(int(entry))
    return found


async def parsing_started(within_s: float = 60) -> bool:
    for _ in range(int(within_s / 0.05)):
        if parse_workers():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_bomb_over_the_memory_cap_fails_after_the_attempts(
    services: RagServices, tenant: TenantBot
) -> None:
    document = await queue_raw(services, tenant, docx_bomb(1100))
    await drain(services)  # two attempts, each stopped by RLIMIT_AS
    done = await services.documents.get(tenant.tenant_id, document.id)
    assert done is not None
    assert done.status == "failed"
    assert "300 MB of memory" in (done.error or "")
    assert "after 2 attempts" in (done.error or "")
    assert 0 < services.ingestion.worker_peak_rss_bytes <= 300 * 2**20
    assert parse_workers() == set()  # nothing left running
    # Never retried automatically: the queue is empty.
    assert await services.ingestion.work_once() is False


async def test_deleting_a_document_kills_its_parsing_process(
    services: RagServices, tenant: TenantBot
) -> None:
    document = await queue_raw(services, tenant, slow_docx(4))
    work = asyncio.create_task(services.ingestion.work_once())
    assert await parsing_started()
    await services.ingestion.delete(tenant.tenant_id, document.id)
    async with asyncio.timeout(10):
        assert await work is True
    assert parse_workers() == set()  # killed and reaped, long before it could have finished


async def test_a_lease_is_renewed_while_the_work_lives(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    document = await queue_raw(services, tenant, slow_docx(1))
    work = asyncio.create_task(services.ingestion.work_once())
    leases = []
    while not work.done():
        # Another server's reclaim, running all the time: it must never take live work.
        await services.ingestion.reclaim()
        leases.append(
            await pool.fetchval("SELECT leased_until FROM documents WHERE id = $1", document.id)
        )
        await asyncio.sleep(0.5)
    assert await work is True
    done = await services.documents.get(tenant.tenant_id, document.id)
    assert done is not None
    assert done.status == "ready", done
    renewed = sorted({lease for lease in leases if lease is not None})
    assert len(renewed) >= 2  # the lease moved while the work ran


async def test_an_expired_lease_is_taken_back_then_failed_then_retried(
    services: RagServices, tenant: TenantBot, pool: asyncpg.Pool
) -> None:
    submitted = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id, bot_id=None, data=b"Plain text about llamas.",
        source_kind="upload", source_uri=None, title="Llamas",
    )  # fmt: skip
    doc_id = submitted.document.id
    for attempt in (1, 2):
        # A server claims it and dies (no renewals): the lease runs out.
        claimed = await services.ingestion.leases.claim_next(0.05)
        assert claimed is not None
        assert claimed.id == doc_id
        assert await services.ingestion.leases.attempts(tenant.tenant_id, doc_id) == attempt
        await asyncio.sleep(0.1)
        await services.ingestion.reclaim()
    failed = await services.documents.get(tenant.tenant_id, doc_id)
    assert failed is not None
    assert failed.status == "failed"
    assert "interrupted 2 times" in (failed.error or "")
    assert await services.ingestion.work_once() is False  # not retried automatically
    # The owner retries it from its stored bytes: attempts start again, and it gets done.
    retried = await services.ingestion.retry(tenant.tenant_id, doc_id)
    assert retried.status == "queued"
    await drain(services)
    ready = await services.documents.get(tenant.tenant_id, doc_id)
    assert ready is not None
    assert ready.status == "ready"
    with pytest.raises(Conflict, match="ready"):
        await services.ingestion.retry(tenant.tenant_id, doc_id)


async def test_retry_refuses_live_work_and_foreign_documents(
    services: RagServices, tenant: TenantBot, rag_settings: Settings, pool: asyncpg.Pool
) -> None:
    submitted = await services.ingestion.add_bytes(
        tenant_id=tenant.tenant_id, bot_id=None, data=b"Plain text about alpacas.",
        source_kind="upload", source_uri=None, title="Alpacas",
    )  # fmt: skip
    assert await services.ingestion.leases.claim_next(60) is not None
    with pytest.raises(Conflict, match="processing"):
        await services.ingestion.retry(tenant.tenant_id, submitted.document.id)
    other = build_services(rag_settings, pool)
    with pytest.raises(NotFound):
        await other.ingestion.retry(
            await pool.fetchval("INSERT INTO tenants (name, slug) VALUES ('B', 'b') RETURNING id"),
            submitted.document.id,
        )


async def test_an_orderly_stop_hands_the_document_back_without_using_an_attempt(
    services: RagServices, tenant: TenantBot
) -> None:
    document = await queue_raw(services, tenant, slow_docx(4))
    work = asyncio.create_task(services.ingestion.work_once())
    assert await parsing_started()
    work.cancel()
    with pytest.raises(asyncio.CancelledError):
        await work
    assert parse_workers() == set()
    back = await services.documents.get(tenant.tenant_id, document.id)
    assert back is not None
    assert back.status == "queued"
    assert await services.ingestion.leases.attempts(tenant.tenant_id, document.id) == 0
