"""`RateLimit-*` headers on every package's routes, not only the dashboard's: chat, documents,
billing and voice requests pass through the same limiter, so their clients see the same budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys
from voice_server.app import create_app

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def assert_rate_limit_headers(response: httpx.Response, *, limit: int, remaining: int) -> None:
    assert all(name in response.headers for name in HEADERS), response.headers
    assert int(response.headers["RateLimit-Limit"]) == limit
    assert int(response.headers["RateLimit-Remaining"]) == remaining
    assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60


@pytest.fixture
async def limited_http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        rate_limit_key_per_minute=3,
        rate_limit_ip_per_minute=2,
        rate_limit_tenant_per_minute=100,
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_widget_chat_carries_rate_limit_headers(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await limited_http.post(
        f"/v1/bots/{tenant.bot_id}/chat",
        json={"message": "What are your opening hours?", "stream": False},
        headers=tenant.widget_headers,
    )
    assert response.status_code == 200, response.text
    # A widget visitor's tightest budget is their IP's (2 a minute here).
    assert_rate_limit_headers(response, limit=2, remaining=1)


async def test_documents_and_billing_with_a_secret_key_carry_rate_limit_headers(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    documents = await limited_http.get("/v1/documents", headers=tenant.secret_headers)
    assert documents.status_code == 200, documents.text
    assert_rate_limit_headers(documents, limit=3, remaining=2)
    billing = await limited_http.get("/v1/billing/usage", headers=tenant.secret_headers)
    assert billing.status_code == 200, billing.text
    assert_rate_limit_headers(billing, limit=3, remaining=1)


async def test_voice_rest_with_a_secret_key_carries_rate_limit_headers(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    spoken = await limited_http.post(
        "/v1/voice/speak", json={"text": "Hello."}, headers=tenant.secret_headers
    )
    assert spoken.status_code == 200, spoken.text
    assert_rate_limit_headers(spoken, limit=3, remaining=2)


async def test_refused_request_of_another_package_carries_retry_after_and_headers(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    for _ in range(3):
        ok = await limited_http.get("/v1/billing/usage", headers=tenant.secret_headers)
        assert ok.status_code == 200, ok.text
    refused = await limited_http.get("/v1/documents", headers=tenant.secret_headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert_rate_limit_headers(refused, limit=3, remaining=0)


async def test_refused_widget_chat_carries_retry_after_and_headers(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    async def ask() -> httpx.Response:
        return await limited_http.post(
            f"/v1/bots/{tenant.bot_id}/chat",
            json={"message": "Do you ship abroad?", "stream": False},
            headers=tenant.widget_headers,
        )

    assert [(await ask()).status_code for _ in range(2)] == [200, 200]
    refused = await ask()
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert_rate_limit_headers(refused, limit=2, remaining=0)
    assert refused.json()["bucket"] == "ip"
