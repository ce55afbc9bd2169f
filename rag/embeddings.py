"""Embedders: text in, unit vectors out. One protocol, an offline default, one HTTP adapter.

The offline :class:`HashingEmbedder` needs no download: it hashes word unigrams, word bigrams
and character n-grams of each word into a fixed number of dimensions (the "hashing trick") and
L2-normalises. It is honest about what it is: a *lexical* similarity (shared words and word
pieces), good at finding passages that use the question's words, blind to synonyms and
paraphrase. Configure an OpenAI-compatible endpoint for semantic embeddings.
"""

from __future__ import annotations

import asyncio
import math
import re
import zlib
from collections.abc import Sequence
from typing import Protocol

import httpx

from rag.errors import FetchFailed


class Embedder(Protocol):
    @property
    def model(self) -> str:
        """Recorded with every chunk; a change of model triggers a re-embed."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, all of the same dimension."""
        ...


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Function words carry no topic; hashing them would make every English passage look alike.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don can't won't i'm it's what's""".split()  # noqa: SIM905
)


def _stem(word: str) -> str:
    # A light suffix strip so that "refunds"/"refund" and "billing"/"billed" share a feature.
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


class HashingEmbedder:
    """Feature hashing of words, word pairs and character 3-5-grams into ``dim`` dimensions."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self._model = f"parley-hashing-v1-{dim}"

    @property
    def model(self) -> str:
        return self._model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 8:
            return [self.embed_one(text) for text in texts]
        return await asyncio.to_thread(lambda: [self.embed_one(text) for text in texts])

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        words = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]
        stems = [_stem(w) for w in words]
        counts: dict[str, float] = {}
        for stem in stems:
            counts["w:" + stem] = counts.get("w:" + stem, 0.0) + 1.0
            padded = f"<{stem}>"
            for n in (3, 4, 5):
                for i in range(max(1, len(padded) - n + 1)):
                    key = "c:" + padded[i : i + n]
                    counts[key] = counts.get(key, 0.0) + 0.25
        for first, second in zip(stems, stems[1:], strict=False):
            key = f"b:{first} {second}"
            counts[key] = counts.get(key, 0.0) + 0.5
        for key, count in counts.items():
            digest = zlib.crc32(key.encode("utf-8"))
            index = digest % self.dim
            sign = 1.0 if (digest >> 16) & 1 else -1.0
            vector[index] += sign * (1.0 + math.log(count)) if count >= 1 else sign * count
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            return vector
        return [v / norm for v in vector]


class OpenAICompatibleEmbedder:
    """``POST {base_url}/embeddings`` as OpenAI, Ollama, vLLM and TEI serve it."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        batch_size: int = 64,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._model = model
        self._url = base_url.rstrip("/") + "/embeddings"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(timeout=timeout_s, headers=headers)
        self._batch = batch_size

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        await self._client.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            out.extend(await self._embed_batch(list(texts[start : start + self._batch])))
        return out

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.post(
                self._url, json={"model": self._model, "input": texts}
            )
        except httpx.HTTPError as exc:
            raise FetchFailed(f"the embeddings endpoint did not answer ({exc!r})") from None
        if response.status_code != 200:
            raise FetchFailed(
                f"the embeddings endpoint answered {response.status_code}: {response.text[:200]}",
                retryable=response.status_code in (408, 429) or response.status_code >= 500,
            )
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchFailed(f"the embeddings endpoint sent a malformed reply ({exc})") from None
        if len(vectors) != len(texts):
            raise FetchFailed(
                f"the embeddings endpoint returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return [_normalise(v) for v in vectors]


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector
