"""User access tokens: short-lived HS256 JWTs naming the user, tenant and session (pure)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import jwt

from voice_server.errors import Unauthenticated

ISSUER = "parley"
AUDIENCE = "parley-api"
ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tid", "sid"]
_EXPIRED = "the access token has expired; refresh it or log in again"


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    tenant_id: UUID
    session_id: UUID
    expires_at: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class AccessTokens:
    def __init__(
        self,
        secret: bytes,
        *,
        ttl_s: int = 900,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the token signing secret must be at least 32 bytes")
        self._secret = secret
        self._ttl_s = ttl_s
        self._leeway_s = leeway_s
        self._clock = clock

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    def issue(self, *, user_id: UUID, tenant_id: UUID, session_id: UUID) -> IssuedToken:
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "sid": str(session_id),
            "iat": now,
            "exp": now + self._ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self._ttl_s)

    def verify(self, token: str) -> AccessClaims:
        """The token's claims; Unauthenticated when it is expired, tampered or not ours."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # never taken from the token: no "none", no confusion
                audience=AUDIENCE,
                issuer=ISSUER,
                # Times are checked below against our (injectable) clock, not PyJWT's.
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is not valid") from None
        expires_at, issued_at = claims["exp"], claims["iat"]
        if not all(_is_time(v) for v in (expires_at, issued_at)):
            raise Unauthenticated("the access token is not valid")
        now = self._clock()
        if expires_at <= now:
            raise Unauthenticated(_EXPIRED)
        # A token we did not issue as we issue them: from the future (a forged or skewed
        # clock), or living longer than the lifetime we give (a leaked signing secret at work).
        if issued_at > now + self._leeway_s or expires_at - issued_at > self._ttl_s:
            raise Unauthenticated("the access token is not valid")
        try:
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tid"]),
                session_id=UUID(claims["sid"]),
                expires_at=int(claims["exp"]),
            )
        except (ValueError, TypeError):
            raise Unauthenticated("the access token is not valid") from None


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
