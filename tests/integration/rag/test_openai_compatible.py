"""The OpenAI-compatible adapters (embeddings by httpx, chat by langchain-openai) against local
fakes of ``/v1/embeddings`` and ``/v1/chat/completions``."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, Response, post

from rag.agent import AgentBrain
from rag.embeddings import OpenAICompatibleEmbedder
from rag.errors import FetchFailed
from rag.grounded import GroundedBrain
from rag.llm import chat_model
from rag.services import RagServices
from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq
from tests.integration.rag.conftest import TenantBot, ingest
from tests.support.server import serve_app
from tests.unit.rag.documents import make_markdown
from voice_server.brain import BotProfile, BrainRequest, ReplyDone


def _fake_vector(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128 for b in digest[:dim]]


@pytest.fixture
async def embeddings_url() -> AsyncIterator[str]:
    @post("/v1/embeddings", status_code=200)
    async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
        if request.headers.get("authorization") != "Bearer emb-key":
            return Response({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        if body["model"] == "overloaded":
            return Response({"error": {"message": "try later"}}, status_code=503)
        data = [
            {"object": "embedding", "index": i, "embedding": _fake_vector(text)}
            for i, text in enumerate(body["input"])
        ]
        data.reverse()  # servers may answer out of order; the index says which is which
        return Response({"object": "list", "data": data, "model": body["model"],
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}})  # fmt: skip

    async with serve_app(Litestar([embeddings], logging_config=None)) as url:
        yield url + "/v1"


async def test_embeddings_are_batched_ordered_and_normalised(embeddings_url: str) -> None:
    embedder = OpenAICompatibleEmbedder(
        base_url=embeddings_url, model="nomic-embed-text", api_key="emb-key", batch_size=2
    )
    try:
        vectors = await embedder.embed(["alpha", "beta", "gamma"])
    finally:
        await embedder.aclose()
    assert len(vectors) == 3
    for text, vector in zip(["alpha", "beta", "gamma"], vectors, strict=True):
        raw = _fake_vector(text)
        norm = sum(x * x for x in raw) ** 0.5
        assert vector == pytest.approx([x / norm for x in raw])
    assert embedder.model == "nomic-embed-text"


@pytest.mark.parametrize(("key", "model", "message"), [
    ("wrong", "m", "answered 401"),
    ("emb-key", "overloaded", "answered 503"),
])  # fmt: skip
async def test_embedding_errors_are_clear(
    embeddings_url: str, key: str, model: str, message: str
) -> None:
    embedder = OpenAICompatibleEmbedder(base_url=embeddings_url, model=model, api_key=key)
    try:
        with pytest.raises(FetchFailed, match=message):
            await embedder.embed(["x"])
    finally:
        await embedder.aclose()


@pytest.mark.parametrize("brain_class", [AgentBrain, GroundedBrain])
async def test_openai_compatible_chat_endpoint_answers(
    services: RagServices, tenant: TenantBot, tmp_path: Path, brain_class: type[AgentBrain]
) -> None:
    await ingest(services, tenant, make_markdown("Pool", [("Hours", ["The pool opens at 7."])]))
    fake = FakeGroq(api_key="sk-local")
    async with fake.serve() as url:
        settings = make_settings(
            tmp_path, llm_provider="openai", llm_api_key="sk-local", llm_base_url=url + "/v1",
            llm_model="local-model",
        )  # fmt: skip
        model = chat_model(settings)
        assert model is not None
        brain = brain_class(model, services.retriever, "openai:local-model")
        bot = BotProfile(id=tenant.bot_id, tenant_id=tenant.tenant_id, name="Spa")
        events = [e async for e in brain.reply(BrainRequest(bot=bot, user_text="pool hours"))]
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert "opens at 7" in done.text
    assert fake.requests[0]["model"] == "local-model"
    if brain_class is GroundedBrain:  # usage asked for on the stream's last chunk, OpenAI-style
        assert fake.requests[0]["stream_options"] == {"include_usage": True}
