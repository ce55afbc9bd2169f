"""The retrieval benchmark's corpus: the fast embedder must be the product's embedder exactly,
and the corpus and queries must be the same on every run."""

from __future__ import annotations

import random

from benchmarks.retrieval import (
    CachedHashingEmbedder,
    make_queries,
    uses_indexes,
    vocabulary,
    zipf_words,
)
from rag.embeddings import HashingEmbedder


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    vocab = vocabulary(rng, 500)
    return [" ".join(zipf_words(rng, vocab, 80)) + "." for _ in range(n)]


def test_the_cached_embedder_gives_the_offline_embedders_vectors_bit_for_bit() -> None:
    product = HashingEmbedder(384)
    fast = CachedHashingEmbedder(product)
    texts = [*corpus(200),
             "Refunds take 30 days; refunded items ship back free.",
             "Ünïcode wörds, l'été, naïve café — and  spaces\tand tabs",
             "the of and",  # only stopwords: a zero vector
             "x"]  # fmt: skip
    expected = [product.embed_one(t) for t in texts]
    assert fast.embed_many(texts) == expected  # one batch, cold caches
    assert [fast.embed_one(t) for t in texts] == expected  # one at a time, warm caches
    assert fast.embed_many(texts[::-1]) == expected[::-1]
    assert fast.model == product.model


def test_the_corpus_and_the_queries_are_the_same_on_every_run() -> None:
    texts = corpus(50)
    assert texts == corpus(50)
    queries = make_queries(texts, 40)
    assert queries == make_queries(corpus(50), 40)
    for query in queries:
        assert 3 <= len(query.split()) <= 6
        assert any(query in text for text in texts)


def test_index_use_is_read_from_the_plans() -> None:
    plans = {
        "vector": "Limit\n  ->  Index Scan using chunks_hnsw_384_idx on chunks c",
        "text": "Bitmap Heap Scan on chunks c\n  ->  Bitmap Index Scan on chunks_tsv_idx",
    }
    assert uses_indexes(plans) == {"hnsw": True, "gin": True}
    assert uses_indexes({"vector": "Seq Scan on chunks c", "text": "Seq Scan on chunks c"}) == {
        "hnsw": False,
        "gin": False,
    }
