"""Turn-taking policies: when has the user finished, and when does user speech interrupt the bot.

Small and pluggable (DESIGN principle 6) so that they can be measured and swapped without
touching the segmenter, the pipeline or the transports. Silence- and duration-based for now;
``hint`` carries the latest partial transcript for transcript-aware policies later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class EndOfTurnPolicy(Protocol):
    def turn_ended(self, silence_ms: float, voiced_ms: float, hint: str) -> bool:
        """After ``silence_ms`` of trailing silence in an utterance with ``voiced_ms`` of speech,
        has the user finished their turn?"""
        ...


class BargeInPolicy(Protocol):
    def interrupts(self, voiced_ms: float, hint: str) -> bool:
        """Does user speech of ``voiced_ms`` so far, while the bot thinks or speaks, interrupt?"""
        ...


@dataclass(frozen=True)
class SilenceEndOfTurn:
    silence_ms: int

    def turn_ended(self, silence_ms: float, voiced_ms: float, hint: str) -> bool:
        return silence_ms >= self.silence_ms


@dataclass(frozen=True)
class MinSpeechBargeIn:
    """Interrupt once the user has spoken ``min_ms``: long enough that a cough does not count."""

    min_ms: int

    def interrupts(self, voiced_ms: float, hint: str) -> bool:
        return voiced_ms >= self.min_ms
