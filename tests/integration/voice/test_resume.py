"""Resuming a voice conversation over the real WebSocket: after a network blip the caller
continues the same conversation (history to the brain, turns appended, no second greeting);
anyone else's conversation is refused with a typed error and nothing is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.integration.voice.conftest import VoiceServer
from tests.integration.voice.harness import VoiceClient, eventually, voice_client
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence, speech_like

GREETING = "Hello, I am the shop assistant."


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def greeted(voice_server: VoiceServer, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE bots SET greeting = $1 WHERE id = $2", GREETING, voice_server.bot_id)


async def speak(client: VoiceClient, turns: int) -> None:
    """One utterance; waits for the ``turns``-th reply (the greeting counts) to finish."""
    await client.stream(silence(200) + speech_like(700) + silence(900))
    await client.wait_for("assistant.done", count=turns)
    await client.wait_for("audio.end", count=turns)


async def refused(voice_server: VoiceServer, **start: Any) -> tuple[dict[str, Any], int | None]:
    async with voice_client(voice_server.ws_url) as client:
        await client.ws.send(json.dumps({"type": "session.start", "sample_rate": 16_000} | start))
        error = await client.wait_for("error")
        await client.closed.wait()
        assert not client.events("session.started")
        return error, client.ws.close_code


async def test_a_resumed_session_continues_the_conversation_without_greeting_again(
    voice_server: VoiceServer, db: asyncpg.Connection
) -> None:
    await greeted(voice_server, db)
    voice_server.stt.texts = ["when do you open", "and on sundays"]
    async with voice_client(voice_server.ws_url) as first:
        started = await first.start(voice_server.bot_id)
        assert started["resumed"] is False
        assert started["resume_token"]
        assert (await first.wait_for("assistant.done"))["text"] == GREETING
        await speak(first, turns=2)
    # The network dropped (the socket closed without session.end); the widget reconnects.
    async with voice_client(voice_server.ws_url) as second:
        again = await second.start(
            voice_server.bot_id,
            conversation_id=started["conversation_id"],
            resume_token=started["resume_token"],
        )
        assert again["resumed"] is True
        assert again["conversation_id"] == started["conversation_id"]
        assert again["session_id"] != started["session_id"]
        assert again["resume_token"] != started["resume_token"]
        await speak(second, turns=1)
        assert [e["text"] for e in second.events("assistant.done")] == ["You said: and on sundays."]
        await second.ws.send(json.dumps({"type": "session.end"}))
        await second.wait_for("session.ended")
    history = [(m.role, m.content) for m in voice_server.brain.requests[-1].history]
    assert history == [
        ("assistant", GREETING),
        ("user", "when do you open"),
        ("assistant", "You said: when do you open."),
    ]

    async def both_ended() -> bool:
        count = await db.fetchval("SELECT count(*) FROM voice_sessions WHERE ended_at IS NULL")
        return bool(count == 0)

    await eventually(both_ended)
    conversation = uuid.UUID(started["conversation_id"])
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1
    sessions = await db.fetch("SELECT conversation_id FROM voice_sessions")
    assert [s["conversation_id"] for s in sessions] == [conversation, conversation]
    messages = await db.fetch(
        "SELECT role, content FROM messages WHERE conversation_id = $1 ORDER BY created_at",
        conversation,
    )
    assert [(m["role"], m["content"]) for m in messages] == [
        ("assistant", GREETING),
        ("user", "when do you open"),
        ("assistant", "You said: when do you open."),
        ("user", "and on sundays"),
        ("assistant", "You said: and on sundays."),
    ]
    assert await db.fetchval("SELECT ended_at FROM conversations") is not None


async def test_resuming_anyone_elses_conversation_is_refused_and_writes_nothing(
    voice_server: VoiceServer, db: asyncpg.Connection, database_url: str
) -> None:
    async with voice_client(voice_server.ws_url) as client:
        started = await client.start(voice_server.bot_id)
    other_bot = await db.fetchval(
        "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Other') RETURNING id",
        voice_server.tenant_id,
    )
    other_tenant = await create_tenant(database_url, name="Elsewhere")
    conversation, token = started["conversation_id"], started["resume_token"]
    mine, foreign = str(voice_server.bot_id), str(other_tenant.bot_id)
    attempts = [
        # the right secret, but another bot of the same tenant
        {"bot_id": str(other_bot), "conversation_id": conversation, "resume_token": token},
        # another tenant's bot
        {"bot_id": foreign, "conversation_id": conversation, "resume_token": token},
        # the conversation's id alone is not enough: a guessed or stolen id, a wrong secret
        {"bot_id": mine, "conversation_id": conversation, "resume_token": "x"},
        # a conversation that does not exist
        {"bot_id": mine, "conversation_id": str(uuid.uuid4()), "resume_token": token},
    ]  # fmt: skip
    before = await db.fetchval("SELECT count(*) FROM voice_sessions")
    for attempt in attempts:
        error, close = await refused(voice_server, **attempt)
        assert error["code"] == "conversation_not_found", attempt
        assert error["fatal"] is True
        assert close == 4404
    assert await db.fetchval("SELECT count(*) FROM voice_sessions") == before
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_a_malformed_resume_gets_an_error_and_the_connection_stays(
    voice_server: VoiceServer,
) -> None:
    async with voice_client(voice_server.ws_url) as client:
        bot = str(voice_server.bot_id)
        for bad in (
            {"conversation_id": "not-a-uuid", "resume_token": "x"},
            {"conversation_id": str(uuid.uuid4())},  # no secret
        ):
            start = {"type": "session.start", "bot_id": bot, "sample_rate": 16_000} | bad
            await client.ws.send(json.dumps(start))
        errors = [await client.wait_for("error", count=n) for n in (1, 2)]
        assert [e["code"] for e in errors] == ["invalid_message", "invalid_message"]
        assert not any(e["fatal"] for e in errors)
        started = await client.start(voice_server.bot_id)
        assert started["resumed"] is False
