"""PCM16 plumbing: resample any rate and layout with PyAV, and re-chunk bytes into exact frames.

The pipeline works on 16 kHz mono PCM16 in fixed frames (20 ms by default); clients send any
supported rate, mono or stereo, in chunks of any size, and ask for replies at their own rate.
"""

from __future__ import annotations

import av
import numpy as np
from av.audio.resampler import AudioResampler

PIPELINE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes per PCM16 sample
SUPPORTED_RATES = frozenset({8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000})


def frame_bytes(sample_rate: int, frame_ms: int, channels: int = 1) -> int:
    return sample_rate * frame_ms // 1000 * SAMPLE_WIDTH * channels


def duration_ms(pcm: bytes | int, sample_rate: int) -> float:
    """Milliseconds of mono PCM16 audio, given its bytes or its byte length."""
    length = pcm if isinstance(pcm, int) else len(pcm)
    return length / SAMPLE_WIDTH / sample_rate * 1000


class Resampler:
    """Interleaved PCM16 at ``in_rate``/``channels`` in, mono PCM16 at ``out_rate`` out.

    Stateful (the filter keeps a few samples of history between calls), so use one per stream.
    Input chunks must hold whole sample frames (a multiple of 2 * channels bytes).
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self._passthrough = in_rate == out_rate and channels == 1
        self._layout = "mono" if channels == 1 else "stereo"
        self._resampler = AudioResampler(format="s16", layout="mono", rate=out_rate)

    def feed(self, pcm: bytes) -> bytes:
        if len(pcm) % (SAMPLE_WIDTH * self.channels):
            raise ValueError("PCM16 chunk does not hold whole samples")
        if self._passthrough or not pcm:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=self._layout)
        frame.sample_rate = self.in_rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> bytes:
        """The samples still held in the filter, at the end of a stream."""
        if self._passthrough:
            return b""
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> bytes:
        return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in frames)


class Framer:
    """Re-chunk a byte stream into frames of exactly ``size`` bytes, keeping the remainder."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("frame size must be positive")
        self.size = size
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        count = len(self._buffer) // self.size
        frames = [bytes(self._buffer[i * self.size : (i + 1) * self.size]) for i in range(count)]
        del self._buffer[: count * self.size]
        return frames

    def flush(self, pad: bool = True) -> list[bytes]:
        """The remainder as a last frame, zero-padded to full size (or dropped if ``pad`` is
        False)."""
        if not self._buffer:
            return []
        rest = bytes(self._buffer)
        self._buffer.clear()
        return [rest.ljust(self.size, b"\x00")] if pad else []

    @property
    def pending(self) -> int:
        return len(self._buffer)


class InputNormaliser:
    """Client audio (any supported rate, mono/stereo, arbitrary chunks) to pipeline frames."""

    def __init__(self, in_rate: int, channels: int = 1, frame_ms: int = 20) -> None:
        self._resampler = Resampler(in_rate, PIPELINE_RATE, channels)
        self._framer = Framer(frame_bytes(PIPELINE_RATE, frame_ms))
        # A chunk may split a stereo sample frame; keep the odd tail for the next chunk.
        self._align = SAMPLE_WIDTH * channels
        self._tail = b""

    def feed(self, pcm: bytes) -> list[bytes]:
        data = self._tail + pcm
        cut = len(data) - len(data) % self._align
        self._tail = data[cut:]
        return self._framer.feed(self._resampler.feed(data[:cut]))

    def flush(self) -> list[bytes]:
        return self._framer.feed(self._resampler.flush()) + self._framer.flush()
