"""The local semantic embedder: pinned files verified before loading, meaning over words."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.errors import EmbedderUnavailable
from rag.local_embedder import OnnxEmbedder, minilm_files, verify
from rag.rerank import HttpReranker


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_a_paraphrase_is_nearer_than_a_passage_sharing_its_words() -> None:
    embedder = OnnxEmbedder(minilm_files())
    question, paraphrase, same_words = await embedder.embed([
        "How much must I leave as a security payment to hire a canoe?",
        "Canadian canoe: 20 EUR per hour, deposit 60 EUR.",
        "Payment must be made before you leave the car park.",
    ])  # fmt: skip
    assert len(question) == embedder.dim == 384
    assert math.isclose(math.sqrt(sum(v * v for v in question)), 1.0, rel_tol=1e-5)
    assert _cosine(question, paraphrase) > _cosine(question, same_words) + 0.1
    assert embedder.model == "all-MiniLM-L6-v2-onnx-int8"
    assert await embedder.embed([]) == []


def test_a_model_file_that_changed_is_refused(tmp_path: Path) -> None:
    files = minilm_files()
    copy = tmp_path / "model.onnx"
    shutil.copyfile(files.onnx, copy)
    verify(copy, files.onnx_sha256)  # the pinned file passes
    with copy.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(EmbedderUnavailable, match="SHA-256"):
        verify(copy, files.onnx_sha256)
    tampered = OnnxEmbedder(replace(files, onnx=copy))
    with pytest.raises(EmbedderUnavailable, match="refusing to load"):
        tampered.load()


async def test_the_http_reranker_reads_a_rerank_reply_and_squashes_logits() -> None:
    import httpx

    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        results = [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": -2.0}]
        return httpx.Response(200, json={"results": results})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    reranker = HttpReranker(base_url="http://rerank.test/v1", model="m", client=client)
    scores = await reranker.score("q", ["a", "b"])
    await reranker.aclose()
    assert scores[1] == 0.9
    assert 0.0 < scores[0] < 0.2  # a logit of -2 through the sigmoid
    assert b'"documents":["a","b"]' in seen[0]
