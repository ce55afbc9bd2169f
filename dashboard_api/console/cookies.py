"""The console's session cookie and CSRF tokens (pure: no I/O, the clock is injected).

The cookie names one row of ``auth_sessions`` (the same sessions the JSON API's access tokens
belong to), so signing out, a password change or removing the member ends console sessions too.
It is an HS256 token signed with a key derived from the server's token-signing secret, so a
console cookie is never accepted as a bearer token and an access token never as a cookie.

The CSRF token is bound to the session (HMAC of its id): it needs no storage, changes with each
sign-in, and a token taken from one session is worthless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from dashboard_api.tokens import AccessClaims, AccessTokens
from voice_server.errors import Unauthenticated

COOKIE_NAME = "parley_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"parley-console:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ConsoleCookies:
    """Issues and reads the session cookie; makes and checks CSRF tokens."""

    tokens: AccessTokens
    csrf_key: bytes

    @classmethod
    def from_secret(
        cls, secret: bytes, *, ttl_s: int, clock: Callable[[], float] = time.time
    ) -> ConsoleCookies:
        return cls(
            tokens=AccessTokens(_derive(secret, "cookie"), ttl_s=ttl_s, clock=clock),
            csrf_key=_derive(secret, "csrf"),
        )

    def issue(self, *, user_id: UUID, tenant_id: UUID, session_id: UUID) -> str:
        return self.tokens.issue(user_id=user_id, tenant_id=tenant_id, session_id=session_id).token

    def read(self, value: str) -> AccessClaims:
        """The cookie's claims; Unauthenticated when missing, expired or forged."""
        if not value:
            raise Unauthenticated("sign in to use the console")
        return self.tokens.verify(value)

    def csrf_token(self, session_id: UUID) -> str:
        return hmac.new(self.csrf_key, session_id.bytes, hashlib.sha256).hexdigest()

    def csrf_ok(self, session_id: UUID, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(self.csrf_token(session_id), presented)
