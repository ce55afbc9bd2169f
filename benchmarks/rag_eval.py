"""Retrieval quality and refusals on two labelled knowledge bases, per embedder.

- ``benchmarks/data/rag_eval.json`` (the *tuning* set): 24 documents of a fictional outdoor
  shop, 37 answerable questions and 8 it cannot answer. The relevance thresholds of
  ``rag.retriever.DEFAULT_THRESHOLDS`` were calibrated on it (``--calibrate`` prints the best
  relevance of each answerable and unanswerable question).
- ``benchmarks/data/rag_eval_heldout.json`` (the *held-out* set, never tuned on): 16 documents
  of a leisure centre with near-duplicates (current vs archived prices, summer vs winter hours),
  tables in PDF and DOCX, a long FAQ that mentions everything without details, and 51
  questions of six kinds (direct, paraphrase, table, near_duplicate, two_document, unanswerable).

Every document goes through the real pipeline (sniffing, parsing, chunking, embedding,
PostgreSQL + pgvector) on the embedded database unless DATABASE_URL is set; each question
through ``Retriever.retrieve_parts``, the grounded brain's search (one search per part of a
two-part question, then the relevance threshold). Per question kind and embedder:

- hit@1: the first passage comes from a labelled document;
- hit@5: every labelled document is among the first five passages (both, for two-document
  questions);
- MRR@10: the mean of 1 / rank of the first passage from a labelled document;
- refused: unanswerable questions whose search is "no match" (the model is told so);
- wrongly refused: answerable questions whose search is "no match".

    python -m benchmarks.rag_eval [--embedders offline,local] [--calibrate]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import textwrap
import time
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
from tests.unit.rag.documents import make_docx, make_html, make_layout_pdf, make_markdown, make_pdf
from voice_server.db.pool import create_pool

DATA = Path(__file__).resolve().parent / "data"
TUNING = DATA / "rag_eval.json"
HELDOUT = DATA / "rag_eval_heldout.json"
EMBEDDERS = {"offline": "hashing (lexical)", "local": "all-MiniLM-L6-v2 int8"}


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
    """A document in its format; a section is [heading, paragraphs] or [heading, paragraphs,
    table rows] (tables: PDF inline, DOCX at the end, as ``make_docx`` writes them)."""
    sections = [(s[0], s[1]) for s in doc["sections"]]
    match doc["format"]:
        case "md":
            return make_markdown(doc["title"], sections)
        case "html":
            return make_html(doc["title"], sections)
        case "docx":
            return make_docx(doc["title"], sections, table=doc.get("table", ()))
        case _ if any(len(s) > 2 for s in doc["sections"]):
            return make_layout_pdf(
                doc["title"], [(s[0], s[1], s[2] if len(s) > 2 else []) for s in doc["sections"]]
            )
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


def questions(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Both files' questions in one shape: text, labelled documents, kind."""
    out = []
    for item in data["questions"]:
        if "docs" in item:
            out.append(item)
        else:
            docs = [item["doc"]] if item.get("doc") else []
            kind = "answerable" if docs else "unanswerable"
            out.append({"q": item["q"], "docs": docs, "kind": kind})
    return out


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["docs"]]
    unanswerable = [r for r in rows if not r["docs"]]
    out: dict[str, Any] = {"n": len(rows)}
    if answerable:
        n = len(answerable)
        out["hit@1"] = round(sum(r["rank"] == 1 for r in answerable) / n, 3)
        out["hit@5"] = round(sum(r["all_in_5"] for r in answerable) / n, 3)
        out["mrr@10"] = round(sum(1 / r["rank"] for r in answerable if r["rank"]) / n, 3)
        out["wrongly_refused"] = f"{sum(not r['matched'] for r in answerable)}/{n}"
    if unanswerable:
        out["refused"] = f"{sum(not r['matched'] for r in unanswerable)}/{len(unanswerable)}"
    return out


