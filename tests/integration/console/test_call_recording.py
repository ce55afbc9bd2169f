"""A voice call of a bot that records: spoken over the WebSocket to the whole offline app, it
leaves one Ogg/Opus file (caller left, bot right) listed with its conversation, which the
console streams to the owner with Range requests; without the opt-in nothing is recorded."""

from __future__ import annotations

import asyncio
import io
import json
import wave

import asyncpg
import av
import httpx

from tests.integration.console.conftest import sign_up
from tests.integration.voice.harness import eventually, voice_client
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence
from voice_server.settings import Settings


async def _call(server_url: str, tenant: object, bot_id: object) -> float:
    """One spoken turn; returns the seconds of caller audio sent."""
    with wave.open(io.BytesIO(await speech_wav("what are your opening hours", 16_000))) as wav:
        rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    audio = silence(300, rate) + pcm + silence(1200, rate)
    url = server_url.replace("http://", "ws://") + "/v1/voice/ws"
    async with voice_client(url, **tenant.secret_headers) as client:  # type: ignore[attr-defined]
        await client.start(bot_id, sample_rate=rate)
        await client.stream(audio, rate=rate)
        await client.wait_for("audio.end")
        await client.ws.send(json.dumps({"type": "session.end"}))
        await client.wait_for("session.ended")
    return len(audio) / 2 / rate


async def test_a_recorded_call_is_one_stereo_file_streamed_to_the_owner(
    console_url: str, database_url: str, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=console_url, timeout=30) as http:
        owner = await sign_up(http, "Recorder Ltd")
        await owner.get("/console/bots/new")
        made = await owner.post(
            "/console/bots/new",
            {"name": "Recorded", "recording": "on", "recording_layout": "stereo"},
        )
        bot_path = made.headers["location"]
        bot_id = bot_path.rsplit("/", 1)[1]
        assert "on, caller left, bot right" in (await owner.get(bot_path)).text
        conn = await asyncpg.connect(database_url)
        try:
            tenant_id = await conn.fetchval(
                "SELECT tenant_id FROM bots WHERE id = $1::uuid", bot_id
            )
            secret = await _secret_key_for(conn, tenant_id)
        finally:
            await conn.close()
        sent_s = await _call(console_url, _Headers(secret), bot_id)

        conn = await asyncpg.connect(database_url)
        try:

            async def listed() -> bool:
                return await conn.fetchval("SELECT count(*) FROM call_recordings") == 1

            await eventually(listed)
            row = await conn.fetchrow("SELECT * FROM call_recordings")
        finally:
            await conn.close()
        assert row["tenant_id"] == tenant_id
        assert row["layout"] == "stereo"
        # The whole call: at least the caller's audio, plus at most the reply after it.
        assert row["duration_s"] >= sent_s - 0.3
        path = settings.data_dir / "recordings" / row["storage_key"]
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.name == "opus"
            assert stream.codec_context.channels == 2

        page = await owner.get(f"/console/conversations/{row['conversation_id']}")
        assert "<audio" in page.text
        whole = await owner.http.get(f"/console/conversations/{row['conversation_id']}/recording")
        assert whole.status_code == 200
        assert whole.headers["content-type"].startswith("audio/ogg")
        assert whole.content == await asyncio.to_thread(path.read_bytes)
        part = await owner.http.get(
            f"/console/conversations/{row['conversation_id']}/recording",
            headers={"Range": "bytes=10-19"},
        )
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 10-19/{len(whole.content)}"
        assert part.content == whole.content[10:20]
        bad = await owner.http.get(
            f"/console/conversations/{row['conversation_id']}/recording",
            headers={"Range": f"bytes={len(whole.content) + 5}-"},
        )
        assert bad.status_code == 416


async def test_no_opt_in_no_recording(server_url: str, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    await _call(server_url, tenant, tenant.bot_id)
    conn = await asyncpg.connect(database_url)
    try:

        async def ended() -> bool:
            return (
                await conn.fetchval(
                    "SELECT count(*) FROM voice_sessions WHERE ended_at IS NOT NULL"
                )
                == 1
            )

        await eventually(ended)
        assert await conn.fetchval("SELECT count(*) FROM call_recordings") == 0
    finally:
        await conn.close()


class _Headers:
    def __init__(self, secret: str) -> None:
        self.secret_headers = {"Authorization": f"Bearer {secret}"}


async def _secret_key_for(conn: asyncpg.Connection, tenant_id: object) -> str:
    from dashboard_api.key_management import create_secret_key

    made = await create_secret_key(conn, tenant_id)  # type: ignore[arg-type]
    return made.key
