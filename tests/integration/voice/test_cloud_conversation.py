"""Done means: the same spoken conversation with the cloud providers (Groq Whisper STT, Groq
chat through LangChain, Deepgram Aura TTS), each through its official SDK pointed at a local
fake that speaks the vendor's wire protocol."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import asyncpg

from tests.conftest import make_settings
from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq, Text
from tests.integration.voice.harness import eventually, voice_client
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence
from voice_server.app import create_app


async def test_cloud_spoken_conversation_over_the_websocket(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    chat = FakeGroq(script=[Text("We open at nine in the morning. See you soon!")])
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 16_000))) as wav:
        pcm = wav.readframes(wav.getnframes())
    async with (
        groq_audio_server(text="what are your opening hours") as groq,
        deepgram_server(audio="tone") as deepgram,
        chat.serve() as chat_url,
    ):
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            groq_api_key=groq.api_key,
            groq_base_url=groq.base_url,
            deepgram_api_key=deepgram.api_key,
            deepgram_base_url=deepgram.base_url,
            llm_provider="groq",
            llm_api_key=chat.api_key,
            llm_base_url=chat_url,
        )
        async with serve_app(create_app(settings)) as url:
            ws_url = url.replace("http://", "ws://") + "/v1/voice/ws"
            async with voice_client(ws_url, **tenant.secret_headers) as client:
                await client.start(tenant.bot_id)
                await client.stream(silence(300) + pcm + silence(1200))
                final = await client.wait_for("transcript.final")
                assert final["text"] == "what are your opening hours"
                done = await client.wait_for("assistant.done")
                assert done["text"] == "We open at nine in the morning. See you soon!"
                await client.wait_for("audio.end")
                metrics = await client.wait_for("metrics")
                assert all(v is not None for k, v in metrics.items() if k.endswith("_ms"))
                assert [k for k, _ in client.received].count("audio") > 10
                assert client.events("error") == []
                await client.ws.send(json.dumps({"type": "session.end"}))
                await client.wait_for("session.ended")
        assert groq.requests
        assert deepgram.requests
    conn = await asyncpg.connect(database_url)
    try:

        async def stored() -> bool:
            return await conn.fetchval("SELECT count(*) FROM turns") == 1

        await eventually(stored)
        turn = await conn.fetchrow("SELECT * FROM turns")
        assert turn["total_ms"] is not None
        assert turn["llm_first_token_ms"] is not None
    finally:
        await conn.close()
