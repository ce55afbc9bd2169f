from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.principal import Principal
from voice_server.settings import Settings


@pytest.fixture
async def tenant(database_url: str) -> TenantKeys:
    return await create_tenant(database_url, name="Acme")


@pytest.fixture
async def other_tenant(database_url: str) -> TenantKeys:
    return await create_tenant(database_url, name="Globex", origin="https://globex.example")


@websocket("/test/ws/principal")
async def principal_socket(socket: WebSocket, principal: NamedDependency[Principal]) -> None:
    """A stand-in for the voice and chat sockets: it only reports who connected."""
    await socket.accept()
    await socket.send_json(
        {
            "tenant_id": str(principal.tenant_id),
            "kind": principal.kind,
            "bot_id": str(principal.bot_id) if principal.bot_id else None,
        }
    )
    await socket.close()


@pytest.fixture
async def ws_server_url(settings: Settings) -> AsyncIterator[str]:
    """The whole app plus one WebSocket route that depends on ``principal``."""
    app = create_app(settings)
    app.register(principal_socket)
    async with serve_app(app) as url:
        yield url


@pytest.fixture
async def ws_http(ws_server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ws_server_url, timeout=10) as client:
        yield client
