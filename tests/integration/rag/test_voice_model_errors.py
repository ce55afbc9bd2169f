"""The language model's errors are the speech vendors' error tree: the voice engine retries a
model 5xx (the Groq chat fake, through the official SDK) once and the caller hears the answer;
a permanent one gets the spoken apology. A missing model key is the server's fault (500)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.grounded import GroundedBrain
from rag.llm import chat_model
from rag.services import RagServices
from tests.conftest import make_settings
from tests.fakes.groq_chat import Fail, FakeGroq, Text
from tests.integration.rag.conftest import TenantBot
from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import MemoryStore, ScriptedStt, ToneTts
from tests.unit.voice.test_session import Client
from voice_server.brain import BotProfile
from voice_server.vendors import ProviderUnavailable, VendorMisconfigured
from voice_server.voice.config import VoiceConfig
from voice_server.voice.session import APOLOGY, Engines, VoiceSession

CONFIG = VoiceConfig(end_of_turn_silence_ms=400, chunk_pause_ms=100)


async def _one_turn(brain: GroundedBrain, tenant: TenantBot) -> tuple[Client, ToneTts]:
    client, tts = Client(), ToneTts(ms_per_char=1.0)
    bot = BotProfile(id=tenant.bot_id, tenant_id=tenant.tenant_id, name="Shop")
    engines = Engines(stt=ScriptedStt(texts=["when do you open"]), tts=tts, brain=brain,
                      store=MemoryStore(), fallback_tts=tts)  # fmt: skip
    async with VoiceSession(engines, CONFIG, bot, client, input_rate=16_000) as session:
        session.feed_audio(silence(200) + speech_like(600) + silence(600))
        await client.wait_for("audio.end")
        await client.wait_for("metrics")
    return client, tts


def _brain(services: RagServices, url: str, fake: FakeGroq, tmp_path: Path) -> GroundedBrain:
    settings = make_settings(tmp_path, llm_provider="groq", llm_api_key=fake.api_key,
                             llm_base_url=url)  # fmt: skip
    model = chat_model(settings)
    assert model is not None
    return GroundedBrain(model, services.retriever, "groq:test")


async def test_a_model_5xx_is_retried_by_the_voice_engine_and_the_answer_is_spoken(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    # The SDK's own single retry takes the second failure; the engine's retry gets the answer.
    fake.script = [Fail(502), Fail(503), Text("We open at nine.")]
    client, tts = await _one_turn(_brain(services, url, fake, tmp_path), tenant)
    assert len(fake.requests) == 3
    assert client.events("error") == []
    done = client.events("assistant.done")[0]
    assert "We open at nine." in done["text"]
    assert APOLOGY not in tts.spoken


async def test_a_permanent_model_error_is_reported_and_apologised_for(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    fake.script = [Fail(401, "Invalid API Key")]
    client, tts = await _one_turn(_brain(services, url, fake, tmp_path), tenant)
    error = client.events("error")[0]
    assert (error["code"], error["stage"], error["fatal"]) == ("provider_auth", "llm", False)
    assert len(fake.requests) == 1  # never retried
    assert tts.spoken == [APOLOGY]


def test_a_missing_model_key_is_a_server_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(VendorMisconfigured, match="PARLEY_LLM_API_KEY") as caught:
        chat_model(make_settings(tmp_path, llm_provider="groq"))
    assert caught.value.status == 500
    assert "configuration" in caught.value.title
    assert ProviderUnavailable("groq", "x").status == 503  # a vendor down is not our 500
