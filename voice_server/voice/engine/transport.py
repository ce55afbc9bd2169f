"""The transport interface: what the voice engine needs from a connection to a caller.

A transport carries one caller's audio both ways. Inbound it calls the session
(:meth:`~voice_server.voice.session.VoiceSession.feed_audio` with PCM16 at the rate and channels
it announced, :meth:`~voice_server.voice.session.VoiceSession.end_of_audio` when the caller
stops sending, :meth:`~voice_server.voice.session.VoiceSession.end` when it hangs up or asks to
end). Outbound the session calls the three methods below, from one task only (its writer), so
an implementation needs no locking. The WebSocket carries events as JSON text frames and audio
as binary frames; WebRTC carries events on a data channel and audio on a media track.
"""

from __future__ import annotations

from typing import Protocol

from voice_server.voice.protocol import ServerEvent


class Transport(Protocol):
    async def send_event(self, event: ServerEvent) -> None:
        """Deliver one typed event (serialize it with :func:`voice_server.voice.protocol.encode`
        or ``event.to_wire()``). Raises when the caller is gone; the session then stops sending."""
        ...

    async def send_audio(self, pcm: bytes) -> None:
        """Deliver reply audio: mono PCM16 at the session's output rate, whole 20 ms frames,
        already paced to real time plus a small lead (send it on as it comes)."""
        ...

    def clear_audio(self) -> None:
        """Barge-in: drop reply audio the transport still holds unplayed (a jitter or track
        buffer). Synchronous and idempotent; a transport that buffers nothing does nothing
        (the WebSocket client drops its own buffer on the ``interrupted`` event)."""
        ...
