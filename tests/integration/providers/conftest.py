"""The cloud adapters, each pointed at its vendor's protocol fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.deepgram import FakeDeepgram, deepgram_server
from tests.fakes.groq_audio import FakeGroq, groq_audio_server
from voice_server.voice.providers.deepgram_tts import DeepgramTTS
from voice_server.voice.providers.groq_stt import GroqSTT


@pytest.fixture
async def groq_fake() -> AsyncIterator[FakeGroq]:
    async with groq_audio_server(text="what are your opening hours") as fake:
        yield fake


@pytest.fixture
async def groq_stt(groq_fake: FakeGroq) -> AsyncIterator[GroqSTT]:
    stt = GroqSTT(api_key=groq_fake.api_key, base_url=groq_fake.base_url, timeout_s=1.0)
    yield stt
    await stt.aclose()


@pytest.fixture
async def deepgram_fake() -> AsyncIterator[FakeDeepgram]:
    async with deepgram_server() as fake:
        yield fake


@pytest.fixture
async def deepgram_tts(deepgram_fake: FakeDeepgram) -> AsyncIterator[DeepgramTTS]:
    tts = DeepgramTTS(api_key=deepgram_fake.api_key, base_url=deepgram_fake.base_url, timeout_s=1.0)
    yield tts
    await tts.aclose()
