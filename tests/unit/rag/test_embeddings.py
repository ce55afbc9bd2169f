from __future__ import annotations

import math

from rag.embeddings import HashingEmbedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_offline_vectors_are_unit_length_and_stable() -> None:
    embedder = HashingEmbedder(384)
    [a, b] = await embedder.embed(
        ["Refund policy for annual plans", "Refund policy for annual plans"]
    )
    assert len(a) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, rel_tol=1e-9)
    assert a == b  # no per-process hash salt: vectors stored yesterday still match today
    assert embedder.model == "parley-hashing-v1-384"


async def test_shared_words_score_higher_than_unrelated_text() -> None:
    embedder = HashingEmbedder()
    [question, right, wrong] = await embedder.embed(
        [
            "How many days do I have to return an item?",
            "Returns: items can be returned within 45 days of delivery.",
            "Our espresso machines need descaling every two months.",
        ]
    )
    assert _cos(question, right) > 0.3
    assert _cos(question, wrong) < 0.15


async def test_empty_text_gives_a_zero_vector_not_an_error() -> None:
    [vector] = await HashingEmbedder().embed(["the of and"])
    assert not any(vector)
