"""The session manager keeps its live sessions' rows seen: one touch for all, on a fake clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from voice_server.voice.liveness import LiveRow
from voice_server.voice.manager import SessionManager


class FakeLiveness:
    def __init__(self) -> None:
        self.touches: list[list[LiveRow]] = []
        self.fail_next = False

    async def touch(self, rows: Sequence[LiveRow]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("database away")
        self.touches.append(sorted(rows))


class FakeSleep:
    """The heartbeat's clock: each ``tick`` ends one sleep; nothing waits on real time."""

    def __init__(self) -> None:
        self.sleeping: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self.asleep = asyncio.Event()
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        future = asyncio.get_running_loop().create_future()
        self.sleeping.put_nowait(future)
        self.asleep.set()
        await future

    async def tick(self) -> None:
        sleeping = await self.sleeping.get()
        self.asleep.clear()
        sleeping.set_result(None)
        await self.asleep.wait()  # the heartbeat ran and sleeps again


def row() -> LiveRow:
    return (uuid.uuid4(), uuid.uuid4())


async def test_one_touch_marks_every_live_row_and_ended_rows_drop_out() -> None:
    liveness, sleep = FakeLiveness(), FakeSleep()
    manager = SessionManager(liveness=liveness, heartbeat_s=10, sleep=sleep)
    first, second = row(), row()
    async with manager.keep_alive(*first):
        assert liveness.touches == [[first]]  # stamped at once, before any heartbeat
        async with manager.keep_alive(*second):
            assert liveness.touches[-1] == [second]
            await sleep.tick()
            assert liveness.touches[-1] == sorted([first, second])  # one touch for all
        await sleep.tick()
        assert liveness.touches[-1] == [first]
    touches = len(liveness.touches)
    await sleep.tick()
    assert len(liveness.touches) == touches  # nothing live: nothing written
    assert set(sleep.asked) == {10}
    await manager.shutdown()
    assert manager.live_rows == []


async def test_a_missed_heartbeat_is_retried_by_the_next_one() -> None:
    liveness, sleep = FakeLiveness(), FakeSleep()
    manager = SessionManager(liveness=liveness, heartbeat_s=5, sleep=sleep)
    live = row()
    async with manager.keep_alive(*live):
        liveness.fail_next = True
        await sleep.tick()
        assert liveness.touches == [[live]]  # the failed beat wrote nothing
        await sleep.tick()
        assert liveness.touches == [[live], [live]]
    await manager.shutdown()


async def test_shutdown_stops_the_heartbeat() -> None:
    liveness, sleep = FakeLiveness(), FakeSleep()
    manager = SessionManager(liveness=liveness, heartbeat_s=5, sleep=sleep)
    async with manager.keep_alive(*row()):
        heartbeat = manager._heartbeat
        assert heartbeat is not None
        assert not heartbeat.done()
        await manager.shutdown()
    assert heartbeat.cancelled()


async def test_without_liveness_nothing_is_written() -> None:
    manager = SessionManager()
    async with manager.keep_alive(*row()):
        assert len(manager.live_rows) == 1
    assert manager.live_rows == []
    await manager.shutdown()
