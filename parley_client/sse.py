"""Server-Sent Events, parsed without I/O: feed text as it arrives, take whole events out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: dict[str, Any]


class SseParser:
    """Bounded: a single event larger than ``max_event_chars`` is an error, not a memory sink."""

    def __init__(self, max_event_chars: int = 1_000_000) -> None:
        self._buffer = ""
        self._max = max_event_chars

    def feed(self, text: str) -> list[SseEvent]:
        self._buffer += text.replace("\r\n", "\n")
        events: list[SseEvent] = []
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        if len(self._buffer) > self._max:
            raise ValueError("an SSE event exceeded the size limit")
        return events


def _parse_block(block: str) -> SseEvent | None:
    name = "message"
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if not data:
        return None
    return SseEvent(name, json.loads("\n".join(data)))
