"""Nested and huge JSON on every route that takes a body, found by walking the app's OpenAPI
document, so a route added later is covered without editing this file.

What must hold: no 5xx, every refusal is a problem document, and the routes of the report
(sign-up, bot creation, chat) answer a deep body with a 400 - the kernel's request class checks
nesting before any decoder recurses (voice_server/middleware.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from billing.plans import load_plans
from billing.setup import setup_stripe
from billing.stripe_client import open_stripe
from tests.abuse.conftest import AbuseReport
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DEPTH = 50_000
BODIES: dict[str, bytes] = {
    "arrays 50,000 deep": b"[" * DEPTH + b"]" * DEPTH,
    "objects 50,000 deep": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "deep inside a valid field": b'{"name": "x", "config": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    "just past the limit": b'{"a":' * 65 + b"1" + b"}" * 65,
    "11 MB flat array": b"[" + b"1," * 5_500_000 + b"1]",
}
REPORTED = {("POST", "/v1/auth/signup"), ("POST", "/v1/bots"), ("POST", "/v1/bots/{bot_id}/chat")}
BODY_METHODS = {"post", "put", "patch"}


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe.running() as fake:
        yield fake


@pytest.fixture
async def settings(tmp_path: Path, database_url: str, fake_stripe: FakeStripe) -> Settings:
    """Deployed with Stripe (the fake), so the webhook route reads its body instead of answering
    503 "billing not configured"; no rate limits, which would answer 429 before any body is
    read."""
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        rate_limit_key_per_minute=0,
        rate_limit_ip_per_minute=0,
        rate_limit_tenant_per_minute=0,
        rate_limit_auth_per_minute=0,
        stripe_secret_key=fake_stripe.api_key,
        stripe_api_base=fake_stripe.url,
        stripe_webhook_secret="whsec_abuse",
        stripe_max_network_retries=0,
    )
    async with open_stripe(settings) as client:
        await setup_stripe(client, load_plans())
    return settings


def body_routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in BODY_METHODS
    )


def concrete(path: str, owner: TenantKeys) -> str:
    def value(match: re.Match[str]) -> str:
        return str(owner.bot_id) if match.group(1) == "bot_id" else str(uuid.uuid4())

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def test_deep_and_huge_json_never_reach_a_5xx(
    http: httpx.AsyncClient, database_url: str, abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    openapi = (await http.get("/schema/openapi.json")).json()
    routes = body_routes(openapi)
    assert len(routes) >= 20, routes  # the walk found the API, not an empty document
    assert set(routes) >= REPORTED
    failures: list[str] = []
    for method, path in routes:
        url = concrete(path, owner)
        for name, body in BODIES.items():
            response = await http.request(
                method,
                url,
                content=body,
                headers={**owner.user_headers, "Content-Type": "application/json"},
                timeout=60,
            )
            what = f"{method} {path} ({name})"
            abuse_report.check(response.status_code, what)
            status = response.status_code
            if status >= 500:
                failures.append(f"{status} {what}: {response.text[:200]}")
            elif status >= 400 and not response.headers["content-type"].startswith(
                "application/problem+json"
            ):
                failures.append(f"{status} {what} is not problem JSON")
            if (method, path) in REPORTED and "deep" in name and status != 400:
                failures.append(f"{status} {what}: expected 400")
    assert failures == []


async def test_deep_body_is_a_problem_document_naming_the_limit(
    http: httpx.AsyncClient, abuse_report: AbuseReport
) -> None:
    response = await http.post(
        "/v1/auth/signup",
        content=BODIES["arrays 50,000 deep"],
        headers={"Content-Type": "text/plain"},  # the type does not matter to the decoder
    )
    abuse_report.check(response.status_code, "POST /v1/auth/signup text/plain")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("/invalid-input")
    assert problem["max_depth"] == 64
    assert "64 levels" in problem["detail"]


async def test_json_at_ordinary_depth_still_works(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/auth/signup",
        json={"email": "deep@example.com", "password": "a long enough password", "name": "D"},
    )
    assert response.status_code < 500
    assert "max_depth" not in response.text
