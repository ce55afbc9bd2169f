"""Silero VAD as a frame classifier: real speech is speech; a knock, a cough-like burst and a
fan starting up on the line are not (webrtcvad takes the noise as speech: the reason for it)."""

from __future__ import annotations

import numpy as np
import pytest

from voice_server.voice.audio import Framer, frame_bytes
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS
from voice_server.voice.silero import SileroVad
from voice_server.voice.vad import FrameClassifier, WebRtcVad

FRAME = frame_bytes(16_000, 20)
RATE = 16_000


async def spoken(text: str) -> bytes:
    tts = EspeakTTS()
    try:
        options = VoiceOptions()
        return b"".join([c async for c in tts.synthesize(text, sample_rate=RATE, options=options)])
    finally:
        await tts.aclose()


def pcm(samples: np.ndarray) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def voiced_ms(vad: FrameClassifier, audio: bytes) -> int:
    return sum(20 for frame in Framer(FRAME).feed(audio) if vad.is_speech(frame))


def burst(rng: np.random.Generator) -> bytes:
    """A loud broadband burst with a fast decay: a cough or a knock, no voice in it."""
    t = np.arange(int(0.25 * RATE)) / RATE
    return pcm(rng.normal(size=t.size) * np.exp(-t / 0.05) * 8000)


def fan(rng: np.random.Generator, seconds: float) -> bytes:
    """Brown noise at about -25 dBFS: a fan or a street coming on."""
    brown = np.cumsum(rng.normal(size=int(seconds * RATE)))
    brown -= np.convolve(brown, np.ones(800) / 800, mode="same")
    return pcm(brown / brown.std() * 1800)


async def test_speech_is_speech() -> None:
    audio = await spoken("Hello, what are your opening hours on Saturday?")
    assert voiced_ms(SileroVad(), audio) > 1000


def test_a_burst_and_a_fan_are_not_speech_where_webrtcvad_hears_speech() -> None:
    rng = np.random.default_rng(7)
    noise = bytes(RATE) + burst(rng) + bytes(RATE) + fan(rng, 3.0)
    assert voiced_ms(SileroVad(), noise) == 0
    assert voiced_ms(WebRtcVad(2), noise) > 500


async def test_speech_goes_on_being_heard_once_the_noise_has_started() -> None:
    rng = np.random.default_rng(8)
    words = np.frombuffer(await spoken("Sorry, can I ask something else?"), dtype="<i2")
    noisy = (
        words.astype(np.float64)
        + np.frombuffer(fan(rng, words.size / RATE), "<i2")[: words.size] * 0.3
    )
    assert voiced_ms(SileroVad(), fan(rng, 1.0) + pcm(noisy)) > 800


def test_a_threshold_outside_the_model_range_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SileroVad(1.5)
