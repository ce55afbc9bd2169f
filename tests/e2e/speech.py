"""Fake-microphone recordings: eSpeak NG utterances laid out on a timeline, written as a WAV.

Chromium plays ``--use-file-for-fake-audio-capture`` once (``%noloop``) from sample 0 when the page
opens the mic, so where each utterance sits in the file is when the "user" says it.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS

RATE = 48_000  # the rate a real microphone delivers; the widget resamples nothing on the way


@dataclass(frozen=True)
class Utterance:
    text: str
    at_s: float  # where the utterance starts in the recording


@dataclass(frozen=True)
class Recording:
    path: Path
    # Where each utterance's speech ends in the file: the "speech end" of latency figures.
    speech_ends_s: tuple[float, ...]
    duration_s: float

    @property
    def chromium_arg(self) -> str:
        return f"--use-file-for-fake-audio-capture={self.path}%noloop"


async def record(path: Path, utterances: list[Utterance], *, tail_s: float = 3.0) -> Recording:
    """Speak each utterance at its place on a silent timeline; trailing silence keeps the mic
    "open" (a file that ends early ends the fake track)."""
    tts = EspeakTTS()
    try:
        spoken = []
        for u in utterances:
            pcm = b"".join(
                [c async for c in tts.synthesize(u.text, sample_rate=RATE, options=VoiceOptions())]
            )
            spoken.append((u, pcm))
    finally:
        await tts.aclose()
    timeline = bytearray()
    ends = []
    for u, pcm in spoken:
        start = int(u.at_s * RATE) * 2
        if start < len(timeline):
            raise ValueError(f"utterance {u.text!r} at {u.at_s}s overlaps the one before")
        timeline.extend(bytes(start - len(timeline)))
        timeline.extend(pcm)
        ends.append((start + _voiced_bytes(pcm)) / 2 / RATE)
    timeline.extend(bytes(int(tail_s * RATE) * 2))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(timeline))
    return Recording(path=path, speech_ends_s=tuple(ends), duration_s=len(timeline) / 2 / RATE)


def _voiced_bytes(pcm: bytes) -> int:
    """Bytes up to the end of the last 10 ms window with speech energy (eSpeak pads with a
    little silence, which is not part of the utterance)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    window = RATE // 100
    whole = len(samples) // window * window
    if whole == 0:
        return 0
    rms = np.sqrt((samples[:whole].reshape(-1, window) ** 2).mean(axis=1))
    voiced = np.nonzero(rms > 300.0)[0]  # about -40 dBFS
    return int((voiced[-1] + 1) * window * 2) if len(voiced) else 0
