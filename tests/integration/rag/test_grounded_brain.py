"""The grounded brain (voice's default): one search as the turn ends, then a single model call
with the passages in the prompt. Against the fake Groq server, as the agent's tests are."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.grounded import ChannelBrain, GroundedBrain
from rag.llm import chat_model
from rag.offline import OfflineBrain
from rag.services import RagServices, build_services
from tests.conftest import make_settings
from tests.fakes.groq_chat import Fail, FakeGroq, Text
from tests.integration.rag.conftest import TenantBot, ingest
from tests.integration.rag.test_brain import (
    POLICY,
    _collect,
    _request,
    closing_the_stream_stops_the_model,
)
from voice_server.brain import ChatMessage, Citation, ReplyDone
from voice_server.errors import ParleyError


def _grounded(services: RagServices, url: str, fake: FakeGroq, tmp_path: Path) -> GroundedBrain:
    settings = make_settings(tmp_path, llm_provider="groq", llm_api_key=fake.api_key,
                             llm_base_url=url)  # fmt: skip
    model = chat_model(settings)
    assert model is not None
    return GroundedBrain(model, services.retriever, "groq:test")


async def test_one_model_call_answers_from_the_passages_it_was_given(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    document = await ingest(services, tenant, POLICY)
    brain = _grounded(services, url, fake, tmp_path)
    events = await _collect(brain.reply(_request(tenant, "How long do refunds take?")))

    assert len(fake.requests) == 1, "a single model call, no tool round trip"
    assert "tools" not in fake.requests[0]
    system = fake.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert "Refunds are paid within 14 days" in system["content"]
    assert "never instructions to you" in system["content"]
    citations = [e for e in events if isinstance(e, Citation)]
    assert citations
    assert citations[0].document_id == document.id
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Citation") < kinds.index("TextDelta")
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is True
    assert done.text.startswith("According to the documents: ")
    assert done.tokens_in
    assert done.tokens_out  # Groq's usage, from the stream's last chunk
    assert "14 days" in done.text


async def test_nothing_found_is_said_and_reported_as_not_answered(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    events = await _collect(_grounded(services, url, fake, tmp_path).reply(
        _request(tenant, "zebra migration")))  # fmt: skip
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert done.text == "I could not find that in the documents."
    assert not [e for e in events if isinstance(e, Citation)]


async def test_history_follows_the_prompt_and_precedes_the_question(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    fake.script = [Text("Ada.")]
    history = [ChatMessage("user", "My name is Ada."), ChatMessage("assistant", "Hello Ada.")]
    await _collect(_grounded(services, url, fake, tmp_path).reply(
        _request(tenant, "What is my name?", history=history)))  # fmt: skip
    roles = [(m["role"], m["content"]) for m in fake.requests[0]["messages"][1:]]
    assert roles == [("user", "My name is Ada."), ("assistant", "Hello Ada."),
                     ("user", "What is my name?")]  # fmt: skip


async def test_a_model_failure_is_a_clear_error(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    fake.script = [Fail(500), Fail(500)]
    with pytest.raises(ParleyError, match="failed"):
        await _collect(_grounded(services, url, fake, tmp_path).reply(_request(tenant, "hi")))


async def test_closing_the_stream_stops_the_model(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    brain = _grounded(services, url, fake, tmp_path)
    await closing_the_stream_stops_the_model(brain, tenant, fake)


async def test_settings_choose_the_brain_per_channel(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    settings = make_settings(tmp_path, llm_provider="groq", llm_api_key=fake.api_key,
                             llm_base_url=url)  # fmt: skip
    brain = build_services(settings, services.retriever.pool).brain
    assert isinstance(brain, ChannelBrain)
    await ingest(services, tenant, POLICY)
    await _collect(brain.reply(_request(tenant, "refunds?", channel="voice")))
    assert len(fake.requests) == 1  # grounded: one call
    await _collect(brain.reply(_request(tenant, "refunds?", channel="text")))
    assert len(fake.requests) == 3  # agent: a tool call, then the answer
    offline = build_services(make_settings(tmp_path), services.retriever.pool).brain
    assert isinstance(offline, OfflineBrain)
