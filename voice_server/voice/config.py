"""The voice settings of one session: server settings, overridden per bot by ``config.voice``.

Bot overrides come from JSON written by owners, so each is checked against the same bounds as
the server setting; a bad value is ignored (the server default stays) rather than failing calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from voice_server.settings import Settings
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.vad import SegmenterConfig

_log = logging.getLogger("parley.voice")

# name in bots.config.voice -> (lowest, highest)
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "vad_aggressiveness": (0, 3),
    "speech_start_ms": (10, 2000),
    "end_of_turn_silence_ms": (100, 5000),
    "min_utterance_ms": (0, 5000),
    "pre_roll_ms": (0, 1000),
    "chunk_pause_ms": (40, 2000),
    "barge_in_min_ms": (0, 5000),
}
_FLOAT_BOUNDS: dict[str, tuple[float, float]] = {"speed": (0.25, 4.0), "pitch": (0.25, 4.0)}


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
            output_sample_rate=settings.voice_output_sample_rate,
            pacer_lead_ms=settings.voice_pacer_lead_ms,
            max_turn_chars=settings.voice_max_turn_chars,
        )

    def for_bot(self, bot_config: Mapping[str, Any], language: str = "en") -> VoiceConfig:
        """Apply a bot's ``config["voice"]`` overrides."""
        raw = bot_config.get("voice")
        overrides = raw if isinstance(raw, Mapping) else {}
        changes: dict[str, Any] = {}
        for name, (low, high) in _INT_BOUNDS.items():
            value = overrides.get(name)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                changes[name] = value
            else:
                _log.warning("ignoring bot voice override %s=%r", name, value)
        voice = replace(self.voice, language=language or self.voice.language)
        if (speed := _bounded(overrides.get("speed"), "speed")) is not None:
            voice = replace(voice, speed=speed)
        if (pitch := _bounded(overrides.get("pitch"), "pitch")) is not None:
            voice = replace(voice, pitch=pitch)
        if isinstance(overrides.get("voice"), str) and overrides["voice"]:
            voice = replace(voice, voice=overrides["voice"])
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


def _bounded(value: Any, name: str) -> float | None:
    low, high = _FLOAT_BOUNDS[name]
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return None
