"""Run an ASGI app under a real uvicorn on a free port of 127.0.0.1, inside the test's loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from litestar import Litestar


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _no_signals() -> Iterator[None]:
    yield


@asynccontextmanager
async def serve_app(app: Litestar, *, port: int = 0) -> AsyncIterator[str]:
    """Start ``app`` with its lifespan; yield its base URL; shut it down on exit. ``port``: a
    given port (one the app's settings already name), else a free one."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # as `parley serve` runs
        proxy_headers=False,  # as `parley serve` runs: only PARLEY_TRUSTED_PROXIES decides
    )
    server = uvicorn.Server(config)
    # Signals belong to pytest; the test stops the server through should_exit.
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
