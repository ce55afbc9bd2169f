"""The Pipecat bot speaks Parley's voice protocol through benchmarks.pipecat_protocol, so that
the benchmark's callers drive both servers unchanged."""

from __future__ import annotations

import json
import struct

import pytest

from benchmarks.pipecat_protocol import (
    ProtocolError,
    SessionState,
    client_audio,
    client_text,
    downmix,
    event,
)

START = {"type": "session.start", "bot_id": "7d0c0000-0000-0000-0000-000000000000",
         "sample_rate": 16000, "output_sample_rate": 24000}  # fmt: skip


def started(**overrides: object) -> SessionState:
    state = SessionState()
    assert isinstance(client_text(state, json.dumps(START | overrides)), dict)
    return state


def test_session_start_sets_the_rates_the_client_announced() -> None:
    state = started(sample_rate=48000, channels=2, output_sample_rate=16000)
    assert (state.sample_rate, state.channels, state.output_sample_rate) == (48000, 2, 16000)


def test_audio_before_session_start_is_refused() -> None:
    answer = client_audio(SessionState(), bytes(640))
    assert isinstance(answer, ProtocolError)
    assert answer.code == "audio_before_start"


def test_a_20_ms_frame_passes_through_unchanged() -> None:
    frame = struct.pack("<320h", *range(320))
    assert client_audio(started(), frame) == frame


@pytest.mark.parametrize(
    ("frame", "code"), [(bytes(641), "bad_audio_frame"), (bytes(64_002), "frame_too_large")]
)
def test_bad_frames_get_the_protocol_error_codes(frame: bytes, code: str) -> None:
    answer = client_audio(started(), frame)
    assert isinstance(answer, ProtocolError)
    assert answer.code == code


def test_stereo_is_mixed_down_to_mono() -> None:
    stereo = struct.pack("<4h", 100, 300, -50, -150)
    assert struct.unpack("<2h", client_audio(started(channels=2), stereo)) == (200, -100)  # type: ignore[arg-type]
    assert downmix(b"") == b""


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "dance"}', "unknown_message_type"),
        (json.dumps(START | {"sample_rate": 12345}), "unsupported_sample_rate"),
        (json.dumps({"type": "session.start"}), "invalid_message"),
    ],
)
def test_bad_messages_get_the_protocol_error_codes(text: str, code: str) -> None:
    answer = client_text(SessionState(), text)
    assert isinstance(answer, ProtocolError)
    assert answer.code == code
    assert json.loads(answer.event()) == {"type": "error", "code": code,
                                          "message": answer.message, "fatal": False}  # fmt: skip


def test_a_second_session_start_is_refused() -> None:
    answer = client_text(started(), json.dumps(START))
    assert isinstance(answer, ProtocolError)
    assert answer.code == "session_already_started"


def test_session_end_marks_the_session_ended() -> None:
    state = started()
    assert client_text(state, '{"type": "session.end"}') == {"type": "session.end"}
    assert state.ended


def test_events_are_one_json_object_with_a_type() -> None:
    assert json.loads(event("audio.end", turn=3)) == {"type": "audio.end", "turn": 3}
