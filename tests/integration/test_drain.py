"""Graceful drain on deploy: SIGTERM to a real ``parley serve`` while a caller hears a reply.

The caller hears the rest of the reply, then the shutdown notice, then ``session.ended``
(``server_shutdown``) and Parley's own close 1001; meanwhile readiness answers 503 and a new
caller is refused with ``server_draining`` (1013); everything said is stored, nothing cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import signal
import wave
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.integration.voice.harness import VoiceClient, voice_client
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.process_server import parley_process
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence

NOTICE = "We are restarting now, goodbye."


@pytest.fixture
async def speech() -> bytes:
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 16_000))) as wav:
        return wav.readframes(wav.getnframes())


async def _reply_audio_started(caller: VoiceClient) -> int:
    """The turn number of the first reply to the caller's speech (the test bot has no greeting)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 60  # offline STT on a busy machine takes seconds
    while loop.time() < give_up:
        for event in caller.events("audio.start"):
            if event["turn"] is not None:
                return int(event["turn"])
        if caller.closed.is_set():
            raise AssertionError(f"closed before the reply: {caller.events()}")
        caller.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(caller.changed.wait(), 1)
    raise AssertionError(f"no reply: {caller.events()}")


async def test_sigterm_mid_reply_finishes_the_reply_says_the_notice_and_stores_everything(
    tmp_path: Path, database_url: str, speech: bytes
) -> None:
    tenant = await create_tenant(database_url)
    settings = {
        "shutdown_timeout_s": 20,
        "shutdown_notice": NOTICE,
        "stt_offline_workers": 1,
        "demo": "false",
    }
    async with parley_process(database_url, tmp_path / "data", settings) as server:
        ws_url = server.url.replace("http", "ws") + "/v1/voice/ws"
        async with (
            voice_client(ws_url, **tenant.secret_headers) as caller,
            httpx.AsyncClient(base_url=server.url, timeout=5) as http,
        ):
            started = await caller.start(tenant.bot_id)
            await caller.stream(silence(300) + speech + silence(900))
            turn = await _reply_audio_started(caller)
            assert turn not in [e["turn"] for e in caller.events("audio.end")]  # mid-reply
            server.process.send_signal(signal.SIGTERM)

            # Readiness goes 503 at once, and a new caller is turned away with a clear code.
            for _ in range(250):  # a probe every 20 ms, for at most 5 s
                if (ready := await http.get("/readyz")).status_code != 200:
                    break
                await asyncio.sleep(0.02)
            assert ready.status_code == 503
            assert ready.json()["type"].endswith("server-draining")
            async with voice_client(ws_url, **tenant.secret_headers) as latecomer:
                await latecomer.ws.send(
                    json.dumps({"type": "session.start", "bot_id": str(tenant.bot_id),
                                "sample_rate": 16_000})
                )  # fmt: skip
                await asyncio.wait_for(latecomer.closed.wait(), 10)
            [refusal] = latecomer.events("error")
            assert refusal["code"] == "server_draining"
            assert latecomer.ws.close_code == 1013

            ended = await caller.wait_for("session.ended")
            await asyncio.wait_for(caller.closed.wait(), 10)
        assert await asyncio.wait_for(server.process.wait(), 30) == 0

    assert ended["reason"] == "server_shutdown"
    assert caller.ws.close_code == 1001  # Parley's own close, not uvicorn's 1012
    kinds = [(p["type"], p.get("turn")) for k, p in caller.received if k == "json"]
    # The reply played to its end, then the notice (outside any turn), then the end.
    reply_end = kinds.index(("audio.end", turn))
    notice = kinds.index(("notice", None))
    assert reply_end < notice < kinds.index(("session.ended", None))
    assert ("interrupted", turn) not in kinds
    assert caller.events("notice")[-1] == {
        "type": "notice", "code": "server_shutdown", "turn": None, "text": NOTICE,
    }  # fmt: skip
    notice_audio = [i for i, (k, p) in enumerate(caller.received) if k == "audio" and i > notice]
    assert notice_audio, "the notice was spoken"
    [done] = [e for e in caller.events("assistant.done") if e["turn"] == turn]

    conn = await asyncpg.connect(database_url)
    try:
        session = await conn.fetchrow(
            "SELECT end_reason, ended_at, conversation_id FROM voice_sessions WHERE id = $1",
            started["session_id"],
        )
        assert session["end_reason"] == "server_shutdown"
        assert session["ended_at"] is not None
        messages = await conn.fetch(
            "SELECT role, content, interrupted FROM messages WHERE conversation_id = $1"
            " ORDER BY created_at",
            session["conversation_id"],
        )
        replies = [m for m in messages if m["role"] == "assistant"]
        assert [m["role"] for m in messages if m["role"] == "user"] == ["user"]
        assert replies[-1]["content"] == done["text"]  # the reply stored whole...
        assert not any(m["interrupted"] for m in messages)  # ...and not marked cut
        turns = await conn.fetch(
            "SELECT ordinal, interrupted FROM turns WHERE voice_session_id = $1",
            started["session_id"],
        )
        assert (turn, False) in [(t["ordinal"], t["interrupted"]) for t in turns]
    finally:
        await conn.close()
