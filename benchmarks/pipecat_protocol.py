"""Parley's voice WebSocket protocol (docs/voice-protocol.md), the part the benchmark callers
use, as plain functions: the Pipecat bot's serializer speaks it through these, so that the same
caller code drives both servers. Standard library only: this module is imported by the Pipecat
bot, which runs in its own virtualenv without Parley's dependencies.

    state = SessionState()
    reply = client_text(state, '{"type": "session.start", "bot_id": "...", "sample_rate": 16000}')
    pcm = client_audio(state, frame)          # bytes, or a ProtocolError to answer
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
MAX_FRAME_BYTES = 64_000


@dataclass(frozen=True)
class ProtocolError:
    """A bad client message: answered with an ``error`` event, the connection stays open."""

    code: str
    message: str

    def event(self) -> str:
        return event("error", code=self.code, message=self.message, fatal=False)


@dataclass
class SessionState:
    """What the client announced in ``session.start``; None before it."""

    sample_rate: int | None = None
    channels: int = 1
    output_sample_rate: int = 24_000
    ended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def started(self) -> bool:
        return self.sample_rate is not None


def event(type_: str, **fields: Any) -> str:
    """One server → client text frame."""
    return json.dumps({"type": type_, **fields})


def client_text(state: SessionState, text: str | bytes) -> dict[str, Any] | ProtocolError:
    """Parse a client text frame; ``session.start`` and ``session.end`` update ``state``.
    Returns the message (a dict with ``type``) or the error to answer with."""
    try:
        message = json.loads(text)
    except ValueError:
        return ProtocolError("invalid_json", "A text frame must hold one JSON object.")
    if not isinstance(message, dict):
        return ProtocolError("invalid_message", "A text frame must hold one JSON object.")
    match message.get("type"):
        case "session.start":
            if state.started:
                return ProtocolError("session_already_started", "The session already started.")
            if not isinstance(message.get("bot_id"), str):
                return ProtocolError("invalid_message", "session.start needs a bot_id.")
            rate = message.get("sample_rate", 16_000)
            out = message.get("output_sample_rate", 24_000)
            if rate not in SAMPLE_RATES or out not in SAMPLE_RATES:
                return ProtocolError(
                    "unsupported_sample_rate", f"Sample rates must be one of {SAMPLE_RATES}."
                )
            channels = message.get("channels", 1)
            if channels not in (1, 2):
                return ProtocolError("invalid_message", "channels must be 1 or 2.")
            state.sample_rate, state.channels, state.output_sample_rate = rate, channels, out
            return message
        case "session.end":
            state.ended = True
            return message
        case _:
            return ProtocolError(
                "unknown_message_type", f"Unknown message type {message.get('type')!r}."
            )


def client_audio(state: SessionState, data: bytes) -> bytes | ProtocolError:
    """Validate one binary frame of microphone audio; return it as mono PCM16."""
    if not state.started:
        return ProtocolError("audio_before_start", "Send session.start before any audio.")
    if len(data) > MAX_FRAME_BYTES:
        return ProtocolError("frame_too_large", f"Audio frames are at most {MAX_FRAME_BYTES} B.")
    width = 2 * state.channels
    if len(data) % width:
        return ProtocolError("bad_audio_frame", "An audio frame must hold whole samples.")
    if state.channels == 2:
        return downmix(data)
    return data


def downmix(stereo: bytes) -> bytes:
    """Interleaved stereo PCM16 → mono (the mean of both channels)."""
    samples = memoryview(stereo).cast("h")
    mono = bytearray(len(samples))  # 2 bytes per mono sample = half the stereo samples × 2
    out = memoryview(mono).cast("h")
    for i in range(len(samples) // 2):
        out[i] = (samples[2 * i] + samples[2 * i + 1]) // 2
    return bytes(mono)
