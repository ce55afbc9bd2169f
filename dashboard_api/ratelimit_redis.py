"""The Redis store of rate-limit windows, shared by every replica (REDIS_URL)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from dashboard_api.ratelimit import Decision

_log = logging.getLogger("parley.ratelimit")


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "parley:rl:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._clock = clock

    async def ping(self) -> None:
        await self._client.ping()

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        now = self._clock()
        index = int(now // window_s)
        name = f"{self._prefix}{key}:{index}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_s + 1, nx=True)
                count, _ = await pipe.execute()
        except RedisError as exc:
            # Fail open: an unreachable limiter must not take the API down with it.
            _log.warning("rate-limit store unreachable, request allowed: %s", exc)
            return Decision(True, limit, limit, window_s)
        reset_s = max(1, math.ceil((index + 1) * window_s - now))
        return Decision(int(count) <= limit, limit, max(0, limit - int(count)), reset_s)

    async def close(self) -> None:
        await self._client.aclose()
