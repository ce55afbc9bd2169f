"""The drain's contract: refuse at once, run every step within the deadline, cancel overruns."""

from __future__ import annotations

import asyncio

import pytest

from voice_server.drain import Drain, ServerDraining, drain_budget


async def test_steps_run_together_and_new_work_is_refused_from_the_start() -> None:
    drain = Drain()
    seen: list[tuple[str, float, bool]] = []

    async def step(name: str, timeout_s: float) -> None:
        seen.append((name, timeout_s, drain.draining))

    drain.check()  # not draining yet: nothing raised
    with drain.step("a", lambda t: step("a", t)), drain.step("b", lambda t: step("b", t)):
        await drain.run(5.0)
    assert sorted(seen) == [("a", 5.0, True), ("b", 5.0, True)]
    with pytest.raises(ServerDraining) as refused:
        drain.check()
    assert refused.value.status == 503
    assert refused.value.slug == "server-draining"


async def test_a_step_that_overruns_is_cancelled_and_the_others_still_finish() -> None:
    drain = Drain()
    cancelled = asyncio.Event()
    finished: list[str] = []

    async def stuck(_: float) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def quick(_: float) -> None:
        finished.append("quick")

    with drain.step("stuck", stuck), drain.step("quick", quick):
        await drain.run(0.05)
    assert cancelled.is_set()
    assert finished == ["quick"]


async def test_a_second_run_waits_for_the_first_and_a_failed_step_does_not_stop_it() -> None:
    drain = Drain()
    release = asyncio.Event()
    calls: list[str] = []

    async def slow(_: float) -> None:
        calls.append("slow")
        await release.wait()

    async def broken(_: float) -> None:
        raise RuntimeError("boom")

    with drain.step("slow", slow), drain.step("broken", broken):
        first = asyncio.create_task(drain.run(5.0))
        await asyncio.sleep(0)
        second = asyncio.create_task(drain.run(5.0))
        await asyncio.sleep(0)
        assert not second.done()
        release.set()
        await asyncio.gather(first, second)
    assert calls == ["slow"]  # the steps ran once


def test_the_drain_leaves_part_of_the_shutdown_timeout_for_closing() -> None:
    assert drain_budget(10.0) == 8.0
    assert drain_budget(60.0) == 57.0  # at most 3 s kept back
    assert 0 < drain_budget(1.0) < 1.0
