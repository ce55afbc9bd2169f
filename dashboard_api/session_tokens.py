"""Voice session tokens: a browser trades its publishable key for one, then opens one session.

A token is ``pvt_`` + 256 random bits; only its SHA-256 is stored (PostgreSQL, so every
replica sees it). It is bound to a bot, its tenant, the issuing request's ``Origin`` and an
expiry, and is spent by the handshake in one UPDATE, so a copied token cannot open a second
session anywhere. Times come from an injectable clock, so tests expire tokens without sleeping.

Per-visitor caps live here too: sessions open at once (counted by this server, released when
the connection ends) and voice seconds per hour (summed from the tokens' used and ended times).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from dashboard_api.repositories import session_tokens
from dashboard_api.repositories.session_tokens import SpentToken
from voice_server.db.types import Connection
from voice_server.errors import Forbidden, QuotaExceeded, RateLimited, Unauthenticated

TOKEN_PREFIX = "pvt_"
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 100
_UNUSABLE = "this session token is unknown, expired or already used; get a new one"
UNAVAILABLE = "this assistant is unavailable right now; please try again later"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class IssuedVoiceToken:
    token: str
    bot_id: UUID
    expires_in: int
    expires_at: datetime


class VoiceTokens:
    def __init__(self, ttl_s: int = 60, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def issue(
        self,
        conn: Connection,
        *,
        tenant_id: UUID,
        bot_id: UUID,
        key_id: UUID | None,
        origin: str | None,
        visitor: str,
        widget: bool,
        transport: str = "websocket",
    ) -> IssuedVoiceToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
        now = self.now()
        expires_at = now + timedelta(seconds=self.ttl_s)
        await session_tokens.purge(conn, now)
        await session_tokens.create(
            conn,
            token_hash=hash_token(token),
            tenant_id=tenant_id,
            bot_id=bot_id,
            key_id=key_id,
            origin=origin,
            visitor=visitor,
            widget=widget,
            transport=transport,
            issued_at=now,
            expires_at=expires_at,
        )
        return IssuedVoiceToken(token, bot_id, self.ttl_s, expires_at)

    async def spend(self, conn: Connection, token: str, origin: str | None) -> SpentToken:
        """The token's grant, spent. Unauthenticated when it cannot be used; Forbidden when it
        is presented from another Origin than it was issued for (it is spent all the same: a
        token seen on a foreign page is a stolen one)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
            raise Unauthenticated(_UNUSABLE)
        spent = await session_tokens.spend(conn, hash_token(token), self.now())
        if spent is None:
            raise Unauthenticated(_UNUSABLE)
        if spent.origin != (origin or None):
            raise Forbidden("this session token was issued for another origin")
        return spent

    async def ended(self, conn: Connection, tenant_id: UUID, token: str) -> None:
        await session_tokens.end(conn, tenant_id, hash_token(token), self.now())

    async def check_voice_allowance(
        self, conn: Connection, tenant_id: UUID, bot_id: UUID, visitor: str, cap_s: int
    ) -> None:
        """QuotaExceeded when the visitor spent its hour of voice on this bot (visitors see it
        as a plain "unavailable", with no figures: voice_server.problems)."""
        if cap_s <= 0:
            return
        used = await session_tokens.visitor_voice_seconds(
            conn, tenant_id, bot_id, visitor, self.now()
        )
        if used >= cap_s:
            raise QuotaExceeded(UNAVAILABLE, limit_name="visitor_voice_seconds_per_hour")


@dataclass
class VisitorLease:
    """One open session of a visitor; released (once) when the connection ends."""

    owner: VisitorSessions
    slot: tuple[UUID, str]
    tenant_id: UUID
    token: str | None = None
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.owner._release(self.slot)


class VisitorSessions:
    """Sessions each visitor has open per bot on this server, capped. In memory on purpose:
    a crash frees every slot with the process instead of leaving stale rows behind."""

    def __init__(self, limit: int, max_visitors: int = 100_000) -> None:
        self.limit = limit
        self._max_visitors = max_visitors
        self._open: dict[tuple[UUID, str], int] = {}

    def open_count(self, bot_id: UUID, visitor: str) -> int:
        return self._open.get((bot_id, visitor), 0)

    def check(self, bot_id: UUID, visitor: str) -> None:
        if self.limit > 0 and self.open_count(bot_id, visitor) >= self.limit:
            raise RateLimited(
                f"this visitor already has {self.limit} voice sessions open; end one first",
                retry_after_s=30,
                limit=self.limit,
                bucket="visitor_sessions",
            )
        if len(self._open) >= self._max_visitors and (bot_id, visitor) not in self._open:
            raise RateLimited("too many callers right now; retry shortly", retry_after_s=30)

    def acquire(
        self, tenant_id: UUID, bot_id: UUID, visitor: str, token: str | None = None
    ) -> VisitorLease:
        self.check(bot_id, visitor)
        slot = (bot_id, visitor)
        self._open[slot] = self._open.get(slot, 0) + 1
        return VisitorLease(self, slot, tenant_id, token)

    def _release(self, slot: tuple[UUID, str]) -> None:
        count = self._open.get(slot, 0) - 1
        if count > 0:
            self._open[slot] = count
        else:
            self._open.pop(slot, None)
