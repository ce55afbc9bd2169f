"""Credentials on the voice WebSocket handshake, checked by the accounts package's principal."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import make_settings
from tests.integration.voice.harness import voice_client
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app


async def test_a_widget_gets_a_session_token_and_opens_its_bot(
    server_url: str, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    async with httpx.AsyncClient(base_url=server_url) as http:
        issued = await http.post(
            f"/v1/bots/{tenant.bot_id}/sessions", headers=tenant.widget_headers
        )
    assert issued.status_code == 201
    url = server_url.replace("http://", "ws://") + issued.json()["ws_path"]
    async with voice_client(url, Origin=tenant.origin) as client:
        started = await client.start(tenant.bot_id)
        assert started["type"] == "session.started"


async def test_a_widget_key_on_the_socket_is_closed_with_4401(
    server_url: str, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    url = server_url.replace("http://", "ws://") + f"/v1/voice/ws?key={tenant.publishable_key}"
    async with voice_client(url, Origin=tenant.origin) as client:
        await client.closed.wait()
        assert client.ws.close_code == 4401
        assert client.events("error")[0]["code"] == "unauthenticated"


async def test_a_bad_key_is_closed_with_4401(server_url: str) -> None:
    url = server_url.replace("http://", "ws://") + "/v1/voice/ws?key=ppk_nope_nope"
    async with voice_client(url, Origin="https://shop.example") as client:
        await client.closed.wait()
        assert client.ws.close_code == 4401
        assert client.events("error")[0]["code"] == "unauthenticated"


async def test_a_key_cannot_open_another_tenants_bot(server_url: str, database_url: str) -> None:
    mine = await create_tenant(database_url)
    theirs = await create_tenant(database_url, name="Other")
    url = server_url.replace("http://", "ws://") + "/v1/voice/ws"
    async with voice_client(url, Authorization=f"Bearer {mine.secret_key}") as client:
        start = {"type": "session.start", "bot_id": str(theirs.bot_id), "sample_rate": 16000}
        await client.ws.send(json.dumps(start))
        error = await client.wait_for("error")
        assert error["code"] == "bot_not_found"
        await client.start(mine.bot_id)
    conn = await asyncpg.connect(database_url)
    try:
        owners = await conn.fetch("SELECT tenant_id FROM voice_sessions")
        assert [r["tenant_id"] for r in owners] == [mine.tenant_id]
    finally:
        await conn.close()


async def test_a_server_over_its_session_start_limit_is_told_when_to_come_back(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, voice_starts_key_per_minute=2)
    tenant = await create_tenant(database_url)
    async with serve_app(create_app(settings)) as server_url:
        url = server_url.replace("http://", "ws://") + "/v1/voice/ws"
        for _ in range(2):
            async with voice_client(url, **tenant.secret_headers) as client:
                await client.start(tenant.bot_id)
        async with voice_client(url, **tenant.secret_headers) as client:
            await client.closed.wait()
            assert client.ws.close_code == 1013  # try again later
            error = client.events("error")[0]
            assert error["code"] == "rate_limited"
            assert error["retry_after_s"] >= 1
