"""Analytics that add up: one definition per figure, the same number in the console, the JSON
API and billing's usage. Voice is written through the voice session's own store with billing's
ledger (as the running server wires them), with long silent stretches that must not count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from billing.ledger import record_usage
from tests.integration.console.conftest import Console
from voice_server.brain import BotProfile
from voice_server.voice.store import PgVoiceStore, TurnRow


async def _owner_token(console: Console) -> tuple[str, str]:
    """A bearer token for the console's own owner (the JSON API's door), and the ids."""
    response = await console.http.post(
        "/v1/auth/login",
        json={"email": console.email, "password": "correct horse battery staple"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["access_token"], body["tenant"]["id"]


def _figure(html: str, name: str) -> float:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return float(found.group(1).replace(",", ""))


async def test_console_json_api_and_billing_agree(console: Console, database_url: str) -> None:
    token, tenant_id = await _owner_token(console)
    await console.get("/console/bots/new")
    made = await console.post("/console/bots/new", {"name": "Voice bot"})
    bot_id = made.headers["location"].rsplit("/", 1)[1]

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = PgVoiceStore(pool, usage=record_usage)
        bot = await store.find_bot(UUID(bot_id))
        assert isinstance(bot, BotProfile)
        now = datetime.now(UTC)
        for _ in range(3):
            stored = await store.start_session(bot, "websocket", 16000, 24000)
            for ordinal in range(2):
                turn = TurnRow(
                    ordinal=ordinal,
                    speech_started_at=now,
                    speech_ended_at=now + timedelta(seconds=4.2),  # 4.2 s of speech
                    played_ms=5300.0,  # and 5.3 s of reply heard: 10 billed seconds
                    interrupted=ordinal == 1,
                )
                question = await store.add_message(
                    bot.tenant_id, stored.conversation_id, "user", f"question {ordinal}"
                )
                # The second reply is a grounded answer cut off by a barge-in (no verdict).
                answer = await store.add_message(
                    bot.tenant_id,
                    stored.conversation_id,
                    "assistant",
                    "We open at sev",
                    interrupted=ordinal == 1,
                    answered=True if ordinal == 0 else None,
                )
                turn.user_message_id, turn.assistant_message_id = question, answer
                await store.add_turn(bot.tenant_id, stored.session_id, turn)
            await store.end_session(bot.tenant_id, stored, "hangup", 60.0, 30.0)
            # Each call then sat ten silent minutes before hanging up: not voice minutes.
            await pool.execute(
                "UPDATE voice_sessions SET started_at = started_at - interval '10 minutes'"
                " WHERE id = $1",
                stored.session_id,
            )
    finally:
        await pool.close()

    expected_minutes = round(3 * 2 * 10 / 60, 2)  # 1.0
    headers = {"Authorization": f"Bearer {token}"}
    api = (await console.http.get("/v1/analytics", headers=headers)).json()
    usage = (await console.http.get("/v1/usage", headers=headers)).json()
    page = (await console.get("/console/analytics")).text
    billed = next(
        limit["used"] for limit in usage["limits"] if limit["name"] == "voice_minutes_per_month"
    )
    assert api["voice_minutes"] == expected_minutes
    assert round(billed, 2) == expected_minutes
    assert _figure(page, "voice_minutes") == expected_minutes
    # Three anonymous callers (no visitor id): three visitors, not zero.
    assert api["unique_visitors"] == 3
    assert _figure(page, "unique_visitors") == 3
    assert _figure(page, "conversations") == api["conversations"] == 3
    # The cut-off grounded answers are not unanswered questions.
    assert api["unanswered_questions"] == []
    assert "None in this period." in page
    assert api["bot_id"] is None
    assert tenant_id


async def test_bot_filter_counts_only_that_bots_voice(console: Console, database_url: str) -> None:
    token, _ = await _owner_token(console)
    ids = []
    for name in ("A", "B"):
        await console.get("/console/bots/new")
        made = await console.post("/console/bots/new", {"name": name})
        ids.append(made.headers["location"].rsplit("/", 1)[1])
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = PgVoiceStore(pool, usage=record_usage)
        for bot_id, seconds in zip(ids, (30, 90), strict=True):
            bot = await store.find_bot(UUID(bot_id))
            assert bot is not None
            stored = await store.start_session(bot, "websocket", 16000, 24000)
            now = datetime.now(UTC)
            await store.add_turn(
                bot.tenant_id,
                stored.session_id,
                TurnRow(
                    ordinal=0,
                    speech_started_at=now,
                    speech_ended_at=now + timedelta(seconds=seconds),
                ),  # fmt: skip
            )
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=str(console.http.base_url)) as http:
        headers = {"Authorization": f"Bearer {token}"}
        for bot_id, minutes in zip(ids, (0.5, 1.5), strict=True):
            api = await http.get("/v1/analytics", headers=headers, params={"bot_id": bot_id})
            assert api.json()["voice_minutes"] == minutes
            page = await console.get(f"/console/analytics?bot_id={bot_id}")
            assert _figure(page.text, "voice_minutes") == minutes
