"""The wire protocol (docs/voice-protocol.md), sans-I/O: parse what the client sends, and every
event the server sends as a frozen dataclass, serialized here and nowhere else.

Parsing never raises into the transport except as :class:`ProtocolViolation`, which carries the
error code of the event to send back and whether the connection must close (and with which
code, from :data:`CLOSE_CODES`). The chat WebSocket uses the same error event and close table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from voice_server.voice.audio import SUPPORTED_RATES
from voice_server.voice.records import Resume
from voice_server.wire import (  # noqa: F401  (the close codes are part of this protocol)
    CLOSE_CODES,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_POLICY,
    CLOSE_QUOTA,
    CLOSE_START_TIMEOUT,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    ErrorEvent,
    ServerEvent,
    encode,
    error_event,
)


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
    resume: Resume | None = None  # continue this conversation (docs: "Resuming")


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
        bot_id,
        rate,
        channels,
        out_rate,
        key if isinstance(key, str) and key else None,
        _resume(data),
    )


def _resume(data: dict[str, Any]) -> Resume | None:
    raw = data.get("conversation_id")
    if raw is None:
        return None
    token = data.get("resume_token")
    try:
        conversation_id = UUID(str(raw))
    except ValueError:
        raise ProtocolViolation("invalid_message", "conversation_id must be a UUID") from None
    if not isinstance(token, str) or not token:
        raise ProtocolViolation(
            "invalid_message",
            "resuming a conversation needs the resume_token its session.started gave",
        )
    return Resume(conversation_id, token)


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
class SessionStarted(ServerEvent):
    type = "session.started"
    optional = frozenset({"resume_token"})
    session_id: str
    conversation_id: str
    input_sample_rate: int
    output_sample_rate: int
    channels: int
    # Present the pair (conversation_id, resume_token) in a later session.start to continue
    # this conversation; ``resumed``: this session continues one (no greeting is spoken).
    resume_token: str | None = None
    resumed: bool = False


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
    end_of_turn_rule: str | None = None


@dataclass(frozen=True)
class Notice(ServerEvent):
    """The server is about to say ``text`` (its audio follows); ``turn`` None before a session."""

    type = "notice"
    code: str
    turn: int | None
    text: str
