"""The WebSocket wire protocol (docs/voice-protocol.md), sans-I/O: parse what the client sends,
build what the server sends. Parsing never raises into the transport except as
:class:`ProtocolViolation`, which carries the error code of the event to send back and whether
the connection must close (and with which code, from :data:`CLOSE_CODES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from voice_server.voice.audio import SUPPORTED_RATES

# The close-code table; docs/voice-protocol.md documents the same.
CLOSE_NORMAL = 1000  # the client sent session.end, or the server finished the session
CLOSE_GOING_AWAY = 1001  # the server is shutting down (uvicorn may send 1012 instead)
CLOSE_POLICY = 1008  # too many protocol errors in a row
CLOSE_INTERNAL = 1011  # an unexpected server error; the session is over
CLOSE_TRY_AGAIN = 1013  # rate limited: retry after the error event's retry_after_s
CLOSE_UNAUTHENTICATED = 4401  # the handshake carries a key or token that is not valid
CLOSE_QUOTA = 4402  # the plan's voice minutes or concurrent sessions are used up
CLOSE_FORBIDDEN = 4403  # a publishable key used from an Origin it does not allow
CLOSE_START_TIMEOUT = 4408  # no session.start within the start timeout
CLOSE_CODES = {
    CLOSE_NORMAL: "normal",
    CLOSE_GOING_AWAY: "server shutting down",
    CLOSE_POLICY: "too many protocol errors",
    CLOSE_INTERNAL: "internal error",
    CLOSE_TRY_AGAIN: "rate limited, try again later",
    CLOSE_UNAUTHENTICATED: "unauthenticated",
    CLOSE_QUOTA: "plan limit reached",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_START_TIMEOUT: "no session.start in time",
}


class ProtocolViolation(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        close: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close
        self.extra = extra or {}

    def event(self) -> dict[str, Any]:
        return error_event(self.code, self.message, fatal=self.close is not None) | self.extra


@dataclass(frozen=True)
class SessionStart:
    bot_id: UUID
    sample_rate: int
    channels: int = 1
    output_sample_rate: int | None = None
    key: str | None = None  # a publishable key may also come in the message (see docs)


@dataclass(frozen=True)
class SessionEnd:
    pass


ClientMessage = SessionStart | SessionEnd


def parse_text(text: str) -> ClientMessage:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolViolation("invalid_json", f"text frame is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolViolation("invalid_message", "a text frame must hold a JSON object")
    kind = data.get("type")
    if kind == "session.start":
        return _session_start(data)
    if kind == "session.end":
        return SessionEnd()
    raise ProtocolViolation("unknown_message_type", f"unknown message type {kind!r}")


def _session_start(data: dict[str, Any]) -> SessionStart:
    try:
        bot_id = UUID(str(data["bot_id"]))
    except (KeyError, ValueError):
        raise ProtocolViolation("invalid_message", "session.start needs a bot_id (UUID)") from None
    rate = data.get("sample_rate")
    if not isinstance(rate, int) or rate not in SUPPORTED_RATES:
        raise ProtocolViolation(
            "unsupported_sample_rate",
            f"sample_rate must be one of {sorted(SUPPORTED_RATES)}, got {rate!r}",
        )
    out_rate = data.get("output_sample_rate")
    if out_rate is not None and (not isinstance(out_rate, int) or out_rate not in SUPPORTED_RATES):
        raise ProtocolViolation(
            "unsupported_sample_rate",
            f"output_sample_rate must be one of {sorted(SUPPORTED_RATES)}, got {out_rate!r}",
        )
    channels = data.get("channels", 1)
    if channels not in (1, 2):
        raise ProtocolViolation("invalid_message", "channels must be 1 or 2")
    key = data.get("key")
    return SessionStart(
        bot_id, rate, channels, out_rate, key if isinstance(key, str) and key else None
    )


def check_audio(frame: bytes, *, started: bool, channels: int, max_bytes: int) -> None:
    if len(frame) > max_bytes:
        raise ProtocolViolation(
            "frame_too_large", f"binary frame of {len(frame)} bytes exceeds {max_bytes}"
        )
    if not started:
        raise ProtocolViolation("audio_before_start", "send session.start before audio")
    if len(frame) % (2 * channels):
        raise ProtocolViolation(
            "bad_audio_frame",
            f"binary frame of {len(frame)} bytes does not hold whole PCM16 samples "
            f"for {channels} channel(s)",
        )


def error_event(code: str, message: str, *, fatal: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "fatal": fatal, **extra}
