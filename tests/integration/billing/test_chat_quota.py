"""The plan's message limit, enforced on the chat endpoints a visitor actually uses."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.problems import PROBLEM_MEDIA_TYPE

TINY_PLAN = """
[plans.tiny]
name = "Tiny"
price_cents = 0
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 3
voice_minutes_per_month = 1
concurrent_voice_sessions = 1
"""


async def test_messages_up_to_the_limit_then_402_and_nothing_stored(
    tmp_path: Path, database_url: str
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN)
    settings = make_settings(
        tmp_path, database_url=database_url, billing_plans_file=plans, billing_default_plan="tiny"
    )
    tenant = await create_tenant(database_url)
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    chat = f"/v1/bots/{tenant.bot_id}/chat"
    async with (
        serve_app(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        for n in range(3):
            answered = await http.post(
                chat, json={"message": f"Question {n}: when are you open?", "stream": False},
                headers=headers,
            )  # fmt: skip
            assert answered.status_code == 200, answered.text
        refused = await http.post(
            chat, json={"message": "One more question?", "stream": False}, headers=headers
        )
        assert refused.status_code == 402
        assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
        problem = refused.json()
        assert problem["type"].endswith("/quota-exceeded")
        assert (problem["plan"], problem["limit"], problem["used"]) == ("tiny", 3, 3)

        streamed = await http.post(chat, json={"message": "And over SSE?"}, headers=headers)
        assert streamed.status_code == 402

    conn = await asyncpg.connect(database_url)
    try:
        questions = await conn.fetch(
            "SELECT content FROM messages WHERE tenant_id = $1 AND role = 'user'", tenant.tenant_id
        )
        counted = await conn.fetchval(
            "SELECT sum(quantity) FROM usage_events WHERE tenant_id = $1 AND kind = 'message'",
            tenant.tenant_id,
        )
    finally:
        await conn.close()
    assert sorted(r["content"] for r in questions) == [
        f"Question {n}: when are you open?" for n in range(3)
    ]
    assert counted == 3


async def test_websocket_chat_gets_a_quota_error_event(tmp_path: Path, database_url: str) -> None:
    from websockets.asyncio.client import connect

    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN.replace("messages_per_month = 3", "messages_per_month = 0"))
    settings = make_settings(
        tmp_path, database_url=database_url, billing_plans_file=plans, billing_default_plan="tiny"
    )
    tenant = await create_tenant(database_url)
    async with serve_app(create_app(settings)) as url:
        ws_url = url.replace("http://", "ws://") + f"/v1/bots/{tenant.bot_id}/chat/ws"
        async with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {tenant.secret_key}"}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(json.dumps({"type": "message", "text": "Hello?"}))
            event = json.loads(await ws.recv())
    assert event["type"] == "error"
    assert event["status"] == 402
