"""A fake :class:`~voice_server.voice.engine.clock.Clock`: time moves only when a test says so.

``sleep`` parks the caller until the test moves time past its deadline; :meth:`FakeClock.advance`
and :meth:`FakeClock.run_until` let everything that can run, run (a bounded number of event loop
passes), then jump to the next deadline. Nothing really sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SETTLE_PASSES = 50
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._start = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._seq), future))
        await future

    @property
    def elapsed(self) -> float:
        return self.t - self._start

    async def settle(self) -> None:
        """Let every task that is ready run until all wait (on this clock or on events)."""
        for _ in range(SETTLE_PASSES):
            await asyncio.sleep(0)

    def _wake_next(self) -> bool:
        while self._sleepers:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():  # its sleeper was cancelled
                continue
            self.t = max(self.t, deadline)
            future.set_result(None)
            return True
        return False

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking each sleeper at its deadline in order."""
        target = self.t + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            self._wake_next()
            await self.settle()
        self.t = target
        await self.settle()

    async def run_until(self, done: Callable[[], bool], limit_s: float = 120.0) -> None:
        """Run, moving time from deadline to deadline, until ``done()``; fails after ``limit_s``
        of fake time or when nothing is left to wake."""
        limit = self.t + limit_s
        await self.settle()
        while not done():
            if self.t > limit or not self._wake_next():
                raise AssertionError(f"not done after {self.t - self._start:.3f} s of fake time")
            await self.settle()
