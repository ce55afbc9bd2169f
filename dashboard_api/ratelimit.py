"""Rate limits per API key, per visitor IP and per tenant.

Fixed windows counted in a store: in memory by default (one server), Redis when REDIS_URL is set
(replicas share counts). A request passes when every bucket it falls in has room; the answer
carries the tightest bucket, so clients see `RateLimit-*` headers and, when refused,
`Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from voice_server.errors import RateLimited


@dataclass(frozen=True)
class Rule:
    name: str  # "key", "ip", "tenant", "auth"
    limit: int
    window_s: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window ends
    rule: str = ""

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


class RateLimitStore(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        """Count one request in ``key``'s current window."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window index, count)

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        now = self._clock()
        index = int(now // window_s)
        current, count = self._windows.get(key, (index, 0))
        if current != index:
            count = 0
        count += 1
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._prune(index, window_s)
        self._windows[key] = (index, count)
        reset_s = max(1, math.ceil((index + 1) * window_s - now))
        return Decision(count <= limit, limit, max(0, limit - count), reset_s)

    def _prune(self, index: int, window_s: int) -> None:
        stale = [k for k, (i, _) in self._windows.items() if i != index]
        for key in stale:
            del self._windows[key]
        if len(self._windows) >= self._max_keys:
            self._windows.clear()  # over capacity within one window: forget rather than grow

    async def close(self) -> None:
        self._windows.clear()


class RateLimiter:
    def __init__(self, store: RateLimitStore, rules: dict[str, Rule]) -> None:
        self._store = store
        self._rules = rules

    @property
    def store(self) -> RateLimitStore:
        return self._store

    async def check(self, buckets: Sequence[tuple[str, str]]) -> Decision | None:
        """Count the request in each ``(rule name, subject)`` bucket; RateLimited when one is
        full. Returns the tightest decision, or None when no rule applies."""
        tightest: Decision | None = None
        for rule_name, subject in buckets:
            rule = self._rules.get(rule_name)
            if rule is None or rule.limit <= 0:
                continue
            decision = await self._store.hit(f"{rule.name}:{subject}", rule.limit, rule.window_s)
            decision = Decision(
                decision.allowed, decision.limit, decision.remaining, decision.reset_s, rule.name
            )
            if not decision.allowed:
                raise RateLimited(
                    f"too many requests for this {_SUBJECTS.get(rule.name, rule.name)}; "
                    f"retry in {decision.reset_s} s",
                    retry_after_s=decision.reset_s,
                    limit=decision.limit,
                    window_s=rule.window_s,
                    bucket=rule.name,
                )
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        return tightest


_SUBJECTS = {
    "key": "key",
    "ip": "address",
    "tenant": "organisation",
    "auth": "address",
    "voice_ip": "address's voice sessions",
    "voice_key": "key's voice sessions",
    "voice_tenant": "organisation's voice sessions",
    "visitor_messages": "visitor's messages to this bot",
}
