from __future__ import annotations

import base64
import json
import uuid

import jwt
import pytest

from dashboard_api.tokens import AUDIENCE, ISSUER, AccessTokens
from voice_server.errors import Unauthenticated

SECRET = b"s" * 48


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _ids() -> dict[str, uuid.UUID]:
    return {"user_id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "session_id": uuid.uuid4()}


def test_issued_token_verifies_to_its_claims() -> None:
    tokens = AccessTokens(SECRET, ttl_s=600)
    ids = _ids()
    issued = tokens.issue(**ids)
    claims = tokens.verify(issued.token)
    assert (claims.user_id, claims.tenant_id, claims.session_id) == (
        ids["user_id"],
        ids["tenant_id"],
        ids["session_id"],
    )
    assert issued.expires_in == 600


def test_expired_token_is_refused() -> None:
    clock = Clock()
    tokens = AccessTokens(SECRET, ttl_s=60, clock=clock)
    issued = tokens.issue(**_ids())
    clock.now += 61
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(issued.token)


def test_token_expired_by_the_real_clock_is_refused() -> None:
    clock = Clock(now=1_000_000_000.0)  # year 2001: long expired for the real clock
    issued = AccessTokens(SECRET, ttl_s=60, clock=clock).issue(**_ids())
    with pytest.raises(Unauthenticated, match="expired"):
        AccessTokens(SECRET).verify(issued.token)


def test_tampered_payload_is_refused() -> None:
    tokens = AccessTokens(SECRET)
    header, payload, signature = tokens.issue(**_ids()).token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tid"] = str(uuid.uuid4())  # try to enter another tenant
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_token_signed_with_another_secret_is_refused() -> None:
    issued = AccessTokens(b"x" * 48).issue(**_ids())
    with pytest.raises(Unauthenticated):
        AccessTokens(SECRET).verify(issued.token)


def _claims(**overrides: object) -> dict[str, object]:
    now = 1_800_000_000
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "tid": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def test_wrong_audience_or_issuer_is_refused() -> None:
    tokens = AccessTokens(SECRET, clock=Clock())
    for claims in (_claims(aud="someone-else"), _claims(iss="https://evil.example")):
        with pytest.raises(Unauthenticated):
            tokens.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_alg_none_is_refused() -> None:
    tokens = AccessTokens(SECRET, clock=Clock())
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        tokens.verify(unsigned)


def test_missing_session_claim_is_refused() -> None:
    tokens = AccessTokens(SECRET, clock=Clock())
    claims = _claims()
    del claims["sid"]
    with pytest.raises(Unauthenticated):
        tokens.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "psk_nope"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        AccessTokens(SECRET).verify(garbage)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AccessTokens(b"short")


def test_a_token_issued_in_the_future_is_refused() -> None:
    clock = Clock()
    tokens = AccessTokens(SECRET, ttl_s=900, leeway_s=30, clock=clock)
    now = int(clock.now)
    skewed = jwt.encode(_claims(iat=now + 20, exp=now + 900), SECRET, algorithm="HS256")
    assert tokens.verify(skewed).expires_at == now + 900  # within the leeway: a skewed clock
    future = jwt.encode(_claims(iat=now + 3600, exp=now + 3600 + 600), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.verify(future)


def test_a_token_living_longer_than_the_configured_lifetime_is_refused() -> None:
    clock = Clock()
    tokens = AccessTokens(SECRET, ttl_s=900, clock=clock)
    now = int(clock.now)
    fits = jwt.encode(_claims(iat=now - 10, exp=now - 10 + 900), SECRET, algorithm="HS256")
    assert tokens.verify(fits).expires_at == now + 890
    year = jwt.encode(_claims(iat=now - 10, exp=now + 365 * 86400), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.verify(year)
    for bad_iat in ("yesterday", True, None):
        odd = jwt.encode(_claims(iat=bad_iat, exp=now + 60), SECRET, algorithm="HS256")
        with pytest.raises(Unauthenticated):
            tokens.verify(odd)
