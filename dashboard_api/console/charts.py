"""Per-day bar charts as SVG geometry (pure): drawn server-side, so the page reads without
JavaScript; the numbers are also in a table beside each chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH = 600
HEIGHT = 140
BOTTOM = 20


@dataclass(frozen=True)
class DayBar:
    day: str
    value: float
    x: float
    y: float
    width: float
    height: float


def day_bars(points: list[tuple[datetime, float]]) -> list[DayBar]:
    if not points:
        return []
    top = max(value for _, value in points) or 1.0
    slot = WIDTH / len(points)
    usable = HEIGHT - BOTTOM
    bars = []
    for i, (day, value) in enumerate(points):
        height = value / top * usable
        bars.append(
            DayBar(
                day=day.strftime("%Y-%m-%d"),
                value=value,
                x=i * slot + slot * 0.1,
                y=usable - height,
                width=max(1.0, slot * 0.8),
                height=height,
            )
        )
    return bars
