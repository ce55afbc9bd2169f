"""Done means: a real speech WAV from eSpeak NG, streamed in real time over the WebSocket to the
whole app running only offline defaults (pocketsphinx, the offline answerer, eSpeak NG)."""

from __future__ import annotations

import io
import json
import wave

import asyncpg

from tests.integration.voice.harness import eventually, voice_client
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS

TURN_COLUMNS = (
    "stt_final_ms",
    "llm_first_token_ms",
    "first_clause_ms",
    "tts_first_byte_ms",
    "first_audio_ms",
    "total_ms",
)


async def speech_wav(text: str, rate: int) -> bytes:
    tts = EspeakTTS()
    pcm = b"".join(
        [c async for c in tts.synthesize(text, sample_rate=rate, options=VoiceOptions())]
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


async def test_offline_spoken_conversation_over_the_websocket(
    server_url: str, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 22_050))) as wav:
        rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    url = server_url.replace("http://", "ws://") + "/v1/voice/ws"
    async with voice_client(url, **tenant.secret_headers) as client:
        await client.start(tenant.bot_id, sample_rate=rate)
        await client.stream(silence(300, rate) + pcm + silence(1200, rate), rate=rate)
        await client.wait_for("vad.start")
        await client.wait_for("vad.end")
        final = await client.wait_for("transcript.final")
        assert "hours" in final["text"].split()
        done = await client.wait_for("assistant.done")
        await client.wait_for("audio.end")
        metrics = await client.wait_for("metrics")
        assert metrics["total_ms"] is not None
        frames = [p for k, p in client.received if k == "audio"]
        assert len(frames) > 25  # more than half a second of reply audio at 24 kHz
        await client.ws.send(json.dumps({"type": "session.end"}))
        await client.wait_for("session.ended")
        assert client.events("error") == []
    conn = await asyncpg.connect(database_url)
    try:

        async def turn_stored() -> bool:
            return await conn.fetchval("SELECT count(*) FROM turns") == 1

        await eventually(turn_stored)
        turn = await conn.fetchrow("SELECT * FROM turns")
        for column in TURN_COLUMNS:
            assert turn[column] is not None, column
        assert turn["interrupted"] is False
        user = await conn.fetchval("SELECT content FROM messages WHERE role = 'user'")
        assert "hours" in user.split()
    finally:
        await conn.close()
    assert "language model" in done["text"]  # the offline answerer says what it is
