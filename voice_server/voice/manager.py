"""The live voice sessions of one app, and their tasks (injected, never a module global).

The manager also keeps the sessions' rows alive in the database (voice_server.voice.liveness):
one heartbeat task for the whole process refreshes ``last_seen_at`` of every live session in one
UPDATE, so a crashed server's sessions stop counting as in use once they are not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg

from voice_server.voice.liveness import Liveness, LiveRow
from voice_server.voice.session import SHUTDOWN_REASON, VoiceSession

_log = logging.getLogger("parley.voice")

Sleep = Callable[[float], Awaitable[None]]
_DATABASE_AWAY = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class SessionManager:
    def __init__(
        self,
        max_sessions: int = 1000,
        *,
        liveness: Liveness | None = None,
        heartbeat_s: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_sessions = max_sessions
        self._sessions: set[VoiceSession] = set()
        self._liveness = liveness
        self._heartbeat_s = heartbeat_s
        self._sleep = sleep
        # Rows kept alive, by owner (a session, or a REST call's token): several owners never
        # share a row, and a row is forgotten the moment its owner ends.
        self._rows: dict[object, LiveRow] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopped = False
        self.draining = False  # the server is shutting down: admit no new session
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def sessions(self) -> frozenset[VoiceSession]:
        return frozenset(self._sessions)

    @property
    def live_rows(self) -> list[LiveRow]:
        return list(self._rows.values())

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
        self._empty.clear()
        owner = object()
        try:
            async with session:
                if session.stored is not None:
                    await self._hold(owner, (session.bot.tenant_id, session.stored.session_id))
                yield session
        finally:
            self._rows.pop(owner, None)
            self._sessions.discard(session)
            if not self._sessions:
                self._empty.set()

    @asynccontextmanager
    async def keep_alive(self, tenant_id: UUID, session_id: UUID) -> AsyncIterator[None]:
        """Keep a session row alive that no :class:`VoiceSession` runs (a REST voice turn)."""
        owner = object()
        await self._hold(owner, (tenant_id, session_id))
        try:
            yield
        finally:
            self._rows.pop(owner, None)

    async def _hold(self, owner: object, row: LiveRow) -> None:
        self._rows[owner] = row
        if self._liveness is None:
            return
        # Stamped at once, so that a crash before the first heartbeat leaves a row the
        # restarted server recognises as its own.
        await self._touch([row])
        if self._heartbeat is None and not self._stopped:
            self._heartbeat = asyncio.create_task(self._beat(), name="voice-heartbeat")

    async def _touch(self, rows: list[LiveRow]) -> None:
        assert self._liveness is not None
        try:
            await self._liveness.touch(rows)
        except _DATABASE_AWAY as exc:  # a missed beat is retried by the next one
            _log.warning("voice sessions not marked seen: %r", exc)

    async def _beat(self) -> None:
        while True:
            await self._sleep(self._heartbeat_s)
            if self._rows:
                await self._touch(self.live_rows)

    async def drain(self, notice: str, timeout_s: float) -> None:
        """Graceful drain (voice_server.drain): each session finishes its current reply, says
        ``notice`` and ends with ``server_shutdown``; its transport stores it and closes (1001).
        What has not finished by ``timeout_s`` is closed at once (still stored, no notice)."""
        self.draining = True
        deadline = asyncio.get_running_loop().time() + timeout_s
        sessions = list(self._sessions)
        drains = [
            asyncio.create_task(session.drain(notice), name="voice-drain") for session in sessions
        ]
        if drains:
            _, pending = await asyncio.wait(drains, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for session in sessions:
            session.end(SHUTDOWN_REASON)  # a no-op for those that drained
        # The transports leave run() once they have closed their connections.
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await self._empty.wait()
        for session in list(self._sessions):
            await session.close(SHUTDOWN_REASON)

    async def shutdown(self) -> None:
        """Server shutdown: every session ends (its transport then closes with 1001)."""
        self._stopped = True
        for session in list(self._sessions):
            await session.close(SHUTDOWN_REASON)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
