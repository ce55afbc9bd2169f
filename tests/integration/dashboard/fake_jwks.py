"""A local stand-in for an identity provider's JWKS endpoint (Supabase: /auth/v1/.well-known/
jwks.json), serving the public half of keys the test signs with."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, get

from tests.support.server import serve_app

JWKS_PATH = "/auth/v1/.well-known/jwks.json"


@dataclass
class SigningKey:
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


@dataclass
class FakeIdentityProvider:
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey()])
    requests: int = 0


def supabase_claims(issuer: str, subject: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": "authenticated",
        "sub": subject,
        "email": f"{subject}@team.example",
        "role": "authenticated",
        "iat": now,
        "exp": now + 600,
        **extra,
    }


@asynccontextmanager
async def serve_jwks(provider: FakeIdentityProvider) -> AsyncIterator[str]:
    @get(JWKS_PATH, sync_to_thread=False)
    def jwks() -> dict[str, Any]:
        provider.requests += 1
        return {"keys": [key.jwk() for key in provider.keys]}

    async with serve_app(Litestar(route_handlers=[jwks])) as url:
        yield url + JWKS_PATH
