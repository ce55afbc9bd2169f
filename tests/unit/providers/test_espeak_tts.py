from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.unit.providers.conftest import speak
from voice_server.voice.providers.base import ProviderBadRequest, TextToSpeech, VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS

SENTENCE = "hello world, the opening hours are nine to five"


def rms(pcm16: bytes) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_is_a_text_to_speech_provider() -> None:
    assert isinstance(EspeakTTS(), TextToSpeech)


@pytest.mark.parametrize("sample_rate", [16_000, 24_000, 48_000])
async def test_speaks_a_sentence_at_the_requested_rate(sample_rate: int) -> None:
    pcm = await speak(SENTENCE, sample_rate)
    seconds = len(pcm) / 2 / sample_rate
    # About ten words at eSpeak's 175 words per minute: a few seconds, not silence.
    assert 1.5 < seconds < 6.0
    assert len(pcm) % 2 == 0
    assert rms(pcm) > 500


async def test_audio_arrives_in_several_chunks_as_it_is_produced() -> None:
    tts = EspeakTTS()
    chunks = [
        chunk
        async for chunk in tts.synthesize(SENTENCE, sample_rate=24_000, options=VoiceOptions())
    ]
    assert len(chunks) > 5
    assert all(chunks)


async def test_speed_changes_the_length_and_pitch_the_sound() -> None:
    normal = await speak(SENTENCE)
    fast = await speak(SENTENCE, speed=2.0)
    high = await speak(SENTENCE, pitch=1.8)
    assert len(fast) < 0.75 * len(normal)
    assert high != normal


async def test_other_voices_and_languages() -> None:
    german = await speak("Guten Tag, wie kann ich helfen?", language="de")
    british = await speak(SENTENCE, voice="en-gb")
    female = await speak(SENTENCE, voice="en+f3")
    assert rms(german) > 500
    assert rms(british) > 500
    assert rms(female) > 500


async def test_unknown_voice_is_a_bad_request() -> None:
    with pytest.raises(ProviderBadRequest, match="voice"):
        await speak(SENTENCE, voice="no-such-voice")


async def test_blank_text_gives_no_audio() -> None:
    assert await speak("   ") == b""


async def test_concurrent_syntheses_each_get_their_own_audio() -> None:
    short, long_ = await asyncio.gather(speak("yes"), speak(SENTENCE))
    assert 0 < len(short) < len(long_) / 3


async def test_stopping_early_lets_the_next_synthesis_run() -> None:
    tts = EspeakTTS()
    stream = tts.synthesize(SENTENCE * 20, sample_rate=16_000, options=VoiceOptions())
    first = await anext(stream)
    await stream.aclose()  # the listener barged in
    assert first
    assert rms(await speak(SENTENCE)) > 500
