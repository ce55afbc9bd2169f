"""The wire kernel of both WebSockets (voice and chat): typed server events, their one error
shape, and the one close-code table (docs/voice-protocol.md). Features build their events on
:class:`ServerEvent`; nothing here knows a feature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

# The close-code table; docs/voice-protocol.md documents the same.
CLOSE_NORMAL = 1000  # the client sent session.end, or the server finished the session
CLOSE_GOING_AWAY = 1001  # the server is shutting down (uvicorn may send 1012 instead)
CLOSE_POLICY = 1008  # too many protocol errors in a row
CLOSE_INTERNAL = 1011  # an unexpected server error; the session is over
CLOSE_TRY_AGAIN = 1013  # rate limited: retry after the error event's retry_after_s
CLOSE_UNAUTHENTICATED = 4401  # the handshake carries a key or token that is not valid
CLOSE_QUOTA = 4402  # the plan's voice minutes or concurrent sessions are used up
CLOSE_FORBIDDEN = 4403  # a publishable key used from an Origin it does not allow
CLOSE_NOT_FOUND = 4404  # chat socket: the bot named in the path does not exist
CLOSE_START_TIMEOUT = 4408  # no session.start within the start timeout
CLOSE_CODES = {
    CLOSE_NORMAL: "normal",
    CLOSE_GOING_AWAY: "server shutting down",
    CLOSE_POLICY: "too many protocol errors",
    CLOSE_INTERNAL: "internal error",
    CLOSE_TRY_AGAIN: "rate limited, try again later",
    CLOSE_UNAUTHENTICATED: "unauthenticated",
    CLOSE_QUOTA: "plan limit reached",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_NOT_FOUND: "not found",
    CLOSE_START_TIMEOUT: "no session.start in time",
}


@dataclass(frozen=True)
class ServerEvent:
    """A JSON text frame the server sends; ``to_wire`` gives its object."""

    type: ClassVar[str]
    # Fields left out of the JSON object when None (optional in docs/voice-protocol.md).
    optional: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self.optional:
                continue
            data[f.name] = value
        return data


@dataclass(frozen=True)
class ErrorEvent(ServerEvent):
    """The one error shape of both WebSockets: ``details`` are flattened into the object
    (``retry_after_s``; for ``quota_exceeded`` ``plan``, ``limit_name``, ``limit``, ...)."""

    type = "error"
    optional = frozenset({"stage"})
    code: str
    message: str
    fatal: bool = False
    stage: str | None = None  # stt, llm, tts, storage
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        data = super().to_wire()
        del data["details"]
        return data | {k: v for k, v in self.details.items() if k not in data}


def encode(event: ServerEvent) -> str:
    """The text frame of ``event``."""
    return json.dumps(event.to_wire(), separators=(",", ":"))


def error_event(code: str, message: str, *, fatal: bool = False, **extra: Any) -> ErrorEvent:
    stage = extra.pop("stage", None)
    return ErrorEvent(code, message, fatal, stage, details=extra)


def slug_code(slug: str) -> str:
    """An HTTP problem slug (``quota-exceeded``) as an error event code (``quota_exceeded``)."""
    return slug.replace("-", "_")
