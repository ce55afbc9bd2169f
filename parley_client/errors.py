"""The client's one error tree."""

from __future__ import annotations

from typing import Any


class ParleyClientError(Exception):
    """Every error this client raises."""


class ParleyApiError(ParleyClientError):
    """The server answered with a problem document (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.detail = str(problem.get("detail", ""))
        self.field: str | None = problem.get("field")
        super().__init__(f"{status} {problem.get('title', 'error')}: {self.detail}")


class VoiceSessionError(ParleyClientError):
    """The voice session reported a fatal `error` event or closed before answering."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")
