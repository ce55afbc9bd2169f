"""Jinja filters the templates share (formatting only; no data access)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "unlimited"
    return f"{value:,.{digits}f}"


def size(value: int | None) -> str:
    if not value:
        return "0 B"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1000
    return f"{amount:,.1f} GB"


def register(env: Environment) -> None:
    filters: dict[str, Any] = {"when": when, "ms": ms, "number": number, "size": size}
    env.filters.update(filters)
