"""Retrieval latency over 10,000 chunks and ingestion throughput of a 100-page PDF.

Latency: 10,000 chunks (100 documents x 100 chunks of about 80 words) embedded with the offline
embedder into the database (embedded PostgreSQL 18 + pgvector 0.8.2 unless DATABASE_URL is
set); 300 queries of 3-6 words drawn from the corpus, timed end to end through
``Retriever.search`` (query embedding, SQL, fusion) for each mode. The vector query's plan is
checked for the partial HNSW index.

Ingestion: a generated 100-page PDF (about 40 lines per page) through the whole pipeline:
sniff + page check, queue, parse (pypdf), chunk, embed, replace chunks in one transaction.

    python -m benchmarks.retrieval [--chunks 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
import uuid

import asyncpg

from benchmarks.rag_eval import bench_services, new_tenant
from benchmarks.report import Report, summary_ms
from rag.chunker import Chunk
from rag.embeddings import STOPWORDS
from rag.services import RagServices
from rag.sources.drive_sync import content_hash
from rag.store import as_vector
from tests.unit.rag.documents import make_pdf

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "quel", "dor", "fen", "gri", "ul", "shan",
             "bel", "tor", "ix", "pa", "run", "sel", "mon", "dra"]  # fmt: skip


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


FUNCTION_WORDS = sorted(STOPWORDS)


def zipf_words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    """Words with natural text's Zipfian frequencies (P(rank) ~ 1/rank): the 60 most frequent
    ranks are function words ("the", "of", ...), about half of all words as in English, which
    PostgreSQL's english configuration and the embedder drop; content words follow."""
    ranks = len(vocab) + 60
    cumulative = list(itertools.accumulate(1 / r for r in range(1, ranks + 1)))
    out = []
    for rank in rng.choices(range(ranks), cum_weights=cumulative, k=n):
        out.append(FUNCTION_WORDS[rank % len(FUNCTION_WORDS)] if rank < 60 else vocab[rank - 60])
    return out


