"""The fakes' latency profiles: what benchmarks select by name."""

from __future__ import annotations

import pytest

from tests.fakes.latency import latency_profile


def test_zero_profile_adds_no_delay() -> None:
    zero = latency_profile("zero")
    assert zero.stt_delay(10.0) == 0.0
    assert zero.tts_first_byte_delay() == 0.0
    assert zero.tts_chunk_delay(0.1) == 0.0
    assert zero.llm_first_token_delay() == 0.0
    assert zero.llm_token_delay() == 0.0


def test_cloud_profile_models_the_vendors() -> None:
    cloud = latency_profile("cloud")
    stt = [cloud.stt_delay(5.0) for _ in range(200)]
    assert 0.25 < sum(stt) / len(stt) < 0.45  # ~250 ms + 0.02 x 5 s
    first_byte = [cloud.tts_first_byte_delay() for _ in range(200)]
    assert 0.14 < sum(first_byte) / len(first_byte) < 0.22
    assert cloud.tts_chunk_delay(1.0) < 1.0  # faster than real time
    assert cloud.llm_token_delay() == pytest.approx(1 / 250)


def test_profiles_are_repeatable_and_seedable() -> None:
    first = [latency_profile("cloud").stt_delay(1.0) for _ in range(3)]
    again = [latency_profile("cloud").stt_delay(1.0) for _ in range(3)]
    assert first == again
    assert latency_profile("cloud", seed=7).stt_delay(1.0) != first[0]


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="cloud"):
        latency_profile("moon")
