from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings
from voice_server.voice.config import VoiceConfig


def test_server_settings_become_the_session_defaults(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, voice_end_of_turn_silence_ms=900, voice_barge_in_min_ms=500)
    config = VoiceConfig.from_settings(settings)
    assert (config.end_of_turn_silence_ms, config.barge_in_min_ms) == (900, 500)
    assert config.output_sample_rate == 24_000


def test_a_bot_overrides_turn_taking_and_voice() -> None:
    config = VoiceConfig().for_bot(
        {"voice": {"end_of_turn_silence_ms": 1200, "voice": "en-gb", "speed": 1.25, "pitch": 0.8}},
        language="de",
    )
    assert config.end_of_turn_silence_ms == 1200
    assert (config.voice.voice, config.voice.speed, config.voice.pitch) == ("en-gb", 1.25, 0.8)
    assert config.voice.language == "de"
    assert config.segmenter.chunk_pause_ms == VoiceConfig().chunk_pause_ms


def test_bad_bot_overrides_are_ignored() -> None:
    base = VoiceConfig()
    config = base.for_bot(
        {
            "voice": {
                "end_of_turn_silence_ms": 5,
                "vad_aggressiveness": "max",
                "speed": 99,
                "barge_in_min_ms": True,
            }
        }
    )
    assert config.end_of_turn_silence_ms == base.end_of_turn_silence_ms
    assert config.vad_aggressiveness == base.vad_aggressiveness
    assert config.voice.speed == 1.0
    assert config.barge_in_min_ms == base.barge_in_min_ms
    assert VoiceConfig().for_bot({"voice": "loud"}) == VoiceConfig()
