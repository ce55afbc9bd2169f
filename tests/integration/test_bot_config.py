"""The one bot-config schema end to end: what the dashboard writes is what voice and chat do.

The whole app on a real port with a real database; the language model is the Groq chat fake
(which records each request), speech is offline (pocketsphinx, eSpeak NG)."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from tests.unit.rag.documents import make_markdown
from tests.unit.voice.audio_signals import silence
from voice_server.app import create_app

FACT = "Our opening hours are nine to five on weekdays."


@dataclass
class Served:
    http: httpx.AsyncClient
    url: str
    groq: FakeGroq
    tenant: TenantKeys

    async def patch_bot(self, **fields: Any) -> dict[str, Any]:
        response = await self.http.patch(
            f"/v1/bots/{self.tenant.bot_id}", json=fields, headers=self.tenant.user_headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Served]:
    groq = FakeGroq()
    tenant = await create_tenant(database_url)
    async with groq.serve() as groq_url:
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            llm_provider="groq",
            llm_api_key=groq.api_key,
            llm_base_url=groq_url,
            llm_model="server-model",
            llm_temperature=0.2,
        )
        async with (
            serve_app(create_app(settings)) as url,
            httpx.AsyncClient(base_url=url, timeout=60) as http,
        ):
            yield Served(http, url, groq, tenant)


async def ask_chat(served: Served, question: str) -> dict[str, Any]:
    response = await served.http.post(
        f"/v1/bots/{served.tenant.bot_id}/chat",
        json={"message": question, "stream": False},
        headers=served.tenant.secret_headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ask_voice(served: Served, question: str) -> dict[str, Any]:
    response = await served.http.post(
        "/v1/voice/chat",
        params={"bot_id": str(served.tenant.bot_id)},
        content=await speech_wav(question, 16_000),
        headers={**served.tenant.secret_headers, "Content-Type": "audio/wav"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_old_and_new_names_are_one_setting(served: Served) -> None:
    tenant = served.tenant
    created = await served.http.post(
        "/v1/bots",
        json={"name": "Old client", "voice": {"voice": "en-gb"}, "end_of_turn_silence_ms": 1500},
        headers=tenant.user_headers,
    )
    assert created.status_code == 201, created.text
    voice = created.json()["voice"]
    assert (voice["voice_id"], voice["end_of_turn_silence_ms"]) == ("en-gb", 1500)
    assert "end_of_turn_silence_ms" not in created.json()  # one name, under voice

    # The old top-level name changes that knob only; the rest of `voice` stays.
    bot_id = created.json()["id"]
    patched = await served.http.patch(
        f"/v1/bots/{bot_id}", json={"end_of_turn_silence_ms": 2000}, headers=tenant.user_headers
    )
    assert patched.status_code == 200, patched.text
    assert (
        patched.json()["voice"]["voice_id"],
        patched.json()["voice"]["end_of_turn_silence_ms"],
    ) == (
        "en-gb",
        2000,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"voice": {"voice": "a", "voice_id": "b"}}, "voice.voice"),
        ({"voice": {"end_of_turn_silence_ms": 900}, "end_of_turn_silence_ms": 1000},
         "end_of_turn_silence_ms"),
        ({"voice": {"provider": "deepgram"}}, "provider"),
        ({"voice": {"barge_in_min_ms": 99_999}}, "barge_in_min_ms"),
        ({"llm": {"model": "no spaces allowed"}}, "model"),
        ({"llm": {"temperature": 3}}, "temperature"),
        ({"knowledge_scope": "everyone"}, "knowledge_scope"),
    ],
)  # fmt: skip
async def test_a_field_that_cannot_take_effect_is_a_400_naming_it(
    served: Served, body: dict[str, Any], field: str
) -> None:
    response = await served.http.post(
        "/v1/bots", json={"name": "x", **body}, headers=served.tenant.user_headers
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in json.dumps(response.json())


async def voice_turns(
    served: Served, pause_ms: int, *, tail_ms: int = 2600
) -> list[dict[str, Any]]:
    """Speak, pause ``pause_ms``, speak again, then fall silent; the session's VAD events.
    The audio goes out as fast as the socket takes it: turn-taking counts audio time (its
    events carry positions in the stream), so no wall clock is involved."""
    with wave.open(io.BytesIO(await speech_wav("hello there", 16_000))) as wav:
        speech = wav.readframes(wav.getnframes())
    audio = silence(300) + speech + silence(pause_ms) + speech + silence(tail_ms)
    url = served.url.replace("http://", "ws://") + "/v1/voice/ws"
    events: list[dict[str, Any]] = []
    async with connect(url, additional_headers=served.tenant.secret_headers) as ws:
        start = {
            "type": "session.start",
            "bot_id": str(served.tenant.bot_id),
            "sample_rate": 16_000,
        }
        await ws.send(json.dumps(start))
        step = 640  # 20 ms
        for i in range(0, len(audio), step):
            await ws.send(audio[i : i + step])
        await ws.send(json.dumps({"type": "session.end"}))
        async with asyncio.timeout(60):
            async for message in ws:
                if isinstance(message, str):
                    event = json.loads(message)
                    events.append(event)
                    if event["type"] == "session.ended":
                        break
    return [e for e in events if e["type"] in ("vad.start", "vad.end")]


async def test_a_bot_set_to_2000_ms_end_of_turn_waits_2000_ms(served: Served) -> None:
    # The server's 700 ms: a 1.5 s pause ends the turn, so the caller is cut off mid-thought.
    default = await voice_turns(served, pause_ms=1500)
    ends = [e for e in default if e["type"] == "vad.end" and not e.get("ignored")]
    assert len(ends) == 2, default

    bot = await served.patch_bot(end_of_turn_silence_ms=2000)  # the dashboard's old name
    assert bot["voice"]["end_of_turn_silence_ms"] == 2000
    waited = await voice_turns(served, pause_ms=1500)
    ends = [e for e in waited if e["type"] == "vad.end" and not e.get("ignored")]
    starts = [e for e in waited if e["type"] == "vad.start"]
    assert len(ends) == 1, waited  # the pause is inside the turn now
    assert len(starts) == 1
    # Same audio, same speech end: only the wait for silence differs.
    assert ends[0]["at_ms"] > starts[0]["at_ms"] + 1500


async def test_knowledge_scope_bot_never_answers_from_a_tenant_wide_document(
    served: Served,
) -> None:
    document = make_markdown("Shop hours", [("Hours", [FACT])])
    uploaded = await served.http.post(
        "/v1/documents",
        files={"file": ("hours.md", document, "text/markdown")},
        headers=served.tenant.secret_headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    doc_id = uploaded.json()["id"]
    for _ in range(400):
        status = (
            await served.http.get(f"/v1/documents/{doc_id}", headers=served.tenant.secret_headers)
        ).json()["status"]
        if status == "ready":
            break
        await asyncio.sleep(0.05)
    assert status == "ready"

    # Scope "tenant" (the default): the shared document answers, in chat and in voice.
    chat = await ask_chat(served, "what are your opening hours")
    assert "nine to five" in chat["text"]
    assert chat["answered"] is True
    voice = await ask_voice(served, "what are your opening hours")
    assert "nine to five" in voice["reply"]

    await served.patch_bot(knowledge_scope="bot")
    chat = await ask_chat(served, "what are your opening hours")
    assert "nine to five" not in chat["text"]
    assert chat["answered"] is False
    assert chat["citations"] == []
    voice = await ask_voice(served, "what are your opening hours")
    assert "nine to five" not in voice["reply"]

    # A document attached to the bot is still its own.
    attached = await served.http.post(
        "/v1/documents",
        files={
            "file": ("own.md", make_markdown("Own hours", [("Hours", [FACT])]), "text/markdown")
        },
        data={"bot_id": str(served.tenant.bot_id)},
        headers=served.tenant.secret_headers,
    )
    assert attached.status_code == 201, attached.text
    own_id = attached.json()["id"]
    for _ in range(400):
        status = (
            await served.http.get(f"/v1/documents/{own_id}", headers=served.tenant.secret_headers)
        ).json()["status"]
        if status == "ready":
            break
        await asyncio.sleep(0.05)
    chat = await ask_chat(served, "what are your opening hours")
    assert "nine to five" in chat["text"]
    assert {c["document_id"] for c in chat["citations"]} == {own_id}


async def test_the_bots_model_and_temperature_reach_the_model(served: Served) -> None:
    await ask_chat(served, "hello")
    assert {(r["model"], r["temperature"]) for r in served.groq.requests} == {("server-model", 0.2)}

    bot = await served.patch_bot(llm={"model": "llama-3.1-8b-instant", "temperature": 0.9})
    assert bot["llm"] == {"model": "llama-3.1-8b-instant", "temperature": 0.9}
    served.groq.requests.clear()
    chat = await ask_chat(served, "hello")
    assert chat["model"] == "groq:llama-3.1-8b-instant"
    await ask_voice(served, "what are your opening hours")
    assert served.groq.requests  # text (agent) and voice (grounded) turns
    assert {(r["model"], r["temperature"]) for r in served.groq.requests} == {
        ("llama-3.1-8b-instant", 0.9)
    }

    # Only the temperature: the server's model at the bot's temperature.
    await served.patch_bot(llm={"temperature": 0.0})
    served.groq.requests.clear()
    await ask_chat(served, "hello")
    assert {(r["model"], r["temperature"]) for r in served.groq.requests} == {("server-model", 0.0)}