async def run_corpus(path: Path, embedder: str) -> dict[str, Any]:
    data = json.loads(await asyncio.to_thread(path.read_text))
    async with bench_services(rag_top_k=10, rag_embedder=embedder) as (services, pool):
        tenant_id = await new_tenant(pool)
        started = time.perf_counter()
        ids = await ingest_all(services, tenant_id, data["documents"])
        ingest_s = time.perf_counter() - started
        chunks = await pool.fetchval("SELECT count(*) FROM chunks")
        model = services.embedder.model
        threshold = services.retriever.threshold
        rows = []
        latencies = []
        for item in questions(data):
            started = time.perf_counter()
            found = await services.retriever.retrieve_parts(tenant_id, item["q"])
            latencies.append(time.perf_counter() - started)
            keys = [ids[p.document_id] for p in found.passages]
            ranks = [keys.index(d) + 1 for d in item["docs"] if d in keys]
            first = min(ranks) if ranks else None
            rows.append({
                **item, "rank": first if first and first <= 10 else None,
                "all_in_5": bool(item["docs"]) and all(d in keys[:5] for d in item["docs"]),
                "matched": found.matched, "best": round(found.best_relevance, 3),
                "sim": round(max((p.similarity or 0 for p in found.passages), default=0), 3),
                "cov": round(max((p.coverage for p in found.passages), default=0), 3),
                "top": keys[:3],
            })  # fmt: skip
    kinds = sorted({r["kind"] for r in rows})
    return {
        "embedder": embedder,
        "model": model,
        "threshold": threshold,
        "documents": len(data["documents"]),
        "chunks": chunks,
        "ingest_s": round(ingest_s, 2),
        "search_ms_p50": round(sorted(latencies)[len(latencies) // 2] * 1000, 1),
        "all": summarise(rows),
        "by_kind": {k: summarise([r for r in rows if r["kind"] == k]) for k in kinds},
        "questions": rows,
    }


def _row(corpus: str, embedder: str, kind: str, s: dict[str, Any]) -> list[Any]:
    return [corpus, embedder, kind, s["n"], s.get("hit@1", "-"), s.get("hit@5", "-"),
            s.get("mrr@10", "-"), s.get("refused", "-"), s.get("wrongly_refused", "-")]  # fmt: skip


async def evaluate(embedders: Sequence[str], calibrate: bool, corpora: Sequence[str]) -> Report:
    results: dict[str, dict[str, Any]] = {}
    table: list[list[Any]] = []
    for corpus, path in (("tuning", TUNING), ("held-out", HELDOUT)):
        if corpus not in corpora:
            continue
        for embedder in embedders:
            result = await run_corpus(path, embedder)
            results[f"{corpus}/{embedder}"] = result
            table.append(_row(corpus, embedder, "all", result["all"]))
            if corpus == "held-out":
                for kind, summary in result["by_kind"].items():
                    table.append(_row(corpus, embedder, kind, summary))
            if calibrate:
                for r in sorted(result["questions"], key=lambda r: (bool(r["docs"]), r["best"])):
                    label = "answerable" if r["docs"] else "unanswerable"
                    print(corpus, embedder, label, r["best"], r["sim"], r["cov"], r["q"])
    notes = [
        f"{name}: {r['documents']} documents, {r['chunks']} chunks, ingested in {r['ingest_s']} s; "
        f"model {r['model']}, relevance threshold {r['threshold']}, search p50 "
        f"{r['search_ms_p50']} ms"
        for name, r in results.items()
    ]
    notes.append(
        "hit@5 counts a two-document question only when both documents are in the first five "
        "passages. Refusal = the search's best relevance (max of cosine similarity and lexical "
        "coverage) is under the threshold, so the model is told nothing matches."
    )
    notes.append(
        "The thresholds were calibrated on the tuning set only; the held-out set was written "
        "before and not changed after its first run."
    )
    return Report(
        name="rag_eval",
        title="Retrieval quality and refusals per embedder (hybrid search + threshold)",
        columns=[
            "corpus",
            "embedder",
            "kind",
            "questions",
            "hit@1",
            "hit@5",
            "MRR@10",
            "refused",
            "wrongly refused",
        ],  # fmt: skip
        rows=table,
        data={"results": results, "embedders": {e: EMBEDDERS.get(e, e) for e in embedders}},
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedders", default="offline,local")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--corpora", default="tuning,held-out")
    args = parser.parse_args()
    report = asyncio.run(
        evaluate(args.embedders.split(","), args.calibrate, args.corpora.split(","))
    )
    report.save()


if __name__ == "__main__":
    main()
