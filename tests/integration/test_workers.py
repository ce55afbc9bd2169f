"""`parley serve --workers 2`: two processes answer on one port, /metrics sums them, and one
SIGTERM to the parent drains the calls of both."""

from __future__ import annotations

import asyncio
import re
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx

from tests.integration.voice.harness import VoiceClient, voice_client
from tests.support.process_server import parley_process
from tests.support.tenants import create_tenant

NOTICE = "Restarting, goodbye."
MAX_CALLS = 12  # enough for both workers to get one: the kernel spreads connections at random


async def _instances(database_url: str) -> dict[str, str]:
    """Each open voice session's worker (its liveness instance id, stamped just after
    session.started: waited for)."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(100):
            rows = await conn.fetch(
                "SELECT id, instance_id FROM voice_sessions WHERE ended_at IS NULL"
            )
            if all(r["instance_id"] is not None for r in rows):
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return {str(r["id"]): r["instance_id"] for r in rows}


async def test_two_workers_share_the_port_and_metrics_and_sigterm_drains_both(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url, plan="business")
    settings = {
        "workers": 2,
        "instance_id": "drain-test",
        "shutdown_timeout_s": 20,
        "shutdown_notice": NOTICE,
        "stt_offline_workers": 1,
    }
    async with parley_process(database_url, tmp_path / "data", settings) as server:
        ws_url = server.url.replace("http", "ws") + "/v1/voice/ws"
        # Worker 0 answers /readyz first; the parent starts worker 1 once worker 0 serves.
        for _ in range(1200):
            if any(r.get("msg") == "parley serving" for r in server.log_records()):
                break
            await asyncio.sleep(0.1)
        workers = server.children()
        assert len(workers) == 2  # the parent runs no server itself

        # Fresh connections land on both workers; /metrics (from either) counts them all.
        for _ in range(30):
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.get("/readyz")).status_code == 200
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = (await http.get("/metrics")).text
        reported = {int(pid) for pid in re.findall(r'parley_database_up\{pid="(\d+)"\} 1', metrics)}
        assert reported == set(workers)
        served = sum(
            float(n)
            for n in re.findall(
                r'parley_http_requests_total\{method="GET",route="/readyz",status="200"\} (\S+)',
                metrics,
            )
        )
        assert served >= 30  # both processes' counts, summed (plus the start-up probes)

        async with AsyncExitStack() as stack:
            callers: list[VoiceClient] = []
            sessions: list[str] = []
            for _ in range(MAX_CALLS):
                caller = await stack.enter_async_context(
                    voice_client(ws_url, **tenant.secret_headers)
                )
                sessions.append((await caller.start(tenant.bot_id))["session_id"])
                callers.append(caller)
                if len(set((await _instances(database_url)).values())) == 2:
                    break
            assert set((await _instances(database_url)).values()) == {
                "drain-test/w0",
                "drain-test/w1",
            }

            async with httpx.AsyncClient(base_url=server.url) as http:
                metrics = (await http.get("/metrics")).text
            # Live calls summed over both workers: what the autoscaler reads.
            assert f"parley_voice_active_sessions {float(len(callers))}" in metrics

            server.process.send_signal(signal.SIGTERM)  # to the parent only
            for caller in callers:
                ended = await caller.wait_for("session.ended")
                assert ended["reason"] == "server_shutdown"
                await asyncio.wait_for(caller.closed.wait(), 10)
                assert caller.ws.close_code == 1001
                assert [n["text"] for n in caller.events("notice")] == [NOTICE]
        assert await asyncio.wait_for(server.process.wait(), 40) == 0
        assert server.children() == []  # no worker outlives the parent

    assert await _instances(database_url) == {}  # every session stored as ended
    conn = await asyncpg.connect(database_url)
    try:
        reasons = await conn.fetch(
            "SELECT DISTINCT end_reason FROM voice_sessions WHERE id = ANY($1::uuid[])", sessions
        )
    finally:
        await conn.close()
    assert [r["end_reason"] for r in reasons] == ["server_shutdown"]
