from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dashboard_api.external_identity import ExternalTokens
from dashboard_api.services import external_tokens
from tests.conftest import make_settings
from tests.integration.dashboard.fake_jwks import (
    FakeIdentityProvider,
    SigningKey,
    serve_jwks,
    supabase_claims,
)
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.errors import Unauthenticated
from voice_server.settings import SettingsError

ISSUER = "https://project.supabase.example/auth/v1"
SECRET = "super-secret-jwt-token-with-at-least-32-characters"


def hs256_by_hand(claims: dict[str, object], secret: bytes, kid: str) -> str:
    """HS256 keyed with the provider's public key: the classic algorithm-confusion forgery
    (PyJWT refuses to build it, so it is assembled here)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = part(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def hs256_http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        external_jwt_issuer=ISSUER,
        external_jwt_secret=SECRET,
        signup="open",  # a hosted service whose identity provider signs people up
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_supabase_token_maps_to_one_user_with_its_own_tenant(
    hs256_http: httpx.AsyncClient,
) -> None:
    token = jwt.encode(supabase_claims(ISSUER, "alice"), SECRET, algorithm="HS256")
    first = await hs256_http.get("/v1/me", headers=bearer(token))
    assert first.status_code == 200, first.text
    assert first.json()["kind"] == "user"
    assert first.json()["role"] == "owner"
    again = await hs256_http.get("/v1/me", headers=bearer(token))
    assert again.json()["user_id"] == first.json()["user_id"]
    # The provisioned tenant is usable at once.
    bot = await hs256_http.post("/v1/bots", headers=bearer(token), json={"name": "Alice's bot"})
    assert bot.status_code == 201
    bob = jwt.encode(supabase_claims(ISSUER, "bob"), SECRET, algorithm="HS256")
    other = (await hs256_http.get("/v1/me", headers=bearer(bob))).json()
    assert other["tenant_id"] != first.json()["tenant_id"]


async def test_an_external_identity_provisions_nothing_unless_sign_up_is_open(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, external_jwt_issuer=ISSUER, external_jwt_secret=SECRET
    )  # PARLEY_SIGNUP's default: invite
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        alice = jwt.encode(supabase_claims(ISSUER, "alice"), SECRET, algorithm="HS256")
        assert (await http.get("/v1/me", headers=bearer(alice))).status_code == 200  # the first
        bob = jwt.encode(supabase_claims(ISSUER, "bob"), SECRET, algorithm="HS256")
        refused = await http.get("/v1/me", headers=bearer(bob))
        assert refused.status_code == 403
        assert refused.json()["code"] == "signup_closed"
        again = await http.get("/v1/me", headers=bearer(alice))  # alice keeps her account
        assert again.status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        supabase_claims(ISSUER, "alice", aud="someone-else"),
        supabase_claims(ISSUER, "alice", exp=int(time.time()) - 10),
        {k: v for k, v in supabase_claims(ISSUER, "alice").items() if k != "sub"},
        supabase_claims("https://evil.example/auth/v1", "alice"),
    ],
    ids=["wrong-audience", "expired", "no-subject", "other-issuer"],
)
async def test_bad_external_tokens_are_refused(
    hs256_http: httpx.AsyncClient, claims: dict[str, object]
) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert (await hs256_http.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_external_alg_none_and_wrong_secret_are_refused(
    hs256_http: httpx.AsyncClient,
) -> None:
    claims = supabase_claims(ISSUER, "mallory")
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    for token in (unsigned, forged):
        assert (await hs256_http.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_jwks_signed_tokens_are_accepted_and_rotated_keys_refetched(
    tmp_path: Path, database_url: str
) -> None:
    provider = FakeIdentityProvider()
    async with serve_jwks(provider) as jwks_url:
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            external_jwt_issuer=ISSUER,
            external_jwks_url=jwks_url,
        )
        async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
            token = provider.keys[0].sign(supabase_claims(ISSUER, "carol"))
            assert (await http.get("/v1/me", headers=bearer(token))).status_code == 200

            impostor = SigningKey(kid=provider.keys[0].kid)  # same kid, another private key
            forged = impostor.sign(supabase_claims(ISSUER, "carol"))
            assert (await http.get("/v1/me", headers=bearer(forged))).status_code == 401

            # HS256 signed with the public key as secret (algorithm confusion) is refused.
            public_pem = (
                provider.keys[0]
                .private.public_key()
                .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            )
            confused = hs256_by_hand(
                supabase_claims(ISSUER, "carol"), public_pem, kid=provider.keys[0].kid
            )
            assert (await http.get("/v1/me", headers=bearer(confused))).status_code == 401


async def test_rotated_provider_keys_are_fetched_on_first_sight() -> None:
    provider = FakeIdentityProvider()
    async with serve_jwks(provider) as jwks_url:
        tokens = ExternalTokens(
            issuer=ISSUER,
            audience="authenticated",
            jwks_url=jwks_url,
            jwks_refresh_cooldown_s=0,
        )
        first = await tokens.verify(provider.keys[0].sign(supabase_claims(ISSUER, "dave")))
        assert first.subject == "dave"
        assert first.email == "dave@team.example"
        provider.keys.append(SigningKey())
        rotated = await tokens.verify(provider.keys[1].sign(supabase_claims(ISSUER, "dave")))
        assert rotated.subject == "dave"
        assert provider.requests == 2
        with pytest.raises(Unauthenticated):
            await tokens.verify(SigningKey().sign(supabase_claims(ISSUER, "dave")))


def test_an_external_secret_without_an_issuer_stops_start_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, external_jwt_secret=SECRET)
    with pytest.raises(SettingsError, match="PARLEY_EXTERNAL_JWT_ISSUER"):
        external_tokens(settings)
