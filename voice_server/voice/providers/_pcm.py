"""Mono PCM16 helpers shared by the adapters: PyAV resampling and WAV wrapping."""

from __future__ import annotations

import io
import wave

import av
import numpy as np


class PcmResampler:
    """Streaming mono PCM16 resampler (libswresample through PyAV), one per audio stream.

    Not thread-safe: feed it from one thread at a time. ``flush()`` returns the tail that the
    filter holds back; after it the resampler is spent.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = (
            None
            if from_rate == to_rate
            else av.AudioResampler(format="s16", layout="mono", rate=to_rate)
        )
        self._pts = 0

    def feed(self, pcm16: bytes) -> bytes:
        if not pcm16:
            return b""
        if self._resampler is None:
            return pcm16
        samples = np.frombuffer(pcm16, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.from_rate
        frame.pts = self._pts
        self._pts += samples.shape[1]
        return _join(self._resampler.resample(frame))

    def flush(self) -> bytes:
        if self._resampler is None:
            return b""
        return _join(self._resampler.resample(None))


def _join(frames: list[av.AudioFrame]) -> bytes:
    # Planes may be padded past the last sample: cut each to samples * 2 bytes.
    return b"".join(bytes(frame.planes[0])[: frame.samples * 2] for frame in frames)


def resample(pcm16: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole mono PCM16 buffer."""
    resampler = PcmResampler(from_rate, to_rate)
    return resampler.feed(pcm16) + resampler.flush()


def wav_bytes(pcm16: bytes, sample_rate: int) -> bytes:
    """Wrap mono PCM16 in a WAV container (what the HTTP speech APIs accept as a file)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return buffer.getvalue()


def seconds(pcm16: bytes, sample_rate: int) -> float:
    return len(pcm16) / 2 / sample_rate
