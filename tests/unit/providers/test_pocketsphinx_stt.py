from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.unit.providers.conftest import speak
from voice_server.voice.providers._pcm import resample
from voice_server.voice.providers.base import (
    ProviderBadRequest,
    ProviderUnavailable,
    SpeechToText,
)
from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT


@pytest.fixture(scope="module")
def stt() -> Iterator[PocketsphinxSTT]:
    # One pool for the module: starting worker processes is the slow part.
    provider = PocketsphinxSTT(workers=2)
    yield provider
    asyncio.run(provider.aclose())


def test_is_a_speech_to_text_provider() -> None:
    assert isinstance(PocketsphinxSTT(workers=1), SpeechToText)


async def test_transcribes_spoken_words(stt: PocketsphinxSTT, opening_hours_speech: bytes) -> None:
    transcript = await stt.transcribe(opening_hours_speech, 16_000)
    words = transcript.text.split()
    # Recognition of synthetic speech is imperfect: assert on the robust words only.
    assert "hours" in words
    assert transcript.language == "en"
    assert transcript.audio_seconds == pytest.approx(len(opening_hours_speech) / 32_000)


async def test_audio_at_other_rates_is_resampled(
    stt: PocketsphinxSTT, opening_hours_speech: bytes
) -> None:
    at_48k = resample(opening_hours_speech, 16_000, 48_000)
    transcript = await stt.transcribe(at_48k, 48_000)
    assert "hours" in transcript.text.split()


async def test_concurrent_calls_each_get_their_transcript(stt: PocketsphinxSTT) -> None:
    weather = await speak("the weather is nice today")
    table = await speak("i would like to book a table for two")
    results = await asyncio.gather(
        stt.transcribe(weather, 16_000),
        stt.transcribe(table, 16_000),
        stt.transcribe(weather, 16_000),
    )
    assert "weather" in results[0].text.split()
    assert "table" in results[1].text.split()
    assert "weather" in results[2].text.split()


async def test_silence_and_empty_audio_give_no_words(stt: PocketsphinxSTT) -> None:
    assert (await stt.transcribe(b"", 16_000)).text == ""
    assert (await stt.transcribe(b"\0\0" * 16_000, 16_000)).text == ""


async def test_bad_input_is_a_bad_request(stt: PocketsphinxSTT) -> None:
    with pytest.raises(ProviderBadRequest, match="even"):
        await stt.transcribe(b"\0\0\0", 16_000)
    with pytest.raises(ProviderBadRequest, match="English"):
        await stt.transcribe(b"\0\0", 16_000, language="de")
    with pytest.raises(ProviderBadRequest, match="rate"):
        await stt.transcribe(b"\0\0", 100)


async def test_a_closed_provider_is_unavailable() -> None:
    stt = PocketsphinxSTT(workers=1)
    await stt.aclose()
    await stt.aclose()  # idempotent
    with pytest.raises(ProviderUnavailable):
        await stt.transcribe(b"\0\0" * 160, 16_000)


async def test_the_event_loop_keeps_running_while_decoding(stt: PocketsphinxSTT) -> None:
    long_speech = await speak("hello world, the opening hours are nine to five. " * 3)
    await stt.check()  # worker started, model loaded
    decoding = asyncio.ensure_future(stt.transcribe(long_speech, 16_000))
    for _ in range(20):  # other sessions' work, while several seconds of audio are decoded
        await asyncio.sleep(0.001)
    # Had the decode held the loop (or the GIL), these sleeps would only end after it.
    assert not decoding.done()
    assert "hours" in (await decoding).text.split()
