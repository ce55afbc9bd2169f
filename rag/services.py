"""The long-lived objects of the knowledge package, built once in the lifespan and injected."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from langchain_core.language_models import BaseChatModel

from rag.agent import AgentBrain
from rag.bot_models import BotModelBrain, BrainFactory
from rag.conversations import ConversationStore
from rag.embeddings import Embedder, HashingEmbedder, OpenAICompatibleEmbedder
from rag.errors import EmbedderUnavailable
from rag.grounded import ChannelBrain, GroundedBrain
from rag.ingestion import IngestionService
from rag.llm import chat_model
from rag.local_embedder import OnnxEmbedder, minilm_files
from rag.metrics import RagMetrics
from rag.offline import OfflineBrain
from rag.rerank import HttpReranker, OnnxReranker, Reranker
from rag.retriever import RetrievalSettings, Retriever
from rag.store import DocumentStore
from voice_server.brain import Brain
from voice_server.errors import InvalidInput
from voice_server.settings import Settings

_log = logging.getLogger("parley.rag")


@dataclass
class RagServices:
    settings: Settings
    embedder: Embedder
    documents: DocumentStore
    ingestion: IngestionService
    retriever: Retriever
    conversations: ConversationStore
    brain: Brain
    metrics: RagMetrics | None = None

    def attach_metrics(self, metrics: RagMetrics) -> None:
        self.metrics = metrics
        self.retriever.metrics = metrics
        self.ingestion.metrics = metrics


def make_embedder(settings: Settings) -> Embedder:
    if settings.rag_embedder == "openai":
        if not settings.rag_embedding_base_url:
            raise InvalidInput("PARLEY_RAG_EMBEDDER=openai needs PARLEY_RAG_EMBEDDING_BASE_URL")
        key = settings.rag_embedding_api_key
        return OpenAICompatibleEmbedder(
            base_url=settings.rag_embedding_base_url,
            model=settings.rag_embedding_model,
            api_key=key.get_secret_value() if key else None,
            timeout_s=settings.llm_timeout_s,
        )
    if settings.rag_embedder == "local":
        try:
            return OnnxEmbedder(minilm_files())
        except EmbedderUnavailable as exc:
            _log.warning("local embedding model unavailable (%s); using the hashing embedder", exc)
    return HashingEmbedder(384)


def make_reranker(settings: Settings) -> Reranker | None:
    if settings.rag_reranker == "http":
        if not settings.rag_reranker_base_url:
            raise InvalidInput("PARLEY_RAG_RERANKER=http needs PARLEY_RAG_RERANKER_BASE_URL")
        return HttpReranker(
            base_url=settings.rag_reranker_base_url,
            model=settings.rag_reranker_model,
            timeout_s=settings.llm_timeout_s,
        )
    if settings.rag_reranker == "local":
        if settings.rag_reranker_path is None:
            raise InvalidInput("PARLEY_RAG_RERANKER=local needs PARLEY_RAG_RERANKER_PATH")
        return OnnxReranker(settings.rag_reranker_path)
    return None


def build_services(settings: Settings, pool: asyncpg.Pool) -> RagServices:
    embedder = make_embedder(settings)
    documents = DocumentStore(pool)
    retriever = Retriever(
        pool,
        embedder,
        RetrievalSettings(
            top_k=settings.rag_top_k,
            candidates=settings.rag_candidates,
            min_score=settings.rag_min_score,
            candidate_cap=settings.rag_text_candidate_cap,
            relevance_threshold=settings.rag_relevance_threshold,
        ),
        reranker=make_reranker(settings),
    )
    model = chat_model(settings)
    brain = OfflineBrain(retriever) if model is None else _model_brain(settings, model, retriever)
    return RagServices(
        settings=settings,
        embedder=embedder,
        documents=documents,
        ingestion=IngestionService(documents, embedder, settings),
        retriever=retriever,
        conversations=ConversationStore(pool),
        brain=brain,
    )


def _model_brain(settings: Settings, model: BaseChatModel, retriever: Retriever) -> Brain:
    kinds: dict[str, BrainFactory] = {
        "agent": lambda model, name: AgentBrain(
            model, retriever, name, max_searches=settings.rag_agent_max_searches
        ),
        "grounded": lambda model, name: GroundedBrain(model, retriever, name),
    }

    def per_bot(kind: str) -> Brain:
        # Each bot's config.llm (model, temperature) picks its own copy of the model.
        return BotModelBrain(
            model,
            provider=settings.llm_provider,
            default_model=settings.llm_model,
            build=kinds[kind],
        )

    return ChannelBrain(
        text=per_bot(settings.rag_chat_mode), voice=per_bot(settings.rag_voice_mode)
    )


@asynccontextmanager
async def running(services: RagServices) -> AsyncIterator[RagServices]:
    """Run the ingestion worker while the app serves; stop it (and requeue its work) on exit."""
    worker = asyncio.create_task(services.ingestion.run(), name="rag-ingestion")
    try:
        yield services
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        for owner in (services.embedder, services.retriever.reranker):
            close = getattr(owner, "aclose", None)
            if close is not None:
                await close()
