"""Helpers of the abuse tests on voice doors: a whole server whose token clock the test owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dashboard_api.services import DASHBOARD, DashboardServices
from dashboard_api.session_tokens import VoiceTokens
from tests.conftest import make_settings
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.runtime import runtime_of


def assert_limited(statuses: list[int], *, limit: int, passed: int) -> None:
    """The first ``limit`` pass, the rest are 429 - but for the fixed window that may turn over
    once during the test, letting at most ``limit`` more through."""
    assert statuses[:limit] == [passed] * limit
    assert set(statuses) == {passed, 429}
    assert statuses.count(passed) <= 2 * limit


class FakeClock:
    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class DoorServer:
    url: str
    http: httpx.AsyncClient
    clock: FakeClock
    services: DashboardServices

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/voice/ws"

    async def token(self, bot_id: object, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(f"/v1/bots/{bot_id}/sessions", headers=headers)


@asynccontextmanager
async def door_server(
    tmp_path: Path, database_url: str, **settings: Any
) -> AsyncIterator[DoorServer]:
    """The whole app on a real port; session tokens are timed by a clock the test advances."""
    app = create_app(make_settings(tmp_path, database_url=database_url, **settings))
    clock = FakeClock()
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        services: DashboardServices = runtime_of(app).get(DASHBOARD)
        services.voice_tokens = VoiceTokens(services.voice_tokens.ttl_s, clock=clock)
        yield DoorServer(url, http, clock, services)
