"""parley_client against a real server: accounts, bots, documents, keys, chat (JSON and SSE),
and a spoken turn from a WAV over the voice WebSocket (cloud providers through their SDKs,
pointed at local fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley_client import ParleyApiError, ParleyClient, VoiceSessionError
from tests.conftest import make_settings
from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq, Text
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from voice_server.app import create_app

QUESTION = "what are your opening hours"
ANSWER = "We open at nine in the morning."


@pytest.fixture
async def server(tmp_path: Path, database_url: str) -> AsyncIterator[str]:
    chat = FakeGroq(script=[Text(ANSWER)] * 6)
    async with (
        groq_audio_server(text=QUESTION) as groq,
        deepgram_server(audio="tone") as deepgram,
        chat.serve() as chat_url,
    ):
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            groq_api_key=groq.api_key,
            groq_base_url=groq.base_url,
            deepgram_api_key=deepgram.api_key,
            deepgram_base_url=deepgram.base_url,
            llm_provider="groq",
            llm_api_key=chat.api_key,
            llm_base_url=chat_url,
            rate_limit_auth_per_minute=0,
        )
        async with serve_app(create_app(settings)) as url:
            yield url


async def test_dashboard_basics_and_chat(server: str) -> None:
    async with ParleyClient(server) as parley:
        with pytest.raises(ParleyApiError) as unauthenticated:
            await parley.list_bots()
        assert unauthenticated.value.status == 401
        session = await parley.sign_up("ada@example.com", "correct horse battery", "Acme")
        assert session["user"]["email"] == "ada@example.com"
        bot = await parley.create_bot("Helper", system_prompt="Be brief.")
        assert [b["id"] for b in await parley.list_bots()] == [bot["id"]]
        with pytest.raises(ParleyApiError) as invalid:
            await parley.create_bot("")
        assert invalid.value.status == 400
        assert invalid.value.field == "name"

        document = await parley.upload_document(
            "hours.txt", b"We open at nine in the morning.", title="Hours", bot_id=bot["id"]
        )
        ready = await parley.wait_for_document(document["id"])
        assert ready["title"] == "Hours"
        assert [d["id"] for d in await parley.list_documents()] == [document["id"]]

        key = await parley.create_key("secret", name="server")
        assert key["key"].startswith("psk_")
        assert key["id"] in [k["id"] for k in await parley.list_keys()]

        answer = await parley.chat(bot["id"], "When do you open?")
        assert answer["text"] == ANSWER
        events = [e async for e in parley.chat_stream(bot["id"], "And on Sundays?")]
        names = [e.event for e in events]
        assert names[0] == "conversation"
        assert names[-1] == "done"
        assert "".join(e.data["text"] for e in events if e.event == "delta") == ANSWER

    # A server holding the secret key uses the same client.
    async with ParleyClient(server, api_key=key["key"]) as backend:
        assert (await backend.get_bot(bot["id"]))["name"] == "Helper"
        with pytest.raises(ParleyApiError) as read_keys:
            await backend.list_keys()
        assert read_keys.value.problem["required_scope"] == "keys:read"


async def test_a_spoken_question_from_a_wav_file(server: str, tmp_path: Path) -> None:
    wav = tmp_path / "question.wav"
    wav.write_bytes(await speech_wav(QUESTION, 16_000))
    async with ParleyClient(server) as parley:
        await parley.sign_up("ada@example.com", "correct horse battery", "Acme")
        bot = await parley.create_bot("Helper", greeting="Hello!")
        turn = await parley.talk(bot["id"], wav)
        assert turn.transcript == QUESTION
        assert turn.reply_text == ANSWER
        assert turn.sample_rate > 0
        assert len(turn.reply_audio) > turn.sample_rate // 10  # some audio, PCM16
        assert turn.reply_wav()[:4] == b"RIFF"
        assert [e for e in turn.events if e.get("type") == "error"] == []
    async with ParleyClient(server) as anonymous:
        with pytest.raises(VoiceSessionError) as refused:
            await anonymous.talk(bot["id"], wav)  # no credential
        assert refused.value.code == "unauthenticated"
