"""The latency waterfall of one turn, and its Prometheus histograms.

All stages are milliseconds from the moment the end of the user's turn was decided (the
server's own time; the silence the end-of-turn policy waited for is recorded apart as
``end_of_turn_wait_ms``). ``total`` is the time to the first reply audio frame sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voice_server.metrics import Metrics

STAGES = ("stt_final", "llm_first_token", "first_clause", "tts_first_byte", "first_audio")


@dataclass
class Waterfall:
    origin: float  # clock seconds when the end of turn was decided
    clock: Callable[[], float]
    end_of_turn_wait_ms: float = 0.0
    end_of_turn_rule: str | None = None  # the evidence that ended the turn (None: no user turn)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str) -> None:
        """Record ``stage`` now, once (later calls keep the first)."""
        if stage not in self.marks:
            self.marks[stage] = (self.clock() - self.origin) * 1000

    @property
    def total_ms(self) -> float | None:
        return self.marks.get("first_audio")

    def as_event(self, turn: int) -> dict[str, Any]:
        event: dict[str, Any] = {"type": "metrics", "turn": turn}
        for stage in STAGES:
            event[f"{stage}_ms"] = _round(self.marks.get(stage))
        event["total_ms"] = _round(self.total_ms)
        event["end_of_turn_wait_ms"] = _round(self.end_of_turn_wait_ms)
        event["end_of_turn_rule"] = self.end_of_turn_rule
        return event


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class VoiceMetrics:
    """Instruments in the app's registry (one set per app)."""

    def __init__(self, metrics: Metrics) -> None:
        self.stage_seconds = metrics.histogram(
            "parley_voice_turn_stage_seconds",
            "Per-turn latency from the end of the user's turn to each pipeline stage.",
            ["stage"],
        )
        self.turns = metrics.counter(
            "parley_voice_turns_total", "Voice turns answered, by outcome.", ["outcome"]
        )
        self.errors = metrics.counter(
            "parley_voice_errors_total",
            "Voice pipeline errors, by stage and code.",
            ["stage", "code"],
        )
        self.sessions = metrics.counter(
            "parley_voice_sessions_total", "Voice sessions started, by transport.", ["transport"]
        )

    def observe(self, waterfall: Waterfall, *, interrupted: bool) -> None:
        for stage, value in waterfall.marks.items():
            self.stage_seconds.labels(stage).observe(value / 1000)
        if waterfall.total_ms is not None:
            self.stage_seconds.labels("total").observe(waterfall.total_ms / 1000)
        self.turns.labels("interrupted" if interrupted else "completed").inc()
