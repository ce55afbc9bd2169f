"""Send reply audio at real time plus a small lead, and know what the listener has heard.

Sans-I/O: the caller passes ``now`` (seconds, from its injected clock) to every call. The pacer
models the client's playback: a frame sent at ``now`` starts playing when the frames before it
have played (or at once, if the client ran dry). So after :meth:`stop` it knows exactly how many
samples were played, and which part of which clause that was.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice_server.voice.audio import SAMPLE_WIDTH


@dataclass(frozen=True)
class Playback:
    """What the listener heard when playback stopped (or ended)."""

    played_samples: int
    sent_samples: int
    text: str  # the clauses heard in full, and the heard share of the words of a cut one
    complete: bool


@dataclass
class _Segment:
    text: str
    start: int  # sample offset of the segment's first sample in the reply
    end: int


class AudioPacer:
    """``lead_ms``: how far ahead of real time the client's buffer is filled. ``refill_ms``: how
    much room must open before the next send, so that a session wakes up once per refill and
    not once per frame (at 200 sessions, 3,000 wake-ups a second fewer); the client's buffer
    then stays between ``lead - refill`` and ``lead``."""

    def __init__(
        self, sample_rate: int, frame_ms: int = 20, lead_ms: int = 150, refill_ms: int = 60
    ) -> None:
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self.frame_s = self.frame_samples / sample_rate
        self.lead_s = lead_ms / 1000
        # Never wait for more room than the lead leaves, less one frame of safety.
        self.refill_s = max(self.frame_s, min(refill_ms / 1000, self.lead_s - self.frame_s))
        self._pending = bytearray()
        self._queued: deque[bytes] = deque()
        self._segments: list[_Segment] = []
        self._pushed = 0  # samples pushed
        self._sent = 0  # samples sent
        self._client_end: float | None = None  # when the client will have played all it got
        self._closed = False

    def push(self, pcm: bytes) -> None:
        """Queue reply audio (mono PCM16 at ``sample_rate``, any chunk size)."""
        self._pending += pcm
        self._pushed += len(pcm) // SAMPLE_WIDTH
        if self._segments:
            self._segments[-1].end = self._pushed
        frame_bytes = self.frame_samples * SAMPLE_WIDTH
        while len(self._pending) >= frame_bytes:
            self._queued.append(bytes(self._pending[:frame_bytes]))
            del self._pending[:frame_bytes]

    def begin_clause(self, text: str) -> None:
        """The audio pushed from now on speaks ``text``."""
        self._segments.append(_Segment(text, self._pushed, self._pushed))

    def close(self) -> None:
        """No more audio: the last partial frame is padded with silence and queued."""
        if self._pending:
            frame_bytes = self.frame_samples * SAMPLE_WIDTH
            self._queued.append(bytes(self._pending).ljust(frame_bytes, b"\x00"))
            self._pending.clear()
        self._closed = True

    def poll(self, now: float) -> list[bytes]:
        """Frames to send now: as many as keep the client's buffer at most ``lead`` ahead."""
        frames: list[bytes] = []
        while self._queued and self._ahead(now) + self.frame_s <= self.lead_s + 1e-9:
            frame = self._queued.popleft()
            start = now if self._client_end is None else max(self._client_end, now)
            self._client_end = start + self.frame_s
            self._sent += len(frame) // SAMPLE_WIDTH
            frames.append(frame)
        return frames

    def next_due(self, now: float) -> float | None:
        """When the next frames may be sent (``now`` if at once): when ``refill`` of room has
        opened, or at once if fewer frames than that are queued and there is room for them;
        None when none is queued."""
        if not self._queued:
            return None
        wanted = min(self.refill_s, len(self._queued) * self.frame_s)
        return max(now, now + self._ahead(now) + wanted - self.lead_s)

    @property
    def drained(self) -> bool:
        """Closed and everything sent."""
        return self._closed and not self._queued and not self._pending

    def finished_playing(self, now: float) -> float | None:
        """When the client will have played everything sent (None before the first frame)."""
        return self._client_end

    def playback(self, now: float) -> Playback:
        played = self._sent - round(self._ahead(now) * self.sample_rate)
        played = max(0, min(played, self._pushed))
        return Playback(
            played_samples=played,
            sent_samples=self._sent,
            text=self._heard_text(played),
            complete=self.drained and played >= self._pushed,
        )

    def stop(self, now: float) -> Playback:
        """Barge-in: drop everything not yet sent and report what was heard by ``now``."""
        report = self.playback(now)
        self._queued.clear()
        self._pending.clear()
        self._closed = True
        return report

    def _ahead(self, now: float) -> float:
        return 0.0 if self._client_end is None else max(0.0, self._client_end - now)

    def _heard_text(self, played: int) -> str:
        words: list[str] = []
        for segment in self._segments:
            if played >= segment.end:
                words.append(segment.text)
            elif played > segment.start:
                share = (played - segment.start) / max(1, segment.end - segment.start)
                clause_words = segment.text.split()
                words.extend(clause_words[: int(len(clause_words) * share)])
                break
            else:
                break
        return " ".join(w for w in words if w)
