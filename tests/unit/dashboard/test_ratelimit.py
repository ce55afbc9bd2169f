from __future__ import annotations

import pytest

from dashboard_api.ratelimit import MemoryStore, RateLimiter, Rule
from voice_server.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a 60 s window

    def __call__(self) -> float:
        return self.now


async def test_bucket_allows_the_limit_then_refuses_until_one_request_refills() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    decisions = [await store.hit("k", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reset_s == 20  # 3 per 60 s: one request back every 20 s
    clock.now += 19
    assert not (await store.hit("k", 3, 60)).allowed
    clock.now += 1
    assert (await store.hit("k", 3, 60)).allowed


async def test_the_minute_boundary_does_not_refill_the_bucket() -> None:
    # Fixed windows let a caller spend the limit just before a minute boundary and again just
    # after it; a bucket holds the same three requests across it.
    clock = Clock()
    clock.now = 1_000_079.5  # half a second before the clock's minute boundary
    store = MemoryStore(clock)
    assert [(await store.hit("k", 3, 60)).allowed for _ in range(3)] == [True] * 3
    clock.now += 1.0
    assert not (await store.hit("k", 3, 60)).allowed


async def test_an_idle_bucket_refills_to_the_limit_and_no_further() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    await store.hit("k", 3, 60)
    clock.now += 3600
    decisions = [await store.hit("k", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]


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
    assert refused.value.retry_after_s == 30  # 2 per 60 s: one back in 30 s
    assert refused.value.extensions["bucket"] == "tenant"


async def test_zero_or_missing_rules_do_not_limit() -> None:
    limiter = RateLimiter(MemoryStore(Clock()), {"key": Rule("key", 0, 60)})
    for _ in range(100):
        assert await limiter.check([("key", "a"), ("ip", "1.2.3.4")]) is None


async def test_memory_store_stays_bounded() -> None:
    store = MemoryStore(Clock(), max_keys=10)
    for i in range(50):
        await store.hit(f"k{i}", 5, 60)
    assert len(store._buckets) <= 10
