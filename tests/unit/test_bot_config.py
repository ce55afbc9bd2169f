"""The one bot-config schema: old names understood, bad stored values ignored field by field."""

from __future__ import annotations

import pytest

from voice_server.bot_config import BotConfig, BotVoice, LlmConfig
from voice_server.voice.config import VoiceConfig


def test_old_names_are_read_as_the_one_name() -> None:
    config = BotConfig.from_stored(
        {"voice": {"voice": "en-gb", "provider": "x"}, "end_of_turn_silence_ms": 2000}
    )
    assert config.voice == BotVoice(voice_id="en-gb", end_of_turn_silence_ms=2000)


def test_the_one_name_wins_over_the_old_one() -> None:
    config = BotConfig.from_stored(
        {
            "voice": {"voice": "old", "voice_id": "new", "end_of_turn_silence_ms": 900},
            "end_of_turn_silence_ms": 2000,
        }
    )
    assert (config.voice.voice_id, config.voice.end_of_turn_silence_ms) == ("new", 900)


@pytest.mark.parametrize(
    "raw",
    [
        {"voice": {"speed": 9, "end_of_turn_silence_ms": 1200}},
        {"voice": {"speed": "fast", "end_of_turn_silence_ms": 1200}},
        {"voice": {"speed": True, "end_of_turn_silence_ms": 1200}, "colour": "blue"},
    ],
)
def test_a_bad_stored_value_loses_only_itself(raw: dict[str, object]) -> None:
    config = BotConfig.from_stored(raw)
    assert config.voice == BotVoice(end_of_turn_silence_ms=1200)


def test_nothing_stored_means_the_servers_settings() -> None:
    for raw in (None, {}, {"voice": "loud", "llm": []}):
        config = BotConfig.from_stored(raw)  # type: ignore[arg-type]
        assert config == BotConfig()
        assert config.llm == LlmConfig(model=None, temperature=None)


def test_a_bot_at_2000_ms_gives_its_sessions_2000_ms() -> None:
    stored = {"voice": {"end_of_turn_silence_ms": 2000, "voice_id": "en-gb"}}
    config = VoiceConfig(end_of_turn_silence_ms=700).for_bot(stored)
    assert config.end_of_turn_silence_ms == 2000
    assert config.voice.voice == "en-gb"
    # The old top-level name, in a row not yet migrated, counts too.
    assert VoiceConfig().for_bot({"end_of_turn_silence_ms": 2000}).end_of_turn_silence_ms == 2000


def test_stored_form_round_trips() -> None:
    config = BotConfig(voice=BotVoice(voice_id="v", speed=1.5), knowledge_scope="bot")
    assert BotConfig.from_stored(config.to_stored()) == config
