"""The Groq adapter through the official SDK against the Groq protocol fake."""

from __future__ import annotations

import io
import wave

import pytest

from tests.fakes import Failure
from tests.fakes.groq_audio import FakeGroq, groq_audio_server, pocketsphinx_transcriber
from tests.unit.providers.conftest import speak
from voice_server.voice.providers.base import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    SpeechToText,
)
from voice_server.voice.providers.groq_stt import GroqSTT

SECOND_AT_16K = b"\x10\x00" * 16_000


def test_is_a_speech_to_text_provider(groq_stt: GroqSTT) -> None:
    assert isinstance(groq_stt, SpeechToText)


async def test_transcribes_and_sends_what_groq_expects(
    groq_stt: GroqSTT, groq_fake: FakeGroq
) -> None:
    transcript = await groq_stt.transcribe(SECOND_AT_16K, 16_000)
    assert transcript.text == "what are your opening hours"
    assert transcript.audio_seconds == pytest.approx(1.0)
    assert transcript.language == "en"
    request = groq_fake.requests[-1]
    assert request.path == "/openai/v1/audio/transcriptions"
    assert request.form["model"] == "whisper-large-v3-turbo"
    assert request.form["language"] == "en"
    assert request.form["response_format"] == "json"
    upload = request.files["file"]
    assert upload.filename.endswith(".wav")
    with wave.open(io.BytesIO(upload.data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16_000, 1, 16_000)


async def test_high_rate_audio_is_uploaded_at_16k(groq_stt: GroqSTT, groq_fake: FakeGroq) -> None:
    transcript = await groq_stt.transcribe(b"\x10\x00" * 48_000, 48_000, language="fr")
    assert transcript.audio_seconds == pytest.approx(1.0)
    request = groq_fake.requests[-1]
    assert request.form["language"] == "fr"
    with wave.open(io.BytesIO(request.files["file"].data)) as wav:
        assert wav.getframerate() == 16_000
        assert abs(wav.getnframes() - 16_000) < 100


async def test_real_speech_round_trip() -> None:
    async with groq_audio_server(text=pocketsphinx_transcriber()) as fake:
        stt = GroqSTT(api_key=fake.api_key, base_url=fake.base_url)
        try:
            transcript = await stt.transcribe(await speak("what are your opening hours"), 16_000)
        finally:
            await stt.aclose()
    assert "hours" in transcript.text.split()


async def test_empty_audio_is_not_sent(groq_stt: GroqSTT, groq_fake: FakeGroq) -> None:
    assert (await groq_stt.transcribe(b"", 16_000)).text == ""
    assert groq_fake.requests == []


async def test_wrong_key_is_an_auth_error(groq_fake: FakeGroq) -> None:
    stt = GroqSTT(api_key="gsk_wrong", base_url=groq_fake.base_url)
    try:
        with pytest.raises(ProviderAuthError, match="Invalid API Key") as caught:
            await stt.transcribe(SECOND_AT_16K, 16_000)
    finally:
        await stt.aclose()
    assert caught.value.category == "permanent"


async def test_rate_limit_carries_retry_after(groq_stt: GroqSTT, groq_fake: FakeGroq) -> None:
    groq_fake.fail_next(Failure.RATE_LIMITED)
    with pytest.raises(ProviderRateLimited) as caught:
        await groq_stt.transcribe(SECOND_AT_16K, 16_000)
    assert caught.value.retry_after_s == 2.0
    assert caught.value.category == "transient"
    assert len(groq_fake.requests) == 1  # the SDK did not retry behind the pipeline's back
    # The next request goes through.
    assert (await groq_stt.transcribe(SECOND_AT_16K, 16_000)).text


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Failure.UNAUTHORIZED, ProviderAuthError),
        (Failure.SERVER_ERROR, ProviderUnavailable),
        (Failure.HANG, ProviderTimeout),
        (Failure.STREAM_CUT, ProviderUnavailable),
    ],
)
async def test_vendor_failures_are_typed(
    groq_stt: GroqSTT, groq_fake: FakeGroq, failure: Failure, error: type[Exception]
) -> None:
    groq_fake.fail_next(failure)
    with pytest.raises(error):
        await groq_stt.transcribe(SECOND_AT_16K, 16_000)


async def test_unknown_model_is_a_bad_request(groq_fake: FakeGroq) -> None:
    stt = GroqSTT(api_key=groq_fake.api_key, base_url=groq_fake.base_url, model="whisper-9")
    try:
        with pytest.raises(ProviderBadRequest, match="does not exist"):
            await stt.transcribe(SECOND_AT_16K, 16_000)
    finally:
        await stt.aclose()


async def test_unreachable_server_is_unavailable() -> None:
    async with groq_audio_server() as fake:
        base_url = fake.base_url
    stt = GroqSTT(api_key="k", base_url=base_url)
    try:
        with pytest.raises(ProviderUnavailable):
            await stt.transcribe(SECOND_AT_16K, 16_000)
    finally:
        await stt.aclose()


async def test_bad_audio_is_refused_before_sending(groq_stt: GroqSTT, groq_fake: FakeGroq) -> None:
    with pytest.raises(ProviderBadRequest):
        await groq_stt.transcribe(b"\0", 16_000)
    assert groq_fake.requests == []
