"""Audio files in and out of the REST endpoints, with PyAV: decode any container FFmpeg knows
(WAV, MP3, OGG/Opus, WebM, FLAC…) to mono PCM16, and encode mono PCM16 as WAV, MP3 or Ogg Opus.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Literal, cast

import av
import numpy as np
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream

OutputFormat = Literal["wav", "mp3", "ogg"]
MEDIA_TYPES: dict[OutputFormat, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
}


class NotAudio(ValueError):
    """The bytes are not an audio file FFmpeg can decode."""


class TooLong(ValueError):
    """The audio is longer than allowed."""


@dataclass(frozen=True)
class DecodedAudio:
    pcm: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def decode(data: bytes, *, sample_rate: int = 16_000, max_seconds: float) -> DecodedAudio:
    """Decode an audio file to mono PCM16 at ``sample_rate``; stop early past ``max_seconds``.
    CPU-bound: call it in a worker thread."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as exc:
        raise NotAudio(f"not an audio file FFmpeg can read ({exc})") from None
    with container:
        streams = container.streams.audio
        if not streams:
            raise NotAudio("the file has no audio stream")
        resampler = AudioResampler(format="s16", layout="mono", rate=sample_rate)
        limit = int(max_seconds * sample_rate)
        out: list[bytes] = []
        samples = 0
        try:
            for frame in container.decode(streams[0]):
                for chunk in resampler.resample(frame):
                    pcm = chunk.to_ndarray().astype("<i2", copy=False).tobytes()
                    out.append(pcm)
                    samples += len(pcm) // 2
                if samples > limit:
                    raise TooLong(f"audio longer than {max_seconds:g} s")
            for chunk in resampler.resample(None):
                out.append(chunk.to_ndarray().astype("<i2", copy=False).tobytes())
        except av.FFmpegError as exc:
            raise NotAudio(f"the audio could not be decoded ({exc})") from None
    pcm = b"".join(out)
    if not pcm:
        raise NotAudio("the file holds no audio samples")
    return DecodedAudio(pcm, sample_rate)


def encode(pcm: bytes, sample_rate: int, fmt: OutputFormat) -> bytes:
    """Mono PCM16 to a WAV, MP3 or Ogg Opus file. CPU-bound: call it in a worker thread."""
    if fmt == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm)
        return buffer.getvalue()
    codec, rate, container_format = (
        ("libmp3lame", sample_rate, "mp3") if fmt == "mp3" else ("libopus", 48_000, "ogg")
    )
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = cast(AudioStream, container.add_stream(codec, rate=rate))
        stream.layout = "mono"
        resampler = AudioResampler(format=stream.format, layout="mono", rate=rate)
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
