"""kill -9 during ingestion, then an immediate restart (as systemd or Docker would): the
document is picked up again and finished, nothing is left `processing`, and the killed server's
parsing process does not outlive it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.abuse.conftest import AbuseReport
from tests.support.process_server import parley_process
from tests.support.tenants import create_tenant
from tests.support.zip_bombs import slow_docx

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SETTINGS = {
    # Short enough to take the document back within seconds of the restart; long enough that a
    # busy CI machine's stalls do not expire a live lease (that would only cost an attempt).
    "rag_lease_s": 4,
    "rag_parse_attempts": 5,
    "rag_max_compression_ratio": 100_000,  # the slow document is highly compressible
    "rate_limit_ip_per_minute": 0,
    "rate_limit_key_per_minute": 0,
    "rate_limit_tenant_per_minute": 0,
}


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], doc_id: str) -> str:
    response = await client.get(f"/v1/documents/{doc_id}", headers=headers)
    response.raise_for_status()
    return str(response.json()["status"])


async def wait_for(predicate: Callable[[], bool], within_s: float) -> bool:
    for _ in range(int(within_s / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_kill_9_during_ingestion_then_restart_finishes_the_document(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    headers = owner.secret_headers
    async with parley_process(database_url, tmp_path / "a", SETTINGS, name="first") as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            response = await client.post(
                "/v1/documents",
                files={"file": ("slow.docx", slow_docx(1), "application/octet-stream")},
                headers=headers,
            )
            abuse_report.check(response.status_code, "POST /v1/documents (slow DOCX)")
            assert response.status_code == 201, response.text
            doc_id = response.json()["id"]
            # Mid-parse: the document is leased and the server has a parsing child.
            assert await wait_for(lambda: bool(first.children()), 60)
            assert await status_of(client, headers, doc_id) == "processing"
        workers = first.children()
        await first.kill_9()
    abuse_report.tried()
    # The killed server's parsing process dies with it (PR_SET_PDEATHSIG).
    orphans_gone = await wait_for(
        lambda: not any(Path(f"/proc/{pid}/cmdline").exists() for pid in workers), 10
    )
    abuse_report.record("parse_workers_left_after_kill_9", 0 if orphans_gone else len(workers))
    assert orphans_gone

    async with (
        parley_process(database_url, tmp_path / "b", SETTINGS, name="second") as second,
        httpx.AsyncClient(base_url=second.url, timeout=30) as client,
    ):
        for _ in range(1800):
            status = await status_of(client, headers, doc_id)
            if status in ("ready", "failed"):
                break
            await asyncio.sleep(0.1)
        assert status == "ready", status
    conn = await asyncpg.connect(database_url)
    try:
        attempts = await conn.fetchval("SELECT attempts FROM documents WHERE id = $1::uuid", doc_id)
        stuck = await conn.fetchval(
            "SELECT count(*) FROM documents WHERE status IN ('processing', 'queued')"
        )
    finally:
        await conn.close()
    # The killed try counted; the next one finished (a stall on a busy machine may add one).
    assert 2 <= attempts < 5
    abuse_report.record("ingestion_attempts_after_kill_9", int(attempts))
    abuse_report.record("documents_stuck_after_kill_9_restart", int(stuck))
    assert stuck == 0
