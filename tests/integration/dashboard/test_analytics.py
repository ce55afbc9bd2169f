from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from tests.integration.dashboard import seed
from tests.support.tenants import TenantKeys

RANGE = {
    "since": (seed.T0 - timedelta(days=1)).isoformat(),
    "until": (seed.T0 + timedelta(days=1)).isoformat(),
}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_analytics_over_a_range(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    t, b = tenant.tenant_id, tenant.bot_id
    await seed.conversation(conn, t, b, [("Opening hours?", "9-5"), ("Refunds?", "30 days")])
    await seed.conversation(conn, t, b, [("opening hours", "9-5")], visitor="visitor-2")
    await seed.conversation(
        conn, t, b, [("Do you sell boats?", "I don't know.")], cited=False, visitor="visitor-2"
    )
    await seed.conversation(
        conn, t, b, [("Warp drive?", "No idea.")], answered=False, visitor="visitor-3"
    )
    for ms in (100.0, 200.0, 300.0, 400.0):
        await seed.conversation(
            conn, t, b, [("Hi", "Hello")], channel="voice", waterfall_ms=ms, billed_s=15
        )
    # Outside the range: not counted.
    await seed.conversation(conn, t, b, [("Old?", "old")], started_at=seed.T0 - timedelta(days=9))

    response = await http.get("/v1/analytics", headers=tenant.user_headers, params=RANGE)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["conversations"] == 8
    assert report["messages"] == 18
    assert report["questions"] == 9
    assert report["unique_visitors"] == 3
    # Billed seconds as billing counts them (4 turns of 15 s), not the sessions' 90 s each.
    assert report["voice_minutes"] == 1.0
    stt = report["latency"]["stt_final"]
    assert stt["samples"] == 4
    assert stt["p50_ms"] == 250.0
    assert stt["p95_ms"] == 385.0
    assert report["latency"]["total"]["p50_ms"] == 1500.0
    assert report["top_questions"][0] == {"question": "Hi", "count": 4}
    assert {"question": "Opening hours?", "count": 2} in report["top_questions"]
    unanswered = {q["question"] for q in report["unanswered_questions"]}
    assert unanswered == {"Do you sell boats?", "Warp drive?"}


async def test_feedback_from_the_widget_shows_in_analytics(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    seeded = await seed.conversation(
        conn, tenant.tenant_id, tenant.bot_id, [("Q1", "A1"), ("Q2", "A2")]
    )
    question, answer1, _, answer2 = seeded.message_ids
    h = tenant.widget_headers
    for message_id, rating in ((answer1, "up"), (answer2, "down")):
        response = await http.post(
            "/v1/feedback", headers=h, json={"message_id": str(message_id), "rating": rating}
        )
        assert response.status_code == 204, response.text
    on_question = await http.post(
        "/v1/feedback", headers=h, json={"message_id": str(question), "rating": "up"}
    )
    assert on_question.status_code == 404  # only answers can be rated
    report = (await http.get("/v1/analytics", headers=tenant.user_headers, params=RANGE)).json()
    assert report["feedback"] == {"up": 1, "down": 1}


async def test_widget_key_rates_only_its_own_bots_answers(
    http: httpx.AsyncClient, tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    other_bot = await conn.fetchval(
        "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Other') RETURNING id", tenant.tenant_id
    )
    seeded = await seed.conversation(conn, tenant.tenant_id, other_bot, [("Q", "A")])
    response = await http.post(
        "/v1/feedback",
        headers=tenant.widget_headers,
        json={"message_id": str(seeded.message_ids[1]), "rating": "up"},
    )
    assert response.status_code == 404


async def test_per_bot_analytics_and_unknown_bot(
    http: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, conn: asyncpg.Connection
) -> None:
    await seed.conversation(conn, tenant.tenant_id, tenant.bot_id, [("Q", "A")])
    mine = await http.get(
        "/v1/analytics", headers=tenant.user_headers, params={**RANGE, "bot_id": str(tenant.bot_id)}
    )
    assert mine.json()["conversations"] == 1
    foreign = await http.get(
        "/v1/analytics",
        headers=tenant.user_headers,
        params={**RANGE, "bot_id": str(other_tenant.bot_id)},
    )
    assert foreign.status_code == 404
    backwards = await http.get(
        "/v1/analytics",
        headers=tenant.user_headers,
        params={"since": RANGE["until"], "until": RANGE["since"]},
    )
    assert backwards.status_code == 400
