"""Health probes of the cloud adapters against the vendor fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.fakes import Failure, speech_vendor_fakes
from tests.fakes.deepgram import FakeDeepgram
from tests.fakes.groq_audio import FakeGroq
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.deepgram_tts import DeepgramTTS
from voice_server.voice.providers.factory import build_stt, build_tts
from voice_server.voice.providers.groq_stt import GroqSTT
from voice_server.voice.providers.health import check_providers


async def test_reachable_vendors_are_healthy(
    groq_stt: GroqSTT, deepgram_tts: DeepgramTTS, groq_fake: FakeGroq, deepgram_fake: FakeDeepgram
) -> None:
    stt, tts = await check_providers(groq_stt, deepgram_tts)
    assert (stt.provider, stt.ok, stt.local) == ("groq", True, False)
    assert (tts.provider, tts.ok, tts.local) == ("deepgram", True, False)
    assert groq_fake.requests[-1].path == "/openai/v1/models/whisper-large-v3-turbo"
    assert deepgram_fake.requests[-1].path == "/v1/projects"
    assert not any(r.path == "/v1/speak" for r in deepgram_fake.requests)  # no speech bought


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (Failure.UNAUTHORIZED, "provider_auth"),
        (Failure.RATE_LIMITED, "provider_rate_limited"),
        (Failure.SERVER_ERROR, "provider_unavailable"),
        (Failure.HANG, "provider_timeout"),
    ],
)
async def test_failing_vendors_say_why(
    groq_stt: GroqSTT,
    deepgram_tts: DeepgramTTS,
    groq_fake: FakeGroq,
    deepgram_fake: FakeDeepgram,
    failure: Failure,
    code: str,
) -> None:
    groq_fake.fail_next(failure)
    deepgram_fake.fail_next(failure)
    stt, tts = await check_providers(groq_stt, deepgram_tts)
    assert (stt.ok, stt.error) == (False, code)
    assert (tts.ok, tts.error) == (False, code)


async def test_unknown_groq_model_is_reported(groq_fake: FakeGroq) -> None:
    stt = GroqSTT(api_key=groq_fake.api_key, base_url=groq_fake.base_url, model="whisper-9")
    try:
        health = await stt.check()
    finally:
        await stt.aclose()
    assert (health.ok, health.error) == (False, "provider_bad_request")
    assert health.detail is not None
    assert "whisper-9" in health.detail


async def test_speech_vendor_fakes_configure_a_whole_server(tmp_path: Path) -> None:
    async with speech_vendor_fakes("zero", text="see you at nine") as vendors:
        settings = make_settings(tmp_path, **vendors.settings_overrides())
        stt, tts = build_stt(settings), build_tts(settings)
        try:
            transcript = await stt.transcribe(b"\x01\x00" * 1600, 16_000)
            audio = [
                c async for c in tts.synthesize("nine", sample_rate=16_000, options=VoiceOptions())
            ]
        finally:
            await stt.aclose()
            await tts.aclose()
    assert transcript.text == "see you at nine"
    assert audio
