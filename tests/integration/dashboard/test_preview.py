from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys
from voice_server.app import create_app
from voice_server.brain import BrainEvent, BrainRequest, Citation, ReplyDone, TextDelta
from voice_server.runtime import BRAIN, runtime_of

DOC = uuid.uuid4()


class ScriptedBrain:
    """Answers every question the same way and remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[BrainRequest] = []

    async def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        self.requests.append(request)
        yield TextDelta("Nine ")
        yield TextDelta("to five.")
        yield Citation(document_id=DOC, title="Opening hours", location="p. 2", score=0.8)
        yield ReplyDone(text="Nine to five.", model="scripted", answered=True)


@pytest.fixture
async def brain_and_http(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[ScriptedBrain, httpx.AsyncClient]]:
    app = create_app(make_settings(tmp_path, database_url=database_url))
    brain = ScriptedBrain()
    runtime_of(app).substitute(BRAIN, brain)  # in place of the rag package's brain
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield brain, http


async def test_preview_answers_with_citations_and_timings(
    brain_and_http: tuple[ScriptedBrain, httpx.AsyncClient], tenant: TenantKeys
) -> None:
    brain, http = brain_and_http
    await http.patch(
        f"/v1/bots/{tenant.bot_id}",
        headers=tenant.user_headers,
        json={"system_prompt": "Be brief."},
    )
    response = await http.post(
        f"/v1/bots/{tenant.bot_id}/preview",
        headers=tenant.user_headers,
        json={
            "question": "When are you open?",
            "history": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi"},
            ],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "Nine to five."
    assert body["answered"] is True
    assert body["model"] == "scripted"
    assert body["citations"] == [
        {
            "document_id": str(DOC),
            "title": "Opening hours",
            "location": "p. 2",
            "url": None,
            "score": 0.8,
        }
    ]
    assert body["timings"]["first_token_ms"] is not None
    assert body["timings"]["total_ms"] >= body["timings"]["first_token_ms"]
    [asked] = brain.requests
    assert asked.user_text == "When are you open?"
    assert asked.bot.system_prompt == "Be brief."
    assert asked.bot.tenant_id == tenant.tenant_id
    assert [m.role for m in asked.history] == ["user", "assistant"]


async def test_preview_of_another_bot_with_a_widget_key_is_404(
    brain_and_http: tuple[ScriptedBrain, httpx.AsyncClient], tenant: TenantKeys
) -> None:
    brain, http = brain_and_http
    other = (
        await http.post("/v1/bots", headers=tenant.user_headers, json={"name": "Other"})
    ).json()
    response = await http.post(
        f"/v1/bots/{other['id']}/preview", headers=tenant.widget_headers, json={"question": "hi"}
    )
    assert response.status_code in (403, 404)
    assert brain.requests == []
