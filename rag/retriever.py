"""Hybrid retrieval: pgvector (HNSW, cosine) and BM25-style full text, fused by reciprocal rank.

Every query is scoped to one tenant and to the documents a bot may see (its own and, unless the
bot's ``knowledge_scope`` is ``"bot"``, the tenant's shared ones, ``documents.bot_id IS NULL``).
Vector search only compares vectors of the current embedding model, so that during a background
re-embed after a model change the chunks not yet re-embedded are found by full text alone, never
by a meaningless distance.

Fusion ranks; it does not say whether anything matches (RRF always has a first passage). So
every passage also carries a *relevance* in [0, 1]: the larger of its cosine similarity and its
lexical coverage (the share of the question's idf weight it contains), or the reranker's score
when one is configured. :meth:`Retriever.retrieve` compares the best relevance with a threshold
calibrated per embedder (``benchmarks.rag_eval``): below it the result is *no match*, and the
brains tell the model that nothing in the knowledge base answers the question.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rag import lexical
from rag.embeddings import Embedder
from rag.metrics import RagMetrics
from rag.questions import split_question
from rag.rerank import Reranker
from rag.store import as_vector
from voice_server.brain import Citation

Connection = asyncpg.Connection | PoolConnectionProxy
Mode = Literal["hybrid", "vector", "text"]

# Dimensions with a partial HNSW index in 0001_initial_schema.sql.
INDEXED_DIMS = (384, 768, 1024, 1536)
RRF_K = 60
COUNT_TTL_S = 60.0
COUNT_CACHE = 1024

# The relevance under which a search is "no match", per embedder family, calibrated on the
# tuning set of benchmarks.rag_eval (answerable vs unanswerable questions; the held-out set
# measures it). Semantic models give unrelated text a cosine of 0.0-0.3; the hashing embedder
# is lexical, so its similarity and the lexical coverage mean about the same thing.
DEFAULT_THRESHOLDS = {"semantic": 0.45, "hashing": 0.30}
# Whether bot $4 may see the tenant's shared documents: not when its knowledge_scope is "bot"
# (voice_server.bot_config). Uncorrelated, so PostgreSQL evaluates it once per query.
_SHARED = """NOT EXISTS (SELECT 1 FROM bots b WHERE b.tenant_id = $%d AND b.id = $4
                         AND b.config ->> 'knowledge_scope' = 'bot')"""
# The same rule for the full-text statement (rag.lexical.rank_sql: tenant $2, bot $3).
_BOT_FILTER = """($3::uuid IS NULL OR d.bot_id = $3 OR (d.bot_id IS NULL AND NOT EXISTS (
    SELECT 1 FROM bots b WHERE b.tenant_id = $2 AND b.id = $3
    AND b.config ->> 'knowledge_scope' = 'bot')))"""


@dataclass(frozen=True)
class Passage:
    chunk_id: UUID
    document_id: UUID
    content: str
    title: str
    location: str | None
    url: str | None
    score: float  # the fused RRF score (or the reranker's, when one ran)
    similarity: float | None  # cosine similarity, when found by vector search
    text_rank: float | None  # the BM25-style score, when found by full text
    coverage: float = 0.0  # share of the question's term weight found in the passage
    relevance: float = 0.0  # in [0, 1]: max(similarity, coverage), or the reranker's score

    def citation(self) -> Citation:
        return Citation(
            document_id=self.document_id,
            title=self.title,
            location=self.location,
            url=self.url,
            chunk_id=self.chunk_id,
            score=round(self.score, 5),
        )


@dataclass(frozen=True)
class Retrieval:
    """The passages of a search and whether the best of them is relevant enough to answer."""

    query: str
    passages: list[Passage]
    matched: bool
    best_relevance: float
    unmatched: list[str] = field(default_factory=list)  # parts of the question with no match


@dataclass(frozen=True)
class RetrievalSettings:
    top_k: int = 5
    candidates: int = 40
    min_score: float = 0.15
    ts_config: str = "english"
    # Full text: a word in more passages than this selects no candidates (it still ranks), and
    # at most ``candidate_cap`` candidates are ranked per question.
    df_cap: int = 500
    candidate_cap: int = 1000
    relevance_threshold: float | None = None  # None: the embedder's calibrated default


def threshold_for(embedder: Embedder, configured: float | None) -> float:
    if configured is not None:
        return configured
    family = "hashing" if embedder.model.startswith("parley-hashing") else "semantic"
    return DEFAULT_THRESHOLDS[family]


class Retriever:
    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        settings: RetrievalSettings,
        reranker: Reranker | None = None,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.threshold = threshold_for(embedder, settings.relevance_threshold)
        self.metrics: RagMetrics | None = None
        self._counts: OrderedDict[UUID, tuple[int, float]] = OrderedDict()

    async def retrieve(
        self,
        tenant_id: UUID,
        query: str,
        *,
        bot_id: UUID | None = None,
        top_k: int | None = None,
    ) -> Retrieval:
        """Hybrid search plus the verdict "does anything match?". Passages are returned either
        way (the benchmark reads them); a brain gives them to the model only when matched."""
        passages = await self.search(tenant_id, query, bot_id=bot_id, top_k=top_k)
        best = max((p.relevance for p in passages), default=0.0)
        return Retrieval(query, passages, best >= self.threshold, best)

    async def retrieve_parts(
        self, tenant_id: UUID, question: str, *, bot_id: UUID | None = None
    ) -> Retrieval:
        """:meth:`retrieve` for each part of a question with several parts
        (:func:`rag.questions.split_question`), the matched parts' passages interleaved so that
        every part keeps its best passages within ``top_k`` + 2 per extra part."""
        parts = split_question(question)
        if len(parts) <= 1:
            return await self.retrieve(tenant_id, question, bot_id=bot_id)
        results = [await self.retrieve(tenant_id, part, bot_id=bot_id) for part in parts]
        matched = [r for r in results if r.matched]
        limit = self.settings.top_k + 2 * (len(parts) - 1)
        merged: list[Passage] = []
        seen: set[UUID] = set()
        for rank in range(max((len(r.passages) for r in results), default=0)):
            for result in matched or results:
                if rank < len(result.passages) and result.passages[rank].chunk_id not in seen:
                    seen.add(result.passages[rank].chunk_id)
                    merged.append(result.passages[rank])
        best = max(r.best_relevance for r in results)
        return Retrieval(question, merged[:limit], bool(matched), best,
                         unmatched=[r.query for r in results if not r.matched])  # fmt: skip

    async def topics(self, tenant_id: UUID, bot_id: UUID | None, limit: int = 8) -> list[str]:
        """Titles of the documents the bot may use: what it can help with when a question
        finds nothing."""
        rows = await self.pool.fetch(
            """SELECT DISTINCT title FROM (
                   SELECT d.title FROM documents d
                   WHERE d.tenant_id = $1 AND d.status = 'ready'
                     AND ($2::uuid IS NULL OR d.bot_id = $2 OR (d.bot_id IS NULL AND NOT EXISTS (
                         SELECT 1 FROM bots b WHERE b.tenant_id = $1 AND b.id = $2
                         AND b.config ->> 'knowledge_scope' = 'bot')))
                   ORDER BY d.updated_at DESC LIMIT 50) recent
               LIMIT $3""",
            tenant_id,
            bot_id,
            limit,
        )
        return [str(r["title"]) for r in rows if r["title"]]

    async def search(
        self,
        tenant_id: UUID,
        query: str,
        *,
        bot_id: UUID | None = None,
        mode: Mode = "hybrid",
        top_k: int | None = None,
    ) -> list[Passage]:
        """The best passages for ``query`` that ``bot_id`` may see (all of the tenant's when
        ``bot_id`` is None)."""
        query = query.strip()[:2000]
        if not query:
            return []
        started = time.perf_counter()
        k = top_k or self.settings.top_k
        n = max(self.settings.candidates, k)
        vector_hits: list[asyncpg.Record] = []
        text_hits: list[asyncpg.Record] = []

        async def vector_leg() -> None:
            nonlocal vector_hits
            [embedding] = await self.embedder.embed([query])
            async with self.pool.acquire() as conn:
                found = await self._vector(conn, tenant_id, bot_id, embedding, n)
            vector_hits = [r for r in found if r["similarity"] >= self.settings.min_score]

        async def text_leg() -> None:
            nonlocal text_hits
            async with self.pool.acquire() as conn:
                text_hits = await self._text(conn, tenant_id, bot_id, query, n)

        # The two legs run at once, on two connections (and the query's embedding in a worker
        # thread): a hybrid search takes as long as its slower leg, not the sum of both. The
        # task group cancels and awaits the other leg if one fails.
        try:
            async with asyncio.TaskGroup() as legs:
                if mode in ("hybrid", "vector"):
                    legs.create_task(vector_leg(), name="retrieval-vector")
                if mode in ("hybrid", "text"):
                    legs.create_task(text_leg(), name="retrieval-text")
        except ExceptionGroup as group:
            # Callers handle the typed error (an embeddings endpoint down, ...), not a group.
            raise group.exceptions[0] from None
        fused: dict[UUID, dict[str, Any]] = {}
        for rank, row in enumerate(vector_hits, start=1):
            entry = fused.setdefault(row["id"], {"row": row, "score": 0.0})
            entry["score"] += 1.0 / (RRF_K + rank)
            entry["similarity"] = float(row["similarity"])
        for rank, row in enumerate(text_hits, start=1):
            entry = fused.setdefault(row["id"], {"row": row, "score": 0.0})
            entry["score"] += 1.0 / (RRF_K + rank)
            entry["text_rank"] = float(row["rank"])
            entry["coverage"] = float(row["coverage"])
        ordered = sorted(fused.values(), key=lambda e: e["score"], reverse=True)
        passages = [_passage(e) for e in ordered]
        if self.reranker is not None and passages:
            passages = await self._rerank(query, passages[: self.reranker.depth])
        passages = passages[:k]
        if self.metrics is not None:
            self.metrics.search_seconds.labels(mode).observe(time.perf_counter() - started)
        return passages

    async def _rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        assert self.reranker is not None
        scores = await self.reranker.score(query, [p.content for p in passages])
        rescored = [
            replace(p, score=s, relevance=max(0.0, min(1.0, s)))
            for p, s in zip(passages, scores, strict=True)
        ]
        return sorted(rescored, key=lambda p: p.score, reverse=True)

    async def _vector(
        self,
        conn: Connection,
        tenant_id: UUID,
        bot_id: UUID | None,
        embedding: list[float],
        limit: int,
    ) -> list[asyncpg.Record]:
        dim = len(embedding)
        # The expression and predicate must match the partial index exactly for it to be used;
        # `dim` is an int we computed, safe to inline.
        expr = f"c.embedding::vector({dim})" if dim in INDEXED_DIMS else "c.embedding"
        cast = f"::vector({dim})" if dim in INDEXED_DIMS else "::vector"
        sql = f"""
            SELECT * FROM (
                SELECT c.id, c.document_id, c.content, c.metadata, d.title,
                       1 - ({expr} <=> $1{cast}) AS similarity,
                       {expr} <=> $1{cast} AS distance
                FROM chunks c
                JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
                WHERE c.embedding_dim = {dim} AND c.tenant_id = $2 AND c.embedding_model = $3
                  AND ($4::uuid IS NULL OR d.bot_id = $4 OR (d.bot_id IS NULL AND {_SHARED % 2}))
                ORDER BY {expr} <=> $1{cast}
                LIMIT $5
            ) hits ORDER BY distance"""
        async with conn.transaction():
            # Filtered HNSW scans keep walking the graph until enough rows pass the filter.
            await conn.execute("SET LOCAL hnsw.iterative_scan = 'relaxed_order'")
            await conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(limit * 2, 1000))}")
            return await conn.fetch(
                sql, as_vector(embedding), tenant_id, self.embedder.model, bot_id, limit
            )

    async def _text(
        self,
        conn: Connection,
        tenant_id: UUID,
        bot_id: UUID | None,
        query: str,
        limit: int,
    ) -> list[asyncpg.Record]:
        """BM25-style ranking (:mod:`rag.lexical`): idf-weighted stemmed terms, numbers and
        adjacent-word phrases, over a capped set of candidates."""
        analysed = await conn.fetch(
            lexical.ANALYSE_SQL, self.settings.ts_config, query, tenant_id, self.settings.df_cap
        )
        if not analysed:
            return []
        n_chunks = await self._chunk_count(conn, tenant_id)
        found = lexical.plan(
            [(r["lexeme"], int(r["position"]), int(r["df"])) for r in analysed],
            n_chunks,
            df_cap=self.settings.df_cap,
        )
        if found is None:
            return []
        terms = found.terms
        return await conn.fetch(
            lexical.rank_sql(_BOT_FILTER),
            found.select,
            tenant_id,
            bot_id,
            [t.query for t in terms],
            [t.weight for t in terms],
            [t.single for t in terms],
            self.settings.candidate_cap,
            limit,
            found.total_weight,
        )

    async def _chunk_count(self, conn: Connection, tenant_id: UUID) -> int:
        """The tenant's number of chunks (BM25's N), cached for a minute: idf barely moves
        while documents are added, and counting 100,000 rows on every question would not."""
        now = time.monotonic()
        cached = self._counts.get(tenant_id)
        if cached is not None and now - cached[1] < COUNT_TTL_S:
            return cached[0]
        count = int(await conn.fetchval(lexical.COUNT_SQL, tenant_id))
        self._counts[tenant_id] = (count, now)
        self._counts.move_to_end(tenant_id)
        while len(self._counts) > COUNT_CACHE:
            self._counts.popitem(last=False)
        return count


def _passage(entry: dict[str, Any]) -> Passage:
    row = entry["row"]
    meta = row["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) else dict(meta or {})
    return Passage(
        chunk_id=row["id"],
        document_id=row["document_id"],
        content=row["content"],
        title=row["title"] or meta.get("title") or "",
        location=meta.get("location"),
        url=meta.get("url"),
        score=entry["score"],
        similarity=entry.get("similarity"),
        text_rank=entry.get("text_rank"),
        coverage=entry.get("coverage", 0.0),
        relevance=max(entry.get("similarity") or 0.0, entry.get("coverage", 0.0)),
    )
