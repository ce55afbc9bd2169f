"""Retrieval latency at 10,000 and 100,000 chunks, and ingestion throughput of a 100-page PDF.

Latency: a synthetic corpus (documents of 100 chunks of about 80 Zipf-distributed words)
embedded with the offline embedder into the database (embedded PostgreSQL 18 + pgvector 0.8.2
unless DATABASE_URL is set). The corpus is bulk-loaded: text generation and embedding in a
worker thread, one binary ``COPY`` per batch (``DocumentStore.copy_chunks``), the GIN and HNSW
indexes dropped before the load and built after it, as a bulk import would. The same 200
queries of 3-6 words (drawn from the first 10,000 chunks) are timed end to end through
``Retriever.search`` (query embedding, SQL, fusion) for each mode at each size, after checking
that the query plans use the HNSW and GIN indexes.

Ingestion: a generated 100-page PDF (about 40 lines per page) through the whole product
pipeline: sniff + page check, queue, parse (pypdf), chunk, embed, replace chunks in one
transaction.

    python -m benchmarks.retrieval [--sizes 10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import math
import os
import random
import sys
import time
import uuid
import zlib
from collections.abc import Sequence

import asyncpg
import numpy as np

from benchmarks.rag_eval import bench_services, new_tenant
from benchmarks.report import Report, percentile, summary_ms
from rag.chunker import Chunk
from rag.embeddings import _WORD, STOPWORDS, HashingEmbedder, _stem
from rag.local_embedder import OnnxEmbedder, minilm_files
from rag.services import RagServices
from rag.store import DOCUMENT_COLUMNS, DocumentRow, as_vector
from tests.unit.rag.documents import make_pdf

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "quel", "dor", "fen", "gri", "ul", "shan",
             "bel", "tor", "ix", "pa", "run", "sel", "mon", "dra"]  # fmt: skip
CHUNKS_PER_DOCUMENT = 100
BATCH_DOCUMENTS = 20  # 2,000 chunks per COPY
# Built after the bulk load rather than updated row by row during it.
DEFERRED_INDEXES = ("chunks_tsv_idx", "chunks_hnsw_384_idx")


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


FUNCTION_WORDS = sorted(STOPWORDS)


@functools.cache
def _zipf_cumulative(ranks: int) -> list[float]:
    return list(itertools.accumulate(1 / r for r in range(1, ranks + 1)))


def zipf_words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    """Words with natural text's Zipfian frequencies (P(rank) ~ 1/rank): the 60 most frequent
    ranks are function words ("the", "of", ...), about half of all words as in English, which
    PostgreSQL's english configuration and the embedder drop; content words follow."""
    ranks = len(vocab) + 60
    cumulative = _zipf_cumulative(ranks)
    out = []
    for rank in rng.choices(range(ranks), cum_weights=cumulative, k=n):
        out.append(FUNCTION_WORDS[rank % len(FUNCTION_WORDS)] if rank < 60 else vocab[rank - 60])
    return out


