from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dashboard_api.ratelimit import MemoryStore, RateLimitStore
from dashboard_api.ratelimit_redis import RedisStore
from tests.conftest import make_settings
from tests.support.server import free_port, serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app


@pytest.fixture
async def limited_http(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        rate_limit_key_per_minute=3,
        rate_limit_ip_per_minute=2,
        rate_limit_auth_per_minute=2,
        trusted_proxies="127.0.0.1",
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_key_limit_answers_429_with_retry_after(
    limited_http: httpx.AsyncClient, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    responses = [await limited_http.get("/v1/me", headers=tenant.secret_headers) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert responses[0].headers["RateLimit-Limit"] == "3"
    refused = responses[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["bucket"] == "key"
    # Another key of the same tenant has its own budget.
    other = await create_tenant(database_url)
    assert (await limited_http.get("/v1/me", headers=other.secret_headers)).status_code == 200


async def test_widget_visitors_are_limited_per_ip(
    limited_http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    def visitor(ip: str) -> dict[str, str]:
        return {**tenant.widget_headers, "X-Forwarded-For": ip}

    assert (await limited_http.get("/v1/me", headers=visitor("198.51.100.1"))).status_code == 200
    assert (await limited_http.get("/v1/me", headers=visitor("198.51.100.1"))).status_code == 200
    third = await limited_http.get("/v1/me", headers=visitor("198.51.100.1"))
    assert third.status_code == 429
    assert third.json()["bucket"] == "ip"
    # The key's own budget (3) still has room for another visitor.
    assert (await limited_http.get("/v1/me", headers=visitor("198.51.100.2"))).status_code == 200


async def test_login_attempts_are_limited_per_ip(limited_http: httpx.AsyncClient) -> None:
    body = {"email": "who@shop.example", "password": "guessing-1234"}
    codes = [(await limited_http.post("/v1/auth/login", json=body)).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


# --- the store contract, run against memory and a real Redis when one can be started -------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    if request.param == "memory":
        chosen: RateLimitStore = MemoryStore()
    else:
        chosen = RedisStore(request.getfixturevalue("redis_url"), prefix=f"t{free_port()}:")
    yield chosen
    await chosen.close()


async def test_store_counts_a_window(store: RateLimitStore) -> None:
    decisions = [await store.hit("key:a", 2, 60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert all(1 <= d.reset_s <= 60 for d in decisions)
    assert (await store.hit("key:b", 2, 60)).allowed


async def test_store_counts_concurrent_hits_exactly(store: RateLimitStore) -> None:
    decisions = await asyncio.gather(*(store.hit("key:c", 10, 60) for _ in range(25)))
    assert sum(d.allowed for d in decisions) == 10


async def test_replicas_share_limits_through_redis(
    redis_url: str, tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    settings = make_settings(
        tmp_path, database_url=database_url, redis_url=redis_url, rate_limit_key_per_minute=2
    )
    async with (
        serve_app(create_app(settings)) as one,
        serve_app(create_app(settings)) as two,
        httpx.AsyncClient() as http,
    ):
        codes = [
            (await http.get(f"{base}/v1/me", headers=tenant.secret_headers)).status_code
            for base in (one, two, one)
        ]
    assert codes == [200, 200, 429]


async def test_unreachable_redis_fails_open() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert (await store.hit("key:a", 1, 60)).allowed
    finally:
        await store.close()
