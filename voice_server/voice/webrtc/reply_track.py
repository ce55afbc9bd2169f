"""Reply audio as an aiortc track: 48 kHz mono, 20 ms frames, paced by the track's own clock.

The session's pacer hands over reply audio a little ahead of real time (at most its lead);
:class:`ReplyBuffer` holds it and :class:`ReplyTrack` takes one frame per 20 ms of its own clock
when aiortc's sender asks for it, silence when there is nothing to say. There is no client-side
buffer to clear on barge-in: :meth:`ReplyTrack.flush` empties ours, so the next frame out (within
20 ms) is silence.

The buffer is sans-I/O (bytes in, frames out, counters); the track adds the clock.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

REPLY_RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = REPLY_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_S = FRAME_MS / 1000
MAX_BUFFERED_S = 5.0  # far above the pacer's lead (150 ms): only a runaway producer hits it
_SILENCE = bytes(FRAME_BYTES)


class ReplyBuffer:
    """PCM16 mono at 48 kHz in (any chunk size), 20 ms frames out, silence when empty."""

    def __init__(self, max_buffered_s: float = MAX_BUFFERED_S) -> None:
        self._pending = bytearray()
        self._max_bytes = int(max_buffered_s * REPLY_RATE) * 2
        self.speaking = False  # between a reply's first audio and its end
        self.frames_out = 0
        self.audio_frames_out = 0  # frames that carried reply audio
        self.underruns = 0  # frames of silence while a reply was still being spoken
        self.dropped_bytes = 0

    def push(self, pcm: bytes) -> None:
        room = self._max_bytes - len(self._pending)
        if len(pcm) > room:
            self.dropped_bytes += len(pcm) - max(0, room)
            pcm = pcm[: max(0, room)]
        self._pending += pcm
        if pcm:
            self.speaking = True

    def flush(self) -> int:
        """Drop every sample not yet sent (barge-in); returns how many were dropped."""
        dropped = len(self._pending) // 2
        self._pending.clear()
        self.speaking = False
        return dropped

    def end_of_reply(self) -> None:
        """The reply's last audio has been pushed: silence from now on is not an underrun."""
        self.speaking = False

    @property
    def buffered_ms(self) -> float:
        return len(self._pending) / 2 / REPLY_RATE * 1000

    def next_frame(self) -> bytes:
        self.frames_out += 1
        if not self._pending:
            if self.speaking:
                self.underruns += 1
            return _SILENCE
        frame = bytes(self._pending[:FRAME_BYTES])
        del self._pending[:FRAME_BYTES]
        self.audio_frames_out += 1
        return frame.ljust(FRAME_BYTES, b"\x00")


class ReplyTrack(MediaStreamTrack):
    """The server's outgoing audio track. Frame ``n`` is due at ``start + n * 20 ms`` of
    ``clock``; a frame handed out more than a frame late counts in :attr:`late_frames` (the
    event loop was too busy: what the benchmark's "no late reply frames" measures)."""

    kind = "audio"

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self.buffer = ReplyBuffer()
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._index = 0
        self.late_frames = 0
        self.max_lateness_s = 0.0

    def push(self, pcm: bytes) -> None:
        self.buffer.push(pcm)

    def flush(self) -> int:
        return self.buffer.flush()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        lateness = 0.0
        if self._start is None:
            self._start = now
        else:
            due = self._start + self._index * FRAME_S
            if due > now:
                await self._sleep(due - now)
            else:
                lateness = now - due
        audio_before = self.buffer.audio_frames_out
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self.buffer.next_frame())
        if self.buffer.audio_frames_out > audio_before:  # lateness matters for reply audio only
            self.max_lateness_s = max(self.max_lateness_s, lateness)
            if lateness > FRAME_S:
                self.late_frames += 1
        frame.pts = self._index * FRAME_SAMPLES
        frame.sample_rate = REPLY_RATE
        frame.time_base = fractions.Fraction(1, REPLY_RATE)
        self._index += 1
        return frame