class CachedHashingEmbedder:
    """The offline embedder's exact algorithm (``HashingEmbedder.embed_one``: the same features
    and the same order of floating-point operations, so the same vectors bit for bit) with each
    word's features and each feature's hash slot cached, and the counting done with numpy: a
    corpus with a closed vocabulary embeds about ten times faster. For benchmark corpora."""

    def __init__(self, embedder: HashingEmbedder) -> None:
        self.dim = embedder.dim
        self.model = embedder.model
        self._keys: dict[str, int] = {}  # feature -> id
        self._index = np.zeros(1024, dtype=np.int64)  # id -> dimension
        self._sign = np.zeros(1024)  # id -> +1 / -1
        self._words: dict[str, tuple[str, tuple[int, ...], tuple[float, ...]]] = {}
        # 1 + log(count) for counts 1, 1.25, 1.5, ... (counts are multiples of 0.25), by math.log
        # as the embedder computes it.
        self._log_table = np.array([1.0 + math.log(q / 4) if q >= 4 else 0.0 for q in range(4096)])

    def _key(self, key: str) -> int:
        found = self._keys.get(key)
        if found is None:
            digest = zlib.crc32(key.encode("utf-8"))
            found = self._keys[key] = len(self._keys)
            if found == len(self._index):  # grow by doubling
                self._index = np.concatenate([self._index, np.zeros_like(self._index)])
                self._sign = np.concatenate([self._sign, np.zeros_like(self._sign)])
            self._index[found] = digest % self.dim
            self._sign[found] = 1.0 if (digest >> 16) & 1 else -1.0
        return found

    def _word(self, word: str) -> tuple[str, tuple[int, ...], tuple[float, ...]]:
        found = self._words.get(word)
        if found is None:
            stem = _stem(word)
            padded = f"<{stem}>"
            keys = ["w:" + stem] + [
                "c:" + padded[i : i + n]
                for n in (3, 4, 5)
                for i in range(max(1, len(padded) - n + 1))
            ]
            ids = tuple(self._key(k) for k in keys)
            found = self._words[word] = (stem, ids, (1.0,) + (0.25,) * (len(keys) - 1))
        return found

    def embed_one(self, text: str) -> list[float]:
        return self.embed_many([text])[0]

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        ids: list[int] = []
        weights: list[float] = []
        lengths: list[int] = []
        for text in texts:
            words = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]
            start = len(ids)
            stems = []
            for word in words:
                stem, word_ids, word_weights = self._word(word)
                stems.append(stem)
                ids.extend(word_ids)
                weights.extend(word_weights)
            for first, second in zip(stems, stems[1:], strict=False):
                ids.append(self._key(f"b:{first} {second}"))
                weights.append(0.5)
            lengths.append(len(ids) - start)
        n_keys = len(self._keys) + 1
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        # Counts per (text, feature): sums of multiples of 0.25, exact in any order. Then the
        # features of each text in order of first appearance, as the embedder's dict has them.
        combined = owner * n_keys + np.array(ids, dtype=np.int64)
        unique, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        counts = np.bincount(inverse, weights=np.array(weights))
        order = np.argsort(first, kind="stable")
        unique, counts = unique[order], counts[order]
        text_of, key = unique // n_keys, unique % n_keys
        quarters = np.minimum((counts * 4).astype(np.int64), len(self._log_table) - 1)
        values = np.where(counts >= 1, self._log_table[quarters], counts) * self._sign[key]
        flat = np.zeros(len(texts) * self.dim)
        # ufunc.at adds one value at a time, in order: the embedder's sequence of float adds.
        np.add.at(flat, text_of * self.dim + self._index[key], values)
        vectors = flat.reshape(len(texts), self.dim)
        if sys.version_info < (3, 12):
            # Python 3.11's sum() adds floats one by one, as cumsum does.
            squares = np.cumsum(vectors * vectors, axis=1)[:, -1]
        else:  # later versions compensate the rounding: ask them
            squares = np.array([sum(v * v for v in row) for row in vectors.tolist()])
        norms = np.sqrt(squares)
        norms[norms == 0] = 1.0  # a text of stopwords only: the zero vector, as it is
        out: list[list[float]] = (vectors / norms[:, None]).tolist()
        return out


def corpus_batch(
    rng: random.Random,
    vocab: list[str],
    embedder: CachedHashingEmbedder,
    documents: Sequence[DocumentRow],
) -> list[tuple[DocumentRow, Chunk, list[float]]]:
    """Chunks of ``documents`` with their vectors (CPU work: run it in a worker thread)."""
    chunks = []
    for document in documents:
        for i in range(CHUNKS_PER_DOCUMENT):
            text = " ".join(zipf_words(rng, vocab, 80)) + "."
            chunk = Chunk(ordinal=i, content=text, token_count=len(text) // 4,
                          heading_path=(f"Part {i}",))  # fmt: skip
            chunks.append((document, chunk))
    vectors = embedder.embed_many([chunk.content for _, chunk in chunks])
    return [
        (document, chunk, vector) for (document, chunk), vector in zip(chunks, vectors, strict=True)
    ]


async def create_documents(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, first: int, count: int
) -> list[DocumentRow]:
    """``count`` ready text documents, numbered from ``first``, in one statement."""
    rows = await pool.fetch(
        f"""INSERT INTO documents (tenant_id, source_kind, title, mime_type, status, metadata)
            SELECT $1, 'text', 'Document ' || d, 'text/plain', 'ready',
                   jsonb_build_object('chunk_count', $4::int, 'ordinal', d)
            FROM generate_series($2::int, $3::int) AS d
            RETURNING {DOCUMENT_COLUMNS}""",
        tenant_id, first, first + count - 1, CHUNKS_PER_DOCUMENT,
    )  # fmt: skip
    documents = [DocumentRow.of(r) for r in rows]
    return sorted(documents, key=lambda d: int(d.metadata["ordinal"]))


