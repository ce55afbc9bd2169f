"""Injectable latencies for the vendor fakes, so that benchmarks can reuse them.

A :class:`LatencyProfile` says how long each fake vendor takes; the fakes sleep accordingly.
``zero`` (the tests' default) answers at once. ``cloud`` models the vendors as measured from a
European server: Groq Whisper about 250 ms plus 0.02 s per second of audio, Groq chat about 200
ms to the first token then 250 tokens/s, Deepgram Aura about 180 ms to the first byte then
faster than real time. Draws come from a seeded generator, so a benchmark run is repeatable.

    profile = latency_profile("cloud")
    async with groq_audio_server(latency=profile) as groq: ...
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Latency:
    """A delay in seconds: ``base_s``, plus normal jitter of ``jitter_s`` (never below zero)."""

    base_s: float = 0.0
    jitter_s: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.jitter_s <= 0:
            return max(0.0, self.base_s)
        return max(0.0, rng.gauss(self.base_s, self.jitter_s))


@dataclass(frozen=True)
class LatencyProfile:
    name: str
    # Groq Whisper: time to the whole transcript = stt_base + stt_per_audio_s * audio seconds.
    stt_base: Latency = Latency()
    stt_per_audio_s: float = 0.0
    # Groq chat completions (used by the LLM fake): first token, then a steady token rate.
    llm_first_token: Latency = Latency()
    llm_tokens_per_s: float = math.inf
    # Deepgram Aura: first audio byte, then audio produced this many times faster than real time.
    tts_first_byte: Latency = Latency()
    tts_realtime_factor: float = math.inf
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rng", random.Random(self.seed))

    @property
    def is_zero(self) -> bool:
        return self.name == "zero"

    def stt_delay(self, audio_seconds: float) -> float:
        return self.stt_base.sample(self._rng) + self.stt_per_audio_s * audio_seconds

    def llm_first_token_delay(self) -> float:
        return self.llm_first_token.sample(self._rng)

    def llm_token_delay(self) -> float:
        return 0.0 if math.isinf(self.llm_tokens_per_s) else 1.0 / self.llm_tokens_per_s

    def tts_first_byte_delay(self) -> float:
        return self.tts_first_byte.sample(self._rng)

    def tts_chunk_delay(self, chunk_audio_seconds: float) -> float:
        if math.isinf(self.tts_realtime_factor):
            return 0.0
        return chunk_audio_seconds / self.tts_realtime_factor


ZERO = LatencyProfile(name="zero")
CLOUD = LatencyProfile(
    name="cloud",
    stt_base=Latency(0.250, 0.040),
    stt_per_audio_s=0.02,
    llm_first_token=Latency(0.200, 0.040),
    llm_tokens_per_s=250.0,
    tts_first_byte=Latency(0.180, 0.030),
    tts_realtime_factor=5.0,
)
PROFILES: dict[str, LatencyProfile] = {profile.name: profile for profile in (ZERO, CLOUD)}


def latency_profile(name: str, *, seed: int | None = None) -> LatencyProfile:
    """The profile called ``name`` (``zero`` or ``cloud``), with a fresh generator."""
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown latency profile {name!r}; known: {sorted(PROFILES)}") from None
    return replace(base) if seed is None else replace(base, seed=seed)
