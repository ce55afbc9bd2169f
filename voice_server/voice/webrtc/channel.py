"""The ``parley`` data channel: the WebSocket protocol's JSON events, both ways.

Client → server: ``session.start`` (``bot_id``; sample rates and channels are ignored, since
audio is Opus at 48 kHz in the media tracks) and ``session.end``. Server → client: every event
of docs/voice-protocol.md, unchanged. Parsing is sans-I/O and fails only with
:class:`ProtocolViolation` (the same codes as over the WebSocket); :class:`WebRtcTransport` is
the engine's transport: events to the channel, reply PCM to the :class:`ReplyTrack`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from voice_server.voice.audio import PIPELINE_RATE
from voice_server.voice.protocol import (
    AudioEnd,
    ProtocolViolation,
    ServerEvent,
    SessionEnd,
    SessionStart,
    encode,
    parse_resume,
)
from voice_server.voice.webrtc.reply_track import REPLY_RATE, ReplyTrack

CHANNEL_LABEL = "parley"
MAX_MESSAGE_CHARS = 8192
# Events queued in aiortc's SCTP send buffer past this mean the peer stopped reading.
MAX_BUFFERED_BYTES = 1_000_000


class ChannelGone(Exception):
    """The data channel is closed or its peer stopped reading; nothing more can be sent."""


def parse_message(message: str | bytes) -> SessionStart | SessionEnd:
    if isinstance(message, bytes):
        raise ProtocolViolation(
            "invalid_message",
            "binary messages are not used on the data channel: audio goes in the media track",
        )
    if len(message) > MAX_MESSAGE_CHARS:
        raise ProtocolViolation(
            "frame_too_large", f"a message of {len(message)} characters exceeds {MAX_MESSAGE_CHARS}"
        )
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise ProtocolViolation("invalid_json", f"message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolViolation("invalid_message", "a message must hold a JSON object")
    kind = data.get("type")
    if kind == "session.end":
        return SessionEnd()
    if kind != "session.start":
        raise ProtocolViolation("unknown_message_type", f"unknown message type {kind!r}")
    try:
        bot_id = UUID(str(data["bot_id"]))
    except (KeyError, ValueError):
        raise ProtocolViolation("invalid_message", "session.start needs a bot_id (UUID)") from None
    # The pipeline gets 16 kHz mono from the decoder and the track plays 48 kHz.
    return SessionStart(bot_id, PIPELINE_RATE, 1, REPLY_RATE, resume=parse_resume(data))


class DataChannel(Protocol):
    """What is used of aiortc's ``RTCDataChannel``."""

    @property
    def readyState(self) -> str: ...

    @property
    def bufferedAmount(self) -> int: ...

    def send(self, data: str | bytes) -> None: ...


class WebRtcTransport:
    """The engine's :class:`~voice_server.voice.engine.transport.Transport` over WebRTC: events
    to the data channel, reply PCM to the :class:`ReplyTrack`. :meth:`clear_audio` empties the
    track, so the caller hears silence within one frame of a barge-in."""

    def __init__(
        self, channel: DataChannel, track: ReplyTrack, connected: Callable[[], bool]
    ) -> None:
        self._channel = channel
        self._track = track
        self._connected = connected

    async def send_event(self, event: ServerEvent) -> None:
        if isinstance(event, AudioEnd):
            self._track.buffer.end_of_reply()  # silence from now on is not an underrun
        if not self._connected():
            raise ChannelGone("the peer connection is closed")
        send_text(self._channel, encode(event))

    async def send_audio(self, pcm: bytes) -> None:
        self._track.push(pcm)

    def clear_audio(self) -> None:
        self._track.flush()


def send_text(channel: DataChannel, text: str) -> None:
    if channel.readyState != "open":
        raise ChannelGone("the data channel is closed")
    if channel.bufferedAmount > MAX_BUFFERED_BYTES:
        raise ChannelGone("the peer does not read the data channel")
    channel.send(text)
