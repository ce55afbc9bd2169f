"""Run a LangChain stream in a task of its own and hand its items over a bounded queue.

Closing or cancelling the consumer (barge-in, client gone) cancels that task once, which lets
LangChain close the model's HTTP stream; run directly under a caller's anyio cancel scope, its
clean-up awaits would themselves be cancelled and the model would go on writing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

import anyio

T = TypeVar("T")
_END = object()


async def in_own_task(stream: AsyncIterator[T], *, name: str) -> AsyncGenerator[T, None]:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
    task = asyncio.create_task(_pump(stream, queue), name=name)
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        task.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(BaseException):
            await task


async def _pump(stream: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
    """Feed ``stream`` into ``queue``; an error is handed over as the last item."""
    try:
        async with contextlib.aclosing(stream) as items:  # type: ignore[type-var]
            async for item in items:
                await queue.put(item)
        await queue.put(_END)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await queue.put(exc)
