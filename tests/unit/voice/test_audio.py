from __future__ import annotations

import numpy as np
import pytest

from tests.unit.voice.audio_signals import dominant_frequency, tone
from voice_server.voice.audio import (
    PIPELINE_RATE,
    Framer,
    InputNormaliser,
    Resampler,
    duration_ms,
    frame_bytes,
)


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_any_rate_becomes_16k_with_the_same_pitch_and_length(rate: int) -> None:
    resampler = Resampler(rate, PIPELINE_RATE)
    source = tone(1000, rate=rate, freq=500)
    # Fed in awkward chunk sizes, as a browser would send them.
    out = b"".join(resampler.feed(source[i : i + 882]) for i in range(0, len(source), 882))
    out += resampler.flush()
    assert duration_ms(out, PIPELINE_RATE) == pytest.approx(1000, abs=5)
    assert dominant_frequency(out, PIPELINE_RATE) == pytest.approx(500, abs=5)


def test_stereo_is_downmixed_to_mono() -> None:
    left = np.frombuffer(tone(500, rate=48_000, freq=300), dtype="<i2")
    stereo = np.stack([left, left], axis=1).reshape(-1).astype("<i2").tobytes()
    resampler = Resampler(48_000, PIPELINE_RATE, channels=2)
    out = resampler.feed(stereo) + resampler.flush()
    assert duration_ms(out, PIPELINE_RATE) == pytest.approx(500, abs=5)
    assert dominant_frequency(out, PIPELINE_RATE) == pytest.approx(300, abs=5)


def test_tts_output_is_resampled_to_the_clients_rate() -> None:
    resampler = Resampler(22_050, 24_000)
    out = resampler.feed(tone(400, rate=22_050, freq=1000)) + resampler.flush()
    assert duration_ms(out, 24_000) == pytest.approx(400, abs=5)
    assert dominant_frequency(out, 24_000) == pytest.approx(1000, abs=5)


def test_same_rate_mono_passes_through_untouched() -> None:
    source = tone(100)
    assert Resampler(PIPELINE_RATE, PIPELINE_RATE).feed(source) == source


def test_half_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="whole samples"):
        Resampler(48_000, PIPELINE_RATE).feed(b"\x01\x02\x03")


def test_framer_rechunks_into_exact_frames_and_keeps_the_rest() -> None:
    framer = Framer(640)
    data = bytes(range(256)) * 10  # 2560 bytes
    frames = framer.feed(data[:1000]) + framer.feed(data[1000:2000])
    assert [len(f) for f in frames] == [640, 640, 640]
    assert b"".join(frames) == data[:1920]
    assert framer.pending == 80
    rest = framer.feed(data[2000:]) + framer.flush()
    assert b"".join(frames + rest)[:2560] == data
    assert all(len(f) == 640 for f in rest)


def test_normaliser_turns_stereo_44k_chunks_into_20ms_frames() -> None:
    left = np.frombuffer(tone(1000, rate=44_100), dtype="<i2")
    stereo = np.stack([left, left], axis=1).reshape(-1).astype("<i2").tobytes()
    normaliser = InputNormaliser(44_100, channels=2, frame_ms=20)
    frames: list[bytes] = []
    for i in range(0, len(stereo), 1001):  # odd chunk sizes split samples across chunks
        frames += normaliser.feed(stereo[i : i + 1001])
    frames += normaliser.flush()
    assert {len(f) for f in frames} == {frame_bytes(PIPELINE_RATE, 20)}
    assert len(frames) == pytest.approx(50, abs=1)
