"""The one task that talks to the transport: events and audio in order, bounded.

Everything the session says is queued here without waiting (so that a slow client never stalls
the pipeline); a client that falls :data:`OUTBOUND_QUEUE` messages behind overflows the
session. Audio of a reply that was interrupted is dropped here, unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voice_server.voice.engine.listener import SessionOverflow
from voice_server.voice.engine.transport import Transport
from voice_server.voice.protocol import ServerEvent

_log = logging.getLogger("parley.voice")

OUTBOUND_QUEUE = 512


class AudioOwner(Protocol):
    """The reply a piece of audio belongs to."""

    @property
    def interrupted(self) -> bool: ...

    def audio_sent(self) -> None: ...


@dataclass(frozen=True)
class _Audio:
    pcm: bytes
    owner: AudioOwner | None


class Outbox:
    def __init__(self, transport: Transport, limit: int = OUTBOUND_QUEUE) -> None:
        self._transport = transport
        self._queue: asyncio.Queue[ServerEvent | _Audio] = asyncio.Queue(limit)
        self.gone = False  # the client hung up: nothing more is sent
        self.samples_sent = 0
        # Sees each chunk of reply audio as it is handed to the transport (call recording).
        self.tap: Callable[[bytes], None] | None = None

    def event(self, event: ServerEvent) -> None:
        self._put(event)

    def audio(self, pcm: bytes, owner: AudioOwner | None = None) -> None:
        self._put(_Audio(pcm, owner))

    def clear_audio(self) -> None:
        """Barge-in: the transport drops what it still holds (queued audio is dropped as its
        owner is interrupted)."""
        if not self.gone:
            self._transport.clear_audio()

    def _put(self, item: ServerEvent | _Audio) -> None:
        if self.gone:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise SessionOverflow("the client does not read fast enough") from None

    async def flush(self, timeout_s: float) -> None:
        """Wait (bounded) until everything queued has been handed to the transport."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._queue.join()

    async def run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if self.gone:
                    continue
                if isinstance(item, ServerEvent):
                    await self._transport.send_event(item)
                elif item.owner is None or not item.owner.interrupted:
                    if item.owner is not None:
                        item.owner.audio_sent()
                    await self._transport.send_audio(item.pcm)
                    self.samples_sent += len(item.pcm) // 2
                    if self.tap is not None:
                        self.tap(item.pcm)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the client is gone; the transport sees the disconnect
                _log.debug("voice writer stopped: %r", exc)
                self.gone = True
            finally:
                self._queue.task_done()
