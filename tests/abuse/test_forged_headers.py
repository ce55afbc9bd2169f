"""Forged forwarded headers: a client on 127.0.0.1 that rotates X-Forwarded-For (or Forwarded,
X-Real-IP) is still one visitor to every per-IP limit, under the uvicorn configuration that
`parley serve` uses. Only PARLEY_TRUSTED_PROXIES makes the header count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.abuse.conftest import AbuseReport
from tests.abuse.voice_doors import assert_limited
from tests.conftest import make_settings
from tests.support.server import free_port
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.server import uvicorn_config


@asynccontextmanager
async def parley_uvicorn(tmp_path: Path, database_url: str, **values: Any) -> AsyncIterator[str]:
    """The app under exactly the uvicorn configuration of `parley serve`, on a free port."""
    settings = make_settings(
        tmp_path, database_url=database_url, host="127.0.0.1", port=free_port(), **values
    )
    server = uvicorn.Server(uvicorn_config(settings, create_app(settings)))
    server.capture_signals = _no_signals  # type: ignore[method-assign]  # pytest owns signals
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def _no_signals() -> Iterator[None]:
    yield


def _forged(n: int) -> dict[str, str]:
    address = f"203.0.113.{n % 250 + 1}"
    return {
        "X-Forwarded-For": address,
        "Forwarded": f"for={address}",
        "X-Real-IP": address,
    }


async def test_rotating_forwarded_headers_do_not_escape_the_login_limit(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    async with (
        parley_uvicorn(tmp_path, database_url, rate_limit_auth_per_minute=5) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as http,
    ):
        statuses = []
        for n in range(16):
            response = await http.post(
                "/v1/auth/login",
                json={"email": f"nobody{n}@example.com", "password": "wrong password"},
                headers=_forged(n),
            )
            abuse_report.check(response.status_code, "POST /v1/auth/login forged XFF")
            statuses.append(response.status_code)
    assert_limited(statuses, limit=5, passed=401)


async def test_rotating_forwarded_headers_do_not_escape_the_widget_limits(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with (
        parley_uvicorn(
            tmp_path, database_url, rate_limit_ip_per_minute=4, voice_starts_ip_per_minute=100
        ) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as http,
    ):
        statuses = []
        for n in range(14):
            response = await http.post(
                f"/v1/bots/{tenant.bot_id}/sessions",
                headers={**tenant.widget_headers, **_forged(n)},
            )
            abuse_report.check(response.status_code, "POST /v1/bots/{id}/sessions forged XFF")
            statuses.append(response.status_code)
    assert_limited(statuses, limit=4, passed=201)


async def test_a_trusted_proxy_setting_is_what_makes_the_header_count(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    async with (
        parley_uvicorn(
            tmp_path, database_url, rate_limit_auth_per_minute=2, trusted_proxies="127.0.0.1"
        ) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as http,
    ):
        statuses = []
        for n in range(6):
            response = await http.post(
                "/v1/auth/login",
                json={"email": "nobody@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            abuse_report.check(response.status_code, "POST /v1/auth/login trusted XFF")
            statuses.append(response.status_code)
    # Behind a trusted proxy each forwarded address is its own visitor.
    assert statuses == [401] * 6
