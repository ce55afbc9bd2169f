from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from tests.integration.dashboard import seed
from tests.support.tenants import TenantKeys


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_list_filters_and_searches(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    text = await seed.conversation(
        conn, tenant.tenant_id, tenant.bot_id, [("Do you ship to Norway?", "Yes.")]
    )
    voice = await seed.conversation(
        conn,
        tenant.tenant_id,
        tenant.bot_id,
        [("What are your opening hours?", "Nine to five.")],
        channel="voice",
        started_at=seed.T0 + timedelta(days=1),
    )
    h = tenant.user_headers
    everything = (await http.get("/v1/conversations", headers=h)).json()["items"]
    assert [c["id"] for c in everything] == [str(voice.conversation_id), str(text.conversation_id)]
    assert everything[0]["message_count"] == 2

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    voice_only = await http.get("/v1/conversations", headers=h, params={"channel": "voice"})
    assert ids(voice_only) == [str(voice.conversation_id)]
    norway = await http.get("/v1/conversations", headers=h, params={"q": "norway"})
    assert ids(norway) == [str(text.conversation_id)]
    early = await http.get(
        "/v1/conversations",
        headers=h,
        params={"until": (seed.T0 + timedelta(hours=1)).isoformat()},
    )
    assert ids(early) == [str(text.conversation_id)]
    paged = (await http.get("/v1/conversations", headers=h, params={"limit": 1})).json()
    second = await http.get(
        "/v1/conversations", headers=h, params={"limit": 1, "cursor": paged["next_cursor"]}
    )
    assert ids(second) == [str(text.conversation_id)]
    assert second.json()["next_cursor"] is None


async def test_transcript_carries_the_latency_waterfall(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    voice = await seed.conversation(
        conn,
        tenant.tenant_id,
        tenant.bot_id,
        [("Hello?", "Hi there."), ("Open on Sunday?", "No.")],
        channel="voice",
    )
    response = await http.get(
        f"/v1/conversations/{voice.conversation_id}", headers=tenant.user_headers
    )
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["latency"] is None
    assert messages[1]["latency"]["stt_final_ms"] == 100.0
    assert messages[3]["latency"]["total_ms"] == 1200.0


async def test_delete_and_export(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    kept = await seed.conversation(conn, tenant.tenant_id, tenant.bot_id, [("A?", "a")])
    gone = await seed.conversation(conn, tenant.tenant_id, tenant.bot_id, [("B?", "b")])
    h = tenant.user_headers
    assert (
        await http.delete(f"/v1/conversations/{gone.conversation_id}", headers=h)
    ).status_code == 204
    assert (
        await http.get(f"/v1/conversations/{gone.conversation_id}", headers=h)
    ).status_code == 404
    assert (
        await http.delete(f"/v1/conversations/{gone.conversation_id}", headers=h)
    ).status_code == 404

    export = await http.get("/v1/conversations/export", headers=h)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["id"] for line in lines] == [str(kept.conversation_id)]
    assert [m["content"] for m in lines[0]["messages"]] == ["A?", "a"]


async def test_export_streams_more_than_one_batch(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    await conn.execute(
        """INSERT INTO conversations (tenant_id, bot_id, channel, started_at)
           SELECT $1, $2, 'text', now() - n * interval '1 second'
           FROM generate_series(1, 450) n""",
        tenant.tenant_id,
        tenant.bot_id,
    )
    export = await http.get("/v1/conversations/export", headers=tenant.secret_headers)
    ids = [json.loads(line)["id"] for line in export.text.splitlines()]
    assert len(ids) == len(set(ids)) == 450


async def test_widget_keys_cannot_read_conversations(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    assert (await http.get("/v1/conversations", headers=tenant.widget_headers)).status_code == 403
