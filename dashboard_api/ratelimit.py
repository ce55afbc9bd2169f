"""Rate limits per API key, per visitor IP and per tenant.

Each bucket is a token bucket: it holds at most ``limit`` requests and refills at ``limit`` per
window, so a client never gets more than ``limit`` requests through in a burst. (Fixed windows,
used before, reset at the clock's minute boundary: a caller could spend twice the limit across
it.) Buckets live in a store: in memory by default (one server), Redis when REDIS_URL is set
(replicas share them). A request passes when every bucket it falls in has room; the answer
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


@dataclass(frozen=True)
class Bucket:
    """A bucket's state: requests still allowed (``tokens``) as of ``at`` (seconds)."""

    tokens: float
    at: float


def take(bucket: Bucket | None, now: float, limit: int, window_s: int) -> tuple[Bucket, Decision]:
    """Refill ``bucket`` up to ``now`` and take one request from it when it has one.

    Pure, so the memory and Redis stores decide the same way (Redis runs the same arithmetic in
    a script, atomically). A refused request takes nothing.
    """
    rate = limit / window_s
    if bucket is None:
        tokens, at = float(limit), now
    else:
        # Requests may arrive with slightly older timestamps than the last one (replicas' clocks,
        # calls that overtake each other): time never runs backwards for a bucket.
        at = max(now, bucket.at)
        tokens = min(limit, bucket.tokens + (at - bucket.at) * rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    return Bucket(tokens, at), decision_for(allowed, tokens, limit, rate)


def decision_for(allowed: bool, tokens: float, limit: int, rate: float) -> Decision:
    # Refused: seconds until one whole request is back. Allowed: until the bucket is full again.
    wait = (1.0 - tokens) / rate if not allowed else (limit - tokens) / rate
    return Decision(allowed, limit, int(tokens), max(1, math.ceil(wait)))


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[Bucket, float]] = {}  # key -> (bucket, time it is full)

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        now = self._clock()
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._prune(now)
        previous = self._buckets.get(key)
        bucket, decision = take(previous[0] if previous else None, now, limit, window_s)
        full_at = now + (limit - bucket.tokens) * window_s / limit
        self._buckets[key] = (bucket, full_at)
        return decision

    def _prune(self, now: float) -> None:
        # A full bucket is the same as no bucket: forgetting it changes no decision.
        for key in [k for k, (_, full_at) in self._buckets.items() if full_at <= now]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()  # too many busy callers at once: forget rather than grow

    async def close(self) -> None:
        self._buckets.clear()


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
