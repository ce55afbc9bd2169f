from __future__ import annotations

import json
import uuid

import pytest

from voice_server.voice.protocol import (
    ProtocolViolation,
    SessionEnd,
    SessionStart,
    check_audio,
    parse_text,
)
from voice_server.voice.records import Resume

BOT = uuid.uuid4()


def test_session_start_with_defaults() -> None:
    message = parse_text(
        json.dumps({"type": "session.start", "bot_id": str(BOT), "sample_rate": 48000})
    )
    assert message == SessionStart(BOT, 48000, 1, None, None)


def test_session_start_with_output_rate_stereo_and_key() -> None:
    message = parse_text(
        json.dumps(
            {
                "type": "session.start",
                "bot_id": str(BOT),
                "sample_rate": 44100,
                "channels": 2,
                "output_sample_rate": 16000,
                "key": "ppk_x",
            }
        )
    )
    assert message == SessionStart(BOT, 44100, 2, 16000, "ppk_x")


def test_session_start_resuming_a_conversation() -> None:
    conversation = uuid.uuid4()
    start = {"type": "session.start", "bot_id": str(BOT), "sample_rate": 16000}
    message = parse_text(
        json.dumps(start | {"conversation_id": str(conversation), "resume_token": "s3cret"})
    )
    assert isinstance(message, SessionStart)
    assert message.resume == Resume(conversation, "s3cret")
    for bad in ({"conversation_id": "nope", "resume_token": "x"}, {"conversation_id": str(BOT)}):
        with pytest.raises(ProtocolViolation) as refused:
            parse_text(json.dumps(start | bad))
        assert (refused.value.code, refused.value.close) == ("invalid_message", None)


def test_session_end() -> None:
    assert parse_text('{"type": "session.end"}') == SessionEnd()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nope", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "session.pause"}', "unknown_message_type"),
        ('{"type": "session.start", "bot_id": "x", "sample_rate": 16000}', "invalid_message"),
        (
            json.dumps({"type": "session.start", "bot_id": str(BOT), "sample_rate": 12345}),
            "unsupported_sample_rate",
        ),
        (
            json.dumps({"type": "session.start", "bot_id": str(BOT), "sample_rate": "16000"}),
            "unsupported_sample_rate",
        ),
        (
            json.dumps(
                {
                    "type": "session.start",
                    "bot_id": str(BOT),
                    "sample_rate": 16000,
                    "output_sample_rate": 96000,
                }
            ),
            "unsupported_sample_rate",
        ),
        (
            json.dumps(
                {"type": "session.start", "bot_id": str(BOT), "sample_rate": 16000, "channels": 6}
            ),
            "invalid_message",
        ),
    ],
)
def test_bad_messages_have_typed_codes(text: str, code: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_text(text)
    assert caught.value.code == code
    assert caught.value.event()["fatal"] is False


@pytest.mark.parametrize(
    ("frame", "started", "channels", "code"),
    [
        (b"\x00" * 10, False, 1, "audio_before_start"),
        (b"\x00" * 11, True, 1, "bad_audio_frame"),
        (b"\x00" * 6, True, 2, "bad_audio_frame"),
        (b"\x00" * 2000, True, 1, "frame_too_large"),
    ],
)
def test_bad_audio_frames(frame: bytes, started: bool, channels: int, code: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        check_audio(frame, started=started, channels=channels, max_bytes=1000)
    assert caught.value.code == code


def test_good_audio_frame_passes() -> None:
    check_audio(b"\x00" * 640, started=True, channels=2, max_bytes=1000)
