"""The live voice sessions of one app, and their tasks (injected, never a module global)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from voice_server.voice.session import VoiceSession


class SessionManager:
    def __init__(self, max_sessions: int = 1000) -> None:
        self.max_sessions = max_sessions
        self._sessions: set[VoiceSession] = set()

    @property
    def sessions(self) -> frozenset[VoiceSession]:
        return frozenset(self._sessions)

    def live_tasks(self) -> set[asyncio.Task[Any]]:
        """Every task still running in any session; empty when all sessions have closed."""
        return {task for session in self._sessions for task in session.tasks}

    @property
    def full(self) -> bool:
        return len(self._sessions) >= self.max_sessions

    @asynccontextmanager
    async def run(self, session: VoiceSession) -> AsyncIterator[VoiceSession]:
        """Start ``session``, track it while the caller uses it, close it and forget it."""
        self._sessions.add(session)
        try:
            async with session:
                yield session
        finally:
            self._sessions.discard(session)

    async def shutdown(self) -> None:
        """Server shutdown: every session ends (its transport then closes with 1001)."""
        for session in list(self._sessions):
            await session.close("server_shutdown")
