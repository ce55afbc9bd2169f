"""The chat WebSocket speaks the voice socket's error event and close-code table."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from websockets.asyncio.client import connect

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app

DEEP = "[" * 50_000 + "]" * 50_000


async def test_bad_json_is_a_non_fatal_error_and_an_unknown_bot_closes_4404(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    async with serve_app(create_app(make_settings(tmp_path, database_url=database_url))) as url:
        base = url.replace("http://", "ws://")
        async with connect(
            f"{base}/v1/bots/{tenant.bot_id}/chat/ws", additional_headers=auth
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            for frame in (DEEP, "{nope"):
                await ws.send(frame)
                error = json.loads(await ws.recv())
                assert (error["type"], error["code"], error["fatal"]) == (
                    "error",
                    "invalid_json",
                    False,
                )
            await ws.send(json.dumps({"type": "hello"}))  # the socket is still there
            error = json.loads(await ws.recv())
            assert (error["code"], error["status"], error["fatal"]) == ("invalid_input", 400, False)
            assert error["message"] == error["detail"]
        async with connect(f"{base}/v1/bots/{uuid.uuid4()}/chat/ws", additional_headers=auth) as ws:
            error = json.loads(await ws.recv())
            assert (error["code"], error["fatal"], error["status"]) == ("not_found", True, 404)
            await ws.wait_closed()
            assert ws.close_code == 4404
