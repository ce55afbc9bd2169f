"""Graceful drain on deploy: one path from SIGTERM to every package's "finish what you hold".

`parley serve` calls :meth:`Drain.run` on SIGTERM, before uvicorn stops listening: readiness
answers 503 at once (a load balancer stops sending new callers), new sessions are refused with
:class:`ServerDraining`, and each package's registered step (the voice sessions: finish the
current reply, say a notice, end with ``server_shutdown``) runs within the deadline. Only then
does uvicorn close the listeners and the lifespans stop (which still end anything left over).

The drain lives in ``app.state.drain`` (kernel): health reads it, packages register steps in
their lifespans, the server triggers it. Sans-I/O apart from awaiting the steps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from voice_server.errors import ServiceUnavailable

_log = logging.getLogger("parley.drain")

# A step gets the seconds it may take, and must return by then (it is cancelled after that).
DrainStep = Callable[[float], Coroutine[Any, Any, None]]

# Part of the shutdown budget kept back for closing connections and stopping the lifespans.
CLOSE_SHARE = 0.2
MAX_CLOSE_RESERVE_S = 3.0


class ServerDraining(ServiceUnavailable):
    """The server is shutting down: retry on another replica (or this one, once restarted)."""

    slug = "server-draining"
    title = "Server shutting down"

    def __init__(self, detail: str = "the server is shutting down; retry in a moment") -> None:
        super().__init__(detail)


def drain_budget(shutdown_timeout_s: float) -> float:
    """Seconds the drain steps may take out of ``PARLEY_SHUTDOWN_TIMEOUT_S``; the rest is kept
    for closing sockets and the lifespans, so the whole shutdown stays inside the timeout."""
    return shutdown_timeout_s - min(MAX_CLOSE_RESERVE_S, shutdown_timeout_s * CLOSE_SHARE)


class Drain:
    def __init__(self) -> None:
        self._steps: dict[str, DrainStep] = {}
        self._draining = False
        self._done = asyncio.Event()

    @property
    def draining(self) -> bool:
        return self._draining

    def check(self) -> None:
        """Raise :class:`ServerDraining` once the drain has begun (refuse a new session)."""
        if self._draining:
            raise ServerDraining

    @contextmanager
    def step(self, name: str, step: DrainStep) -> Iterator[None]:
        """Register ``step`` for as long as its package runs (a lifespan holds it)."""
        self._steps[name] = step
        try:
            yield
        finally:
            self._steps.pop(name, None)

    async def run(self, timeout_s: float) -> None:
        """Begin the drain and run every step concurrently, each bounded by ``timeout_s``.
        A second call waits for the first."""
        if self._draining:
            await self._done.wait()
            return
        self._draining = True
        started = time.monotonic()
        _log.info("draining", extra={"steps": sorted(self._steps), "timeout_s": timeout_s})
        try:
            tasks: dict[asyncio.Task[None], str] = {
                asyncio.create_task(step(timeout_s), name=f"drain-{name}"): name
                for name, step in self._steps.items()
            }
            if tasks:
                done, pending = await asyncio.wait(tasks, timeout=timeout_s)
                for task in pending:
                    _log.warning("drain step %s overran its %.1f s", tasks[task], timeout_s)
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)
                for task in done:
                    if not task.cancelled() and (exc := task.exception()) is not None:
                        _log.error("drain step %s failed: %r", tasks[task], exc)
        finally:
            self._done.set()
        _log.info("drained", extra={"seconds": round(time.monotonic() - started, 3)})
