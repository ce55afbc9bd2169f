"""ZIP bombs through the real API of a real server process, with its memory measured.

- default limits: a DOCX and an XLSX-like archive that inflate to 1.1 GB from a few MB are
  refused at upload from their directories; a DOCX hiding a bomb in an embedded archive gets in
  and fails in the parsing process, with a reason, without being retried;
- zip limits switched off: the same DOCX reaches the parser, whose process hits its memory cap
  and is stopped; the document fails after the configured attempts.
In both, the server's own peak RSS (VmHWM) is recorded, and so is the parsing process's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.abuse.conftest import AbuseReport
from tests.support.process_server import ServerProcess, parley_process
from tests.support.tenants import TenantKeys, create_tenant
from tests.support.zip_bombs import docx_bomb, nested_docx_bomb, xlsx_bomb

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

GIGABYTE_PLUS = 1100  # MB unpacked
NO_LIMITS = {"rate_limit_ip_per_minute": 0, "rate_limit_key_per_minute": 0,
             "rate_limit_tenant_per_minute": 0}  # fmt: skip


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "docx": docx_bomb(GIGABYTE_PLUS),
        "xlsx": xlsx_bomb(GIGABYTE_PLUS),
        "nested": nested_docx_bomb(GIGABYTE_PLUS),
    }


async def upload(
    client: httpx.AsyncClient, owner: TenantKeys, name: str, data: bytes
) -> httpx.Response:
    return await client.post(
        "/v1/documents",
        files={"file": (name, data, "application/octet-stream")},
        headers=owner.secret_headers,
    )


async def settled(client: httpx.AsyncClient, owner: TenantKeys, doc_id: str) -> dict[str, Any]:
    for _ in range(1800):
        body: dict[str, Any] = (
            await client.get(f"/v1/documents/{doc_id}", headers=owner.secret_headers)
        ).json()
        if body["status"] in ("ready", "failed"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"document {doc_id} stayed {body['status']}")


def worker_peak_mb(server: ServerProcess) -> float:
    peaks = [
        int(str(r["worker_peak_rss_bytes"]))
        for r in server.log_records()
        if "worker_peak_rss_bytes" in r
    ]
    return max(peaks, default=0) / 2**20


async def test_bombs_are_refused_or_fail_with_a_reason_and_memory_stays_flat(
    tmp_path: Path, database_url: str, bombs: dict[str, bytes], abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    async with (
        parley_process(database_url, tmp_path, NO_LIMITS) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        before_kb = server.status_kb("VmHWM")
        for name, expected in (("docx", 400), ("xlsx", 400)):
            response = await upload(client, owner, f"bomb.{name}", bombs[name])
            abuse_report.check(response.status_code, f"POST /v1/documents ({name} bomb)")
            assert response.status_code == expected, response.text
            assert response.json()["type"].endswith("/document-too-large-unpacked")
        response = await upload(client, owner, "nested.docx", bombs["nested"])
        abuse_report.check(response.status_code, "POST /v1/documents (nested zip bomb)")
        assert response.status_code == 201, response.text
        document = await settled(client, owner, response.json()["id"])
        assert document["status"] == "failed"
        assert "times its packed size" in document["error"]
        peak_mb = server.status_kb("VmHWM") / 1024
        worker_mb = worker_peak_mb(server)
    abuse_report.record("server_peak_rss_mb_with_bombs", round(peak_mb, 1))
    abuse_report.record("server_peak_rss_mb_before_bombs", round(before_kb / 1024, 1))
    abuse_report.record("parse_worker_peak_rss_mb_nested_bomb", round(worker_mb, 1))
    # The bombs add nothing like their 1.1 GB to the server. The growth seen is the server's own
    # working set under three uploads (122 MB on one machine, 176 MB on a clean clone: allocator
    # arenas of the upload threads), so the bound is set well below one bomb, not at that noise.
    assert peak_mb - before_kb / 1024 < 300
    assert 0 < worker_mb < 300


async def test_without_zip_limits_the_parsing_process_memory_cap_holds(
    tmp_path: Path, database_url: str, bombs: dict[str, bytes], abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    settings: dict[str, object] = {
        **NO_LIMITS,
        "rag_max_compression_ratio": 100_000,
        "rag_max_unpacked_bytes": 4_000_000_000,
        "rag_parse_memory_mb": 512,
        "rag_parse_attempts": 2,
    }
    async with (
        parley_process(database_url, tmp_path, settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        response = await upload(client, owner, "bomb.docx", bombs["docx"])
        abuse_report.check(response.status_code, "POST /v1/documents (docx bomb, no zip limits)")
        assert response.status_code == 201, response.text
        document = await settled(client, owner, response.json()["id"])
        assert document["status"] == "failed"
        assert "512 MB of memory" in document["error"]
        assert "after 2 attempts" in document["error"]
        peak_mb = server.status_kb("VmHWM") / 1024
        worker_mb = worker_peak_mb(server)
        assert server.children() == []
    abuse_report.record("server_peak_rss_mb_bomb_at_memory_cap", round(peak_mb, 1))
    abuse_report.record("parse_worker_peak_rss_mb_at_memory_cap", round(worker_mb, 1))
    assert worker_mb <= 512
    assert peak_mb < 600  # the server never held the inflated gigabyte
