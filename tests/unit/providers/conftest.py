"""Speech fixtures: real eSpeak NG audio, so that no test needs a recorded file."""

from __future__ import annotations

import pytest

from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS


async def speak(text: str, sample_rate: int = 16_000, **options: object) -> bytes:
    tts = EspeakTTS()
    chunks = [
        chunk
        async for chunk in tts.synthesize(
            text,
            sample_rate=sample_rate,
            options=VoiceOptions(**options),  # type: ignore[arg-type]
        )
    ]
    return b"".join(chunks)


@pytest.fixture
async def opening_hours_speech() -> bytes:
    """16 kHz PCM16 of a short question, spoken by eSpeak NG."""
    return await speak("what are your opening hours")
