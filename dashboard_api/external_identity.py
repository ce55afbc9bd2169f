"""JWTs from an external identity provider (Supabase Auth-compatible), verified and mapped to
Parley users: an HS256 shared secret or a JWKS URL; issuer and audience always checked.

The first token of an unknown identity provisions a tenant with that person as its owner (as a
sign-up would); later tokens find the user by (issuer, subject).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import jwt

from voice_server.errors import Unauthenticated

_ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
_BAD = "the external access token is not valid"


@dataclass(frozen=True)
class ExternalClaims:
    issuer: str
    subject: str
    email: str | None
    name: str | None


def unverified_issuer(token: str) -> str | None:
    """For routing only (which verifier to use); nothing is trusted before verification."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


class ExternalTokens:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        hs256_secret: bytes | None = None,
        jwks_url: str | None = None,
        jwks_refresh_cooldown_s: float = 30.0,
    ) -> None:
        if hs256_secret is None and jwks_url is None:
            raise ValueError("an external issuer needs a shared secret or a JWKS URL")
        self.issuer = issuer
        self._audience = audience
        self._secret = hs256_secret
        # PyJWKClient caches the key set and refetches on an unknown kid (key rotation), at
        # most once per cooldown so that made-up kids cannot make us hammer the provider.
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=300,
                timeout=5,
                cooldown_duration=jwks_refresh_cooldown_s,
            )
            if jwks_url
            else None
        )

    async def verify(self, token: str) -> ExternalClaims:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm == "HS256" and self._secret is not None:
                key: object = self._secret
            elif algorithm in _ASYMMETRIC and self._jwks is not None:
                # urllib under the hood: keep the fetch off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key = signing_key.key
            else:
                raise Unauthenticated(_BAD)
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the external access token has expired") from None
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            raise Unauthenticated(_BAD) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated(_BAD)
        email = claims.get("email")
        metadata = claims.get("user_metadata") or {}
        name = (
            metadata.get("full_name") or metadata.get("name")
            if isinstance(metadata, dict)
            else None
        )
        return ExternalClaims(
            issuer=self.issuer,
            subject=subject,
            email=email.lower() if isinstance(email, str) and "@" in email else None,
            name=name if isinstance(name, str) else None,
        )
