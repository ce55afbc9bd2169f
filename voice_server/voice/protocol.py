"""The wire protocol (docs/voice-protocol.md), sans-I/O: parse what the client sends, and every
event the server sends as a frozen dataclass, serialized here and nowhere else.

Parsing never raises into the transport except as :class:`ProtocolViolation`, which carries the
error code of the event to send back and whether the connection must close (and with which
code, from :data:`CLOSE_CODES`). The chat WebSocket uses the same error event and close table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar
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
CLOSE_NOT_FOUND = 4404  # chat socket: the bot named in the path does not exist
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
    CLOSE_NOT_FOUND: "not found",
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

    def error(self) -> ErrorEvent:
        return ErrorEvent(self.code, self.message, self.close is not None, details=self.extra)

    def event(self) -> dict[str, Any]:
        """The wire form of :meth:`error`."""
        return self.error().to_wire()


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
    except RecursionError:  # JSON nested thousands deep: refused, the connection stays
        raise ProtocolViolation("invalid_json", "text frame is nested too deeply") from None
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


# -- server -> client events -------------------------------------------------------------------


@dataclass(frozen=True)
class ServerEvent:
    """A JSON text frame the server sends; ``to_wire`` gives its object."""

    type: ClassVar[str]
    # Fields left out of the JSON object when None (optional in docs/voice-protocol.md).
    optional: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self.optional:
                continue
            data[f.name] = value
        return data


@dataclass(frozen=True)
class SessionStarted(ServerEvent):
    type = "session.started"
    session_id: str
    conversation_id: str
    input_sample_rate: int
    output_sample_rate: int
    channels: int


@dataclass(frozen=True)
class SessionEnded(ServerEvent):
    type = "session.ended"
    reason: str


@dataclass(frozen=True)
class VadStart(ServerEvent):
    type = "vad.start"
    utterance: int
    at_ms: float


@dataclass(frozen=True)
class VadEnd(ServerEvent):
    """The user's turn ended at ``at_ms``, or (``ignored``) the sound was too short a turn."""

    type = "vad.end"
    optional = frozenset({"at_ms", "ignored"})
    utterance: int
    at_ms: float | None = None
    ignored: bool | None = None


@dataclass(frozen=True)
class TranscriptPartial(ServerEvent):
    type = "transcript.partial"
    utterance: int
    text: str


@dataclass(frozen=True)
class TranscriptFinal(ServerEvent):
    type = "transcript.final"
    utterance: int
    text: str
    turn: int


@dataclass(frozen=True)
class AssistantDelta(ServerEvent):
    type = "assistant.delta"
    turn: int
    text: str


@dataclass(frozen=True)
class AssistantDone(ServerEvent):
    type = "assistant.done"
    turn: int
    text: str


@dataclass(frozen=True)
class AudioStart(ServerEvent):
    """Reply audio follows (``turn`` None: a notice outside any turn)."""

    type = "audio.start"
    turn: int | None
    sample_rate: int


@dataclass(frozen=True)
class AudioEnd(ServerEvent):
    type = "audio.end"
    turn: int | None


@dataclass(frozen=True)
class Interrupted(ServerEvent):
    type = "interrupted"
    turn: int
    played_text: str
    played_ms: int


@dataclass(frozen=True)
class TurnMetrics(ServerEvent):
    type = "metrics"
    turn: int
    stt_final_ms: float | None = None
    llm_first_token_ms: float | None = None
    first_clause_ms: float | None = None
    tts_first_byte_ms: float | None = None
    first_audio_ms: float | None = None
    total_ms: float | None = None
    end_of_turn_wait_ms: float | None = None


@dataclass(frozen=True)
class Notice(ServerEvent):
    """The server is about to say ``text`` (its audio follows); ``turn`` None before a session."""

    type = "notice"
    code: str
    turn: int | None
    text: str


@dataclass(frozen=True)
class ErrorEvent(ServerEvent):
    """The one error shape of both WebSockets: ``details`` are flattened into the object
    (``retry_after_s``; for ``quota_exceeded`` ``plan``, ``limit_name``, ``limit``, ...)."""

    type = "error"
    optional = frozenset({"stage"})
    code: str
    message: str
    fatal: bool = False
    stage: str | None = None  # stt, llm, tts, storage
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        data = super().to_wire()
        del data["details"]
        return data | {k: v for k, v in self.details.items() if k not in data}


def encode(event: ServerEvent) -> str:
    """The text frame of ``event``."""
    return json.dumps(event.to_wire(), separators=(",", ":"))


def error_event(code: str, message: str, *, fatal: bool = False, **extra: Any) -> ErrorEvent:
    stage = extra.pop("stage", None)
    return ErrorEvent(code, message, fatal, stage, details=extra)
