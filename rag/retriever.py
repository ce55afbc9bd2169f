"""Hybrid retrieval: pgvector (HNSW, cosine) and PostgreSQL full text, fused by reciprocal rank.

Every query is scoped to one tenant and to the documents a bot may see (its own and, unless the
bot's ``knowledge_scope`` is ``"bot"``, the tenant's shared ones, ``documents.bot_id IS NULL``).
Vector search only compares vectors of the current embedding model, so that during a background
re-embed after a model change the chunks not yet re-embedded are found by full text alone, never
by a meaningless distance.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rag.embeddings import Embedder
from rag.metrics import RagMetrics
from rag.store import as_vector
from voice_server.brain import Citation

Connection = asyncpg.Connection | PoolConnectionProxy
Mode = Literal["hybrid", "vector", "text"]

# Dimensions with a partial HNSW index in 0001_initial_schema.sql.
INDEXED_DIMS = (384, 768, 1024, 1536)
RRF_K = 60
# Whether bot $4 may see the tenant's shared documents: not when its knowledge_scope is "bot"
# (voice_server.bot_config). Uncorrelated, so PostgreSQL evaluates it once per query.
_SHARED = """NOT EXISTS (SELECT 1 FROM bots b WHERE b.tenant_id = $%d AND b.id = $4
                         AND b.config ->> 'knowledge_scope' = 'bot')"""


@dataclass(frozen=True)
class Passage:
    chunk_id: UUID
    document_id: UUID
    content: str
    title: str
    location: str | None
    url: str | None
    score: float  # the fused RRF score
    similarity: float | None  # cosine similarity, when found by vector search
    text_rank: float | None  # ts_rank_cd, when found by full text

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
class RetrievalSettings:
    top_k: int = 5
    candidates: int = 40
    min_score: float = 0.15
    ts_config: str = "english"


class Retriever:
    def __init__(self, pool: asyncpg.Pool, embedder: Embedder, settings: RetrievalSettings) -> None:
        self.pool = pool
        self.embedder = embedder
        self.settings = settings
        self.metrics: RagMetrics | None = None

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
        query = query.strip()
        if not query:
            return []
        started = time.perf_counter()
        k = top_k or self.settings.top_k
        n = max(self.settings.candidates, k)
        vector_hits: list[asyncpg.Record] = []
        text_hits: list[asyncpg.Record] = []
        async with self.pool.acquire() as conn:
            if mode in ("hybrid", "vector"):
                [embedding] = await self.embedder.embed([query])
                vector_hits = await self._vector(conn, tenant_id, bot_id, embedding, n)
                vector_hits = [r for r in vector_hits if r["similarity"] >= self.settings.min_score]
            if mode in ("hybrid", "text"):
                text_hits = await self._text(conn, tenant_id, bot_id, query, n)
        fused: dict[UUID, dict[str, Any]] = {}
        for rank, row in enumerate(vector_hits, start=1):
            entry = fused.setdefault(row["id"], {"row": row, "score": 0.0})
            entry["score"] += 1.0 / (RRF_K + rank)
            entry["similarity"] = float(row["similarity"])
        for rank, row in enumerate(text_hits, start=1):
            entry = fused.setdefault(row["id"], {"row": row, "score": 0.0})
            entry["score"] += 1.0 / (RRF_K + rank)
            entry["text_rank"] = float(row["rank"])
        ordered = sorted(fused.values(), key=lambda e: e["score"], reverse=True)[:k]
        if self.metrics is not None:
            self.metrics.search_seconds.labels(mode).observe(time.perf_counter() - started)
        return [_passage(e) for e in ordered]

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
        # websearch_to_tsquery ANDs every word; a natural question rarely has all its words in
        # one passage, so plain questions are ORed and ranked by cover density instead. Queries
        # written with search syntax (quotes, -exclusions, OR) keep their meaning.
        strict = bool(re.search(r"\"|(^|\s)-\w|\bOR\b", query))
        tsquery = (
            "websearch_to_tsquery($1::regconfig, $2)"
            if strict
            else "replace(websearch_to_tsquery($1::regconfig, $2)::text, ' & ', ' | ')::tsquery"
        )
        sql = f"""
            SELECT c.id, c.document_id, c.content, c.metadata, d.title,
                   ts_rank_cd(c.tsv, query.q, 1) AS rank
            FROM chunks c
            JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id,
                 (SELECT {tsquery} AS q) AS query
            WHERE c.tsv @@ query.q AND c.tenant_id = $3
              AND ($4::uuid IS NULL OR d.bot_id = $4 OR (d.bot_id IS NULL AND {_SHARED % 3}))
            ORDER BY rank DESC, c.id
            LIMIT $5"""
        return await conn.fetch(sql, self.settings.ts_config, query, tenant_id, bot_id, limit)


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
    )
