"""The Redis store of rate-limit buckets, shared by every replica (REDIS_URL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from dashboard_api.ratelimit import Decision, decision_for

_log = logging.getLogger("parley.ratelimit")

# The token bucket of dashboard_api.ratelimit.take, run inside Redis so that replicas update a
# bucket atomically. Returns {allowed (0/1), tokens left as a string (Lua numbers lose the
# fraction on the way back)}. Time never runs backwards for a bucket (callers' clocks differ);
# the key expires once the bucket would be full again.
_TAKE = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local rate = limit / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = limit
if state[1] then
  local at = tonumber(state[2])
  if now < at then now = at end
  tokens = math.min(limit, tonumber(state[1]) + (now - at) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


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
        self._take = self._client.register_script(_TAKE)

    async def ping(self) -> None:
        await self._client.ping()

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        try:
            allowed, tokens = await self._take(
                keys=[f"{self._prefix}{key}"], args=[limit, window_s, repr(self._clock())]
            )
        except RedisError as exc:
            # Fail open: an unreachable limiter must not take the API down with it.
            _log.warning("rate-limit store unreachable, request allowed: %s", exc)
            return Decision(True, limit, limit, window_s)
        return decision_for(bool(allowed), float(tokens), limit, limit / window_s)

    async def close(self) -> None:
        await self._client.aclose()
