"""Voice conversations over the real WebSocket, against a real server and database."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import numpy as np

from tests.integration.voice.conftest import VoiceServer
from tests.integration.voice.harness import eventually, voice_client
from tests.unit.voice.audio_signals import silence, speech_like

TURN_COLUMNS = (
    "stt_final_ms",
    "llm_first_token_ms",
    "first_clause_ms",
    "tts_first_byte_ms",
    "first_audio_ms",
    "total_ms",
)


def stereo(pcm: bytes) -> bytes:
    mono = np.frombuffer(pcm, "<i2")
    return np.stack([mono, mono], axis=1).reshape(-1).astype("<i2").tobytes()


async def test_a_spoken_turn_round_trips_and_is_stored(
    voice_server: VoiceServer, database_url: str
) -> None:
    voice_server.stt.texts = ["when do you open"]
    async with voice_client(voice_server.ws_url) as client:
        started = await client.start(
            voice_server.bot_id, sample_rate=48_000, channels=2, output_sample_rate=16_000
        )
        assert started["output_sample_rate"] == 16_000
        speech = silence(300, 48_000) + speech_like(800, 48_000) + silence(1000, 48_000)
        await client.stream(stereo(speech), rate=48_000, channels=2)
        await client.wait_for("audio.end")
        await client.wait_for("metrics")
        kinds = [p["type"] for k, p in client.received if k == "json"]
        for kind in ("vad.start", "vad.end", "transcript.final", "assistant.delta", "audio.start"):
            assert kind in kinds, kind
        assert client.events("transcript.final")[0]["text"] == "when do you open"
        frames = [p for k, p in client.received if k == "audio"]
        assert frames
        assert {len(f) % (16_000 // 50 * 2) for f in frames} == {0}  # whole 20 ms frames
        await client.ws.send(json.dumps({"type": "session.end"}))
        ended = await client.wait_for("session.ended")
        assert ended["reason"] == "client_ended"
    conn = await asyncpg.connect(database_url)
    try:
        messages = await conn.fetch(
            "SELECT role, content, interrupted FROM messages ORDER BY created_at"
        )
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", "when do you open"),
            ("assistant", "You said: when do you open."),
        ]
        turn = await conn.fetchrow("SELECT * FROM turns")
        for column in TURN_COLUMNS:
            assert turn[column] is not None, column
        assert turn["speech_ended_at"] > turn["speech_started_at"]
        session = await conn.fetchrow("SELECT * FROM voice_sessions")
        assert session["end_reason"] == "client_ended"
        assert session["audio_in_seconds"] > 2
        channel = await conn.fetchval("SELECT channel FROM conversations")
        assert channel == "voice"
    finally:
        await conn.close()
    metrics = await asyncio.to_thread(lambda: voice_server.app.state.metrics.render().decode())
    assert 'parley_voice_turn_stage_seconds_count{stage="total"} 1.0' in metrics


async def test_barge_in_over_the_socket(voice_server: VoiceServer, database_url: str) -> None:
    voice_server.brain.reply_text = (
        "We open at nine every weekday morning. On Saturdays we open at ten. "
        "On Sundays the shop is closed, but you can always order online."
    )
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        await client.stream(silence(200) + speech_like(700) + silence(900))
        await client.wait_for("audio.start")
        await asyncio.sleep(0.5)
        await client.stream(speech_like(600))
        interrupted = await client.wait_for("interrupted")
        at = next(i for i, (k, p) in enumerate(client.received) if k == "json" and p is interrupted)
        await asyncio.sleep(0.5)
        late_frames = [k for k, _ in client.received[at:] if k == "audio"]
        assert len(late_frames) <= 2
        heard = interrupted["played_text"]
        assert heard
        assert voice_server.brain.reply_text.startswith(heard.rstrip(".").split(" ")[0])
        await client.stream(silence(900))
        await client.wait_for("transcript.final", count=2)
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT content, interrupted FROM messages WHERE role = 'assistant' "
            "ORDER BY created_at LIMIT 1"
        )
        assert row["interrupted"] is True
        assert row["content"] == heard
        assert await conn.fetchval("SELECT interrupted FROM turns WHERE ordinal = 0") is True
    finally:
        await conn.close()


async def test_disconnect_mid_turn_leaves_no_task_and_keeps_the_transcript(
    voice_server: VoiceServer, database_url: str
) -> None:
    voice_server.stt.texts = ["tell me a long story"]
    voice_server.brain.reply_text = "Once upon a time there was a very long story. " * 6
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        await client.stream(silence(200) + speech_like(700) + silence(900))
        await client.wait_for("audio.start")
    manager = voice_server.services.manager

    async def all_gone() -> bool:
        return not manager.sessions and not manager.live_tasks()

    await eventually(all_gone)
    conn = await asyncpg.connect(database_url)
    try:

        async def ended() -> bool:
            return await conn.fetchval("SELECT ended_at FROM voice_sessions") is not None

        await eventually(ended)
        rows = await conn.fetch(
            "SELECT role, content, interrupted FROM messages ORDER BY created_at"
        )
        assert (rows[0]["role"], rows[0]["content"]) == ("user", "tell me a long story")
        assert rows[1]["role"] == "assistant"
        assert rows[1]["interrupted"] is True
        reason = await conn.fetchval("SELECT end_reason FROM voice_sessions")
        assert reason == "client_disconnected"
    finally:
        await conn.close()