async def load_corpus(
    services: RagServices, pool: asyncpg.Pool, tenant_id: uuid.UUID, n_chunks: int
) -> list[str]:
    rng = random.Random(7)
    vocab = vocabulary(rng)
    per_doc = 100
    texts: list[str] = []
    for d in range(max(1, n_chunks // per_doc)):
        body = f"synthetic document {d}".encode()
        await services.documents.create(
            tenant_id=tenant_id, bot_id=None, source_kind="text", source_uri=None,
            title=f"Document {d}", mime_type="text/plain", content=body,
            content_hash=content_hash(body),
        )  # fmt: skip
        document = await services.documents.claim_next()
        assert document is not None
        chunk_texts = [" ".join(zipf_words(rng, vocab, 80)) + "." for _ in range(per_doc)]
        chunks = [Chunk(ordinal=i, content=t, token_count=len(t) // 4, heading_path=(f"Part {i}",))
                  for i, t in enumerate(chunk_texts)]  # fmt: skip
        vectors = await services.embedder.embed(chunk_texts)
        await services.documents.replace_chunks(
            document, chunks, vectors, embedding_model=services.embedder.model,
            title=document.title, page_count=None, mime_type="text/plain",
        )  # fmt: skip
        texts.extend(chunk_texts)
    await pool.execute("ANALYZE chunks")
    return texts


async def vector_plan(services: RagServices, pool: asyncpg.Pool, tenant_id: uuid.UUID) -> str:
    [vector] = await services.embedder.embed(["probe"])
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """EXPLAIN SELECT c.id FROM chunks c
               WHERE c.embedding_dim = 384 AND c.tenant_id = $2 AND c.embedding_model = $3
               ORDER BY c.embedding::vector(384) <=> $1::vector(384) LIMIT 40""",
            as_vector(vector), tenant_id, services.embedder.model,
        )  # fmt: skip
    return "\n".join(r[0] for r in rows)


async def measure_queries(
    services: RagServices, tenant_id: uuid.UUID, texts: list[str], n_queries: int
) -> dict[str, dict[str, float]]:
    rng = random.Random(11)
    queries = []
    for _ in range(n_queries):
        words = rng.choice(texts).rstrip(".").split()
        start = rng.randrange(0, len(words) - 6)
        queries.append(" ".join(words[start : start + rng.randint(3, 6)]))
    out = {}
    for mode in ("vector", "text", "hybrid"):
        for q in queries[:10]:  # warm the caches and the prepared statements
            await services.retriever.search(tenant_id, q, mode=mode)  # type: ignore[arg-type]
        durations = []
        for q in queries:
            started = time.perf_counter()
            await services.retriever.search(tenant_id, q, mode=mode)  # type: ignore[arg-type]
            durations.append(time.perf_counter() - started)
        out[mode] = summary_ms(durations)
    return out


async def measure_ingestion(services: RagServices, tenant_id: uuid.UUID) -> dict[str, float]:
    rng = random.Random(3)
    vocab = vocabulary(rng, 3000)
    pages = [[" ".join(zipf_words(rng, vocab, 12)).capitalize() + "." for _ in range(40)]
             for _ in range(100)]  # fmt: skip
    pdf = make_pdf(pages, title="Hundred pages")
    started = time.perf_counter()
    submitted = await services.ingestion.add_bytes(
        tenant_id=tenant_id, bot_id=None, data=pdf, source_kind="upload", source_uri=None,
        title=None,
    )  # fmt: skip
    while await services.ingestion.work_once():
        pass
    elapsed = time.perf_counter() - started
    document = await services.documents.get(tenant_id, submitted.document.id)
    if document is None or document.status != "ready":
        raise RuntimeError(f"the PDF did not ingest: {document and document.error}")
    return {
        "pages": 100,
        "bytes": len(pdf),
        "seconds": round(elapsed, 2),
        "pages_per_s": round(100 / elapsed, 1),
        "chunks": document.metadata.get("chunk_count", 0),
    }


async def run(n_chunks: int, n_queries: int) -> Report:
    async with bench_services() as (services, pool):
        tenant_id = await new_tenant(pool)
        loading = time.perf_counter()
        texts = await load_corpus(services, pool, tenant_id, n_chunks)
        load_s = time.perf_counter() - loading
        plan = await vector_plan(services, pool, tenant_id)
        latency = await measure_queries(services, tenant_id, texts, n_queries)
        ingestion = await measure_ingestion(services, tenant_id)
    uses_index = "chunks_hnsw_384_idx" in plan
    rows = [[mode, s["n"], s["p50_ms"], s["p95_ms"], s["p99_ms"]] for mode, s in latency.items()]
    return Report(
        name="retrieval",
        title=f"Retrieval latency over {len(texts):,} chunks; ingestion of a 100-page PDF",
        columns=["mode", "queries", "p50 ms", "p95 ms", "p99 ms"],
        rows=rows,
        data={
            "latency": latency,
            "chunks": len(texts),
            "load_seconds": round(load_s, 1),
            "vector_plan": plan,
            "hnsw_index_used": uses_index,
            "ingestion": ingestion,
        },  # fmt: skip
        notes=[
            f"Vector query plan uses the partial HNSW index: {uses_index}.",
            "Latency is end to end through Retriever.search: offline query embedding, SQL "
            "(HNSW with iterative scan, ts_rank_cd over the GIN index), RRF fusion.",
            f"Ingestion of a 100-page PDF ({ingestion['bytes']:,} bytes, {ingestion['chunks']} "
            f"chunks): {ingestion['seconds']} s, {ingestion['pages_per_s']} pages/s "
            "(parse, chunk, embed, store).",
            f"Loading {len(texts):,} chunks (embedding + insert) took {load_s:.1f} s.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.chunks, args.queries)).save()


if __name__ == "__main__":
    main()
