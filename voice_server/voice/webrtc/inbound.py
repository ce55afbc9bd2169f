"""The caller's audio: aiortc's decoded Opus frames in, the pipeline's 16 kHz mono PCM16 out.

aiortc decodes Opus in its receiver thread into 48 kHz stereo ``s16`` frames (20 ms each); one
PyAV resampler per call downmixes and resamples them (it keeps a few samples of filter history,
so it must see the stream in order). Sans-I/O: frames in, bytes out, no clock, no track.
"""

from __future__ import annotations

from av import AudioFrame
from av.audio.resampler import AudioResampler

from voice_server.voice.audio import PIPELINE_RATE


class CallerAudio:
    def __init__(self, rate: int = PIPELINE_RATE) -> None:
        self.rate = rate
        self._resampler = AudioResampler(format="s16", layout="mono", rate=rate)
        self.frames_in = 0
        self.samples_out = 0

    def feed(self, frame: AudioFrame) -> bytes:
        """PCM16 mono at ``rate`` for one decoded frame (possibly empty while the filter
        fills)."""
        self.frames_in += 1
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> bytes:
        return self._collect(self._resampler.resample(None))

    def _collect(self, frames: list[AudioFrame]) -> bytes:
        pcm = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in frames)
        self.samples_out += len(pcm) // 2
        return pcm
