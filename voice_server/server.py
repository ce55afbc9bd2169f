"""`parley serve`: database first, then uvicorn; on SIGTERM, uvicorn drains, then the database."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from litestar import Litestar

from voice_server import __version__
from voice_server.app import create_app
from voice_server.db import open_database
from voice_server.settings import Settings

_log = logging.getLogger("parley.server")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """uvicorn re-raises the stop signal once it has drained, which would kill the process before
    the embedded PostgreSQL is stopped; this server only records the signal and returns."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
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
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
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
        server = GracefulServer(uvicorn_config(settings, create_app(settings, database=database)))
        await server.serve()
    if not server.started:
        raise SystemExit(1)
    _log.info("parley stopped")
