"""Done means: a voice session runs out of the plan's minutes mid-reply and ends with the spoken
notice; the next one is refused at start. The whole app on a real port, a widget's publishable
key, real speech (eSpeak NG) streamed in real time, and the cloud providers' SDKs pointed at
local fakes (Groq Whisper, Groq chat, Deepgram Aura with a tone of 60 ms per character)."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from billing.ledger import record_usage
from tests.conftest import make_settings
from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq, Text
from tests.integration.voice.harness import VoiceClient, eventually, voice_client
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from tests.unit.voice.audio_signals import silence
from voice_server.app import create_app

TINY_PLAN = """
[plans.tiny]
name = "Tiny"
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 100
voice_minutes_per_month = 1
concurrent_voice_sessions = 1
"""
NOTICE = "Your voice minutes are used up. Goodbye."
BUSY = "All lines are busy."
SENTENCES = [
    "We open at nine.",
    "We close at six.",
    "Saturday is short.",
    "Sunday we rest.",
    "Holidays vary.",
    "Call us any time.",
]
FRAME_S = 0.02
TONE_S_PER_CHAR = 0.06  # the Deepgram fake's tone


@dataclass
class Served:
    url: str
    tenant: TenantKeys
    database_url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/voice/ws"

    def client(self) -> Any:
        # A server's credential: publishable keys need a session token per call.
        return voice_client(self.ws_url, **self.tenant.secret_headers)


@pytest.fixture
async def speech() -> bytes:
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 16_000))) as wav:
        return wav.readframes(wav.getnframes())


@pytest.fixture
async def tiny_server(tmp_path: Path, database_url: str) -> AsyncIterator[Served]:
    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN)
    tenant = await create_tenant(database_url)
    chat = FakeGroq(script=[Text(" ".join(SENTENCES))])
    async with (
        groq_audio_server(text="what are your opening hours") as groq,
        deepgram_server(audio="tone") as deepgram,
        chat.serve() as chat_url,
    ):
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            billing_plans_file=plans,
            billing_default_plan="tiny",
            billing_voice_limit_notice=NOTICE,
            billing_voice_busy_notice=BUSY,
            groq_api_key=groq.api_key,
            groq_base_url=groq.base_url,
            deepgram_api_key=deepgram.api_key,
            deepgram_base_url=deepgram.base_url,
            llm_provider="groq",
            llm_api_key=chat.api_key,
            llm_base_url=chat_url,
        )
        async with serve_app(create_app(settings)) as url:
            yield Served(url, tenant, database_url)


async def use_voice_seconds(database_url: str, tenant: TenantKeys, seconds: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await record_usage(conn, tenant.tenant_id, "voice_seconds", seconds, "earlier-calls")
    finally:
        await conn.close()


def after(client: VoiceClient, event: dict[str, Any]) -> list[tuple[str, Any]]:
    return client.received[client.received.index(("json", event)) + 1 :]


def audio_seconds(received: list[tuple[str, Any]], rate: int = 24_000) -> float:
    """How much audio the binary messages hold (frames due together come in one message)."""
    return sum(len(p) for k, p in received if k == "audio") / 2 / rate


async def test_minutes_run_out_mid_reply_then_the_next_session_is_refused(
    tiny_server: Served, speech: bytes
) -> None:
    await use_voice_seconds(tiny_server.database_url, tiny_server.tenant, 55)  # 5 s left
    async with tiny_server.client() as client:
        started = await client.start(tiny_server.tenant.bot_id)
        await client.stream(silence(300) + speech + silence(1200))
        notice = await client.wait_for("notice")
        ended = await client.wait_for("session.ended")
        await client.closed.wait()
    assert client.ws.close_code == 4402
    assert (notice["code"], notice["text"], notice["turn"]) == ("quota_exceeded", NOTICE, 0)
    assert ended["reason"] == "quota_exhausted"
    # The notice is spoken: all of its audio follows its event.
    assert audio_seconds(after(client, notice)) >= TONE_S_PER_CHAR * len(NOTICE) - FRAME_S
    # Then the turn is over, the error says why, and the session is stored as ended.
    kinds = [p["type"] for k, p in after(client, notice) if k == "json"]
    assert kinds == ["audio.end", "metrics", "error", "session.ended"]
    error = client.events("error")[0]
    assert (error["code"], error["fatal"], error["limit_name"]) == (
        "quota_exceeded",
        True,
        "voice_minutes_per_month",
    )
    assert error["used"] >= error["limit"] == 1

    conn = await asyncpg.connect(tiny_server.database_url)
    try:
        session_id = started["session_id"]

        async def stored() -> bool:
            return await conn.fetchval("SELECT count(*) FROM turns") == 1

        await eventually(stored)
        session = await conn.fetchrow("SELECT ended_at, end_reason FROM voice_sessions")
        assert session["ended_at"] is not None
        assert session["end_reason"] == "quota_exhausted"
        said = await conn.fetchval("SELECT content FROM messages WHERE role = 'assistant'")
        # Whole sentences up to the limit, not the rest of the answer, then the notice.
        assert said.startswith(SENTENCES[0])
        assert SENTENCES[-1] not in said
        assert said.endswith(NOTICE)
        billed = await conn.fetch(
            "SELECT idempotency_key, quantity FROM usage_events WHERE kind = 'voice_seconds' "
            "AND idempotency_key LIKE 'voice:%'"
        )
        assert [r["idempotency_key"] for r in billed] == [f"voice:{session_id}:0"]
        assert billed[0]["quantity"] >= 5  # the question, the sentences said and the notice
    finally:
        await conn.close()

    # The next call of the same tenant is refused at start: error event, spoken notice, close.
    async with tiny_server.client() as client:
        await client.ws.send(
            json.dumps(
                {
                    "type": "session.start",
                    "bot_id": str(tiny_server.tenant.bot_id),
                    "sample_rate": 16_000,
                }  # fmt: skip
            )
        )
        await client.closed.wait()
    assert client.ws.close_code == 4402
    assert client.events("session.started") == []
    refusal = client.events("error")[0]
    assert (refusal["code"], refusal["limit_name"], refusal["plan"]) == (
        "quota_exceeded",
        "voice_minutes_per_month",
        "tiny",
    )
    notice = client.events("notice")[0]
    assert notice["text"] == NOTICE
    assert audio_seconds(after(client, notice)) >= TONE_S_PER_CHAR * len(NOTICE) - FRAME_S
    assert [p["type"] for k, p in after(client, notice) if k == "json"] == [
        "audio.start",
        "audio.end",
    ]
    conn = await asyncpg.connect(tiny_server.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM voice_sessions") == 1
    finally:
        await conn.close()


async def test_a_second_concurrent_call_hears_that_the_lines_are_busy(tiny_server: Served) -> None:
    start = {
        "type": "session.start",
        "bot_id": str(tiny_server.tenant.bot_id),
        "sample_rate": 16_000,
    }
    async with tiny_server.client() as first:
        await first.start(tiny_server.tenant.bot_id)
        async with tiny_server.client() as second:
            await second.ws.send(json.dumps(start))
            await second.closed.wait()
        assert second.ws.close_code == 4402
        refusal = second.events("error")[0]
        assert refusal["limit_name"] == "concurrent_voice_sessions"
        assert second.events("notice")[0]["text"] == BUSY
        assert [k for k, _ in second.received].count("audio") > 0
        await first.ws.send(json.dumps({"type": "session.end"}))
        await first.wait_for("session.ended")
    # The line is free again once the first call has ended.
    async with tiny_server.client() as third:
        started = await third.start(tiny_server.tenant.bot_id)
        assert started["type"] == "session.started"


async def started_or_closed(client: VoiceClient) -> None:
    async with asyncio.timeout(30):
        while not (client.events("session.started") or client.closed.is_set()):
            client.changed.clear()
            await client.changed.wait()


async def test_simultaneous_calls_against_one_line_let_exactly_one_in(tiny_server: Served) -> None:
    bot_id = str(tiny_server.tenant.bot_id)
    start = json.dumps({"type": "session.start", "bot_id": bot_id, "sample_rate": 16_000})
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(tiny_server.client()) for _ in range(5)]
        await asyncio.gather(*(client.ws.send(start) for client in clients))
        await asyncio.gather(*(started_or_closed(client) for client in clients))
        admitted = [c for c in clients if c.events("session.started")]
        refused = [c for c in clients if c.closed.is_set()]
        assert len(admitted) == 1
        assert len(refused) == 4
        assert {c.ws.close_code for c in refused} == {4402}
        assert {c.events("error")[0]["limit_name"] for c in refused} == {
            "concurrent_voice_sessions"
        }
