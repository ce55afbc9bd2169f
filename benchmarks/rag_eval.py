"""Retrieval quality on a labelled set: hit@1, hit@5 and MRR@10 for vector-only, full-text-only
and hybrid (RRF) retrieval with the offline hashing embedder.

The knowledge base (24 documents of a fictional outdoor shop, rendered as Markdown, HTML, DOCX
and PDF) and 37 questions labelled with the document that answers them are in
``benchmarks/data/rag_eval.json``. Every document goes through the real pipeline (sniffing,
parsing, chunking, embedding, PostgreSQL + pgvector), on the embedded database unless
DATABASE_URL is set.

    python -m benchmarks.rag_eval
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import textwrap
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.report import Report
from rag.services import RagServices, build_services
from tests.conftest import make_settings
from tests.support.postgres import create_database, create_template, test_server, with_database
from tests.unit.rag.documents import make_docx, make_html, make_markdown, make_pdf
from voice_server.db.pool import create_pool

DATA = Path(__file__).resolve().parent / "data" / "rag_eval.json"
MODES = ("vector", "text", "hybrid")


@asynccontextmanager
async def bench_services(**overrides: Any) -> AsyncIterator[tuple[RagServices, asyncpg.Pool]]:
    """A fresh migrated database and the knowledge services on it."""
    with test_server(os.environ.get("DATABASE_URL")) as admin_url:
        template = await create_template(admin_url)
        name = await create_database(admin_url, template=template)
        url = with_database(admin_url, name)
        # The product's pool: pgvector's codec on every connection, as in the app.
        pool = await create_pool(url, min_size=1, max_size=4, timeout_s=10)
        try:
            settings = make_settings(Path(tempfile.mkdtemp()), database_url=url, **overrides)
            yield build_services(settings, pool), pool
        finally:
            await pool.close()


async def new_tenant(pool: asyncpg.Pool) -> uuid.UUID:
    return uuid.UUID(
        str(
            await pool.fetchval(
                "INSERT INTO tenants (name, slug) VALUES ('Bench', $1) RETURNING id",
                f"bench-{uuid.uuid4().hex[:10]}",
            )
        )
    )


def render(doc: dict[str, Any]) -> bytes:
    sections = [(heading, paragraphs) for heading, paragraphs in doc["sections"]]
    match doc["format"]:
        case "md":
            return make_markdown(doc["title"], sections)
        case "html":
            return make_html(doc["title"], sections)
        case "docx":
            return make_docx(doc["title"], sections)
        case _:
            lines = [doc["title"]]
            for heading, paragraphs in sections:
                lines.append(heading)
                for paragraph in paragraphs:
                    lines += textwrap.wrap(paragraph, 90)
            return make_pdf([lines], title=doc["title"])


async def ingest_all(
    services: RagServices, tenant_id: uuid.UUID, documents: Sequence[dict[str, Any]]
) -> dict[uuid.UUID, str]:
    ids: dict[uuid.UUID, str] = {}
    for doc in documents:
        submitted = await services.ingestion.add_bytes(
            tenant_id=tenant_id, bot_id=None, data=render(doc), source_kind="upload",
            source_uri=None, title=doc["title"],
        )  # fmt: skip
        ids[submitted.document.id] = doc["key"]
    while await services.ingestion.work_once():
        pass
    for doc_id in ids:
        row = await services.documents.get(tenant_id, doc_id)
        if row is None or row.status != "ready":
            raise RuntimeError(f"document {doc_id} did not ingest: {row and row.error}")
    return ids


def score(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "hit@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 3),
        "mrr@10": round(sum(1 / r for r in ranks if r is not None) / n, 3),
    }


async def evaluate() -> Report:
    data = json.loads(DATA.read_text())
    async with bench_services(rag_top_k=10) as (services, pool):
        tenant_id = await new_tenant(pool)
        ids = await ingest_all(services, tenant_id, data["documents"])
        chunks = await pool.fetchval("SELECT count(*) FROM chunks")
        results: dict[str, dict[str, float]] = {}
        misses: dict[str, list[str]] = {}
        for mode in MODES:
            ranks: list[int | None] = []
            for item in data["questions"]:
                passages = await services.retriever.search(
                    tenant_id,
                    item["q"],
                    mode=mode,
                    top_k=10,  # type: ignore[arg-type]
                )
                keys = [ids[p.document_id] for p in passages]
                rank = keys.index(item["doc"]) + 1 if item["doc"] in keys else None
                ranks.append(rank)
                if rank != 1:
                    misses.setdefault(mode, []).append(item["q"])
            results[mode] = score(ranks)
    report = Report(
        name="rag_eval",
        title="Retrieval quality, offline hashing embedder (384 dims)",
        columns=["mode", "hit@1", "hit@5", "MRR@10"],
        rows=[[m, r["hit@1"], r["hit@5"], r["mrr@10"]] for m, r in results.items()],
        data={
            "results": results,
            "documents": len(data["documents"]),
            "questions": len(data["questions"]),
            "chunks": chunks,
            "not_first": misses,
        },  # fmt: skip
        notes=[
            f"{len(data['documents'])} generated documents (Markdown, HTML, DOCX, PDF), "
            f"{chunks} chunks, {len(data['questions'])} labelled questions; a hit is a passage "
            "of the labelled document among the top k.",
            "The offline embedder is lexical (hashed words, word pairs and character n-grams): "
            "paraphrases without shared words or word pieces are out of its reach.",
            "Vector-only mode drops hits under PARLEY_RAG_MIN_SCORE (0.15 cosine).",
        ],
    )
    return report


def main() -> None:
    report = asyncio.run(evaluate())
    report.save()


if __name__ == "__main__":
    main()
