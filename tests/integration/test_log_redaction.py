"""No credential reaches the log, uvicorn's own WebSocket lines included (they carry the query
string, where widget keys and session tokens travel)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.tenants import create_tenant
from voice_server.logs import configure_logging


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", json_lines=True, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_keys_and_tokens_in_a_websocket_url_are_redacted(
    log_output: io.StringIO, server_url: str, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    base = server_url.replace("http://", "ws://") + "/v1/voice/ws"
    leaked = [tenant.secret_key, tenant.publishable_key, "pvt_" + "t" * 43, tenant.access_token]
    for query in (
        f"?key={tenant.secret_key}",
        f"?key={tenant.publishable_key}",
        f"?token={leaked[2]}",
        f"?access_token={tenant.access_token}",
    ):
        async with connect(base + query, additional_headers={"Origin": tenant.origin}) as ws:
            try:
                await ws.recv()
                await ws.recv()
            except ConnectionClosed:
                pass
    output = log_output.getvalue()
    messages = [json.loads(line)["msg"] for line in output.splitlines()]
    assert any(m.endswith('"WebSocket /v1/voice/ws?key=[redacted]" [accepted]') for m in messages)
    assert any("?token=[redacted]" in m for m in messages)
    for secret in leaked:
        assert secret not in output
        assert secret.split("_")[-1] not in output
