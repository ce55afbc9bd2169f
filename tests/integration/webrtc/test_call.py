"""Voice calls over WebRTC: a real aiortc caller (Opus both ways, the `parley` data channel) on
loopback against the whole app with its offline speech stack and a real database."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from tests.integration.voice.harness import eventually
from tests.integration.webrtc.caller import WebRtcCaller
from tests.integration.webrtc.conftest import WebRtcServer, say
from tests.unit.voice.audio_signals import silence
from voice_server.runtime import runtime_of
from voice_server.voice.services import VOICE


async def no_call_left(server: WebRtcServer) -> None:
    async def gone() -> bool:
        voice = runtime_of(server.app).get(VOICE)
        return (
            not server.peers.peers
            and not server.peers.live_tasks()
            and server.peers.live_connections == 0
            and not voice.manager.sessions
            and not voice.manager.live_tasks()
        )

    await eventually(gone, timeout_s=20)


async def stored_session(database_url: str) -> asyncpg.Record:
    conn = await asyncpg.connect(database_url)
    try:

        async def ended() -> bool:
            return await conn.fetchval("SELECT ended_at FROM voice_sessions") is not None

        await eventually(ended, timeout_s=20)
        row = await conn.fetchrow("SELECT * FROM voice_sessions")
        assert row is not None
        return row
    finally:
        await conn.close()


async def test_a_spoken_call_is_transcribed_answered_heard_and_stored(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        answer = await caller.offer(webrtc_server.tenant.bot_id)
        assert answer.status_code == 201, answer.text
        assert answer.headers["location"] == f"/v1/voice/webrtc/{caller.peer_id}"
        assert caller.peer_id is not None
        assert len(caller.peer_id) >= 32
        started = await caller.start(webrtc_server.tenant.bot_id)
        assert started["output_sample_rate"] == 48_000
        caller.mic.say(silence(300) + await say("what are your opening hours") + silence(1200))
        await caller.wait_for("vad.start")
        final = await caller.wait_for("transcript.final")
        assert "hours" in final["text"].split()
        audio_start = await caller.wait_for("audio.start")
        assert audio_start["sample_rate"] == 48_000
        began = time.monotonic()
        await caller.wait_for("audio.end")
        metrics = await caller.wait_for("metrics")
        assert metrics["total_ms"] is not None
        assert len(caller.loud_since(began - 0.5)) > 25  # over half a second of reply speech
        caller.send({"type": "session.end"})
        ended = await caller.wait_for("session.ended")
        assert ended["reason"] == "client_ended"
        assert caller.of("error") == []
    finally:
        await caller.close()
    await no_call_left(webrtc_server)
    session = await stored_session(database_url)
    assert session["transport"] == "webrtc"
    assert session["end_reason"] == "client_ended"
    assert session["audio_in_seconds"] > 2
    conn = await asyncpg.connect(database_url)
    try:
        user = await conn.fetchval("SELECT content FROM messages WHERE role = 'user'")
        assert "hours" in user.split()
        assert await conn.fetchval("SELECT count(*) FROM turns") == 1
    finally:
        await conn.close()


async def test_barge_in_silences_the_reply_and_keeps_what_was_heard(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        assert (await caller.offer(webrtc_server.tenant.bot_id)).status_code == 201
        await caller.start(webrtc_server.tenant.bot_id)
        caller.mic.say(silence(300) + await say("what are your opening hours") + silence(1000))
        await caller.wait_for("audio.start")
        await asyncio.sleep(1.2)  # the bot is speaking: "No language model is configured, …"
        assert caller.loud_since(time.monotonic() - 0.6), "no reply audio before the barge-in"
        caller.mic.say(await say("wait, stop please") + silence(200))
        interrupted = await caller.wait_for("interrupted")
        cut_at = time.monotonic()
        heard = interrupted["played_text"]
        assert heard
        assert "No language model is configured".startswith(heard.split(",")[0][:10])
        await asyncio.sleep(0.6)
        # The track stopped within a frame; allow the two jitter buffers their delay.
        late = [h for h in caller.loud_since(cut_at + 0.25) if h.at <= cut_at + 0.6]
        assert late == []
        caller.send({"type": "session.end"})
        await caller.wait_for("session.ended")
    finally:
        await caller.close()
    await no_call_left(webrtc_server)
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT content, interrupted FROM messages WHERE role = 'assistant' "
            "ORDER BY created_at LIMIT 1"
        )
        assert row["interrupted"] is True
        assert row["content"] == heard
    finally:
        await conn.close()


async def test_trickled_candidates_connect_and_delete_ends_the_stored_call(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        answer = await caller.offer(webrtc_server.tenant.bot_id, trickle=True)
        assert answer.status_code == 201, answer.text
        await caller.start(webrtc_server.tenant.bot_id)
        deleted = await caller.delete()
        assert deleted.status_code == 204
        # DELETE answers once the call is stored and its connection closed.
        assert webrtc_server.peers.live_connections == 0
        again = await caller.delete()
        assert again.status_code == 404
    finally:
        await caller.close()
    await no_call_left(webrtc_server)
    session = await stored_session(database_url)
    assert session["end_reason"] == "client_deleted"


async def test_a_peer_that_closes_ends_and_stores_the_call(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    assert (await caller.offer(webrtc_server.tenant.bot_id)).status_code == 201
    await caller.start(webrtc_server.tenant.bot_id)
    await caller.close()
    await no_call_left(webrtc_server)
    session = await stored_session(database_url)
    assert session["end_reason"] in {"peer_closed", "data_channel_closed"}
