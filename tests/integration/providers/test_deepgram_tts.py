"""The Deepgram adapter through the official SDK against the Deepgram protocol fake."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fakes import Failure
from tests.fakes.deepgram import FakeDeepgram, deepgram_server
from voice_server.voice.providers.base import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    TextToSpeech,
    VoiceOptions,
)
from voice_server.voice.providers.deepgram_tts import DeepgramTTS, split_text
from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT

SENTENCE = "hello world, the opening hours are nine to five"


async def speak(tts: DeepgramTTS, text: str = SENTENCE, rate: int = 24_000, **kw: object) -> bytes:
    options = VoiceOptions(**kw)  # type: ignore[arg-type]
    return b"".join([c async for c in tts.synthesize(text, sample_rate=rate, options=options)])


def rms(pcm16: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm16, dtype="<i2").astype(np.float64) ** 2)))


def test_is_a_text_to_speech_provider(deepgram_tts: DeepgramTTS) -> None:
    assert isinstance(deepgram_tts, TextToSpeech)


async def test_streams_raw_linear16_at_the_requested_rate(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    chunks = [
        chunk
        async for chunk in deepgram_tts.synthesize(
            SENTENCE, sample_rate=24_000, options=VoiceOptions()
        )
    ]
    assert len(chunks) > 3  # passed on as it streams, not collected first
    pcm = b"".join(chunks)
    assert all(len(chunk) % 2 == 0 for chunk in chunks)  # odd HTTP chunks were re-joined
    assert len(pcm) == deepgram_fake.bytes_sent  # no WAV header, no byte lost
    assert 1.5 < len(pcm) / 2 / 24_000 < 6.0
    assert rms(pcm) > 500
    request = deepgram_fake.requests[-1]
    assert request.path == "/v1/speak"
    assert request.query == {
        "model": "aura-2-thalia-en",
        "encoding": "linear16",
        "container": "none",
        "sample_rate": "24000",
    }
    assert request.json() == {"text": SENTENCE}


async def test_voice_and_speed_are_sent(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    await speak(deepgram_tts, voice="aura-2-apollo-en", speed=3.0)
    query = deepgram_fake.requests[-1].query
    assert query["model"] == "aura-2-apollo-en"
    assert float(query["speed"]) == 1.5  # clamped to what Deepgram accepts


async def test_a_rate_deepgram_lacks_is_resampled(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    pcm = await speak(deepgram_tts, rate=22_050)
    assert deepgram_fake.requests[-1].query["sample_rate"] == "24000"
    assert abs(len(pcm) * 24_000 / 22_050 - deepgram_fake.bytes_sent) < 2_000


async def test_the_speech_is_understandable(deepgram_tts: DeepgramTTS) -> None:
    stt = PocketsphinxSTT(workers=1)
    try:
        transcript = await stt.transcribe(
            await speak(deepgram_tts, "what are your opening hours", rate=16_000), 16_000
        )
    finally:
        await stt.aclose()
    assert "hours" in transcript.text.split()


async def test_long_text_is_sent_in_pieces_deepgram_accepts(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    text = "This sentence is spoken. " * 100  # 2,500 characters
    deepgram_fake.audio = "tone"
    pcm = await speak(deepgram_tts, text)
    assert len(deepgram_fake.requests) == 2
    assert all(len(r.json()["text"]) <= 2000 for r in deepgram_fake.requests)
    assert len(pcm) == deepgram_fake.bytes_sent


def test_split_text_prefers_sentence_ends() -> None:
    pieces = list(split_text("One two. Three four five six.", 12))
    assert pieces == ["One two.", "Three four", "five six."]
    assert list(split_text("x" * 25, 10)) == ["x" * 10, "x" * 10, "x" * 5]


async def test_wrong_key_is_an_auth_error(deepgram_fake: FakeDeepgram) -> None:
    tts = DeepgramTTS(api_key="wrong", base_url=deepgram_fake.base_url)
    try:
        with pytest.raises(ProviderAuthError, match="Invalid credentials"):
            await speak(tts)
    finally:
        await tts.aclose()


async def test_rate_limit_carries_retry_after(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    deepgram_fake.fail_next(Failure.RATE_LIMITED)
    with pytest.raises(ProviderRateLimited) as caught:
        await speak(deepgram_tts)
    assert caught.value.retry_after_s == 2.0
    assert len(deepgram_fake.requests) == 1  # no retry behind the pipeline's back
    assert await speak(deepgram_tts)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Failure.UNAUTHORIZED, ProviderAuthError),
        (Failure.SERVER_ERROR, ProviderUnavailable),
        (Failure.HANG, ProviderTimeout),
    ],
)
async def test_vendor_failures_are_typed(
    deepgram_tts: DeepgramTTS,
    deepgram_fake: FakeDeepgram,
    failure: Failure,
    error: type[Exception],
) -> None:
    deepgram_fake.fail_next(failure)
    with pytest.raises(error):
        await speak(deepgram_tts)


async def test_a_stream_cut_halfway_is_unavailable_after_the_audio_already_sent(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    deepgram_fake.fail_next(Failure.STREAM_CUT)
    received: list[bytes] = []

    async def listen() -> None:
        options = VoiceOptions()
        async for chunk in deepgram_tts.synthesize(SENTENCE, sample_rate=24_000, options=options):
            received.append(chunk)

    with pytest.raises(ProviderUnavailable):
        await listen()
    # What came before the cut was passed on (the pipeline knows what was played).
    assert received
    assert sum(map(len, received)) <= deepgram_fake.bytes_sent


async def test_unknown_voice_is_a_bad_request(deepgram_tts: DeepgramTTS) -> None:
    with pytest.raises(ProviderBadRequest, match="model"):
        await speak(deepgram_tts, voice="not a voice")


async def test_blank_text_sends_nothing(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    assert await speak(deepgram_tts, "  ") == b""
    assert deepgram_fake.requests == []


async def test_stopping_early_closes_the_stream(
    deepgram_tts: DeepgramTTS, deepgram_fake: FakeDeepgram
) -> None:
    stream = deepgram_tts.synthesize(SENTENCE * 10, sample_rate=24_000, options=VoiceOptions())
    assert await anext(stream)
    await stream.aclose()  # barge-in
    assert await speak(deepgram_tts)  # the client is still usable


async def test_unreachable_server_is_unavailable() -> None:
    async with deepgram_server() as fake:
        base_url = fake.base_url
    tts = DeepgramTTS(api_key="k", base_url=base_url)
    try:
        with pytest.raises(ProviderUnavailable):
            await speak(tts)
    finally:
        await tts.aclose()
