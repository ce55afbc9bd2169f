from __future__ import annotations

import pytest

from dashboard_api.ratelimit import MemoryStore, RateLimiter, Rule
from voice_server.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a 60 s window

    def __call__(self) -> float:
        return self.now


async def test_window_allows_the_limit_then_refuses_until_it_resets() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    decisions = [await store.hit("k", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reset_s == 40
    clock.now += 40
    assert (await store.hit("k", 3, 60)).allowed


async def test_limiter_refuses_with_retry_after_and_reports_the_tightest_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(
        MemoryStore(clock), {"key": Rule("key", 5, 60), "tenant": Rule("tenant", 2, 60)}
    )
    first = await limiter.check([("key", "a"), ("tenant", "t")])
    assert first is not None
    assert (first.rule, first.remaining) == ("tenant", 1)
    await limiter.check([("key", "b"), ("tenant", "t")])
    with pytest.raises(RateLimited) as refused:
        await limiter.check([("key", "c"), ("tenant", "t")])
    assert refused.value.retry_after_s == 40
    assert refused.value.extensions["bucket"] == "tenant"


async def test_zero_or_missing_rules_do_not_limit() -> None:
    limiter = RateLimiter(MemoryStore(Clock()), {"key": Rule("key", 0, 60)})
    for _ in range(100):
        assert await limiter.check([("key", "a"), ("ip", "1.2.3.4")]) is None


async def test_memory_store_stays_bounded() -> None:
    store = MemoryStore(Clock(), max_keys=10)
    for i in range(50):
        await store.hit(f"k{i}", 5, 60)
    assert len(store._windows) <= 10
