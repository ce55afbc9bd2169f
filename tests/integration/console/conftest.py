"""A signed-in console browser session over real HTTP (httpx keeps the cookies), against the
whole app on a real port."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.settings import Settings

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    http: httpx.AsyncClient
    email: str
    csrf: str = ""

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        response = await self.http.get(path, **kwargs)  # type: ignore[arg-type]
        if 'name="csrf_token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.csrf, **(data or {})})


async def sign_up(http: httpx.AsyncClient, organisation: str = "Acme") -> Console:
    form = await http.get("/console/sign-up")
    assert form.status_code == 200
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    response = await http.post(
        "/console/sign-up",
        data={
            "csrf_token": csrf_of(form.text),
            "tenant_name": organisation,
            "email": email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/bots"
    console = Console(http=http, email=email)
    await console.get("/console/bots")
    return console


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Sign-up open: these tests create several organisations through the console."""
    return make_settings(tmp_path, database_url=database_url, signup="open")


@pytest.fixture
async def console_url(settings: Settings) -> AsyncIterator[str]:
    async with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture
async def console(console_url: str) -> AsyncIterator[Console]:
    async with httpx.AsyncClient(base_url=console_url, timeout=20) as http:
        yield await sign_up(http)