async def drop_deferred_indexes(pool: asyncpg.Pool) -> list[str]:
    """Drop the full-text and HNSW indexes of chunks; their definitions, to build them again."""
    rows = await pool.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' "
        "AND indexname = ANY($1::text[]) ORDER BY indexname",
        list(DEFERRED_INDEXES),
    )
    for row in rows:
        await pool.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def build_indexes(pool: asyncpg.Pool, definitions: Sequence[str]) -> None:
    async with pool.acquire() as conn:
        # An HNSW build is fast while its graph fits in maintenance_work_mem.
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        for definition in definitions:
            await conn.execute(definition)
        await conn.execute("ANALYZE chunks")
        await conn.execute("ANALYZE documents")


class Corpus:
    """The benchmark's chunks, grown in steps (10,000, then 100,000) in one database."""

    def __init__(self, services: RagServices, pool: asyncpg.Pool, tenant_id: uuid.UUID) -> None:
        self.services = services
        self.pool = pool
        self.tenant_id = tenant_id
        self.rng = random.Random(7)
        self.vocab = vocabulary(self.rng)
        self.embedder = CachedHashingEmbedder(HashingEmbedder(384))
        self.documents = 0
        self.texts: list[str] = []  # the first 10,000 chunks' texts, to draw queries from

    async def grow(self, n_chunks: int) -> dict[str, float]:
        """Load documents until there are ``n_chunks`` chunks; timings of each phase."""
        if self.services.embedder.model != self.embedder.model:
            raise RuntimeError("the benchmark corpus needs the offline 384-dimension embedder")
        wanted = max(1, n_chunks // CHUNKS_PER_DOCUMENT) - self.documents
        started = time.perf_counter()
        definitions = await drop_deferred_indexes(self.pool)
        documents = await create_documents(self.pool, self.tenant_id, self.documents, wanted)
        batches = [documents[i : i + BATCH_DOCUMENTS]
                   for i in range(0, len(documents), BATCH_DOCUMENTS)]  # fmt: skip

        def make(batch: Sequence[DocumentRow]) -> list[tuple[DocumentRow, Chunk, list[float]]]:
            return corpus_batch(self.rng, self.vocab, self.embedder, batch)

        # Embed batch i + 1 in a worker thread while batch i is copied into the database.
        pending = asyncio.create_task(asyncio.to_thread(make, batches[0])) if batches else None
        for i in range(len(batches)):
            assert pending is not None
            items = await pending
            pending = (
                asyncio.create_task(asyncio.to_thread(make, batches[i + 1]))
                if i + 1 < len(batches)
                else None
            )
            if len(self.texts) < 10_000:
                self.texts.extend(chunk.content for _, chunk, _ in items)
            await self.services.documents.copy_chunks(items, embedding_model=self.embedder.model)
        loaded = time.perf_counter()
        await build_indexes(self.pool, definitions)
        built = time.perf_counter()
        self.documents += wanted
        return {
            "chunks_added": wanted * CHUNKS_PER_DOCUMENT,
            "copy_seconds": round(loaded - started, 1),
            "index_seconds": round(built - loaded, 1),
            "seconds": round(built - started, 1),
            "chunks_per_s": round(wanted * CHUNKS_PER_DOCUMENT / (loaded - started), 0),
        }


async def query_plans(
    services: RagServices, pool: asyncpg.Pool, tenant_id: uuid.UUID, query: str
) -> dict[str, str]:
    """EXPLAIN of the retriever's vector and full-text statements (same shapes, same settings)."""
    [vector] = await services.embedder.embed([query])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL hnsw.iterative_scan = 'relaxed_order'")
        await conn.execute("SET LOCAL hnsw.ef_search = 80")
        vector_rows = await conn.fetch(
            """EXPLAIN SELECT c.id FROM chunks c
               JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
               WHERE c.embedding_dim = 384 AND c.tenant_id = $2 AND c.embedding_model = $3
               ORDER BY c.embedding::vector(384) <=> $1::vector(384) LIMIT 40""",
            as_vector(vector), tenant_id, services.embedder.model,
        )  # fmt: skip
        # The full-text leg's candidate scan (rag.lexical.rank_sql): the query's lexemes ORed.
        text_rows = await conn.fetch(
            """EXPLAIN SELECT c.id FROM chunks c
               JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
               WHERE c.tsv @@ replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')
                     ::tsquery AND c.tenant_id = $2
               LIMIT 1000""",
            query, tenant_id,
        )  # fmt: skip
    return {
        "vector": "\n".join(r[0] for r in vector_rows),
        "text": "\n".join(r[0] for r in text_rows),
    }


async def text_matches(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, queries: Sequence[str]
) -> dict[str, float]:
    """How many chunks contain any of the query's words (what the old full-text leg ranked in
    full; the BM25 leg ranks at most PARLEY_RAG_TEXT_CANDIDATE_CAP of them, found through the
    query's selective words)."""
    counts = []
    for query in queries:
        counts.append(
            await pool.fetchval(
                """SELECT count(*) FROM chunks c,
                     (SELECT replace(websearch_to_tsquery('english', $1)::text, ' & ', ' | ')
                             ::tsquery AS q) AS query
                   WHERE c.tsv @@ query.q AND c.tenant_id = $2""",
                query,
                tenant_id,
            )  # fmt: skip
        )
    return {"queries": len(counts), "p50": percentile(counts, 50), "p95": percentile(counts, 95)}


async def measure_query_embedding(queries: Sequence[str]) -> dict[str, float]:
    """The local semantic embedder's time per query (it runs in a worker thread): what a
    hybrid search with it adds to the hashing embedder's figures above."""
    embedder = OnnxEmbedder(minilm_files())
    await asyncio.to_thread(embedder.load)
    for q in queries[:10]:
        await embedder.embed([q])
    durations = []
    for q in queries:
        started = time.perf_counter()
        await embedder.embed([q])
        durations.append(time.perf_counter() - started)
    return summary_ms(durations)


def make_queries(texts: Sequence[str], n_queries: int) -> list[str]:
    """``n_queries`` runs of 3-6 consecutive words of the corpus's chunks (seeded)."""
    rng = random.Random(11)
    queries = []
    for _ in range(n_queries):
        words = rng.choice(texts).rstrip(".").split()
        start = rng.randrange(0, len(words) - 6)
        queries.append(" ".join(words[start : start + rng.randint(3, 6)]))
    return queries


async def measure_queries(
    services: RagServices, tenant_id: uuid.UUID, queries: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, list[float]]]:
    summaries, durations_ms = {}, {}
    for mode in ("vector", "text", "hybrid"):
        for q in queries[:10]:  # warm the caches and the prepared statements
            await services.retriever.search(tenant_id, q, mode=mode)
        durations = []
        for q in queries:
            started = time.perf_counter()
            await services.retriever.search(tenant_id, q, mode=mode)
            durations.append(time.perf_counter() - started)
        summaries[mode] = summary_ms(durations)
        durations_ms[mode] = [d * 1000 for d in durations]
    return summaries, durations_ms


