"""Whether the knowledge base answered is what the brain said (`ReplyDone.answered`), stored with
the bot's message by every chat path, and read back by analytics' unanswered questions."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys
from voice_server.app import create_app
from voice_server.brain import BrainEvent, BrainRequest, Citation, ReplyDone, TextDelta
from voice_server.runtime import BRAIN, runtime_of

GREETING = "Hello there!"
COVERED = "When are you open?"
UNKNOWN = "Do you sell spaceships?"


class KnowledgeBrain:
    """A greeting needs no knowledge (answered, yet nothing to cite); the opening hours are in
    the knowledge base (answered, cited); spaceships are not (not answered)."""

    async def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        if request.user_text == COVERED:
            yield Citation(document_id=uuid.uuid4(), title="Opening hours", score=0.9)
            text, answered = "Nine to five.", True
        elif request.user_text == GREETING:
            text, answered = "Hi! How can I help?", True
        else:
            text, answered = "I could not find that in our documents.", False
        yield TextDelta(text)
        yield ReplyDone(text=text, model="scripted", answered=answered)


@pytest.fixture
async def chat_url(tmp_path: Path, database_url: str) -> AsyncIterator[str]:
    app = create_app(make_settings(tmp_path, database_url=database_url))
    runtime_of(app).substitute(BRAIN, KnowledgeBrain())  # in place of the rag package's brain
    async with serve_app(app) as url:
        yield url


async def unanswered(http: httpx.AsyncClient, tenant: TenantKeys) -> list[dict[str, object]]:
    response = await http.get(
        "/v1/analytics", headers=tenant.user_headers, params={"bot_id": str(tenant.bot_id)}
    )
    assert response.status_code == 200, response.text
    questions: list[dict[str, object]] = response.json()["unanswered_questions"]
    return questions


async def test_json_chat_stores_the_brains_verdict_for_analytics(
    chat_url: str, tenant: TenantKeys
) -> None:
    async with httpx.AsyncClient(base_url=chat_url) as http:
        for question in (GREETING, COVERED, UNKNOWN):
            answer = await http.post(
                f"/v1/bots/{tenant.bot_id}/chat",
                json={"message": question, "stream": False},
                headers=tenant.widget_headers,
            )
            assert answer.status_code == 200, answer.text
        # The greeting cites nothing, yet it was answered: only the spaceships are missing.
        assert await unanswered(http, tenant) == [{"question": UNKNOWN, "count": 1}]


async def test_streamed_chat_stores_the_brains_verdict_for_analytics(
    chat_url: str, tenant: TenantKeys
) -> None:
    async with httpx.AsyncClient(base_url=chat_url) as http:
        for question in (GREETING, UNKNOWN, UNKNOWN):
            answer = await http.post(
                f"/v1/bots/{tenant.bot_id}/chat",
                json={"message": question},
                headers=tenant.secret_headers,
            )
            assert answer.status_code == 200, answer.text
            assert "event: done" in answer.text
        assert await unanswered(http, tenant) == [{"question": UNKNOWN, "count": 2}]


async def test_websocket_chat_stores_the_brains_verdict_for_analytics(
    chat_url: str, tenant: TenantKeys
) -> None:
    url = chat_url.replace("http", "ws") + f"/v1/bots/{tenant.bot_id}/chat/ws"
    async with websockets.connect(
        f"{url}?key={tenant.publishable_key}", additional_headers={"Origin": tenant.origin}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        for question in (UNKNOWN, GREETING):
            await ws.send(json.dumps({"type": "message", "text": question}))
            while (event := json.loads(await ws.recv()))["type"] not in ("done", "error"):
                pass
            assert event["type"] == "done", event
    async with httpx.AsyncClient(base_url=chat_url) as http:
        assert await unanswered(http, tenant) == [{"question": UNKNOWN, "count": 1}]
