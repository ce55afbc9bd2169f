from __future__ import annotations

import pytest

from tests.unit.voice.audio_signals import dominant_frequency, tone
from voice_server.voice.codecs import NotAudio, TooLong, decode, encode


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg"])
def test_encoded_audio_decodes_to_the_same_sound(fmt: str) -> None:
    data = encode(tone(800, 24_000, 440), 24_000, fmt)  # type: ignore[arg-type]
    audio = decode(data, max_seconds=10)
    assert audio.sample_rate == 16_000
    assert audio.seconds == pytest.approx(0.8, abs=0.06)
    assert dominant_frequency(audio.pcm, 16_000) == pytest.approx(440, abs=10)


def test_not_audio_is_refused() -> None:
    with pytest.raises(NotAudio):
        decode(b"<html>hello</html>" * 20, max_seconds=10)


def test_too_long_audio_is_refused_early() -> None:
    with pytest.raises(TooLong):
        decode(encode(tone(3000, 16_000), 16_000, "wav"), max_seconds=1)