async def measure_ingestion(services: RagServices, tenant_id: uuid.UUID) -> dict[str, object]:
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
        "embedder": services.embedder.model,
        "pages": 100,
        "bytes": len(pdf),
        "seconds": round(elapsed, 2),
        "pages_per_s": round(100 / elapsed, 1),
        "chunks": document.metadata.get("chunk_count", 0),
    }


def uses_indexes(plans: dict[str, str]) -> dict[str, bool]:
    return {"hnsw": "chunks_hnsw_384_idx" in plans["vector"],
            "gin": "chunks_tsv_idx" in plans["text"]}  # fmt: skip


async def run(sizes: Sequence[int], n_queries: int) -> Report:
    results: dict[str, dict[str, object]] = {}
    series: dict[str, list[float]] = {}
    load_average = [round(os.getloadavg()[0], 1)]
    started = time.perf_counter()
    # The synthetic corpus is embedded with the hashing embedder (100,000 chunks through the
    # local model would take hours on 2 cores); the local model's query time is measured apart.
    async with bench_services(rag_embedder="offline") as (services, pool):
        tenant_id = await new_tenant(pool)
        corpus = Corpus(services, pool, tenant_id)
        queries: list[str] = []
        for size in sorted(sizes):
            loading = await corpus.grow(size)
            chunks = int(await pool.fetchval("SELECT count(*) FROM chunks"))
            queries = queries or make_queries(corpus.texts, n_queries)
            plans = await query_plans(services, pool, tenant_id, queries[0])
            latency, durations = await measure_queries(services, tenant_id, queries)
            matches = await text_matches(pool, tenant_id, queries[:50])
            results[str(size)] = {"chunks": chunks, "load": loading, "latency": latency,
                                  "indexes_used": uses_indexes(plans), "plans": plans,
                                  "text_matches": matches}  # fmt: skip
            series[f"hybrid, {chunks:,} chunks"] = durations["hybrid"]
            print(f"{chunks} chunks: load {loading}, {latency}, {uses_indexes(plans)}")
        embedding = await measure_query_embedding(queries)
    ingestion = {}
    for embedder in ("offline", "local"):
        async with bench_services(rag_embedder=embedder) as (services, pool):
            ingestion[embedder] = await measure_ingestion(services, await new_tenant(pool))
    load_average.append(round(os.getloadavg()[0], 1))
    elapsed = time.perf_counter() - started
    draw(series)
    rows = []
    for key, result in results.items():
        latency = result["latency"]
        assert isinstance(latency, dict)
        for mode, s in latency.items():
            rows.append([f"{int(key):,}", mode, s["n"], s["p50_ms"], s["p95_ms"], s["p99_ms"]])
    notes = [
        "Latency is end to end through Retriever.search: hashing query embedding, SQL "
        "(HNSW with iterative scan; BM25-style full text: lexeme analysis with capped document "
        "frequencies over the GIN index, then at most 1,000 candidates ranked), RRF fusion; "
        f"the same {n_queries} queries at every size.",
        f"The local semantic embedder (all-MiniLM-L6-v2 int8, one thread) takes "
        f"{embedding['p50_ms']} ms per query at the median, {embedding['p95_ms']} ms at p95: "
        "add it to the hybrid figures for the default embedder.",
    ]
    for key, result in results.items():
        load, matches = result["load"], result["text_matches"]
        assert isinstance(load, dict)
        assert isinstance(matches, dict)
        notes.append(
            f"{int(key):,} chunks: loading {load['chunks_added']:,} chunks (generate, embed, "
            f"COPY) took {load['copy_seconds']} s ({load['chunks_per_s']:,.0f} chunks/s), "
            f"building the GIN and HNSW indexes {load['index_seconds']} s; plans use HNSW / GIN: "
            f"{result['indexes_used']}; a query's full-text leg matches (and ranks) "
            f"{matches['p50']:,.0f} chunks at the median, {matches['p95']:,.0f} at p95."
        )
    for embedder, found in ingestion.items():
        notes.append(
            f"Ingestion of a 100-page PDF through the product pipeline with the {embedder} "
            f"embedder ({found['embedder']}; {found['bytes']:,} bytes, {found['chunks']} "
            f"chunks): {found['seconds']} s, {found['pages_per_s']} pages/s (parse with "
            "pdfplumber, chunk, embed, store)."
        )
    notes.append(
        f"The whole run took {elapsed:.0f} s. Machine load average (1 min) at the start and the "
        f"end: {load_average[0]} and {load_average[-1]} (other work shared these cores)."
    )
    return Report(
        name="retrieval",
        title="Retrieval latency by corpus size; ingestion of a 100-page PDF",
        columns=["chunks", "mode", "queries", "p50 ms", "p95 ms", "p99 ms"],
        rows=rows,
        data={
            "sizes": results,
            "ingestion": ingestion,
            "local_query_embedding": embedding,
            "queries": n_queries,
            "seconds": round(elapsed, 1),
            "load_average": load_average,
        },  # fmt: skip
        notes=notes,
    )


def draw(series: dict[str, list[float]]) -> None:
    from benchmarks import plots

    plots.latency_cdf("retrieval_cdf", "Hybrid retrieval latency CDF", series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="comma-separated corpus sizes in chunks"
    )
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    asyncio.run(run(sizes, args.queries)).save()


if __name__ == "__main__":
    main()
