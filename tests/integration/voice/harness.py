"""A server with the voice plugin, a given brain and given speech providers, and a WebSocket
client that streams audio in real time. Used by the voice integration tests and benchmarks.

The app is composed the way ``create_app`` composes it (the same plugin, lifespan and
dependencies), with the ``brain`` dependency that ``rag`` provides supplied by the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice_server.app import provide_database, provide_runtime
from voice_server.brain import Brain
from voice_server.db import open_database
from voice_server.db.migrations import load_migrations, migrate
from voice_server.errors import Unauthenticated
from voice_server.metrics import Metrics
from voice_server.principal import Principal
from voice_server.problems import exception_handlers
from voice_server.runtime import DATABASE, Runtime
from voice_server.settings import Settings
from voice_server.voice.plugin import plugin
from voice_server.voice.services import Providers


def _no_principal() -> Principal:
    raise Unauthenticated("this test server has no accounts")


def voice_app(
    settings: Settings, brain: Brain, providers: Providers, *, run_migrations: bool = False
) -> Litestar:
    # This server has no accounts package to check credentials: its clients are the tests on
    # this machine, so it runs with the development-only anonymous sessions on (loopback only).
    settings = settings.model_copy(update={"voice_allow_anonymous": True})
    voice = plugin(settings, providers_factory=lambda _: providers)
    metrics = Metrics()
    runtime = Runtime(settings, metrics)

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_database(settings) as database, AsyncExitStack() as stack:
            app.state.database = database
            stack.enter_context(runtime.holding(DATABASE, database))
            if run_migrations:
                async with database.pool.acquire() as conn:
                    await migrate(conn, load_migrations())
            for lifespan in voice.lifespans:
                await stack.enter_async_context(lifespan(app))
            yield
        app.state.database = None

    return Litestar(
        route_handlers=list(voice.route_handlers),
        dependencies={
            "database": Provide(provide_database, sync_to_thread=False),
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "brain": Provide(lambda: brain, sync_to_thread=False),
            # The REST routes need a caller; this harness serves the WebSocket only.
            "principal": Provide(_no_principal, sync_to_thread=False),
            **voice.dependencies,
        },
        lifespan=[database_lifespan],
        exception_handlers=exception_handlers(),
        state=State(
            {"settings": settings, "metrics": metrics, "database": None, "runtime": runtime}
        ),
    )


@dataclass
class VoiceClient:
    """A WebSocket client that collects events and audio frames in arrival order."""

    ws: ClientConnection
    received: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def reader(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.received.append(("audio", message))
                else:
                    self.received.append(("json", json.loads(message)))
                self.changed.set()
        except ConnectionClosed:
            pass  # the close code is on self.ws
        finally:
            self.closed.set()
            self.changed.set()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [p for k, p in self.received if k == "json" and (kind is None or p["type"] == kind)]

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while len(self.events(kind)) < count:
                if self.closed.is_set():
                    raise AssertionError(f"closed before {kind}: {self.events()}")
                self.changed.clear()
                await self.changed.wait()
        return self.events(kind)[count - 1]

    async def start(self, bot_id: UUID, sample_rate: int = 16_000, **extra: Any) -> dict[str, Any]:
        await self.ws.send(
            json.dumps(
                {"type": "session.start", "bot_id": str(bot_id), "sample_rate": sample_rate} | extra
            )
        )
        return await self.wait_for("session.started")

    async def stream(self, pcm: bytes, rate: int = 16_000, channels: int = 1) -> None:
        """Send audio in 20 ms frames at real time, as a microphone would."""
        step = rate // 50 * 2 * channels
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for n, i in enumerate(range(0, len(pcm), step)):
            await self.ws.send(pcm[i : i + step])
            await asyncio.sleep(max(0.0, begin + (n + 1) * 0.02 - loop.time()))


@asynccontextmanager
async def voice_client(url: str, **headers: str) -> AsyncIterator[VoiceClient]:
    async with connect(url, additional_headers=headers or None) as ws:
        client = VoiceClient(ws)
        reader = asyncio.create_task(client.reader())
        try:
            yield client
        finally:
            await ws.close()
            await reader


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    """Wait until ``check()`` holds (background writes land shortly after the socket closes)."""
    for _ in range(int(timeout_s / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")
