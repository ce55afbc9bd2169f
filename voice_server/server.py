"""`parley serve`: database first, then uvicorn; on SIGTERM, Parley drains (voice_server.drain),
then uvicorn closes what is left, then the database stops."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from litestar import Litestar

from voice_server import __version__
from voice_server.app import create_app
from voice_server.db import open_database
from voice_server.drain import Drain, drain_budget
from voice_server.settings import Settings

_log = logging.getLogger("parley.server")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """uvicorn re-raises the stop signal once it has drained, which would kill the process before
    the embedded PostgreSQL is stopped; this server only records the signal and returns.

    The first stop signal starts Parley's drain while uvicorn still listens (so /readyz can
    answer 503 and calls can finish their reply); uvicorn is told to exit once the drain is done.
    A second signal exits at once."""

    def __init__(self, config: uvicorn.Config, drain: Drain | None = None, drain_s: float = 0.0):
        super().__init__(config)
        self._drain = drain
        self._drain_s = drain_s
        self._drain_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None or self._loop is None or self._drain_task is not None:
            super().handle_exit(sig, frame)
            return
        # A signal handler runs between two bytecodes of the loop's thread: hand over to the loop.
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._drain_task is None and not self.should_exit:
            self._drain_task = asyncio.create_task(self._drain_then_exit(), name="drain")

    async def _drain_then_exit(self) -> None:
        assert self._drain is not None
        try:
            await self._drain.run(self._drain_s)
        finally:
            self.should_exit = True

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._loop = asyncio.get_running_loop()
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def uvicorn_config(settings: Settings, app: Litestar) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # What the drain leaves of PARLEY_SHUTDOWN_TIMEOUT_S, for connections still open.
        timeout_graceful_shutdown=max(
            1, math.ceil(settings.shutdown_timeout_s - drain_budget(settings.shutdown_timeout_s))
        ),
        ws="websockets-sansio",
        # Voice frames are PCM, which deflate cannot shrink: compressing them only cost
        # about 5% of the server's CPU under load (benchmarks, py-spy).
        ws_per_message_deflate=False,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or FORWARDED_ALLOW_IPS) and
        # rewrite the client address before we see it, so a local client could pose as any
        # visitor. Only PARLEY_TRUSTED_PROXIES decides (dashboard_api.client_ip).
        proxy_headers=False,
        forwarded_allow_ips=[],
    )


async def serve(settings: Settings) -> None:
    """Open the database before the HTTP server, so that setup errors surface as one clear line
    and not as a lifespan traceback, and close it after the HTTP server has drained."""
    _log.info(
        "starting parley",
        extra={
            "version": __version__,
            "address": f"http://{settings.host}:{settings.port}",
            "database": settings.database_url_for_logs(),
        },
    )
    async with open_database(settings) as database:
        app = create_app(settings, database=database)
        server = GracefulServer(
            uvicorn_config(settings, app),
            drain=app.state.drain,
            drain_s=drain_budget(settings.shutdown_timeout_s),
        )
        await server.serve()
    if not server.started:
        raise SystemExit(1)
    _log.info("parley stopped")
