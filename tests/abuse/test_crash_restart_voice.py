"""``kill -9`` during a voice call, then an immediate restart, as systemd or Docker would do it.

A real ``parley serve`` process on a free port, the test's PostgreSQL, offline speech and a plan
with one voice line. Before the fix the dead call's session row stayed open and the plan counted
it as in use for 12 hours: every new caller was refused as busy while /v1/voice/health said 0.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.abuse.conftest import AbuseReport
from tests.integration.voice.harness import voice_client
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import free_port
from tests.support.tenants import TenantKeys, create_tenant
from tests.unit.voice.audio_signals import silence

ONE_LINE_PLAN = """
[plans.oneline]
name = "One line"
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 100
voice_minutes_per_month = 60
concurrent_voice_sessions = 1
"""


def _env(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    plans = tmp_path / "plans.toml"
    plans.write_text(ONE_LINE_PLAN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        DATABASE_URL=database_url,
        PARLEY_PORT=str(port),
        PARLEY_DATA_DIR=str(tmp_path / "data"),
        PARLEY_LOG_JSON="false",
        PARLEY_BILLING_PLANS_FILE=str(plans),
        PARLEY_BILLING_DEFAULT_PLAN="oneline",
        PARLEY_STT_OFFLINE_WORKERS="1",
    )
    return env


@asynccontextmanager
async def parley_serve(
    tmp_path: Path, env: dict[str, str], run: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``parley serve`` in a process group of its own (its STT workers die with it)."""
    log = (tmp_path / f"serve-{run}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_server", "serve",
        env=env, cwd=tmp_path, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{env['PARLEY_PORT']}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as http:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError((tmp_path / f"serve-{run}.log").read_text())
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("parley serve never became ready")
        yield proc
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        log.close()


def kill_9(proc: asyncio.subprocess.Process) -> None:
    os.killpg(proc.pid, signal.SIGKILL)


async def open_sessions(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT * FROM voice_sessions WHERE ended_at IS NULL")
    finally:
        await conn.close()


@pytest.fixture
async def speech() -> bytes:
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 16_000))) as wav:
        return wav.readframes(wav.getnframes())


async def test_kill_9_mid_reply_then_restart_leaves_no_session_open(
    tmp_path: Path, database_url: str, speech: bytes, abuse_report: AbuseReport
) -> None:
    tenant: TenantKeys = await create_tenant(database_url)
    port = free_port()
    env = _env(tmp_path, database_url, port)
    ws_url = f"ws://127.0.0.1:{port}/v1/voice/ws"

    async with (
        parley_serve(tmp_path, env, 1) as first,
        voice_client(ws_url, **tenant.secret_headers) as caller,
    ):
        started = await caller.start(tenant.bot_id)
        await caller.stream(silence(300) + speech + silence(1000))
        await caller.wait_for("audio.start")  # the reply is being spoken...
        kill_9(first)  # ...when the server dies
        await first.wait()
        await caller.closed.wait()
    [left] = await open_sessions(database_url)
    assert str(left["id"]) == started["session_id"]
    conn = await asyncpg.connect(database_url)
    try:
        said_before = await conn.fetch("SELECT role, content FROM messages ORDER BY created_at")
    finally:
        await conn.close()

    async with parley_serve(tmp_path, env, 2):  # at once, on the same port
        abuse_report.tried()
        still_open = await open_sessions(database_url)
        abuse_report.record("voice_sessions_left_open_after_restart", len(still_open))
        assert still_open == []
        conn = await asyncpg.connect(database_url)
        try:
            closed = await conn.fetchrow(
                "SELECT end_reason, ended_at, conversation_id FROM voice_sessions WHERE id = $1",
                left["id"],
            )
            assert closed["end_reason"] == "server_restart"
            conversation = await conn.fetchval(
                "SELECT ended_at FROM conversations WHERE id = $1", closed["conversation_id"]
            )
            assert conversation is not None
            # The reply that was being spoken died with the server: nothing is made up for it.
            said_after = await conn.fetch("SELECT role, content FROM messages ORDER BY created_at")
            assert said_after == said_before
            assert all(m["role"] == "user" for m in said_after)
        finally:
            await conn.close()

        # The one line is free: a new caller is admitted, and health and the rows agree.
        async with (
            voice_client(ws_url, **tenant.secret_headers) as caller,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            await caller.start(tenant.bot_id)
            health = (await http.get("/v1/voice/health")).json()
            assert health["active_sessions"] == 1 == len(await open_sessions(database_url))
            await caller.ws.send(json.dumps({"type": "session.end"}))
            await caller.wait_for("session.ended")
        for _ in range(100):
            if not await open_sessions(database_url):
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = (await http.get("/v1/voice/health")).json()
        assert health["active_sessions"] == 0 == len(await open_sessions(database_url))
