"""Reading urlencoded console forms into plain values (errors become InvalidInput)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request

from voice_server.errors import InvalidInput

MAX_FIELD = 20_000


class Form:
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    @classmethod
    async def read(cls, request: Request[Any, Any, Any]) -> Form:
        data = await request.form()
        values: dict[str, list[str]] = {}
        for key, value in data.multi_items():
            if isinstance(value, str):
                values.setdefault(key, []).append(value)
        return cls(values)

    def text(self, name: str, default: str = "", *, max_length: int = MAX_FIELD) -> str:
        value = (self._values.get(name) or [default])[0]
        if "\x00" in value:
            raise InvalidInput(f"{name} may not contain NUL characters", field=name)
        if len(value) > max_length:
            raise InvalidInput(f"{name} is longer than {max_length} characters", field=name)
        return value

    def optional(self, name: str) -> str | None:
        value = self.text(name).strip()
        return value or None

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.text(name, "", max_length=50).strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be a number", field=name) from None
        if not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low:g} and {high:g}", field=name)
        return value

    def optional_number(self, name: str, *, low: float, high: float) -> float | None:
        """None when left empty (the server's setting)."""
        if not self.text(name, "", max_length=50).strip():
            return None
        return self.number(name, low, low=low, high=high)

    def uuid(self, name: str) -> UUID | None:
        raw = self.text(name, "", max_length=50).strip()
        if not raw:
            return None
        try:
            return UUID(raw)
        except ValueError:
            raise InvalidInput(f"{name} is not a valid id", field=name) from None

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in self.text(name).splitlines() if line.strip()]

    def checked(self, name: str) -> bool:
        return bool(self._values.get(name))
