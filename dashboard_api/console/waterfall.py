"""A voice turn's latency waterfall as SVG bars (pure; drawn server-side so it needs no script
and no inline style, and reads as a table for screen readers)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 560
LABEL_W = 150
ROW_H = 22


@dataclass(frozen=True)
class Bar:
    label: str
    y: int
    x: float
    width: float
    ms: float
    wait: bool  # the end-of-turn wait happens before the reply's clock starts


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    scale_ms: float


def waterfall(stages: list[tuple[str, float | None]]) -> Chart:
    """Bars from the end of speech to each stage's mark; the end-of-turn wait (the silence the
    caller waited before the turn was decided) is drawn before zero, to its left."""
    first = stages[0] if stages else ("", None)
    wait = (first[1] or 0.0) if first[0].startswith("End-of-turn") else 0.0
    marks = [(label, ms) for label, ms in stages if ms is not None]
    span = max([wait + (ms if not label.startswith("End-of-turn") else 0) for label, ms in marks]
               + [1.0])  # fmt: skip
    usable = WIDTH - LABEL_W - 60
    bars = []
    for i, (label, ms) in enumerate(marks):
        if label.startswith("End-of-turn"):
            x, length = 0.0, ms
        else:
            x, length = wait, ms
        bars.append(
            Bar(
                label=label,
                y=i * ROW_H,
                x=LABEL_W + x / span * usable,
                width=max(2.0, length / span * usable),
                ms=ms,
                wait=label.startswith("End-of-turn"),
            )
        )
    return Chart(bars=bars, height=max(ROW_H, len(bars) * ROW_H), scale_ms=span)
