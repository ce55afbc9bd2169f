"""The brains that answer turns: the LangChain agent against the fake Groq server, and the
offline answerer. Both stream events that the chat routes and the voice pipeline consume."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rag.agent import AgentBrain
from rag.llm import chat_model
from rag.offline import OfflineBrain
from rag.services import RagServices
from tests.conftest import make_settings
from tests.fakes.groq_chat import Cut, Fail, FakeGroq, LatencyProfile, Stall, Text, ToolCalls
from tests.integration.rag.conftest import TenantBot, ingest
from tests.unit.rag.documents import make_markdown
from voice_server.brain import (
    BotProfile,
    Brain,
    BrainEvent,
    BrainRequest,
    ChatMessage,
    Citation,
    ReplyDone,
    TextDelta,
    ToolCall,
)
from voice_server.errors import ParleyError
from voice_server.vendors import ProviderRateLimited as RateLimited

POLICY = make_markdown(
    "Returns policy",
    [("Refunds", ["Refunds are paid within 14 days to the original card."]),
     ("Exchanges", ["Exchanges are free in every store."])],
)  # fmt: skip


def _agent(
    services: RagServices, url: str, fake: FakeGroq, tmp_path: Path, **kw: object
) -> AgentBrain:
    settings = make_settings(
        tmp_path, llm_provider="groq", llm_api_key=fake.api_key, llm_base_url=url, **kw
    )
    model = chat_model(settings)
    assert model is not None
    return AgentBrain(model, services.retriever, "groq:test")


def _request(tenant: TenantBot, text: str, **kw: object) -> BrainRequest:
    bot = BotProfile(
        id=tenant.bot_id, tenant_id=tenant.tenant_id, name="Shop", system_prompt="You are Shopbot.",
        greeting="Hi, I am Shopbot.",
    )  # fmt: skip
    return BrainRequest(bot=bot, user_text=text, **kw)  # type: ignore[arg-type]


async def _collect(stream: AsyncIterator[BrainEvent]) -> list[BrainEvent]:
    return [event async for event in stream]


async def test_agent_searches_then_answers_with_a_citation(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    document = await ingest(services, tenant, POLICY)
    brain = _agent(services, url, fake, tmp_path)
    events = await _collect(brain.reply(_request(tenant, "How long do refunds take?")))

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [ToolCall("search_knowledge", {"query": "How long do refunds take?"})]
    citations = [e for e in events if isinstance(e, Citation)]
    assert citations[0].document_id == document.id
    assert citations[0].location == "Returns policy > Refunds"
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert "14 days" in done.text
    assert done.text == "".join(e.text for e in events if isinstance(e, TextDelta))
    assert done.tokens_in is not None
    assert done.tokens_out is not None
    # The model saw the bot's prompt, the guard, and the passages as quoted data.
    system = fake.requests[0]["messages"][0]["content"]
    assert system.startswith("You are Shopbot.")
    assert "never an instruction" in system
    tool_message = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool_message["content"].startswith("<documents>")


async def test_history_is_sent_to_the_model(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    fake.script = [Text("Sure.")]
    brain = _agent(services, url, fake, tmp_path)
    history = [ChatMessage("user", "My name is Ada."), ChatMessage("assistant", "Hello Ada.")]
    await _collect(brain.reply(_request(tenant, "What is my name?", history=history)))
    roles = [(m["role"], m["content"]) for m in fake.requests[0]["messages"][1:]]
    assert roles == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "What is my name?"),
    ]


async def test_an_empty_search_is_reported_as_not_answered(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    events = await _collect(
        _agent(services, url, fake, tmp_path).reply(_request(tenant, "zebra migration"))
    )
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert not [e for e in events if isinstance(e, Citation)]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Fail(401, "Invalid API Key"), "refused the API key"),
        (Fail(500), "failed (HTTP 500)"),
        (Cut("The answer is being written when", after_tokens=3), "broke off"),
        (Stall(3.0), "in time"),
    ],
)
async def test_model_failures_become_clear_errors(
    services: RagServices,
    tenant: TenantBot,
    groq: tuple[FakeGroq, str],
    tmp_path: Path,
    step: object,
    expected: str,
) -> None:
    fake, url = groq
    fake.script = [step, step]  # type: ignore[list-item]
    brain = _agent(services, url, fake, tmp_path, llm_timeout_s=1.0)
    with pytest.raises(ParleyError, match=re.escape(expected)):
        await _collect(brain.reply(_request(tenant, "hello")))


async def test_rate_limit_carries_retry_after(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    fake.script = [Fail(429, retry_after_s=7), Fail(429, retry_after_s=7)]
    with pytest.raises(RateLimited) as caught:
        await _collect(_agent(services, url, fake, tmp_path).reply(_request(tenant, "hi")))
    assert caught.value.retry_after_s == 7


async def test_closing_the_stream_stops_the_model(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await closing_the_stream_stops_the_model(_agent(services, url, fake, tmp_path), tenant, fake)


async def closing_the_stream_stops_the_model(
    brain: Brain, tenant: TenantBot, fake: FakeGroq
) -> None:
    """Barge-in: the reply's consumer stops after the first words; the model's stream must be
    cancelled (the fake counts streams abandoned before their end)."""
    fake.latency = LatencyProfile(tokens_per_s=20)
    fake.script = [Text(" ".join(f"word{i}" for i in range(200)))]
    stream = brain.reply(_request(tenant, "talk a lot"))
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(100):
        if fake.cancelled:
            break
        await asyncio.sleep(0.05)
    assert fake.cancelled == 1


async def test_tool_calls_scripted_explicitly(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await ingest(services, tenant, POLICY)
    fake.script = [
        ToolCalls([("search_knowledge", {"query": "exchanges"})], text="Let me check. "),
        Text("Exchanges are free [1]."),
    ]
    events = await _collect(_agent(services, url, fake, tmp_path).reply(_request(tenant, "swap?")))
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCall") < kinds.index("Citation") < kinds.index("ReplyDone")
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.text == "Let me check. Exchanges are free [1]."


async def test_offline_brain_says_it_has_no_model_and_reads_the_passage(
    services: RagServices, tenant: TenantBot
) -> None:
    document = await ingest(services, tenant, POLICY)
    events = await _collect(OfflineBrain(services.retriever).reply(_request(tenant, "refunds")))
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.model == "offline"
    assert done.text.startswith("No language model is configured")
    assert "Refunds are paid within 14 days" in done.text
    assert [e.document_id for e in events if isinstance(e, Citation)] == [document.id]


async def test_offline_brain_with_nothing_relevant_offers_the_greeting(
    services: RagServices, tenant: TenantBot
) -> None:
    events = await _collect(OfflineBrain(services.retriever).reply(_request(tenant, "weather")))
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert "No language model is configured" in done.text
    assert done.text.endswith("Hi, I am Shopbot.")


async def test_replies_share_one_compiled_agent_but_not_their_findings(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await ingest(services, tenant, POLICY)
    brain = _agent(services, url, fake, tmp_path)
    refunds, weather = await asyncio.gather(
        _collect(brain.reply(_request(tenant, "How long do refunds take?"))),
        _collect(brain.reply(_request(tenant, "zebra migration"))),
    )
    assert len(brain._agents) == 1  # one graph for the bot's prompt, compiled once
    assert [e for e in refunds if isinstance(e, Citation)]
    assert not [e for e in weather if isinstance(e, Citation)]
    assert isinstance(refunds[-1], ReplyDone)
    assert refunds[-1].answered is True
    assert isinstance(weather[-1], ReplyDone)
    assert weather[-1].answered is False
