"""A grounded voice reply is stored with its citations, as text chat stores them, so the
console shows a voice conversation's sources and analytics do not call it unanswered."""

from __future__ import annotations

import asyncio
import uuid

from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, MemoryStore, ScriptedStt, ToneTts, make_bot
from tests.unit.voice.test_session import CONFIG, Client
from voice_server.brain import Citation
from voice_server.voice.manager import SessionManager
from voice_server.voice.session import Engines, VoiceSession


async def test_voice_reply_keeps_its_citations() -> None:
    store, stt, brain = MemoryStore(), ScriptedStt(), EchoBrain(reply_text="We open at seven.")
    document = uuid.uuid4()
    brain.citations = [Citation(document_id=document, title="Opening hours", location="page 1")]
    stt.texts = ["when do you open"]
    client = Client()
    session = VoiceSession(
        Engines(stt=stt, tts=ToneTts(), brain=brain, store=store, fallback_tts=ToneTts()),
        CONFIG,
        make_bot(),
        client,
        input_rate=16_000,
        output_rate=24_000,
    )
    async with SessionManager().run(session):
        session.feed_audio(silence(200) + speech_like(600) + silence(600))
        await client.wait_for("audio.end")
        await asyncio.sleep(0.05)
    reply = store.messages[1]
    assert reply["role"] == "assistant"
    (cited,) = reply["citations"]
    assert cited.document_id == document
    assert cited.title == "Opening hours"
    assert "citations" not in store.messages[0]  # the caller's words cite nothing
