"""Bad input over the voice WebSocket: typed error events, and a close only when needed."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.voice.conftest import VoiceServer
from tests.integration.voice.harness import voice_client
from tests.unit.voice.audio_signals import silence


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        (json.dumps({"type": "dance"}), "unknown_message_type"),
        (json.dumps(["session.start"]), "invalid_message"),
        (json.dumps({"type": "session.start", "sample_rate": 16000}), "invalid_message"),
        (
            json.dumps({"type": "session.start", "bot_id": str(uuid.uuid4()), "sample_rate": 7}),
            "unsupported_sample_rate",
        ),
        (
            json.dumps(
                {"type": "session.start", "bot_id": str(uuid.uuid4()), "sample_rate": 16000}
            ),
            "bot_not_found",
        ),
        (b"\x00\x00" * 160, "audio_before_start"),
    ],
)
async def test_bad_input_before_the_session_gets_an_error_and_the_socket_stays_usable(
    voice_server: VoiceServer, frame: str | bytes, code: str
) -> None:
    async with voice_client(voice_server.ws_url) as client:
        await client.ws.send(frame)
        error = await client.wait_for("error")
        assert error["code"] == code
        assert error["fatal"] is False
        await client.start(voice_server.bot_id)  # and the connection still works


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00" * 321, "bad_audio_frame"),
        (b"\x00" * 70_000, "frame_too_large"),
        ("{", "invalid_json"),
        (json.dumps({"type": "mute"}), "unknown_message_type"),
        (
            json.dumps(
                {"type": "session.start", "bot_id": str(uuid.uuid4()), "sample_rate": 16000}
            ),
            "session_already_started",
        ),
    ],
)
async def test_bad_input_during_a_session_is_reported_and_audio_keeps_flowing(
    voice_server: VoiceServer, frame: str | bytes, code: str
) -> None:
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        await client.ws.send(frame)
        error = await client.wait_for("error")
        assert (error["code"], error["fatal"]) == (code, False)
        await client.ws.send(silence(100))
        await client.ws.send(json.dumps({"type": "session.end"}))
        assert (await client.wait_for("session.ended"))["reason"] == "client_ended"


async def test_a_stereo_session_refuses_a_half_sample_frame(voice_server: VoiceServer) -> None:
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id, channels=2)
        await client.ws.send(b"\x00" * 642)  # whole mono samples, but not whole stereo pairs
        assert (await client.wait_for("error"))["code"] == "bad_audio_frame"


async def test_a_flood_of_bad_frames_closes_with_1008(voice_server: VoiceServer) -> None:
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        for _ in range(25):
            try:
                await client.ws.send(b"\x00")
            except ConnectionClosed:
                break
        await client.closed.wait()
        assert client.ws.close_code == 1008
        assert client.events("error")[-1]["code"] == "too_many_errors"


DEEP = "[" * 50_000 + "]" * 50_000  # json.loads raises RecursionError, not ValueError


async def test_json_nested_50000_deep_is_a_non_fatal_invalid_json(
    voice_server: VoiceServer,
) -> None:
    async with voice_client(voice_server.ws_url) as client:
        await client.ws.send(DEEP)  # before the session
        error = await client.wait_for("error")
        assert (error["code"], error["fatal"]) == ("invalid_json", False)
        await client.start(voice_server.bot_id)
        await client.ws.send(DEEP)  # and during it
        error = await client.wait_for("error", count=2)
        assert (error["code"], error["fatal"]) == ("invalid_json", False)
        await client.ws.send(json.dumps({"type": "session.end"}))
        assert (await client.wait_for("session.ended"))["reason"] == "client_ended"
        await client.closed.wait()
        assert client.ws.close_code == 1000
