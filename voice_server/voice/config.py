"""The voice settings of one session: server settings, overridden per bot by ``config.voice``.

Bot overrides are read through the one bot-config schema (:mod:`voice_server.bot_config`), which
holds their names and bounds; a stored value out of bounds is ignored there (the server default
stays) rather than failing calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from voice_server.bot_config import BotConfig
from voice_server.settings import Settings
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.vad import SegmenterConfig

# The turn-taking knobs a bot may override, by the same name here and in BotVoice.
_KNOBS = (
    "vad_aggressiveness",
    "speech_start_ms",
    "end_of_turn_silence_ms",
    "min_utterance_ms",
    "pre_roll_ms",
    "chunk_pause_ms",
    "barge_in_min_ms",
    "vad",
    "end_of_turn",
    "end_of_turn_open_ms",
    "end_of_turn_complete_ms",
    "end_of_turn_hold_ms",
)


@dataclass(frozen=True)
class VoiceConfig:
    frame_ms: int = 20
    vad_aggressiveness: int = 2
    speech_start_ms: int = 60
    end_of_turn_silence_ms: int = 700
    min_utterance_ms: int = 200
    pre_roll_ms: int = 200
    chunk_pause_ms: int = 200
    barge_in_min_ms: int = 300
    vad: str = "webrtc"  # webrtc | silero
    silero_threshold: float = 0.5
    end_of_turn: str = "silence"  # silence | evidence
    end_of_turn_open_ms: int = 250
    end_of_turn_complete_ms: int = 500
    end_of_turn_hold_ms: int = 1500
    output_sample_rate: int = 24_000
    pacer_lead_ms: int = 150
    max_turn_chars: int = 4000
    voice: VoiceOptions = VoiceOptions()

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceConfig:
        return cls(
            frame_ms=settings.voice_frame_ms,
            vad_aggressiveness=settings.voice_vad_aggressiveness,
            speech_start_ms=settings.voice_speech_start_ms,
            end_of_turn_silence_ms=settings.voice_end_of_turn_silence_ms,
            min_utterance_ms=settings.voice_min_utterance_ms,
            pre_roll_ms=settings.voice_pre_roll_ms,
            chunk_pause_ms=settings.voice_chunk_pause_ms,
            barge_in_min_ms=settings.voice_barge_in_min_ms,
            vad=settings.voice_vad,
            silero_threshold=settings.voice_silero_threshold,
            end_of_turn=settings.voice_end_of_turn,
            end_of_turn_open_ms=settings.voice_end_of_turn_open_ms,
            end_of_turn_complete_ms=settings.voice_end_of_turn_complete_ms,
            end_of_turn_hold_ms=settings.voice_end_of_turn_hold_ms,
            output_sample_rate=settings.voice_output_sample_rate,
            pacer_lead_ms=settings.voice_pacer_lead_ms,
            max_turn_chars=settings.voice_max_turn_chars,
        )

    def for_bot(
        self, bot_config: Mapping[str, Any] | BotConfig, language: str = "en"
    ) -> VoiceConfig:
        """Apply a bot's ``config["voice"]`` overrides."""
        config = (
            bot_config if isinstance(bot_config, BotConfig) else BotConfig.from_stored(bot_config)
        )
        overrides = config.voice
        changes: dict[str, Any] = {
            name: value for name in _KNOBS if (value := getattr(overrides, name)) is not None
        }
        voice = replace(self.voice, language=language or self.voice.language)
        if overrides.speed is not None:
            voice = replace(voice, speed=overrides.speed)
        if overrides.pitch is not None:
            voice = replace(voice, pitch=overrides.pitch)
        if overrides.voice_id:
            voice = replace(voice, voice=overrides.voice_id)
        return replace(self, voice=voice, **changes)

    @property
    def segmenter(self) -> SegmenterConfig:
        return SegmenterConfig(
            frame_ms=self.frame_ms,
            speech_start_ms=self.speech_start_ms,
            min_utterance_ms=self.min_utterance_ms,
            pre_roll_ms=self.pre_roll_ms,
            chunk_pause_ms=self.chunk_pause_ms,
        )
